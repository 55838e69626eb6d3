/* coll_write.c - one rank's pieces written from its buffer (device or host
 * memory) by libhomi, for the MPI-IO front-ends (ad_homi and
 * libhomi_mpiio): a piece of DIRECT bytes or more, with its file- and
 * memory-contiguous neighbours, straight from the buffer (device memory
 * through libhomi's pinned staging pipeline); shorter pieces gathered with
 * one batched copy into the caller's bounce buffer (pinned for a device
 * source) and written one run of file-contiguous pieces at a time.  Only
 * the pieces' bytes are written: what lies between them keeps the file's
 * bytes.  Stops at the first error; *bytes counts what reached the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "homi_coll.h"

int homi_coll_writes_mode(void)
{
    static int mode = -1; /* read once; a race only computes it twice */
    if (mode < 0) {
        const char *e = getenv("HOMI_MPIIO_WRITES");
        int m = !e || !*e || !strcmp(e, "device") ? HOMI_COLL_WRITES_DEVICE
                : !strcmp(e, "all")               ? HOMI_COLL_WRITES_ALL
                : !strcmp(e, "none")              ? HOMI_COLL_WRITES_NONE
                                                  : -2;
        if (m == -2) {
            fprintf(stderr, "homi: HOMI_MPIIO_WRITES=%s is not device, all or none: device used\n",
                    e);
            m = HOMI_COLL_WRITES_DEVICE;
        }
        mode = m;
    }
    return mode;
}

int homi_coll_write_wanted(const void *buf, size_t span)
{
    int mode = homi_coll_writes_mode(), dev = -1;
    if (mode == HOMI_COLL_WRITES_NONE || !buf || !span) return 0;
    return homi_mem_kind_of(buf, span, &dev) == HOMI_MEM_DEVICE || mode == HOMI_COLL_WRITES_ALL;
}

#define BOUNCE (8u << 20) /* bytes of short pieces gathered per batch      */
#define DIRECT (1u << 20) /* a piece this long is written from its buffer */

/* len bytes at off from src: all of them, or an error */
static int put(homi_file *h, const char *src, int64_t len, int64_t off, int64_t *done)
{
    while (len > 0) {
        int64_t r = homi_pwrite(h, src, (size_t)len, off);
        if (r < 0) return (int)r;
        if (r == 0) return HOMI_EIO;
        *done += r;
        src += r;
        off += r;
        len -= r;
    }
    return HOMI_OK;
}

struct gather {
    unsigned n, cap;
    void **dst;
    const void **src;
    size_t *len;
    int64_t *file_off;
    size_t used;
};

static int gather_room(struct gather *g)
{
    if (g->n < g->cap) return HOMI_OK;
    unsigned cap = g->cap ? 2 * g->cap : 256;
    void **d = realloc(g->dst, cap * sizeof *d);
    if (d) g->dst = d;
    const void **s = realloc(g->src, cap * sizeof *s);
    if (s) g->src = s;
    size_t *l = realloc(g->len, cap * sizeof *l);
    if (l) g->len = l;
    int64_t *o = realloc(g->file_off, cap * sizeof *o);
    if (o) g->file_off = o;
    if (!d || !s || !l || !o) return HOMI_ENOMEM;
    g->cap = cap;
    return HOMI_OK;
}

/* the gathered pieces into the bounce buffer, then their runs to the file */
static int flush(struct gather *g, homi_file *h, int dev, int64_t *done)
{
    if (!g->n) return HOMI_OK;
    int rc = homi_mem_copyv(g->n, g->dst, g->src, g->len, dev);
    for (unsigned i = 0; !rc && i < g->n;) {
        unsigned j = i + 1;
        int64_t run = (int64_t)g->len[i];
        while (j < g->n && g->file_off[j] == g->file_off[j - 1] + (int64_t)g->len[j - 1])
            run += (int64_t)g->len[j++];
        rc = put(h, g->dst[i], run, g->file_off[i], done);
        i = j;
    }
    g->n = 0;
    g->used = 0;
    return rc;
}

static int bounce_get(homi_coll_wbounce *wb, int dev)
{
    if (wb->p && (dev < 0 || wb->kind == HOMI_MEM_PINNED)) return HOMI_OK;
    homi_coll_wbounce_free(wb); /* a host one, now a device source: pinned */
    wb->kind = dev >= 0 ? HOMI_MEM_PINNED : HOMI_MEM_HOST;
    if (homi_mem_alloc((homi_mem_kind)wb->kind, dev, BOUNCE, &wb->p) == HOMI_OK) return HOMI_OK;
    wb->kind = HOMI_MEM_HOST;
    return homi_mem_alloc(HOMI_MEM_HOST, -1, BOUNCE, &wb->p);
}

void homi_coll_wbounce_free(homi_coll_wbounce *wb)
{
    if (wb->p) homi_mem_free((homi_mem_kind)wb->kind, wb->p);
    wb->p = NULL;
}

int homi_coll_write_segs(homi_file *file, const void *buf, const homi_coll_seg *s, size_t n,
                         homi_coll_wbounce *wb, int64_t *bytes)
{
    int64_t done = 0;
    int dev = -1, rc = HOMI_OK;
    if (n) { /* the source's kind, from its first piece */
        int kind = homi_mem_kind_of((const char *)buf + s[0].mem_off, (size_t)s[0].len, &dev);
        if (kind < 0) rc = kind;
        if (kind != HOMI_MEM_DEVICE) dev = -1;
    }
    struct gather g = {0};
    const char *base = buf;
    for (size_t i = 0; !rc && i < n;) {
        if (s[i].len >= DIRECT) {
            size_t j = i + 1;
            int64_t run = s[i].len;
            while (j < n && s[j].file_off == s[j - 1].file_off + s[j - 1].len &&
                   s[j].mem_off == s[j - 1].mem_off + s[j - 1].len)
                run += s[j++].len;
            rc = flush(&g, file, dev, &done);
            if (!rc) rc = put(file, base + s[i].mem_off, run, s[i].file_off, &done);
            i = j;
            continue;
        }
        rc = bounce_get(wb, dev);
        if (!rc && g.used + (size_t)s[i].len > BOUNCE) rc = flush(&g, file, dev, &done);
        if (!rc) rc = gather_room(&g);
        if (rc) break;
        g.dst[g.n] = (char *)wb->p + g.used;
        g.src[g.n] = base + s[i].mem_off;
        g.len[g.n] = (size_t)s[i].len;
        g.file_off[g.n] = s[i].file_off;
        g.used += (size_t)s[i].len;
        g.n++;
        i++;
    }
    if (!rc) rc = flush(&g, file, dev, &done);
    free(g.dst);
    free(g.src);
    free(g.len);
    free(g.file_off);
    if (bytes) *bytes = done;
    return rc;
}
