/* read_pieces.c - homi_read_pieces, the scattered read: checks the call,
 * plans it (pieces_plan.c), then runs the plan: every direct piece is
 * started at once (read pipeline for host memory, staging pipeline for
 * device memory); sieve windows, packed into groups that share a window
 * buffer, are read a few groups at a time and scattered (one launch per
 * group) in file order while later groups are read (mem/scatter.c); bytes past the end of the file
 * are zeroed on request. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/log.h"
#include "core/pieces_plan.h"
#include "mem/memkind.h"
#include "mem/scatter.h"
#include "mem/staging.h"

/* Windows read ahead of the one being scattered. */
#define WINDOWS_IN_FLIGHT 4

/* ---- direct pieces: all in flight, counted down by their callbacks */

struct direct_group {
    pthread_mutex_t m;
    pthread_cond_t c;
    size_t left;
};

struct direct_ctx {
    struct direct_group *g;
    int64_t res;
};

static void direct_done(void *arg, int64_t res, unsigned mask)
{
    (void)mask;
    struct direct_ctx *d = arg;
    d->res = res;
    pthread_mutex_lock(&d->g->m);
    if (--d->g->left == 0) pthread_cond_signal(&d->g->c);
    pthread_mutex_unlock(&d->g->m);
}

static int direct_start(struct homi_fh *f, const struct homi_pp_direct *p, int device,
                        struct direct_ctx *d)
{
    if (device >= 0)
        return homi_staging_submit_cb(f, p->dst, p->len, (int64_t)p->off, device, HOMI_PATH_AUTO,
                                      direct_done, d);
    struct homi_rd rd = {.buf = p->dst,
                         .len = p->len,
                         .off = (int64_t)p->off,
                         .mode = HOMI_RD_CB,
                         .path = HOMI_PATH_AUTO,
                         .cb = direct_done,
                         .cb_arg = d};
    return homi_read_start(f, &rd, NULL);
}

/* ---- sieve windows, read group by group into window buffers */

struct group_io {
    int id; /* window buffer id */
    char *buf;
    sem_t ready;
    atomic_size_t left; /* window reads still running */
};

struct window_ctx {
    struct group_io *g;
    int64_t res;
};

static void window_done(void *arg, int64_t res, unsigned mask)
{
    (void)mask;
    struct window_ctx *c = arg;
    c->res = res;
    if (atomic_fetch_sub(&c->g->left, 1) == 1) sem_post(&c->g->ready);
}

/* Start the reads of group gi's windows into io->buf. */
static void group_start(struct homi_fh *f, const struct homi_pp_plan *pl, size_t gi,
                        struct group_io *io, struct window_ctx *ctx)
{
    const struct homi_pp_group *g = &pl->grp[gi];
    atomic_init(&io->left, g->nwin);
    sem_init(&io->ready, 0, 0);
    for (size_t i = g->win0; i < g->win0 + g->nwin; i++) {
        const struct homi_pp_window *pw = &pl->win[i];
        ctx[i] = (struct window_ctx){.g = io};
        struct homi_rd rd = {.buf = io->buf + pw->boff,
                             .len = pw->len,
                             .off = (int64_t)pw->off,
                             .mode = HOMI_RD_CB,
                             .path = HOMI_PATH_AUTO,
                             .cb = window_done,
                             .cb_arg = &ctx[i]};
        int rc = homi_read_start(f, &rd, NULL);
        if (rc) window_done(&ctx[i], rc, 0);
    }
}

/* Bytes of group g's buffer that hold file data: all of it, or up to the
 * first short window read (the file shrank: later windows lie past its
 * end too); a negative status for a failed read. */
static int64_t group_got(const struct homi_pp_plan *pl, const struct homi_pp_group *g,
                         const struct window_ctx *ctx)
{
    for (size_t i = g->win0; i < g->win0 + g->nwin; i++)
        if (ctx[i].res < 0) return ctx[i].res;
    for (size_t i = g->win0; i < g->win0 + g->nwin; i++)
        if ((uint64_t)ctx[i].res < pl->win[i].len)
            return (int64_t)(pl->win[i].boff + (uint64_t)ctx[i].res);
    return (int64_t)g->len;
}

/* Read and scatter every group; *missing counts bytes of pieces found
 * past the end of the file while reading (the file shrank). */
static int run_windows(struct homi_fh *f, const struct homi_pp_plan *pl, struct homi_scatter *s,
                       int zero_eof, uint64_t *missing)
{
    if (!pl->ngrp) return HOMI_OK;
    struct window_ctx *ctx = malloc(pl->nwin * sizeof *ctx);
    if (!ctx) return HOMI_ENOMEM;
    struct group_io io[WINDOWS_IN_FLIGHT];
    size_t issued = 0, done = 0;
    int err = HOMI_OK;
    while (done < issued || (!err && issued < pl->ngrp)) {
        while (!err && issued < pl->ngrp && issued - done < WINDOWS_IN_FLIGHT) {
            struct group_io *g = &io[issued % WINDOWS_IN_FLIGHT];
            int id = homi_scatter_get(s, 0, &g->buf);
            if (id == HOMI_EBUSY) {
                if (homi_scatter_retire(s)) continue; /* one of ours came back */
                if (issued > done) break;             /* scatter ours first */
                id = homi_scatter_get(s, 1, &g->buf); /* we hold none: wait */
            }
            if (id < 0) {
                err = id;
                break;
            }
            g->id = id;
            group_start(f, pl, issued, g, ctx);
            issued++;
        }
        if (done == issued) continue;
        struct group_io *g = &io[done % WINDOWS_IN_FLIGHT];
        const struct homi_pp_group *pg = &pl->grp[done];
        while (sem_wait(&g->ready) != 0) {}
        sem_destroy(&g->ready);
        done++;
        int64_t got = group_got(pl, pg, ctx);
        if (got < 0 || err) {
            if (got < 0 && !err) err = (int)got;
            homi_scatter_drop(s, g->id);
            continue;
        }
        uint64_t miss = 0;
        int rc = homi_scatter_put(s, g->id, g->buf, pg, pl->runs, (uint64_t)got, zero_eof, &miss);
        if (rc && !err) err = rc;
        *missing += miss;
    }
    free(ctx);
    return err;
}

static void plan_params(const struct homi_engine *e, int device, unsigned flags,
                        struct homi_pp_params *prm)
{
    /* device windows share a staging slot with their run table */
    uint64_t win = e->cfg.staging_size / 2 / 4096 * 4096;
    homi_pp_params_default(prm, win);
    prm->direct_min = e->cfg.pieces_direct;
    prm->gap_max = e->cfg.pieces_gap;
    prm->zero_eof = (flags & HOMI_PIECES_ZERO_EOF) != 0;
    if (device < 0) prm->task_max = 1u << 20; /* host: memcpy per row, no warps */
}

/* Checks shared by both entry points: the file, flags, memory kind (of
 * the first non-empty destination, span bytes long) and the file size. */
static int prepare(homi_file *handle, const void *first, size_t span, homi_mem_kind mem,
                   unsigned flags, struct homi_fh **f, int *device, int64_t *fsize)
{
    if (!(*f = homi_file_lookup(handle))) return HOMI_EBADF;
    if ((flags & ~HOMI_PIECES_ZERO_EOF) || mem < HOMI_MEM_AUTO || mem > HOMI_MEM_DEVICE)
        return HOMI_EINVAL;
    *device = -1;
    int kind = homi_mem_resolve(first, span, mem, device);
    if (kind < 0) return kind;
    if (kind != HOMI_MEM_DEVICE) *device = -1;
    *fsize = homi_file_size(handle);
    return *fsize < 0 ? (int)*fsize : HOMI_OK;
}

/* Run a plan: zero ranges, direct pieces (all in flight), windows. */
static int64_t run_plan(struct homi_fh *f, struct homi_pp_plan *pl, int device,
                        const struct homi_pp_params *prm)
{
    struct homi_engine *e = f->eng;
    struct homi_scatter *s = NULL;
    int rc = homi_scatter_open(e, device, prm->window_max, &s);
    if (rc) return rc;
    for (size_t i = 0; i < pl->nzero && !rc; i++)
        rc = homi_scatter_zero(s, pl->zero[i].dst, pl->zero[i].len);

    /* direct pieces: all in flight while the windows run */
    struct direct_group g = {.left = 0};
    pthread_mutex_init(&g.m, NULL);
    pthread_cond_init(&g.c, NULL);
    struct direct_ctx *dc = pl->ndirect ? calloc(pl->ndirect, sizeof *dc) : NULL;
    if (pl->ndirect && !dc && !rc) rc = HOMI_ENOMEM;
    size_t started = 0;
    for (; !rc && started < pl->ndirect; started++) {
        dc[started].g = &g;
        pthread_mutex_lock(&g.m);
        g.left++;
        pthread_mutex_unlock(&g.m);
        int r = direct_start(f, &pl->direct[started], device, &dc[started]);
        if (r) direct_done(&dc[started], r, 0);
    }

    uint64_t missing = 0;
    if (!rc) rc = run_windows(f, pl, s, prm->zero_eof, &missing);

    pthread_mutex_lock(&g.m);
    while (g.left)
        pthread_cond_wait(&g.c, &g.m);
    pthread_mutex_unlock(&g.m);
    pthread_mutex_destroy(&g.m);
    pthread_cond_destroy(&g.c);
    for (size_t i = 0; i < started; i++) {
        const struct homi_pp_direct *p = &pl->direct[i];
        if (dc[i].res < 0) {
            if (!rc) rc = (int)dc[i].res;
        } else if ((uint64_t)dc[i].res < p->len) { /* the file shrank */
            missing += p->len - (uint64_t)dc[i].res;
            if (prm->zero_eof && !rc)
                rc = homi_scatter_zero(s, p->dst + dc[i].res, p->len - (uint64_t)dc[i].res);
        }
    }
    int rs = homi_scatter_close(s);
    if (!rc) rc = rs;
    free(dc);
    uint64_t staged = 0;
    for (size_t i = 0; device >= 0 && i < pl->nwin; i++)
        staged += pl->win[i].bytes;
    if (rc) return rc;
    if (staged) {
        staged = staged > missing ? staged - missing : 0;
        atomic_fetch_add(&f->stats.staged_bytes, staged);
        atomic_fetch_add(&e->stats.staged_bytes, staged);
    }
    return (int64_t)(pl->file_bytes - missing);
}

/* Run and free a plan just built (build status rc) for n pieces. */
static int64_t run_built(struct homi_fh *f, int device, const struct homi_pp_params *prm,
                         struct homi_pp_plan *pl, int rc, size_t n, const char *what)
{
    if (rc) return rc;
    homi_log(HOMI_LOG_DEBUG,
             "%s: %zu pieces -> %zu direct, %zu windows in %zu groups (%zu runs), %zu zero ranges",
             what, n, pl->ndirect, pl->nwin, pl->ngrp, pl->nruns, pl->nzero);
    int64_t r = run_plan(f, pl, device, prm);
    homi_pp_free(pl);
    return r;
}

int64_t homi_read_pieces(homi_file *handle, const homi_piece *pieces, size_t n, homi_mem_kind mem,
                         unsigned flags)
{
    if (n && !pieces) return HOMI_EINVAL;
    size_t first = 0;
    while (first < n && !pieces[first].len)
        first++;
    struct homi_fh *f;
    int device;
    int64_t fsize;
    int rc = prepare(handle, first < n ? pieces[first].buf : NULL,
                     first < n ? pieces[first].len : 0, mem, flags, &f, &device, &fsize);
    if (first == n) return rc ? rc : 0;
    if (rc) return rc;
    struct homi_pp_params prm;
    plan_params(f->eng, device, flags, &prm);
    struct homi_pp_plan pl;
    rc = homi_pp_build(pieces, n, (uint64_t)fsize, &prm, &pl);
    return run_built(f, device, &prm, &pl, rc, n, "read_pieces");
}

int64_t homi_read_pieces2d(homi_file *handle, const homi_piece2d *pieces, size_t n,
                           homi_mem_kind mem, unsigned flags)
{
    if (n && !pieces) return HOMI_EINVAL;
    size_t first = 0;
    while (first < n && !(pieces[first].len && pieces[first].count))
        first++;
    size_t span =
        first < n ? (pieces[first].count - 1) * pieces[first].mstride + pieces[first].len : 0;
    struct homi_fh *f;
    int device;
    int64_t fsize;
    int rc = prepare(handle, first < n ? pieces[first].buf : NULL, span, mem, flags, &f, &device,
                     &fsize);
    if (first == n) return rc ? rc : 0;
    if (rc) return rc;
    struct homi_pp_params prm;
    plan_params(f->eng, device, flags, &prm);
    struct homi_pp_plan pl;
    rc = homi_pp_build2d(pieces, n, (uint64_t)fsize, &prm, &pl);
    return run_built(f, device, &prm, &pl, rc, n, "read_pieces2d");
}
