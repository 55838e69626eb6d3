/* delegated.c - the delegated path (homi_path=delegated, issue 21): reads
 * through the I/O queue pairs of an NVMe controller that the engine owns
 * through vfio-pci (include/homi_nvme.h, docs/delegation.md), named by the
 * homi_delegate hint.  One worker thread per queue pair the controller
 * grants (a homi_nvme_client each); every open file gets one
 * homi_nvme_file per worker, admitted by the owner's checks (subsystem,
 * namespace, file system, descriptor open for reading).  Chunks are spread
 * over the workers and read with homi_nvme_read, whose planner builds every
 * command from the file's extent map.  A chunk the delegated queue cannot
 * serve (the file shrank, a queue failed) is read through the file system,
 * counted.  homid started with --delegate owns the controller for every
 * client of the node, which reaches this path through homid; it grants a
 * client queue pairs of its own (homi_delegated_grant): that client's
 * files are read only on those, and the queue pairs nobody holds form the
 * shared pool that serves every other file.  With the pool empty, a file
 * without a grant is read by the kernel path, counted as queue-busy. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/errors.h"
#include "core/log.h"
#include "homi_nvme.h"
#include "paths/delegated.h"
#include "paths/path.h"

struct dworker {
    struct dpath *dp;
    unsigned idx;
    struct homi_dgrant *grant; /* its holder, NULL: the shared pool (under dp->gl) */
    pthread_t th;
    int started;
    homi_nvme_client *cl;
    pthread_mutex_t io; /* held while the client reads, opens or closes a file */
    pthread_mutex_t m;  /* the queue below */
    pthread_cond_t cv;
    struct homi_chunk *head, *tail;
    int stop;
};

struct dpath {
    struct homi_engine *eng;
    homi_nvme_owner *o;
    struct homi_nvme_info info;
    unsigned n;
    struct dworker *w;
    atomic_uint rr;
    pthread_mutex_t gl; /* grants: the workers' holders, shared[] */
    unsigned *shared, nshared;
};

/* Queue pairs held by one client (homid's connection) alone. */
struct homi_dgrant {
    unsigned n;
    unsigned idx[];
};

/* f->path_priv[HOMI_PATH_DELEGATED]: the file on each worker's queue */
struct dfile {
    struct homi_dgrant *g; /* its client's queue pairs, NULL: the shared pool */
    atomic_uint rr;
    unsigned n;
    homi_nvme_file *nf[];
};

/* A chunk through the file system (the file shrank under the delegated
 * queue, or the queue failed): its bytes count on the kernel path. */
static int64_t by_kernel(struct homi_chunk *c, int reason)
{
    struct homi_fh *f = c->op->file;
    homi_fh_fallback(f, reason);
    uint64_t t0 = homi_now_ns();
    size_t got = 0;
    while (got < c->len) {
        ssize_t r = pread(f->fd, c->dst + got, c->len - got, (off_t)(c->off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return homi_err_from_errno(errno);
        if (r == 0) break;
        got += (size_t)r;
    }
    homi_fh_account(f, HOMI_PATH_KERNEL, got, homi_now_ns() - t0);
    c->acct_other = (uint32_t)got;
    c->other_mask |= 1u << HOMI_PATH_KERNEL;
    return (int64_t)got;
}

static void serve(struct dworker *w, struct homi_chunk *c)
{
    struct dfile *df = c->op->file->path_priv[HOMI_PATH_DELEGATED];
    int64_t r = HOMI_EIO;
    if (df && w->idx < df->n && df->nf[w->idx]) {
        pthread_mutex_lock(&w->io);
        r = homi_nvme_read(df->nf[w->idx], c->dst, c->len, c->off);
        pthread_mutex_unlock(&w->io);
    }
    if (r == HOMI_ERANGE) /* past the end now: the file shrank */
        r = by_kernel(c, HOMI_FB_CHANGED_IN_FLIGHT);
    else if (r < 0)
        r = by_kernel(c, HOMI_FB_PASSTHRU_ERROR);
    homi_chunk_complete(c, r);
}

static void *worker_main(void *arg)
{
    struct dworker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->m);
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cv, &w->m);
        struct homi_chunk *c = w->head;
        if (c) {
            w->head = c->next;
            if (!w->head) w->tail = NULL;
        }
        pthread_mutex_unlock(&w->m);
        if (!c) break; /* stopped, queue empty */
        c->next = NULL;
        serve(w, c);
    }
    return NULL;
}

/* The worker for one chunk: its file's grant in turn, else the shared pool
 * in turn; NULL when every queue pair is granted to others. */
static struct dworker *pick(struct dpath *dp, struct homi_chunk *c)
{
    struct dfile *df = c->op->file->path_priv[HOMI_PATH_DELEGATED];
    if (df && df->g) return &dp->w[df->g->idx[atomic_fetch_add(&df->rr, 1) % df->g->n]];
    struct dworker *w = NULL;
    unsigned k = atomic_fetch_add(&dp->rr, 1);
    pthread_mutex_lock(&dp->gl);
    if (dp->nshared) w = &dp->w[dp->shared[k % dp->nshared]];
    pthread_mutex_unlock(&dp->gl);
    return w;
}

static void d_submit(void *state, struct homi_chunk **chunks, size_t n)
{
    struct dpath *dp = state;
    uint64_t now = homi_now_ns();
    for (size_t i = 0; i < n; i++) {
        struct homi_chunk *c = chunks[i];
        struct dworker *w = pick(dp, c);
        if (!w) { /* the last shared queue pair was granted since the path was chosen */
            homi_chunk_complete(c, by_kernel(c, HOMI_FB_QUEUE_BUSY));
            continue;
        }
        c->t0 = now;
        c->next = NULL;
        pthread_mutex_lock(&w->m);
        if (w->tail)
            w->tail->next = c;
        else
            w->head = c;
        w->tail = c;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->m);
    }
}

static int d_busy(void *state, struct homi_fh *f)
{
    struct dpath *dp = state;
    struct dfile *df = f->path_priv[HOMI_PATH_DELEGATED];
    if (df && df->g) return 0;
    pthread_mutex_lock(&dp->gl);
    int busy = dp->nshared == 0;
    pthread_mutex_unlock(&dp->gl);
    return busy;
}

/* ---------------------------------------------------------------- grants */

/* shared[] = the workers nobody holds (under gl) */
static void pool_update(struct dpath *dp)
{
    dp->nshared = 0;
    for (unsigned i = 0; i < dp->n; i++)
        if (!dp->w[i].grant) dp->shared[dp->nshared++] = i;
}

static struct dpath *dpath_of(struct homi_engine *eng)
{
    struct homi_path_inst *pi = &eng->paths[HOMI_PATH_DELEGATED];
    return pi->ok ? pi->state : NULL;
}

int homi_delegated_grant(struct homi_engine *eng, unsigned want, struct homi_dgrant **out,
                         char *why, size_t whylen)
{
    struct dpath *dp = dpath_of(eng);
    *out = NULL;
    if (!dp) {
        snprintf(why, whylen, "no delegated controller: %s", eng->paths[HOMI_PATH_DELEGATED].why);
        return HOMI_ENOTSUP;
    }
    if (!want || want > dp->n) {
        snprintf(why, whylen, "%u queue pairs asked, the controller has %u", want, dp->n);
        return HOMI_EINVAL;
    }
    struct homi_dgrant *g = malloc(sizeof *g + want * sizeof g->idx[0]);
    if (!g) return HOMI_ENOMEM;
    pthread_mutex_lock(&dp->gl);
    int rc = HOMI_OK;
    if (dp->nshared < want) {
        snprintf(why, whylen, "%u queue pairs asked, %u of %u free", want, dp->nshared, dp->n);
        rc = HOMI_EBUSY;
    } else {
        /* the last free ones: a grant leaves queue pair 1 shared longest */
        g->n = want;
        for (unsigned k = 0; k < want; k++) {
            g->idx[k] = dp->shared[dp->nshared - 1 - k];
            dp->w[g->idx[k]].grant = g;
        }
        pool_update(dp);
    }
    pthread_mutex_unlock(&dp->gl);
    if (rc) {
        free(g);
        return rc;
    }
    *out = g;
    return HOMI_OK;
}

void homi_delegated_ungrant(struct homi_engine *eng, struct homi_dgrant *g)
{
    struct dpath *dp = dpath_of(eng);
    if (!g) return;
    if (dp) {
        pthread_mutex_lock(&dp->gl);
        for (unsigned k = 0; k < g->n; k++)
            if (dp->w[g->idx[k]].grant == g) dp->w[g->idx[k]].grant = NULL;
        pool_update(dp);
        pthread_mutex_unlock(&dp->gl);
    }
    free(g);
}

unsigned homi_delegated_grant_size(const struct homi_dgrant *g)
{
    return g ? g->n : 0;
}

void homi_delegated_bind(struct homi_fh *f, struct homi_dgrant *g)
{
    struct dfile *df = f->path_priv[HOMI_PATH_DELEGATED];
    if (df) df->g = g;
}

int homi_delegated_inventory(struct homi_engine *eng, unsigned *total, unsigned *granted)
{
    struct dpath *dp = dpath_of(eng);
    if (!dp) return HOMI_ENOTSUP;
    pthread_mutex_lock(&dp->gl);
    *total = dp->n;
    *granted = dp->n - dp->nshared;
    pthread_mutex_unlock(&dp->gl);
    return HOMI_OK;
}

/* ---------------------------------------------------------------- files */

static int d_file_open(void *state, struct homi_fh *f)
{
    struct dpath *dp = state;
    struct dfile *df = calloc(1, sizeof *df + dp->n * sizeof df->nf[0]);
    if (!df) return 0; /* served by the other paths */
    df->n = dp->n;
    char why[200] = "";
    for (unsigned i = 0; i < dp->n; i++) {
        pthread_mutex_lock(&dp->w[i].io);
        int rc = homi_nvme_file_open(dp->w[i].cl, f->fd, &df->nf[i], why, sizeof why);
        pthread_mutex_unlock(&dp->w[i].io);
        if (rc) {
            HOMI_DEBUG("delegated: %s: %s", f->path, why);
            for (unsigned k = 0; k < i; k++) {
                pthread_mutex_lock(&dp->w[k].io);
                homi_nvme_file_close(df->nf[k]);
                pthread_mutex_unlock(&dp->w[k].io);
            }
            free(df);
            return 0;
        }
    }
    f->path_priv[HOMI_PATH_DELEGATED] = df;
    return 0;
}

static void d_file_close(void *state, struct homi_fh *f)
{
    struct dpath *dp = state;
    struct dfile *df = f->path_priv[HOMI_PATH_DELEGATED];
    if (!df) return;
    for (unsigned i = 0; i < df->n; i++) {
        pthread_mutex_lock(&dp->w[i].io);
        homi_nvme_file_close(df->nf[i]);
        pthread_mutex_unlock(&dp->w[i].io);
    }
    free(df);
    f->path_priv[HOMI_PATH_DELEGATED] = NULL;
}

static int d_file_status(void *state, struct homi_fh *f, char *why, size_t wl)
{
    struct dpath *dp = state;
    if (f->path_priv[HOMI_PATH_DELEGATED]) {
        snprintf(
            why, wl, "controller %s (cntlid %u), %u queue pairs of depth %u, %u KiB per command",
            dp->eng->cfg.delegate, dp->info.cntlid, dp->n, dp->info.depth, dp->info.max_xfer >> 10);
        return 1;
    }
    homi_nvme_file *nf = NULL;
    pthread_mutex_lock(&dp->w[0].io);
    int rc = homi_nvme_file_open(dp->w[0].cl, f->fd, &nf, why, wl);
    if (!rc) homi_nvme_file_close(nf);
    pthread_mutex_unlock(&dp->w[0].io);
    if (!rc) snprintf(why, wl, "usable, but not when the file was opened");
    return 0;
}

/* ---------------------------------------------------------------- engine */

static void d_fini(void *state)
{
    struct dpath *dp = state;
    for (unsigned i = 0; i < dp->n; i++) {
        struct dworker *w = &dp->w[i];
        if (w->started) {
            pthread_mutex_lock(&w->m);
            w->stop = 1;
            pthread_cond_signal(&w->cv);
            pthread_mutex_unlock(&w->m);
            pthread_join(w->th, NULL);
        }
        if (w->cl) homi_nvme_client_close(w->cl);
        pthread_mutex_destroy(&w->io);
        pthread_mutex_destroy(&w->m);
        pthread_cond_destroy(&w->cv);
    }
    free(dp->w);
    free(dp->shared);
    pthread_mutex_destroy(&dp->gl);
    if (dp->o) homi_nvme_owner_close(dp->o);
    free(dp);
}

static int d_init(struct homi_engine *eng, void **state, char *why, size_t whylen)
{
    if (!eng->cfg.delegate[0]) {
        snprintf(why, whylen,
                 "no controller delegated (homi_delegate: the PCI address of an NVMe "
                 "controller bound to vfio-pci)");
        return HOMI_ENOTSUP;
    }
    struct dpath *dp = calloc(1, sizeof *dp);
    if (!dp) return HOMI_ENOMEM;
    dp->eng = eng;
    pthread_mutex_init(&dp->gl, NULL);
    int rc = homi_nvme_owner_open(eng->cfg.delegate, NULL, &dp->o, why, whylen);
    if (!rc) rc = homi_nvme_owner_info(dp->o, &dp->info);
    if (!rc && !dp->info.io_queues) {
        snprintf(why, whylen, "%s granted no I/O queue pair", eng->cfg.delegate);
        rc = HOMI_ENOTSUP;
    }
    if (rc) {
        if (dp->o) homi_nvme_owner_close(dp->o);
        pthread_mutex_destroy(&dp->gl);
        free(dp);
        return rc;
    }
    dp->n = dp->info.io_queues;
    dp->w = calloc(dp->n, sizeof *dp->w);
    dp->shared = calloc(dp->n, sizeof *dp->shared);
    if (!dp->w || !dp->shared) {
        free(dp->w);
        free(dp->shared);
        homi_nvme_owner_close(dp->o);
        pthread_mutex_destroy(&dp->gl);
        free(dp);
        return HOMI_ENOMEM;
    }
    pool_update(dp);
    for (unsigned i = 0; i < dp->n; i++) {
        struct dworker *w = &dp->w[i];
        w->dp = dp;
        w->idx = i;
        pthread_mutex_init(&w->io, NULL);
        pthread_mutex_init(&w->m, NULL);
        pthread_cond_init(&w->cv, NULL);
    }
    for (unsigned i = 0; !rc && i < dp->n; i++) {
        rc = homi_nvme_client_open(dp->o, HOMI_NVME_QID_ANY, &dp->w[i].cl);
        if (rc) {
            snprintf(why, whylen, "queue pair %u of %s: %s", i + 1, eng->cfg.delegate,
                     homi_strerror(rc));
        } else if (pthread_create(&dp->w[i].th, NULL, worker_main, &dp->w[i])) {
            snprintf(why, whylen, "pthread_create: %s", strerror(errno));
            rc = HOMI_ESYS;
        } else {
            dp->w[i].started = 1;
        }
    }
    if (rc) {
        d_fini(dp);
        return rc;
    }
    homi_log(HOMI_LOG_INFO, "delegated path: controller %s (%s, cntlid %u), %u queue pairs of %u",
             eng->cfg.delegate, dp->info.model, dp->info.cntlid, dp->n, dp->info.depth);
    *state = dp;
    return HOMI_OK;
}

int homi_delegated_stats(struct homi_engine *eng, struct homi_nvme_stats *out)
{
    struct homi_path_inst *pi = &eng->paths[HOMI_PATH_DELEGATED];
    if (!pi->ok) return HOMI_ENOTSUP;
    homi_nvme_stats_get(((struct dpath *)pi->state)->o, out);
    return HOMI_OK;
}

const struct homi_path_ops homi_path_delegated_ops = {
    .id = HOMI_PATH_DELEGATED,
    .name = "delegated",
    .init = d_init,
    .fini = d_fini,
    .file_open = d_file_open,
    .file_close = d_file_close,
    .submit = d_submit,
    .file_status = d_file_status,
    .busy = d_busy,
};
