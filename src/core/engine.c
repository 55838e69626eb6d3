/* engine.c - engine life cycle, the asynchronous completion queue
 * (homi_submit / homi_poll / homi_wait), engine statistics. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/homid_client.h"
#include "core/engine.h"
#include "core/log.h"
#include "cplane/watch.h"
#include "mem/memkind.h"
#include "mem/staging.h"
#include "paths/cufile.h"

void homi_file_release(struct homi_fh *f);

const char *homi_version(void)
{
    return "0.1.0";
}

int homi_engine_create(const homi_config *cfg, homi_engine **out)
{
    if (!out) return HOMI_EINVAL;
    *out = NULL;
    struct homi_engine *e = calloc(1, sizeof *e);
    if (!e) return HOMI_ENOMEM;
    if (cfg) {
        e->cfg = *cfg;
    } else {
        int rc = homi_config_defaults_env(&e->cfg);
        if (rc) {
            free(e);
            return rc;
        }
    }
    homi_log_level = e->cfg.log_level;
    pthread_mutex_init(&e->files_lock, NULL);
    pthread_mutex_init(&e->cq_lock, NULL);
    pthread_cond_init(&e->cq_cond, NULL);
    e->files = calloc(e->cfg.max_files, sizeof *e->files);
    int rc = e->files ? HOMI_OK : HOMI_ENOMEM;
    if (!rc && homi_watcher_create(&e->watcher))
        homi_log(HOMI_LOG_WARN, "inotify unavailable: file changes detected by stat only");
    if (!rc) {
        homi_paths_init(e);
        if (!e->paths[HOMI_PATH_KERNEL].ok) {
            homi_log(HOMI_LOG_ERROR, "kernel path unavailable: %s", e->paths[HOMI_PATH_KERNEL].why);
            rc = HOMI_ENOTSUP;
        }
    }
    if (rc) {
        homi_engine_destroy(e);
        return rc;
    }
    homi_client_attach(e); /* homid when the environment names one */
    *out = e;
    return HOMI_OK;
}

void homi_engine_destroy(homi_engine *e)
{
    if (!e) return;
    if (e->files) {
        for (unsigned i = 0; i < e->cfg.max_files; i++) {
            pthread_mutex_lock(&e->files_lock);
            struct homi_fh *f = e->files[i];
            pthread_mutex_unlock(&e->files_lock);
            if (f) homi_file_release(f);
        }
    }
    homi_client_detach(e);
    homi_staging_destroy(e);
    homi_paths_fini(e);
    homi_watcher_destroy(e->watcher);
    free(e->files);
    free(e->cq);
    pthread_mutex_destroy(&e->files_lock);
    pthread_mutex_destroy(&e->cq_lock);
    pthread_cond_destroy(&e->cq_cond);
    free(e);
}

int homi_engine_stats(homi_engine *e, homi_stats *out)
{
    if (!e || !out) return HOMI_EINVAL;
    homi_stats_snapshot(&e->stats, out);
    return HOMI_OK;
}

/* ---- completion queue */

int homi_cq_push(struct homi_engine *e, const homi_completion *c);
int homi_cq_push(struct homi_engine *e, const homi_completion *c)
{
    pthread_mutex_lock(&e->cq_lock);
    if (e->cq_count == e->cq_cap) {
        size_t cap = e->cq_cap ? e->cq_cap * 2 : 256;
        homi_completion *n = malloc(cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&e->cq_lock);
            return HOMI_ENOMEM;
        }
        for (size_t i = 0; i < e->cq_count; i++)
            n[i] = e->cq[(e->cq_head + i) % e->cq_cap];
        free(e->cq);
        e->cq = n;
        e->cq_cap = cap;
        e->cq_head = 0;
    }
    e->cq[(e->cq_head + e->cq_count) % e->cq_cap] = *c;
    e->cq_count++;
    pthread_cond_broadcast(&e->cq_cond);
    pthread_mutex_unlock(&e->cq_lock);
    return HOMI_OK;
}

static unsigned cq_take(struct homi_engine *e, homi_completion *out, unsigned max)
{
    unsigned n = 0;
    while (n < max && e->cq_count) {
        out[n++] = e->cq[e->cq_head];
        e->cq_head = (e->cq_head + 1) % e->cq_cap;
        e->cq_count--;
    }
    atomic_fetch_sub(&e->inflight, n);
    return n;
}

int homi_poll(homi_engine *e, homi_completion *out, unsigned max)
{
    if (!e || (!out && max)) return HOMI_EINVAL;
    pthread_mutex_lock(&e->cq_lock);
    unsigned n = cq_take(e, out, max);
    pthread_mutex_unlock(&e->cq_lock);
    return (int)n;
}

int homi_wait(homi_engine *e, homi_completion *out, unsigned min, unsigned max, int timeout_ms)
{
    if (!e || !out || min > max) return HOMI_EINVAL;
    struct timespec dl;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&e->cq_lock);
    /* never wait for more completions than there are requests */
    unsigned outstanding = atomic_load(&e->inflight);
    if (min > outstanding) min = outstanding;
    while (e->cq_count < min) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&e->cq_cond, &e->cq_lock);
        } else if (pthread_cond_timedwait(&e->cq_cond, &e->cq_lock, &dl) == ETIMEDOUT) {
            break;
        }
    }
    unsigned n = cq_take(e, out, max);
    pthread_mutex_unlock(&e->cq_lock);
    return (int)n;
}

int homi_cuda_available(void)
{
    return homi_cuda_usable();
}

const char *homi_cufile_status(homi_engine *e)
{
    return e ? homi_cufile_mode(e) : "unavailable";
}

int homi_read_to_stream(homi_file *handle, void *dst, size_t len, int64_t offset, void *cuda_stream,
                        int64_t *result)
{
    struct homi_fh *f = homi_file_lookup(handle);
    if (!f) return HOMI_EBADF;
    if (!result || (!dst && len) || offset < 0) return HOMI_EINVAL;
    if (len > (size_t)INT64_MAX || (uint64_t)offset > (uint64_t)INT64_MAX - len) return HOMI_ERANGE;
    int device;
    int kind = homi_mem_resolve(dst, len ? len : 1, HOMI_MEM_DEVICE, &device);
    if (kind < 0) return kind;
    return homi_staging_stream(f, dst, len, offset, device, cuda_stream, result);
}

unsigned homi_inflight(homi_engine *e)
{
    return e ? atomic_load(&e->inflight) : 0;
}
