/* share.c - what each homid client may hold: shared-region grants within
 * the per-user, per-job and node limits (a client that asks for more gets
 * less, or is refused with the reason when nothing is left), the usage
 * accounts per uid and job that homictl lists, and the node's budget of
 * request bytes in flight, shared between clients by weight so that one
 * client's flood cannot queue the engine full in front of another's reads,
 * and a virtual-time gate so that busy clients' bytes follow their weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/homid.h"

struct homid_acct *homid_acct_get(struct homid_server *s, int is_job, uid_t uid, const char *job)
{
    if (is_job && (!job || !*job)) return NULL;
    for (struct homid_acct *a = s->accts; a; a = a->next)
        if (a->is_job == is_job && (is_job ? !strcmp(a->job, job) : a->uid == uid)) return a;
    struct homid_acct *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->is_job = is_job;
    a->uid = uid;
    if (is_job) snprintf(a->job, sizeof a->job, "%s", job);
    a->next = s->accts;
    s->accts = a;
    return a;
}

static uint64_t room(uint64_t limit, uint64_t used)
{
    return !limit ? UINT64_MAX : used >= limit ? 0 : limit - used;
}

int homid_grant(struct homid_server *s, uid_t uid, const char *job, uint64_t want, uint64_t min,
                uint64_t unit, uint64_t *granted, char *why, size_t whylen)
{
    struct homid_acct *u = homid_acct_get(s, 0, uid, NULL), *j = homid_acct_get(s, 1, uid, job);
    if (!u) {
        snprintf(why, whylen, "out of memory");
        return HOMI_EBUSY;
    }
    uint64_t free_b = room(s->lim.node_shm, s->shm_used);
    const char *by = "the node";
    uint64_t lim = s->lim.node_shm;
    if (room(s->lim.user_shm, u->shm) < free_b) {
        free_b = room(s->lim.user_shm, u->shm);
        by = "the user";
        lim = s->lim.user_shm;
    }
    if (j && room(s->lim.job_shm, j->shm) < free_b) {
        free_b = room(s->lim.job_shm, j->shm);
        by = "the job";
        lim = s->lim.job_shm;
    }
    uint64_t g = want < free_b ? want : free_b;
    g -= g % unit;
    if (g < min) {
        snprintf(why, whylen,
                 "no room for a client: %s's shared-memory limit is %llu MiB, %llu MiB free, "
                 "%llu KiB needed at least",
                 by, (unsigned long long)(lim >> 20), (unsigned long long)(free_b >> 20),
                 (unsigned long long)(min >> 10));
        u->refused++;
        if (j) j->refused++;
        s->refused_busy++;
        return HOMI_EBUSY;
    }
    u->shm += g;
    if (j) j->shm += g;
    s->shm_used += g;
    *granted = g;
    return 0;
}

void homid_ungrant(struct homid_server *s, uid_t uid, const char *job, uint64_t bytes)
{
    struct homid_acct *u = homid_acct_get(s, 0, uid, NULL), *j = homid_acct_get(s, 1, uid, job);
    if (u) u->shm -= bytes < u->shm ? bytes : u->shm;
    if (j) j->shm -= bytes < j->shm ? bytes : j->shm;
    s->shm_used -= bytes < s->shm_used ? bytes : s->shm_used;
}

/* ---------------------------------------------------------------- in-flight budget */

static void wake_all(struct homid_server *s)
{
    uint64_t one = 1;
    for (struct homid_share *w = s->waiters; w; w = w->wnext) {
        w->waiting = 0;
        (void)!write(w->wake_efd, &one, sizeof one);
    }
    s->waiters = NULL;
}

/* Virtual time: weight-1 bytes x VT_SCALE / weight.  A client is busy while
 * it has requests in flight or waiting in its ring (taken or not); only busy
 * clients hold others back, so one that asks for less than its share (a
 * reader of small blocks one at a time) never slows the others down. */
#define VT_SCALE 1024ull
#define VT_LEAD (4ull << 20) * VT_SCALE /* 4 MiB of weight-1 service */
#define RETRY_MS 2                      /* a refused client asks again at least this often */

static int busy(const struct homid_share *o)
{
    return o->inflight || o->backlog || o->queued || o->pending;
}

/* Least virtual time of the busy clients other than sh (UINT64_MAX: none). */
static uint64_t vt_floor(struct homid_server *s, const struct homid_share *sh)
{
    uint64_t m = UINT64_MAX;
    for (struct homid_share *o = s->shares; o; o = o->anext)
        if (o != sh && busy(o) && o->vtime < m) m = o->vtime;
    return m;
}

void homid_share_join(struct homid_server *s, struct homid_share *sh)
{
    pthread_mutex_lock(&s->share_lock);
    sh->anext = s->shares;
    s->shares = sh;
    pthread_mutex_unlock(&s->share_lock);
}

int homid_share_retry_ms(struct homid_server *s, struct homid_share *sh)
{
    pthread_mutex_lock(&s->share_lock);
    int w = sh->waiting;
    pthread_mutex_unlock(&s->share_lock);
    return w ? RETRY_MS : -1;
}

int homid_share_admit(struct homid_server *s, struct homid_share *sh, uint64_t len, uint32_t queued)
{
    pthread_mutex_lock(&s->share_lock);
    int ok = 1;
    if (s->lim.inflight) { /* inflight 0: no budget, no gate */
        uint64_t floor = vt_floor(s, sh);
        if (!busy(sh) && floor != UINT64_MAX && sh->vtime < floor)
            sh->vtime = floor; /* back from idle: level with the busy ones */
        ok = floor == UINT64_MAX || sh->vtime <= floor + VT_LEAD;
        if (ok && sh->inflight) {
            uint64_t budget = s->lim.inflight;
            uint64_t share = budget * sh->weight / (s->active_weight ? s->active_weight : 1);
            ok = sh->inflight + len <= share && s->inflight + len <= budget;
        }
        if (ok) sh->vtime += len * VT_SCALE / (sh->weight ? sh->weight : 1);
    }
    sh->queued = ok ? queued - 1 : queued;
    if (ok) {
        if (!sh->inflight) s->active_weight += sh->weight;
        sh->inflight += len;
        s->inflight += len;
        sh->backlog = 0;
    } else {
        sh->backlog = 1;
        if (!sh->waiting) {
            sh->waiting = 1;
            sh->wnext = s->waiters;
            s->waiters = sh;
        }
    }
    pthread_mutex_unlock(&s->share_lock);
    return ok;
}

void homid_share_done(struct homid_server *s, struct homid_share *sh, uint64_t len)
{
    pthread_mutex_lock(&s->share_lock);
    if (len > sh->inflight) len = sh->inflight;
    sh->inflight -= len;
    s->inflight -= len < s->inflight ? len : s->inflight;
    if (!sh->inflight) s->active_weight -= sh->weight;
    if (s->waiters) wake_all(s);
    pthread_mutex_unlock(&s->share_lock);
}

void homid_share_weight(struct homid_server *s, struct homid_share *sh, unsigned w)
{
    if (!w) w = 1;
    pthread_mutex_lock(&s->share_lock);
    if (sh->inflight) s->active_weight = s->active_weight - sh->weight + w;
    sh->weight = w;
    if (s->waiters) wake_all(s);
    pthread_mutex_unlock(&s->share_lock);
}

void homid_share_pending(struct homid_server *s, struct homid_share *sh, int delta)
{
    pthread_mutex_lock(&s->share_lock);
    if (delta < 0 && (unsigned)-delta > sh->pending)
        sh->pending = 0;
    else
        sh->pending += (unsigned)delta;
    pthread_mutex_unlock(&s->share_lock);
}

void homid_share_forget(struct homid_server *s, struct homid_share *sh)
{
    pthread_mutex_lock(&s->share_lock);
    for (struct homid_share **pp = &s->waiters; *pp; pp = &(*pp)->wnext)
        if (*pp == sh) {
            *pp = sh->wnext;
            break;
        }
    for (struct homid_share **pp = &s->shares; *pp; pp = &(*pp)->anext)
        if (*pp == sh) {
            *pp = sh->anext;
            break;
        }
    sh->waiting = 0;
    sh->backlog = 0;
    sh->queued = 0;
    sh->pending = 0;
    if (sh->inflight) {
        s->active_weight -= sh->weight;
        s->inflight -= sh->inflight < s->inflight ? sh->inflight : s->inflight;
        sh->inflight = 0;
    }
    if (s->waiters) wake_all(s); /* it may have been the one they waited for */
    pthread_mutex_unlock(&s->share_lock);
}
