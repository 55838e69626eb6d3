/* api_read.c - the public read entry points (homi_pread[_ex], homi_submit,
 * whose HOMI_IO_WRITE requests go to api_write.c):
 * argument checks, destination memory resolution, and routing: host and
 * pinned memory go straight to the read pipeline, device memory to the
 * staging pipeline (src/mem/staging.c) or a path that writes GPU memory. */
#include <limits.h>
#include <stdlib.h>

#include "core/engine.h"
#include "core/log.h"
#include "mem/memkind.h"
#include "mem/staging.h"

int homi_cq_push(struct homi_engine *e, const homi_completion *c);

static int check_args(struct homi_fh *f, const void *buf, size_t len, int64_t off,
                      const homi_read_opts *opts)
{
    if (!f) return HOMI_EBADF;
    if (off < 0) return HOMI_EINVAL;
    if (!buf && len) return HOMI_EINVAL;
    if (len > (size_t)INT64_MAX || (uint64_t)off > (uint64_t)INT64_MAX - len) return HOMI_ERANGE;
    if (opts) {
        if (opts->flags & ~HOMI_READ_FORCE_PATH) return HOMI_EINVAL;
        if (opts->path != HOMI_PATH_AUTO && !HOMI_PATH_IS_IO(opts->path)) return HOMI_EINVAL;
        if (opts->mem < HOMI_MEM_AUTO || opts->mem > HOMI_MEM_DEVICE) return HOMI_EINVAL;
    }
    return HOMI_OK;
}

static int wanted_path(const homi_read_opts *opts)
{
    return opts && (opts->flags & HOMI_READ_FORCE_PATH) ? opts->path : HOMI_PATH_AUTO;
}

/* Validate and resolve one request; *device >= 0 for GPU memory. */
static int prepare(struct homi_fh *f, const void *buf, size_t len, int64_t off,
                   const homi_read_opts *opts, int *device)
{
    int rc = check_args(f, buf, len, off, opts);
    if (rc) return rc;
    *device = -1;
    if (!len) return HOMI_OK;
    int kind = homi_mem_resolve(buf, len, opts ? opts->mem : HOMI_MEM_AUTO, device);
    if (kind < 0) return kind;
    if (kind != HOMI_MEM_DEVICE) *device = -1;
    return HOMI_OK;
}

int64_t homi_pread_ex(homi_file *handle, void *buf, size_t len, int64_t offset,
                      const homi_read_opts *opts)
{
    struct homi_fh *f = homi_file_lookup(handle);
    int device;
    int rc = prepare(f, buf, len, offset, opts, &device);
    if (rc) return rc;
    if (device >= 0) return homi_staging_read(f, buf, len, offset, device, wanted_path(opts));
    struct homi_rd rd = {
        .buf = buf, .len = len, .off = offset, .mode = HOMI_RD_SYNC, .path = wanted_path(opts)};
    int64_t result = 0;
    rc = homi_read_start(f, &rd, &result);
    return rc ? rc : result;
}

int64_t homi_pread(homi_file *f, void *buf, size_t len, int64_t offset)
{
    return homi_pread_ex(f, buf, len, offset, NULL);
}

int homi_submit(homi_engine *e, const homi_io *ios, unsigned n)
{
    if (!e || (!ios && n)) return HOMI_EINVAL;
    int *dev = n ? malloc(n * sizeof *dev) : NULL;
    if (n && !dev) return HOMI_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        struct homi_fh *f = homi_file_lookup(ios[i].file);
        int rc = ios[i].opts.flags & HOMI_IO_WRITE
                     ? homi_write_prepare(f, &ios[i], &dev[i])
                     : prepare(f, ios[i].buf, ios[i].len, ios[i].offset, &ios[i].opts, &dev[i]);
        if (!rc && f->eng != e) rc = HOMI_EBADF;
        if (rc) {
            homi_log(HOMI_LOG_DEBUG, "homi_submit: request %u rejected: %s", i, homi_strerror(rc));
            free(dev);
            return rc;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        struct homi_fh *f = homi_file_lookup(ios[i].file);
        int rc;
        if (ios[i].opts.flags & HOMI_IO_WRITE) {
            rc = homi_write_submit_io(f, &ios[i], dev[i]);
        } else if (dev[i] >= 0) {
            rc = homi_staging_submit(f, ios[i].buf, ios[i].len, ios[i].offset, dev[i],
                                     wanted_path(&ios[i].opts), ios[i].user_data);
        } else {
            struct homi_rd rd = {.buf = ios[i].buf,
                                 .len = ios[i].len,
                                 .off = ios[i].offset,
                                 .mode = HOMI_RD_CQ,
                                 .path = wanted_path(&ios[i].opts),
                                 .user_data = ios[i].user_data};
            rc = homi_read_start(f, &rd, NULL);
        }
        if (rc) {
            /* could not start (out of memory): complete it with the error */
            homi_completion c = {ios[i].user_data, rc, 0, 0};
            atomic_fetch_add(&e->inflight, 1);
            homi_cq_push(e, &c);
        }
    }
    free(dev);
    return (int)n;
}
