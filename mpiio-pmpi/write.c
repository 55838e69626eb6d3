/* write.c - writes HOMI serves: count x datatype from CUDA device memory
 * (HOMI_MPIIO_WRITES=device, the default; =all: any memory; =none: never),
 * flattened against the file view and written on a second libhomi handle
 * of the file, opened for writing, by homi_coll_write_segs (src/coll,
 * shared with ad_homi).  Only the bytes of the view are written: gaps
 * between pieces keep what the file holds.
 * Collective calls decide together (one MPI_Allreduce) whether HOMI
 * serves them; then homi_coll_write (src/coll) writes them: two-phase
 * through the aggregators when the ranks' ranges interleave
 * (romio_cb_write), else every rank its own pieces.
 * Atomic mode, shared and ordered pointers, and views or datatypes the
 * layer cannot flatten stay the MPI library's (write_api.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

/* Can HOMI write this call (mode, view, datatype)? */
static int can_write(lyr_file *f, MPI_Datatype datatype)
{
    if (!f || f->atomic || !(f->amode & (MPI_MODE_WRONLY | MPI_MODE_RDWR))) return 0;
    if (homi_coll_writes_mode() == HOMI_COLL_WRITES_NONE) return 0;
    pthread_mutex_lock(&f->lock);
    int ok = f->view.ftype && f->view.native && !f->split_active && !f->wfile_err;
    pthread_mutex_unlock(&f->lock);
    if (!ok) return 0;
    lyr_flat *m = lyr_flat_get(datatype);
    lyr_flat_put(m);
    return m != NULL;
}

/* Does this rank want HOMI to write its buffer? */
static int wants(const void *buf, MPI_Count count, MPI_Datatype t)
{
    if (!buf || count <= 0) return 0;
    MPI_Aint tlb;
    size_t span = lyr_span_of(count, t, &tlb);
    return homi_coll_write_wanted((const char *)buf + tlb, span);
}

/* The handle HOMI writes through (opened on first use). */
static int wfile_open(lyr_file *f)
{
    pthread_mutex_lock(&f->lock);
    int rc = f->wfile_err;
    if (!f->wfile && !rc) {
        if (!f->eng) {
            lyr_mark_engine_used();
            rc = homi_engine_acquire(f->cfg, &f->eng);
        }
        if (!rc) rc = homi_open(f->eng, f->path, HOMI_RDWR, &f->wfile);
        if (rc) {
            f->wfile_err = rc;
            fprintf(stderr,
                    "homi_mpiio: %s: writes not served by HOMI (%s): the MPI library "
                    "writes them\n",
                    f->path, homi_strerror(rc));
        }
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int lyr_write(lyr_file *f, int indiv, MPI_Offset where, const void *buf, MPI_Count count,
              MPI_Datatype datatype, int coll, MPI_Status *status)
{
    int can = can_write(f, datatype), want = can && wants(buf, count, datatype);
    if (coll) { /* serve when every rank can and one wants: min(can), max(want) */
        int v[2] = {can, -want}, all[2] = {0, 0};
        PMPI_Allreduce(v, all, 2, MPI_INT, MPI_MIN, f->comm);
        can = all[0];
        want = -all[1];
    }
    if (!can || !want) return -1; /* the MPI library writes it */
    int ok = wfile_open(f) == HOMI_OK, all_ok = ok;
    if (coll) PMPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, f->comm);
    if (!all_ok) return -1;
    if (coll && !f->wcoll) { /* collective (homi_coll_create agrees on the outcome) */
        int rc = homi_coll_create(f->comm, f->wfile, &f->copts, &f->wcoll);
        if (rc) {
            f->wcoll = NULL;
            int rank = 0;
            PMPI_Comm_rank(f->comm, &rank);
            if (rank == 0)
                fprintf(stderr,
                        "homi_mpiio: %s: collective write setup failed (%s): the MPI "
                        "library writes this call\n",
                        f->path, homi_strerror(rc));
            return -1;
        }
    }

    homi_coll_seg *segs;
    size_t n;
    char *base;
    MPI_Offset end;
    int err = lyr_request_segments(f, indiv, where, (void *)(uintptr_t)buf, count, datatype,
                                   "written", &segs, &n, &base, &end);

    int64_t done = 0;
    if (coll) {                        /* everyone takes part; a rank in error writes nothing */
        pthread_mutex_lock(&f->wlock); /* the bounce buffer */
        int rc = homi_coll_write(f->wcoll, base, segs, err ? 0 : n, &f->wbounce, &done);
        pthread_mutex_unlock(&f->wlock);
        if (!err && rc) err = lyr_err_homi(rc, "collective write");
    } else if (!err && n) {
        pthread_mutex_lock(&f->wlock); /* the bounce buffer */
        int rc = homi_coll_write_segs(f->wfile, base, segs, n, &f->wbounce, &done);
        pthread_mutex_unlock(&f->wlock);
        if (rc) err = lyr_err_homi(rc, "write");
    }
    free(segs);
    lyr_status_bytes(status, done); /* what reached the file */
    if (err) return lyr_fail(f->fh, err);
    if (indiv && PMPI_File_seek(f->fh, end, MPI_SEEK_SET) != MPI_SUCCESS)
        return lyr_fail(f->fh, lyr_err(MPI_ERR_INTERN, "MPI_File_seek failed"));
    return MPI_SUCCESS;
}
