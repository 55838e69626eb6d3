/* homi_cuda.h - the device-initiated path: GPU threads issue file reads.
 *
 * The host opens files with homi_open(), creates a device queue with
 * homi_devq_create() and exports the files to it as capabilities
 * (homi_devq_export): a kernel never sees a path or an LBA.  Kernels get
 * the queue's device view (homi_devq_device) and call homi_dev_read() and
 * friends; the host's service threads drain the queue in batches, check
 * each request against the file (capability, offset, length, size),
 * execute it on the engine's paths and post a completion the GPU polls.
 *
 * Host functions are plain C (link libhomi).  Device functions are defined
 * inline below for CUDA translation units (__CUDACC__).  The request and
 * completion formats are documented in docs/device-path.md. */
#ifndef HOMI_CUDA_H
#define HOMI_CUDA_H

#include <stdint.h>

#include "homi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- formats
 * Shared by host and device.  Requests and small-request data live in
 * pinned, mapped host memory (the GPU writes requests with posted PCIe
 * writes, the host reads them locally).  Completions and the queue state
 * live in device memory, so that waiting GPU threads poll local memory,
 * not the PCIe bus: the host writes them into a pinned shadow and copies
 * the whole completion array to the device after each batch.  The ticket
 * and credit counters live in device memory too (GPU atomics only). */

#define HOMI_DEVQ_VERSION 1

/* One request slot (64 bytes).  seq protocol for ticket t (32-bit wrap):
 *   2t     slot free for ticket t (written by the waiter of ticket t-slots)
 *   2t+1   request of ticket t written and ready (written by its submitter
 *          after __threadfence_system())                                   */
typedef struct homi_devq_req {
    uint32_t seq;
    uint32_t flags;  /* 0 (reserved)                                    */
    uint64_t file;   /* homi_dev_file capability                       */
    int64_t offset;  /* file offset                                    */
    uint64_t len;    /* bytes                                          */
    uint64_t dst;    /* destination (device memory of the queue's GPU) */
    uint64_t ticket; /* full ticket                                    */
    uint64_t check;  /* homi_devq_check() of the fields above: the host
                        serves the slot only when it matches           */
    uint64_t pad;
} homi_devq_req;

/* The check word of a request. */
#ifdef __CUDACC__
__host__ __device__
#endif
    static inline uint64_t
    homi_devq_check(uint64_t file, int64_t off, uint64_t len, uint64_t dst, uint64_t ticket)
{
    uint64_t h = ticket * 0x9e3779b97f4a7c15ull;
    h = (h ^ file) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (uint64_t)off) * 0x94d049bb133111ebull;
    h = (h ^ len) * 0x9e3779b97f4a7c15ull;
    h = (h ^ dst) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

/* One completion slot (16 bytes).  The copy engine that moves completions
 * to device memory may write them 4 bytes at a time, so a GPU thread can
 * see a slot half old, half new: every 32-bit word therefore carries or
 * checks the ticket, and a slot counts only when all four agree:
 *   seq = seq2 = 2t+1 (low 32 bits) for ticket t
 *   result     bytes (short only across EOF) or a homi_err
 *   check      result ^ seq ^ HOMI_DEVQ_CPL_KEY
 * Where the data is follows from the request: len <= inline_max: in the
 * slot's staging area (the GPU copies it), else already in dst. */
#define HOMI_DEVQ_CPL_KEY 0x5bd1e995u
typedef struct homi_devq_cpl {
    uint32_t seq;
    int32_t result;
    uint32_t seq2;
    uint32_t check;
} __attribute__((aligned(16))) homi_devq_cpl;

#define HOMI_DEVQ_RUNNING 1u
#define HOMI_DEVQ_STOPPED 2u

/* The device view of a queue (in device memory). */
typedef struct homi_devq_dev {
    unsigned long long tail; /* tickets issued (GPU atomicAdd)        */
    int used;                /* credits taken (GPU atomics)           */
    uint32_t slots;          /* power of two                          */
    uint32_t inline_max;     /* staging bytes per slot                */
    uint32_t pad;
    uint64_t timeout_ns;        /* GPU-side wait limit            */
    homi_devq_req *req;         /* mapped host memory             */
    homi_devq_cpl *cpl;         /* device memory (copied from the host shadow) */
    unsigned char *data;        /* mapped host memory, slots x inline_max */
    const uint32_t *state;      /* device memory                  */
    unsigned long long *orphan; /* device memory, per slot: t+1 when
                                   ticket t was abandoned by its waiter */
} homi_devq_dev;

/* A file capability: what a kernel names a file by. */
typedef uint64_t homi_dev_file;

/* ---------------------------------------------------------------- host API */

typedef struct homi_devq homi_devq;

typedef struct homi_devq_config {
    unsigned slots;       /* requests in flight, power of two (default 1024)         */
    unsigned inline_max;  /* requests up to this size are staged in the queue and
                             copied by the GPU; larger ones are copied into dst by
                             the host (default 16K, multiple of 16)               */
    unsigned threads;     /* host service threads (default 2)                       */
    unsigned timeout_ms;  /* GPU-side waits give up after this (default 60000)     */
    uint64_t max_request; /* largest request accepted (default 64M, at most 1G)     */
} homi_devq_config;

typedef struct homi_devq_stats {
    uint64_t requests;    /* completed                                   */
    uint64_t bytes;       /* delivered                                   */
    uint64_t errors;      /* completed with an error                     */
    uint64_t inline_reqs; /* staged in the queue, copied by the GPU      */
    uint64_t direct_reqs; /* copied by the host into dst                 */
    uint64_t batches;     /* drains that found work                      */
    uint64_t max_batch;   /* largest drain                               */
    uint64_t torn;        /* requests seen before all their fields were  */
} homi_devq_stats;

/* Create a queue for GPU `device` on engine eng (cfg NULL: defaults). */
int homi_devq_create(homi_engine *eng, int device, const homi_devq_config *cfg, homi_devq **out);
/* The pointer kernels take (device memory). */
homi_devq_dev *homi_devq_device(homi_devq *q);
/* Allow kernels using q to read f; *cap names it on the GPU. */
int homi_devq_export(homi_devq *q, homi_file *f, homi_dev_file *cap);
/* Withdraw a capability: later requests naming it fail with HOMI_EBADF. */
int homi_devq_revoke(homi_devq *q, homi_dev_file cap);
/* Stop (1) or restart (0) the service threads; requests wait meanwhile
 * (GPU waits time out after timeout_ms).  For maintenance and tests. */
int homi_devq_pause(homi_devq *q, int pause);
int homi_devq_stats_get(homi_devq *q, homi_devq_stats *out);
/* Stop the queue (GPU waits return HOMI_EBUSY) and free it.  Call after
 * the kernels using it have finished. */
void homi_devq_destroy(homi_devq *q);

#ifdef __cplusplus
}
#endif

/* ---------------------------------------------------------------- device API */
#ifdef __CUDACC__

/* A submitted request. */
typedef struct homi_dev_ticket {
    unsigned long long t;
    void *dst;
    uint64_t len;
} homi_dev_ticket;

__device__ __forceinline__ uint64_t homi__now_ns(void)
{
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

__device__ __forceinline__ uint32_t homi__ld32(const uint32_t *p)
{
    return *(const volatile uint32_t *)p;
}

__device__ __forceinline__ int homi__stopped(const homi_devq_dev *q)
{
    return __ldcv(q->state) != HOMI_DEVQ_RUNNING;
}

/* Back off while polling: 256 ns doubling to 8 us. */
__device__ __forceinline__ void homi__backoff(unsigned *ns)
{
    __nanosleep(*ns);
    if (*ns < 8192) *ns *= 2;
}

/* The completion of ticket t if slot c holds it, consistently. */
__device__ __forceinline__ int homi__cpl_for(const homi_devq_cpl *c, unsigned long long t,
                                             int64_t *result)
{
    const uint32_t want = (uint32_t)(2 * t + 1);
    uint4 v = __ldcv((const uint4 *)c);
    if (v.x != want || v.z != want || (v.y ^ v.x ^ HOMI_DEVQ_CPL_KEY) != v.w) return 0;
    *result = (int64_t)(int32_t)v.y;
    return 1;
}

/* Submit one read.  Returns HOMI_OK (then homi_dev_wait(tk) must follow),
 * HOMI_ETIMEDOUT (no credit within the timeout: nothing was submitted) or
 * HOMI_EBUSY (queue stopped). */
__device__ __forceinline__ int homi_dev_submit(homi_devq_dev *q, homi_dev_file f, void *dst,
                                               uint64_t len, int64_t off, homi_dev_ticket *tk)
{
    uint64_t t0 = homi__now_ns();
    unsigned ns = 256;
    for (;;) {                                  /* credit: at most `slots` requests in flight */
        if (__ldcv(&q->used) < (int)q->slots) { /* look before the atomic */
            int u = atomicAdd(&q->used, 1);
            if (u < (int)q->slots) break;
            atomicSub(&q->used, 1);
        }
        if (homi__stopped(q)) return HOMI_EBUSY;
        if (homi__now_ns() - t0 > q->timeout_ns) return HOMI_ETIMEDOUT;
        homi__backoff(&ns);
    }
    unsigned long long t = atomicAdd(&q->tail, 1ull);
    const unsigned idx = (unsigned)(t & (q->slots - 1));
    homi_devq_req *r = &q->req[idx];
    /* the slot is held by ticket t - slots until its waiter releases it;
     * a holder whose waiter gave up is released here once complete */
    const unsigned long long prev = t - q->slots;
    while (homi__ld32(&r->seq) != (uint32_t)(2 * t)) {
        if (homi__stopped(q)) return HOMI_EBUSY;
        int64_t ignored;
        if (t >= q->slots && __ldcv(&q->orphan[idx]) == prev + 1 &&
            homi__cpl_for(&q->cpl[idx], prev, &ignored)) {
            q->orphan[idx] = 0; /* (its credit went back when it was abandoned) */
            break;
        }
        __nanosleep(128);
    }
    r->flags = 0;
    r->file = f;
    r->offset = off;
    r->len = len;
    r->dst = (uint64_t)(uintptr_t)dst;
    r->ticket = t;
    r->check = homi_devq_check((uint64_t)f, off, len, (uint64_t)(uintptr_t)dst, t);
    __threadfence_system();
    *(volatile uint32_t *)&r->seq = (uint32_t)(2 * t + 1);
    tk->t = t;
    tk->dst = dst;
    tk->len = len;
    return HOMI_OK;
}

/* Wait for the completion of tk; returns HOMI_OK with *result, or
 * HOMI_ETIMEDOUT (tk stays pending: wait again) or HOMI_EBUSY. */
__device__ __forceinline__ int homi__poll(homi_devq_dev *q, const homi_dev_ticket *tk,
                                          int64_t *result, uint32_t *inl)
{
    const homi_devq_cpl *c = &q->cpl[tk->t & (q->slots - 1)];
    uint64_t t0 = homi__now_ns();
    unsigned ns = 256;
    while (!homi__cpl_for(c, tk->t, result)) {
        if (homi__stopped(q)) return HOMI_EBUSY;
        if (homi__now_ns() - t0 > q->timeout_ns) return HOMI_ETIMEDOUT;
        homi__backoff(&ns);
    }
    *inl = tk->len <= q->inline_max;
    __threadfence_system();
    return HOMI_OK;
}

/* Copy the staged bytes of tk to its destination: thread `rank` of
 * `nthreads` cooperating threads does its share. */
__device__ __forceinline__ void homi__copy(homi_devq_dev *q, const homi_dev_ticket *tk, int64_t n,
                                           unsigned rank, unsigned nthreads)
{
    const unsigned char *src = q->data + (size_t)(tk->t & (q->slots - 1)) * q->inline_max;
    unsigned char *dst = (unsigned char *)tk->dst;
    if (((uintptr_t)dst & 15) == 0) {
        int64_t nv = n / 16;
        const uint4 *s4 = (const uint4 *)src;
        uint4 *d4 = (uint4 *)dst;
        for (int64_t i = rank; i < nv; i += nthreads)
            d4[i] = __ldcv(s4 + i);
        for (int64_t i = nv * 16 + rank; i < n; i += nthreads)
            dst[i] = __ldcv(src + i);
    } else {
        for (int64_t i = rank; i < n; i += nthreads)
            dst[i] = __ldcv(src + i);
    }
}

/* Give the slot of tk back (after its data was copied). */
__device__ __forceinline__ void homi__release(homi_devq_dev *q, const homi_dev_ticket *tk)
{
    __threadfence_system();
    homi_devq_req *r = &q->req[tk->t & (q->slots - 1)];
    *(volatile uint32_t *)&r->seq = (uint32_t)(2 * (tk->t + q->slots));
    atomicSub(&q->used, 1);
}

/* Give up on tk after HOMI_ETIMEDOUT: its credit goes back now, its slot
 * is taken over by the next request that maps to it once the host has
 * completed it.  A request larger than inline_max may still write its
 * destination after this: do not reuse that memory before the queue is
 * idle (homi_devq_stats_get().requests has caught up). */
__device__ __forceinline__ void homi_dev_abandon(homi_devq_dev *q, const homi_dev_ticket *tk)
{
    __threadfence();
    atomicExch(&q->orphan[tk->t & (q->slots - 1)], tk->t + 1);
    atomicSub(&q->used, 1);
}

/* Wait for tk: bytes read (short only across EOF) or a negative homi_err
 * (HOMI_EBADF closed/unknown file, HOMI_EINVAL bad argument, HOMI_ERANGE
 * offset at or past EOF / too large, HOMI_EIO, HOMI_ETIMEDOUT: still
 * pending, wait again). */
__device__ __forceinline__ int64_t homi_dev_wait(homi_devq_dev *q, homi_dev_ticket *tk)
{
    int64_t r;
    uint32_t where;
    int rc = homi__poll(q, tk, &r, &where);
    if (rc) return rc;
    if (r > 0 && where) homi__copy(q, tk, r, 0, 1);
    homi__release(q, tk);
    return r;
}

/* Blocking read by the calling thread. */
__device__ __forceinline__ int64_t homi_dev_read(homi_devq_dev *q, homi_dev_file f, void *dst,
                                                 uint64_t len, int64_t off)
{
    homi_dev_ticket tk;
    int rc = homi_dev_submit(q, f, dst, len, off, &tk);
    if (rc) return rc;
    int64_t r = homi_dev_wait(q, &tk);
    if (r == HOMI_ETIMEDOUT) homi_dev_abandon(q, &tk); /* reported, not waited for */
    return r;
}

/* Per-warp read: every active lane passes its own range; lanes whose
 * ranges continue the previous active lane's (same file, adjacent file
 * offsets and destinations) are coalesced into one request.  Each lane
 * gets its own byte count or error. */
__device__ __forceinline__ int64_t homi_dev_read_warp(homi_devq_dev *q, homi_dev_file f, void *dst,
                                                      uint64_t len, int64_t off)
{
    const unsigned mask = __activemask();
    const int lane = threadIdx.x & 31;
    const unsigned below = mask & ((1u << lane) - 1);
    const int prev = below ? 31 - __clz(below) : lane;
    uint64_t pend = __shfl_sync(mask, (unsigned long long)(off + (int64_t)len), prev);
    uint64_t pdst = __shfl_sync(mask, (unsigned long long)((uintptr_t)dst + len), prev);
    uint64_t pf = __shfl_sync(mask, (unsigned long long)f, prev);
    int joins =
        below && pend == (uint64_t)off && pdst == (uint64_t)(uintptr_t)dst && pf == f && len > 0;
    const unsigned heads = __ballot_sync(mask, !joins);
    const unsigned upto = heads & (lane == 31 ? 0xffffffffu : ((2u << lane) - 1));
    const int head = 31 - __clz(upto);
    const unsigned after = heads & ~(head == 31 ? 0xffffffffu : ((2u << head) - 1));
    const int next = after ? __ffs(after) - 1 : 32;
    const unsigned run = mask & (next == 32 ? 0xffffffffu : ((1u << next) - 1)) &
                         ~(head == 0 ? 0u : ((1u << head) - 1));
    const int last = 31 - __clz(run);
    int64_t end = (int64_t)__shfl_sync(mask, (unsigned long long)(off + (int64_t)len), last);
    int64_t hoff = (int64_t)__shfl_sync(mask, (unsigned long long)off, head);
    int64_t r = 0;
    if (lane == head) r = homi_dev_read(q, f, dst, (uint64_t)(end - off), off);
    r = (int64_t)__shfl_sync(mask, (unsigned long long)r, head);
    if (r < 0) return r;
    int64_t mine = r - (off - hoff);
    if (mine < 0) mine = 0;
    return mine < (int64_t)len ? mine : (int64_t)len;
}

/* Per-block read: every thread of the block calls it with the same
 * arguments; one request, the staged bytes copied by all threads.  Returns
 * the same value in every thread. */
__device__ __forceinline__ int64_t homi_dev_read_block(homi_devq_dev *q, homi_dev_file f, void *dst,
                                                       uint64_t len, int64_t off)
{
    __shared__ int64_t s_r;
    __shared__ uint32_t s_where;
    __shared__ homi_dev_ticket s_tk;
    const unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const unsigned nt = blockDim.x * blockDim.y * blockDim.z;
    if (tid == 0) { /* s_where: 0/1 completed (1: staged), 2: nothing to release */
        s_where = 2;
        int rc = homi_dev_submit(q, f, dst, len, off, &s_tk);
        if (rc) {
            s_r = rc; /* nothing submitted */
        } else if ((rc = homi__poll(q, &s_tk, (int64_t *)&s_r, (uint32_t *)&s_where)) != 0) {
            s_r = rc;
            s_where = 2;
            if (rc == HOMI_ETIMEDOUT) homi_dev_abandon(q, &s_tk);
        }
    }
    __syncthreads();
    int64_t r = s_r;
    if (r > 0 && s_where == 1) homi__copy(q, &s_tk, r, tid, nt);
    __syncthreads();
    if (tid == 0 && s_where != 2) homi__release(q, &s_tk);
    __syncthreads();
    return r;
}

#endif /* __CUDACC__ */
#endif
