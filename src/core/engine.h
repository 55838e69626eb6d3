/* engine.h - internal engine, file, request (op) and sub-request (chunk)
 * structures: the one request/completion model every path plugs into.
 *
 * A user read becomes one homi_op.  The planner splits it into hole
 * segments (zero-filled at once) and chunks; each chunk is handed to one
 * path's submit(); the path calls homi_chunk_complete() exactly once per
 * chunk.  When the last chunk completes the op completes: a synchronous
 * caller is woken, an asynchronous op is queued on the engine's completion
 * queue for homi_poll/homi_wait. */
#ifndef HOMI_CORE_ENGINE_H
#define HOMI_CORE_ENGINE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/stats.h"
#include "cplane/extmap.h"
#include "homi.h"
#include "paths/path.h"

struct homi_watcher;
struct homi_watch;
struct homi_wrange;
struct homi_fh;
struct homi_client;

struct homi_chunk {
    struct homi_op *op;
    uint64_t off;   /* file offset of the user bytes       */
    uint32_t len;   /* user bytes wanted                   */
    uint32_t done;  /* user bytes delivered so far         */
    char *dst;      /* user memory for this chunk          */
    int path;       /* homi_path_id serving it             */
    int direct;     /* use the O_DIRECT descriptor         */
    int bounce;     /* O_DIRECT window read into a bounce  */
    int slot;       /* bounce slot while in flight, or -1  */
    uint64_t woff;  /* bounce: aligned window offset        */
    uint32_t wlen;  /* bounce: aligned window length        */
    uint32_t wdone; /* bounce: window bytes read so far     */
    uint64_t t0;    /* submit time, ns                     */
    /* bytes of this chunk its path already accounted to other paths
     * (passthrough: holes, kernel pieces), and those paths' bits */
    uint32_t acct_other;
    unsigned other_mask;
    int want; /* daemon route: the path asked of homid (or HOMI_PATH_AUTO) */
    struct homi_chunk *next;
};

struct homi_op {
    struct homi_engine *eng;
    struct homi_fh *file;
    uint64_t user_data;
    int64_t off;
    uint64_t len;
    atomic_uint pending;       /* chunks not completed yet             */
    _Atomic uint64_t short_at; /* smallest user-relative end of data    */
    atomic_int err;            /* first error (homi_err) or 0          */
    atomic_uint path_mask;
    int mode;               /* HOMI_RD_* */
    int write;              /* a write op (write.c): chunks write c->dst to the file */
    struct homi_wrange *wr; /* write: its entry in the file's in-flight list, ended at completion */
    void (*cb)(void *arg, int64_t result, unsigned path_mask);
    void *cb_arg;
    sem_t done;     /* sync ops: posted on completion       */
    int64_t result; /* sync ops: filled on completion       */
    struct homi_chunk chunks[];
};

struct homi_fh {
    struct homi_engine *eng;
    uint64_t handle; /* the encoded value handed to the user   */
    int reg;         /* index in the process-wide handle table */
    int fd;          /* buffered descriptor                    */
    int dfd;         /* O_DIRECT descriptor or -1              */
    unsigned flags;
    int slot; /* index in the engine's file table       */
    char *path;
    unsigned dio_mem_align, dio_off_align;
    atomic_uint inflight; /* ops not completed                      */

    pthread_mutex_t map_lock;
    struct homi_extmap map;
    int map_valid;
    int map_failed; /* FIEMAP unsupported: plan without holes   */
    struct stat map_st;
    uint64_t map_seen; /* watch change counter at build time     */
    struct homi_watch *watch;

    int map_sync;  /* build maps with FIEMAP_FLAG_SYNC (raw reads need it) */
    int path_pref; /* per-file homi_path hint, HOMI_PATH_AUTO: engine's  */

    uint32_t dmn_id;  /* file id at homid, 0: not served by homid */
    uint32_t dmn_gen; /* the connection (homi_client generation) dmn_id belongs to */

    struct homi_stats_acc stats;
    void *path_priv[HOMI_PATH_COUNT]; /* per-path per-file state (e.g. cuFile handle) */

    /* writes in flight, for ordering (core/wrorder.c) */
    pthread_mutex_t wr_lock;
    pthread_cond_t wr_cond;
    struct homi_wrange *wr_list;
    uint64_t wr_seq;
    atomic_uint wr_count; /* entries in wr_list: reads skip the lock at 0 */
};

struct homi_staging;

struct homi_engine {
    struct homi_config cfg;
    struct homi_path_inst paths[HOMI_PATH_COUNT];
    struct homi_watcher *watcher;
    struct homi_stats_acc stats;

    pthread_mutex_t files_lock;
    struct homi_fh **files; /* cfg.max_files slots (fixed-file index) */
    unsigned nfiles;

    /* completion queue for asynchronous ops */
    pthread_mutex_t cq_lock;
    pthread_cond_t cq_cond;
    homi_completion *cq;
    size_t cq_head, cq_count, cq_cap;
    atomic_uint inflight; /* async ops submitted and not yet collected */

    struct homi_staging *staging; /* device-destination pipeline (CUDA builds) */
    struct homi_client *client;   /* connection to homid, or NULL (in-process) */
};

/* Called by paths, exactly once per chunk: res = bytes delivered for the
 * chunk (may be short only at EOF) or a negative homi_err. */
void homi_chunk_complete(struct homi_chunk *c, int64_t res);

/* Drop one reference of op->pending; the last one completes the op
 * (read.c: sync wake-up, completion queue or callback). */
void homi_op_put(struct homi_op *op);

/* Count a fallback / bytes served by a path, for the file and its engine. */
void homi_fh_fallback(struct homi_fh *f, int reason);
void homi_fh_account(struct homi_fh *f, int path, uint64_t bytes, uint64_t ns);
/* The same for bytes a path wrote to the file. */
void homi_fh_account_write(struct homi_fh *f, int path, uint64_t bytes, uint64_t ns);

/* Look up a user handle; NULL when closed or foreign. */
struct homi_fh *homi_file_lookup(homi_file *handle);
/* Bring the file's extent map up to date (caller holds f->map_lock). */
void homi_file_refresh_map(struct homi_fh *f);
/* Has the file changed since a map was built with changes counter seen
 * and stat st?  (Drains change notifications; caller holds f->map_lock.) */
int homi_file_changed_since(struct homi_fh *f, uint64_t seen, const struct stat *st);
/* Record that the file changed through this engine (writes). */
void homi_file_invalidate(struct homi_fh *f);

/* One internal read request (front-ends and the staging pipeline). */
enum { HOMI_RD_SYNC = 0, HOMI_RD_CQ = 1, HOMI_RD_CB = 2 };
struct homi_rd {
    void *buf;
    uint64_t len;
    int64_t off;
    int mode;           /* HOMI_RD_*                                       */
    int path;           /* HOMI_PATH_AUTO: choose (engine hint / opts)     */
    uint64_t chunk;     /* split size, multiple of 4K; 0: homi_chunk_size  */
    uint64_t user_data; /* HOMI_RD_CQ                                      */
    void (*cb)(void *arg, int64_t result, unsigned path_mask); /* HOMI_RD_CB */
    void *cb_arg;
};

/* Build and dispatch an op.  SYNC ops are waited for (result in *result);
 * CQ ops complete on the engine queue; CB ops call rd->cb from whichever
 * thread completes them.  Returns HOMI_OK or a negative homi_err (then
 * nothing was started). */
int homi_read_start(struct homi_fh *f, const struct homi_rd *rd, int64_t *result);

/* A synchronous caller's wait on done (read.c): meanwhile, with
 * homi_sync_help, it serves on its own thread the chunks of path for which
 * mine(chunk, arg) is true and that no worker has taken yet (the path's
 * help op), so a worker that wakes late does not hold the request back. */
void homi_sync_wait(struct homi_engine *e, int path, sem_t *done,
                    int (*mine)(const struct homi_chunk *c, void *arg), void *arg);

/* The same for a write of rd->buf (host or pinned memory) to the file,
 * always on the kernel path (write.c).  wr: the request's entry in the
 * file's in-flight list (wrorder.h), ended when the op completes, or NULL.
 * The result is the written prefix (see homi.h). */
int homi_write_start(struct homi_fh *f, const struct homi_rd *rd, struct homi_wrange *wr,
                     int64_t *result);
/* homi_submit's HOMI_IO_WRITE requests (api_write.c): validate (and
 * resolve the source memory), then issue one. */
int homi_write_prepare(struct homi_fh *f, const homi_io *io, int *device);
int homi_write_submit_io(struct homi_fh *f, const homi_io *io, int device);

#endif
