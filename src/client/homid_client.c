/* homid_client.c - libhomi's connection to the node daemon homid: connect
 * and handshake (the daemon hands back the shared region and two eventfds),
 * open/close/stats control messages, and the daemon route: chunks become
 * requests in the shared request ring, one data slot each; a completion
 * thread copies finished slots to the caller's memory.  Losing homid (EOF,
 * error, timeout) moves every unfinished and later read to the in-process
 * kernel path, counted as daemon-lost; homi_daemon_retry seconds later a
 * read connects again (a restarted homid) and files register anew. */
#include "client/homid_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"
#include "cplane/homid_proto.h"

struct cjob { /* one chunk on its way through homid */
    struct homi_chunk *c;
    uint32_t next;     /* chunk offset of the next piece to submit */
    unsigned out;      /* pieces in flight                          */
    uint64_t short_at; /* chunk-relative end of data when short     */
    int redo;          /* fallback reason to re-serve in-process, or -1 */
    unsigned mask;
    struct cjob *pnext;        /* pending list */
    struct cjob *prev, *anext; /* active list  */
};

struct cslot {
    struct cjob *job;
    uint32_t off, len, gen;
    int busy;
};

struct homi_client {
    struct homi_engine *eng;
    int sock, sq_efd, cq_efd, wake_efd;
    void *shm;
    size_t shm_size;
    struct homid_shm_hdr *hdr;
    struct homid_sqe *sq;
    struct homid_cqe *cq;
    char *data;
    uint32_t slots, slot_size;
    char node[HOMID_NODE];
    char sockpath[108];

    pthread_mutex_t lock; /* slots, jobs, ring tails, lost */
    struct cslot *slot;
    uint32_t *freel;
    unsigned nfree;
    uint32_t sq_tail, cq_head;
    struct cjob *pend_head, *pend_tail, *active;
    unsigned out;
    uint64_t progress_ns;
    atomic_int lost;

    pthread_mutex_t ctl; /* one control message at a time */
    pthread_mutex_t reg; /* files registering again after a reconnect */
    uint32_t seq;

    pthread_t th;
    int th_ok;
    atomic_int stop;
    int timeout_ms;

    /* reconnecting after a loss */
    uint32_t gen;      /* connection generation (files record theirs) */
    uint64_t lost_ns;  /* when the connection was lost */
    uint64_t tried_ns; /* last attempt to connect again */
    uint64_t retry_ns; /* homi_daemon_retry, 0: never */
};

int homi_client_socket_path(char *buf, size_t len)
{
    char t[4096];
    const char *s = getenv("HOMI_SOCKET"), *d = getenv("HOMI_RUNTIME_DIR");
    if (s && *s)
        snprintf(t, sizeof t, "%s", s);
    else if (d && *d)
        snprintf(t, sizeof t, "%s/homid.sock", d);
    else
        return 0;
    return homi_expand_node(t, buf, len) == 0; /* "%h": this node's name */
}

static void kick(int efd)
{
    uint64_t one = 1;
    ssize_t r = write(efd, &one, sizeof one);
    (void)r;
}

static void mark_lost(struct homi_client *cl, const char *why)
{
    int was = atomic_exchange(&cl->lost, 1);
    if (!was) {
        cl->lost_ns = homi_now_ns();
        homi_log(HOMI_LOG_WARN, "homid at %s lost (%s): reads continue in-process", cl->sockpath,
                 why);
    }
    kick(cl->wake_efd);
}

/* ---------------------------------------------------------------- control messages */

/* Send a request and wait for its reply (HOMID_ERROR becomes its code). */
static int ctl_call_fds(struct homi_client *cl, uint16_t type, const void *p, uint32_t len,
                        const int *sfds, unsigned nsfds, struct homid_msg *reply)
{
    if (atomic_load(&cl->lost)) return HOMI_EIO;
    pthread_mutex_lock(&cl->ctl);
    uint32_t seq = ++cl->seq;
    int rc = homid_send(cl->sock, type, seq, p, len, sfds, nsfds);
    if (rc) {
        pthread_mutex_unlock(&cl->ctl);
        mark_lost(cl, "send failed");
        return HOMI_EIO;
    }
    char buf[HOMID_RECV_CAP];
    int fds[HOMID_MAX_FDS];
    unsigned nfds;
    long n = homid_recv(cl->sock, buf, sizeof buf, fds, &nfds, cl->timeout_ms);
    pthread_mutex_unlock(&cl->ctl);
    for (unsigned i = 0; i < nfds; i++)
        close(fds[i]);
    char why[128];
    if (n <= 0) {
        mark_lost(cl, n == 0 ? "connection closed" : homi_strerror((int)n));
        return HOMI_EIO;
    }
    if (homid_parse(buf, (size_t)n, 0, reply, why, sizeof why) || reply->h.seq != seq) {
        mark_lost(cl, "bad reply");
        return HOMI_EIO;
    }
    if (reply->h.type == HOMID_ERROR) {
        homi_log(HOMI_LOG_INFO, "homid refused: %s", reply->u.error.text);
        return reply->u.error.code;
    }
    return HOMI_OK;
}

static int ctl_call(struct homi_client *cl, uint16_t type, const void *p, uint32_t len, int fd,
                    struct homid_msg *reply)
{
    return ctl_call_fds(cl, type, p, len, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, reply);
}

int homi_client_devq_create(struct homi_client *cl, const struct homid_devq_create *p, int memfd,
                            int efd, uint32_t *queue, unsigned *threads)
{
    if (!cl) return HOMI_ENOTSUP;
    int fds[2] = {memfd, efd};
    struct homid_msg r;
    int rc = ctl_call_fds(cl, HOMID_DEVQ_CREATE, p, sizeof *p, fds, 2, &r);
    if (rc) return rc;
    if (r.h.type != HOMID_DEVQ_OK) return HOMI_EIO;
    *queue = r.u.dq_ok.queue;
    if (threads) *threads = r.u.dq_ok.threads;
    return HOMI_OK;
}

int homi_client_devq_op(struct homi_client *cl, uint32_t op, uint32_t queue, uint32_t file_id,
                        uint64_t cap, uint64_t *cap_out)
{
    if (!cl) return HOMI_ENOTSUP;
    struct homid_devq_op o = {op, queue, file_id, 0, cap};
    struct homid_msg r;
    int rc = ctl_call(cl, HOMID_DEVQ, &o, sizeof o, -1, &r);
    if (rc) return rc;
    if (r.h.type != HOMID_DEVQ_OK) return HOMI_EIO;
    if (cap_out) *cap_out = r.u.dq_ok.cap;
    return HOMI_OK;
}

int homi_client_lost(struct homi_client *cl)
{
    return !cl || atomic_load(&cl->lost);
}

uint32_t homi_client_file_id(struct homi_client *cl, const struct homi_fh *f)
{
    return cl && f->dmn_id && f->dmn_gen == cl->gen && !atomic_load(&cl->lost) ? f->dmn_id : 0;
}

void homi_client_file_open(struct homi_client *cl, struct homi_fh *f)
{
    struct homid_open o = {0, 0};
    struct homid_msg r;
    f->dmn_gen = cl->gen;
    f->dmn_id = 0;
    int rc = ctl_call(cl, HOMID_OPEN, &o, sizeof o, f->fd, &r);
    if (!rc && r.h.type == HOMID_OPEN_OK && r.u.open_ok.file_id) {
        f->dmn_id = r.u.open_ok.file_id;
        HOMI_DEBUG("%s: served by homid as file %u", f->path, f->dmn_id);
        return;
    }
    homi_fh_fallback(f, HOMI_FB_DAEMON_LOST);
    homi_log(HOMI_LOG_INFO, "%s: homid does not serve it (%s): read in-process", f->path,
             homi_strerror(rc ? rc : HOMI_EIO));
}

void homi_client_file_close(struct homi_client *cl, struct homi_fh *f)
{
    if (!f->dmn_id || f->dmn_gen != cl->gen) return; /* an id of an earlier connection */
    struct homid_close c = {f->dmn_id, 0};
    struct homid_msg r;
    (void)ctl_call(cl, HOMID_CLOSE, &c, sizeof c, -1, &r);
    f->dmn_id = 0;
}

int homi_client_daemon_stats(struct homi_client *cl, struct homi_stats *mine,
                             struct homi_stats *node)
{
    if (!cl) return HOMI_ENOTSUP;
    struct homid_msg r;
    int rc = ctl_call(cl, HOMID_STATS, NULL, 0, -1, &r);
    if (rc) return rc;
    if (r.h.type != HOMID_STATS_OK) return HOMI_EIO;
    if (mine) homid_stats_from_wire(&r.u.stats_ok.client, mine);
    if (node) homid_stats_from_wire(&r.u.stats_ok.node, node);
    return HOMI_OK;
}

/* ---------------------------------------------------------------- data route */

static void serve_local(struct homi_client *cl, struct homi_chunk *c, int reason)
{
    struct homi_engine *e = cl->eng;
    homi_fh_fallback(c->op->file, reason);
    c->path = HOMI_PATH_KERNEL;
    c->direct = c->bounce = 0;
    c->done = c->wdone = 0;
    c->slot = -1;
    c->acct_other = 0;
    c->other_mask = 0;
    e->paths[HOMI_PATH_KERNEL].ops->submit(e->paths[HOMI_PATH_KERNEL].state, &c, 1);
}

static int reattach(struct homi_client *cl);
static int connect_daemon(struct homi_client *cl, struct homi_engine *e, char *why, size_t whylen);
static void *completion_thread(void *arg);

int homi_client_serves(struct homi_client *cl, struct homi_fh *f)
{
    if (!cl) return 0;
    if (atomic_load(&cl->lost) && !reattach(cl)) {
        if (f->dmn_id) homi_fh_fallback(f, HOMI_FB_DAEMON_LOST);
        return 0;
    }
    if (f->dmn_gen != cl->gen) { /* registered with an earlier connection, or while lost */
        pthread_mutex_lock(&cl->reg);
        if (f->dmn_gen != cl->gen) homi_client_file_open(cl, f);
        pthread_mutex_unlock(&cl->reg);
    }
    return f->dmn_id != 0 && !atomic_load(&cl->lost);
}

/* Hand pending pieces to free slots (caller holds cl->lock); 1 if any. */
static int dispatch(struct homi_client *cl)
{
    int any = 0;
    const uint32_t mask = cl->slots - 1;
    while (cl->pend_head && cl->nfree) {
        struct cjob *j = cl->pend_head;
        struct homi_chunk *c = j->c;
        uint32_t n = c->len - j->next;
        if (n > cl->slot_size) n = cl->slot_size;
        uint32_t s = cl->freel[--cl->nfree];
        struct cslot *sl = &cl->slot[s];
        sl->job = j;
        sl->off = j->next;
        sl->len = n;
        sl->gen++;
        sl->busy = 1;
        struct homid_sqe q = {
            ((uint64_t)sl->gen << 32) | s, c->off + j->next, c->op->file->dmn_id, s, n, c->want};
        cl->sq[cl->sq_tail & mask] = q;
        cl->sq_tail++;
        if (!cl->out) cl->progress_ns = homi_now_ns();
        cl->out++;
        j->out++;
        j->next += n;
        if (j->next == c->len) {
            cl->pend_head = j->pnext;
            if (!cl->pend_head) cl->pend_tail = NULL;
        }
        any = 1;
    }
    if (any) atomic_store_explicit(&cl->hdr->sq_tail, cl->sq_tail, memory_order_release);
    return any;
}

void homi_client_submit(struct homi_client *cl, struct homi_chunk **chunks, size_t n)
{
    size_t i = 0;
    pthread_mutex_lock(&cl->lock);
    if (!atomic_load(&cl->lost)) {
        uint64_t t0 = homi_now_ns();
        for (; i < n; i++) {
            struct cjob *j = calloc(1, sizeof *j);
            if (!j) break;
            j->c = chunks[i];
            j->c->t0 = t0;
            j->short_at = UINT64_MAX;
            j->redo = -1;
            j->anext = cl->active;
            if (cl->active) cl->active->prev = j;
            cl->active = j;
            if (cl->pend_tail)
                cl->pend_tail->pnext = j;
            else
                cl->pend_head = j;
            cl->pend_tail = j;
        }
    }
    int any = dispatch(cl);
    pthread_mutex_unlock(&cl->lock);
    if (any) kick(cl->sq_efd);
    /* lost (or out of memory): the in-process kernel path */
    for (; i < n; i++)
        serve_local(cl, chunks[i], HOMI_FB_DAEMON_LOST);
}

static void job_unlink(struct homi_client *cl, struct cjob *j)
{
    if (j->prev)
        j->prev->anext = j->anext;
    else
        cl->active = j->anext;
    if (j->anext) j->anext->prev = j->prev;
}

static void job_finish(struct homi_client *cl, struct cjob *j)
{
    struct homi_chunk *c = j->c;
    if (j->redo >= 0) {
        serve_local(cl, c, j->redo);
        free(j);
        return;
    }
    uint64_t res = j->short_at < c->len ? j->short_at : c->len;
    unsigned m = j->mask;
    c->path = (m & (1u << HOMI_PATH_DELEGATED))  ? HOMI_PATH_DELEGATED
              : (m & (1u << HOMI_PATH_PASSTHRU)) ? HOMI_PATH_PASSTHRU
              : (m & (1u << HOMI_PATH_KERNEL))   ? HOMI_PATH_KERNEL
              : (m & (1u << HOMI_PATH_HOLE))     ? HOMI_PATH_HOLE
                                                 : HOMI_PATH_KERNEL;
    c->other_mask = m;
    c->acct_other = 0;
    struct homi_fh *f = c->op->file;
    atomic_fetch_add(&f->stats.daemon_bytes, res);
    atomic_fetch_add(&f->eng->stats.daemon_bytes, res);
    free(j);
    homi_chunk_complete(c, (int64_t)res);
}

#define REAP_MAX 64

/* Collect completions, copy their bytes, finish jobs, refill the ring. */
static void reap(struct homi_client *cl)
{
    for (;;) {
        struct homid_cqe got[REAP_MAX];
        unsigned ng = 0;
        pthread_mutex_lock(&cl->lock);
        if (atomic_load(&cl->lost)) {
            pthread_mutex_unlock(&cl->lock);
            return;
        }
        uint32_t tail = atomic_load_explicit(&cl->hdr->cq_tail, memory_order_acquire);
        if (homid_ring_used(cl->cq_head, tail, cl->slots) < 0) {
            pthread_mutex_unlock(&cl->lock);
            mark_lost(cl, "completion ring corrupted");
            return;
        }
        while (cl->cq_head != tail && ng < REAP_MAX)
            got[ng++] = cl->cq[cl->cq_head++ & (cl->slots - 1)];
        atomic_store_explicit(&cl->hdr->cq_head, cl->cq_head, memory_order_release);
        pthread_mutex_unlock(&cl->lock);
        if (!ng) return;
        int bad = 0;
        for (unsigned i = 0; i < ng; i++) {
            struct homid_cqe *q = &got[i];
            struct cslot *sl = &cl->slot[q->slot < cl->slots ? q->slot : 0];
            if (homid_cqe_check(q, cl->slots, cl->slot_size) || !sl->busy ||
                (uint32_t)q->tag != q->slot || (uint32_t)(q->tag >> 32) != sl->gen ||
                q->result > (int64_t)sl->len) {
                bad = 1;
                q->slot = UINT32_MAX;
                continue;
            }
            if (q->result > 0)
                memcpy(sl->job->c->dst + sl->off, cl->data + (size_t)q->slot * cl->slot_size,
                       (size_t)q->result);
        }
        struct cjob *done[REAP_MAX];
        unsigned nd = 0;
        pthread_mutex_lock(&cl->lock);
        for (unsigned i = 0; i < ng; i++) {
            struct homid_cqe *q = &got[i];
            if (q->slot == UINT32_MAX) continue;
            struct cslot *sl = &cl->slot[q->slot];
            struct cjob *j = sl->job;
            sl->busy = 0;
            sl->job = NULL;
            cl->freel[cl->nfree++] = q->slot;
            cl->out--;
            j->out--;
            if (q->result < 0) {
                if (j->redo < 0)
                    j->redo = q->result == HOMI_ERANGE ? HOMI_FB_MAP_STALE : HOMI_FB_DAEMON_LOST;
            } else {
                j->mask |= q->path_mask;
                if ((uint64_t)q->result < sl->len && sl->off + (uint64_t)q->result < j->short_at)
                    j->short_at = sl->off + (uint64_t)q->result;
            }
            if (!j->out && j->next == j->c->len) {
                job_unlink(cl, j);
                done[nd++] = j;
            }
        }
        cl->progress_ns = homi_now_ns();
        int any = dispatch(cl);
        pthread_mutex_unlock(&cl->lock);
        if (any) kick(cl->sq_efd);
        for (unsigned i = 0; i < nd; i++)
            job_finish(cl, done[i]);
        if (bad) {
            mark_lost(cl, "bad completion");
            return;
        }
    }
}

/* homid is gone: every unfinished chunk goes to the in-process kernel path. */
static void sweep(struct homi_client *cl)
{
    pthread_mutex_lock(&cl->lock);
    struct cjob *list = cl->active;
    cl->active = NULL;
    cl->pend_head = cl->pend_tail = NULL;
    cl->out = 0;
    pthread_mutex_unlock(&cl->lock);
    unsigned n = 0;
    while (list) {
        struct cjob *j = list;
        list = j->anext;
        serve_local(cl, j->c, HOMI_FB_DAEMON_LOST);
        free(j);
        n++;
    }
    if (n) homi_log(HOMI_LOG_INFO, "homid lost: %u unfinished chunks re-read in-process", n);
}

static void *completion_thread(void *arg)
{
    struct homi_client *cl = arg;
    int swept = 0;
    while (!atomic_load(&cl->stop)) {
        uint64_t v;
        if (swept) { /* nothing left to do but wait for detach */
            struct pollfd w = {cl->wake_efd, POLLIN, 0};
            if (poll(&w, 1, -1) < 0 && errno != EINTR) break;
            (void)!read(cl->wake_efd, &v, sizeof v);
            continue;
        }
        struct pollfd p[3] = {
            {cl->cq_efd, POLLIN, 0}, {cl->sock, POLLRDHUP, 0}, {cl->wake_efd, POLLIN, 0}};
        int r = poll(p, 3, 1000);
        if (r < 0 && errno != EINTR) {
            mark_lost(cl, strerror(errno));
        } else if (r > 0) {
            if (p[0].revents & POLLIN) (void)!read(cl->cq_efd, &v, sizeof v);
            if (p[2].revents & POLLIN) (void)!read(cl->wake_efd, &v, sizeof v);
            if (p[1].revents & (POLLHUP | POLLERR | POLLRDHUP)) mark_lost(cl, "connection closed");
        }
        reap(cl);
        pthread_mutex_lock(&cl->lock);
        if (cl->out && homi_now_ns() - cl->progress_ns > (uint64_t)cl->timeout_ms * 1000000ull) {
            pthread_mutex_unlock(&cl->lock);
            mark_lost(cl, "no progress within homi_daemon_timeout");
        } else {
            pthread_mutex_unlock(&cl->lock);
        }
        if (atomic_load(&cl->lost)) {
            sweep(cl);
            swept = 1;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- reconnect */

/* What one connection holds (region, socket, eventfds, slot tables);
 * the client's own thread, locks and wake-up eventfd stay. */
static void conn_release(struct homi_client *cl)
{
    if (cl->shm && cl->shm != MAP_FAILED) munmap(cl->shm, cl->shm_size);
    if (cl->sock >= 0) close(cl->sock);
    if (cl->sq_efd >= 0) close(cl->sq_efd);
    if (cl->cq_efd >= 0) close(cl->cq_efd);
    free(cl->slot);
    free(cl->freel);
    cl->shm = NULL;
    cl->sock = cl->sq_efd = cl->cq_efd = -1;
    cl->slot = NULL;
    cl->freel = NULL;
}

/* homid was lost: every homi_daemon_retry seconds one read tries to connect
 * again (a restarted homid, or the same one after a stall).  Only when
 * nothing of the old connection is left (its completion thread re-served
 * every unfinished chunk in-process): that thread is stopped, the new
 * connection is made aside (handshake within 1 s, so a read never waits
 * long) and swapped in, and a new thread starts.  1 when connected again. */
static int reattach(struct homi_client *cl)
{
    uint64_t now = homi_now_ns();
    if (!cl->retry_ns || now - cl->lost_ns < cl->retry_ns || now - cl->tried_ns < cl->retry_ns)
        return 0;
    if (pthread_mutex_trylock(&cl->ctl)) return 0; /* another thread is at it */
    int ok = 0;
    if (!atomic_load(&cl->lost) || now - cl->tried_ns < cl->retry_ns) {
        ok = !atomic_load(&cl->lost);
        goto out;
    }
    cl->tried_ns = now;
    pthread_mutex_lock(&cl->lock);
    int idle = !cl->active && !cl->pend_head && !cl->out;
    pthread_mutex_unlock(&cl->lock);
    if (!idle) goto out;
    struct homi_client *n = calloc(1, sizeof *n);
    if (!n) goto out;
    n->sock = n->sq_efd = n->cq_efd = n->wake_efd = -1;
    n->timeout_ms = 1000;
    memcpy(n->sockpath, cl->sockpath, sizeof n->sockpath);
    char why[200] = "";
    int rc = connect_daemon(n, cl->eng, why, sizeof why);
    if (rc) {
        homi_log(HOMI_LOG_INFO, "homid at %s: not back yet (%s)", cl->sockpath,
                 why[0] ? why : homi_strerror(rc));
        conn_release(n);
        free(n);
        goto out;
    }
    /* the old connection's thread has nothing left: stop it, swap */
    atomic_store(&cl->stop, 1);
    kick(cl->wake_efd);
    if (cl->th_ok) pthread_join(cl->th, NULL);
    cl->th_ok = 0;
    pthread_mutex_lock(&cl->lock);
    conn_release(cl);
    cl->sock = n->sock;
    cl->sq_efd = n->sq_efd;
    cl->cq_efd = n->cq_efd;
    cl->shm = n->shm;
    cl->shm_size = n->shm_size;
    cl->hdr = n->hdr;
    cl->sq = n->sq;
    cl->cq = n->cq;
    cl->data = n->data;
    cl->slots = n->slots;
    cl->slot_size = n->slot_size;
    memcpy(cl->node, n->node, sizeof cl->node);
    cl->slot = n->slot;
    cl->freel = n->freel;
    cl->nfree = n->nfree;
    cl->sq_tail = n->sq_tail;
    cl->cq_head = n->cq_head;
    cl->seq = 0;
    cl->gen++;
    atomic_store(&cl->stop, 0);
    atomic_store(&cl->lost, 0);
    pthread_mutex_unlock(&cl->lock);
    free(n);
    if (pthread_create(&cl->th, NULL, completion_thread, cl) == 0) {
        cl->th_ok = 1;
        ok = 1;
        homi_log(HOMI_LOG_WARN, "homid at %s: connected again (node %s) after %.1f s in-process",
                 cl->sockpath, cl->node, (double)(now - cl->lost_ns) / 1e9);
    } else {
        mark_lost(cl, "no completion thread");
    }
out:
    pthread_mutex_unlock(&cl->ctl);
    return ok;
}

/* ---------------------------------------------------------------- attach / detach */

static void client_free(struct homi_client *cl)
{
    conn_release(cl);
    if (cl->wake_efd >= 0) close(cl->wake_efd);
    pthread_mutex_destroy(&cl->lock);
    pthread_mutex_destroy(&cl->ctl);
    pthread_mutex_destroy(&cl->reg);
    free(cl);
}

/* homi_delegated_qpairs: queue pairs of homid's delegated controller for
 * this process alone, asked right after the handshake (before any file).
 * Refused: logged and counted as queue-busy; the reads then share the
 * queue pairs nobody holds.  0, or HOMI_EIO when homid is gone. */
static int ask_qpairs(struct homi_client *cl, struct homi_engine *e)
{
    unsigned want = e->cfg.deleg_qpairs;
    if (!want) return 0;
    struct homid_qpairs q = {want, 0};
    int rc = homid_send(cl->sock, HOMID_QPAIRS, 2, &q, sizeof q, NULL, 0);
    char buf[HOMID_RECV_CAP], why[160];
    int fds[HOMID_MAX_FDS];
    unsigned nfds = 0;
    long n = rc ? rc : homid_recv(cl->sock, buf, sizeof buf, fds, &nfds, cl->timeout_ms);
    struct homid_msg m;
    if (n <= 0 || homid_parse(buf, (size_t)n, nfds, &m, why, sizeof why)) {
        for (unsigned i = 0; n > 0 && i < nfds; i++)
            close(fds[i]);
        return HOMI_EIO;
    }
    if (m.h.type == HOMID_QPAIRS_OK) {
        homi_log(HOMI_LOG_INFO,
                 "homid: %u delegated queue pairs of this process's own (%u of %u "
                 "left shared)",
                 m.u.qpairs_ok.granted, m.u.qpairs_ok.free, m.u.qpairs_ok.total);
        return 0;
    }
    if (m.h.type != HOMID_ERROR) return HOMI_EIO;
    homi_stats_fallback(&e->stats, HOMI_FB_QUEUE_BUSY);
    homi_log(HOMI_LOG_WARN,
             "homid granted none of the %u delegated queue pairs asked (%s): delegated reads "
             "share the queue pairs nobody holds (counted as queue-busy)",
             want, m.u.error.text);
    return 0;
}

static int connect_daemon(struct homi_client *cl, struct homi_engine *e, char *why, size_t whylen)
{
    const struct homi_config *cfg = &e->cfg;
    cl->sock = homid_connect(cl->sockpath);
    if (cl->sock < 0) {
        int err = errno; /* homi_client_attach looks at it */
        if (err == ENAMETOOLONG) {
            snprintf(why, whylen, "socket path too long");
            return HOMI_EINVAL;
        }
        snprintf(why, whylen, "connect: %s", strerror(err));
        errno = err;
        return HOMI_ESYS;
    }
    uint32_t slots = 2;
    while (slots < cfg->daemon_slots)
        slots <<= 1;
    uint64_t ss = cfg->chunk_size;
    if (ss < HOMID_SLOT_MIN) ss = HOMID_SLOT_MIN;
    if (ss > (4u << 20)) ss = 4u << 20;
    struct homid_hello h = {HOMID_VERSION, HOMID_VERSION, (uint32_t)getpid(),
                            slots,         (uint32_t)ss,  ""};
    /* the job this process belongs to (homid's accounting and per-job limits) */
    static const char *const job_vars[] = {"HOMI_JOB",       "SLURM_JOB_ID",
                                           "PBS_JOBID",      "LSB_JOBID",
                                           "PMIX_NAMESPACE", "OMPI_MCA_orte_ess_jobid"};
    for (size_t i = 0; i < sizeof job_vars / sizeof *job_vars && !h.job[0]; i++) {
        const char *v = getenv(job_vars[i]);
        if (v && *v) snprintf(h.job, sizeof h.job, "%s", v);
    }
    int rc = homid_send(cl->sock, HOMID_HELLO, 1, &h, sizeof h, NULL, 0);
    char buf[HOMID_RECV_CAP];
    int fds[HOMID_MAX_FDS];
    unsigned nfds = 0;
    long n = rc ? rc : homid_recv(cl->sock, buf, sizeof buf, fds, &nfds, cl->timeout_ms);
    struct homid_msg m;
    if (n <= 0) {
        snprintf(why, whylen, "handshake: %s", n ? homi_strerror((int)n) : "connection closed");
        return HOMI_EIO;
    }
    if (homid_parse(buf, (size_t)n, nfds, &m, why, whylen)) {
        for (unsigned i = 0; i < nfds; i++)
            close(fds[i]);
        return HOMI_EIO;
    }
    if (m.h.type == HOMID_ERROR) {
        snprintf(why, whylen, "refused: %s", m.u.error.text);
        return m.u.error.code;
    }
    if (m.h.type != HOMID_HELLO_OK) {
        for (unsigned i = 0; i < nfds; i++)
            close(fds[i]);
        snprintf(why, whylen, "unexpected reply type %u", m.h.type);
        return HOMI_EIO;
    }
    int memfd = fds[0];
    cl->sq_efd = fds[1];
    cl->cq_efd = fds[2];
    struct stat st;
    if (fstat(memfd, &st) || (uint64_t)st.st_size < m.u.hello_ok.shm_size ||
        m.u.hello_ok.shm_size < sizeof(struct homid_shm_hdr) ||
        m.u.hello_ok.shm_size > HOMID_SHM_MAX + (64u << 20)) {
        close(memfd);
        snprintf(why, whylen, "shared region of bad size");
        return HOMI_EIO;
    }
    cl->shm_size = (size_t)m.u.hello_ok.shm_size;
    cl->shm = mmap(NULL, cl->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    close(memfd);
    if (cl->shm == MAP_FAILED) {
        cl->shm = NULL;
        snprintf(why, whylen, "mmap: %s", strerror(errno));
        return HOMI_ESYS;
    }
    cl->hdr = cl->shm;
    if (homid_shm_check(cl->hdr, cl->shm_size) || cl->hdr->slots != m.u.hello_ok.slots ||
        cl->hdr->slot_size != m.u.hello_ok.slot_size) {
        snprintf(why, whylen, "shared region header does not match");
        return HOMI_EIO;
    }
    cl->slots = cl->hdr->slots;
    cl->slot_size = cl->hdr->slot_size;
    cl->sq = (struct homid_sqe *)((char *)cl->shm + cl->hdr->sq_off);
    cl->cq = (struct homid_cqe *)((char *)cl->shm + cl->hdr->cq_off);
    cl->data = (char *)cl->shm + cl->hdr->data_off;
    cl->sq_tail = atomic_load(&cl->hdr->sq_tail);
    cl->cq_head = atomic_load(&cl->hdr->cq_head);
    memcpy(cl->node, m.u.hello_ok.node, sizeof cl->node);
    cl->slot = calloc(cl->slots, sizeof *cl->slot);
    cl->freel = malloc(cl->slots * sizeof *cl->freel);
    if (!cl->slot || !cl->freel) {
        snprintf(why, whylen, "out of memory");
        return HOMI_ENOMEM;
    }
    for (uint32_t i = 0; i < cl->slots; i++)
        cl->freel[cl->nfree++] = cl->slots - 1 - i;
    if (ask_qpairs(cl, e)) {
        snprintf(why, whylen, "queue pairs: no reply");
        return HOMI_EIO;
    }
    return HOMI_OK;
}

void homi_client_attach(struct homi_engine *e)
{
    char path[108];
    if (!e->cfg.daemon || !homi_client_socket_path(path, sizeof path)) return;
    struct homi_client *cl = calloc(1, sizeof *cl);
    if (!cl) return;
    cl->eng = e;
    cl->sock = cl->sq_efd = cl->cq_efd = -1;
    cl->timeout_ms =
        (int)(e->cfg.daemon_timeout > 2000000 ? 2000000000 : e->cfg.daemon_timeout * 1000);
    snprintf(cl->sockpath, sizeof cl->sockpath, "%s", path);
    pthread_mutex_init(&cl->lock, NULL);
    pthread_mutex_init(&cl->ctl, NULL);
    pthread_mutex_init(&cl->reg, NULL);
    cl->retry_ns = (uint64_t)e->cfg.daemon_retry * 1000000000ull;
    cl->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    char why[200] = "";
    int rc = cl->wake_efd < 0 ? HOMI_ESYS : connect_daemon(cl, e, why, sizeof why);
    if (rc == HOMI_ESYS && (errno == ENOENT || errno == ECONNREFUSED)) {
        /* no homid on this node yet: start one when the job asked for it */
        char w2[200] = "";
        int a = homi_client_autostart(path, w2, sizeof w2);
        if (a == HOMI_OK) {
            why[0] = 0;
            rc = connect_daemon(cl, e, why, sizeof why);
        } else if (a != HOMI_ENOENT) {
            snprintf(why, sizeof why, "%s", w2);
        }
    }
    if (!rc && pthread_create(&cl->th, NULL, completion_thread, cl) == 0) {
        cl->th_ok = 1;
        e->client = cl;
        homi_log(HOMI_LOG_INFO, "control plane: homid at %s (node %s, %u slots of %u KiB)", path,
                 cl->node, cl->slots, cl->slot_size >> 10);
        return;
    }
    homi_stats_fallback(&e->stats, HOMI_FB_DAEMON_LOST);
    homi_log(HOMI_LOG_WARN, "homid at %s unusable (%s): in-process control plane", path,
             why[0] ? why : homi_strerror(rc));
    client_free(cl);
}

void homi_client_detach(struct homi_engine *e)
{
    struct homi_client *cl = e->client;
    if (!cl) return;
    if (!atomic_load(&cl->lost)) {
        homi_stats s;
        struct homid_wire_stats w;
        homi_stats_snapshot(&e->stats, &s);
        homid_stats_to_wire(&s, &w);
        pthread_mutex_lock(&cl->ctl);
        (void)homid_send(cl->sock, HOMID_REPORT, ++cl->seq, &w, sizeof w, NULL, 0);
        pthread_mutex_unlock(&cl->ctl);
    }
    atomic_store(&cl->stop, 1);
    kick(cl->wake_efd);
    if (cl->th_ok) pthread_join(cl->th, NULL);
    /* nothing is in flight here: the engine's files were released first */
    e->client = NULL;
    client_free(cl);
}
