/* H5FDhomi_defer.c - deferred device reads inside H5FD_homi_dread: while
 * it runs, reads that HDF5 hands the driver for CUDA device memory are
 * submitted asynchronously (homi_submit: the engine's pinned staging
 * pipeline, several pieces in flight) instead of one blocking read per
 * chunk; H5FD_homi_dread waits for all of them before it returns.  HDF5
 * never touches the destination of such a read (no conversion, no filter:
 * H5FD_homi_dread_check made sure), so returning early is safe. */
#include <stdlib.h>
#include <string.h>

#include "H5FDhomi_int.h"

struct pending {
    homi_engine *eng;
    void *buf;
    size_t size;
};

static struct {
    int active;
    struct pending *p;
    size_t n, cap;
    int failed;
} defer;

void homi_h5_defer_begin(void)
{
    defer.active = 1;
    defer.n = 0;
    defer.failed = 0;
}

int homi_h5_defer_read(H5FD_homi_t *f, haddr_t addr, size_t size, void *buf)
{
    if (!defer.active || !homi_h5_is_device(buf)) return 0; /* not deferred */
    if (defer.n == defer.cap) {
        size_t nc = defer.cap ? 2 * defer.cap : 64;
        struct pending *np = realloc(defer.p, nc * sizeof *np);
        if (!np) return 0; /* read it now instead */
        defer.p = np;
        defer.cap = nc;
    }
    homi_io io;
    memset(&io, 0, sizeof io);
    io.file = f->hf;
    io.buf = buf;
    io.len = size;
    io.offset = (int64_t)addr;
    io.user_data = defer.n;
    io.opts.mem = HOMI_MEM_DEVICE;
    if (homi_submit(f->eng, &io, 1) != 1) return 0;
    defer.p[defer.n++] = (struct pending){f->eng, buf, size};
    return 1;
}

/* Wait for every deferred read; 0, or -1 with an error on the stack. */
herr_t homi_h5_defer_end(void)
{
    herr_t rc = 0;
    defer.active = 0;
    for (size_t done = 0; done < defer.n;) {
        /* each pending read belongs to one engine; wait on that engine */
        homi_completion c;
        homi_engine *e = NULL;
        for (size_t i = 0; i < defer.n && !e; i++)
            if (defer.p[i].buf) e = defer.p[i].eng;
        if (!e) break;
        int w = homi_wait(e, &c, 1, 1, -1);
        if (w != 1 || c.user_data >= defer.n) {
            HOMI_H5_ERR(H5E_IO, H5E_READERROR, "waiting for deferred device reads: %s",
                        homi_strerror(w < 0 ? w : HOMI_EIO));
            return -1;
        }
        struct pending *p = &defer.p[c.user_data];
        if (c.result < 0) {
            HOMI_H5_ERR(H5E_IO, H5E_READERROR, "deferred read of %zu bytes into device memory: %s",
                        p->size, homi_strerror((int)c.result));
            rc = -1;
        } else if ((size_t)c.result < p->size &&
                   homi_h5_zero((char *)p->buf + c.result, p->size - (size_t)c.result) < 0) {
            HOMI_H5_ERR(H5E_IO, H5E_READERROR, "cannot zero past the end of the file");
            rc = -1;
        }
        p->buf = NULL;
        done++;
    }
    defer.n = 0;
    return rc;
}
