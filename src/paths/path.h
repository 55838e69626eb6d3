/* path.h - the one vtable every I/O path implements (struct homi_path_ops)
 * and the per-engine instance of a path. */
#ifndef HOMI_PATHS_PATH_H
#define HOMI_PATHS_PATH_H

#include <stddef.h>

struct homi_engine;
struct homi_fh;
struct homi_chunk;

struct homi_path_ops {
    int id; /* homi_path_id */
    const char *name;
    /* Set up the path for an engine; 0 or a negative homi_err with the
     * reason written to why (the path is then unavailable, and requests
     * for it fall back to kernel, counted). */
    int (*init)(struct homi_engine *eng, void **state, char *why, size_t whylen);
    void (*fini)(void *state);
    /* A file was opened / is being closed (no chunk in flight). */
    int (*file_open)(void *state, struct homi_fh *f);
    void (*file_close)(void *state, struct homi_fh *f);
    /* Queue chunks; each is completed later with homi_chunk_complete(). */
    void (*submit)(void *state, struct homi_chunk **chunks, size_t n);
    /* Optional: serve one chunk on the calling thread (synchronous reads
     * of a single chunk, where a hand-off to a worker would cost more than
     * the read).  Returns 1 when it completed the chunk, 0 to decline (the
     * caller then uses submit). */
    int (*run_inline)(void *state, struct homi_chunk *c);
    /* Optional: a thread waiting for its synchronous request helps: serve,
     * on the calling thread, one chunk for which mine(chunk, arg) is true
     * and that a worker has not taken yet (it sits first in the inbox of a
     * worker that has not woken up).  1 when it served one, 0 when none. */
    int (*help)(void *state, int (*mine)(const struct homi_chunk *c, void *arg), void *arg);
    /* Optional: can file f be served by this path?  1 yes; 0 no, with the
     * reason in why.  Without it, every file of an available path can. */
    int (*file_status)(void *state, struct homi_fh *f, char *why, size_t whylen);
    /* Optional: 1 when the path has no queue for f's reads right now (the
     * delegated path's queue pairs are all granted to others); its chunks
     * then go to the kernel path, counted as HOMI_FB_QUEUE_BUSY. */
    int (*busy)(void *state, struct homi_fh *f);
};

struct homi_path_inst {
    const struct homi_path_ops *ops; /* NULL: not built in */
    void *state;
    int ok;        /* initialised and usable */
    char why[160]; /* why not, when !ok      */
};

extern const struct homi_path_ops homi_path_kernel_ops;
/* Worker rings the kernel path runs for cfg (homi_threads, 0 = per CPU). */
struct homi_config;
unsigned homi_kernel_threads(const struct homi_config *cfg);
extern const struct homi_path_ops homi_path_cufile_ops;
extern const struct homi_path_ops homi_path_passthru_ops;
extern const struct homi_path_ops homi_path_delegated_ops;

/* Fill eng->paths for every path built into this library. */
void homi_paths_init(struct homi_engine *eng);
void homi_paths_fini(struct homi_engine *eng);

#endif
