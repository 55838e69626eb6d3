/* homid_devq.c - the region of a GPU queue served by homid: layout and
 * message checks (pure, no I/O), and the client's pump that moves bulk
 * chunks to their destinations and posts those completions (the copy is a
 * callback, so the pump runs without CUDA in the tests). */
#include "cplane/homid_devq.h"

#include <stdlib.h>
#include <string.h>

#include "cplane/homid_proto.h"
#include "gpu/devq_ring.h"
#include "homi.h"

static uint64_t up4k(uint64_t v)
{
    return (v + 4095) & ~4095ull;
}

int homid_dq_layout(uint32_t slots, uint32_t inline_max, uint32_t chunks, uint32_t chunk_size,
                    struct homid_dq_hdr *out, char *why, size_t whylen)
{
    if (slots < 2 || slots > HOMID_DQ_SLOTS_MAX || (slots & (slots - 1)))
        return homid_fail(why, whylen, HOMI_EINVAL, "slots %u: a power of two, 2..%u", slots,
                          HOMID_DQ_SLOTS_MAX);
    if (!inline_max || inline_max % 16 || inline_max > HOMID_DQ_INLINE_MAX)
        return homid_fail(why, whylen, HOMI_EINVAL, "inline size %u: a multiple of 16, at most %u",
                          inline_max, HOMID_DQ_INLINE_MAX);
    if (!chunks || chunks > HOMID_DQ_CHUNKS_MAX)
        return homid_fail(why, whylen, HOMI_EINVAL, "chunks %u: 1..%u", chunks,
                          HOMID_DQ_CHUNKS_MAX);
    if (chunk_size < HOMID_DQ_CHUNK_MIN || chunk_size > HOMID_DQ_CHUNK_MAX || chunk_size % 4096)
        return homid_fail(why, whylen, HOMI_EINVAL, "chunk size %u: a multiple of 4 KiB, %u..%u",
                          chunk_size, HOMID_DQ_CHUNK_MIN, HOMID_DQ_CHUNK_MAX);
    memset(out, 0, sizeof *out);
    out->magic = HOMID_DQ_MAGIC;
    out->version = HOMID_DQ_VERSION;
    out->slots = slots;
    out->inline_max = inline_max;
    out->chunks = chunks;
    out->chunk_size = chunk_size;
    uint64_t o = up4k(sizeof(struct homid_dq_hdr));
    out->req_off = o;
    o = up4k(o + (uint64_t)slots * sizeof(homi_devq_req));
    out->cpl_off = o;
    o = up4k(o + (uint64_t)slots * sizeof(homi_devq_cpl));
    out->data_off = o;
    o = up4k(o + (uint64_t)slots * inline_max);
    out->chk_off = o;
    o = up4k(o + (uint64_t)chunks * sizeof(struct homid_dq_chunk));
    out->cdata_off = o;
    o = up4k(o + (uint64_t)chunks * chunk_size);
    out->size = o;
    if (o > HOMID_DQ_REGION_MAX)
        return homid_fail(why, whylen, HOMI_EINVAL, "region of %llu MiB (at most %llu)",
                          (unsigned long long)(o >> 20),
                          (unsigned long long)(HOMID_DQ_REGION_MAX >> 20));
    return 0;
}

int homid_dq_create_check(const struct homid_devq_create *c, char *why, size_t whylen)
{
    struct homid_dq_hdr lay;
    int rc = homid_dq_layout(c->slots, c->inline_max, c->chunks, c->chunk_size, &lay, why, whylen);
    if (rc) return rc;
    if (c->size != lay.size)
        return homid_fail(why, whylen, HOMI_EINVAL, "region of %llu bytes, the layout needs %llu",
                          (unsigned long long)c->size, (unsigned long long)lay.size);
    if (!c->threads || c->threads > HOMID_DQ_THREADS_MAX)
        return homid_fail(why, whylen, HOMI_EINVAL, "threads %u: 1..%u", c->threads,
                          HOMID_DQ_THREADS_MAX);
    if (c->max_request < c->inline_max || c->max_request > HOMID_DQ_REQUEST_MAX)
        return homid_fail(why, whylen, HOMI_EINVAL, "largest request %llu: %u..%llu",
                          (unsigned long long)c->max_request, c->inline_max,
                          (unsigned long long)HOMID_DQ_REQUEST_MAX);
    if (c->reserved) return homid_fail(why, whylen, HOMI_EINVAL, "reserved field set");
    return 0;
}

uint64_t homid_dq_chunk_check(uint32_t len, uint64_t t, uint64_t roff, int64_t total)
{
    return homi_devq_check(HOMID_DQ_MAGIC, (int64_t)roff, len, (uint64_t)total, t);
}

/* ---------------------------------------------------------------- pump */

int homid_dq_pump_init(struct homid_dq_pump *p, const struct homid_dq_hdr *lay, char *base)
{
    memset(p, 0, sizeof *p);
    p->lay = *lay;
    p->base = base;
    p->track = calloc(lay->slots, sizeof *p->track);
    p->round = calloc(lay->chunks, sizeof *p->round);
    if (!p->track || !p->round) {
        homid_dq_pump_free(p);
        return HOMI_ENOMEM;
    }
    return 0;
}

void homid_dq_pump_free(struct homid_dq_pump *p)
{
    free(p->track);
    free(p->round);
    p->track = NULL;
    p->round = NULL;
}

unsigned homid_dq_pump_run(struct homid_dq_pump *p)
{
    const struct homid_dq_hdr *l = &p->lay;
    struct homid_dq_chunk *chk = (struct homid_dq_chunk *)(p->base + l->chk_off);
    const homi_devq_req *req = (const homi_devq_req *)(p->base + l->req_off);
    homi_devq_cpl *cpl = (homi_devq_cpl *)(p->base + l->cpl_off);
    const char *cdata = p->base + l->cdata_off;
    unsigned n = 0, posted = 0;
    for (unsigned i = 0; i < l->chunks; i++) {
        if (atomic_load_explicit(&chk[i].state, memory_order_acquire) != HOMID_DQ_FULL) continue;
        struct homid_dq_piece *pc = &p->round[n++];
        struct homid_dq_chunk *d = &pc->d;
        pc->chunk = i;
        d->len = chk[i].len;
        d->t = chk[i].t;
        d->roff = chk[i].roff;
        d->total = chk[i].total;
        d->check = chk[i].check;
        const homi_devq_req *r = &req[d->t & (l->slots - 1)];
        /* the request is this process's own (its GPU wrote it and holds the
         * slot until the completion): the piece must fall inside it */
        int failure =
            !d->len && d->total < 0 && d->total >= INT32_MIN; /* homid could not read it */
        /* no data, total >= 0: the file shrank, the request ends at total
         * (sent once every earlier piece of it was copied) */
        pc->end = !d->len && d->total >= 0;
        pc->rc = 0;
        if (d->check != homid_dq_chunk_check(d->len, d->t, d->roff, d->total) ||
            r->ticket != d->t || (pc->end && (d->roff || (uint64_t)d->total > r->len)) ||
            (!failure && !pc->end &&
             (!d->len || d->len > l->chunk_size || d->total <= 0 || (uint64_t)d->total > r->len ||
              d->roff + d->len > (uint64_t)d->total))) {
            p->bad_chunks++;
            pc->rc = HOMI_EIO;
        } else if (failure) {
            pc->rc = (int)d->total;
        }
        struct homid_dq_track *tr = &p->track[d->t & (l->slots - 1)];
        if (tr->t != d->t) {
            tr->t = d->t;
            tr->done = 0;
        }
        if (!pc->rc && !pc->end && tr->done >= 0)
            pc->rc = p->copy(p->arg, (void *)(uintptr_t)(r->dst + d->roff),
                             cdata + (size_t)i * l->chunk_size, d->len);
    }
    if (!n) return 0;
    int src = p->sync ? p->sync(p->arg) : 0;
    for (unsigned k = 0; k < n; k++) {
        const struct homid_dq_piece *pc = &p->round[k];
        struct homid_dq_track *tr = &p->track[pc->d.t & (l->slots - 1)];
        int rc = pc->rc ? pc->rc : src;
        atomic_store_explicit(&chk[pc->chunk].state, HOMID_DQ_FREE, memory_order_release);
        p->chunks_copied++;
        if (tr->done < 0) continue; /* already failed and posted */
        if (rc) {
            homi_devq_post_cpl(cpl, l->slots, pc->d.t, rc);
            tr->done = -1;
            posted++;
            continue;
        }
        tr->done += pc->d.len;
        if (pc->end || tr->done == pc->d.total) {
            homi_devq_post_cpl(cpl, l->slots, pc->d.t, pc->d.total);
            tr->done = -1;
            p->bulk_posted++;
            posted++;
        }
    }
    return posted;
}
