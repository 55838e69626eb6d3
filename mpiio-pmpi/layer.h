/* layer.h - internals of libhomi_mpiio, HOMI's MPI-IO layer for unmodified
 * MPI libraries (PMPI): the per-file state the layer keeps next to the MPI
 * library's own MPI_File, the flattened datatypes, and the entry points the
 * files of this folder share.  Nothing here is public. */
#ifndef HOMI_MPIIO_LAYER_H
#define HOMI_MPIIO_LAYER_H

#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "homi.h"
#include "homi_coll.h"

/* ------------------------------------------------------------ datatypes */

/* One instance of a datatype as (offset, length) byte blocks in type-map
 * order, offsets relative to the type's origin (may be negative). */
typedef struct lyr_flat {
    atomic_int ref;
    int64_t n;
    MPI_Offset *off, *len; /* MPI_Offset: the view walker (src/coll) reads them */
    int64_t lb, ext, size; /* MPI lower bound, extent and size in bytes */
} lyr_flat;

/* The flattened form of t (cached as an attribute of t, freed with it);
 * release with lyr_flat_put.  NULL: a datatype the flattener cannot read
 * (then the layer leaves the call to the MPI library). */
lyr_flat *lyr_flat_get(MPI_Datatype t);
void lyr_flat_put(lyr_flat *f);
/* 1 when count instances of f are one block of memory starting at lb. */
int lyr_flat_dense(const lyr_flat *f);

/* ------------------------------------------------------------ files */

/* The file view the layer walks (mirrors the one given to the MPI library). */
typedef struct lyr_view {
    MPI_Offset disp;
    int64_t etype_size;
    lyr_flat *ftype; /* NULL: the view cannot be served (then: MPI library) */
    int native;      /* data representation "native"                       */
} lyr_view;

/* State of one file HOMI serves; the application holds the MPI library's
 * own handle fh, which keys this record. */
typedef struct lyr_file {
    MPI_File fh;
    MPI_Comm comm;             /* duplicate of the open's communicator (engine)   */
    char *path;                /* file name as the MPI library got it            */
    homi_config *cfg;          /* engine hints                                    */
    homi_engine *eng;          /* shared engine (homi_engine_acquire)             */
    homi_file *file;           /* NULL: write-only open, nothing read by HOMI     */
    int amode;                 /* the open's access mode                          */
    homi_file *wfile;          /* opened for writing on the first write HOMI serves */
    int wfile_err;             /* that open failed: the MPI library writes         */
    pthread_mutex_t wlock;     /* the write bounce buffer                        */
    homi_coll_wbounce wbounce; /* short pieces gathered here (write.c)     */
    homi_coll *coll;           /* collective state                                */
    homi_coll *wcoll;          /* collective state of wfile (first collective write) */
    homi_coll_opts copts;      /* collective hints                                */
    int cb_nodes_set;
    int atomic;           /* MPI_File_set_atomicity(.., 1): MPI library reads */
    pthread_mutex_t lock; /* view and split-collective state                */
    lyr_view view;
    int split_active; /* a split collective begun by the layer          */
    MPI_Status split_status;
    int split_err;
    struct lyr_file *next;
} lyr_file;

/* Registry (registry.c) */
lyr_file *lyr_lookup(MPI_File fh);
void lyr_register(lyr_file *f);
void lyr_unregister(lyr_file *f);
/* 1 when the MPI library in this process already contains ad_homi. */
int lyr_adhomi_present(void);
/* Add f's statistics to the process's totals (printed at MPI_Finalize when
 * HOMI_MPIIO_STATS=1). */
void lyr_stats_add(const homi_stats *s);
void lyr_stats_report(void);
/* An engine has been used: MPI_Finalize flushes the engine cache. */
void lyr_mark_engine_used(void);
int lyr_engine_used(void);

/* Selection and hints (select.c, hints.c) */
/* Does this open select HOMI?  name may carry the homi: prefix (then
 * *stripped points past it).  Returns LYR_SEL_ASKED (hint or prefix),
 * LYR_SEL_ENV (HOMI_MPIIO, HOMI_MPIIO_PATHS) or 0 (not selected); *err
 * gets an MPI error code for a bad value of the hint homi. */
enum { LYR_SEL_ASKED = 1, LYR_SEL_ENV = 2 };
int lyr_selected(const char *name, MPI_Info info, const char **stripped, int *err);
/* The file name without a ROMIO file-system prefix ("ufs:", "nfs:"...):
 * what HOMI opens. */
const char *lyr_plain_path(const char *name);
/* Parse every homi_* hint of info into cfg/copts; MPI error code. */
int lyr_hints_apply(lyr_file *f, MPI_Info info);
/* Copy the effective hints into info (MPI_File_get_info). */
void lyr_hints_report(const lyr_file *f, MPI_Info info);

/* Errors (errors.c): an MPI error code of class cls whose message is the
 * text (MPI_Error_string names the hint / the call). */
int lyr_err(int cls, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lyr_err_homi(int homi_rc, const char *what);
/* Report err through fh's error handler (MPI_FILE_NULL's at open). */
int lyr_fail(MPI_File fh, int err);

/* Views (view.c): segments of count x datatype read at an explicit offset
 * (etypes from the view's start).  *base is buf moved to the memory type's
 * lowest byte; *end_etype the view offset after the request.  0 or -1
 * (type not flattenable / empty filetype). */
int lyr_view_segments(const lyr_view *v, MPI_Offset offset, void *buf, MPI_Count count,
                      MPI_Datatype datatype, homi_coll_seg **segs, size_t *nsegs, char **base,
                      MPI_Offset *end_etype);

/* One access's segments: the view snapshot, the individual file pointer
 * (indiv) or the explicit offset where, the argument checks (count, offset,
 * buffer) and lyr_view_segments.  MPI error code (verb: "read" or
 * "written" in the message), segments freed by the caller. */
int lyr_request_segments(lyr_file *f, int indiv, MPI_Offset where, void *buf, MPI_Count count,
                         MPI_Datatype datatype, const char *verb, homi_coll_seg **segs,
                         size_t *nsegs, char **base, MPI_Offset *end);

/* Reads served by HOMI (read.c).  indiv: at the individual file pointer,
 * else at the explicit offset where (etypes).  coll: collective.  Returns
 * an MPI error code (already passed to the error handler), or -1 when HOMI
 * does not serve this call (on every rank of a collective one): then the
 * caller hands it to the MPI library.  status may be MPI_STATUS_IGNORE. */
int lyr_read(lyr_file *f, int indiv, MPI_Offset where, void *buf, MPI_Count count,
             MPI_Datatype datatype, int coll, MPI_Status *status);
/* Can this read be served by HOMI (view, atomic mode, datatype)? */
int lyr_can_read(lyr_file *f, MPI_Datatype datatype);

/* Writes served by HOMI (write.c): as lyr_read.  Device buffers by default;
 * HOMI_MPIIO_WRITES=all: any buffer, =none: never.  -1: not served. */
int lyr_write(lyr_file *f, int indiv, MPI_Offset where, const void *buf, MPI_Count count,
              MPI_Datatype datatype, int coll, MPI_Status *status);

/* Bytes of memory count x t spans from its true lower bound *tlb (stage.c). */
size_t lyr_span_of(MPI_Count count, MPI_Datatype t, MPI_Aint *tlb);

/* Device memory (stage.c): a host copy of the bytes count x datatype spans
 * when buf is CUDA device memory; NULL otherwise (*host = buf).  After a
 * read into *host, lyr_stage_back copies to the device and frees. */
void *lyr_stage_in(const void *buf, MPI_Count count, MPI_Datatype datatype, int copy, void **host,
                   int *rc);
int lyr_stage_back(void *stage, void *buf, MPI_Count count, MPI_Datatype datatype);

/* Requests (request.c): an MPI_Request that is already complete with
 * status st (generalized request). */
int lyr_request_done(const MPI_Status *st, int err, MPI_Request *req);

/* Split collectives (read_api.c), reads and writes: op is a LYR_* access
 * kind of pmpi_calls.h. */
int lyr_split_begin(MPI_File fh, int op, int write, MPI_Offset off, void *buf, MPI_Count cnt,
                    MPI_Datatype t);
int lyr_split_end(MPI_File fh, int op, int write, void *buf, MPI_Status *st);
/* A write through the MPI library, a device buffer staged (write_api.c). */
int lyr_write_blocking(lyr_file *f, MPI_File fh, int op, MPI_Offset off, const void *buf,
                       MPI_Count cnt, MPI_Datatype t, MPI_Status *st);

/* A split collective write HOMI serves (write_api.c); -1: not served. */
int lyr_split_write(lyr_file *f, int op, MPI_Offset off, const void *buf, MPI_Count cnt,
                    MPI_Datatype t, MPI_Status *st);

/* Status with exact byte counts. */
void lyr_status_bytes(MPI_Status *st, int64_t bytes);

#endif
