/* devq.c - the host side of the device-initiated path (homi_cuda.h): GPU-
 * visible request/completion rings in pinned mapped memory, capabilities
 * for exported files, and the service threads that drain the rings in
 * batches, check every request and execute it on the engine's paths.
 *
 * Small requests (<= inline_max) are read into the slot's staging area
 * (pinned, mapped) by the engine's read pipeline, asynchronously; the GPU
 * thread copies them into its destination when it sees the completion.
 * Completions are written to a pinned shadow; a flusher thread copies the
 * whole completion array to device memory after each batch (one small
 * cudaMemcpyAsync instead of GPU threads polling host memory over PCIe,
 * which would compete with every DMA on the bus).
 * Larger ones are read straight into the device destination through the
 * engine's pinned staging pipeline (cudaMemcpyAsync on non-blocking
 * streams, so they proceed while the requesting kernel runs). */
#include "homi_cuda.h"

#ifndef HOMI_HAVE_CUDA
int homi_devq_create(homi_engine *eng, int device, const homi_devq_config *cfg, homi_devq **out)
{
    (void)eng;
    (void)device;
    (void)cfg;
    if (out) *out = 0;
    return HOMI_ENOTSUP;
}
homi_devq_dev *homi_devq_device(homi_devq *q)
{
    (void)q;
    return 0;
}
int homi_devq_export(homi_devq *q, homi_file *f, homi_dev_file *cap)
{
    (void)q;
    (void)f;
    (void)cap;
    return HOMI_ENOTSUP;
}
int homi_devq_revoke(homi_devq *q, homi_dev_file cap)
{
    (void)q;
    (void)cap;
    return HOMI_ENOTSUP;
}
int homi_devq_pause(homi_devq *q, int pause)
{
    (void)q;
    (void)pause;
    return HOMI_ENOTSUP;
}
int homi_devq_stats_get(homi_devq *q, homi_devq_stats *out)
{
    (void)q;
    (void)out;
    return HOMI_ENOTSUP;
}
void homi_devq_destroy(homi_devq *q)
{
    (void)q;
}
#else

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/engine.h"
#include "core/log.h"
#include "gpu/devq_gpu.h"
#include "gpu/devq_homid.h"
#include "gpu/devq_ring.h"
#include "mem/memkind.h"
#include "mem/staging.h"

#define MAX_THREADS 32

struct slotctx { /* per slot, owned by the slot's current ticket */
    struct homi_devq *q;
    uint64_t t;
};

struct bulk { /* a large request waiting for a bulk thread */
    uint64_t t;
    struct homi_fh *f;
    void *dst;
    uint64_t len;
    int64_t off;
    struct bulk *next;
};

struct capent {
    homi_file *file; /* NULL: free or revoked */
    uint32_t gen;
};

struct homi_devq {
    homi_engine *eng;
    struct homi_devq_remote *rem; /* served by homid (devq_homid.c), or NULL */
    int device;
    homi_devq_config cfg;
    struct homi_devq_gpu g; /* device view, completions, state (devq_gpu.c) */
    char *mapped;           /* req | data */
    size_t mapped_len;
    homi_devq_req *req;
    unsigned char *data;
    homi_devq_cpl *cpl;         /* pinned shadow of the device's completions */
    struct homi_devq_ring ring; /* the request ring's service (devq_ring.c) */
    struct slotctx *ctx;

    /* flusher: copies cpl -> d_cpl whenever completions were posted */
    pthread_t flusher;
    int flusher_started;
    pthread_mutex_t flock;
    pthread_cond_t fcond;
    atomic_int dirty;
    _Atomic uint64_t flushes;

    pthread_mutex_t cap_lock;
    struct capent *caps;
    unsigned ncaps, capcap;

    pthread_t th[MAX_THREADS];
    unsigned nth;
    /* bulk threads: large requests, read straight into device memory */
    pthread_t bth[MAX_THREADS];
    unsigned nbth;
    pthread_mutex_t block;
    pthread_cond_t bcond;
    struct bulk *bhead, *btail;
    _Atomic uint64_t head;
    atomic_int stop, paused;
    atomic_uint inflight;
    _Atomic uint64_t requests, bytes, errors, inline_reqs, direct_reqs, batches, max_batch, torn;
};

/* CUDA errors, logged with this file's prefix (homi_cuda_err). */
#define cuda_rc(e, what) homi_cuda_err((e), "devq: " what)

/* ---------------------------------------------------------------- completion */

static void post(struct homi_devq *q, uint64_t t, int64_t result)
{
    homi_devq_post_cpl(q->cpl, q->cfg.slots, t, result);
    if (atomic_exchange(&q->dirty, 1) == 0) {
        pthread_mutex_lock(&q->flock);
        pthread_cond_signal(&q->fcond);
        pthread_mutex_unlock(&q->flock);
    }
    atomic_fetch_add(&q->requests, 1);
    if (result < 0)
        atomic_fetch_add(&q->errors, 1);
    else
        atomic_fetch_add(&q->bytes, (uint64_t)result);
}

static void inline_done(void *arg, int64_t result, unsigned mask)
{
    struct slotctx *x = arg;
    struct homi_devq *q = x->q;
    (void)mask;
    post(q, x->t, result);
    atomic_fetch_sub(&q->inflight, 1);
}

/* The file a capability names, or NULL. */
static homi_file *cap_file(struct homi_devq *q, homi_dev_file cap)
{
    uint32_t idx = (uint32_t)(cap >> 32), gen = (uint32_t)cap;
    homi_file *f = NULL;
    pthread_mutex_lock(&q->cap_lock);
    if (idx < q->ncaps && q->caps[idx].file && q->caps[idx].gen == gen) f = q->caps[idx].file;
    pthread_mutex_unlock(&q->cap_lock);
    return f;
}

/* Check and execute one request (ticket t). */
static void serve(void *arg, uint64_t t)
{
    struct homi_devq *q = arg;
    homi_devq_req r;
    if (homi_devq_ring_take(&q->ring, t, &r)) {
        homi_log(HOMI_LOG_ERROR, "devq: request %llu never became consistent",
                 (unsigned long long)t);
        post(q, t, HOMI_EIO);
        return;
    }
    const int64_t off = r.offset;
    const uint64_t asked = r.len;
    void *dst = (void *)(uintptr_t)r.dst;
    uint64_t len = 0;
    homi_file *hf = cap_file(q, r.file);
    int rc = hf ? homi_devq_req_args(&r, q->cfg.max_request) : HOMI_EBADF;
    if (!rc && !asked) {
        post(q, t, 0);
        return;
    }
    if (!rc) rc = homi_devq_req_clip(&r, homi_file_size(hf), &len);
    if (rc) {
        post(q, t, rc);
        return;
    }
    struct homi_fh *f = homi_file_lookup(hf);
    if (!f) {
        post(q, t, HOMI_EBADF);
        return;
    }
    if (asked <= q->cfg.inline_max) { /* by the asked length: the GPU decides the same way */
        struct slotctx *x = &q->ctx[t & (q->cfg.slots - 1)];
        x->q = q;
        x->t = t;
        atomic_fetch_add(&q->inflight, 1);
        atomic_fetch_add(&q->inline_reqs, 1);
        rc =
            homi_devq_read_inline(f, q->data + (size_t)(t & (q->cfg.slots - 1)) * q->cfg.inline_max,
                                  len, off, inline_done, x);
        if (rc) {
            atomic_fetch_sub(&q->inflight, 1);
            post(q, t, rc);
        }
        return;
    }
    /* large: straight into the device destination, which must be memory
     * of this queue's GPU */
    struct cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, dst) != cudaSuccess || a.type != cudaMemoryTypeDevice ||
        a.device != q->device) {
        cudaGetLastError();
        post(q, t, HOMI_EINVAL);
        return;
    }
    struct bulk *b = malloc(sizeof *b);
    if (!b) {
        post(q, t, HOMI_ENOMEM);
        return;
    }
    *b = (struct bulk){t, f, dst, len, off, NULL};
    atomic_fetch_add(&q->direct_reqs, 1);
    atomic_fetch_add(&q->inflight, 1);
    pthread_mutex_lock(&q->block);
    if (q->btail)
        q->btail->next = b;
    else
        q->bhead = b;
    q->btail = b;
    pthread_cond_signal(&q->bcond);
    pthread_mutex_unlock(&q->block);
}

/* Bulk threads: large requests through the engine's pinned staging
 * pipeline into device memory, so the service threads never block. */
static void *bulk_main(void *arg)
{
    struct homi_devq *q = arg;
    cudaSetDevice(q->device);
    for (;;) {
        pthread_mutex_lock(&q->block);
        while (!q->bhead && !atomic_load(&q->stop))
            pthread_cond_wait(&q->bcond, &q->block);
        struct bulk *b = q->bhead;
        if (b) {
            q->bhead = b->next;
            if (!q->bhead) q->btail = NULL;
        }
        pthread_mutex_unlock(&q->block);
        if (!b) break; /* stopping and drained */
        post(q, b->t, homi_staging_read(b->f, b->dst, b->len, b->off, q->device, HOMI_PATH_AUTO));
        atomic_fetch_sub(&q->inflight, 1);
        free(b);
    }
    return NULL;
}

/* Service threads: the ring's loop on this queue's GPU (large requests
 * check their destination with the CUDA runtime). */
static void *service_main(void *arg)
{
    struct homi_devq *q = arg;
    cudaSetDevice(q->device);
    return homi_devq_ring_service(&q->ring);
}

static void *flusher(void *arg)
{
    struct homi_devq *q = arg;
    cudaSetDevice(q->device);
    for (;;) {
        pthread_mutex_lock(&q->flock);
        while (!atomic_load(&q->dirty) && !atomic_load(&q->stop))
            pthread_cond_wait(&q->fcond, &q->flock);
        pthread_mutex_unlock(&q->flock);
        if (!atomic_exchange(&q->dirty, 0)) {
            if (atomic_load(&q->stop)) break;
            continue;
        }
        homi_devq_gpu_flush(&q->g, q->cpl, q->cfg.slots);
        atomic_fetch_add(&q->flushes, 1);
    }
    return NULL;
}

/* ---------------------------------------------------------------- API */

static void devq_free(struct homi_devq *q)
{
    homi_devq_gpu_free(&q->g);
    if (q->cpl) cudaFreeHost(q->cpl);
    if (q->mapped) cudaFreeHost(q->mapped);
    pthread_mutex_destroy(&q->flock);
    pthread_cond_destroy(&q->fcond);
    pthread_mutex_destroy(&q->block);
    pthread_cond_destroy(&q->bcond);
    free(q->ctx);
    free(q->caps);
    pthread_mutex_destroy(&q->cap_lock);
    free(q);
}

int homi_devq_create(homi_engine *eng, int device, const homi_devq_config *cfg, homi_devq **out)
{
    if (!eng || !out) return HOMI_EINVAL;
    *out = NULL;
    homi_devq_config c = {1024, 16 << 10, 2, 60000, 64ull << 20};
    if (cfg) {
        if (cfg->slots) c.slots = cfg->slots;
        if (cfg->inline_max) c.inline_max = cfg->inline_max;
        if (cfg->threads) c.threads = cfg->threads;
        if (cfg->timeout_ms) c.timeout_ms = cfg->timeout_ms;
        if (cfg->max_request) c.max_request = cfg->max_request;
    }
    if ((c.slots & (c.slots - 1)) || c.slots < 2 || c.slots > (1u << 20) || c.inline_max % 16 ||
        c.inline_max > (16u << 20) || c.threads > MAX_THREADS / 2 || c.max_request > (1ull << 30))
        return HOMI_EINVAL;
    if (!homi_cuda_available()) return HOMI_ENOTSUP;
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || device < 0 || device >= ndev) {
        cudaGetLastError();
        return HOMI_EINVAL;
    }
    struct homi_devq *q = calloc(1, sizeof *q);
    if (!q) return HOMI_ENOMEM;
    q->eng = eng;
    q->device = device;
    q->cfg = c;
    /* a process that homid serves gets its queue from homid (homi_devq_daemon) */
    const int want = ((struct homi_engine *)eng)->cfg.devq_daemon;
    int rrc = want ? homi_devq_remote_create(eng, device, &c, &q->rem) : HOMI_ENOTSUP;
    if (!rrc) {
        *out = q;
        return HOMI_OK;
    }
    if (want == 2) { /* on: homid's or none */
        homi_log(HOMI_LOG_ERROR, "devq: homi_devq_daemon=on but homid cannot serve it: %s",
                 homi_strerror(rrc));
        free(q);
        return rrc == HOMI_ENOTSUP ? HOMI_ENOTSUP : rrc;
    }
    if (rrc != HOMI_ENOTSUP) { /* refused (a limit) or failed: counted, never silent */
        homi_log(HOMI_LOG_WARN, "devq: homid could not serve the queue (%s): in-process",
                 homi_strerror(rrc));
        homi_stats_fallback(&((struct homi_engine *)eng)->stats, HOMI_FB_DAEMON_LOST);
    }
    pthread_mutex_init(&q->cap_lock, NULL);
    pthread_mutex_init(&q->flock, NULL);
    pthread_cond_init(&q->fcond, NULL);
    pthread_mutex_init(&q->block, NULL);
    pthread_cond_init(&q->bcond, NULL);
    int rc = cuda_rc(cudaSetDevice(device), "cudaSetDevice");
    /* the pinned pool and streams of large requests exist before any
     * kernel runs: allocating them later could wait for that kernel */
    if (!rc) rc = homi_staging_prepare(eng, device);
    size_t reqb = (size_t)c.slots * sizeof(homi_devq_req);
    size_t cplb = (size_t)c.slots * sizeof(homi_devq_cpl);
    size_t datab = (size_t)c.slots * c.inline_max;
    q->mapped_len = reqb + datab;
    if (!rc)
        rc = cuda_rc(cudaHostAlloc((void **)&q->mapped, q->mapped_len,
                                   cudaHostAllocMapped | cudaHostAllocPortable),
                     "cudaHostAlloc(queue)");
    if (!rc)
        rc = cuda_rc(cudaHostAlloc((void **)&q->cpl, cplb, cudaHostAllocPortable),
                     "cudaHostAlloc(completions)");
    q->ctx = calloc(c.slots, sizeof *q->ctx);
    if (!rc && !q->ctx) rc = HOMI_ENOMEM;
    if (rc) {
        devq_free(q);
        return rc;
    }
    memset(q->mapped, 0, reqb);
    memset(q->cpl, 0, cplb);
    q->req = (homi_devq_req *)q->mapped;
    q->ring = (struct homi_devq_ring){.req = q->req,
                                      .slots = c.slots,
                                      .stop = &q->stop,
                                      .paused = &q->paused,
                                      .serve = serve,
                                      .arg = q,
                                      .batches = &q->batches,
                                      .max_batch = &q->max_batch,
                                      .torn = &q->torn};
    q->data = (unsigned char *)(q->mapped + reqb);
    for (unsigned i = 0; i < c.slots; i++)
        q->req[i].seq = 2 * i;
    void *dreq, *ddata;
    rc = cuda_rc(cudaHostGetDevicePointer(&dreq, q->req, 0), "cudaHostGetDevicePointer");
    if (!rc) rc = cuda_rc(cudaHostGetDevicePointer(&ddata, q->data, 0), "cudaHostGetDevicePointer");
    if (!rc) rc = homi_devq_gpu_init(&q->g, &c, dreq, ddata, "devq: device memory");
    if (rc) {
        devq_free(q);
        return rc;
    }
    if (!rc) {
        if (pthread_create(&q->flusher, NULL, flusher, q))
            rc = HOMI_ESYS;
        else
            q->flusher_started = 1;
    }
    for (unsigned i = 0; !rc && i < 2 * c.threads; i++) {
        if (pthread_create(&q->bth[i], NULL, bulk_main, q)) {
            rc = HOMI_ESYS;
            break;
        }
        q->nbth++;
    }
    for (unsigned i = 0; !rc && i < c.threads; i++) {
        if (pthread_create(&q->th[i], NULL, service_main, q)) {
            rc = HOMI_ESYS;
            break;
        }
        q->nth++;
    }
    if (rc) {
        homi_devq_destroy(q);
        return rc;
    }
    homi_log(HOMI_LOG_INFO, "devq: GPU %d, %u slots, %u B inline, %u service threads", device,
             c.slots, c.inline_max, c.threads);
    *out = q;
    return HOMI_OK;
}

homi_devq_dev *homi_devq_device(homi_devq *q)
{
    return q ? q->rem ? homi_devq_remote_device(q->rem) : q->g.d_view : NULL;
}

int homi_devq_export(homi_devq *q, homi_file *f, homi_dev_file *cap)
{
    if (!q || !cap) return HOMI_EINVAL;
    if (q->rem) return homi_devq_remote_export(q->rem, f, cap);
    struct homi_fh *fh = homi_file_lookup(f);
    if (!fh) return HOMI_EBADF;
    if (fh->eng != (struct homi_engine *)q->eng) return HOMI_EINVAL;
    pthread_mutex_lock(&q->cap_lock);
    unsigned i = 0;
    while (i < q->ncaps && q->caps[i].file)
        i++;
    if (i == q->ncaps) {
        if (q->ncaps == q->capcap) {
            unsigned nc = q->capcap ? 2 * q->capcap : 16;
            struct capent *n = realloc(q->caps, nc * sizeof *n);
            if (!n) {
                pthread_mutex_unlock(&q->cap_lock);
                return HOMI_ENOMEM;
            }
            memset(n + q->capcap, 0, (nc - q->capcap) * sizeof *n);
            q->caps = n;
            q->capcap = nc;
        }
        q->ncaps++;
    }
    q->caps[i].file = f;
    q->caps[i].gen++;
    if (!q->caps[i].gen) q->caps[i].gen = 1;
    *cap = ((uint64_t)i << 32) | q->caps[i].gen;
    pthread_mutex_unlock(&q->cap_lock);
    return HOMI_OK;
}

int homi_devq_revoke(homi_devq *q, homi_dev_file cap)
{
    if (!q) return HOMI_EINVAL;
    if (q->rem) return homi_devq_remote_revoke(q->rem, cap);
    uint32_t idx = (uint32_t)(cap >> 32), gen = (uint32_t)cap;
    int rc = HOMI_EBADF;
    pthread_mutex_lock(&q->cap_lock);
    if (idx < q->ncaps && q->caps[idx].file && q->caps[idx].gen == gen) {
        q->caps[idx].file = NULL;
        rc = HOMI_OK;
    }
    pthread_mutex_unlock(&q->cap_lock);
    return rc;
}

int homi_devq_pause(homi_devq *q, int pause)
{
    if (!q) return HOMI_EINVAL;
    if (q->rem) return homi_devq_remote_pause(q->rem, pause); /* homid's threads */
    atomic_store(&q->paused, pause ? 1 : 0);
    return HOMI_OK;
}

int homi_devq_stats_get(homi_devq *q, homi_devq_stats *o)
{
    if (!q || !o) return HOMI_EINVAL;
    if (q->rem) return homi_devq_remote_stats(q->rem, o);
    o->requests = atomic_load(&q->requests);
    o->bytes = atomic_load(&q->bytes);
    o->errors = atomic_load(&q->errors);
    o->inline_reqs = atomic_load(&q->inline_reqs);
    o->direct_reqs = atomic_load(&q->direct_reqs);
    o->batches = atomic_load(&q->batches);
    o->max_batch = atomic_load(&q->max_batch);
    o->torn = atomic_load(&q->torn);
    return HOMI_OK;
}

void homi_devq_destroy(homi_devq *q)
{
    if (!q) return;
    if (q->rem) {
        homi_devq_remote_destroy(q->rem);
        free(q);
        return;
    }
    homi_devq_gpu_stop(&q->g); /* GPU waits end with HOMI_EBUSY */
    atomic_store(&q->stop, 1);
    for (unsigned i = 0; i < q->nth; i++)
        pthread_join(q->th[i], NULL);
    pthread_mutex_lock(&q->block);
    pthread_cond_broadcast(&q->bcond);
    pthread_mutex_unlock(&q->block);
    for (unsigned i = 0; i < q->nbth; i++)
        pthread_join(q->bth[i], NULL);
    while (atomic_load(&q->inflight)) { /* reads into the staging area */
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    if (q->flusher_started) {
        pthread_mutex_lock(&q->flock);
        pthread_cond_signal(&q->fcond);
        pthread_mutex_unlock(&q->flock);
        pthread_join(q->flusher, NULL);
    }
    devq_free(q);
}
#endif
