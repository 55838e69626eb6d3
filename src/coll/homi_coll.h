/* homi_coll.h - the GPU-aware two-phase collective read engine shared by
 * the MPI-IO driver (romio-adio/ad_homi) and the HDF5 driver.
 *
 * Input on every rank of a communicator: a list of (file offset, length,
 * memory offset) segments and one destination buffer, host or CUDA device
 * memory.  Aggregators (cb_nodes of them, default one per node and GPU)
 * read whole file domains through libhomi into their own GPU (or pinned)
 * buffer, then redistribute: CUDA IPC inside a node (GPU to GPU, no host
 * copy); between nodes through UCX (ucp, loaded at run time) when it can
 * move GPU memory, else MPI through pinned host memory (the net option).
 * Node grouping comes
 * from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) unless the node_size
 * option groups ranks into virtual nodes (to test multi-node behaviour on
 * one machine).
 *
 * This engine uses MPI; libhomi (the core) does not.  It is compiled into
 * whichever MPI library or program uses it (MPICH's ROMIO, the tests). */
#ifndef HOMI_COLL_H
#define HOMI_COLL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "homi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct homi_coll_seg {
    int64_t file_off; /* byte offset in the file                         */
    int64_t len;      /* bytes                                           */
    int64_t mem_off;  /* byte offset in the destination buffer           */
} homi_coll_seg;

enum { HOMI_COLL_AUTO = 0, HOMI_COLL_ENABLE = 1, HOMI_COLL_DISABLE = 2 };
/* Largest homi_coll_opts.read_streams. */
#define HOMI_COLL_MAX_STREAMS 16

/* Route between ranks that CUDA IPC does not serve (homi_coll_opts.net):
 * AUTO: UCX for pairs on different nodes whose buffers are both on GPUs,
 *       when UCX loads on every rank and supports CUDA memory; else MPI.
 * UCX:  every such pair through UCX (device memory directly when UCX
 *       supports CUDA, else staged through pinned host memory); a read
 *       fails with HOMI_ENOTSUP on every rank when UCX cannot start.
 * MPI:  MPI_Alltoallv through pinned host memory. */
enum { HOMI_COLL_NET_AUTO = 0, HOMI_COLL_NET_UCX = 1, HOMI_COLL_NET_MPI = 2 };

typedef struct homi_coll_opts {
    int cb_nodes;            /* aggregators in all; 0: one per node and GPU       */
    int64_t cb_buffer_size;  /* bytes an aggregator reads per round (4K..1G)     */
    int cb_read;             /* HOMI_COLL_*: AUTO = two-phase only when ranks'
                                file ranges interleave, else independent reads    */
    int node_size;           /* >0: virtual nodes of this many consecutive ranks */
    int ipc;                 /* HOMI_COLL_*: CUDA IPC inside a node               */
    int64_t sieve_gap;       /* merge extents whose gap is below this (bytes)     */
    int64_t gpu_buffer_size; /* window of an aggregator whose window is in GPU
                                memory (4K..1G); 0: cb_buffer_size               */
    int overlap;             /* HOMI_COLL_*: aggregators read the next window while
                                this one is handed out (two windows); DISABLE:
                                one window, read then hand out                   */
    int read_streams;        /* reads in flight per aggregator window (1..16): the
                                window is cut into this many parts, each read
                                by its own thread                                */
    int net;                 /* HOMI_COLL_NET_*: route between nodes (above)      */
    int cb_write;            /* HOMI_COLL_*: homi_coll_write two-phase; AUTO = only
                                when ranks' file ranges interleave                */
    int64_t indep_min;       /* cb_read AUTO: independent reads even when ranges
                                interleave if every rank's pieces are this long on
                                average (0: never; they are read whole anyway)   */
} homi_coll_opts;

/* Defaults: cb_nodes 0, cb_buffer_size 16 MiB, cb_read AUTO, node_size 0,
 * ipc AUTO, sieve_gap 64 KiB, gpu_buffer_size 64 MiB, overlap AUTO (on),
 * read_streams 4, net AUTO, cb_write AUTO, indep_min 1 MiB.  HOMI_UCX_LIB names the UCX library to
 * load (libucp.so.0). */
void homi_coll_opts_default(homi_coll_opts *o);

/* The collective engine's MPI-IO hints (coll_hints.c), shared by the
 * MPI-IO front-ends.  homi_coll_hint_set: 1 when key is one of them and val
 * was applied, 0 when key is not one of them, -1 for a bad value (why
 * says what was expected).  homi_coll_hint_key(i): the i-th key, NULL past
 * the end; homi_coll_hint_get: its value in o (0, or -1 for another key). */
int homi_coll_hint_set(homi_coll_opts *o, const char *key, const char *val, char *why,
                       size_t whylen);
const char *homi_coll_hint_key(unsigned i);
int homi_coll_hint_get(const homi_coll_opts *o, const char *key, char *buf, size_t len);
/* Value parsers of those hints: a size with an optional K/M/G suffix;
 * enable|true / disable|false / automatic|auto.  0 or -1. */
int homi_coll_parse_size(const char *v, int64_t *out);
int homi_coll_parse_tristate(const char *v, int *out);
const char *homi_coll_tristate_name(int v);

/* Per-file state (communicator split, cached buffers, IPC mappings).
 * homi_coll_create is collective over comm; the file must be open (with
 * libhomi) on every rank of comm. */
typedef struct homi_coll homi_coll;
int homi_coll_create(MPI_Comm comm, homi_file *file, const homi_coll_opts *opts, homi_coll **out);
/* Change the options (same values on every rank; checked like create). */
int homi_coll_set_opts(homi_coll *c, const homi_coll_opts *opts);
/* Collective.  Frees buffers and closes IPC mappings. */
void homi_coll_free(homi_coll *c);

/* Collective read: every rank passes its segments (file offsets of one rank
 * need not be sorted; segments may overlap) and its buffer.  Bytes past end
 * of file are not written.  *bytes (may be NULL) gets the number of bytes
 * this rank received (the sum of its segment lengths clipped at end of
 * file).  Returns HOMI_OK, or the same negative homi_err on every rank when
 * any rank failed. */
int homi_coll_read(homi_coll *c, void *buf, const homi_coll_seg *segs, size_t nsegs,
                   int64_t *bytes);

/* Independent read of one rank's segments (no communication): data sieving
 * over merged extents into a bounce buffer of the destination's kind. */
int homi_coll_read_indep(homi_file *file, const homi_coll_opts *opts, void *buf,
                         const homi_coll_seg *segs, size_t nsegs, int64_t *bytes);

/* Writes of one rank's segments from buf (device or host memory; no
 * communication), for ad_homi and libhomi_mpiio (coll_write.c): long pieces
 * straight from buf, short ones gathered into the bounce buffer *wb (made
 * on first use, pinned for device memory; the caller keeps it between
 * calls and frees it with homi_coll_wbounce_free) and written one
 * file-contiguous run at a time.  The bytes between segments are not
 * touched.  Stops at the first error; *bytes (may be NULL) gets the bytes
 * that reached the file, in segment order. */
typedef struct homi_coll_wbounce {
    void *p;
    int kind; /* homi_mem_kind of p */
} homi_coll_wbounce;
int homi_coll_write_segs(homi_file *file, const void *buf, const homi_coll_seg *segs, size_t nsegs,
                         homi_coll_wbounce *wb, int64_t *bytes);
void homi_coll_wbounce_free(homi_coll_wbounce *wb);
/* Collective write (coll_write_agg.c) into c's file, which must be open
 * for writing (HOMI_RDWR): every rank passes its segments and its source
 * buffer (host, pinned or CUDA device memory; segments of one rank must
 * not overlap one another).  Two-phase when cb_write says so (AUTO: when
 * ranks' file ranges interleave): the pieces gather into the aggregators'
 * windows (GPU memory for an aggregator whose buffer is on a GPU; CUDA
 * IPC from the ranks of its node whose buffers are on GPUs, MPI through
 * pinned host memory for the others; UCX is not used for writes), and
 * each aggregator writes exactly the bytes written into its window (the
 * bytes between segments keep the file's bytes) by homi_coll_read_streams
 * writer threads while its next window fills (homi_coll_overlap).
 * Otherwise every rank writes its own segments (homi_coll_write_segs with
 * wb).  Returns HOMI_OK or the same negative homi_err on every rank;
 * *bytes (may be NULL) gets this rank's bytes: all of them on success,
 * after an error those of the rounds before the first one that failed
 * anywhere (bytes that surely reached the file; some later ones may have
 * too). */
int homi_coll_write(homi_coll *c, const void *buf, const homi_coll_seg *segs, size_t nsegs,
                    homi_coll_wbounce *wb, int64_t *bytes);
/* Which writes the front-ends give to homi_coll_write_segs: the
 * environment's HOMI_MPIIO_WRITES = device (default: buffers in CUDA device
 * memory), all (every buffer) or none (the MPI library's / ROMIO's generic
 * code writes, a device buffer staged through host memory). */
enum { HOMI_COLL_WRITES_NONE = 0, HOMI_COLL_WRITES_DEVICE = 1, HOMI_COLL_WRITES_ALL = 2 };
int homi_coll_writes_mode(void);
/* Should HOMI write the span bytes at buf (its memory and the mode)? */
int homi_coll_write_wanted(const void *buf, size_t span);

/* What the last homi_coll_read (or homi_coll_write: ipc/mpi/self bytes
 * this rank gave, wait_s waiting for window writes, read_parts the window
 * parts written) on c did (for tests and homi-info). */
typedef struct homi_coll_info {
    int naggr;           /* aggregators used (0: independent reads)      */
    int is_aggr;         /* this rank was an aggregator                  */
    int rounds;          /* two-phase rounds                             */
    int nodes;           /* node groups                                  */
    int window_device;   /* aggregator windows were in GPU memory        */
    uint64_t ipc_bytes;  /* bytes this rank pulled through CUDA IPC      */
    uint64_t mpi_bytes;  /* bytes this rank received through MPI         */
    uint64_t self_bytes; /* bytes this rank copied from its own window   */
    uint64_t read_parts; /* window parts this aggregator read (each one
                            libhomi read, read_streams of them at once)  */
    /* seconds of this rank's last homi_coll_read: in all, and in planning
     * (request exchange), setup (windows, IPC mappings), waiting for window
     * reads, copies (pack and place) and MPI (exchanges, round barriers);
     * printed on stderr by every rank when HOMI_COLL_TRACE=1 */
    double total_s, plan_s, setup_s, wait_s, copy_s, comm_s;
    uint64_t ucx_bytes;    /* bytes this rank received through UCX          */
    int net_ucx;           /* UCX carried the pairs of the net option        */
    int ucx_cuda;          /* ... and moved GPU memory directly              */
    const char *indep_why; /* naggr 0: why each rank read (wrote) its own
                              pieces; NULL for a two-phase call          */
} homi_coll_info;
void homi_coll_last_info(const homi_coll *c, homi_coll_info *out);

#ifdef __cplusplus
}
#endif
#endif
