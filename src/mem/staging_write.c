/* staging_write.c - writes whose source is CUDA device memory: the pinned
 * staging pipeline in the device -> file direction.
 *
 * A write of N bytes is cut at staging-slot-size multiples of the file
 * offset; piece k is copied GPU -> pinned slot with cudaMemcpyAsync (two
 * streams per device) and, once its copy event has completed, written by
 * the kernel path (core/write.c: io_uring, all rings, O_DIRECT for the
 * page-aligned middle when homi_direct is on).  Copies of later pieces
 * overlap the writes of earlier ones; a slot goes back to the pool when its
 * write has completed.  Inside a slot a piece starts at its file offset
 * modulo the page size, so page-aligned file offsets are page-aligned
 * memory and O_DIRECT needs no further bounce.  Also the asynchronous
 * (homi_submit with HOMI_IO_WRITE) and stream-ordered forms, which run on
 * the staging service threads (staging.c). */
#include "mem/staging.h"

#include "core/engine.h"
#include "core/wrorder.h"
#include "homi.h"

#ifndef HOMI_HAVE_CUDA
int64_t homi_staging_write(struct homi_fh *f, const void *src, size_t len, int64_t off, int device)
{
    return HOMI_ENOTSUP;
}
int homi_staging_write_submit(struct homi_fh *f, const void *src, size_t len, int64_t off,
                              int device, struct homi_wrange *wr, uint64_t user_data)
{
    return HOMI_ENOTSUP;
}
int homi_staging_write_stream(struct homi_fh *f, const void *src, size_t len, int64_t off,
                              int device, struct homi_wrange *wr, void *stream, int64_t *result)
{
    return HOMI_ENOTSUP;
}
#else

#include <stdlib.h>

#include "core/log.h"
#include "mem/memkind.h"
#include "mem/staging_int.h"

#define PAGE 4096u

struct wpiece {
    int slot;
    uint64_t off, len; /* file range */
    uint64_t mo;       /* where the piece starts in its slot */
    int64_t res;
    sem_t ready; /* posted when the write completed (or was not started) */
};

static void wpiece_done(void *arg, int64_t result, unsigned mask)
{
    struct wpiece *p = arg;
    (void)mask;
    p->res = result;
    sem_post(&p->ready);
}

static int64_t wpipeline(struct homi_staging *st, struct homi_fh *f, const char *src, size_t len,
                         int64_t off, int device)
{
    int rc = homi_stg_dev_ready(st, device);
    if (rc) return rc;
    struct sdev *d = &st->dev[device];
    const uint64_t S = st->slot_size, o = (uint64_t)off, end = o + len;
    const uint64_t np = len ? (end - 1) / S - o / S + 1 : 0;
    const unsigned W = st->nslots;
    struct wpiece *win = calloc(W, sizeof *win);
    if (!win) return HOMI_ENOMEM;
    uint64_t chunk = S / homi_kernel_threads(&f->eng->cfg) / PAGE * PAGE;
    if (chunk < (256u << 10)) chunk = 256u << 10;
    if (chunk > f->eng->cfg.chunk_size) chunk = f->eng->cfg.chunk_size;
    if (chunk > S) chunk = S;
    uint64_t head = 0, widx = 0, tail = 0; /* written | copied, writing | copying | todo */
    uint64_t bad = np;                     /* first piece not (fully) written */
    uint64_t total = 0;
    int64_t err = 0;

    while (head < tail || (tail < np && tail < bad)) {
        /* issue copies GPU -> slot */
        while (tail < np && tail < bad && tail - head < W) {
            int slot = homi_stg_acquire(st, 0);
            if (slot < 0 && (head < widx || widx < tail)) break; /* ours come back */
            if (slot < 0) slot = homi_stg_acquire(st, 1);        /* we hold nothing */
            struct wpiece *p = &win[tail % W];
            p->slot = slot;
            p->off = tail ? (o / S + tail) * S : o;
            uint64_t pend = (p->off / S + 1) * S;
            p->len = (pend < end ? pend : end) - p->off;
            p->mo = S % PAGE ? 0 : p->off % PAGE;
            p->res = 0;
            sem_init(&p->ready, 0, 0);
            cudaStream_t s = d->s[tail % NSTREAMS];
            int r = homi_cuda_err(cudaMemcpyAsync(st->mem + (size_t)slot * S + p->mo,
                                                  src + (p->off - o), p->len,
                                                  cudaMemcpyDeviceToHost, s),
                                  "cudaMemcpyAsync(device -> staging)");
            if (!r) r = homi_cuda_err(cudaEventRecord(d->ev[slot], s), "cudaEventRecord");
            if (r) {
                sem_destroy(&p->ready);
                homi_stg_release(st, (unsigned)slot);
                if (!err) err = r;
                bad = tail;
                break;
            }
            atomic_fetch_add(&f->stats.staged_write_bytes, p->len);
            atomic_fetch_add(&st->eng->stats.staged_write_bytes, p->len);
            tail++;
        }
        if (widx < tail) { /* the oldest copy: wait for it, write the slot */
            struct wpiece *p = &win[widx % W];
            int r = homi_cuda_err(cudaEventSynchronize(d->ev[p->slot]), "copy from device");
            if (r || widx >= bad) {
                wpiece_done(p, r ? r : 0, 0);
            } else {
                struct homi_rd rd = {.buf = st->mem + (size_t)p->slot * S + p->mo,
                                     .len = p->len,
                                     .off = (int64_t)p->off,
                                     .chunk = chunk,
                                     .mode = HOMI_RD_CB,
                                     .cb = wpiece_done,
                                     .cb_arg = p};
                r = homi_write_start(f, &rd, NULL, NULL);
                if (r) wpiece_done(p, r, 0);
            }
            widx++;
            continue;
        }
        if (head < widx) { /* the oldest write: wait, account in order */
            struct wpiece *p = &win[head % W];
            while (sem_wait(&p->ready) != 0) {}
            sem_destroy(&p->ready);
            homi_stg_release(st, (unsigned)p->slot);
            if (head < bad) {
                if (p->res < 0) {
                    if (!err) err = p->res;
                    bad = head;
                } else {
                    total += (uint64_t)p->res;
                    if ((uint64_t)p->res < p->len) bad = head + 1;
                }
            }
            head++;
        }
    }
    free(win);
    return total || !err ? (int64_t)total : err;
}

int64_t homi_staging_write(struct homi_fh *f, const void *src, size_t len, int64_t off, int device)
{
    int rc = 0;
    struct homi_staging *st = homi_stg_get(f->eng, &rc);
    if (!st) return rc;
    atomic_fetch_add(&f->inflight, 1);
    int64_t r = wpipeline(st, f, src, len, off, device);
    atomic_fetch_sub(&f->inflight, 1);
    return r;
}

int64_t homi_stg_write_job(struct homi_staging *st, struct job *j)
{
    int64_t r;
    if (j->device >= 0) {
        r = wpipeline(st, j->f, j->dst, j->len, j->off, j->device);
    } else { /* host source (stream-ordered) */
        struct homi_rd rd = {.buf = j->dst, .len = j->len, .off = j->off, .mode = HOMI_RD_SYNC};
        int rc = homi_write_start(j->f, &rd, NULL, &r);
        if (rc) r = rc;
    }
    homi_wr_end(j->f, j->wr);
    return r;
}

static struct job *wjob(struct homi_fh *f, const void *src, size_t len, int64_t off, int device,
                        struct homi_wrange *wr, struct homi_staging **st, int *rc)
{
    *st = homi_stg_get(f->eng, rc);
    if (!*st) return NULL;
    pthread_mutex_lock(&(*st)->lock);
    if ((*st)->nth < NASYNC + 2) *rc = homi_stg_start_service(*st);
    int ok = (*st)->nth == NASYNC + 2;
    pthread_mutex_unlock(&(*st)->lock);
    if (!ok) {
        if (!*rc) *rc = HOMI_ESYS;
        return NULL;
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        *rc = HOMI_ENOMEM;
        return NULL;
    }
    *j = (struct job){.f = f,
                      .dst = (void *)(uintptr_t)src,
                      .len = len,
                      .off = off,
                      .device = device,
                      .path = HOMI_PATH_KERNEL,
                      .write = 1,
                      .wr = wr,
                      .st = *st};
    return j;
}

static void push(struct homi_staging *st, struct job *j, int qi)
{
    pthread_mutex_lock(&st->lock);
    struct jobq *q = &st->q[qi];
    j->next = NULL;
    if (q->t)
        q->t->next = j;
    else
        q->h = j;
    q->t = j;
    pthread_cond_broadcast(&st->qcond);
    pthread_mutex_unlock(&st->lock);
}

int homi_staging_write_submit(struct homi_fh *f, const void *src, size_t len, int64_t off,
                              int device, struct homi_wrange *wr, uint64_t user_data)
{
    int rc = 0;
    struct homi_staging *st;
    struct job *j = wjob(f, src, len, off, device, wr, &st, &rc);
    if (!j) return rc;
    j->user_data = user_data;
    atomic_fetch_add(&f->eng->inflight, 1);
    atomic_fetch_add(&f->inflight, 1);
    push(st, j, 0);
    return HOMI_OK;
}

/* Host function on the user's stream: the stream has reached the write.
 * Queue it, and hold the stream until it is in the file. */
static void CUDART_CB stream_go(void *arg)
{
    struct job *j = arg;
    push(j->st, j, 2);
    while (sem_wait(&j->done) != 0) {}
    sem_destroy(&j->done);
    free(j);
}

int homi_staging_write_stream(struct homi_fh *f, const void *src, size_t len, int64_t off,
                              int device, struct homi_wrange *wr, void *stream, int64_t *result)
{
    int rc = 0;
    struct homi_staging *st;
    struct job *j = wjob(f, src, len, off, device, wr, &st, &rc);
    if (!j) return rc;
    j->result = result;
    j->stream_mode = 1;
    sem_init(&j->done, 0, 0);
    atomic_fetch_add(&f->inflight, 1); /* from now: homi_close waits for it */
    rc =
        homi_cuda_err(cudaLaunchHostFunc((cudaStream_t)stream, stream_go, j), "cudaLaunchHostFunc");
    if (rc) {
        atomic_fetch_sub(&f->inflight, 1);
        sem_destroy(&j->done);
        free(j);
    }
    return rc;
}
#endif
