/* coll_int.h - declarations shared by the collective engine's files. */
#ifndef HOMI_COLL_INT_H
#define HOMI_COLL_INT_H

#include <pthread.h>
#include <string.h>

#include "coll_plan.h"
#include "homi_coll.h"

/* Read the parts of extents E[e0..] inside [ws, we) into win (window byte
 * 0 = file offset ws).  HOMI_EIO when the file is shorter than planned. */
int coll_read_window(homi_file *f, const struct coll_ext *E, size_t ne, size_t e0, int64_t ws,
                     int64_t we, char *win);
/* One aggregator window read, possibly by a helper thread so that the
 * window of the next round is read while this one is handed out. */
struct coll_prefetch {
    homi_file *file;
    const struct coll_ext *E;
    size_t ne, e0;
    int64_t ws, we;
    char *win;
    int rc;
    int threaded; /* a thread runs the read now; 0: finish reads it */
    pthread_t thread;
};
/* Start reading [ws, we) into win: in a helper thread when async (falls
 * back to reading in coll_prefetch_finish when no thread can be made). */
void coll_prefetch_start(struct coll_prefetch *p, size_t e0, int64_t ws, int64_t we, char *win,
                         int async);
/* Wait for (or do) the read started last; its result. */
int coll_prefetch_finish(struct coll_prefetch *p);

/* Copy np pieces of requests r into dst (kind dst_kind): from src_base +
 * buf_off, or packed one after the other when src_packed. */
int coll_copy_pieces(const struct coll_req *r, const struct coll_piece *p, size_t np,
                     const char *src_base, int src_packed, char *dst, int dst_kind, int src_kind,
                     int device);

#endif
