/* pieces_plan.c - plans scattered reads: sorts the pieces by file offset
 * (when they are not sorted already), clips them at the end of the file,
 * sends large ones to direct reads and groups the rest into sieve windows
 * whose copy runs are compressed (adjacent pieces become one run, pieces
 * at constant file and memory strides one 2-D run). */
#include "core/pieces_plan.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Dynamic arrays: grow by doubling. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return HOMI_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np) return HOMI_ENOMEM;
    *p = np;
    *cap = nc;
    return HOMI_OK;
}

struct builder {
    struct homi_pp_plan *pl;
    const struct homi_pp_params *prm;
    size_t cap_win, cap_runs, cap_direct, cap_zero;
    int open;         /* a window is open (the last of pl->win) */
    uint64_t win_end; /* its current end in the file */
};

void homi_pp_params_default(struct homi_pp_params *p, uint64_t window_max)
{
    if (window_max < 4096) window_max = 4096;
    p->direct_min = 1u << 20;
    p->gap_max = 64u << 10;
    p->window_max = window_max;
    /* the runs of a window share its buffer's size with the data */
    p->runs_max = (size_t)(window_max / sizeof(struct homi_pp_run));
    p->task_max = 4096;
    p->group_max = 64;
    p->zero_eof = 0;
}

static int add_zero(struct builder *b, char *dst, uint64_t len)
{
    struct homi_pp_plan *pl = b->pl;
    if (pl->nzero && pl->zero[pl->nzero - 1].dst + pl->zero[pl->nzero - 1].len == dst) {
        pl->zero[pl->nzero - 1].len += len;
        return HOMI_OK;
    }
    if (grow((void **)&pl->zero, &b->cap_zero, pl->nzero + 1, sizeof *pl->zero)) return HOMI_ENOMEM;
    pl->zero[pl->nzero++] = (struct homi_pp_zero){dst, len};
    return HOMI_OK;
}

static int add_direct(struct builder *b, uint64_t off, uint64_t len, char *dst)
{
    struct homi_pp_plan *pl = b->pl;
    if (grow((void **)&pl->direct, &b->cap_direct, pl->ndirect + 1, sizeof *pl->direct))
        return HOMI_ENOMEM;
    pl->direct[pl->ndirect++] = (struct homi_pp_direct){off, len, dst};
    return HOMI_OK;
}

/* Append one segment (len <= task_max) to the open window's runs, merged
 * into the last run where the pattern continues. */
static int add_seg(struct builder *b, struct homi_pp_window *w, uint64_t src, uint64_t dst,
                   uint32_t len)
{
    struct homi_pp_plan *pl = b->pl;
    const uint64_t tmax = b->prm->task_max;
    if (w->nruns) {
        struct homi_pp_run *r = &pl->runs[pl->nruns - 1];
        /* continues the last run's single row in file and memory */
        if (r->count == 1 && src == r->src + r->len && dst == r->dst + r->len &&
            (uint64_t)r->len + len <= tmax) {
            r->len += len;
            return HOMI_OK;
        }
        if (r->len == len && (uint64_t)(r->count + 1) * len <= tmax) {
            if (r->count == 1) {
                uint64_t sp = src - r->src, dp = dst - r->dst;
                if (src >= r->src && dst > r->dst && sp <= UINT32_MAX && dp <= UINT32_MAX &&
                    dp >= len) {
                    r->spitch = (uint32_t)sp;
                    r->dpitch = (uint32_t)dp;
                    r->count = 2;
                    return HOMI_OK;
                }
            } else if (src == r->src + (uint64_t)r->count * r->spitch &&
                       dst == r->dst + (uint64_t)r->count * r->dpitch) {
                r->count++;
                return HOMI_OK;
            }
        }
    }
    if (grow((void **)&pl->runs, &b->cap_runs, pl->nruns + 1, sizeof *pl->runs)) return HOMI_ENOMEM;
    pl->runs[pl->nruns++] = (struct homi_pp_run){src, dst, len, 1, len, len};
    w->nruns++;
    return HOMI_OK;
}

/* The window that takes file range [off, end) with need more runs: the
 * open one when the range starts inside it or less than gap_max after it
 * and it stays within window_max and runs_max; else a new one at off.
 * NULL when out of memory. */
static struct homi_pp_window *window_for(struct builder *b, uint64_t off, uint64_t end, size_t need)
{
    struct homi_pp_plan *pl = b->pl;
    const struct homi_pp_params *prm = b->prm;
    struct homi_pp_window *w = b->open ? &pl->win[pl->nwin - 1] : NULL;
    if (w) {
        uint64_t nend = end > b->win_end ? end : b->win_end;
        if (off < w->off || off > b->win_end + prm->gap_max || nend - w->off > prm->window_max ||
            w->nruns + need > prm->runs_max)
            w = NULL;
    }
    if (!w) {
        if (grow((void **)&pl->win, &b->cap_win, pl->nwin + 1, sizeof *pl->win)) return NULL;
        w = &pl->win[pl->nwin++];
        *w = (struct homi_pp_window){.off = off, .len = 0, .run0 = pl->nruns};
        b->open = 1;
        b->win_end = off;
    }
    if (end > b->win_end) b->win_end = end;
    w->len = b->win_end - w->off;
    return w;
}

/* A small piece (already clipped at the end of the file) into a window. */
static int add_small(struct builder *b, uint64_t off, uint64_t len, char *dst)
{
    const uint64_t tmax = b->prm->task_max;
    struct homi_pp_window *w = window_for(b, off, off + len, (size_t)((len + tmax - 1) / tmax));
    if (!w) return HOMI_ENOMEM;
    w->bytes += len;
    for (uint64_t done = 0; done < len;) {
        uint64_t l = len - done < tmax ? len - done : tmax;
        int rc = add_seg(b, w, off + done - w->off, (uint64_t)(uintptr_t)dst + done, (uint32_t)l);
        if (rc) return rc;
        done += l;
    }
    return HOMI_OK;
}

/* One piece: clipped at the end of the file, direct or into a window. */
static int add_piece(struct builder *b, uint64_t off, uint64_t len, char *dst, uint64_t fsize)
{
    uint64_t valid = off >= fsize ? 0 : (fsize - off < len ? fsize - off : len);
    int rc = HOMI_OK;
    b->pl->file_bytes += valid;
    if (valid < len && b->prm->zero_eof) rc = add_zero(b, dst + valid, len - valid);
    if (rc || !valid) return rc;
    if (valid >= b->prm->direct_min) return add_direct(b, off, valid, dst);
    return add_small(b, off, valid, dst);
}

/* A 2-D piece whose rows all lie before the end of the file, fit one window
 * and one run each: runs of up to task_max / len rows, in the open window
 * when it can take them, else in a new one. */
static int add_block2d(struct builder *b, const homi_piece2d *p)
{
    struct homi_pp_plan *pl = b->pl;
    uint64_t off = (uint64_t)p->offset, len = p->len;
    uint64_t end = off + (p->count - 1) * p->fstride + len;
    size_t per = (size_t)(b->prm->task_max / len), need = (p->count + per - 1) / per;
    struct homi_pp_window *w = window_for(b, off, end, need);
    if (!w || grow((void **)&pl->runs, &b->cap_runs, pl->nruns + need, sizeof *pl->runs))
        return HOMI_ENOMEM;
    w->bytes += p->count * len;
    pl->file_bytes += p->count * len;
    for (size_t r0 = 0; r0 < p->count; r0 += per) {
        size_t k = p->count - r0 < per ? p->count - r0 : per;
        pl->runs[pl->nruns++] =
            (struct homi_pp_run){.src = off + r0 * p->fstride - w->off,
                                 .dst = (uint64_t)(uintptr_t)p->buf + r0 * p->mstride,
                                 .len = (uint32_t)len,
                                 .count = (uint32_t)k,
                                 .spitch = k > 1 ? (uint32_t)p->fstride : (uint32_t)len,
                                 .dpitch = k > 1 ? (uint32_t)p->mstride : (uint32_t)len};
        w->nruns++;
    }
    return HOMI_OK;
}

/* Pack consecutive windows into buffer groups (window_max bytes, runs_max
 * runs, group_max windows each) and make run sources buffer offsets. */
static int group_windows(struct homi_pp_plan *pl, const struct homi_pp_params *prm)
{
    size_t cap = 0;
    struct homi_pp_group *g = NULL;
    for (size_t i = 0; i < pl->nwin; i++) {
        struct homi_pp_window *w = &pl->win[i];
        uint64_t at = g ? (g->len + 63) / 64 * 64 : 0; /* rows start 64-byte aligned */
        if (!g || at + w->len > prm->window_max || g->nruns + w->nruns > prm->runs_max ||
            g->nwin >= prm->group_max) {
            if (grow((void **)&pl->grp, &cap, pl->ngrp + 1, sizeof *pl->grp)) return HOMI_ENOMEM;
            g = &pl->grp[pl->ngrp++];
            *g = (struct homi_pp_group){.win0 = i, .run0 = w->run0};
            at = 0;
        }
        w->boff = at;
        for (size_t r = 0; r < w->nruns; r++)
            pl->runs[w->run0 + r].src += at;
        g->len = at + w->len;
        g->nwin++;
        g->nruns += w->nruns;
        g->bytes += w->bytes;
    }
    return HOMI_OK;
}

/* Planning item, sorted into file order (offset, then piece, then row:
 * stable): a whole piece (row == BLOCK: a 1-D piece, or a 2-D piece planned
 * as a block of runs) or one row of a 2-D piece planned row by row. */
#define BLOCK SIZE_MAX
struct item {
    int64_t off;
    size_t idx, row;
};

static int by_item(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    if (x->idx != y->idx) return x->idx < y->idx ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static int params_ok(const struct homi_pp_params *prm)
{
    return prm && prm->task_max && prm->window_max && prm->runs_max && prm->direct_min &&
           prm->group_max;
}

static int check(const homi_piece *p, size_t n, const struct homi_pp_params *prm, int *sorted)
{
    if (!params_ok(prm) || (n && !p)) return HOMI_EINVAL;
    *sorted = 1;
    for (size_t i = 0; i < n; i++) {
        if (!p[i].len) continue;
        if (!p[i].buf || p[i].offset < 0) return HOMI_EINVAL;
        if (p[i].len > (uint64_t)INT64_MAX - (uint64_t)p[i].offset) return HOMI_ERANGE;
        if (i && p[i].offset < p[i - 1].offset) *sorted = 0;
    }
    return HOMI_OK;
}

int homi_pp_build(const homi_piece *pieces, size_t n, uint64_t fsize,
                  const struct homi_pp_params *prm, struct homi_pp_plan *out)
{
    if (!out) return HOMI_EINVAL;
    memset(out, 0, sizeof *out);
    int sorted;
    int rc = check(pieces, n, prm, &sorted);
    if (rc) return rc;
    struct item *order = NULL;
    if (!sorted) {
        if (!(order = malloc(n * sizeof *order))) return HOMI_ENOMEM;
        for (size_t i = 0; i < n; i++)
            order[i] = (struct item){pieces[i].offset, i, BLOCK};
        qsort(order, n, sizeof *order, by_item);
    }
    struct builder b = {.pl = out, .prm = prm};
    for (size_t k = 0; k < n && !rc; k++) {
        const homi_piece *p = &pieces[order ? order[k].idx : k];
        if (p->len) rc = add_piece(&b, (uint64_t)p->offset, p->len, p->buf, fsize);
    }
    free(order);
    if (!rc) rc = group_windows(out, prm);
    if (rc) homi_pp_free(out);
    return rc;
}

static int check2d(const homi_piece2d *p, size_t n, const struct homi_pp_params *prm, int *sorted)
{
    if (!params_ok(prm) || (n && !p)) return HOMI_EINVAL;
    *sorted = 1;
    for (size_t i = 0; i < n; i++) {
        if (!p[i].len || !p[i].count) continue;
        if (!p[i].buf || p[i].offset < 0) return HOMI_EINVAL;
        if (p[i].count > 1 && p[i].mstride < p[i].len) return HOMI_EINVAL; /* rows overlap */
        uint64_t c = p[i].count - 1;
        if (c && (p[i].fstride > (uint64_t)INT64_MAX / c || p[i].mstride > (uint64_t)INT64_MAX / c))
            return HOMI_ERANGE;
        uint64_t ext = c * p[i].fstride;
        if (ext > (uint64_t)INT64_MAX - p[i].len ||
            ext + p[i].len > (uint64_t)INT64_MAX - (uint64_t)p[i].offset)
            return HOMI_ERANGE;
        if (i && p[i].offset < p[i - 1].offset) *sorted = 0;
    }
    return HOMI_OK;
}

/* Can 2-D piece p be planned as a block of runs (rows before the end of
 * the file, one window, rows close enough together to share it)? */
static int block_ok(const homi_piece2d *p, uint64_t fsize, const struct homi_pp_params *prm)
{
    uint64_t ext = (p->count - 1) * p->fstride + p->len;
    return (uint64_t)p->offset + ext <= fsize && p->len < prm->direct_min &&
           p->len <= prm->task_max && ext <= prm->window_max && p->fstride <= UINT32_MAX &&
           p->mstride <= UINT32_MAX && (p->count == 1 || p->fstride - p->len <= prm->gap_max) &&
           (p->count + prm->task_max / p->len - 1) / (prm->task_max / p->len) <= prm->runs_max;
}

/* Plan the items of n 2-D pieces (blocks and the rows of the others) in
 * file order. */
static int plan_items(struct builder *b, const homi_piece2d *pieces, size_t n, size_t items,
                      uint64_t fsize)
{
    struct item *it = malloc(items * sizeof *it);
    if (!it) return HOMI_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const homi_piece2d *p = &pieces[i];
        if (!p->len || !p->count) continue;
        if (block_ok(p, fsize, b->prm)) {
            it[k++] = (struct item){p->offset, i, BLOCK};
        } else {
            for (size_t r = 0; r < p->count; r++)
                it[k++] = (struct item){p->offset + (int64_t)(r * p->fstride), i, r};
        }
    }
    qsort(it, items, sizeof *it, by_item);
    int rc = HOMI_OK;
    for (k = 0; k < items && !rc; k++) {
        const homi_piece2d *p = &pieces[it[k].idx];
        if (it[k].row == BLOCK)
            rc = add_block2d(b, p);
        else
            rc = add_piece(b, (uint64_t)it[k].off, p->len, (char *)p->buf + it[k].row * p->mstride,
                           fsize);
    }
    free(it);
    return rc;
}

int homi_pp_build2d(const homi_piece2d *pieces, size_t n, uint64_t fsize,
                    const struct homi_pp_params *prm, struct homi_pp_plan *out)
{
    if (!out) return HOMI_EINVAL;
    memset(out, 0, sizeof *out);
    int sorted;
    int rc = check2d(pieces, n, prm, &sorted);
    if (rc) return rc;
    /* pieces planned row by row (far apart rows, past the end of the file,
     * too large) interleave with the others in file order: plan items */
    size_t items = 0, rows = 0;
    for (size_t i = 0; i < n; i++) {
        const homi_piece2d *p = &pieces[i];
        if (!p->len || !p->count) continue;
        if (block_ok(p, fsize, prm)) {
            items++;
        } else {
            items += p->count;
            rows += p->count;
        }
    }
    struct builder b = {.pl = out, .prm = prm};
    if (sorted && !rows) { /* the common case: blocks in file order */
        for (size_t k = 0; k < n && !rc; k++)
            if (pieces[k].len && pieces[k].count) rc = add_block2d(&b, &pieces[k]);
    } else {
        rc = plan_items(&b, pieces, n, items, fsize);
    }
    if (!rc) rc = group_windows(out, prm);
    if (rc) homi_pp_free(out);
    return rc;
}

void homi_pp_free(struct homi_pp_plan *p)
{
    if (!p) return;
    free(p->win);
    free(p->grp);
    free(p->runs);
    free(p->direct);
    free(p->zero);
    memset(p, 0, sizeof *p);
}
