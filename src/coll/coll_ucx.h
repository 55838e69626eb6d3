/* coll_ucx.h - the UCX (ucp) transport of the collective engine: libucp
 * loaded at run time (dlopen, no link-time dependency), one context and
 * worker per homi_coll, worker addresses exchanged over MPI, tagged
 * sends of packed pieces from aggregators to readers (device memory
 * directly when the UCX found supports CUDA memory, else pinned host
 * memory). */
#ifndef HOMI_COLL_UCX_H
#define HOMI_COLL_UCX_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "coll_plan.h"

struct coll_ucx;

/* Collective over comm.  Loads libucp (HOMI_UCX_LIB, default
 * "libucp.so.0"), creates a context (tag matching) and a worker and
 * exchanges worker addresses.  Every rank gets the same outcome: HOMI_OK
 * and *out set when UCX started on every rank, else HOMI_ENOTSUP, *out
 * NULL and why (NUL-terminated, whylen bytes) the reason of the lowest
 * failing rank ("rank 2: dlopen(libucp.so.0): ..."). */
int coll_ucx_open(MPI_Comm comm, struct coll_ucx **out, char *why, size_t whylen);
/* 1 when UCX supports CUDA memory on every rank (agreed at open). */
int coll_ucx_cuda(const struct coll_ucx *u);
/* "UCX 1.13.1, CUDA memory: yes" (for logs). */
const char *coll_ucx_desc(const struct coll_ucx *u);
/* Collective over the comm given to open: closes endpoints (after every
 * rank is done with them), destroys the worker and context, dlcloses. */
void coll_ucx_close(struct coll_ucx *u);

/* One round of UCX transfers. */
struct coll_ucx_xfer {
    /* aggregator side: rank r gets the pieces out[poff[r] .. poff[r+1]) of
     * the window win (memory kind win_kind, on GPU win_dev), packed one
     * after the other, when sbytes[r] > 0 (their total length) */
    const char *win;
    int win_kind, win_dev;
    const struct coll_piece *out;
    const int64_t *poff, *sbytes;
    /* reader side: rbytes[r] bytes come from rank r; they are received into
     * device memory of GPU buf_dev when buf_kind is HOMI_MEM_DEVICE and UCX
     * supports CUDA, else into pinned host memory */
    const int64_t *rbytes;
    int buf_kind, buf_dev;
    int round;
};
/* Collective (every rank, every round, also with nothing to move): packs,
 * agrees on errors, posts the sends and receives, progresses until all
 * finished.  The data from rank r is at *recv + (sum of rbytes[q], q < r),
 * of memory kind *recv_kind, valid until the next call.  Returns HOMI_OK
 * or the same error on every rank (for failures before the transfers;
 * a transport error during them is this rank's). */
int coll_ucx_exchange(struct coll_ucx *u, const struct coll_ucx_xfer *t, char **recv,
                      int *recv_kind);
/* Start of a new collective read: a fresh tag sequence. */
void coll_ucx_next_read(struct coll_ucx *u);

#endif
