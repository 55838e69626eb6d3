/* staging.c - the pinned staging pipeline for device destinations.
 *
 * One pool of pinned slots per engine (homi_staging_buffers x
 * homi_staging_size, cudaHostAlloc portable), shared by all threads.  A
 * read of N bytes into GPU memory is cut at slot-size multiples; each
 * piece is read by the host read pipeline (all kernel-path rings in
 * parallel, O_DIRECT straight into the slot when enabled) and copied with
 * cudaMemcpyAsync on one of two streams per device, queued by the thread
 * that completed the piece's read; a slot goes back to the pool when its
 * copy's event has completed.  Reads
 * of later pieces overlap the copies of earlier ones.  A single service
 * thread runs the stream-ordered reads, another the stream-ordered writes
 * (staging_write.c), four the asynchronous requests. */
#include "mem/staging.h"

#include "mem/memkind.h"

#include "core/engine.h"
#include "homi.h"

#ifndef HOMI_HAVE_CUDA
int64_t homi_staging_read(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                          int path)
{
    return HOMI_ENOTSUP;
}
int homi_staging_submit(struct homi_fh *f, void *dst, size_t len, int64_t off, int device, int path,
                        uint64_t user_data)
{
    return HOMI_ENOTSUP;
}
int homi_staging_stream(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                        void *stream, int64_t *result)
{
    return HOMI_ENOTSUP;
}
int homi_staging_submit_cb(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                           int path, void (*cb)(void *arg, int64_t result, unsigned mask),
                           void *arg)
{
    return HOMI_ENOTSUP;
}
int homi_staging_slot_get(struct homi_engine *e, int block, char **mem, size_t *size)
{
    return HOMI_ENOTSUP;
}
void homi_staging_slot_put(struct homi_engine *e, int slot)
{
    (void)e;
    (void)slot;
}
void homi_staging_destroy(struct homi_engine *e)
{
    (void)e;
}
int homi_staging_prepare(struct homi_engine *e, int device)
{
    (void)e;
    (void)device;
    return HOMI_ENOTSUP;
}
#else

#include <cuda_runtime_api.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "paths/cufile.h"

#include "mem/staging_int.h"

static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

struct homi_staging *homi_stg_get(struct homi_engine *e, int *rc)
{
    pthread_mutex_lock(&create_lock);
    struct homi_staging *st = e->staging;
    if (st) {
        pthread_mutex_unlock(&create_lock);
        return st;
    }
    st = calloc(1, sizeof *st);
    *rc = HOMI_ENOMEM;
    if (!st) goto out;
    st->eng = e;
    st->slot_size = e->cfg.staging_size;
    st->nslots = e->cfg.staging_buffers;
    st->free = calloc(st->nslots, sizeof *st->free);
    if (!st->free) goto fail;
    *rc = homi_cuda_err(
        cudaHostAlloc((void **)&st->mem, st->slot_size * st->nslots, cudaHostAllocPortable),
        "cudaHostAlloc(staging)");
    if (*rc) goto fail;
    for (unsigned i = 0; i < st->nslots; i++)
        st->free[i] = st->nslots - 1 - i;
    st->nfree = st->nslots;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    pthread_cond_init(&st->qcond, NULL);
    homi_log(HOMI_LOG_INFO, "staging: %u pinned buffers of %zu bytes", st->nslots, st->slot_size);
    e->staging = st;
    *rc = HOMI_OK;
    goto out;
fail:
    if (st) free(st->free);
    free(st);
    st = NULL;
out:
    pthread_mutex_unlock(&create_lock);
    return st;
}

int homi_stg_dev_ready(struct homi_staging *st, int device)
{
    if (device < 0 || device >= MAX_GPUS) return HOMI_EINVAL;
    int rc = homi_cuda_err(cudaSetDevice(device), "cudaSetDevice");
    if (rc) return rc;
    pthread_mutex_lock(&st->lock);
    struct sdev *d = &st->dev[device];
    if (!d->ready) {
        d->ev = calloc(st->nslots, sizeof *d->ev);
        rc = d->ev ? HOMI_OK : HOMI_ENOMEM;
        for (int i = 0; !rc && i < NSTREAMS; i++)
            rc = homi_cuda_err(cudaStreamCreateWithFlags(&d->s[i], cudaStreamNonBlocking),
                               "cudaStreamCreate");
        for (unsigned i = 0; !rc && i < st->nslots; i++)
            rc = homi_cuda_err(cudaEventCreateWithFlags(&d->ev[i], cudaEventDisableTiming),
                               "cudaEventCreate");
        d->ready = rc == 0;
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int homi_stg_acquire(struct homi_staging *st, int block)
{
    pthread_mutex_lock(&st->lock);
    while (!st->nfree && block)
        pthread_cond_wait(&st->cond, &st->lock);
    int s = st->nfree ? (int)st->free[--st->nfree] : -1;
    pthread_mutex_unlock(&st->lock);
    return s;
}

void homi_stg_release(struct homi_staging *st, unsigned slot)
{
    pthread_mutex_lock(&st->lock);
    st->free[st->nfree++] = slot;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

struct piece {
    int slot;
    uint64_t off, len;
    int64_t res;
    unsigned mask; /* paths that served the piece */
    sem_t ready;
    /* the copy to the GPU, issued by the thread that completes the read */
    char *to;
    const char *from;
    int device;
    cudaStream_t s;
    cudaEvent_t ev;
    int copied; /* 1: copy and event queued on s; else the pipeline copies */
};

/* Runs on the thread that completed the piece's read (a kernel-path worker,
 * or homid's client thread): queues the piece's copy to the GPU at once, so
 * copies follow the reads without waiting for the pipeline's thread to be
 * scheduled. */
static void piece_done(void *arg, int64_t result, unsigned mask)
{
    struct piece *p = arg;
    p->mask = mask;
    p->res = result;
    p->copied = 0;
    if (result > 0 && cudaSetDevice(p->device) == cudaSuccess &&
        cudaMemcpyAsync(p->to, p->from, (size_t)result, cudaMemcpyHostToDevice, p->s) ==
            cudaSuccess &&
        cudaEventRecord(p->ev, p->s) == cudaSuccess)
        p->copied = 1;
    else if (result > 0)
        cudaGetLastError(); /* the pipeline's own copy reports the error */
    sem_post(&p->ready);
}

/* Is chunk c one of the pieces of this pipeline (window win of W)? */
struct mine_arg {
    const struct piece *win;
    unsigned W;
};
static int mine(const struct homi_chunk *c, void *arg)
{
    const struct mine_arg *m = arg;
    const struct piece *p = c->op->cb_arg;
    return c->op->cb == piece_done && p >= m->win && p < m->win + m->W;
}

/* The pipeline.  Runs on the caller's thread (or the service thread). */
static int64_t pipeline(struct homi_staging *st, struct homi_fh *f, char *dst, size_t len,
                        int64_t off, int device, int path, int sync, unsigned *mask)
{
    int rc = homi_stg_dev_ready(st, device);
    if (rc) return rc;
    struct sdev *d = &st->dev[device];
    const uint64_t S = st->slot_size;
    /* A synchronous read of at most one slot is cut into pieces of len/4
     * (at least 512 KiB; homi_sync_split): the first copies start while the
     * rest is read, and the pieces' chunks keep every worker busy.  Whole
     * slots otherwise (the asynchronous service keeps several requests in
     * flight instead; smaller pieces there halved its rate). */
    uint64_t P = S;
    if (sync && f->eng->cfg.sync_split && len <= S) {
        P = ((uint64_t)len / 4 + 4095) / 4096 * 4096;
        if (P < (512u << 10)) P = 512u << 10;
        if (P > S) P = S;
    }
    const uint64_t npieces = (len + P - 1) / P;
    const unsigned W = st->nslots;
    struct piece *win = calloc(W, sizeof *win);
    unsigned *copying = calloc(W, sizeof *copying); /* slots whose copy is pending, FIFO */
    if (!win || !copying) {
        free(win);
        free(copying);
        return HOMI_ENOMEM;
    }
    unsigned cq_head = 0, cq_n = 0;
    /* split each piece over all kernel-path rings: reads of one staging
     * buffer then run on every worker at once */
    uint64_t chunk = P / homi_kernel_threads(&f->eng->cfg) / 4096 * 4096;
    if (chunk < (64u << 10)) chunk = 64u << 10;
    if (chunk > f->eng->cfg.chunk_size) chunk = f->eng->cfg.chunk_size;
    uint64_t head = 0, tail = 0, total = 0;
    int64_t err = 0;
    int stop = 0; /* short read or error: issue nothing more */
    /* phases, logged at debug level */
    const uint64_t t0 = homi_now_ns();
    uint64_t t_issued = 0, t_first = 0, t_last = 0;

    while (head < tail || (!stop && tail < npieces)) {
        /* give back slots whose copies finished */
        while (cq_n && cudaEventQuery(d->ev[copying[cq_head]]) == cudaSuccess) {
            homi_stg_release(st, copying[cq_head]);
            cq_head = (cq_head + 1) % W;
            cq_n--;
        }
        /* issue reads */
        while (!stop && tail < npieces && tail - head < W) {
            int slot = homi_stg_acquire(st, 0);
            if (slot < 0 && head == tail && cq_n) { /* wait for our oldest copy */
                cudaEventSynchronize(d->ev[copying[cq_head]]);
                homi_stg_release(st, copying[cq_head]);
                cq_head = (cq_head + 1) % W;
                cq_n--;
                continue;
            }
            if (slot < 0 && head == tail) slot = homi_stg_acquire(st, 1); /* we hold nothing */
            if (slot < 0) break;
            struct piece *p = &win[tail % W];
            p->slot = slot;
            p->off = (uint64_t)off + tail * P;
            p->len = len - tail * P < P ? len - tail * P : P;
            p->res = 0;
            p->to = dst + (p->off - (uint64_t)off);
            p->from = st->mem + (size_t)slot * S;
            p->device = device;
            p->s = d->s[(tail + 1) % NSTREAMS];
            p->ev = d->ev[slot];
            sem_init(&p->ready, 0, 0);
            struct homi_rd rd = {.buf = st->mem + (size_t)slot * S,
                                 .len = p->len,
                                 .chunk = chunk,
                                 .off = (int64_t)p->off,
                                 .mode = HOMI_RD_CB,
                                 .path = path,
                                 .cb = piece_done,
                                 .cb_arg = p};
            int r = homi_read_start(f, &rd, NULL);
            if (r) piece_done(p, r, 0);
            tail++;
        }
        if (!t_issued) t_issued = homi_now_ns();
        if (head == tail) continue;
        /* complete the oldest piece: its copy to the GPU is queued (by the
         * thread that read it, or here) */
        struct piece *p = &win[head % W];
        /* meanwhile (homi_sync_help) read this pipeline's chunks that no
         * worker has taken yet: each piece is spread over all of them */
        struct mine_arg m = {win, W};
        homi_sync_wait(f->eng, HOMI_PATH_KERNEL, &p->ready, mine, &m);
        sem_destroy(&p->ready);
        head++;
        t_last = homi_now_ns();
        if (!t_first) t_first = t_last;
        *mask |= p->mask;
        if (p->res < 0 || stop) {
            if (p->res < 0 && !err) err = p->res;
            stop = 1;
            if (p->copied) { /* a later piece after a short one: let its copy end */
                copying[(cq_head + cq_n) % W] = (unsigned)p->slot;
                cq_n++;
            } else {
                homi_stg_release(st, (unsigned)p->slot);
            }
            continue;
        }
        uint64_t n = (uint64_t)p->res;
        if (n) {
            int r = HOMI_OK;
            if (!p->copied) {
                r = homi_cuda_err(cudaMemcpyAsync(p->to, p->from, n, cudaMemcpyHostToDevice, p->s),
                                  "cudaMemcpyAsync(staging -> device)");
                if (!r) r = homi_cuda_err(cudaEventRecord(p->ev, p->s), "cudaEventRecord");
            }
            if (r) {
                if (!err) err = r;
                stop = 1;
                homi_stg_release(st, (unsigned)p->slot);
                continue;
            }
            copying[(cq_head + cq_n) % W] = (unsigned)p->slot;
            cq_n++;
            atomic_fetch_add(&f->stats.staged_bytes, n);
            atomic_fetch_add(&st->eng->stats.staged_bytes, n);
        } else {
            homi_stg_release(st, (unsigned)p->slot);
        }
        total += n;
        if (n < p->len) stop = 1; /* end of file */
    }
    while (cq_n) {
        int r = homi_cuda_err(cudaEventSynchronize(d->ev[copying[cq_head]]), "copy to device");
        if (r && !err) err = r;
        homi_stg_release(st, copying[cq_head]);
        cq_head = (cq_head + 1) % W;
        cq_n--;
    }
    free(win);
    free(copying);
    HOMI_DEBUG("staging read of %zu bytes at %lld: reads issued after %.0f us, first piece read "
               "after %.0f us, last after %.0f us, on the GPU after %.0f us",
               len, (long long)off, t_issued ? (double)(t_issued - t0) / 1e3 : 0.0,
               t_first ? (double)(t_first - t0) / 1e3 : 0.0,
               t_last ? (double)(t_last - t0) / 1e3 : 0.0, (double)(homi_now_ns() - t0) / 1e3);
    return err ? err : (int64_t)total;
}

static int64_t staged(struct homi_fh *f, void *dst, size_t len, int64_t off, int device, int path,
                      int sync, unsigned *mask)
{
    struct homi_engine *e = f->eng;
    *mask = 0;
    int use_cufile = homi_cufile_choose(f, path);
    if (use_cufile > 0) {
        *mask = 1u << HOMI_PATH_CUFILE;
        return homi_cufile_read(f, dst, len, off, device);
    }
    if (path == HOMI_PATH_CUFILE) path = HOMI_PATH_AUTO; /* fallback counted by choose */
    int rc = 0;
    struct homi_staging *st = homi_stg_get(e, &rc);
    if (!st) return rc;
    return pipeline(st, f, dst, len, off, device, path, sync, mask);
}

int homi_staging_prepare(struct homi_engine *e, int device)
{
    int rc = 0;
    struct homi_staging *st = homi_stg_get(e, &rc);
    if (!st) return rc;
    return homi_stg_dev_ready(st, device);
}

int64_t homi_staging_read(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                          int path)
{
    atomic_fetch_add(&f->inflight, 1);
    unsigned mask;
    int64_t r = staged(f, dst, len, off, device, path, 1, &mask);
    atomic_fetch_sub(&f->inflight, 1);
    return r;
}

/* ---- service thread: asynchronous and stream-ordered requests */

int homi_cq_push(struct homi_engine *e, const homi_completion *c);

struct svc {
    struct homi_staging *st;
    int queue; /* 0: async jobs, 1: stream-ordered reads, 2: stream-ordered writes */
};

static void *service(void *arg)
{
    struct svc *sv = arg;
    struct homi_staging *st = sv->st;
    struct jobq *q = &st->q[sv->queue];
    free(sv);
    pthread_mutex_lock(&st->lock);
    for (;;) {
        while (!q->h && !st->stop)
            pthread_cond_wait(&st->qcond, &st->lock);
        struct job *j = q->h;
        if (!j) break;
        q->h = j->next;
        if (!q->h) q->t = NULL;
        pthread_mutex_unlock(&st->lock);
        unsigned mask = 1u << HOMI_PATH_KERNEL;
        int64_t r = j->write ? homi_stg_write_job(st, j)
                             : staged(j->f, j->dst, j->len, j->off, j->device, j->path, 0, &mask);
        atomic_fetch_sub(&j->f->inflight, 1);
        if (j->stream_mode) {
            *j->result = r;
            sem_post(&j->done); /* the stream's host function frees the job */
        } else if (j->cb) {
            void (*cb)(void *, int64_t, unsigned) = j->cb;
            void *cb_arg = j->cb_arg;
            free(j);
            cb(cb_arg, r, mask);
        } else {
            homi_completion c = {j->user_data, r, mask, 0};
            homi_cq_push(st->eng, &c);
            free(j);
        }
        pthread_mutex_lock(&st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* Start the service threads on first use (caller holds st->lock). */
int homi_stg_start_service(struct homi_staging *st)
{
    for (; st->nth < NASYNC + 2; st->nth++) {
        struct svc *sv = malloc(sizeof *sv);
        if (!sv) return HOMI_ENOMEM;
        *sv = (struct svc){st, st->nth < NASYNC ? 0 : st->nth - NASYNC + 1};
        if (pthread_create(&st->th[st->nth], NULL, service, sv)) {
            free(sv);
            return HOMI_ESYS;
        }
    }
    return HOMI_OK;
}

static int enqueue(struct homi_fh *f, struct job *j)
{
    int rc = 0;
    struct homi_staging *st = homi_stg_get(f->eng, &rc);
    if (!st) return rc;
    pthread_mutex_lock(&st->lock);
    if (st->nth < NASYNC + 2 && (rc = homi_stg_start_service(st)) && st->nth == 0) {
        pthread_mutex_unlock(&st->lock);
        return rc;
    }
    /* stream-ordered jobs go to their single thread when it exists */
    struct jobq *q = &st->q[j->stream_mode && st->nth > NASYNC ? 1 : 0];
    atomic_fetch_add(&f->inflight, 1);
    j->next = NULL;
    if (q->t)
        q->t->next = j;
    else
        q->h = j;
    q->t = j;
    pthread_cond_broadcast(&st->qcond);
    pthread_mutex_unlock(&st->lock);
    return HOMI_OK;
}

static struct job *job_new(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                           int path)
{
    struct job *j = calloc(1, sizeof *j);
    if (j)
        *j = (struct job){
            .f = f, .dst = dst, .len = len, .off = off, .device = device, .path = path};
    return j;
}

int homi_staging_submit(struct homi_fh *f, void *dst, size_t len, int64_t off, int device, int path,
                        uint64_t user_data)
{
    struct job *j = job_new(f, dst, len, off, device, path);
    if (!j) return HOMI_ENOMEM;
    j->user_data = user_data;
    atomic_fetch_add(&f->eng->inflight, 1);
    int rc = enqueue(f, j);
    if (rc) {
        atomic_fetch_sub(&f->eng->inflight, 1);
        free(j);
    }
    return rc;
}

int homi_staging_submit_cb(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                           int path, void (*cb)(void *arg, int64_t result, unsigned mask),
                           void *arg)
{
    if (!cb) return HOMI_EINVAL;
    struct job *j = job_new(f, dst, len, off, device, path);
    if (!j) return HOMI_ENOMEM;
    j->cb = cb;
    j->cb_arg = arg;
    int rc = enqueue(f, j);
    if (rc) free(j);
    return rc;
}

int homi_staging_slot_get(struct homi_engine *e, int block, char **mem, size_t *size)
{
    int rc = 0;
    struct homi_staging *st = homi_stg_get(e, &rc);
    if (!st) return rc ? rc : HOMI_ENOMEM;
    int slot = homi_stg_acquire(st, block);
    if (slot < 0) return HOMI_EBUSY;
    *mem = st->mem + (size_t)slot * st->slot_size;
    *size = st->slot_size;
    return slot;
}

void homi_staging_slot_put(struct homi_engine *e, int slot)
{
    if (e->staging && slot >= 0) homi_stg_release(e->staging, (unsigned)slot);
}

static void CUDART_CB stream_wait(void *arg)
{
    struct job *j = arg;
    while (sem_wait(&j->done) != 0) {}
    sem_destroy(&j->done);
    free(j);
}

int homi_staging_stream(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                        void *stream, int64_t *result)
{
    struct job *j = job_new(f, dst, len, off, device, HOMI_PATH_AUTO);
    if (!j) return HOMI_ENOMEM;
    j->result = result;
    j->stream_mode = 1;
    sem_init(&j->done, 0, 0);
    /* the stream waits (host function) until the service thread has put
     * the bytes on the GPU; work queued after this call then sees them */
    int rc = homi_cuda_err(cudaLaunchHostFunc((cudaStream_t)stream, stream_wait, j),
                           "cudaLaunchHostFunc");
    if (rc) {
        sem_destroy(&j->done);
        free(j);
        return rc;
    }
    rc = enqueue(f, j);
    if (rc) { /* release the stream with the error */
        *result = rc;
        sem_post(&j->done);
    }
    return HOMI_OK;
}

void homi_staging_destroy(struct homi_engine *e)
{
    struct homi_staging *st = e->staging;
    if (!st) return;
    pthread_mutex_lock(&st->lock);
    st->stop = 1;
    pthread_cond_broadcast(&st->qcond);
    pthread_mutex_unlock(&st->lock);
    for (int i = 0; i < st->nth; i++)
        pthread_join(st->th[i], NULL);
    for (int g = 0; g < MAX_GPUS; g++) {
        struct sdev *d = &st->dev[g];
        if (!d->ready) continue;
        cudaSetDevice(g);
        for (int i = 0; i < NSTREAMS; i++)
            cudaStreamDestroy(d->s[i]);
        for (unsigned i = 0; i < st->nslots; i++)
            cudaEventDestroy(d->ev[i]);
        free(d->ev);
    }
    cudaFreeHost(st->mem);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    pthread_cond_destroy(&st->qcond);
    free(st->free);
    free(st);
    e->staging = NULL;
}
#endif
