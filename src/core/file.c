/* file.c - open/close, the process-wide handle table (handles are checked,
 * never dereferenced raw: a closed handle gives HOMI_EBADF), file size,
 * accounting, and keeping the extent map current (writes: api_write.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/homid_client.h"
#include "core/engine.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/wrorder.h"
#include "cplane/watch.h"

/* ---- handle table: handle = (generation << 32) | (index + 1) */
#define REG_CAP 65536u
static _Atomic(struct homi_fh *) reg_ptr[REG_CAP];
static _Atomic uint32_t reg_gen[REG_CAP];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned reg_hint;

static int reg_add(struct homi_fh *f)
{
    pthread_mutex_lock(&reg_lock);
    for (unsigned k = 0; k < REG_CAP; k++) {
        unsigned i = (reg_hint + k) % REG_CAP;
        if (atomic_load(&reg_ptr[i])) continue;
        uint32_t gen = atomic_load(&reg_gen[i]) + 1;
        if (!gen) gen = 1;
        atomic_store(&reg_gen[i], gen);
        atomic_store(&reg_ptr[i], f);
        f->reg = (int)i;
        f->handle = ((uint64_t)gen << 32) | (i + 1);
        reg_hint = i + 1;
        pthread_mutex_unlock(&reg_lock);
        return 0;
    }
    pthread_mutex_unlock(&reg_lock);
    return HOMI_EBUSY;
}

static void reg_del(struct homi_fh *f)
{
    pthread_mutex_lock(&reg_lock);
    atomic_store(&reg_gen[f->reg], atomic_load(&reg_gen[f->reg]) + 1);
    atomic_store(&reg_ptr[f->reg], NULL);
    pthread_mutex_unlock(&reg_lock);
}

struct homi_fh *homi_file_lookup(homi_file *handle)
{
    uint64_t h = (uint64_t)(uintptr_t)handle;
    uint32_t idx = (uint32_t)h, gen = (uint32_t)(h >> 32);
    if (idx == 0 || idx > REG_CAP) return NULL;
    idx--;
    struct homi_fh *f = atomic_load(&reg_ptr[idx]);
    if (!f || atomic_load(&reg_gen[idx]) != gen) return NULL;
    return f;
}

/* ---- open / close */

static void dio_alignment(struct homi_fh *f)
{
    struct statx stx;
    f->dio_mem_align = f->dio_off_align = 0;
    if (statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN)) {
        f->dio_mem_align = stx.stx_dio_mem_align;
        f->dio_off_align = stx.stx_dio_offset_align;
        return; /* 0 means: no O_DIRECT on this file */
    }
    f->dio_mem_align = f->dio_off_align = 4096; /* conservative where statx cannot tell */
}

static void open_direct(struct homi_fh *f, int oflags)
{
    f->dfd = -1;
    dio_alignment(f);
    if (!f->dio_off_align) return;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
    f->dfd = open(proc, (oflags & ~(O_CREAT | O_TRUNC)) | O_DIRECT | O_CLOEXEC);
    if (f->dfd < 0)
        homi_log(HOMI_LOG_INFO, "%s: O_DIRECT not available (%s)", f->path, strerror(errno));
}

static int slot_alloc(struct homi_engine *e, struct homi_fh *f)
{
    pthread_mutex_lock(&e->files_lock);
    for (unsigned i = 0; i < e->cfg.max_files; i++)
        if (!e->files[i]) {
            e->files[i] = f;
            f->slot = (int)i;
            e->nfiles++;
            pthread_mutex_unlock(&e->files_lock);
            return 0;
        }
    pthread_mutex_unlock(&e->files_lock);
    return HOMI_EBUSY;
}

static void slot_free(struct homi_engine *e, struct homi_fh *f)
{
    pthread_mutex_lock(&e->files_lock);
    e->files[f->slot] = NULL;
    e->nfiles--;
    pthread_mutex_unlock(&e->files_lock);
}

static void fh_free(struct homi_fh *f)
{
    if (f->watch) homi_watch_release(f->eng->watcher, f->watch);
    if (f->dfd >= 0) close(f->dfd);
    if (f->fd >= 0) close(f->fd);
    homi_extmap_free(&f->map);
    pthread_mutex_destroy(&f->map_lock);
    homi_wr_fini(f);
    free(f->path);
    free(f);
}

int homi_open(homi_engine *eng, const char *path, unsigned flags, homi_file **out)
{
    if (!eng || !path || !out || !*path) return HOMI_EINVAL;
    if (flags & ~(unsigned)(HOMI_RDWR | HOMI_CREATE | HOMI_TRUNC)) return HOMI_EINVAL;
    if ((flags & (HOMI_CREATE | HOMI_TRUNC)) && !(flags & HOMI_RDWR)) return HOMI_EINVAL;
    *out = NULL;
    int oflags = (flags & HOMI_RDWR) ? O_RDWR : O_RDONLY;
    if (flags & HOMI_CREATE) oflags |= O_CREAT;
    if (flags & HOMI_TRUNC) oflags |= O_TRUNC;

    struct homi_fh *f = calloc(1, sizeof *f);
    if (!f) return HOMI_ENOMEM;
    f->eng = eng;
    f->flags = flags;
    f->fd = f->dfd = -1;
    f->slot = -1;
    f->path_pref = HOMI_PATH_AUTO;
    pthread_mutex_init(&f->map_lock, NULL);
    homi_wr_init(f);
    f->path = strdup(path);
    int rc = HOMI_OK;
    if (!f->path) {
        rc = HOMI_ENOMEM;
        goto fail;
    }
    /* O_NONBLOCK so that a FIFO or device cannot block the open; cleared
     * below once the file is known to be regular (io_uring would otherwise
     * return EAGAIN instead of waiting for the storage). */
    f->fd = open(path, oflags | O_CLOEXEC | O_NONBLOCK, 0644);
    if (f->fd < 0) {
        rc = homi_err_from_errno(errno);
        homi_log(HOMI_LOG_DEBUG, "open %s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(f->fd, &st)) {
        rc = homi_err_from_errno(errno);
        goto fail;
    }
    if (S_ISREG(st.st_mode) && fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK)) {
        rc = homi_err_from_errno(errno);
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = HOMI_EISDIR;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = HOMI_ENOTREG;
        goto fail;
    }
    open_direct(f, oflags);
    f->watch = homi_watch_add(eng->watcher, f->fd);
    if ((rc = slot_alloc(eng, f))) goto fail;
    if ((rc = reg_add(f))) {
        slot_free(eng, f);
        goto fail;
    }
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        struct homi_path_inst *pi = &eng->paths[p];
        if (pi->ok && pi->ops->file_open && (rc = pi->ops->file_open(pi->state, f))) {
            for (int q = 0; q < p; q++)
                if (eng->paths[q].ok && eng->paths[q].ops->file_close)
                    eng->paths[q].ops->file_close(eng->paths[q].state, f);
            reg_del(f);
            slot_free(eng, f);
            goto fail;
        }
    }
    if (eng->client) homi_client_file_open(eng->client, f);
    HOMI_DEBUG("open %s: slot %d, O_DIRECT %s (align mem %u off %u)", path, f->slot,
               f->dfd >= 0 ? "yes" : "no", f->dio_mem_align, f->dio_off_align);
    *out = (homi_file *)(uintptr_t)f->handle;
    return HOMI_OK;
fail:
    fh_free(f);
    return rc;
}

/* Release a file: waits for its reads, unregisters it, frees it. */
void homi_file_release(struct homi_fh *f);
void homi_file_release(struct homi_fh *f)
{
    struct homi_engine *eng = f->eng;
    reg_del(f);
    while (atomic_load(&f->inflight)) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    if (eng->client) homi_client_file_close(eng->client, f);
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        struct homi_path_inst *pi = &eng->paths[p];
        if (pi->ok && pi->ops->file_close) pi->ops->file_close(pi->state, f);
    }
    slot_free(eng, f);
    fh_free(f);
}

int homi_close(homi_file *handle)
{
    if (!handle) return HOMI_OK;
    struct homi_fh *f = homi_file_lookup(handle);
    if (!f) return HOMI_EBADF;
    homi_file_release(f);
    return HOMI_OK;
}

int64_t homi_file_size(homi_file *handle)
{
    struct homi_fh *f = homi_file_lookup(handle);
    if (!f) return HOMI_EBADF;
    struct stat st;
    if (fstat(f->fd, &st)) return homi_err_from_errno(errno);
    return (int64_t)st.st_size;
}

int homi_file_stats(homi_file *handle, homi_stats *out)
{
    struct homi_fh *f = homi_file_lookup(handle);
    if (!f) return HOMI_EBADF;
    if (!out) return HOMI_EINVAL;
    homi_stats_snapshot(&f->stats, out);
    return HOMI_OK;
}

/* ---- accounting shared by every path */

void homi_fh_fallback(struct homi_fh *f, int reason)
{
    homi_stats_fallback(&f->stats, reason);
    homi_stats_fallback(&f->eng->stats, reason);
}

void homi_fh_account(struct homi_fh *f, int path, uint64_t bytes, uint64_t ns)
{
    homi_stats_path(&f->stats, path, bytes, ns);
    homi_stats_path(&f->eng->stats, path, bytes, ns);
}

void homi_fh_account_write(struct homi_fh *f, int path, uint64_t bytes, uint64_t ns)
{
    homi_stats_write_path(&f->stats, path, bytes, ns);
    homi_stats_write_path(&f->eng->stats, path, bytes, ns);
}

/* ---- writes and extent-map freshness */

void homi_file_invalidate(struct homi_fh *f)
{
    pthread_mutex_lock(&f->map_lock);
    f->map_valid = 0;
    pthread_mutex_unlock(&f->map_lock);
}

static int same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
           a->st_blocks == b->st_blocks;
}

int homi_file_changed_since(struct homi_fh *f, uint64_t seen, const struct stat *st0)
{
    uint64_t changes = homi_watch_changes(f->eng->watcher, f->watch);
    struct stat st;
    if (fstat(f->fd, &st)) return 1;
    return changes != seen || !same_stat(&st, st0);
}

void homi_file_refresh_map(struct homi_fh *f)
{
    struct homi_engine *eng = f->eng;
    uint64_t changes = homi_watch_changes(eng->watcher, f->watch);
    struct stat st;
    if (fstat(f->fd, &st)) {
        f->map_valid = 0;
        return;
    }
    if (f->map_valid && changes == f->map_seen && same_stat(&st, &f->map_st)) return;
    if (f->map_failed) { /* no FIEMAP here: only track the size */
        f->map.file_size = (uint64_t)st.st_size;
        f->map_st = st;
        return;
    }
    if (f->map_valid) {
        homi_fh_fallback(f, HOMI_FB_MAP_STALE);
        HOMI_DEBUG("%s changed: rebuilding extent map", f->path);
    }
    int rc = homi_extmap_build(f->fd, f->map_sync, &f->map);
    if (rc) {
        f->map_failed = 1;
        f->map_valid = 0;
        homi_extmap_free(&f->map);
        f->map.file_size = (uint64_t)st.st_size;
        f->map_st = st;
        homi_fh_fallback(f, HOMI_FB_MAP_FAILED);
        homi_log(HOMI_LOG_INFO, "%s: no extent map (%s): holes are read, not skipped", f->path,
                 strerror(-rc));
        return;
    }
    f->map.version++;
    f->map_valid = 1;
    f->map_seen = changes;
    f->map_st = st;
    atomic_fetch_add(&f->stats.map_builds, 1);
    atomic_fetch_add(&eng->stats.map_builds, 1);
}
