/* read.c - the read pipeline shared by every front-end: validate, choose
 * the path, plan against the extent map (holes become zeros without I/O),
 * split into chunks, dispatch, and complete ops (sync wake-up or the
 * engine's completion queue). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "client/homid_client.h"
#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"
#include "core/wrorder.h"

int homi_cq_push(struct homi_engine *e, const homi_completion *c);

#define SEGS_INLINE 16

static void op_finish(struct homi_op *op)
{
    struct homi_fh *f = op->file;
    struct homi_engine *e = op->eng;
    int err = atomic_load(&op->err);
    uint64_t short_at = atomic_load(&op->short_at);
    uint64_t got = short_at < op->len ? short_at : op->len;
    /* a write returns the prefix known to be in the file, the error only
     * when that prefix is empty (homi.h) */
    int64_t result = err && (!op->write || !got) ? err : (int64_t)got;
    if (op->write) {
        homi_file_invalidate(f);
        homi_wr_end(f, op->wr);
    }
    if (err) {
        atomic_fetch_add(&f->stats.errors, 1);
        atomic_fetch_add(&e->stats.errors, 1);
    }
    if (result >= 0) {
        _Atomic uint64_t *fb = op->write ? &f->stats.write_bytes : &f->stats.read_bytes;
        _Atomic uint64_t *eb = op->write ? &e->stats.write_bytes : &e->stats.read_bytes;
        atomic_fetch_add(fb, (uint64_t)result);
        atomic_fetch_add(eb, (uint64_t)result);
    }
    atomic_fetch_add(op->write ? &f->stats.writes : &f->stats.reads, 1);
    atomic_fetch_add(op->write ? &e->stats.writes : &e->stats.reads, 1);
    if (op->mode == HOMI_RD_CB) {
        unsigned mask = atomic_load(&op->path_mask);
        void (*cb)(void *, int64_t, unsigned) = op->cb;
        void *arg = op->cb_arg;
        atomic_fetch_sub(&f->inflight, 1);
        free(op);
        cb(arg, result, mask);
        return;
    }
    if (op->mode == HOMI_RD_SYNC) {
        op->result = result;
        atomic_fetch_sub(&f->inflight, 1);
        sem_post(&op->done);
        return;
    }
    homi_completion c = {op->user_data, result, atomic_load(&op->path_mask), 0};
    atomic_fetch_sub(&f->inflight, 1);
    free(op);
    if (homi_cq_push(e, &c))
        homi_log(HOMI_LOG_ERROR, "completion lost: out of memory (user_data %llu)",
                 (unsigned long long)c.user_data);
}

void homi_op_put(struct homi_op *op)
{
    if (atomic_fetch_sub(&op->pending, 1) == 1) op_finish(op);
}

void homi_chunk_complete(struct homi_chunk *c, int64_t res)
{
    struct homi_op *op = c->op;
    if (res < 0 && op->write && c->done) res = c->done; /* written part, then the error */
    if (res < 0) {
        int zero = 0;
        atomic_compare_exchange_strong(&op->err, &zero, (int)res);
        if (op->write) { /* the written prefix ends here */
            uint64_t at = c->off - (uint64_t)op->off;
            uint64_t cur = atomic_load(&op->short_at);
            while (at < cur && !atomic_compare_exchange_weak(&op->short_at, &cur, at)) {}
        }
    } else {
        uint64_t ns = homi_now_ns() - c->t0;
        if (op->write)
            homi_fh_account_write(op->file, c->path, (uint64_t)res, ns);
        else if ((uint64_t)res > c->acct_other)
            homi_fh_account(op->file, c->path, (uint64_t)res - c->acct_other, ns);
        if ((uint64_t)res < c->len) {
            uint64_t at = c->off - (uint64_t)op->off + (uint64_t)res;
            uint64_t cur = atomic_load(&op->short_at);
            while (at < cur && !atomic_compare_exchange_weak(&op->short_at, &cur, at)) {}
        }
    }
    atomic_fetch_or(&op->path_mask, (1u << c->path) | c->other_mask);
    if (atomic_fetch_sub(&op->pending, 1) == 1) op_finish(op);
}

/* Which path serves the data chunks of this request: the request's path,
 * else the file's hint, else the engine's; "auto" picks passthrough for
 * large reads of files on an NVMe namespace when the engine reads around
 * the page cache (homi_direct), and the kernel path otherwise. */
static int choose_path(struct homi_fh *f, int want, uint64_t len)
{
    struct homi_engine *e = f->eng;
    if (want == HOMI_PATH_AUTO) want = f->path_pref;
    if (want == HOMI_PATH_AUTO) want = e->cfg.path;
    if (want == HOMI_PATH_AUTO) {
        if (e->cfg.direct && len >= e->cfg.passthru_min && e->paths[HOMI_PATH_PASSTHRU].ok &&
            f->path_priv[HOMI_PATH_PASSTHRU])
            return HOMI_PATH_PASSTHRU;
        return HOMI_PATH_KERNEL;
    }
    if (want == HOMI_PATH_KERNEL) return HOMI_PATH_KERNEL;
    if ((want == HOMI_PATH_PASSTHRU || want == HOMI_PATH_DELEGATED) && e->paths[want].ok &&
        !f->path_priv[want]) {
        homi_fh_fallback(f, HOMI_FB_NO_NVME);
        HOMI_DEBUG("%s: %s requested, file not on a namespace it can read", f->path,
                   homi_path_name(want));
        return HOMI_PATH_KERNEL;
    }
    if (e->paths[want].ok && e->paths[want].ops->busy &&
        e->paths[want].ops->busy(e->paths[want].state, f)) {
        homi_fh_fallback(f, HOMI_FB_QUEUE_BUSY);
        return HOMI_PATH_KERNEL;
    }
    /* cuFile writes GPU memory only: host destinations use kernel */
    if (want != HOMI_PATH_CUFILE && e->paths[want].ok) return want;
    homi_fh_fallback(f, HOMI_FB_PATH_UNAVAILABLE);
    HOMI_DEBUG("%s: path %s requested: %s; using kernel", f->path, homi_path_name(want),
               e->paths[want].why);
    return HOMI_PATH_KERNEL;
}

/* The path asked of homid for a request: the request's, the file's hint or
 * the engine's (homid checks availability and counts its fallbacks). */
static int wanted_path(struct homi_fh *f, int want)
{
    if (want == HOMI_PATH_AUTO) want = f->path_pref;
    if (want == HOMI_PATH_AUTO) want = f->eng->cfg.path;
    if (want != HOMI_PATH_AUTO && want != HOMI_PATH_KERNEL && want != HOMI_PATH_PASSTHRU &&
        want != HOMI_PATH_DELEGATED) {
        homi_fh_fallback(f, HOMI_FB_PATH_UNAVAILABLE);
        want = HOMI_PATH_KERNEL;
    }
    return want;
}

/* Plan [off, off+len) under the map lock; returns the clamped length and
 * the segments (allocated when more than SEGS_INLINE are needed).  Files
 * served by homid are planned there: here only the size clamps. */
static uint64_t plan(struct homi_fh *f, int64_t off, uint64_t len, struct homi_seg **segs,
                     size_t *nseg, int dmn)
{
    struct homi_engine *e = f->eng;
    if (dmn) {
        struct stat st;
        uint64_t size = fstat(f->fd, &st) ? 0 : (uint64_t)st.st_size;
        uint64_t avail = (uint64_t)off < size ? size - (uint64_t)off : 0;
        if (len > avail) len = avail;
        if (len) (*segs)[0] = (struct homi_seg){(uint64_t)off, len, 0};
        *nseg = len ? 1 : 0;
        return len;
    }
    pthread_mutex_lock(&f->map_lock);
    homi_file_refresh_map(f);
    uint64_t size = f->map_valid ? f->map.file_size : (uint64_t)f->map_st.st_size;
    uint64_t avail = (uint64_t)off < size ? size - (uint64_t)off : 0;
    if (len > avail) len = avail;
    size_t n = 0;
    if (len && f->map_valid && e->cfg.hole_skip) {
        n = homi_extmap_plan(&f->map, (uint64_t)off, len, e->cfg.min_hole, *segs, SEGS_INLINE);
        if (n > SEGS_INLINE) {
            struct homi_seg *s = malloc(n * sizeof *s);
            if (s) {
                *segs = s;
                n = homi_extmap_plan(&f->map, (uint64_t)off, len, e->cfg.min_hole, s, n);
            } else {
                n = 0;
            }
        }
    }
    if (len && !n) {
        (*segs)[0] = (struct homi_seg){(uint64_t)off, len, 0};
        n = 1;
    }
    pthread_mutex_unlock(&f->map_lock);
    *nseg = n;
    return len;
}

static size_t count_chunks(const struct homi_seg *s, size_t n, uint64_t cs)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (!s[i].hole) c += (size_t)((s[i].offset + s[i].length - 1) / cs - s[i].offset / cs + 1);
    return c;
}

/* Is chunk c one of op's? */
static int of_op(const struct homi_chunk *c, void *arg)
{
    return c->op == arg;
}

void homi_sync_wait(struct homi_engine *e, int path, sem_t *done,
                    int (*mine)(const struct homi_chunk *c, void *arg), void *arg)
{
    const struct homi_path_inst *pi = &e->paths[path];
    if (e->cfg.sync_help && pi->ok && pi->ops && pi->ops->help)
        for (;;) {
            if (sem_trywait(done) == 0) return;
            if (!pi->ops->help(pi->state, mine, arg)) break;
        }
    while (sem_wait(done) != 0) {}
}

int homi_read_start(struct homi_fh *f, const struct homi_rd *rd, int64_t *result)
{
    struct homi_engine *e = f->eng;
    void *buf = rd->buf;
    uint64_t len = rd->len;
    int64_t off = rd->off;
    const int sync = rd->mode == HOMI_RD_SYNC;
    const uint64_t cs = rd->chunk ? rd->chunk : e->cfg.chunk_size;
    homi_wr_wait_read(f, (uint64_t)off, len); /* after earlier overlapping writes */
    struct homi_seg inl[SEGS_INLINE], *segs = inl;
    size_t nseg = 0;
    const int dmn = homi_client_serves(e->client, f);
    const int path = dmn ? HOMI_PATH_KERNEL : choose_path(f, rd->path, len);
    const int want = dmn ? wanted_path(f, rd->path) : path;
    len = plan(f, off, len, &segs, &nseg, dmn);
    size_t nchunks = count_chunks(segs, nseg, cs);

    struct homi_op *op = calloc(1, sizeof *op + nchunks * sizeof(struct homi_chunk));
    struct homi_chunk **list = nchunks ? malloc(nchunks * sizeof *list) : NULL;
    if (!op || (nchunks && !list)) {
        free(op);
        free(list);
        if (segs != inl) free(segs);
        return HOMI_ENOMEM;
    }
    op->eng = e;
    op->file = f;
    op->user_data = rd->user_data;
    op->off = off;
    op->len = len;
    op->mode = rd->mode;
    op->cb = rd->cb;
    op->cb_arg = rd->cb_arg;
    atomic_init(&op->short_at, UINT64_MAX);
    if (sync) sem_init(&op->done, 0, 0);

    int want_direct = e->cfg.direct;
    /* passthrough reads around the page cache by itself; homid decides */
    if (path == HOMI_PATH_PASSTHRU || dmn) want_direct = 0;
    int direct = want_direct && f->dfd >= 0;
    if (want_direct && f->dfd < 0) homi_fh_fallback(f, HOMI_FB_DIRECT_UNSUPPORTED);
    const uint64_t A = direct ? f->dio_off_align : 1, MA = direct ? f->dio_mem_align : 1;
    size_t k = 0;
    for (size_t i = 0; i < nseg; i++) {
        struct homi_seg *s = &segs[i];
        char *dst = (char *)buf + (s->offset - (uint64_t)off);
        if (s->hole) {
            uint64_t t0 = homi_now_ns();
            memset(dst, 0, s->length);
            homi_fh_account(f, HOMI_PATH_HOLE, s->length, homi_now_ns() - t0);
            atomic_fetch_or(&op->path_mask, 1u << HOMI_PATH_HOLE);
            continue;
        }
        for (uint64_t p = s->offset, end = s->offset + s->length; p < end;) {
            uint64_t cell_end = (p / cs + 1) * cs;
            uint64_t n = (cell_end < end ? cell_end : end) - p;
            struct homi_chunk *c = &op->chunks[k];
            c->op = op;
            c->off = p;
            c->len = (uint32_t)n;
            c->dst = (char *)buf + (p - (uint64_t)off);
            c->path = path;
            c->want = want;
            c->slot = -1;
            if (direct) {
                c->direct = 1;
                int aligned = p % A == 0 && n % A == 0 && (uintptr_t)c->dst % MA == 0;
                if (!aligned) {
                    c->woff = p - p % A;
                    uint64_t wend = (p + n + A - 1) / A * A;
                    c->wlen = (uint32_t)(wend - c->woff);
                    if (c->wlen > e->cfg.chunk_size + 8192) { /* no bounce fits: buffered */
                        c->direct = 0;
                    } else {
                        c->bounce = 1;
                    }
                    homi_fh_fallback(f, HOMI_FB_DIRECT_UNALIGNED);
                }
            }
            list[k++] = c;
            p += n;
        }
    }
    if (segs != inl) free(segs);
    atomic_fetch_add(&f->inflight, 1);
    if (rd->mode == HOMI_RD_CQ) atomic_fetch_add(&e->inflight, 1);
    /* the +1 keeps the op alive until every chunk has been handed out */
    atomic_init(&op->pending, (unsigned)k + 1);
    const struct homi_path_ops *ops = e->paths[path].ops;
    int handled = 0;
    if (dmn) {
        if (k) homi_client_submit(e->client, list, k);
        handled = 1;
    } else if (sync && k == 1 && e->cfg.inline_sync && ops->run_inline) {
        handled = ops->run_inline(e->paths[path].state, list[0]);
    }
    if (k && !handled) ops->submit(e->paths[path].state, list, k);
    free(list);
    if (atomic_fetch_sub(&op->pending, 1) == 1) op_finish(op);
    if (!sync) return HOMI_OK;
    if (!dmn && k > 1)
        homi_sync_wait(e, path, &op->done, of_op, op);
    else
        while (sem_wait(&op->done) != 0) {}
    *result = op->result;
    sem_destroy(&op->done);
    free(op);
    return HOMI_OK;
}
