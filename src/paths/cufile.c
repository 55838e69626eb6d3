/* cufile.c - the cuFile path.  dlopen("libcufile.so[.0]") at engine start
 * (HOMI_CUFILE_LIB names another file); cuFileDriverOpen; one handle per
 * file (registered on the O_DIRECT descriptor when there is one).  Mode:
 * "gds" when the nvidia-fs kernel module is loaded, else "compat" (cuFile
 * then reads through its own bounce buffers).  Policy (hint homi_cufile):
 * auto uses cuFile for device destinations only in true GDS mode (and
 * without nvidia-fs does not even load it), on uses it whenever it works,
 * off never; homi_path=cufile forces it.  Missing or
 * failing libcufile makes the path unavailable with the reason, and reads
 * fall back to the staging pipeline, counted. */
#include "paths/cufile.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"
#include "paths/cufile_abi.h"
#include "paths/path.h"

#ifdef HOMI_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

struct cufile {
    void *lib;
    int gds; /* nvidia-fs loaded */
    cufile_error (*driver_open)(void);
    cufile_error (*driver_close)(void);
    cufile_error (*handle_register)(cufile_handle *, cufile_descr *);
    void (*handle_deregister)(cufile_handle);
    ssize_t (*read)(cufile_handle, void *, size_t, off_t, off_t);
};

/* The cuFile driver is process-wide: opened by the first engine that needs
 * it, closed by the last one, and never closed by HOMI when someone else in
 * the process had opened it first (cuFileDriverOpen then reports 5026,
 * CU_FILE_DRIVER_ALREADY_OPEN). */
static pthread_mutex_t drv_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned drv_refs;
static int drv_ours;

#ifdef HOMI_HAVE_CUDA
static cufile_error driver_get(struct cufile *c)
{
    cufile_error e = {0, 0};
    pthread_mutex_lock(&drv_lock);
    if (drv_refs == 0) {
        e = c->driver_open();
        drv_ours = e.err == 0;
        if (e.err == CU_FILE_DRIVER_ALREADY_OPEN) e.err = 0;
    }
    if (e.err == 0) drv_refs++;
    pthread_mutex_unlock(&drv_lock);
    return e;
}
#endif

static void driver_put(struct cufile *c)
{
    pthread_mutex_lock(&drv_lock);
    if (drv_refs && --drv_refs == 0 && drv_ours) c->driver_close();
    pthread_mutex_unlock(&drv_lock);
}

static int cf_init(struct homi_engine *eng, void **state, char *why, size_t whylen)
{
#ifndef HOMI_HAVE_CUDA
    snprintf(why, whylen, "built without CUDA");
    return HOMI_ENOTSUP;
#else
    if (!eng->cfg.cufile_enable && eng->cfg.path != HOMI_PATH_CUFILE) {
        snprintf(why, whylen, "disabled (homi_cufile=off)");
        return HOMI_ENOTSUP;
    }
    /* auto uses cuFile only in true GDS mode: without nvidia-fs it would never
     * be chosen, so neither the library, cuFileDriverOpen nor a handle per
     * file is paid for (they cost every process's first open) */
    if (eng->cfg.cufile_enable == 1 && eng->cfg.path != HOMI_PATH_CUFILE &&
        access("/proc/driver/nvidia-fs/version", F_OK) != 0) {
        snprintf(why, whylen,
                 "auto: no GDS (nvidia-fs not loaded), not loaded (homi_cufile=on "
                 "or homi_path=cufile loads it)");
        return HOMI_ENOTSUP;
    }
    struct cufile *c = calloc(1, sizeof *c);
    if (!c) return HOMI_ENOMEM;
    const char *names[] = {getenv("HOMI_CUFILE_LIB"), "libcufile.so", "libcufile.so.0",
                           "libcufile.so.1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !c->lib; i++)
        if (names[i]) c->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!c->lib) {
        snprintf(why, whylen, "libcufile not found (%s)", dlerror());
        free(c);
        return HOMI_ENOTSUP;
    }
    *(void **)&c->driver_open = dlsym(c->lib, "cuFileDriverOpen");
    *(void **)&c->driver_close = dlsym(c->lib, "cuFileDriverClose");
    *(void **)&c->handle_register = dlsym(c->lib, "cuFileHandleRegister");
    *(void **)&c->handle_deregister = dlsym(c->lib, "cuFileHandleDeregister");
    *(void **)&c->read = dlsym(c->lib, "cuFileRead");
    if (!c->driver_open || !c->driver_close || !c->handle_register || !c->handle_deregister ||
        !c->read) {
        snprintf(why, whylen, "libcufile lacks cuFile symbols");
        dlclose(c->lib);
        free(c);
        return HOMI_ENOTSUP;
    }
    cufile_error e = driver_get(c);
    if (e.err) {
        snprintf(why, whylen, "cuFileDriverOpen failed (error %d, CUDA %d)", e.err, e.cu_err);
        dlclose(c->lib);
        free(c);
        return HOMI_ENOTSUP;
    }
    c->gds = access("/proc/driver/nvidia-fs/version", F_OK) == 0;
    homi_log(HOMI_LOG_INFO, "cuFile: driver open, %s mode", c->gds ? "GDS" : "compat");
    *state = c;
    return HOMI_OK;
#endif
}

static void cf_fini(void *state)
{
    struct cufile *c = state;
    if (!c) return;
    driver_put(c);
    dlclose(c->lib);
    free(c);
}

static int cf_file_open(void *state, struct homi_fh *f)
{
    struct cufile *c = state;
    cufile_descr d;
    memset(&d, 0, sizeof d);
    d.type = CU_FILE_HANDLE_TYPE_OPAQUE_FD;
    d.handle.fd = f->dfd >= 0 ? f->dfd : f->fd;
    cufile_handle h = NULL;
    cufile_error e = c->handle_register(&h, &d);
    if (e.err) { /* not fatal: this file's device reads use the staging pipeline */
        homi_log(HOMI_LOG_INFO, "cuFile: cannot register %s (error %d)", f->path, e.err);
        return HOMI_OK;
    }
    f->path_priv[HOMI_PATH_CUFILE] = h;
    return HOMI_OK;
}

static void cf_file_close(void *state, struct homi_fh *f)
{
    struct cufile *c = state;
    if (f->path_priv[HOMI_PATH_CUFILE]) c->handle_deregister(f->path_priv[HOMI_PATH_CUFILE]);
    f->path_priv[HOMI_PATH_CUFILE] = NULL;
}

/* Chunks whose dst is device memory: cuFileRead each, on this thread. */
static void cf_submit(void *state, struct homi_chunk **chunks, size_t n)
{
    struct cufile *c = state;
    for (size_t i = 0; i < n; i++) {
        struct homi_chunk *k = chunks[i];
        cufile_handle h = k->op->file->path_priv[HOMI_PATH_CUFILE];
        ssize_t r = h ? c->read(h, k->dst, k->len, (off_t)k->off, 0) : -1;
        homi_chunk_complete(k, r < 0 ? HOMI_EIO : r);
    }
}

const struct homi_path_ops homi_path_cufile_ops = {
    .id = HOMI_PATH_CUFILE,
    .name = "cufile",
    .init = cf_init,
    .fini = cf_fini,
    .file_open = cf_file_open,
    .file_close = cf_file_close,
    .submit = cf_submit,
};

const char *homi_cufile_mode(const struct homi_engine *e)
{
    const struct homi_path_inst *pi = &e->paths[HOMI_PATH_CUFILE];
    if (!pi->ok) return "unavailable";
    return ((const struct cufile *)pi->state)->gds ? "gds" : "compat";
}

int homi_cufile_choose(struct homi_fh *f, int want)
{
    struct homi_engine *e = f->eng;
    const struct homi_path_inst *pi = &e->paths[HOMI_PATH_CUFILE];
    if (want == HOMI_PATH_AUTO) want = e->cfg.path;
    int usable = pi->ok && f->path_priv[HOMI_PATH_CUFILE];
    if (want == HOMI_PATH_CUFILE) {
        if (usable) return 1;
        homi_fh_fallback(f, HOMI_FB_PATH_UNAVAILABLE);
        HOMI_DEBUG("%s: cufile requested: %s; using the staging pipeline", f->path,
                   pi->ok ? "file not registered with cuFile" : pi->why);
        return 0;
    }
    if (want != HOMI_PATH_AUTO || !usable) return 0;
    /* auto: cuFile only where it moves data storage -> GPU directly, or
     * where the user asked for it (homi_cufile=on) */
    return e->cfg.cufile_enable == 2 || ((const struct cufile *)pi->state)->gds;
}

int64_t homi_cufile_read(struct homi_fh *f, void *dst, size_t len, int64_t off, int device)
{
    struct homi_engine *e = f->eng;
    struct cufile *c = e->paths[HOMI_PATH_CUFILE].state;
    cufile_handle h = f->path_priv[HOMI_PATH_CUFILE];
#ifdef HOMI_HAVE_CUDA
    cudaSetDevice(device);
#else
    (void)device;
#endif
    /* clamp to the file size like every read; cuFileRead itself reads
     * short at EOF */
    int64_t size = 0;
    struct stat st;
    if (fstat(f->fd, &st) == 0) size = st.st_size;
    uint64_t want = off >= size ? 0 : (uint64_t)(size - off) < len ? (uint64_t)(size - off) : len;
    uint64_t done = 0, step = e->cfg.staging_size;
    atomic_fetch_add(&f->inflight, 1);
    int64_t err = 0;
    while (done < want) {
        size_t n = want - done < step ? (size_t)(want - done) : (size_t)step;
        uint64_t t0 = homi_now_ns();
        ssize_t r = c->read(h, (char *)dst + done, n, (off_t)(off + (int64_t)done), 0);
        if (r < 0) {
            homi_log(HOMI_LOG_ERROR, "cuFileRead %s at %lld: %zd", f->path,
                     (long long)(off + (int64_t)done), r);
            err = HOMI_EIO;
            break;
        }
        uint64_t ns = homi_now_ns() - t0;
        homi_fh_account(f, HOMI_PATH_CUFILE, (uint64_t)r, ns);
        done += (uint64_t)r;
        if ((size_t)r < n) break;
    }
    atomic_fetch_add(&f->stats.reads, 1);
    atomic_fetch_add(&e->stats.reads, 1);
    if (!err) {
        atomic_fetch_add(&f->stats.read_bytes, done);
        atomic_fetch_add(&e->stats.read_bytes, done);
    }
    atomic_fetch_sub(&f->inflight, 1);
    return err ? err : (int64_t)done;
}
