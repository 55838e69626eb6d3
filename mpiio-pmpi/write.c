/* write.c - writes HOMI serves: count x datatype from CUDA device memory
 * (HOMI_MPIIO_WRITES=device, the default; =all: any memory; =none: never),
 * flattened against the file view and written by libhomi on a second
 * handle of the file opened for writing: a long piece straight from the
 * buffer (device memory through libhomi's pinned staging pipeline), short
 * pieces gathered into a pinned bounce buffer (one batched copy) and
 * written one run of file-contiguous pieces at a time.  Only the bytes of
 * the view are written: gaps between pieces keep what the file holds.
 * Collective calls decide together (one MPI_Allreduce) whether HOMI
 * serves them; then every rank writes its own pieces (no aggregation).
 * Atomic mode, shared and ordered pointers, and views or datatypes the
 * layer cannot flatten stay the MPI library's (write_api.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

#define BOUNCE (8u << 20) /* bytes of short pieces gathered per batch   */
#define DIRECT (1u << 20) /* a piece this long is written from its buffer */

enum { W_NONE, W_DEVICE, W_ALL };

static int writes_mode(void)
{
    static int mode = -1;
    if (mode < 0) {
        const char *e = getenv("HOMI_MPIIO_WRITES");
        mode = !e || !*e || !strcmp(e, "device") ? W_DEVICE
               : !strcmp(e, "all")               ? W_ALL
               : !strcmp(e, "none")              ? W_NONE
                                                 : -2;
        if (mode == -2) {
            fprintf(stderr,
                    "homi_mpiio: HOMI_MPIIO_WRITES=%s is not device, all or none: device used\n",
                    e);
            mode = W_DEVICE;
        }
    }
    return mode;
}

/* Can HOMI write this call (mode, view, datatype)? */
static int can_write(lyr_file *f, MPI_Datatype datatype)
{
    if (!f || f->atomic || !(f->amode & (MPI_MODE_WRONLY | MPI_MODE_RDWR))) return 0;
    if (writes_mode() == W_NONE) return 0;
    pthread_mutex_lock(&f->lock);
    int ok = f->view.ftype && f->view.native && !f->split_active && !f->wfile_err;
    pthread_mutex_unlock(&f->lock);
    if (!ok) return 0;
    lyr_flat *m = lyr_flat_get(datatype);
    lyr_flat_put(m);
    return m != NULL;
}

/* Does this rank want HOMI to write its buffer (device memory, or any
 * memory with HOMI_MPIIO_WRITES=all)?  *dev: the buffer's GPU or -1. */
static int wants(const void *buf, MPI_Count count, MPI_Datatype t, int *dev)
{
    *dev = -1;
    if (!buf || count <= 0) return 0;
    MPI_Aint lb, ext, tlb, text;
    PMPI_Type_get_extent(t, &lb, &ext);
    PMPI_Type_get_true_extent(t, &tlb, &text);
    size_t span = (size_t)(ext * (count - 1) + text);
    if (!span) return 0;
    int kind = homi_mem_kind_of((const char *)buf + tlb, span, dev);
    if (kind != HOMI_MEM_DEVICE) *dev = -1;
    return kind == HOMI_MEM_DEVICE || writes_mode() == W_ALL;
}

/* The handle HOMI writes through (opened on first use). */
static int wfile_open(lyr_file *f)
{
    pthread_mutex_lock(&f->lock);
    int rc = f->wfile_err;
    if (!f->wfile && !rc) {
        if (!f->eng) {
            lyr_mark_engine_used();
            rc = homi_engine_acquire(f->cfg, &f->eng);
        }
        if (!rc) rc = homi_open(f->eng, f->path, HOMI_RDWR, &f->wfile);
        if (rc) {
            f->wfile_err = rc;
            fprintf(stderr,
                    "homi_mpiio: %s: writes not served by HOMI (%s): the MPI library "
                    "writes them\n",
                    f->path, homi_strerror(rc));
        }
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* len bytes at off from src, all of them or an error; *done counts what
 * reached the file */
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
    char *bounce;
    unsigned n, cap;
    void **dst;
    const void **src;
    size_t *len;
    int64_t *file_off; /* per piece, to find the runs */
    size_t used;
};

static int gather_room(struct gather *g)
{
    if (g->n < g->cap) return 0;
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
    return 0;
}

/* copy the gathered pieces into the bounce buffer and write its runs */
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

/* every piece of segs, in order; stops at the first error */
static int write_segs(lyr_file *f, const char *base, const homi_coll_seg *s, size_t n, int dev,
                      int64_t *done)
{
    struct gather g = {0};
    int rc = HOMI_OK;
    for (size_t i = 0; !rc && i < n;) {
        if (s[i].len >= DIRECT) { /* long: from the buffer, with its neighbours */
            size_t j = i + 1;
            int64_t run = s[i].len;
            while (j < n && s[j].file_off == s[j - 1].file_off + s[j - 1].len &&
                   s[j].mem_off == s[j - 1].mem_off + s[j - 1].len)
                run += s[j++].len;
            rc = flush(&g, f->wfile, dev, done);
            if (!rc) rc = put(f->wfile, base + s[i].mem_off, run, s[i].file_off, done);
            i = j;
            continue;
        }
        if (!f->wbounce) {
            f->wbounce_kind = dev >= 0 ? HOMI_MEM_PINNED : HOMI_MEM_HOST;
            if (homi_mem_alloc(f->wbounce_kind, dev, BOUNCE, &f->wbounce)) {
                f->wbounce_kind = HOMI_MEM_HOST;
                rc = homi_mem_alloc(HOMI_MEM_HOST, -1, BOUNCE, &f->wbounce);
                if (rc) break;
            }
        }
        if (g.used + (size_t)s[i].len > BOUNCE) rc = flush(&g, f->wfile, dev, done);
        if (!rc) rc = gather_room(&g);
        if (rc) break;
        g.dst[g.n] = (char *)f->wbounce + g.used;
        g.src[g.n] = base + s[i].mem_off;
        g.len[g.n] = (size_t)s[i].len;
        g.file_off[g.n] = s[i].file_off;
        g.used += (size_t)s[i].len;
        g.n++;
        i++;
    }
    if (!rc) rc = flush(&g, f->wfile, dev, done);
    free(g.dst);
    free(g.src);
    free(g.len);
    free(g.file_off);
    return rc;
}

int lyr_write(lyr_file *f, int indiv, MPI_Offset where, const void *buf, MPI_Count count,
              MPI_Datatype datatype, int coll, MPI_Status *status)
{
    int dev = -1;
    int can = can_write(f, datatype), want = can && wants(buf, count, datatype, &dev);
    if (coll) { /* serve when every rank can and one wants: min(can), max(want) */
        int v[2] = {can, -want}, all[2] = {0, 0};
        PMPI_Allreduce(v, all, 2, MPI_INT, MPI_MIN, f->comm);
        can = all[0];
        want = -all[1];
    }
    if (!can || !want) return -1; /* the MPI library writes it */
    int ok = wfile_open(f) == HOMI_OK, all_ok = ok;
    if (coll) PMPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, f->comm);
    if (!all_ok) return -1;

    int err = MPI_SUCCESS;
    homi_coll_seg *segs = NULL;
    size_t n = 0;
    char *base = (char *)(uintptr_t)buf;
    MPI_Offset end = 0;
    pthread_mutex_lock(&f->lock);
    lyr_view v = f->view;
    atomic_fetch_add(&v.ftype->ref, 1);
    pthread_mutex_unlock(&f->lock);
    if (indiv && PMPI_File_get_position(f->fh, &where) != MPI_SUCCESS)
        err = lyr_err(MPI_ERR_INTERN, "MPI_File_get_position failed");
    if (!err && count < 0) err = lyr_err(MPI_ERR_COUNT, "negative count %lld", (long long)count);
    if (!err && where < 0)
        err = lyr_err(MPI_ERR_ARG, "negative file offset %lld", (long long)where);
    if (!err && !buf && count)
        err = lyr_err(MPI_ERR_BUFFER, "NULL buffer with count %lld", (long long)count);
    if (!err && lyr_view_segments(&v, where, base, count, datatype, &segs, &n, &base, &end) != 0)
        err = lyr_err(MPI_ERR_TYPE, "the datatype or file view cannot be written");
    lyr_flat_put(v.ftype);

    int64_t done = 0;
    if (!err && n) {
        pthread_mutex_lock(&f->wlock); /* the bounce buffer */
        int rc = write_segs(f, base, segs, n, dev, &done);
        pthread_mutex_unlock(&f->wlock);
        if (rc) err = lyr_err_homi(rc, "write");
    }
    free(segs);
    lyr_status_bytes(status, done); /* what reached the file */
    if (err) return lyr_fail(f->fh, err);
    if (indiv && PMPI_File_seek(f->fh, end, MPI_SEEK_SET) != MPI_SUCCESS)
        return lyr_fail(f->fh, lyr_err(MPI_ERR_INTERN, "MPI_File_seek failed"));
    return MPI_SUCCESS;
}
