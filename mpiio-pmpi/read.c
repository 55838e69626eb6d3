/* read.c - reads HOMI serves: the request (count x datatype at an explicit
 * offset or the individual file pointer, which lives in the MPI library
 * and is moved with PMPI_File_seek so both agree) is flattened against the
 * file view and read by libhomi, or collectively by the engine of src/coll.
 * Collective calls decide together (one MPI_Allreduce) whether HOMI serves
 * them, so that every rank takes the same route; a rank with bad arguments
 * still takes part (with nothing to read) and alone returns the error. */
#include <stdlib.h>

#include "layer.h"

int lyr_can_read(lyr_file *f, MPI_Datatype datatype)
{
    if (!f || !f->file || f->atomic) return 0;
    pthread_mutex_lock(&f->lock);
    int ok = f->view.ftype && f->view.native && !f->split_active;
    pthread_mutex_unlock(&f->lock);
    if (!ok) return 0;
    lyr_flat *m = lyr_flat_get(datatype);
    lyr_flat_put(m);
    return m != NULL;
}

int lyr_read(lyr_file *f, int indiv, MPI_Offset where, void *buf, MPI_Count count,
             MPI_Datatype datatype, int coll, MPI_Status *status)
{
    int serve = lyr_can_read(f, datatype);
    if (coll) {
        int all = 0;
        PMPI_Allreduce(&serve, &all, 1, MPI_INT, MPI_MIN, f->comm);
        serve = all;
    }
    if (!serve) return -1; /* the caller hands the call to the MPI library */

    homi_coll_seg *segs;
    size_t n;
    char *base;
    MPI_Offset end;
    int err =
        lyr_request_segments(f, indiv, where, buf, count, datatype, "read", &segs, &n, &base, &end);

    int64_t got = 0;
    int rc = HOMI_OK;
    if (coll) { /* everyone reads; a rank in error reads nothing */
        rc = homi_coll_read(f->coll, base, segs, err ? 0 : n, &got);
    } else if (!err && n == 1) {
        got = homi_pread_ex(f->file, base + segs[0].mem_off, (size_t)segs[0].len, segs[0].file_off,
                            NULL);
        rc = got < 0 ? (int)got : HOMI_OK;
    } else if (!err && n) {
        rc = homi_coll_read_indep(f->file, &f->copts, base, segs, n, &got);
    }
    free(segs);
    if (!err && rc) err = lyr_err_homi(rc, coll ? "collective read" : "read");
    if (err) {
        if (status != MPI_STATUS_IGNORE) lyr_status_bytes(status, 0);
        return lyr_fail(f->fh, err);
    }
    if (indiv && PMPI_File_seek(f->fh, end, MPI_SEEK_SET) != MPI_SUCCESS)
        return lyr_fail(f->fh, lyr_err(MPI_ERR_INTERN, "MPI_File_seek failed"));
    lyr_status_bytes(status, got);
    return MPI_SUCCESS;
}
