/* view.c - walks a file view (displacement, etype, flattened filetype
 * tiled by its extent) from an offset in etypes and pairs it with the
 * memory blocks of count x datatype: the (file offset, length, memory
 * offset) segments that the collective engine (src/coll) reads. */
#include <stdlib.h>
#include <string.h>

#include "layer.h"

struct walk {
    const lyr_flat *ft;
    int64_t disp, tile, j, pos, left; /* left < 0: contiguous view */
};

static void next_block(struct walk *w)
{
    do {
        if (++w->j >= w->ft->n) {
            w->j = 0;
            w->tile++;
        }
    } while (w->ft->len[w->j] == 0);
    w->pos = w->disp + w->tile * w->ft->ext + w->ft->off[w->j];
    w->left = w->ft->len[w->j];
}

static int start(const lyr_view *v, MPI_Offset offset, struct walk *w)
{
    const lyr_flat *ft = v->ftype;
    memset(w, 0, sizeof *w);
    w->ft = ft;
    w->disp = v->disp;
    if (lyr_flat_dense(ft)) {
        w->pos = v->disp + ft->lb + offset * v->etype_size;
        w->left = -1;
        return 0;
    }
    if (ft->size == 0 || ft->n == 0) return -1;
    int64_t per_tile = ft->size / v->etype_size;
    w->tile = offset / per_tile;
    int64_t inner = (offset % per_tile) * v->etype_size, sum = 0;
    for (w->j = 0; w->j < ft->n; w->j++) {
        int64_t l = ft->len[w->j];
        if (l && sum + l > inner) {
            w->pos = v->disp + w->tile * ft->ext + ft->off[w->j] + (inner - sum);
            w->left = l - (inner - sum);
            return 0;
        }
        sum += l;
    }
    return -1;
}

static int64_t take(struct walk *w, int64_t want, int64_t *off)
{
    if (w->left == 0) next_block(w);
    *off = w->pos;
    int64_t n = w->left < 0 || want < w->left ? want : w->left;
    w->pos += n;
    if (w->left > 0) w->left -= n;
    return n;
}

struct segs {
    homi_coll_seg *s;
    size_t n, cap;
};

static int put(struct segs *g, int64_t foff, int64_t len, int64_t moff)
{
    if (g->n && g->s[g->n - 1].file_off + g->s[g->n - 1].len == foff &&
        g->s[g->n - 1].mem_off + g->s[g->n - 1].len == moff) {
        g->s[g->n - 1].len += len;
        return 0;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 64;
        homi_coll_seg *t = realloc(g->s, cap * sizeof *t);
        if (!t) return -1;
        g->s = t;
        g->cap = cap;
    }
    g->s[g->n++] = (homi_coll_seg){foff, len, moff};
    return 0;
}

int lyr_view_segments(const lyr_view *v, MPI_Offset offset, void *buf, MPI_Count count,
                      MPI_Datatype datatype, homi_coll_seg **segs, size_t *nsegs, char **base,
                      MPI_Offset *end_etype)
{
    *segs = NULL;
    *nsegs = 0;
    *base = buf;
    *end_etype = offset;
    lyr_flat *m = lyr_flat_get(datatype);
    if (!m) return -1;
    int64_t total = m->size * count;
    *end_etype = offset + total / v->etype_size;
    if (total == 0) {
        lyr_flat_put(m);
        return 0;
    }
    struct walk w;
    if (start(v, offset, &w)) {
        lyr_flat_put(m);
        return -1;
    }
    /* memory offsets from the lowest byte the request touches */
    int dense = lyr_flat_dense(m);
    int64_t mmin = dense ? m->lb : 0;
    for (int64_t j = 0; !dense && j < m->n; j++) {
        int64_t lo = m->off[j] + (m->ext < 0 ? m->ext * (count - 1) : 0);
        if (lo < mmin) mmin = lo;
    }
    struct segs g = {0};
    int rc = 0;
    MPI_Count nrep = dense ? 1 : count;
    int64_t nblk = dense ? 1 : m->n;
    for (MPI_Count i = 0; i < nrep && !rc; i++)
        for (int64_t j = 0; j < nblk && !rc; j++) {
            int64_t moff = dense ? 0 : i * m->ext + m->off[j] - mmin;
            int64_t mlen = dense ? total : m->len[j];
            while (mlen > 0 && !rc) {
                int64_t foff, got = take(&w, mlen, &foff);
                rc = put(&g, foff, got, moff);
                moff += got;
                mlen -= got;
            }
        }
    lyr_flat_put(m);
    if (rc) {
        free(g.s);
        return -1;
    }
    *segs = g.s;
    *nsegs = g.n;
    *base = (char *)buf + mmin;
    return 0;
}
