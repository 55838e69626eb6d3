/* engine_cache.c - the process's shared engines: homi_engine_acquire,
 * homi_engine_release, homi_engine_cache_flush.  One engine per distinct
 * configuration, reference counted; an engine nobody holds stays warm
 * (rings, threads, pinned staging pool, CUDA streams) for the next file a
 * front-end opens, up to HOMI_ENGINE_CACHE_IDLE idle engines (or the
 * environment's HOMI_ENGINE_CACHE_IDLE). */
#include <pthread.h>
#include <stdlib.h>

#include "core/config.h"
#include "core/log.h"
#include "homi.h"

struct cached {
    struct homi_config cfg; /* what it was asked for */
    homi_engine *eng;
    unsigned refs;
    unsigned long long released; /* release order: the oldest idle goes first */
    struct cached *next;
};

/* HOMI_ENGINE_CACHE_IDLE overrides the number of idle engines kept (0:
 * destroy an engine at its last release); a bad value is logged once. */
static unsigned idle_limit(void)
{
    static int warned;
    const char *v = getenv("HOMI_ENGINE_CACHE_IDLE");
    if (!v || !*v) return HOMI_ENGINE_CACHE_IDLE;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || *v == '-' || n > 1024) {
        if (!warned++)
            homi_log(HOMI_LOG_WARN,
                     "environment HOMI_ENGINE_CACHE_IDLE=\"%s\": expected 0..1024; using %d", v,
                     HOMI_ENGINE_CACHE_IDLE);
        return HOMI_ENGINE_CACHE_IDLE;
    }
    return (unsigned)n;
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached *cache;
static unsigned long long release_tick;

/* With cache_lock held. */
static struct cached *by_cfg(const struct homi_config *cfg)
{
    for (struct cached *c = cache; c; c = c->next)
        if (homi_config_same(&c->cfg, cfg)) return c;
    return NULL;
}

/* With cache_lock held: a new reference to the engine for cfg, or NULL. */
static homi_engine *take_ref(const struct homi_config *cfg)
{
    struct cached *c = by_cfg(cfg);
    if (!c) return NULL;
    c->refs++;
    return c->eng;
}

static void destroy_list(struct cached *c)
{
    while (c) {
        struct cached *n = c->next;
        homi_engine_destroy(c->eng);
        free(c);
        c = n;
    }
}

/* With cache_lock held: unlink idle engines (the least recently released
 * first) until at most keep are left; returns the unlinked ones. */
static struct cached *trim_idle(unsigned keep, int *count)
{
    struct cached *out = NULL;
    *count = 0;
    for (;;) {
        unsigned idle = 0;
        struct cached **oldest = NULL;
        for (struct cached **pp = &cache; *pp; pp = &(*pp)->next)
            if (!(*pp)->refs) {
                idle++;
                if (!oldest || (*pp)->released < (*oldest)->released) oldest = pp;
            }
        if (idle <= keep) return out;
        struct cached *c = *oldest;
        *oldest = c->next;
        c->next = out;
        out = c;
        (*count)++;
    }
}

int homi_engine_acquire(const homi_config *cfg, homi_engine **out)
{
    if (!out) return HOMI_EINVAL;
    *out = NULL;
    struct homi_config dflt;
    if (!cfg) { /* as homi_engine_create(NULL) */
        int rc = homi_config_defaults_env(&dflt);
        if (rc) return rc;
        cfg = &dflt;
    }
    pthread_mutex_lock(&cache_lock);
    *out = take_ref(cfg);
    pthread_mutex_unlock(&cache_lock);
    if (*out) return HOMI_OK;
    /* create outside the lock: it starts threads and may log */
    struct cached *n = calloc(1, sizeof *n);
    int rc = n ? homi_engine_create(cfg, &n->eng) : HOMI_ENOMEM;
    if (rc) {
        free(n);
        return rc;
    }
    n->cfg = *cfg;
    n->refs = 1;
    pthread_mutex_lock(&cache_lock);
    if (!(*out = take_ref(cfg))) { /* no other thread created one meanwhile */
        n->next = cache;
        cache = n;
        *out = n->eng;
    }
    pthread_mutex_unlock(&cache_lock);
    if (*out != n->eng) {
        homi_engine_destroy(n->eng);
        free(n);
    }
    return HOMI_OK;
}

void homi_engine_release(homi_engine *eng)
{
    if (!eng) return;
    struct cached *gone = NULL;
    int n = 0;
    pthread_mutex_lock(&cache_lock);
    struct cached *c = cache;
    while (c && c->eng != eng)
        c = c->next;
    int held = c && c->refs;
    if (held && --c->refs == 0) {
        c->released = ++release_tick;
        gone = trim_idle(idle_limit(), &n);
    }
    pthread_mutex_unlock(&cache_lock);
    if (!held)
        homi_log(HOMI_LOG_ERROR,
                 "homi_engine_release: engine %p is not held (not acquired, or "
                 "released once too often)",
                 (void *)eng);
    destroy_list(gone);
}

int homi_engine_cache_flush(void)
{
    int n = 0;
    pthread_mutex_lock(&cache_lock);
    struct cached *gone = trim_idle(0, &n);
    pthread_mutex_unlock(&cache_lock);
    destroy_list(gone);
    return n;
}
