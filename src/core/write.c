/* write.c - the write pipeline for host and pinned sources: a user write
 * becomes one op (write flag set) whose chunks the kernel path writes with
 * io_uring.  With homi_direct the page-aligned middle is written through
 * the O_DIRECT descriptor and the unaligned head and tail pages buffered
 * (whole pages apart, so a buffered page never shares a page with an
 * O_DIRECT range of the same request).  Completion, accounting and the
 * result (the written prefix) are shared with reads (read.c). */
#include <stdlib.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/wrorder.h"

#define PAGE 4096u

struct region {
    uint64_t off, end;
    int direct;
};

static size_t cells(uint64_t off, uint64_t end, uint64_t cs)
{
    return end > off ? (size_t)((end - 1) / cs - off / cs + 1) : 0;
}

/* Cut [off, off+len) into up to three regions: buffered head, O_DIRECT
 * middle, buffered tail (one buffered region without O_DIRECT). */
static int regions(struct homi_fh *f, const char *buf, int64_t off, uint64_t len, uint64_t cs,
                   struct region r[3])
{
    struct homi_engine *e = f->eng;
    const uint64_t o = (uint64_t)off, end = o + len;
    int direct = e->cfg.direct && f->dfd >= 0;
    if (e->cfg.direct && f->dfd < 0 && len) homi_fh_fallback(f, HOMI_FB_DIRECT_UNSUPPORTED);
    uint64_t A = f->dio_off_align > PAGE ? f->dio_off_align : PAGE;
    if (direct && cs % A) direct = 0;
    if (!direct) {
        r[0] = (struct region){o, end, 0};
        return 1;
    }
    uint64_t h = (o + A - 1) / A * A, t = end / A * A;
    if (h > end) h = end;
    if (t < h) t = h;
    int mid_direct =
        t > h && (uintptr_t)(buf + (h - o)) % (f->dio_mem_align ? f->dio_mem_align : 1) == 0;
    if (h > o || end > t || (t > h && !mid_direct)) homi_fh_fallback(f, HOMI_FB_DIRECT_UNALIGNED);
    int n = 0;
    if (h > o) r[n++] = (struct region){o, h, 0};
    if (t > h) r[n++] = (struct region){h, t, mid_direct};
    if (end > t) r[n++] = (struct region){t, end, 0};
    return n;
}

int homi_write_start(struct homi_fh *f, const struct homi_rd *rd, struct homi_wrange *wr,
                     int64_t *result)
{
    struct homi_engine *e = f->eng;
    const int sync = rd->mode == HOMI_RD_SYNC;
    const uint64_t cs = rd->chunk ? rd->chunk : e->cfg.chunk_size;
    char *buf = rd->buf;
    struct region r[3];
    int nr = rd->len ? regions(f, buf, rd->off, rd->len, cs, r) : 0;
    size_t nchunks = 0;
    for (int i = 0; i < nr; i++)
        nchunks += cells(r[i].off, r[i].end, cs);

    struct homi_op *op = calloc(1, sizeof *op + nchunks * sizeof(struct homi_chunk));
    struct homi_chunk **list = nchunks ? malloc(nchunks * sizeof *list) : NULL;
    if (!op || (nchunks && !list)) {
        free(op);
        free(list);
        return HOMI_ENOMEM;
    }
    op->eng = e;
    op->file = f;
    op->user_data = rd->user_data;
    op->off = rd->off;
    op->len = rd->len;
    op->mode = rd->mode;
    op->write = 1;
    op->wr = wr;
    op->cb = rd->cb;
    op->cb_arg = rd->cb_arg;
    atomic_init(&op->short_at, UINT64_MAX);
    atomic_init(&op->path_mask, 1u << HOMI_PATH_KERNEL);
    if (sync) sem_init(&op->done, 0, 0);

    size_t k = 0;
    for (int i = 0; i < nr; i++)
        for (uint64_t p = r[i].off; p < r[i].end;) {
            uint64_t cell_end = (p / cs + 1) * cs;
            uint64_t n = (cell_end < r[i].end ? cell_end : r[i].end) - p;
            struct homi_chunk *c = &op->chunks[k];
            c->op = op;
            c->off = p;
            c->len = (uint32_t)n;
            c->dst = buf + (p - (uint64_t)rd->off);
            c->path = HOMI_PATH_KERNEL;
            c->want = HOMI_PATH_KERNEL;
            c->direct = r[i].direct;
            c->slot = -1;
            list[k++] = c;
            p += n;
        }
    atomic_fetch_add(&f->inflight, 1);
    if (rd->mode == HOMI_RD_CQ) atomic_fetch_add(&e->inflight, 1);
    atomic_init(&op->pending, (unsigned)k + 1); /* +1: alive until all are handed out */
    const struct homi_path_ops *ops = e->paths[HOMI_PATH_KERNEL].ops;
    int handled = 0;
    if (sync && k == 1 && e->cfg.inline_sync && ops->run_inline)
        handled = ops->run_inline(e->paths[HOMI_PATH_KERNEL].state, list[0]);
    if (k && !handled) ops->submit(e->paths[HOMI_PATH_KERNEL].state, list, k);
    free(list);
    homi_op_put(op);
    if (!sync) return HOMI_OK;
    while (sem_wait(&op->done) != 0) {}
    *result = op->result;
    sem_destroy(&op->done);
    free(op);
    return HOMI_OK;
}
