/* H5FDhomi_defer.c - deferred device reads inside H5FD_homi_dread: while
 * it runs, every read HDF5 hands the driver for the caller's device buffer
 * is only recorded; the recorded pieces are then read in one scattered
 * read (homi_read_pieces: large pieces through the staging pipeline, all
 * in flight; small ones through sieve windows scattered on the GPU by one
 * kernel each), when H5FD_homi_dread ends or when the list reaches its
 * bound.  HDF5 never touches the destination of such a read (no
 * conversion, no filter: H5FD_homi_dread_check made sure), so returning
 * early is safe.  Reads into other memory (HDF5's metadata) run at once. */
#include <stdlib.h>
#include <string.h>

#include "H5FDhomi_int.h"

/* Pieces recorded before they are read: bounds the list (24 MiB). */
static size_t g_defer_max = (size_t)1 << 20;

static struct {
    int active;
    const char *lo, *hi; /* the device buffer: pieces inside it are deferred */
    homi_mem_kind mem;   /* its kind (device; host memory in tests) */
    H5FD_homi_t *file;   /* the file of the recorded pieces */
    homi_piece *p;
    size_t n, cap;
    int failed;
} defer;

size_t homi_h5_defer_limit(size_t max)
{
    size_t old = g_defer_max;
    if (max) g_defer_max = max;
    return old;
}

void homi_h5_defer_begin(const void *buf, size_t span, homi_mem_kind mem)
{
    defer.active = span > 0;
    defer.mem = mem;
    defer.lo = buf;
    defer.hi = (const char *)buf + span;
    defer.file = NULL;
    defer.n = 0;
    defer.failed = 0;
}

/* Read the recorded pieces; 0 or -1 with an error on the stack. */
static int flush(void)
{
    if (!defer.n) return 0;
    H5FD_homi_t *f = defer.file;
    size_t n = defer.n;
    defer.n = 0;
    int64_t r = homi_read_pieces(f->hf, defer.p, n, defer.mem, HOMI_PIECES_ZERO_EOF);
    if (r < 0) {
        HOMI_H5_ERR(H5E_IO, H5E_READERROR, "reading %zu pieces of %s: %s", n, f->name,
                    homi_strerror((int)r));
        defer.failed = 1;
        return -1;
    }
    return 0;
}

int homi_h5_defer_read(H5FD_homi_t *f, haddr_t addr, size_t size, void *buf)
{
    const char *b = buf;
    if (!defer.active || b < defer.lo || b > defer.hi || size > (size_t)(defer.hi - b))
        return 0; /* not the caller's device buffer: read it now */
    if ((defer.file && defer.file != f) || defer.n >= g_defer_max) {
        if (flush() < 0) return -1;
    }
    if (defer.n == defer.cap) {
        size_t nc = defer.cap ? 2 * defer.cap : 1024;
        homi_piece *np = realloc(defer.p, nc * sizeof *np);
        if (!np) {
            if (flush() < 0) return -1;
            if (!defer.cap) return 0; /* no list at all: read it now */
        } else {
            defer.p = np;
            defer.cap = nc;
        }
    }
    defer.file = f;
    defer.p[defer.n++] = (homi_piece){.offset = (int64_t)addr, .len = size, .buf = buf};
    return 1;
}

herr_t homi_h5_defer_end(void)
{
    int rc = flush();
    int failed = defer.failed;
    defer.active = 0;
    defer.file = NULL;
    defer.failed = 0;
    if (defer.cap > 4096) { /* keep a small list between calls */
        free(defer.p);
        defer.p = NULL;
        defer.cap = 0;
    }
    return rc < 0 || failed ? -1 : 0;
}
