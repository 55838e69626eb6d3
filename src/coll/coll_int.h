/* coll_int.h - declarations shared by the collective engine's files. */
#ifndef HOMI_COLL_INT_H
#define HOMI_COLL_INT_H

#include <mpi.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

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
/* Write the parts of extents E[e0..] inside [ws, we) from win (window byte
 * 0 = file offset ws); nothing between the extents is written. */
int coll_write_window(homi_file *f, const struct coll_ext *E, size_t ne, size_t e0, int64_t ws,
                      int64_t we, const char *win);
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
/* The same, reading (write 0) or writing (write 1: coll_write_window, the
 * window is the source) the parts; a pool may do both, batch by batch. */
int coll_pool_start(struct coll_readers *r, int write, const struct coll_ext *E, size_t ne,
                    size_t e0, int64_t ws, int64_t we, char *win, int nparts, int *parts,
                    unsigned *ticket);
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

/* Writes: copy np pieces of requests r from buf (kind buf_kind) into dst
 * (kind dst_kind): at each piece's window offset, or packed one after the
 * other when dst_packed. */
int coll_put_pieces(const struct coll_req *r, const struct coll_piece *p, size_t np,
                    const char *buf, int buf_kind, char *dst, int dst_packed, int dst_kind,
                    int device);
/* Writes, the aggregator's side: the packed bytes (pinned src) of the
 * pieces out[poff[r] .. poff[r+1]) of every rank r with bytes[r] > 0, in
 * rank order, into the window win. */
int coll_scatter_pieces(const struct coll_piece *out, const int64_t *poff, const int64_t *bytes,
                        int nranks, const char *src, char *win, int win_kind, int device);
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

/* ---- the shared state and steps of collective reads and writes
 * (coll_state.c, coll_xchg.c; coll_read.c and coll_write2p.c run the
 * rounds). */
/* Devices whose IPC reachability is cached (others are asked each time). */
#define PEER_DEVS 32

struct homi_coll {
    MPI_Comm comm;
    int rank, size;
    int *vnode; /* virtual node of each rank (grouping for aggregators/IPC) */
    int *rnode; /* real node (shared-memory domain) of each rank          */
    int nnodes; /* virtual nodes                                          */
    homi_file *file;
    homi_coll_opts o;
    char *win[2];  /* aggregator windows: round r uses win[r % nwin] */
    int nwin;      /* 2: the next window is read while this one is handed out */
    int win_alloc; /* windows allocated (aggregators) */
    int win_kind, win_dev;
    size_t win_cap;
    unsigned win_gen;
    struct coll_buf mirror; /* pinned host copy of a device window */
    void **peer_map;        /* IPC mappings of other ranks' windows, 2 per rank */
    unsigned *peer_gen;
    struct coll_readers *readers;              /* aggregators: threads reading window parts */
    int readers_n;                             /* threads in readers */
    struct coll_readers *writers;              /* aggregators: threads writing windows */
    int writers_n;                             /* threads in writers */
    signed char peer_ok[PEER_DEVS][PEER_DEVS]; /* homi_ipc_peer_ok(a, b); -1: not asked */
    homi_coll_info info;
    struct coll_ucx *ucx; /* UCX route, started at the first read needing it */
    int ucx_tried;        /* started (ucx) or failed (ucx_why) on every rank */
    char ucx_why[256];
};

/* What every rank tells the others at the start of a read or write. */
struct rank_info {
    int64_t lo, hi; /* file range it reads or writes (lo == hi: nothing) */
    int32_t kind, device;
    int64_t mean_len; /* bytes per piece on average (0: nothing)        */
};

/* What an aggregator publishes for IPC. */
struct win_pub {
    homi_ipc_handle h[2];
    uint32_t gen;
    int32_t nwin; /* 0: nothing published */
};

/* State of one collective read or write on one rank. */
struct coll_ctx {
    homi_coll *c;
    char *buf; /* the rank's buffer (a write's source: not written) */
    int kind, dev;
    struct rank_info *ri;
    int *aggr, naggr, my_aggr; /* my_aggr: index in aggr or -1 */
    /* my requests, grouped by aggregator, sorted within each */
    struct coll_req *req;
    int64_t *req_cnt, *req_start; /* per aggregator index */
    /* aggregator side: requests received from each rank */
    struct coll_req *in;
    int64_t *in_cnt, *in_start; /* per rank */
    size_t *in_cursor;
    struct coll_ext *E; /* aggregators: what their domain reads or writes */
    size_t ne;
    int ipc_any;      /* some pair uses IPC */
    int64_t win_size; /* my window (aggregators): GPU or host size */
    int ucx_on;       /* UCX carries the pairs of the net option (pair_ucx) */
    double t0;        /* when the call began (homi_coll_info times) */
};

static inline double coll_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int coll_mpi_rc(int mrc)
{
    return mrc == MPI_SUCCESS ? HOMI_OK : HOMI_EIO;
}

/* Alltoallv of bytes where counts are int64 (checked to fit an int); prior
 * (a local error) is agreed on first: every rank returns the same error
 * and nothing is exchanged. */
int coll_xchg(int prior, const void *sb, const int64_t *sc, void *rb, const int64_t *rcv,
              MPI_Comm comm, int n);
/* Do aggregator a and rank r move data through CUDA IPC / UCX? */
int coll_pair_ipc(const struct coll_ctx *x, int a, int r);
int coll_pair_ucx(const struct coll_ctx *x, int a, int r);
/* Start UCX when the net option may use it (sets x->ucx_on); collective. */
int coll_ucx_route(struct coll_ctx *x);
/* Tell every rank what this one accesses (mine[0..n), x->buf): x->ri, x->kind,
 * x->dev.  Collective; the agreed error (prior: a local error so far). */
int coll_ranks(struct coll_ctx *x, int prior, const struct coll_req *mine, long n);
/* Do two ranks' file ranges meet (two-phase pays off)? */
int coll_interleaved(const struct coll_ctx *x);
/* The start every collective call shares: segs clipped at eof into *mine
 * (*n kept, *total bytes), coll_ranks, and whether the call is two-phase
 * (cb: the cb_read or cb_write option; AUTO: when ranges interleave,
 * unless indep_min > 0 and every rank's pieces are that long on average:
 * then each is read whole on its own anyway, and two-phase only adds a
 * copy and a wait).  Collective; the agreed error (then *mine is freed and
 * x too). */
int coll_begin(struct coll_ctx *x, const homi_coll_seg *segs, size_t nsegs, int64_t eof, int cb,
               int64_t indep_min, struct coll_req **mine, long *n, int64_t *total, int *two_phase);
/* After an independent call: its time in c->info.total_s and, with
 * HOMI_COLL_TRACE, one line saying why it was independent. */
void coll_indep_done(homi_coll *c, double t0, int write, int64_t bytes);
/* Everything between coll_ranks and the rounds: aggregators, file domains,
 * the request exchange (an aggregator's extents merged across gaps below
 * gap), UCX when ucx, the windows and their IPC mappings; *nrounds gets
 * the rounds every rank runs.  Collective; the agreed error. */
int coll_setup(struct coll_ctx *x, struct coll_req *mine, long n, int64_t gap, int ucx,
               int *nrounds);
/* The aggregator's reader (write 0: c->readers) or writer (write 1:
 * c->writers) threads, kept between calls and made again when the count
 * changes: homi_coll_read_streams of them, one fewer with one window (the
 * waiting thread takes a part too).  No batch may be in progress. */
int coll_pool_get(homi_coll *c, int write);
/* With HOMI_COLL_TRACE set (not 0): c's last call's breakdown on stderr
 * (write 0: a read, 1: a write). */
void coll_trace(const homi_coll *c, int write, int nrounds);
/* Free what coll_ranks and coll_setup allocated. */
void coll_ctx_free(struct coll_ctx *x);

#endif
