/* api_write.c - the public write entry points (homi_pwrite[_ex], the
 * HOMI_IO_WRITE requests of homi_submit, homi_write_from_stream,
 * homi_fsync): argument checks, source memory resolution, ordering against
 * writes in flight (wrorder.c), and routing: host and pinned memory to the
 * write pipeline (write.c), device memory to the staging pipeline in the
 * device -> file direction (src/mem/staging_write.c). */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/wrorder.h"
#include "mem/memkind.h"
#include "mem/staging.h"

/* Validate a write and resolve its source; *device >= 0 for GPU memory. */
static int prepare(struct homi_fh *f, const void *buf, size_t len, int64_t off,
                   const homi_read_opts *opts, int *device)
{
    *device = -1;
    if (!f) return HOMI_EBADF;
    if (!(f->flags & HOMI_RDWR)) return HOMI_EBADF;
    if (off < 0 || (!buf && len)) return HOMI_EINVAL;
    if (len > (size_t)INT64_MAX || (uint64_t)off > (uint64_t)INT64_MAX - len) return HOMI_ERANGE;
    homi_mem_kind mem = HOMI_MEM_AUTO;
    if (opts) {
        if (opts->flags & ~(HOMI_READ_FORCE_PATH | HOMI_IO_WRITE)) return HOMI_EINVAL;
        if (opts->path != HOMI_PATH_AUTO && !HOMI_PATH_IS_IO(opts->path)) return HOMI_EINVAL;
        if (opts->mem < HOMI_MEM_AUTO || opts->mem > HOMI_MEM_DEVICE) return HOMI_EINVAL;
        mem = opts->mem;
        if ((opts->flags & HOMI_READ_FORCE_PATH) && opts->path != HOMI_PATH_KERNEL &&
            opts->path != HOMI_PATH_AUTO) {
            homi_fh_fallback(f, HOMI_FB_PATH_UNAVAILABLE);
            HOMI_DEBUG("%s: write on path %s requested: writes take the kernel path", f->path,
                       homi_path_name(opts->path));
        }
    }
    if (!len) return HOMI_OK;
    int kind = homi_mem_resolve(buf, len, mem, device);
    if (kind < 0) return kind;
    if (kind != HOMI_MEM_DEVICE) *device = -1;
    return HOMI_OK;
}

int64_t homi_pwrite_ex(homi_file *handle, const void *buf, size_t len, int64_t offset,
                       const homi_read_opts *opts)
{
    struct homi_fh *f = homi_file_lookup(handle);
    int device;
    int rc = prepare(f, buf, len, offset, opts, &device);
    if (rc) return rc;
    struct homi_wrange *wr = homi_wr_begin(f, (uint64_t)offset, len);
    if (!wr) return HOMI_ENOMEM;
    if (device >= 0) {
        int64_t r = homi_staging_write(f, buf, len, offset, device);
        homi_wr_end(f, wr);
        return r;
    }
    struct homi_rd rd = {.buf = (void *)(uintptr_t)buf, .len = len, .off = offset};
    int64_t result = 0;
    rc = homi_write_start(f, &rd, wr, &result); /* ends wr when it completes */
    if (rc) homi_wr_end(f, wr);
    return rc ? rc : result;
}

int64_t homi_pwrite(homi_file *f, const void *buf, size_t len, int64_t offset)
{
    return homi_pwrite_ex(f, buf, len, offset, NULL);
}

int homi_write_prepare(struct homi_fh *f, const homi_io *io, int *device)
{
    return prepare(f, io->buf, io->len, io->offset, &io->opts, device);
}

int homi_write_submit_io(struct homi_fh *f, const homi_io *io, int device)
{
    struct homi_wrange *wr = homi_wr_begin(f, (uint64_t)io->offset, io->len);
    if (!wr) return HOMI_ENOMEM;
    int rc;
    if (device >= 0) {
        rc = homi_staging_write_submit(f, io->buf, io->len, io->offset, device, wr, io->user_data);
    } else {
        struct homi_rd rd = {.buf = io->buf,
                             .len = io->len,
                             .off = io->offset,
                             .mode = HOMI_RD_CQ,
                             .user_data = io->user_data};
        rc = homi_write_start(f, &rd, wr, NULL);
    }
    if (rc) homi_wr_end(f, wr);
    return rc;
}

int homi_write_from_stream(homi_file *handle, const void *buf, size_t len, int64_t offset,
                           void *cuda_stream, int64_t *result)
{
    struct homi_fh *f = homi_file_lookup(handle);
    int device;
    if (!result) return HOMI_EINVAL;
    int rc = prepare(f, buf, len, offset, NULL, &device);
    if (rc) return rc;
    if (!homi_cuda_usable()) return HOMI_ENOTSUP;
    struct homi_wrange *wr = homi_wr_begin(f, (uint64_t)offset, len);
    if (!wr) return HOMI_ENOMEM;
    rc = homi_staging_write_stream(f, buf, len, offset, device, wr, cuda_stream, result);
    if (rc) homi_wr_end(f, wr);
    return rc;
}

int homi_fsync(homi_file *handle, unsigned flags)
{
    struct homi_fh *f = homi_file_lookup(handle);
    if (!f) return HOMI_EBADF;
    if (flags & ~HOMI_FSYNC_DATA) return HOMI_EINVAL;
    homi_wr_wait(f, 0, UINT64_MAX); /* the writes issued before this call */
    int r = (flags & HOMI_FSYNC_DATA) ? fdatasync(f->fd) : fsync(f->fd);
    if (r) {
        int e = errno;
        atomic_fetch_add(&f->stats.errors, 1);
        atomic_fetch_add(&f->eng->stats.errors, 1);
        homi_log(HOMI_LOG_ERROR, "%s: %s: %s", f->path, flags ? "fdatasync" : "fsync", strerror(e));
        return homi_err_from_errno(e);
    }
    atomic_fetch_add(&f->stats.syncs, 1);
    atomic_fetch_add(&f->eng->stats.syncs, 1);
    return HOMI_OK;
}
