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
/* Window readers: a pool of threads that read the parts of a window at
 * once (an aggregator's window is cut into up to read_streams parts, each
 * one synchronous libhomi read), so that several reads are in flight.  Up
 * to COLL_BATCHES windows are queued: the next window is started before
 * the current one is waited for, so the readers never idle while a window
 * has parts left. */
#define COLL_MAX_STREAMS HOMI_COLL_MAX_STREAMS
#define COLL_BATCHES 2
struct coll_readers;
/* A pool of nthreads threads (0..COLL_MAX_STREAMS; 0 or failure to start
 * threads: the parts are read by the thread that waits) reading from f. */
int coll_readers_new(int nthreads, homi_file *f, struct coll_readers **out);
/* Wait for what was started, stop and join the threads. */
void coll_readers_free(struct coll_readers *r);
/* Start reading the extents E[e0..] inside [ws, we) into win, cut into up
 * to nparts parts of at least 1 MiB (*parts: how many; may be NULL);
 * returns at once (after waiting for the oldest batch when COLL_BATCHES
 * are in progress) with the batch's ticket. */
unsigned coll_readers_start(struct coll_readers *r, const struct coll_ext *E, size_t ne, size_t e0,
                            int64_t ws, int64_t we, char *win, int nparts, int *parts);
/* Help with the parts of batch t not taken yet, wait for the rest (and for
 * older batches first); the batch's first error, or HOMI_OK. */
int coll_readers_wait(struct coll_readers *r, unsigned t);

/* Copy np pieces of requests r into dst (kind dst_kind): from src_base +
 * buf_off, or packed one after the other when src_packed. */
int coll_copy_pieces(const struct coll_req *r, const struct coll_piece *p, size_t np,
                     const char *src_base, int src_packed, char *dst, int dst_kind, int src_kind,
                     int device);

#endif
