/* H5FDhomi.c - the H5FD_homi driver class and its callbacks: files opened
 * through a shared HOMI engine; every raw and metadata read is a
 * homi_pread (host or CUDA device memory, detected per buffer), every
 * write a homi_pwrite (kernel path, extent map invalidated), so files it
 * writes are ordinary HDF5 files for h5dump, h5ls and the sec2 driver.
 *
 * The driver does not advertise H5FD_FEAT_DATA_SIEVE (unless the config
 * flag H5FD_HOMI_DATA_SIEVE asks for it): HDF5 then passes the
 * caller's dataset buffer (plus an offset) straight to read() instead of
 * copying through its sieve buffer, which is what lets dataset reads land
 * in device memory.  Metadata still goes through HDF5's accumulator. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "H5FDhomi_int.h"

#define HOMI_H5_MAXADDR (((haddr_t)1 << (8 * sizeof(off_t) - 1)) - 1)
#define ADDR_OVERFLOW(a) (HADDR_UNDEF == (a) || ((a) & ~(haddr_t)HOMI_H5_MAXADDR))
#define SIZE_OVERFLOW(z) ((z) & ~(hsize_t)HOMI_H5_MAXADDR)
#define REGION_OVERFLOW(a, z)                                                                      \
    (ADDR_OVERFLOW(a) || SIZE_OVERFLOW(z) || HADDR_UNDEF == (a) + (z) ||                           \
     (off_t)((a) + (z)) < (off_t)(a))

static hid_t g_driver_id = H5I_INVALID_HID;

/* ------------------------------------------------------------ fapl */

static void *fapl_copy(const void *p)
{
    H5FD_homi_config_t *c = malloc(sizeof *c);
    if (!c) {
        HOMI_H5_ERR(H5E_RESOURCE, H5E_NOSPACE, "out of memory");
        return NULL;
    }
    memcpy(c, p, sizeof *c);
    return c;
}

static herr_t fapl_free(void *p)
{
    free(p);
    return 0;
}

/* The file's fapl reports the driver info it was opened with: none when
 * the driver was chosen by name (HDF5 1.14: HDF5_DRIVER=homi), so that
 * H5Fget_access_plist equals the fapl given to H5Fopen (HDF5's vol test). */
static void *fapl_get(H5FD_t *_f)
{
    H5FD_homi_t *f = (H5FD_homi_t *)_f;
    return f->cfg_from_fapl ? fapl_copy(&f->cfg) : NULL;
}

/* ------------------------------------------------------------ open/close */

/* The configuration a file is opened with: the fapl's driver info, else
 * the defaults (HDF5 1.14 plugin use: the driver config string, if any,
 * is hints text). */
static int open_config(hid_t fapl, H5FD_homi_config_t *cfg, int *from_fapl)
{
    /* a fapl without driver info (HDF5 1.14: the driver chosen by name,
     * HDF5_DRIVER=homi) makes H5Pget_driver_info fail: not an error here */
    const H5FD_homi_config_t *c = NULL;
    if (fapl != H5P_DEFAULT) {
        H5E_BEGIN_TRY
        {
            c = H5Pget_driver_info(fapl);
        }
        H5E_END_TRY
    }
    *from_fapl = c != NULL;
    if (c) {
        *cfg = *c;
    } else {
        H5FD_homi_config_init(cfg);
#if HOMI_H5_114
        if (fapl != H5P_DEFAULT) {
            ssize_t n = H5Pget_driver_config_str(fapl, cfg->hints, sizeof cfg->hints);
            if (n >= (ssize_t)sizeof cfg->hints) {
                HOMI_H5_ERR(H5E_VFL, H5E_BADVALUE, "driver config string longer than %d bytes",
                            H5FD_HOMI_HINTS_MAX - 1);
                return -1;
            }
            if (n < 0) cfg->hints[0] = 0;
        }
#endif
    }
    return homi_h5_config_check(cfg);
}

static hbool_t ignore_disabled_locks(hid_t fapl)
{
    const char *env = getenv("HDF5_USE_FILE_LOCKING");
    if (env && !strcmp(env, "BEST_EFFORT")) return 1;
    if (env &&
        (!strcmp(env, "TRUE") || !strcmp(env, "1") || !strcmp(env, "FALSE") || !strcmp(env, "0")))
        return 0;
#if H5_VERSION_GE(1, 10, 7)
    hbool_t use = 1, ignore = 0;
    if (fapl != H5P_DEFAULT && H5Pget_file_locking(fapl, &use, &ignore) >= 0) return ignore;
#else
    (void)fapl;
#endif
    return 0;
}

static H5FD_t *h_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr)
{
    if (!name || !*name) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "invalid file name");
        return NULL;
    }
    if (0 == maxaddr || HADDR_UNDEF == maxaddr) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADRANGE, "bogus maxaddr");
        return NULL;
    }
    if (ADDR_OVERFLOW(maxaddr)) {
        HOMI_H5_ERR(H5E_ARGS, H5E_OVERFLOW, "bogus maxaddr");
        return NULL;
    }
    H5FD_homi_t *f = calloc(1, sizeof *f);
    if (!f) {
        HOMI_H5_ERR(H5E_RESOURCE, H5E_NOSPACE, "out of memory");
        return NULL;
    }
    f->fd = -1;
    if (open_config(fapl, &f->cfg, &f->cfg_from_fapl) < 0) goto fail;
    f->writable = !!(flags & H5F_ACC_RDWR);
    f->ignore_disabled_locks = ignore_disabled_locks(fapl);

    int o = f->writable ? O_RDWR : O_RDONLY;
    if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
    if (flags & H5F_ACC_CREAT) o |= O_CREAT;
    if (flags & H5F_ACC_EXCL) o |= O_EXCL;
    f->fd = open(name, o | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        int e = errno;
        HOMI_H5_ERR(H5E_FILE, H5E_CANTOPENFILE, "unable to open file %s: %s (flags 0x%x)", name,
                    strerror(e), flags);
        goto fail;
    }
    struct stat st;
    if (fstat(f->fd, &st) < 0) {
        HOMI_H5_ERR(H5E_FILE, H5E_BADFILE, "fstat(%s): %s", name, strerror(errno));
        goto fail;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->eof = (haddr_t)st.st_size;
    f->eoa = 0;
    if (!(f->name = strdup(name))) {
        HOMI_H5_ERR(H5E_RESOURCE, H5E_NOSPACE, "out of memory");
        goto fail;
    }
    if (!(f->eng = homi_h5_engine_get(&f->cfg))) goto fail;
    int rc = homi_open(f->eng, name, f->writable ? HOMI_RDWR : HOMI_RDONLY, &f->hf);
    if (rc) {
        HOMI_H5_ERR(H5E_FILE, H5E_CANTOPENFILE, "homi_open(%s): %s", name, homi_strerror(rc));
        goto fail;
    }
    return &f->pub;
fail:
    if (f->hf) homi_close(f->hf);
    homi_engine_release(f->eng);
    if (f->fd >= 0) close(f->fd);
    free(f->name);
    free(f);
    return NULL;
}

static herr_t h_close(H5FD_t *_f)
{
    H5FD_homi_t *f = (H5FD_homi_t *)_f;
    herr_t ret = 0;
    int rc = homi_close(f->hf);
    if (rc) {
        HOMI_H5_ERR(H5E_IO, H5E_CANTCLOSEFILE, "homi_close(%s): %s", f->name, homi_strerror(rc));
        ret = -1;
    }
    homi_engine_release(f->eng);
    if (close(f->fd) < 0) {
        HOMI_H5_ERR(H5E_IO, H5E_CANTCLOSEFILE, "close(%s): %s", f->name, strerror(errno));
        ret = -1;
    }
    free(f->name);
    free(f);
    return ret;
}

static int h_cmp(const H5FD_t *_a, const H5FD_t *_b)
{
    const H5FD_homi_t *a = (const H5FD_homi_t *)_a, *b = (const H5FD_homi_t *)_b;
    if (a->dev != b->dev) return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino) return a->ino < b->ino ? -1 : 1;
    return 0;
}

static herr_t h_query(const H5FD_t *_f, unsigned long *flags)
{
    const H5FD_homi_t *f = (const H5FD_homi_t *)_f;
    if (flags) {
        /* H5FD_FEAT_DATA_SIEVE only on request: see the comment at the top */
        *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA |
                 H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_POSIX_COMPAT_HANDLE;
        if (f && (f->cfg.flags & H5FD_HOMI_DATA_SIEVE)) *flags |= H5FD_FEAT_DATA_SIEVE;
#ifdef H5FD_FEAT_DEFAULT_VFD_COMPATIBLE
        *flags |= H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
#endif
    }
    return 0;
}

/* ------------------------------------------------------------ addresses */

static haddr_t h_get_eoa(const H5FD_t *_f, H5FD_mem_t type)
{
    (void)type;
    return ((const H5FD_homi_t *)_f)->eoa;
}

static herr_t h_set_eoa(H5FD_t *_f, H5FD_mem_t type, haddr_t addr)
{
    (void)type;
    if (ADDR_OVERFLOW(addr)) {
        HOMI_H5_ERR(H5E_ARGS, H5E_OVERFLOW, "address overflow: %" PRIuHADDR, addr);
        return -1;
    }
    ((H5FD_homi_t *)_f)->eoa = addr;
    return 0;
}

static haddr_t h_get_eof(const H5FD_t *_f, H5FD_mem_t type)
{
    (void)type;
    return ((const H5FD_homi_t *)_f)->eof;
}

/* h_get_handle hands out &f->fd: the driver's file of an open file id
 * (a file open with H5FD_homi), or NULL. */
H5FD_homi_t *homi_h5_file_of(hid_t file_id)
{
    void *h = NULL;
    if (H5Fget_vfd_handle(file_id, H5P_DEFAULT, &h) < 0 || !h) return NULL;
    return (H5FD_homi_t *)(void *)((char *)h - offsetof(H5FD_homi_t, fd));
}

static herr_t h_get_handle(H5FD_t *_f, hid_t fapl, void **handle)
{
    (void)fapl;
    if (!handle) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "file handle not valid");
        return -1;
    }
    *handle = &((H5FD_homi_t *)_f)->fd;
    return 0;
}

/* ------------------------------------------------------------ I/O */

static int check_region(const H5FD_homi_t *f, haddr_t addr, size_t size, const char *what)
{
    if (HADDR_UNDEF == addr) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "%s: addr undefined", what);
        return -1;
    }
    if (REGION_OVERFLOW(addr, size)) {
        HOMI_H5_ERR(H5E_ARGS, H5E_OVERFLOW, "%s: addr overflow, addr = %" PRIuHADDR ", size = %zu",
                    what, addr, size);
        return -1;
    }
    if (addr + size > f->eoa) {
        HOMI_H5_ERR(H5E_ARGS, H5E_OVERFLOW,
                    "%s: addr overflow, addr = %" PRIuHADDR ", size = %zu, eoa = %" PRIuHADDR, what,
                    addr, size, f->eoa);
        return -1;
    }
    return 0;
}

/* Bytes past the end of the file read as zeros (as with sec2). */
static herr_t finish_read(H5FD_homi_t *f, haddr_t addr, size_t size, void *buf, int64_t got)
{
    if (got < 0) {
        HOMI_H5_ERR(H5E_IO, H5E_READERROR, "homi read of %zu bytes at %" PRIuHADDR " from %s: %s",
                    size, addr, f->name, homi_strerror((int)got));
        return -1;
    }
    if ((uint64_t)got < size && homi_h5_zero((char *)buf + got, size - (size_t)got) < 0) {
        HOMI_H5_ERR(H5E_IO, H5E_READERROR, "cannot zero %zu bytes past the end of %s",
                    size - (size_t)got, f->name);
        return -1;
    }
    return 0;
}

static herr_t h_read(H5FD_t *_f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf)
{
    (void)type;
    (void)dxpl;
    H5FD_homi_t *f = (H5FD_homi_t *)_f;
    if (check_region(f, addr, size, "read") < 0) return -1;
    if (!size) return 0;
    int d = homi_h5_defer_read(f, addr, size, buf); /* read at the end of H5FD_homi_dread */
    if (d) return d < 0 ? -1 : 0;
    return finish_read(f, addr, size, buf, homi_pread(f->hf, buf, size, (int64_t)addr));
}

static herr_t h_write(H5FD_t *_f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                      const void *buf)
{
    (void)type;
    (void)dxpl;
    H5FD_homi_t *f = (H5FD_homi_t *)_f;
    if (!f->writable) {
        HOMI_H5_ERR(H5E_IO, H5E_WRITEERROR, "%s is open read-only", f->name);
        return -1;
    }
    if (check_region(f, addr, size, "write") < 0) return -1;
    if (!size) return 0;
    /* issue 22: device sources are written through HOMI's staging pipeline;
     * inside H5FD_homi_dwrite asynchronously (H5FDhomi_dwrite.c) */
    if (homi_h5_dwrite_defer(f, addr, size, buf)) {
        if (addr + size > f->eof) f->eof = addr + size;
        return 0;
    }
    int64_t w = homi_pwrite(f->hf, buf, size, (int64_t)addr);
    if (w != (int64_t)size) {
        HOMI_H5_ERR(H5E_IO, H5E_WRITEERROR, "homi_pwrite of %zu bytes at %" PRIuHADDR " to %s: %s",
                    size, addr, f->name, w < 0 ? homi_strerror((int)w) : "short write");
        return -1;
    }
    if (addr + size > f->eof) f->eof = addr + size;
    return 0;
}

#if HOMI_H5_114
/* One HDF5 vector request = HOMI batches (homi_submit + homi_wait) of up
 * to 256 reads; inside H5FD_homi_dread, the pieces for the caller's device
 * buffer are recorded for its scattered read instead. */
static herr_t h_read_vector(H5FD_t *_f, hid_t dxpl, uint32_t count, H5FD_mem_t types[],
                            haddr_t addrs[], size_t sizes[], void *bufs[])
{
    (void)types;
    (void)dxpl;
    H5FD_homi_t *f = (H5FD_homi_t *)_f;
    enum { BATCH = 256 };
    homi_io ios[BATCH];
    homi_completion cq[BATCH];
    size_t size = 0;
    int fixed = 0;
    uint32_t i = 0;
    while (i < count) {
        unsigned n = 0;
        for (; i < count && n < BATCH; i++) {
            /* HDF5: a 0 size means "the previous size from here on"; the
             * array may end there */
            if (!fixed) {
                if (i > 0 && sizes[i] == 0)
                    fixed = 1;
                else
                    size = sizes[i];
            }
            if (check_region(f, addrs[i], size, "read_vector") < 0) return -1;
            int d = size ? homi_h5_defer_read(f, addrs[i], size, bufs[i]) : 1;
            if (d < 0) return -1;
            if (d) continue; /* deferred by H5FD_homi_dread, or nothing to read */
            ios[n] = (homi_io){.file = f->hf,
                               .buf = bufs[i],
                               .len = size,
                               .offset = (int64_t)addrs[i],
                               .user_data = n};
            n++;
        }
        if (!n) continue;
        int rc = homi_submit(f->eng, ios, n);
        if (rc < 0) {
            HOMI_H5_ERR(H5E_IO, H5E_READERROR, "homi_submit of %u reads from %s: %s", n, f->name,
                        homi_strerror(rc));
            return -1;
        }
        herr_t ret = 0;
        for (unsigned got = 0; got < n;) {
            int m = homi_wait(f->eng, cq, 1, n - got, -1);
            if (m < 0) {
                HOMI_H5_ERR(H5E_IO, H5E_READERROR, "homi_wait: %s", homi_strerror(m));
                return -1; /* the engine keeps the rest until it is destroyed */
            }
            for (int k = 0; k < m; k++) {
                homi_io *io = &ios[cq[k].user_data];
                if (finish_read(f, (haddr_t)io->offset, io->len, io->buf, cq[k].result) < 0)
                    ret = -1;
            }
            got += (unsigned)m;
        }
        if (ret < 0) return -1;
    }
    return 0;
}

static herr_t h_del(const char *name, hid_t fapl)
{
    (void)fapl;
    if (unlink(name) < 0) {
        HOMI_H5_ERR(H5E_VFL, H5E_CANTDELETEFILE, "unlink(%s): %s", name, strerror(errno));
        return -1;
    }
    return 0;
}
#endif

static herr_t h_flush(H5FD_t *_f, hid_t dxpl, hbool_t closing)
{
    (void)_f;
    (void)dxpl;
    (void)closing;
    return 0; /* writes are synchronous pwrites: nothing is buffered here */
}

static herr_t h_truncate(H5FD_t *_f, hid_t dxpl, hbool_t closing)
{
    (void)dxpl;
    (void)closing;
    H5FD_homi_t *f = (H5FD_homi_t *)_f;
    if (f->eoa == f->eof) return 0;
    if (ftruncate(f->fd, (off_t)f->eoa) < 0) {
        HOMI_H5_ERR(H5E_IO, H5E_SEEKERROR, "ftruncate(%s, %" PRIuHADDR "): %s", f->name, f->eoa,
                    strerror(errno));
        return -1;
    }
    f->eof = f->eoa; /* HOMI sees the change (inotify + stat) before its next read */
    return 0;
}

static herr_t h_lock(H5FD_t *_f, hbool_t rw)
{
    H5FD_homi_t *f = (H5FD_homi_t *)_f;
    if (flock(f->fd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
        if (f->ignore_disabled_locks && errno == ENOSYS) {
            errno = 0;
            return 0;
        }
        HOMI_H5_ERR(H5E_VFL, H5E_CANTLOCKFILE, "unable to lock %s: %s", f->name, strerror(errno));
        return -1;
    }
    return 0;
}

static herr_t h_unlock(H5FD_t *_f)
{
    H5FD_homi_t *f = (H5FD_homi_t *)_f;
    if (flock(f->fd, LOCK_UN) < 0) {
        if (f->ignore_disabled_locks && errno == ENOSYS) {
            errno = 0;
            return 0;
        }
        HOMI_H5_ERR(H5E_VFL, H5E_CANTUNLOCKFILE, "unable to unlock %s: %s", f->name,
                    strerror(errno));
        return -1;
    }
    return 0;
}

static herr_t h_terminate(void)
{
    g_driver_id = H5I_INVALID_HID;
    homi_engine_cache_flush();
    homi_h5_err_term();
    return 0;
}

/* ------------------------------------------------------------ class */

const H5FD_class_t H5FD_homi_class_g = {
#if HOMI_H5_114
    .version = H5FD_CLASS_VERSION,
    .value = (H5FD_class_value_t)H5FD_HOMI_VALUE,
#endif
    .name = H5FD_HOMI_NAME,
    .maxaddr = HOMI_H5_MAXADDR,
    .fc_degree = H5F_CLOSE_WEAK,
    .terminate = h_terminate,
    .fapl_size = sizeof(H5FD_homi_config_t),
    .fapl_get = fapl_get,
    .fapl_copy = fapl_copy,
    .fapl_free = fapl_free,
    .open = h_open,
    .close = h_close,
    .cmp = h_cmp,
    .query = h_query,
    .get_eoa = h_get_eoa,
    .set_eoa = h_set_eoa,
    .get_eof = h_get_eof,
    .get_handle = h_get_handle,
    .read = h_read,
    .write = h_write,
#if HOMI_H5_114
    .read_vector = h_read_vector,
    .del = h_del,
#endif
    .flush = h_flush,
    .truncate = h_truncate,
    .lock = h_lock,
    .unlock = h_unlock,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

hid_t H5FD_homi_init(void)
{
    if (H5I_VFL == H5Iget_type(g_driver_id)) return g_driver_id;
#if HOMI_H5_114
    /* loaded as a plugin (HDF5_DRIVER=homi): HDF5 registered the class */
    if (H5FDis_driver_registered_by_value((H5FD_class_value_t)H5FD_HOMI_VALUE) > 0) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (fapl >= 0 &&
            H5Pset_driver_by_value(fapl, (H5FD_class_value_t)H5FD_HOMI_VALUE, NULL) >= 0)
            g_driver_id = H5Pget_driver(fapl);
        if (fapl >= 0) H5Pclose(fapl);
        if (H5I_VFL == H5Iget_type(g_driver_id)) return g_driver_id;
    }
#endif
    g_driver_id = H5FDregister(&H5FD_homi_class_g);
    if (g_driver_id < 0) HOMI_H5_ERR(H5E_VFL, H5E_CANTREGISTER, "cannot register H5FD_homi");
    return g_driver_id;
}

/* ------------------------------------------------------------ stats */

herr_t H5FD_homi_file_stats(hid_t file_id, homi_stats *out)
{
    if (!out) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "NULL output");
        return -1;
    }
    hid_t fapl = H5Fget_access_plist(file_id);
    if (fapl < 0) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADTYPE, "not an open HDF5 file");
        return -1;
    }
    hid_t drv = H5Pget_driver(fapl);
    H5Pclose(fapl);
    if (drv < 0 || drv != H5FD_homi_init()) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "the file is not open with H5FD_homi");
        return -1;
    }
    H5FD_homi_t *f = homi_h5_file_of(file_id);
    if (!f) {
        HOMI_H5_ERR(H5E_VFL, H5E_CANTGET, "cannot get the driver handle");
        return -1;
    }
    int rc = homi_file_stats(f->hf, out);
    if (rc) {
        HOMI_H5_ERR(H5E_VFL, H5E_CANTGET, "homi_file_stats: %s", homi_strerror(rc));
        return -1;
    }
    return 0;
}
