/* coll_int.h - declarations shared by the collective engine's files. */
#ifndef HOMI_COLL_INT_H
#define HOMI_COLL_INT_H

#include <pthread.h>
#include <string.h>

#include "coll_plan.h"
#include "homi_coll.h"

/* libhomi's logger (src/core/log.h, exported by libhomi.so), declared here
 * because only homi.h travels into the MPI libraries' source trees. */
enum { HOMI_COLL_LOG_ERROR = 0, HOMI_COLL_LOG_INFO = 2 };
void homi_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read the parts of extents E[e0..] inside [ws, we) into win (window byte
 * 0 = file offset ws).  HOMI_EIO when the file is shorter than planned. */
int coll_read_window(homi_file *f, const struct coll_ext *E, size_t ne, size_t e0, int64_t ws,
                     int64_t we, char *win);
/* Window readers: a pool of threads that read the parts of a window at
 * once (an aggregator's window is cut into up to read_streams parts, each
 * one synchronous libhomi read), so that several reads are in flight.  Up
 * to COLL_BATCHES windows are queued: the next window is started before
 * the current one is waited for, so the readers never idle while a window
 * has parts left.  Batches are waited for in the order they were started,
 * each exactly once. */
#define COLL_MAX_STREAMS HOMI_COLL_MAX_STREAMS
#define COLL_BATCHES 2
struct coll_readers;
/* A pool of nthreads threads (0..COLL_MAX_STREAMS; 0 or failure to start
 * threads: the parts are read by the thread that waits) reading from f. */
int coll_readers_new(int nthreads, homi_file *f, struct coll_readers **out);
/* Stop and join the threads.  Every started batch must have been waited
 * for (a batch still in progress is waited for first and logged as a
 * caller error: its readers may still write into its window). */
void coll_readers_free(struct coll_readers *r);
/* Start reading the extents E[e0..] inside [ws, we) into win, cut into up
 * to nparts parts of at least 1 MiB (*parts: how many; may be NULL);
 * returns at once with the batch's ticket in *ticket.  HOMI_EBUSY (and
 * nothing started) when COLL_BATCHES batches are in progress. */
int coll_readers_start(struct coll_readers *r, const struct coll_ext *E, size_t ne, size_t e0,
                       int64_t ws, int64_t we, char *win, int nparts, int *parts, unsigned *ticket);
/* Help with the parts of batch t not taken yet and wait for the rest; the
 * batch's first error, or HOMI_OK.  t must be the oldest batch in progress
 * (HOMI_EINVAL, nothing waited for, otherwise). */
int coll_readers_wait(struct coll_readers *r, unsigned t);

/* Copy np pieces of requests r into dst (kind dst_kind): from src_base +
 * buf_off, or packed one after the other when src_packed. */
int coll_copy_pieces(const struct coll_req *r, const struct coll_piece *p, size_t np,
                     const char *src_base, int src_packed, char *dst, int dst_kind, int src_kind,
                     int device);
/* Gather, for every rank r < nranks with bytes[r] > 0 (in rank order), the
 * pieces out[poff[r] .. poff[r+1]) of the window src into dst, one after
 * the other.  Returns the bytes gathered or a negative homi_err. */
int64_t coll_gather_pieces(const struct coll_piece *out, const int64_t *poff, const int64_t *bytes,
                           int nranks, const char *src, int src_kind, char *dst, int dst_kind,
                           int device);

/* A buffer reused across rounds and reads (homi_mem_alloc'd). */
struct coll_buf {
    char *p;
    size_t cap;
    int kind, dev;
};
/* At least want bytes of kind on dev (reallocated when smaller or of
 * another kind or device; contents are not kept). */
int coll_buf_ensure(struct coll_buf *b, size_t want, int kind, int dev);
void coll_buf_free(struct coll_buf *b);

#endif
