/* view.c - walks a file view (displacement, etype, flattened filetype
 * tiled by its extent) from an offset in etypes and pairs it with the
 * memory blocks of count x datatype: the (file offset, length, memory
 * offset) segments that the collective engine (src/coll) reads; and one
 * access's segments with its argument checks (reads and writes). */
#include <stdlib.h>
#include <string.h>

#include "coll_view.h"
#include "layer.h"

/* The shared walker (src/coll/coll_view.c) at offset etypes of view v. */
static int start(const lyr_view *v, MPI_Offset offset, homi_view_walk *w)
{
    const lyr_flat *ft = v->ftype;
    if (lyr_flat_dense(ft)) {
        homi_view_contig(w, v->disp + ft->lb + offset * v->etype_size);
        return 0;
    }
    if (ft->size == 0 || ft->n == 0) return -1;
    if (homi_view_init(w, ft->off, ft->len, ft->n, v->disp, ft->ext)) return -1;
    return homi_view_seek_etypes(w, offset, v->etype_size, ft->size);
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
    homi_view_walk w;
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
                MPI_Offset foff, got = homi_view_take(&w, mlen, &foff);
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

int lyr_request_segments(lyr_file *f, int indiv, MPI_Offset where, void *buf, MPI_Count count,
                         MPI_Datatype datatype, const char *verb, homi_coll_seg **segs,
                         size_t *nsegs, char **base, MPI_Offset *end)
{
    int err = MPI_SUCCESS;
    *segs = NULL;
    *nsegs = 0;
    *base = buf;
    *end = 0;
    pthread_mutex_lock(&f->lock); /* the view, with a reference on its filetype */
    lyr_view v = f->view;
    if (v.ftype) atomic_fetch_add(&v.ftype->ref, 1);
    pthread_mutex_unlock(&f->lock);
    if (indiv && PMPI_File_get_position(f->fh, &where) != MPI_SUCCESS)
        err = lyr_err(MPI_ERR_INTERN, "MPI_File_get_position failed");
    if (!err && count < 0) err = lyr_err(MPI_ERR_COUNT, "negative count %lld", (long long)count);
    if (!err && where < 0)
        err = lyr_err(MPI_ERR_ARG, "negative file offset %lld", (long long)where);
    if (!err && !buf && count)
        err = lyr_err(MPI_ERR_BUFFER, "NULL buffer with count %lld", (long long)count);
    if (!err && lyr_view_segments(&v, where, buf, count, datatype, segs, nsegs, base, end) != 0)
        err = lyr_err(MPI_ERR_TYPE, "the datatype or file view cannot be %s", verb);
    lyr_flat_put(v.ftype);
    return err;
}
