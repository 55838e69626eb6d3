/* devq_ring.c - a device queue's request ring on the host side (see
 * devq_ring.h): service loop, taking and checking requests, completions. */
#include "gpu/devq_ring.h"

#include <sched.h>
#include <time.h>

#include "core/engine.h"

#define BATCH 256

static int ready(struct homi_devq_ring *r, uint64_t t)
{
    return __atomic_load_n(&r->req[t & (r->slots - 1)].seq, __ATOMIC_ACQUIRE) ==
           (uint32_t)(2 * t + 1);
}

void *homi_devq_ring_service(void *arg)
{
    struct homi_devq_ring *r = arg;
    unsigned idle = 0;
    while (!atomic_load(r->stop)) {
        if (r->paused && atomic_load(r->paused)) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        uint64_t h = atomic_load(&r->head);
        unsigned k = 0;
        while (k < BATCH && ready(r, h + k))
            k++;
        if (!k) {
            /* poll hot for a while, then back off to 20 us naps */
            if (++idle < 2000) {
                sched_yield();
            } else {
                struct timespec ts = {0, 20000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (!atomic_compare_exchange_weak(&r->head, &h, h + k)) continue;
        idle = 0;
        atomic_fetch_add(r->batches, 1);
        uint64_t mb = atomic_load(r->max_batch);
        while (k > mb && !atomic_compare_exchange_weak(r->max_batch, &mb, k)) {}
        for (unsigned i = 0; i < k; i++)
            r->serve(r->arg, h + i);
    }
    return NULL;
}

int homi_devq_ring_take(struct homi_devq_ring *r, uint64_t t, homi_devq_req *out)
{
    volatile homi_devq_req *q = &r->req[t & (r->slots - 1)];
    for (unsigned spins = 0;; spins++) {
        out->file = q->file;
        out->offset = q->offset;
        out->len = q->len;
        out->dst = q->dst;
        out->ticket = q->ticket;
        out->check = q->check;
        if (out->ticket == t &&
            out->check == homi_devq_check(out->file, out->offset, out->len, out->dst, t))
            return 0;
        if (spins == 0) atomic_fetch_add(r->torn, 1);
        if (spins > 1000000) return HOMI_EIO; /* not going to settle: refuse it */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    }
}

int homi_devq_req_args(const homi_devq_req *q, uint64_t max_request)
{
    if (q->offset < 0 || !q->dst) return HOMI_EINVAL;
    if (q->len > max_request || (uint64_t)q->offset + q->len < (uint64_t)q->offset)
        return HOMI_ERANGE;
    return 0;
}

int homi_devq_req_clip(const homi_devq_req *q, int64_t size, uint64_t *len)
{
    if (size < 0) return (int)size;
    if (q->offset >= size) return HOMI_ERANGE; /* at or past end of file */
    *len = q->len;
    if ((uint64_t)(size - q->offset) < *len) *len = (uint64_t)(size - q->offset);
    return 0;
}

int homi_devq_read_inline(struct homi_fh *f, void *buf, uint64_t len, int64_t off,
                          void (*cb)(void *arg, int64_t result, unsigned mask), void *arg)
{
    struct homi_rd rd = {0};
    rd.buf = buf;
    rd.len = len;
    rd.off = off;
    rd.mode = HOMI_RD_CB;
    rd.path = HOMI_PATH_AUTO;
    rd.cb = cb;
    rd.cb_arg = arg;
    return homi_read_start(f, &rd, NULL);
}
