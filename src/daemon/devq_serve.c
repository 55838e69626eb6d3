/* devq_serve.c - homid's side of a client's GPU device queue
 * (cplane/homid_devq.h): the region the client created, mapped here; the
 * capabilities it exported (files it passed on its connection); service
 * threads that take the GPU's requests from the ring, check every one and
 * read small ones into the inline data (completion posted here); bulk
 * threads that read large ones piece by piece into the region's chunks for
 * the client's pump.  Every read waits for its client's turn first (the
 * in-flight budget and the weights of share.c, as the client's ring does),
 * so a GPU queue's flood cannot take another client's share.  Nothing in
 * the region is trusted: the layout is
 * homid's own copy, fields are copied out before they are checked, and a
 * request homid cannot serve is completed with an error, never dropped. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"
#include "daemon/homid.h"
#include "gpu/devq_ring.h"

#define BULK_THREADS 2

struct bjob { /* a large request being read into chunks */
    uint64_t t;
    struct homi_fh *fh;
    int64_t off, total;
    uint64_t next; /* offset of the next piece to read */
    unsigned out;  /* pieces being read */
    int failed;
    int shrunk; /* a piece read short: the file shrank, the request ends at end */
    int64_t end;
    struct bjob *next_job;
};

struct ictx { /* an inline read in flight */
    struct homid_dq *q;
    uint64_t t, len;
};

struct homid_dq {
    struct dconn *c;
    unsigned id;
    struct homid_dq_hdr lay; /* homid's own copy */
    uint64_t max_request;
    char *base;
    int efd;
    volatile homi_devq_req *req;
    homi_devq_cpl *cpl;
    unsigned char *data;
    struct homid_dq_chunk *chk;
    char *cdata;
    struct ictx *ictx;

    _Atomic uint64_t caps[HOMID_DQ_CAPS]; /* file id << 32 | gen; 0: free */
    uint32_t capgen[HOMID_DQ_CAPS];
    pthread_mutex_t caplock;

    pthread_t th[HOMID_DQ_THREADS_MAX], bth[BULK_THREADS];
    unsigned nth, nbth;
    struct homi_devq_ring ring; /* the request ring's service (src/gpu/devq_ring.c) */
    atomic_int stop;
    atomic_int paused;    /* HOMID_DQ_PAUSE: the ring is not served */
    atomic_uint inflight; /* inline reads in flight */

    pthread_mutex_t block;
    pthread_cond_t bcond;
    struct bjob *bhead, *btail;
    unsigned char claimed[HOMID_DQ_CHUNKS_MAX];
    unsigned chunk_rr;

    _Atomic uint64_t requests, bytes, errors, refused, inline_reqs, bulk_reqs;
    _Atomic uint64_t kick_ns; /* when homid last owed the client a wake-up */
};

static void kick(struct homid_dq *q)
{
    if (atomic_exchange(&((struct homid_dq_hdr *)q->base)->kick, 1) == 0) {
        atomic_store(&q->kick_ns, homi_now_ns());
        uint64_t one = 1;
        (void)!write(q->efd, &one, sizeof one);
    }
}

/* Count a finished request: homid's own counters (homictl) and the copy in
 * the region's header (homi_devq_stats_get; the client may overwrite it). */
static void account(struct homid_dq *q, int64_t result)
{
    struct homid_dq_hdr *h = (struct homid_dq_hdr *)q->base;
    atomic_fetch_add(&q->requests, 1);
    atomic_fetch_add(&h->requests, 1);
    if (result < 0) {
        atomic_fetch_add(&q->errors, 1);
        atomic_fetch_add(&h->errors, 1);
    } else {
        atomic_fetch_add(&q->bytes, (uint64_t)result);
        atomic_fetch_add(&h->bytes, (uint64_t)result);
    }
}

/* Completion of ticket t by homid (inline requests and errors found
 * before any chunk of a bulk request went out). */
static void post(struct homid_dq *q, uint64_t t, int64_t result)
{
    homi_devq_post_cpl(q->cpl, q->lay.slots, t, result);
    account(q, result);
    kick(q);
}

static void refuse(struct homid_dq *q, uint64_t t, int rc, const char *why)
{
    atomic_fetch_add(&q->refused, 1);
    homid_conn_count_refused(q->c);
    pid_t pid;
    uid_t uid;
    homid_conn_who(q->c, &pid, &uid);
    homi_log(rc == HOMI_ERANGE ? HOMI_LOG_INFO : HOMI_LOG_WARN,
             "client pid %d: GPU queue %u: request %llu refused: %s", (int)pid, q->id,
             (unsigned long long)t, why);
    post(q, t, rc);
}

static void inline_done(void *arg, int64_t result, unsigned mask)
{
    struct ictx *x = arg;
    struct homid_dq *q = x->q;
    (void)mask;
    homid_conn_share_end(q->c, x->len);
    post(q, x->t, result);
    homid_conn_unhold(q->c);
    atomic_fetch_sub(&q->inflight, 1);
}

/* The file id a capability names, or 0. */
static uint32_t cap_file(struct homid_dq *q, uint64_t cap)
{
    uint32_t idx = (uint32_t)(cap >> 32), gen = (uint32_t)cap;
    if (idx >= HOMID_DQ_CAPS || !gen) return 0;
    uint64_t e = atomic_load(&q->caps[idx]);
    return (uint32_t)e == gen ? (uint32_t)(e >> 32) : 0;
}

/* Check and start one request (ticket t). */
static void serve(void *arg, uint64_t t)
{
    struct homid_dq *q = arg;
    homi_devq_req r;
    if (homi_devq_ring_take(&q->ring, t, &r)) {
        refuse(q, t, HOMI_EIO, "request never became consistent");
        return;
    }
    const uint64_t cap = r.file, asked = r.len;
    const int64_t off = r.offset;
    char why[160];
    uint32_t fid = cap_file(q, cap);
    if (!fid) {
        snprintf(why, sizeof why, "capability 0x%llx was not exported to this queue",
                 (unsigned long long)cap);
        refuse(q, t, HOMI_EBADF, why);
        return;
    }
    int rc = homi_devq_req_args(&r, q->max_request);
    if (rc) {
        snprintf(why, sizeof why, "%s",
                 rc == HOMI_EINVAL ? "negative offset or no destination"
                                   : "larger than the queue's largest request");
        refuse(q, t, rc, why);
        return;
    }
    if (!asked) {
        post(q, t, 0);
        return;
    }
    struct homi_fh *fh = homid_conn_hold(q->c, fid);
    if (!fh) {
        snprintf(why, sizeof why, "file %u is closed", fid);
        refuse(q, t, HOMI_EBADF, why);
        return;
    }
    struct stat st = {0};
    uint64_t len = 0;
    rc = homi_devq_req_clip(&r, fstat(fh->fd, &st) ? HOMI_EIO : (int64_t)st.st_size, &len);
    if (rc) {
        homid_conn_unhold(q->c);
        snprintf(why, sizeof why, "offset %lld: at or past the end of file %u (%lld bytes)",
                 (long long)off, fid, (long long)st.st_size);
        refuse(q, t, rc, why);
        return;
    }
    struct homid_dq_hdr *h = (struct homid_dq_hdr *)q->base;
    if (asked <= q->lay.inline_max) { /* by the asked length: the GPU decides the same way */
        struct ictx *x = &q->ictx[t & (q->lay.slots - 1)];
        x->q = q;
        x->t = t;
        x->len = len;
        /* its client's turn (weights), as for the client's ring */
        if (homid_conn_share_begin(q->c, len, &q->stop)) {
            homid_conn_unhold(q->c);
            post(q, t, HOMI_EBUSY); /* the queue is stopping */
            return;
        }
        atomic_fetch_add(&q->inflight, 1);
        atomic_fetch_add(&q->inline_reqs, 1);
        atomic_fetch_add(&h->inline_reqs, 1);
        rc = homi_devq_read_inline(fh,
                                   q->data + (size_t)(t & (q->lay.slots - 1)) * q->lay.inline_max,
                                   len, off, inline_done, x);
        if (rc) {
            homid_conn_share_end(q->c, len);
            atomic_fetch_sub(&q->inflight, 1);
            homid_conn_unhold(q->c);
            post(q, t, rc);
        }
        return;
    }
    struct bjob *b = calloc(1, sizeof *b);
    if (!b) {
        homid_conn_unhold(q->c);
        post(q, t, HOMI_ENOMEM);
        return;
    }
    b->t = t;
    b->fh = fh;
    b->off = off;
    b->total = (int64_t)len;
    atomic_fetch_add(&q->bulk_reqs, 1);
    atomic_fetch_add(&h->bulk_reqs, 1);
    homid_conn_share_pending(q->c, 1); /* it keeps its client busy (share.c) */
    pthread_mutex_lock(&q->block);
    if (q->btail)
        q->btail->next_job = b;
    else
        q->bhead = b;
    q->btail = b;
    pthread_cond_broadcast(&q->bcond);
    pthread_mutex_unlock(&q->block);
}

/* ---------------------------------------------------------------- bulk */

/* Hand a chunk to the client: data (len > 0) or the failure of the request. */
static void chunk_out(struct homid_dq *q, unsigned i, const struct bjob *b, uint64_t roff,
                      uint32_t len, int64_t total)
{
    struct homid_dq_chunk *c = &q->chk[i];
    c->len = len;
    c->t = b->t;
    c->roff = roff;
    c->total = total;
    c->check = homid_dq_chunk_check(len, b->t, roff, total);
    atomic_store_explicit(&c->state, HOMID_DQ_FULL, memory_order_release);
    kick(q);
}

/* A free chunk (claimed for the caller), or -1 when stopping. */
static int chunk_get(struct homid_dq *q)
{
    for (unsigned naps = 0;; naps++) {
        pthread_mutex_lock(&q->block);
        for (unsigned k = 0; k < q->lay.chunks; k++) {
            unsigned i = (q->chunk_rr + k) % q->lay.chunks;
            if (!q->claimed[i] &&
                atomic_load_explicit(&q->chk[i].state, memory_order_acquire) == HOMID_DQ_FREE) {
                q->claimed[i] = 1;
                q->chunk_rr = i + 1;
                pthread_mutex_unlock(&q->block);
                return (int)i;
            }
        }
        pthread_mutex_unlock(&q->block);
        if (atomic_load(&q->stop)) return -1;
        /* the client's pump frees chunks without telling homid */
        struct timespec ts = {0, naps < 100 ? 20000 : 200000};
        nanosleep(&ts, NULL);
    }
}

static void chunk_unclaim(struct homid_dq *q, unsigned i)
{
    pthread_mutex_lock(&q->block);
    q->claimed[i] = 0;
    pthread_mutex_unlock(&q->block);
}

/* The request of b ends at b->end (its file shrank): once the pump has
 * copied every piece of it already sent, a chunk without data tells it so
 * (the pump posts b->end bytes, as an in-process read returns the bytes up
 * to the new end of the file). */
static void end_out(struct homid_dq *q, struct bjob *b)
{
    for (int busy = 1; busy && !atomic_load(&q->stop);) {
        busy = 0;
        for (unsigned k = 0; k < q->lay.chunks; k++)
            if (atomic_load_explicit(&q->chk[k].state, memory_order_acquire) == HOMID_DQ_FULL &&
                q->chk[k].t == b->t)
                busy = 1;
        if (busy) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    int i = chunk_get(q);
    if (i < 0) return; /* stopping: the queue's waits return HOMI_EBUSY */
    chunk_out(q, (unsigned)i, b, 0, 0, b->end);
    chunk_unclaim(q, (unsigned)i);
}

static void *bulk_main(void *arg)
{
    struct homid_dq *q = arg;
    const uint64_t cs = q->lay.chunk_size;
    for (;;) {
        pthread_mutex_lock(&q->block);
        while (!q->bhead && !atomic_load(&q->stop))
            pthread_cond_wait(&q->bcond, &q->block);
        struct bjob *b = q->bhead;
        if (!b) {
            pthread_mutex_unlock(&q->block);
            break;
        }
        /* the next piece of the oldest request; the request leaves the
         * queue when its last piece is taken */
        uint64_t roff = b->next;
        uint32_t len = (uint32_t)((uint64_t)b->total - roff < cs ? (uint64_t)b->total - roff : cs);
        b->next += len;
        b->out++;
        int taken = b->next >= (uint64_t)b->total || b->failed || b->shrunk;
        if (taken) {
            q->bhead = b->next_job;
            if (!q->bhead) q->btail = NULL;
        }
        int failed = b->failed || b->shrunk; /* nothing more to read */
        pthread_mutex_unlock(&q->block);
        int i = failed ? -1 : chunk_get(q);
        int64_t fail = failed ? 0 : HOMI_EBUSY; /* stopping */
        uint32_t got = 0;
        /* its client's turn (weights), as for the client's ring */
        if (i >= 0 && homid_conn_share_begin(q->c, len, &q->stop)) {
            chunk_unclaim(q, (unsigned)i);
            i = -1;
        }
        if (taken) homid_conn_share_pending(q->c, -1); /* its last piece started */
        if (i >= 0) {
            struct homi_rd rd = {0};
            rd.buf = q->cdata + (size_t)i * cs;
            rd.len = len;
            rd.off = b->off + (int64_t)roff;
            rd.mode = HOMI_RD_SYNC;
            rd.path = HOMI_PATH_AUTO;
            int64_t n = 0;
            int rc = homi_read_start(b->fh, &rd, &n);
            fail = rc ? rc : n < 0 ? n : 0;
            got = fail ? 0 : (uint32_t)n;
            homid_conn_share_end(q->c, len);
        }
        pthread_mutex_lock(&q->block);
        int first_fail = fail && !b->failed;
        if (fail) b->failed = 1;
        if (i >= 0 && !fail && got < len) { /* short: the file shrank under the request */
            int64_t e = (int64_t)roff + got;
            if (!b->shrunk || e < b->end) b->end = e;
            b->shrunk = 1;
        }
        pthread_mutex_unlock(&q->block);
        if (i >= 0) {
            if (!fail && got)
                chunk_out(q, (unsigned)i, b, roff, got, b->total);
            else if (first_fail)
                chunk_out(q, (unsigned)i, b, 0, 0, fail); /* the pump posts the failure */
            chunk_unclaim(q, (unsigned)i);
        }
        pthread_mutex_lock(&q->block);
        int last = --b->out == 0 && (b->next >= (uint64_t)b->total || b->failed || b->shrunk);
        int gone = last && q->bhead != b;
        pthread_mutex_unlock(&q->block);
        if (gone) { /* every piece is out (the pump posts the completion) */
            if (b->shrunk && !b->failed) end_out(q, b);
            account(q, b->failed ? HOMI_EIO : b->shrunk ? b->end : b->total);
            homid_conn_unhold(q->c);
            free(b);
        }
    }
    return NULL;
}

void homid_dq_pause(struct homid_dq *q, int pause)
{
    atomic_store(&q->paused, pause ? 1 : 0);
}

/* ---------------------------------------------------------------- life cycle */

static void dq_free(struct homid_dq *q)
{
    if (q->base) munmap(q->base, q->lay.size);
    if (q->efd >= 0) close(q->efd);
    pthread_mutex_destroy(&q->caplock);
    pthread_mutex_destroy(&q->block);
    pthread_cond_destroy(&q->bcond);
    free(q->ictx);
    free(q);
}

struct homid_dq *homid_dq_create(struct dconn *c, unsigned id, const struct homid_devq_create *p,
                                 int memfd, int efd, char *why, size_t whylen)
{
    struct homid_dq *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(why, whylen, "out of memory");
        close(efd);
        return NULL;
    }
    q->c = c;
    q->id = id;
    q->efd = efd;
    q->max_request = p->max_request;
    pthread_mutex_init(&q->caplock, NULL);
    pthread_mutex_init(&q->block, NULL);
    pthread_cond_init(&q->bcond, NULL);
    /* generations start at random: another queue's capability (or a guess)
     * names nothing here but with odds of 2^-32 */
    if (getrandom(q->capgen, sizeof q->capgen, 0) != (ssize_t)sizeof q->capgen)
        for (unsigned i = 0; i < HOMID_DQ_CAPS; i++)
            q->capgen[i] = (uint32_t)(homi_now_ns() * 2654435761u) ^ (i * 40503u);
    struct stat st;
    if (homid_dq_layout(p->slots, p->inline_max, p->chunks, p->chunk_size, &q->lay, why, whylen)) {
        dq_free(q);
        return NULL;
    }
    /* the region must be a memfd that cannot shrink under homid's mapping */
    int seals = fcntl(memfd, F_GET_SEALS);
    if (fstat(memfd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < q->lay.size ||
        seals < 0 || !(seals & F_SEAL_SHRINK)) {
        snprintf(why, whylen,
                 "the region must be a memfd of at least %llu bytes sealed against shrinking",
                 (unsigned long long)q->lay.size);
        dq_free(q);
        return NULL;
    }
    void *m = mmap(NULL, q->lay.size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (m == MAP_FAILED) {
        snprintf(why, whylen, "mmap: %s", strerror(errno));
        dq_free(q);
        return NULL;
    }
    q->base = m;
    q->req = (volatile homi_devq_req *)(q->base + q->lay.req_off);
    q->cpl = (homi_devq_cpl *)(q->base + q->lay.cpl_off);
    q->data = (unsigned char *)(q->base + q->lay.data_off);
    q->chk = (struct homid_dq_chunk *)(q->base + q->lay.chk_off);
    q->cdata = q->base + q->lay.cdata_off;
    q->ictx = calloc(q->lay.slots, sizeof *q->ictx);
    if (!q->ictx) {
        snprintf(why, whylen, "out of memory");
        dq_free(q);
        return NULL;
    }
    /* the header is homid's to write; the counters start at zero */
    struct homid_dq_hdr *h = (struct homid_dq_hdr *)q->base;
    memcpy(h, &q->lay, offsetof(struct homid_dq_hdr, requests));
    unsigned nth = p->threads < 4 ? p->threads : 4;
    for (unsigned i = 0; i < BULK_THREADS; i++) {
        if (pthread_create(&q->bth[i], NULL, bulk_main, q)) break;
        q->nbth++;
    }
    q->ring = (struct homi_devq_ring){.req = q->req,
                                      .slots = q->lay.slots,
                                      .stop = &q->stop,
                                      .paused = &q->paused,
                                      .serve = serve,
                                      .arg = q,
                                      .batches = &h->batches,
                                      .max_batch = &h->max_batch,
                                      .torn = &h->torn};
    for (unsigned i = 0; i < nth && q->nbth == BULK_THREADS; i++) {
        if (pthread_create(&q->th[i], NULL, homi_devq_ring_service, &q->ring)) break;
        q->nth++;
    }
    if (q->nth != nth) {
        snprintf(why, whylen, "cannot start its threads");
        homid_dq_destroy(q);
        return NULL;
    }
    return q;
}

unsigned homid_dq_threads(const struct homid_dq *q)
{
    return q->nth;
}

unsigned homid_dq_id(const struct homid_dq *q)
{
    return q->id;
}

int homid_dq_export(struct homid_dq *q, uint32_t file_id, uint64_t *cap)
{
    pthread_mutex_lock(&q->caplock);
    unsigned i = 0;
    while (i < HOMID_DQ_CAPS && atomic_load(&q->caps[i]))
        i++;
    if (i == HOMID_DQ_CAPS) {
        pthread_mutex_unlock(&q->caplock);
        return HOMI_EBUSY;
    }
    if (!++q->capgen[i]) q->capgen[i] = 1;
    atomic_store(&q->caps[i], ((uint64_t)file_id << 32) | q->capgen[i]);
    *cap = ((uint64_t)i << 32) | q->capgen[i];
    pthread_mutex_unlock(&q->caplock);
    return 0;
}

int homid_dq_revoke(struct homid_dq *q, uint64_t cap)
{
    uint32_t idx = (uint32_t)(cap >> 32), gen = (uint32_t)cap;
    if (idx >= HOMID_DQ_CAPS || !gen) return HOMI_EBADF;
    pthread_mutex_lock(&q->caplock);
    uint64_t e = atomic_load(&q->caps[idx]);
    int rc = e && (uint32_t)e == gen ? 0 : HOMI_EBADF;
    if (!rc) atomic_store(&q->caps[idx], 0);
    pthread_mutex_unlock(&q->caplock);
    return rc;
}

/* Revoke every capability naming file_id (the client closes the file). */
void homid_dq_forget_file(struct homid_dq *q, uint32_t file_id)
{
    pthread_mutex_lock(&q->caplock);
    for (unsigned i = 0; i < HOMID_DQ_CAPS; i++) {
        uint64_t e = atomic_load(&q->caps[i]);
        if (e && (uint32_t)(e >> 32) == file_id) atomic_store(&q->caps[i], 0);
    }
    pthread_mutex_unlock(&q->caplock);
}

void homid_dq_view(const struct homid_dq *q, struct homid_dq_view *v)
{
    v->id = q->id;
    v->slots = q->lay.slots;
    v->inline_max = q->lay.inline_max;
    v->chunks = q->lay.chunks;
    v->chunk_size = q->lay.chunk_size;
    v->threads = q->nth;
    v->requests = atomic_load(&q->requests);
    v->bytes = atomic_load(&q->bytes);
    v->errors = atomic_load(&q->errors);
    v->refused = atomic_load(&q->refused);
    v->inline_reqs = atomic_load(&q->inline_reqs);
    v->bulk_reqs = atomic_load(&q->bulk_reqs);
}

int homid_dq_stalled(struct homid_dq *q, unsigned timeout_s)
{
    /* the client's pump clears the kick flag each time it wakes: a flag left
     * set for the client timeout means nobody consumes what homid posts */
    uint64_t k = atomic_load(&q->kick_ns);
    return timeout_s && k && atomic_load(&((struct homid_dq_hdr *)q->base)->kick) &&
           homi_now_ns() - k > (uint64_t)timeout_s * 1000000000ull;
}

void homid_dq_destroy(struct homid_dq *q)
{
    if (!q) return;
    atomic_store(&q->stop, 1);
    for (unsigned i = 0; i < q->nth; i++)
        pthread_join(q->th[i], NULL);
    /* requests not yet taken by a bulk thread fail (nobody may wait for them) */
    pthread_mutex_lock(&q->block);
    for (struct bjob *b = q->bhead; b; b = b->next_job)
        b->failed = 1;
    pthread_cond_broadcast(&q->bcond);
    pthread_mutex_unlock(&q->block);
    for (unsigned i = 0; i < q->nbth; i++)
        pthread_join(q->bth[i], NULL);
    pthread_mutex_lock(&q->block);
    while (q->bhead) { /* taken by no thread: drop */
        struct bjob *b = q->bhead;
        q->bhead = b->next_job;
        homid_conn_unhold(q->c);
        homid_conn_share_pending(q->c, -1);
        free(b);
    }
    pthread_mutex_unlock(&q->block);
    while (atomic_load(&q->inflight)) { /* inline reads finish into the region */
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    dq_free(q);
}
