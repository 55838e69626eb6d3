/* devq_ring.h - the host side of a device queue's request ring, shared by
 * the in-process service (devq.c) and homid's (src/daemon/devq_serve.c):
 * the polling loop of a service thread, taking a request out of the ring
 * the GPU writes (only once all its fields match their check word), the
 * checks every request gets, and posting a completion.  No CUDA. */
#ifndef HOMI_GPU_DEVQ_RING_H
#define HOMI_GPU_DEVQ_RING_H

#include <stdatomic.h>

#include "homi_cuda.h"

struct homi_devq_ring {
    volatile homi_devq_req *req;
    uint32_t slots;
    _Atomic uint64_t head; /* next ticket to take */
    atomic_int *stop;
    atomic_int *paused; /* NULL: never */
    /* check and start request t (its fields are not yet copied out) */
    void (*serve)(void *arg, uint64_t t);
    void *arg;
    _Atomic uint64_t *batches, *max_batch, *torn; /* counters */
};

/* Thread body of a service thread (arg: the ring): takes ready requests in
 * batches and serves them, polling hot for a while, then in 20 us naps. */
void *homi_devq_ring_service(void *ring);

/* Copy request t out of its slot once its fields match their check word;
 * 0, or HOMI_EIO when they never do (a request that is not completely
 * visible is never acted on). */
int homi_devq_ring_take(struct homi_devq_ring *r, uint64_t t, homi_devq_req *out);

/* The checks of a request's arguments that need no file: HOMI_EINVAL (a
 * negative offset, no destination), HOMI_ERANGE (over max_request, offset +
 * length overflows), else 0. */
int homi_devq_req_args(const homi_devq_req *q, uint64_t max_request);
/* Against the file's size (or a negative homi_err from getting it): the
 * bytes to read (clipped at EOF) in *len, HOMI_ERANGE at or past EOF. */
int homi_devq_req_clip(const homi_devq_req *q, int64_t size, uint64_t *len);

/* Start the read of a small request into its slot's inline data (buf),
 * completing through cb(arg, result, path mask) on the engine's thread;
 * 0, or the error when nothing was started. */
struct homi_fh;
int homi_devq_read_inline(struct homi_fh *f, void *buf, uint64_t len, int64_t off,
                          void (*cb)(void *arg, int64_t result, unsigned mask), void *arg);

/* Post the completion of ticket t (bytes or a homi_err) into cpl. */
static inline void homi_devq_post_cpl(homi_devq_cpl *cpl, uint32_t slots, uint64_t t,
                                      int64_t result)
{
    homi_devq_cpl *c = &cpl[t & (slots - 1)];
    const uint32_t seq = (uint32_t)(2 * t + 1);
    const int32_t r32 = (int32_t)result;
    c->result = r32;
    c->check = (uint32_t)r32 ^ seq ^ HOMI_DEVQ_CPL_KEY;
    c->seq2 = seq;
    __atomic_store_n(&c->seq, seq, __ATOMIC_RELEASE);
}

#endif
