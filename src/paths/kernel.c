/* kernel.c - the OS-managed path: io_uring reads (and the writes of
 * core/write.c) through the file system.
 *
 * N worker threads, each with its own ring (registered files, registered
 * bounce buffers for unaligned O_DIRECT pieces).  Chunks are spread over
 * the workers round-robin; a worker keeps up to queue_depth reads in
 * flight and sleeps in io_uring_submit_and_wait() with a read armed on its
 * eventfd, which submitters write to wake it.  Buffered reads of cached
 * pages are copied in the worker's context, so workers also parallelise
 * page-cache copies. */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/errors.h"
#include "core/log.h"
#include "paths/inbox.h"
#include "paths/path.h"

struct kpath;

struct kworker {
    struct kpath *kp;
    unsigned idx;
    pthread_t th;
    int started;
    struct io_uring ring;
    struct homi_inbox in; /* chunks from submitters, eventfd wake-up */
    /* worker-local */
    struct homi_chunk *pend_head, *pend_tail;
    unsigned inflight;
    char *bounce;     /* nslots * slot_size, allocated on first use */
    int bounce_fixed; /* registered with the ring                   */
    int *free_slots;
    unsigned nfree;
};

struct kpath {
    struct homi_engine *eng;
    unsigned n;
    struct kworker *w;
    atomic_uint rr;
    atomic_int stop;
    unsigned qd;
    int fixed; /* files registered with the rings */
    unsigned max_files;
    size_t slot_size;
    unsigned nslots;
};

#define SUBMIT_BATCH 16                 /* SQEs per io_uring_enter, at most */
#define SUBMIT_BATCH_BYTES (256u << 10) /* ... and about this many bytes    */

static void push_front(struct kworker *w, struct homi_chunk *c)
{
    c->next = w->pend_head;
    w->pend_head = c;
    if (!w->pend_tail) w->pend_tail = c;
}

static int bounce_alloc(struct kworker *w)
{
    struct kpath *kp = w->kp;
    size_t total = kp->slot_size * kp->nslots;
    void *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -1;
    /* large pages make fewer, larger DMA segments for O_DIRECT reads */
    madvise(mem, total, MADV_HUGEPAGE);
    w->free_slots = malloc(kp->nslots * sizeof(int));
    struct iovec *iov = malloc(kp->nslots * sizeof *iov);
    if (!w->free_slots || !iov) {
        munmap(mem, total);
        free(w->free_slots);
        w->free_slots = NULL;
        free(iov);
        return -1;
    }
    w->bounce = mem;
    for (unsigned i = 0; i < kp->nslots; i++) {
        w->free_slots[i] = (int)(kp->nslots - 1 - i);
        iov[i].iov_base = w->bounce + (size_t)i * kp->slot_size;
        iov[i].iov_len = kp->slot_size;
    }
    w->nfree = kp->nslots;
    w->bounce_fixed = io_uring_register_buffers(&w->ring, iov, kp->nslots) == 0;
    if (!w->bounce_fixed)
        homi_log(HOMI_LOG_INFO, "kernel path: bounce buffers not registered (using plain reads)");
    free(iov);
    return 0;
}

static void finish(struct kworker *w, struct homi_chunk *c, int64_t res)
{
    if (c->slot >= 0) w->free_slots[w->nfree++] = c->slot;
    c->slot = -1;
    w->inflight--;
    homi_chunk_complete(c, res);
}

static void prep(struct kworker *w, struct homi_chunk *c, struct io_uring_sqe *sqe)
{
    struct kpath *kp = w->kp;
    struct homi_fh *f = c->op->file;
    int fd = c->direct ? f->dfd : f->fd;
    if (c->bounce) {
        char *b = w->bounce + (size_t)c->slot * kp->slot_size + c->wdone;
        unsigned n = c->wlen - c->wdone;
        if (w->bounce_fixed)
            io_uring_prep_read_fixed(sqe, fd, b, n, c->woff + c->wdone, c->slot);
        else
            io_uring_prep_read(sqe, fd, b, n, c->woff + c->wdone);
    } else if (c->op->write) {
        io_uring_prep_write(sqe, fd, c->dst + c->done, c->len - c->done, c->off + c->done);
    } else {
        io_uring_prep_read(sqe, fd, c->dst + c->done, c->len - c->done, c->off + c->done);
    }
    if (kp->fixed) {
        sqe->fd = 2 * f->slot + (c->direct ? 1 : 0);
        sqe->flags |= IOSQE_FIXED_FILE;
    }
    io_uring_sqe_set_data(sqe, c);
}

static void on_cqe(struct kworker *w, struct homi_chunk *c, int res)
{
    struct homi_fh *f = c->op->file;
    unsigned align = c->direct ? f->dio_off_align : 1;
    if (res == -EAGAIN || res == -EINTR) {
        w->inflight--;
        push_front(w, c);
        return;
    }
    if (res == -EINVAL && c->direct) {
        /* the file system refused this O_DIRECT read: buffered instead */
        homi_fh_fallback(f, HOMI_FB_DIRECT_UNSUPPORTED);
        homi_log(HOMI_LOG_INFO, "kernel path: O_DIRECT %s refused on %s, using buffered",
                 c->op->write ? "write" : "read", f->path);
        if (c->slot >= 0) w->free_slots[w->nfree++] = c->slot;
        c->slot = -1;
        c->direct = c->bounce = 0;
        c->wdone = 0;
        w->inflight--;
        push_front(w, c);
        return;
    }
    if (res < 0) {
        finish(w, c, homi_err_from_errno(-res));
        return;
    }
    if (c->bounce) {
        c->wdone += (uint32_t)res;
        int eof = res == 0 || (unsigned)res % align;
        if (!eof && c->wdone < c->wlen) {
            w->inflight--;
            push_front(w, c);
            return;
        }
        uint64_t have_end = c->woff + c->wdone, n = 0;
        if (have_end > c->off) n = have_end - c->off < c->len ? have_end - c->off : c->len;
        memcpy(c->dst, w->bounce + (size_t)c->slot * w->kp->slot_size + (c->off - c->woff), n);
        finish(w, c, (int64_t)n);
        return;
    }
    c->done += (uint32_t)res;
    /* a short write is continued (the file system reports why it stops
     * with the next attempt); a short read ends at EOF */
    int eof = !c->op->write && c->direct && (unsigned)res % align;
    if (res == 0 || c->done >= c->len || eof) {
        finish(w, c, c->done);
        return;
    }
    w->inflight--; /* short transfer: resubmit the rest */
    push_front(w, c);
}

static void cqe_done(void *w, void *data, int res)
{
    on_cqe(w, data, res);
}

static void *worker_main(void *arg)
{
    struct kworker *w = arg;
    struct kpath *kp = w->kp;
    for (;;) {
        struct homi_chunk *in_tail, *in = homi_inbox_take(&w->in, &in_tail);
        if (in) {
            if (w->pend_tail)
                w->pend_tail->next = in;
            else
                w->pend_head = in;
            w->pend_tail = in_tail;
        }

        /* Submit about SUBMIT_BATCH_BYTES per io_uring_enter: buffered
         * reads of cached pages are copied inside the enter call, so a
         * large batch would hold back every completion until the whole
         * batch is copied (and stall pipelines that wait on the first). */
        unsigned batch = 0;
        uint64_t batch_bytes = 0;
        int blocked = 0; /* waiting for a bounce buffer: only completions help */
        while (w->pend_head && w->inflight < kp->qd && batch < SUBMIT_BATCH &&
               batch_bytes < SUBMIT_BATCH_BYTES) {
            struct homi_chunk *c = w->pend_head;
            if (c->bounce && c->slot < 0) {
                if (!w->bounce && bounce_alloc(w)) {
                    /* no memory for bounce buffers: buffered read instead */
                    c->bounce = c->direct = 0;
                } else if (!w->nfree) {
                    blocked = 1;
                    break;
                } else {
                    c->slot = w->free_slots[--w->nfree];
                }
            }
            struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
            if (!sqe) {
                io_uring_submit(&w->ring);
                if (!(sqe = io_uring_get_sqe(&w->ring))) break;
            }
            w->pend_head = c->next;
            if (!w->pend_head) w->pend_tail = NULL;
            c->next = NULL;
            prep(w, c, sqe);
            w->inflight++;
            batch++;
            batch_bytes += c->bounce ? c->wlen - c->wdone : c->len - c->done;
        }
        int more = !blocked && w->pend_head && w->inflight < kp->qd;
        if (atomic_load(&kp->stop) && !w->inflight && !w->pend_head && homi_inbox_empty(&w->in))
            break;
        homi_inbox_ring_turn(&w->in, &w->ring, more ? 0 : 1, 0, "kernel path", cqe_done, w);
    }
    return NULL;
}

static struct homi_inbox *inbox_of(void *state, unsigned k)
{
    return &((struct kpath *)state)->w[k].in;
}

static void k_submit(void *state, struct homi_chunk **chunks, size_t n)
{
    struct kpath *kp = state;
    for (size_t i = 0; i < n; i++)
        chunks[i]->slot = -1;
    /* consecutive submissions continue where the last one stopped, and
     * consecutive chunks go to consecutive workers */
    unsigned start = atomic_fetch_add(&kp->rr, (unsigned)n);
    homi_inbox_spread(chunks, n, kp->n, start, inbox_of, kp);
}

/* ---- synchronous single-chunk reads on the caller's thread.
 * One small ring per thread (any engine; plain descriptors, no fixed
 * files), created on first use and closed when the thread exits. */
struct tls_ring {
    struct io_uring ring;
    int ok;
};
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_key_ok;

static void tls_ring_free(void *p)
{
    struct tls_ring *t = p;
    if (t->ok) io_uring_queue_exit(&t->ring);
    free(t);
}

static void tls_key_make(void)
{
    tls_key_ok = pthread_key_create(&tls_key, tls_ring_free) == 0;
}

static struct io_uring *tls_ring_get(void)
{
    pthread_once(&tls_once, tls_key_make);
    if (!tls_key_ok) return NULL;
    struct tls_ring *t = pthread_getspecific(tls_key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) return NULL;
        t->ok = io_uring_queue_init(4, &t->ring, 0) == 0;
        if (pthread_setspecific(tls_key, t)) {
            tls_ring_free(t);
            return NULL;
        }
    }
    return t->ok ? &t->ring : NULL;
}

static int k_run_inline(void *state, struct homi_chunk *c)
{
    (void)state;
    if (c->bounce) return 0;
    struct io_uring *ring = tls_ring_get();
    if (!ring) return 0;
    struct homi_fh *f = c->op->file;
    unsigned align = c->direct ? f->dio_off_align : 1;
    c->t0 = homi_now_ns();
    for (;;) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        if (!sqe) return c->done ? (homi_chunk_complete(c, HOMI_EIO), 1) : 0;
        if (c->op->write)
            io_uring_prep_write(sqe, c->direct ? f->dfd : f->fd, c->dst + c->done, c->len - c->done,
                                c->off + c->done);
        else
            io_uring_prep_read(sqe, c->direct ? f->dfd : f->fd, c->dst + c->done, c->len - c->done,
                               c->off + c->done);
        struct io_uring_cqe *cqe;
        int rc = io_uring_submit_and_wait(ring, 1);
        if (rc < 0 && rc != -EINTR) {
            if (!c->done) return 0; /* let the workers try */
            homi_chunk_complete(c, homi_err_from_errno(-rc));
            return 1;
        }
        if ((rc = io_uring_wait_cqe(ring, &cqe)) < 0) {
            homi_chunk_complete(c, homi_err_from_errno(-rc));
            return 1;
        }
        int res = cqe->res;
        io_uring_cqe_seen(ring, cqe);
        if (res == -EAGAIN || res == -EINTR) continue;
        if (res == -EINVAL && c->direct && !c->done) {
            homi_fh_fallback(f, HOMI_FB_DIRECT_UNSUPPORTED);
            c->direct = 0;
            align = 1;
            continue;
        }
        if (res < 0) {
            homi_chunk_complete(c, homi_err_from_errno(-res));
            return 1;
        }
        c->done += (uint32_t)res;
        if (res == 0 || c->done >= c->len || (!c->op->write && (unsigned)res % align)) {
            homi_chunk_complete(c, c->done);
            return 1;
        }
    }
}

/* A waiting caller serves a chunk still queued for a worker that has not
 * taken its inbox (asleep, or not scheduled yet): the caller is awake, so a
 * late worker no longer holds back a synchronous request. */
static int k_help(void *state, int (*mine)(const struct homi_chunk *c, void *arg), void *arg)
{
    struct kpath *kp = state;
    unsigned n = kp->n, start = atomic_load(&kp->rr);
    for (unsigned k = 0; k < n; k++) {
        struct kworker *w = &kp->w[(start + k) % n];
        struct homi_chunk *c = homi_inbox_take_first(&w->in, mine, arg);
        if (!c) continue;
        c->slot = -1;
        if (k_run_inline(state, c)) return 1;
        homi_inbox_put_back(&w->in, c); /* declined (bounce, no ring): the worker's */
        return 0;
    }
    return 0;
}

static void k_fini(void *state)
{
    struct kpath *kp = state;
    if (!kp) return;
    atomic_store(&kp->stop, 1);
    for (unsigned i = 0; i < kp->n; i++) {
        struct kworker *w = &kp->w[i];
        if (w->started) {
            homi_inbox_wake(&w->in);
            pthread_join(w->th, NULL);
        }
    }
    for (unsigned i = 0; i < kp->n; i++) {
        struct kworker *w = &kp->w[i];
        if (w->ring.ring_fd > 0) io_uring_queue_exit(&w->ring);
        homi_inbox_fini(&w->in);
        if (w->bounce) munmap(w->bounce, kp->slot_size * kp->nslots);
        free(w->free_slots);
    }
    free(kp->w);
    free(kp);
}

unsigned homi_kernel_threads(const struct homi_config *cfg)
{
    if (cfg->threads) return cfg->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 16) n = 16;
    return (unsigned)n;
}

static int k_init(struct homi_engine *eng, void **state, char *why, size_t whylen)
{
    struct kpath *kp = calloc(1, sizeof *kp);
    if (!kp) return HOMI_ENOMEM;
    kp->eng = eng;
    kp->n = homi_kernel_threads(&eng->cfg);
    kp->qd = eng->cfg.queue_depth;
    kp->max_files = eng->cfg.max_files;
    kp->slot_size = eng->cfg.chunk_size + 8192;
    kp->nslots = eng->cfg.bounce_buffers;
    kp->fixed = eng->cfg.fixed_files;
    kp->w = calloc(kp->n, sizeof *kp->w);
    if (!kp->w) {
        free(kp);
        return HOMI_ENOMEM;
    }
    for (unsigned i = 0; i < kp->n; i++)
        homi_inbox_prepare(&kp->w[i].in);
    int rc = 0;
    for (unsigned i = 0; i < kp->n && !rc; i++) {
        struct kworker *w = &kp->w[i];
        w->kp = kp;
        w->idx = i;
        int r = io_uring_queue_init(kp->qd * 2 + 8, &w->ring, 0);
        if (r < 0) {
            snprintf(why, whylen, "io_uring_queue_init: %s", strerror(-r));
            w->ring.ring_fd = -1;
            rc = homi_err_from_errno(-r);
            break;
        }
        if (kp->fixed && (r = io_uring_register_files_sparse(&w->ring, 2 * kp->max_files)) < 0) {
            homi_log(HOMI_LOG_INFO, "kernel path: fixed files unavailable (%s)", strerror(-r));
            kp->fixed = 0;
        }
        if ((r = homi_inbox_open(&w->in)) < 0) {
            snprintf(why, whylen, "eventfd: %s", strerror(-r));
            rc = HOMI_ESYS;
        }
    }
    if (!kp->fixed) /* some rings may have registered: keep it uniform */
        for (unsigned i = 0; i < kp->n; i++)
            if (kp->w[i].ring.ring_fd > 0) io_uring_unregister_files(&kp->w[i].ring);
    for (unsigned i = 0; i < kp->n && !rc; i++) {
        struct kworker *w = &kp->w[i];
        if (pthread_create(&w->th, NULL, worker_main, w)) {
            snprintf(why, whylen, "pthread_create failed");
            rc = HOMI_ESYS;
        } else {
            w->started = 1;
        }
    }
    if (rc) {
        k_fini(kp);
        return rc;
    }
    homi_log(HOMI_LOG_INFO, "kernel path: %u workers, queue depth %u, chunk %llu, fixed files %s",
             kp->n, kp->qd, (unsigned long long)eng->cfg.chunk_size, kp->fixed ? "on" : "off");
    *state = kp;
    return 0;
}

static int k_file_open(void *state, struct homi_fh *f)
{
    struct kpath *kp = state;
    if (!kp->fixed) return 0;
    int fds[2] = {f->fd, f->dfd};
    for (unsigned i = 0; i < kp->n; i++) {
        int r = io_uring_register_files_update(&kp->w[i].ring, (unsigned)(2 * f->slot), fds, 2);
        if (r < 0) {
            homi_log(HOMI_LOG_ERROR, "kernel path: registering %s: %s", f->path, strerror(-r));
            return homi_err_from_errno(-r);
        }
    }
    return 0;
}

static void k_file_close(void *state, struct homi_fh *f)
{
    struct kpath *kp = state;
    if (!kp->fixed) return;
    int fds[2] = {-1, -1};
    for (unsigned i = 0; i < kp->n; i++)
        io_uring_register_files_update(&kp->w[i].ring, (unsigned)(2 * f->slot), fds, 2);
}

const struct homi_path_ops homi_path_kernel_ops = {
    .id = HOMI_PATH_KERNEL,
    .name = "kernel",
    .init = k_init,
    .fini = k_fini,
    .file_open = k_file_open,
    .file_close = k_file_close,
    .submit = k_submit,
    .help = k_help,
    .run_inline = k_run_inline,
};
