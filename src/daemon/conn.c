/* conn.c - one homid client: handshake (shared region, granted within the
 * limits, + eventfds handed over with SCM_RIGHTS), control messages (open a
 * passed descriptor, close, stats, report, an operator's command), and the
 * data path: requests taken from the client's request ring within its share
 * of the in-flight budget, checked, executed on the daemon's engine straight
 * into the client's data slot, completed into its completion ring.  A client
 * that breaks the protocol, leaves its completions unread past the timeout
 * or is dropped by an operator is closed and everything it held reclaimed;
 * others are unaffected. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"
#include "daemon/homid.h"
#include "paths/delegated.h"

struct dfile {
    homi_file *h;
    uint32_t gen;
    int used;
    int closing; /* being closed: device queues may no longer hold it */
};

struct dconn {
    struct homid_server *s;
    int sock, sq_efd, cq_efd;
    pid_t pid;
    uid_t uid;
    void *shm;
    size_t shm_size;
    struct homid_shm_hdr *hdr;
    struct homid_sqe *sq;
    struct homid_cqe *cq;
    char *data;
    uint32_t slots, slot_size;
    int ready; /* handshake done */

    struct dfile *files;
    unsigned nfiles_max;

    pthread_mutex_t lock; /* completion ring, inflight */
    pthread_cond_t idle;
    unsigned inflight;
    uint32_t sq_head, cq_tail;
    int throttled;

    uint64_t requests;
    _Atomic uint64_t refused; /* also counted by its device queues' threads */
    char job[HOMID_JOB];
    uint64_t granted;               /* shared-region bytes granted (share.c) */
    struct homid_share sh;          /* its part of the in-flight budget */
    uint32_t cq_seen;               /* completion-ring head when last looked at */
    uint64_t cq_moved_ns;           /* when the client last consumed a completion */
    atomic_int drop;                /* an operator asked to close it */
    int admin;                      /* an operator's connection: no region */
    int counted;                    /* in its user's and job's client counts */
    uint32_t fast_max;              /* fast lane: largest request served inline */
    struct homid_wire_stats closed; /* statistics of files already closed */
    struct homid_wire_stats reported;
    int reported_ok;
    /* GPU device queues (devq_serve.c); holds: files their threads use */
    struct homid_dq *dq[HOMID_DQ_PER_CLIENT];
    unsigned dq_ids;
    pthread_rwlock_t frw; /* files[] against device-queue threads */
    atomic_uint holds;
    struct homi_dgrant *qp; /* delegated queue pairs of its own (HOMID_QPAIRS) */
    struct dconn *next;
};

struct dreq {
    struct dconn *c;
    uint64_t tag;
    uint32_t slot;
    uint32_t alen; /* bytes admitted against the in-flight budget */
};

struct dconn *homid_conn_next(struct dconn *c)
{
    return c->next;
}

/* ---------------------------------------------------------------- replies */

static int reply_err(struct dconn *c, uint32_t seq, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int reply_err(struct dconn *c, uint32_t seq, int code, const char *fmt, ...)
{
    struct homid_error e = {code, ""};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof e.text, fmt, ap);
    va_end(ap);
    homid_conn_count_refused(c);
    homi_log(HOMI_LOG_WARN, "client pid %d: refused: %s", (int)c->pid, e.text);
    return homid_send(c->sock, HOMID_ERROR, seq, &e, (uint32_t)(sizeof e.code + strlen(e.text)),
                      NULL, 0);
}

/* ---------------------------------------------------------------- completions */

static void post(struct dconn *c, uint64_t tag, uint32_t slot, int64_t result, unsigned mask,
                 uint32_t alen)
{
    homid_share_done(c->s, &c->sh, alen);
    pthread_mutex_lock(&c->lock);
    struct homid_cqe q = {tag, result, mask, slot};
    c->cq[c->cq_tail & (c->slots - 1)] = q;
    c->cq_tail++;
    atomic_store_explicit(&c->hdr->cq_tail, c->cq_tail, memory_order_release);
    c->inflight--;
    int kick_self = c->throttled;
    c->throttled = 0;
    if (!c->inflight) pthread_cond_broadcast(&c->idle);
    pthread_mutex_unlock(&c->lock);
    uint64_t one = 1;
    (void)!write(c->cq_efd, &one, sizeof one);
    if (kick_self) (void)!write(c->sq_efd, &one, sizeof one);
}

static void req_done(void *arg, int64_t result, unsigned mask)
{
    struct dreq *r = arg;
    post(r->c, r->tag, r->slot, result, mask, r->alen);
    free(r);
}

static struct dfile *file_of(struct dconn *c, uint32_t id)
{
    uint32_t idx = (id & 0xffff) - 1, gen = id >> 16;
    if ((id & 0xffff) == 0 || idx >= c->nfiles_max) return NULL;
    struct dfile *f = &c->files[idx];
    return f->used && !f->closing && f->gen == gen ? f : NULL;
}

struct homi_fh *homid_conn_hold(struct dconn *c, uint32_t file_id)
{
    pthread_rwlock_rdlock(&c->frw);
    struct dfile *df = file_of(c, file_id);
    struct homi_fh *fh = df ? homi_file_lookup(df->h) : NULL;
    if (fh) atomic_fetch_add(&c->holds, 1);
    pthread_rwlock_unlock(&c->frw);
    return fh;
}

void homid_conn_unhold(struct dconn *c)
{
    if (atomic_fetch_sub(&c->holds, 1) == 1) {
        pthread_mutex_lock(&c->lock);
        pthread_cond_broadcast(&c->idle);
        pthread_mutex_unlock(&c->lock);
    }
}

int homid_conn_share_begin(struct dconn *c, uint64_t len, atomic_int *stop)
{
    for (unsigned naps = 0;; naps++) {
        if (homid_share_admit(c->s, &c->sh, len ? len : 1, 1)) return 0;
        if (atomic_load(stop)) return -1;
        /* no wake-up reaches a queue's threads: ask again soon */
        struct timespec ts = {0, naps < 20 ? 100000 : 1000000};
        nanosleep(&ts, NULL);
    }
}

void homid_conn_share_end(struct dconn *c, uint64_t len)
{
    homid_share_done(c->s, &c->sh, len ? len : 1);
}

void homid_conn_share_pending(struct dconn *c, int delta)
{
    homid_share_pending(c->s, &c->sh, delta);
}

void homid_conn_count_refused(struct dconn *c)
{
    atomic_fetch_add(&c->refused, 1);
    atomic_fetch_add(&c->s->refused, 1);
}

/* Check and start one request (inflight already counts it). */
static void execute(struct dconn *c, const struct homid_sqe *q, uint32_t alen)
{
    char why[160];
    c->requests++;
    int rc = homid_sqe_check(q, c->slots, c->slot_size, why, sizeof why);
    struct dfile *df = rc ? NULL : file_of(c, q->file_id);
    if (!rc && !df) {
        rc = HOMI_EBADF;
        snprintf(why, sizeof why, "file id %u was not passed by this client", q->file_id);
    }
    struct homi_fh *fh = df ? homi_file_lookup(df->h) : NULL;
    if (!rc && !fh) {
        rc = HOMI_EBADF;
        snprintf(why, sizeof why, "file id %u is closed", q->file_id);
    }
    if (!rc) {
        struct stat st;
        if (fstat(fh->fd, &st)) {
            rc = HOMI_EIO;
            snprintf(why, sizeof why, "fstat: %s", strerror(errno));
        } else if (q->offset >= (uint64_t)st.st_size) {
            rc = HOMI_ERANGE;
            snprintf(why, sizeof why, "offset %llu is past the end of file %u (%llu bytes)",
                     (unsigned long long)q->offset, q->file_id, (unsigned long long)st.st_size);
        }
    }
    if (rc) {
        homid_conn_count_refused(c);
        homi_log(rc == HOMI_ERANGE ? HOMI_LOG_INFO : HOMI_LOG_WARN,
                 "client pid %d: request refused: %s", (int)c->pid, why);
        post(c, q->tag, q->slot < c->slots ? q->slot : 0, rc, 0, alen);
        return;
    }
    /* the fast lane: a small buffered read of a client with nothing else in
     * flight is served here, on the client's own thread, so that it never
     * queues behind another client's large reads in the engine */
    if (alen == c->sh.inflight && q->len <= c->fast_max && q->path != HOMI_PATH_PASSTHRU &&
        q->path != HOMI_PATH_DELEGATED && !fh->eng->cfg.direct) {
        uint64_t t0 = homi_now_ns();
        char *dst = c->data + (size_t)q->slot * c->slot_size;
        ssize_t n;
        do {
            n = pread(fh->fd, dst, q->len, (off_t)q->offset);
        } while (n < 0 && errno == EINTR);
        if (n >= 0) {
            homi_fh_account(fh, HOMI_PATH_KERNEL, (uint64_t)n, homi_now_ns() - t0);
            atomic_fetch_add(&fh->stats.reads, 1);
            atomic_fetch_add(&fh->stats.read_bytes, (uint64_t)n);
            atomic_fetch_add(&fh->eng->stats.reads, 1);
            atomic_fetch_add(&fh->eng->stats.read_bytes, (uint64_t)n);
            post(c, q->tag, q->slot, n, n ? 1u << HOMI_PATH_KERNEL : 0, alen);
            return;
        }
        /* an error: the engine reads it (and reports it) as any other */
    }
    struct dreq *r = malloc(sizeof *r);
    if (!r) {
        post(c, q->tag, q->slot, HOMI_ENOMEM, 0, alen);
        return;
    }
    *r = (struct dreq){c, q->tag, q->slot, alen};
    struct homi_rd rd = {.buf = c->data + (size_t)q->slot * c->slot_size,
                         .len = q->len,
                         .off = (int64_t)q->offset,
                         .mode = HOMI_RD_CB,
                         .path = q->path,
                         .cb = req_done,
                         .cb_arg = r};
    rc = homi_read_start(fh, &rd, NULL);
    if (rc) {
        free(r);
        post(c, q->tag, q->slot, rc, 0, alen);
    }
}

#define BATCH 64

/* Take what the request ring holds, within the completion ring's room.
 * Returns -1 when the client corrupted its ring indices. */
static int drain(struct dconn *c)
{
    for (;;) {
        struct homid_sqe q[BATCH];
        uint32_t alen[BATCH];
        unsigned n = 0;
        pthread_mutex_lock(&c->lock);
        uint32_t tail = atomic_load_explicit(&c->hdr->sq_tail, memory_order_acquire);
        uint32_t chead = atomic_load_explicit(&c->hdr->cq_head, memory_order_acquire);
        long sq_used = homid_ring_used(c->sq_head, tail, c->slots);
        long cq_used = homid_ring_used(chead, c->cq_tail, c->slots);
        if (sq_used < 0 || cq_used < 0) {
            pthread_mutex_unlock(&c->lock);
            return -1;
        }
        while (c->sq_head != tail && n < BATCH) {
            if (c->inflight + (unsigned)cq_used >= c->slots) {
                c->throttled = 1;
                break;
            }
            q[n] = c->sq[c->sq_head & (c->slots - 1)]; /* copied before it is checked */
            /* its share of the node's in-flight budget (woken when room frees) */
            alen[n] = q[n].len && q[n].len <= c->slot_size ? q[n].len : 1;
            if (!homid_share_admit(c->s, &c->sh, alen[n], tail - c->sq_head)) break;
            n++;
            c->sq_head++;
            c->inflight++;
        }
        atomic_store_explicit(&c->hdr->sq_head, c->sq_head, memory_order_release);
        pthread_mutex_unlock(&c->lock);
        for (unsigned i = 0; i < n; i++)
            execute(c, &q[i], alen[i]);
        if (n < BATCH) return 0;
    }
}

/* ---------------------------------------------------------------- control messages */

static void file_stats_add(homi_file *h, struct homid_wire_stats *sum)
{
    homi_stats st;
    struct homid_wire_stats w;
    if (homi_file_stats(h, &st)) return;
    homid_stats_to_wire(&st, &w);
    homid_wire_add(sum, &w);
}

static int do_open(struct dconn *c, const struct homid_msg *m, int fd)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) || fl < 0)
        return reply_err(c, m->h.seq, HOMI_EBADF, "open: descriptor unusable: %s", strerror(errno));
    if (fl & O_PATH) return reply_err(c, m->h.seq, HOMI_EBADF, "open: O_PATH descriptor");
    if ((fl & O_ACCMODE) != O_RDONLY && (fl & O_ACCMODE) != O_RDWR)
        return reply_err(c, m->h.seq, HOMI_EBADF, "open: descriptor is not open for reading");
    if (S_ISDIR(st.st_mode)) return reply_err(c, m->h.seq, HOMI_EISDIR, "open: a directory");
    if (!S_ISREG(st.st_mode))
        return reply_err(c, m->h.seq, HOMI_ENOTREG, "open: not a regular file");
    unsigned idx = 0;
    while (idx < c->nfiles_max && c->files[idx].used)
        idx++;
    if (idx == c->nfiles_max)
        return reply_err(c, m->h.seq, HOMI_EBUSY, "open: more than %u files", c->nfiles_max);
    char proc[64], name[4096];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    homi_file *h;
    int rc = homi_open(c->s->eng, proc, HOMI_RDONLY, &h);
    if (rc) return reply_err(c, m->h.seq, rc, "open: %s", homi_strerror(rc));
    /* the engine logs under the file's name, not the descriptor's */
    ssize_t nl = readlink(proc, name, sizeof name - 1);
    struct homi_fh *fh = homi_file_lookup(h);
    if (nl > 0 && fh) {
        name[nl] = 0;
        char *d = strdup(name);
        if (d) {
            free(fh->path);
            fh->path = d;
        }
    }
    if (c->qp && fh) homi_delegated_bind(fh, c->qp); /* before its first read */
    struct dfile *df = &c->files[idx];
    pthread_mutex_lock(&c->s->lock); /* homictl's list reads the files */
    pthread_rwlock_wrlock(&c->frw);  /* and device-queue threads */
    df->used = 1;
    df->closing = 0;
    df->gen = (df->gen + 1) & 0xffff;
    if (!df->gen) df->gen = 1;
    df->h = h;
    pthread_rwlock_unlock(&c->frw);
    pthread_mutex_unlock(&c->s->lock);
    struct homid_open_ok ok = {(df->gen << 16) | (idx + 1), 0, (uint64_t)st.st_size};
    homi_log(HOMI_LOG_INFO, "client pid %d: file %u = %s", (int)c->pid, ok.file_id,
             fh ? fh->path : proc);
    return homid_send(c->sock, HOMID_OPEN_OK, m->h.seq, &ok, sizeof ok, NULL, 0);
}

static void file_close(struct dconn *c, struct dfile *df)
{
    file_stats_add(df->h, &c->closed);
    pthread_rwlock_wrlock(&c->frw);
    homi_close(df->h);
    df->used = 0;
    df->closing = 0;
    df->h = NULL;
    pthread_rwlock_unlock(&c->frw);
}

static void wait_idle(struct dconn *c)
{
    pthread_mutex_lock(&c->lock);
    while (c->inflight || atomic_load(&c->holds))
        pthread_cond_wait(&c->idle, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

static int do_close(struct dconn *c, const struct homid_msg *m)
{
    struct dfile *df = file_of(c, m->u.close.file_id);
    if (!df)
        return reply_err(c, m->h.seq, HOMI_EBADF, "close: file id %u unknown", m->u.close.file_id);
    /* no device queue may take it any more; its requests (the ring's and
     * the queues') must be done before the engine may close it */
    pthread_rwlock_wrlock(&c->frw);
    df->closing = 1;
    pthread_rwlock_unlock(&c->frw);
    for (unsigned k = 0; k < HOMID_DQ_PER_CLIENT; k++)
        if (c->dq[k]) homid_dq_forget_file(c->dq[k], m->u.close.file_id);
    wait_idle(c);
    pthread_mutex_lock(&c->s->lock); /* homictl's list reads the files */
    file_close(c, df);
    pthread_mutex_unlock(&c->s->lock);
    return homid_send(c->sock, HOMID_OK, m->h.seq, NULL, 0, NULL, 0);
}

void homid_conn_snapshot(struct dconn *c, struct homid_client_rec *out)
{
    memset(out, 0, sizeof *out);
    out->pid = c->pid;
    out->uid = c->uid;
    memcpy(out->job, c->job, sizeof out->job);
    out->requests = c->requests;
    out->refused = c->refused;
    out->served = c->closed;
    for (unsigned i = 0; c->files && i < c->nfiles_max; i++)
        if (c->files[i].used) file_stats_add(c->files[i].h, &out->served);
    out->reported = c->reported;
    out->reported_ok = c->reported_ok;
}

static int do_stats(struct dconn *c, const struct homid_msg *m)
{
    struct homid_stats_ok so;
    struct homid_client_rec r;
    pthread_mutex_lock(&c->s->lock);
    homid_conn_snapshot(c, &r);
    pthread_mutex_unlock(&c->s->lock);
    so.client = r.served;
    so.client.refused = r.refused;
    homid_node_stats(c->s, &so.node);
    return homid_send(c->sock, HOMID_STATS_OK, m->h.seq, &so, sizeof so, NULL, 0);
}

/* ---------------------------------------------------------------- handshake */

static int handshake(struct dconn *c, const struct homid_msg *m)
{
    const struct homid_hello *h = &m->u.hello;
    if (h->min_version > HOMID_VERSION || h->max_version < HOMID_VERSION)
        return reply_err(c, m->h.seq, HOMI_ENOTSUP,
                         "protocol versions %u..%u not supported (homid speaks %u)", h->min_version,
                         h->max_version, HOMID_VERSION);
    uint32_t slots = HOMID_SLOTS_MIN;
    while (slots < h->slots && slots < HOMID_SLOTS_MAX)
        slots <<= 1;
    uint32_t ss = h->slot_size;
    if (ss < HOMID_SLOT_MIN) ss = HOMID_SLOT_MIN;
    if (ss > HOMID_SLOT_MAX) ss = HOMID_SLOT_MAX;
    ss = (ss + 4095) & ~4095u;
    while ((uint64_t)slots * ss > HOMID_SHM_MAX)
        slots >>= 1;
    /* the region is granted within the user's, the job's and the node's
     * limits: fewer slots when less is free, refused when not even the
     * smallest region fits (the client then reads in-process, counted) */
    snprintf(c->job, sizeof c->job, "%s", h->job);
    char why[HOMID_ERRTEXT];
    uint64_t g = 0;
    pthread_mutex_lock(&c->s->lock);
    struct homid_acct *ua = homid_acct_get(c->s, 0, c->uid, NULL);
    int grc = HOMI_EBUSY;
    if (!ua) {
        snprintf(why, sizeof why, "out of memory");
    } else if (c->s->lim.user_clients && ua->clients >= c->s->lim.user_clients) {
        snprintf(why, sizeof why, "uid %d already has %u clients (the limit)", (int)c->uid,
                 ua->clients);
        ua->refused++;
        c->s->refused_busy++;
    } else {
        grc = homid_grant(c->s, c->uid, c->job, (uint64_t)slots * ss,
                          (uint64_t)HOMID_SLOTS_MIN * ss, ss, &g, why, sizeof why);
    }
    if (!grc) {
        struct homid_acct *ja = homid_acct_get(c->s, 1, c->uid, c->job);
        ua->clients++;
        if (ja) ja->clients++;
        c->counted = 1;
        c->s->clients_total++; /* clients that got a region (not operators) */
    }
    pthread_mutex_unlock(&c->s->lock);
    if (grc) return reply_err(c, m->h.seq, HOMI_EBUSY, "%s", why);
    c->granted = g;
    while ((uint64_t)slots * ss > g)
        slots >>= 1;
    struct homid_shm_hdr lay;
    if (homid_shm_layout(slots, ss, &lay))
        return reply_err(c, m->h.seq, HOMI_EINVAL, "hello: bad region size");
    int memfd = memfd_create("homid-client", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfd < 0 || ftruncate(memfd, (off_t)lay.size) ||
        fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
        if (memfd >= 0) close(memfd);
        return reply_err(c, m->h.seq, HOMI_ESYS, "hello: shared region: %s", strerror(errno));
    }
    c->shm = mmap(NULL, lay.size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (c->shm == MAP_FAILED) {
        c->shm = NULL;
        close(memfd);
        return reply_err(c, m->h.seq, HOMI_ESYS, "hello: mmap: %s", strerror(errno));
    }
    c->shm_size = lay.size;
    c->hdr = c->shm;
    memcpy(c->hdr, &lay, sizeof lay);
    c->sq = (struct homid_sqe *)((char *)c->shm + lay.sq_off);
    c->cq = (struct homid_cqe *)((char *)c->shm + lay.cq_off);
    c->data = (char *)c->shm + lay.data_off;
    c->slots = slots;
    c->slot_size = ss;
    c->sq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    c->cq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->sq_efd < 0 || c->cq_efd < 0) {
        close(memfd);
        return reply_err(c, m->h.seq, HOMI_ESYS, "hello: eventfd: %s", strerror(errno));
    }
    struct homid_hello_ok ok = {HOMID_VERSION, slots,         ss,       slots,
                                slots,         c->nfiles_max, lay.size, ""};
    snprintf(ok.node, sizeof ok.node, "%s", c->s->node);
    int fds[3] = {memfd, c->sq_efd, c->cq_efd};
    int rc = homid_send(c->sock, HOMID_HELLO_OK, m->h.seq, &ok, sizeof ok, fds, 3);
    close(memfd);
    if (rc) return rc;
    c->ready = 1;
    c->sh.wake_efd = c->sq_efd;
    c->cq_moved_ns = homi_now_ns();
    homi_log(HOMI_LOG_INFO, "client pid %d uid %d%s%s: connected, %u slots of %u KiB", (int)c->pid,
             (int)c->uid, c->job[0] ? " job " : "", c->job, slots, ss >> 10);
    return 0;
}

/* An operator's command: the reply text travels in a sealed memfd. */
static int do_admin(struct dconn *c, const struct homid_msg *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) return reply_err(c, m->h.seq, HOMI_ENOMEM, "admin: out of memory");
    int rc = homid_admin(c->s, c->uid, m->u.text, out);
    fclose(out);
    if (rc) {
        /* the text says why */
        char msg[HOMID_ERRTEXT];
        snprintf(msg, sizeof msg, "%s", text ? text : "");
        free(text);
        size_t l = strlen(msg);
        while (l && msg[l - 1] == '\n')
            msg[--l] = 0;
        return reply_err(c, m->h.seq, rc, "%s", msg);
    }
    int fd = memfd_create("homid-admin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int ok = fd >= 0 && (len == 0 || write(fd, text, len) == (ssize_t)len) &&
             !fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    free(text);
    if (!ok) {
        if (fd >= 0) close(fd);
        return reply_err(c, m->h.seq, HOMI_ESYS, "admin: reply: %s", strerror(errno));
    }
    struct homid_admin_ok a = {len};
    rc = homid_send(c->sock, HOMID_ADMIN_OK, m->h.seq, &a, sizeof a, &fd, 1);
    close(fd);
    return rc;
}

/* ---------------------------------------------------------------- GPU device queues */

/* A queue from the node's inventory, within the node's and the user's
 * limits: 0, or HOMI_EBUSY / HOMI_ENOMEM with the reason in why. */
static int dq_grant(struct dconn *c, char *why, size_t whylen)
{
    pthread_mutex_lock(&c->s->lock);
    struct homid_acct *ua = homid_acct_get(c->s, 0, c->uid, NULL);
    const struct homid_limits *l = &c->s->lim;
    int rc = 0;
    if (!ua) {
        rc = HOMI_ENOMEM;
        snprintf(why, whylen, "out of memory");
    } else if (c->s->gpu_queues >= l->gpu_queues) {
        rc = HOMI_EBUSY;
        snprintf(why, whylen, "device queue: all %u of the node are in use", l->gpu_queues);
    } else if (l->user_gpu_queues && ua->gpu_queues >= l->user_gpu_queues) {
        rc = HOMI_EBUSY;
        snprintf(why, whylen, "device queue: uid %d holds %u (the limit)", (int)c->uid,
                 ua->gpu_queues);
    }
    if (!rc) {
        c->s->gpu_queues++;
        ua->gpu_queues++;
    } else if (rc == HOMI_EBUSY) {
        c->s->refused_busy++;
        ua->refused++;
    }
    pthread_mutex_unlock(&c->s->lock);
    return rc;
}

/* Give a queue back to the inventory. */
static void dq_ungrant(struct dconn *c)
{
    pthread_mutex_lock(&c->s->lock);
    struct homid_acct *ua = homid_acct_get(c->s, 0, c->uid, NULL);
    if (c->s->gpu_queues) c->s->gpu_queues--;
    if (ua && ua->gpu_queues) ua->gpu_queues--;
    pthread_mutex_unlock(&c->s->lock);
}

static int do_devq_create(struct dconn *c, const struct homid_msg *m, int memfd, int efd)
{
    char why[HOMID_ERRTEXT];
    unsigned k = 0;
    while (k < HOMID_DQ_PER_CLIENT && c->dq[k])
        k++;
    if (k == HOMID_DQ_PER_CLIENT) {
        close(efd);
        return reply_err(c, m->h.seq, HOMI_EBUSY, "device queue: this client has %u already",
                         HOMID_DQ_PER_CLIENT);
    }
    int rc = dq_grant(c, why, sizeof why);
    if (rc) {
        close(efd);
        return reply_err(c, m->h.seq, rc, "%s", why);
    }
    unsigned id = ++c->dq_ids;
    struct homid_dq *q = homid_dq_create(c, id, &m->u.dq_create, memfd, efd, why, sizeof why);
    if (!q) {
        dq_ungrant(c);
        return reply_err(c, m->h.seq, HOMI_EINVAL, "device queue: %s", why);
    }
    pthread_mutex_lock(&c->s->lock); /* homictl's list reads the queues */
    c->dq[k] = q;
    c->s->gpu_queues_total++;
    pthread_mutex_unlock(&c->s->lock);
    homi_log(HOMI_LOG_INFO,
             "client pid %d: GPU queue %u: %u slots, %u B inline, %u x %u KiB chunks, %u threads",
             (int)c->pid, id, m->u.dq_create.slots, m->u.dq_create.inline_max,
             m->u.dq_create.chunks, m->u.dq_create.chunk_size >> 10, homid_dq_threads(q));
    struct homid_devq_ok ok = {id, homid_dq_threads(q), 0};
    return homid_send(c->sock, HOMID_DEVQ_OK, m->h.seq, &ok, sizeof ok, NULL, 0);
}

static void dq_release(struct dconn *c, unsigned k)
{
    struct homid_dq *q = c->dq[k];
    pthread_mutex_lock(&c->s->lock);
    c->dq[k] = NULL;
    pthread_mutex_unlock(&c->s->lock);
    homid_dq_destroy(q); /* its threads stopped, its reads done */
    dq_ungrant(c);
}

/* A device queue whose pump stopped taking homid's wake-ups for the client
 * timeout is reclaimed (the client keeps its connection). */
static void dq_check_stalled(struct dconn *c)
{
    unsigned any = 0;
    for (unsigned k = 0; k < HOMID_DQ_PER_CLIENT; k++)
        any += c->dq[k] != NULL;
    if (!any) return; /* (only this thread changes c->dq) */
    pthread_mutex_lock(&c->s->lock);
    unsigned t = c->s->lim.client_timeout;
    pthread_mutex_unlock(&c->s->lock);
    for (unsigned k = 0; k < HOMID_DQ_PER_CLIENT; k++)
        if (c->dq[k] && homid_dq_stalled(c->dq[k], t)) {
            homi_log(HOMI_LOG_WARN,
                     "client pid %d: GPU queue %u: no wake-up taken for %u s: queue reclaimed",
                     (int)c->pid, homid_dq_id(c->dq[k]), t);
            homid_conn_count_refused(c);
            dq_release(c, k);
        }
}

static int do_devq(struct dconn *c, const struct homid_msg *m)
{
    const struct homid_devq_op *o = &m->u.dq_op;
    unsigned k = 0;
    while (k < HOMID_DQ_PER_CLIENT && (!c->dq[k] || homid_dq_id(c->dq[k]) != o->queue))
        k++;
    if (k == HOMID_DQ_PER_CLIENT)
        return reply_err(c, m->h.seq, HOMI_EBADF, "device queue %u: not this client's", o->queue);
    struct homid_devq_ok ok = {o->queue, homid_dq_threads(c->dq[k]), 0};
    int rc = 0;
    switch (o->op) {
    case HOMID_DQ_EXPORT:
        if (!file_of(c, o->file_id))
            return reply_err(c, m->h.seq, HOMI_EBADF,
                             "device queue: file id %u was not passed by this client", o->file_id);
        rc = homid_dq_export(c->dq[k], o->file_id, &ok.cap);
        if (rc)
            return reply_err(c, m->h.seq, rc, "device queue: more than %u capabilities",
                             HOMID_DQ_CAPS);
        break;
    case HOMID_DQ_REVOKE:
        if (homid_dq_revoke(c->dq[k], o->cap))
            return reply_err(c, m->h.seq, HOMI_EBADF, "device queue: no capability 0x%llx",
                             (unsigned long long)o->cap);
        break;
    case HOMID_DQ_DESTROY: dq_release(c, k); break;
    case HOMID_DQ_PAUSE: homid_dq_pause(c->dq[k], o->cap != 0); break;
    }
    return homid_send(c->sock, HOMID_DEVQ_OK, m->h.seq, &ok, sizeof ok, NULL, 0);
}

unsigned homid_conn_queues(struct dconn *c, struct homid_dq_view *v, unsigned max)
{
    unsigned n = 0;
    for (unsigned k = 0; k < HOMID_DQ_PER_CLIENT && n < max; k++)
        if (c->dq[k]) homid_dq_view(c->dq[k], &v[n++]);
    return n;
}

/* ---------------------------------------------------------------- delegated queue pairs */

/* Queue pairs of the delegated controller for this client alone, within the
 * user's and the job's limits; all or none (refused: its delegated reads
 * share the queue pairs nobody holds, or go to the kernel path counted as
 * queue-busy when there are none). */
static int do_qpairs(struct dconn *c, const struct homid_msg *m)
{
    unsigned want = m->u.qpairs.want;
    unsigned open = 0;
    for (unsigned i = 0; i < c->nfiles_max; i++)
        open += c->files[i].used != 0;
    if (c->qp || open)
        return reply_err(c, m->h.seq, HOMI_EINVAL,
                         "queue pairs: asked once per client, before its first file (%s)",
                         c->qp ? "it holds some" : "files are open");
    char why[HOMID_ERRTEXT] = "";
    int rc = 0;
    pthread_mutex_lock(&c->s->lock);
    const struct homid_limits *l = &c->s->lim;
    struct homid_acct *ua = homid_acct_get(c->s, 0, c->uid, NULL);
    struct homid_acct *ja = homid_acct_get(c->s, 1, c->uid, c->job);
    if (!ua) {
        rc = HOMI_ENOMEM;
        snprintf(why, sizeof why, "out of memory");
    } else if (l->user_qpairs && ua->qpairs + want > l->user_qpairs) {
        rc = HOMI_EBUSY;
        snprintf(why, sizeof why, "uid %d holds %u, asks %u (the limit is %u)", (int)c->uid,
                 ua->qpairs, want, l->user_qpairs);
    } else if (ja && l->job_qpairs && ja->qpairs + want > l->job_qpairs) {
        rc = HOMI_EBUSY;
        snprintf(why, sizeof why, "job %s holds %u, asks %u (the limit is %u)", ja->job, ja->qpairs,
                 want, l->job_qpairs);
    } else {
        rc = homi_delegated_grant(c->s->eng, want, &c->qp, why, sizeof why);
    }
    if (!rc) {
        ua->qpairs += want;
        if (ja) ja->qpairs += want;
        c->s->qpairs_total++;
    } else if (rc == HOMI_EBUSY) {
        c->s->refused_busy++;
        if (ua) ua->refused++;
        if (ja) ja->refused++;
    }
    struct homid_qpairs_ok ok = {want, 0, 0, 0};
    unsigned granted = 0;
    homi_delegated_inventory(c->s->eng, &ok.total, &granted);
    ok.free = ok.total - granted;
    pthread_mutex_unlock(&c->s->lock);
    if (rc) return reply_err(c, m->h.seq, rc, "delegated queue pairs refused: %s", why);
    homi_log(HOMI_LOG_INFO, "client pid %d: %u queue pairs of its own, %u of %u left shared",
             (int)c->pid, want, ok.free, ok.total);
    return homid_send(c->sock, HOMID_QPAIRS_OK, m->h.seq, &ok, sizeof ok, NULL, 0);
}

/* Its queue pairs back to the shared pool (its files are closed). */
static void qpairs_release(struct dconn *c)
{
    if (!c->qp) return;
    unsigned n = homi_delegated_grant_size(c->qp);
    homi_delegated_ungrant(c->s->eng, c->qp);
    c->qp = NULL;
    struct homid_acct *a = homid_acct_get(c->s, 0, c->uid, NULL);
    if (a) a->qpairs -= n < a->qpairs ? n : a->qpairs;
    a = homid_acct_get(c->s, 1, c->uid, c->job);
    if (a) a->qpairs -= n < a->qpairs ? n : a->qpairs;
}

/* One control message; returns -1 to drop the client. */
static int on_message(struct dconn *c)
{
    char buf[HOMID_RECV_CAP];
    int fds[HOMID_MAX_FDS];
    unsigned nfds = 0;
    long n = homid_recv(c->sock, buf, sizeof buf, fds, &nfds, 0);
    if (n == HOMI_ETIMEDOUT) return 0;
    if (n == 0) return -1; /* the client went away */
    if (n < 0) {
        reply_err(c, 0, HOMI_ERANGE, "message too long (or too many descriptors)");
        return -1;
    }
    struct homid_msg m;
    char why[160];
    int rc = homid_parse(buf, (size_t)n, nfds, &m, why, sizeof why);
    int fd = nfds ? fds[0] : -1;
    if (!rc && !c->ready && m.h.type == HOMID_ADMIN) {
        c->admin = 1; /* an operator's connection: commands only */
    } else if (!rc && c->admin && m.h.type != HOMID_ADMIN) {
        rc = HOMI_EINVAL;
        snprintf(why, sizeof why, "message type %u on an operator's connection", m.h.type);
    } else if (!rc && !c->ready && m.h.type != HOMID_HELLO) {
        rc = HOMI_EINVAL;
        snprintf(why, sizeof why, "message type %u before the handshake", m.h.type);
    } else if (!rc && c->ready && m.h.type == HOMID_HELLO) {
        rc = HOMI_EINVAL;
        snprintf(why, sizeof why, "second handshake");
    } else if (!rc && m.h.type != HOMID_HELLO && m.h.type != HOMID_OPEN &&
               m.h.type != HOMID_CLOSE && m.h.type != HOMID_STATS && m.h.type != HOMID_REPORT &&
               m.h.type != HOMID_ADMIN && m.h.type != HOMID_DEVQ_CREATE && m.h.type != HOMID_DEVQ &&
               m.h.type != HOMID_QPAIRS) {
        rc = HOMI_EINVAL;
        snprintf(why, sizeof why, "message type %u is not a request", m.h.type);
    }
    if (rc) {
        for (unsigned i = 0; i < nfds; i++)
            close(fds[i]);
        struct homid_hdr h = {0, 0, 0, 0, 0};
        if ((size_t)n >= sizeof h) memcpy(&h, buf, sizeof h);
        reply_err(c, h.seq, rc, "%s", why);
        return -1; /* a client that breaks the protocol is dropped */
    }
    switch (m.h.type) {
    case HOMID_HELLO: return handshake(c, &m) || !c->ready ? -1 : 0;
    case HOMID_OPEN:
        rc = do_open(c, &m, fd);
        close(fd);
        return rc == HOMI_EIO ? -1 : 0;
    case HOMID_CLOSE: return do_close(c, &m) == HOMI_EIO ? -1 : 0;
    case HOMID_STATS: return do_stats(c, &m) == HOMI_EIO ? -1 : 0;
    case HOMID_REPORT:
        c->reported = m.u.stats;
        c->reported_ok = 1;
        return 0;
    case HOMID_ADMIN: return do_admin(c, &m) == HOMI_EIO ? -1 : 0;
    case HOMID_DEVQ_CREATE:
        rc = do_devq_create(c, &m, fds[0], fds[1]); /* takes the eventfd */
        close(fds[0]);
        return rc == HOMI_EIO ? -1 : 0;
    case HOMID_DEVQ: return do_devq(c, &m) == HOMI_EIO ? -1 : 0;
    case HOMID_QPAIRS: return do_qpairs(c, &m) == HOMI_EIO ? -1 : 0;
    }
    return 0;
}

/* ---------------------------------------------------------------- life cycle */

static void conn_free(struct dconn *c)
{
    if (c->shm) munmap(c->shm, c->shm_size);
    if (c->sock >= 0) close(c->sock);
    if (c->sq_efd >= 0) close(c->sq_efd);
    if (c->cq_efd >= 0) close(c->cq_efd);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->idle);
    pthread_rwlock_destroy(&c->frw);
    free(c->files);
    free(c);
}

/* A client with completions waiting that has not consumed one for the
 * client timeout is taken for dead (it holds a region and a share). */
static int client_stalled(struct dconn *c)
{
    uint64_t now = homi_now_ns();
    pthread_mutex_lock(&c->lock);
    uint32_t head = atomic_load_explicit(&c->hdr->cq_head, memory_order_acquire);
    int pending = head != c->cq_tail;
    if (!pending || head != c->cq_seen) {
        c->cq_seen = head;
        c->cq_moved_ns = now;
    }
    uint64_t idle = now - c->cq_moved_ns;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&c->s->lock);
    unsigned t = c->s->lim.client_timeout;
    pthread_mutex_unlock(&c->s->lock);
    return pending && t && idle > (uint64_t)t * 1000000000ull;
}

void homid_conn_view(struct dconn *c, struct homid_conn_view *v)
{
    memset(v, 0, sizeof *v);
    v->pid = c->pid;
    v->uid = c->uid;
    v->job = c->job;
    v->slots = c->slots;
    v->slot_size = c->slot_size;
    for (unsigned i = 0; c->files && i < c->nfiles_max; i++)
        v->files += c->files[i].used != 0;
    v->weight = c->sh.weight;
    v->qpairs = homi_delegated_grant_size(c->qp);
    v->inflight = c->sh.inflight;
    v->requests = c->requests;
    v->refused = c->refused;
    struct homid_client_rec r;
    homid_conn_snapshot(c, &r);
    v->bytes = r.served.read_bytes;
    if (c->ready) {
        pthread_mutex_lock(&c->lock);
        uint32_t head = atomic_load_explicit(&c->hdr->cq_head, memory_order_acquire);
        if (head != c->cq_tail) v->idle_s = (double)(homi_now_ns() - c->cq_moved_ns) / 1e9;
        pthread_mutex_unlock(&c->lock);
    }
}

int homid_conn_is_admin(const struct dconn *c)
{
    return c->admin;
}

void homid_conn_who(const struct dconn *c, pid_t *pid, uid_t *uid)
{
    *pid = c->pid;
    *uid = c->uid;
}

void homid_conn_set_weight(struct dconn *c, unsigned w)
{
    homid_share_weight(c->s, &c->sh, w);
}

void homid_conn_drop(struct dconn *c)
{
    atomic_store(&c->drop, 1);
    uint64_t one = 1;
    if (c->sq_efd >= 0) (void)!write(c->sq_efd, &one, sizeof one);
}

static void *conn_thread(void *arg)
{
    struct dconn *c = arg;
    struct homid_server *s = c->s;
    int stopping = 0;
    const char *why_gone = NULL;
    /* the handshake must come within 10 s */
    struct pollfd p0 = {c->sock, POLLIN, 0};
    if (poll(&p0, 1, 10000) <= 0 || on_message(c) < 0) goto out;
    for (;;) {
        struct pollfd p[3] = {
            {c->sock, POLLIN, 0}, {c->sq_efd, POLLIN, 0}, {s->stop_efd, POLLIN, 0}};
        int retry = homid_share_retry_ms(s, &c->sh); /* refused: ask again soon */
        if (poll(p, 3, !c->ready ? -1 : retry >= 0 ? retry : 1000) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[2].revents) {
            stopping = 1;
            break;
        }
        if (atomic_load(&c->drop)) {
            why_gone = "dropped by an operator";
            break;
        }
        if (c->ready && client_stalled(c)) {
            why_gone = "timed out: completions left unread";
            break;
        }
        dq_check_stalled(c);
        if (p[1].revents & POLLIN || retry >= 0) {
            uint64_t v;
            if (p[1].revents & POLLIN) (void)!read(c->sq_efd, &v, sizeof v);
            if (drain(c) < 0) {
                reply_err(c, 0, HOMI_EINVAL, "request or completion ring indices corrupted");
                break;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR) && on_message(c) < 0) break;
    }
out:
    /* its device queues stop first (their reads hold its files), then the
     * requests already started finish into the region before it goes */
    for (unsigned k = 0; k < HOMID_DQ_PER_CLIENT; k++)
        if (c->dq[k]) dq_release(c, k);
    wait_idle(c);
    homid_share_forget(s, &c->sh);
    pthread_mutex_lock(&s->lock);
    if (c->granted) homid_ungrant(s, c->uid, c->job, c->granted);
    c->granted = 0;
    if (c->counted) {
        struct homid_acct *a = homid_acct_get(s, 0, c->uid, NULL);
        if (a && a->clients) a->clients--;
        a = homid_acct_get(s, 1, c->uid, c->job);
        if (a && a->clients) a->clients--;
    }
    struct homid_client_rec r;
    for (unsigned i = 0; c->files && i < c->nfiles_max; i++)
        if (c->files[i].used) file_close(c, &c->files[i]);
    qpairs_release(c);
    homid_conn_snapshot(c, &r);
    if (c->counted) homid_server_record(s, &r); /* operators' connections are not clients */
    for (struct dconn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    s->nconns--;
    pthread_cond_broadcast(&s->gone);
    pthread_mutex_unlock(&s->lock);
    homi_log(why_gone   ? HOMI_LOG_WARN
             : c->admin ? HOMI_LOG_DEBUG
                        : HOMI_LOG_INFO,
             "client pid %d: %s after %llu requests (%llu refused); its resources reclaimed",
             (int)c->pid,
             stopping   ? "closed for shutdown"
             : why_gone ? why_gone
                        : "disconnected",
             (unsigned long long)r.requests, (unsigned long long)r.refused);
    /* a draining daemon stops when its last client is gone */
    if (atomic_load(&s->draining) && !c->admin) {
        pthread_mutex_lock(&s->lock);
        unsigned left = 0;
        for (struct dconn *o = s->conns; o; o = o->next)
            left += !o->admin;
        pthread_mutex_unlock(&s->lock);
        if (!left) homid_server_stop(s);
    }
    conn_free(c);
    return NULL;
}

int homid_conn_start(struct homid_server *s, int fd, pid_t pid, uid_t uid)
{
    struct dconn *c = calloc(1, sizeof *c);
    if (!c) return HOMI_ENOMEM;
    c->s = s;
    c->sock = fd;
    c->sq_efd = c->cq_efd = -1;
    c->pid = pid;
    c->uid = uid;
    c->nfiles_max = s->o.max_files;
    c->fast_max = s->o.fast_max;
    c->files = calloc(c->nfiles_max, sizeof *c->files);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->idle, NULL);
    pthread_rwlock_init(&c->frw, NULL);
    if (!c->files) {
        conn_free(c);
        return HOMI_ENOMEM;
    }
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    c->sh.wake_efd = -1;
    pthread_mutex_lock(&s->lock);
    struct homid_acct *ua = homid_acct_get(s, 0, uid, NULL);
    c->sh.weight = ua && ua->weight ? ua->weight : 1;
    homid_share_join(s, &c->sh);
    c->next = s->conns;
    s->conns = c;
    s->nconns++;
    int rc = pthread_create(&th, &a, conn_thread, c);
    if (rc) {
        s->conns = c->next;
        s->nconns--;
        homid_share_forget(s, &c->sh);
    }
    pthread_mutex_unlock(&s->lock);
    pthread_attr_destroy(&a);
    if (rc) {
        c->sock = -1; /* the caller closes it */
        conn_free(c);
        return HOMI_ESYS;
    }
    return HOMI_OK;
}
