/* read_api.c - the MPI_File_read* entry points.  Individual-pointer and
 * explicit-offset reads (blocking, nonblocking, split collective, and the
 * MPI-4 large-count forms) of files HOMI serves go to lyr_read; the rest
 * (shared pointer, ordered, views HOMI cannot read) go to the MPI library,
 * with a device buffer staged through host memory.  Files HOMI does not
 * serve go straight to the MPI library. */
#include <stdlib.h>

#include "layer.h"
#include "pmpi_calls.h"

static int pass(lyr_file *f, MPI_File fh, int op, MPI_Offset off, void *buf, MPI_Count cnt,
                MPI_Datatype t, MPI_Status *st)
{
    if (!f) return lyr_pmpi_read(fh, op, off, buf, cnt, t, st);
    int rc;
    void *host;
    void *stage = lyr_stage_in(buf, cnt, t, 1, &host, &rc);
    if (rc) return lyr_fail(fh, lyr_err_homi(rc, "device buffer"));
    int err = lyr_pmpi_read(fh, op, off, host, cnt, t, st);
    if (stage && (rc = lyr_stage_back(stage, buf, cnt, t)) && !err)
        err = lyr_fail(fh, lyr_err_homi(rc, "copy to the device buffer"));
    return err;
}

static int served(int op)
{
    return op == LYR_INDIV || op == LYR_AT || op == LYR_ALL || op == LYR_AT_ALL;
}

static int rd(MPI_File fh, int op, MPI_Offset off, void *buf, MPI_Count cnt, MPI_Datatype t,
              MPI_Status *st)
{
    lyr_file *f = lyr_lookup(fh);
    if (f && served(op)) {
        int coll = op == LYR_ALL || op == LYR_AT_ALL;
        int indiv = op == LYR_INDIV || op == LYR_ALL;
        int err = lyr_read(f, indiv, off, buf, cnt, t, coll, st);
        if (err != -1) return err;
    }
    return pass(f, fh, op, off, buf, cnt, t, st);
}

static int ird(MPI_File fh, int op, MPI_Offset off, void *buf, MPI_Count cnt, MPI_Datatype t,
               MPI_Request *rq)
{
    lyr_file *f = lyr_lookup(fh);
    if (!f) return lyr_pmpi_iread(fh, op, off, buf, cnt, t, rq);
    MPI_Status st;
    int err = -1;
    if (served(op))
        err = lyr_read(f, op == LYR_INDIV || op == LYR_ALL, off, buf, cnt, t,
                       op == LYR_ALL || op == LYR_AT_ALL, &st);
    if (err == -1) {
        int rc;
        void *host;
        void *stage = lyr_stage_in(buf, cnt, t, 0, &host, &rc);
        if (rc) return lyr_fail(fh, lyr_err_homi(rc, "device buffer"));
        if (!stage) return lyr_pmpi_iread(fh, op, off, buf, cnt, t, rq);
        free(stage); /* a device buffer: blocking, staged */
        err = pass(f, fh, op, off, buf, cnt, t, &st);
    }
    if (err != MPI_SUCCESS) {
        *rq = MPI_REQUEST_NULL;
        return err;
    }
    return lyr_request_done(&st, MPI_SUCCESS, rq);
}

/* split collectives: the layer completes the access in _begin (status kept
 * for _end) unless the MPI library serves it with a host buffer */
int lyr_split_begin(MPI_File fh, int op, int write, MPI_Offset off, void *buf, MPI_Count cnt,
                    MPI_Datatype t)
{
    lyr_file *f = lyr_lookup(fh);
    if (!f) return lyr_pmpi_begin(fh, op, write, off, buf, cnt, t);
    MPI_Status st;
    int err = -1;
    if (!write && op != LYR_ORDERED) err = lyr_read(f, op == LYR_ALL, off, buf, cnt, t, 1, &st);
    if (write) err = lyr_split_write(f, op, off, buf, cnt, t, &st);
    if (err == -1) {
        int rc;
        void *host;
        void *stage = lyr_stage_in(buf, cnt, t, 0, &host, &rc);
        if (rc) return lyr_fail(fh, lyr_err_homi(rc, "device buffer"));
        if (!stage) {
            err = lyr_pmpi_begin(fh, op, write, off, buf, cnt, t);
            pthread_mutex_lock(&f->lock);
            if (!err) f->split_active = 2; /* the MPI library's: its _end completes it */
            pthread_mutex_unlock(&f->lock);
            return err;
        }
        free(stage);
        err = write ? lyr_write_blocking(f, fh, op, off, buf, cnt, t, &st)
                    : pass(f, fh, op, off, buf, cnt, t, &st);
    }
    pthread_mutex_lock(&f->lock);
    f->split_active = 1;
    f->split_status = st;
    f->split_err = err;
    pthread_mutex_unlock(&f->lock);
    return err;
}

int lyr_split_end(MPI_File fh, int op, int write, void *buf, MPI_Status *st)
{
    lyr_file *f = lyr_lookup(fh);
    int mine = 0, err = MPI_SUCCESS;
    if (f) {
        pthread_mutex_lock(&f->lock);
        mine = f->split_active == 1;
        f->split_active = 0;
        if (mine) {
            if (st != MPI_STATUS_IGNORE) *st = f->split_status;
            err = f->split_err;
        }
        pthread_mutex_unlock(&f->lock);
    }
    return mine ? err : lyr_pmpi_end(fh, op, write, buf, st);
}

/* ------------------------------------------------------------ entry points */

int MPI_File_read(MPI_File fh, void *buf, int count, MPI_Datatype t, MPI_Status *st)
{
    return rd(fh, LYR_INDIV, 0, buf, count, t, st);
}
int MPI_File_read_at(MPI_File fh, MPI_Offset off, void *buf, int count, MPI_Datatype t,
                     MPI_Status *st)
{
    return rd(fh, LYR_AT, off, buf, count, t, st);
}
int MPI_File_read_all(MPI_File fh, void *buf, int count, MPI_Datatype t, MPI_Status *st)
{
    return rd(fh, LYR_ALL, 0, buf, count, t, st);
}
int MPI_File_read_at_all(MPI_File fh, MPI_Offset off, void *buf, int count, MPI_Datatype t,
                         MPI_Status *st)
{
    return rd(fh, LYR_AT_ALL, off, buf, count, t, st);
}
int MPI_File_read_shared(MPI_File fh, void *buf, int count, MPI_Datatype t, MPI_Status *st)
{
    return rd(fh, LYR_SHARED, 0, buf, count, t, st);
}
int MPI_File_read_ordered(MPI_File fh, void *buf, int count, MPI_Datatype t, MPI_Status *st)
{
    return rd(fh, LYR_ORDERED, 0, buf, count, t, st);
}
int MPI_File_iread(MPI_File fh, void *buf, int count, MPI_Datatype t, MPI_Request *rq)
{
    return ird(fh, LYR_INDIV, 0, buf, count, t, rq);
}
int MPI_File_iread_at(MPI_File fh, MPI_Offset off, void *buf, int count, MPI_Datatype t,
                      MPI_Request *rq)
{
    return ird(fh, LYR_AT, off, buf, count, t, rq);
}
int MPI_File_iread_all(MPI_File fh, void *buf, int count, MPI_Datatype t, MPI_Request *rq)
{
    return ird(fh, LYR_ALL, 0, buf, count, t, rq);
}
int MPI_File_iread_at_all(MPI_File fh, MPI_Offset off, void *buf, int count, MPI_Datatype t,
                          MPI_Request *rq)
{
    return ird(fh, LYR_AT_ALL, off, buf, count, t, rq);
}
int MPI_File_iread_shared(MPI_File fh, void *buf, int count, MPI_Datatype t, MPI_Request *rq)
{
    return ird(fh, LYR_SHARED, 0, buf, count, t, rq);
}
int MPI_File_read_all_begin(MPI_File fh, void *buf, int count, MPI_Datatype t)
{
    return lyr_split_begin(fh, LYR_ALL, 0, 0, buf, count, t);
}
int MPI_File_read_all_end(MPI_File fh, void *buf, MPI_Status *st)
{
    return lyr_split_end(fh, LYR_ALL, 0, buf, st);
}
int MPI_File_read_at_all_begin(MPI_File fh, MPI_Offset off, void *buf, int count, MPI_Datatype t)
{
    return lyr_split_begin(fh, LYR_AT_ALL, 0, off, buf, count, t);
}
int MPI_File_read_at_all_end(MPI_File fh, void *buf, MPI_Status *st)
{
    return lyr_split_end(fh, LYR_AT_ALL, 0, buf, st);
}
int MPI_File_read_ordered_begin(MPI_File fh, void *buf, int count, MPI_Datatype t)
{
    return lyr_split_begin(fh, LYR_ORDERED, 0, 0, buf, count, t);
}
int MPI_File_read_ordered_end(MPI_File fh, void *buf, MPI_Status *st)
{
    return lyr_split_end(fh, LYR_ORDERED, 0, buf, st);
}

#if MPI_VERSION >= 4 /* large-count forms */
int MPI_File_read_c(MPI_File fh, void *buf, MPI_Count count, MPI_Datatype t, MPI_Status *st)
{
    return rd(fh, LYR_INDIV, 0, buf, count, t, st);
}
int MPI_File_read_at_c(MPI_File fh, MPI_Offset off, void *buf, MPI_Count count, MPI_Datatype t,
                       MPI_Status *st)
{
    return rd(fh, LYR_AT, off, buf, count, t, st);
}
int MPI_File_read_all_c(MPI_File fh, void *buf, MPI_Count count, MPI_Datatype t, MPI_Status *st)
{
    return rd(fh, LYR_ALL, 0, buf, count, t, st);
}
int MPI_File_read_at_all_c(MPI_File fh, MPI_Offset off, void *buf, MPI_Count count, MPI_Datatype t,
                           MPI_Status *st)
{
    return rd(fh, LYR_AT_ALL, off, buf, count, t, st);
}
int MPI_File_read_shared_c(MPI_File fh, void *buf, MPI_Count count, MPI_Datatype t, MPI_Status *st)
{
    return rd(fh, LYR_SHARED, 0, buf, count, t, st);
}
int MPI_File_read_ordered_c(MPI_File fh, void *buf, MPI_Count count, MPI_Datatype t, MPI_Status *st)
{
    return rd(fh, LYR_ORDERED, 0, buf, count, t, st);
}
int MPI_File_iread_c(MPI_File fh, void *buf, MPI_Count count, MPI_Datatype t, MPI_Request *rq)
{
    return ird(fh, LYR_INDIV, 0, buf, count, t, rq);
}
int MPI_File_iread_at_c(MPI_File fh, MPI_Offset off, void *buf, MPI_Count count, MPI_Datatype t,
                        MPI_Request *rq)
{
    return ird(fh, LYR_AT, off, buf, count, t, rq);
}
int MPI_File_iread_all_c(MPI_File fh, void *buf, MPI_Count count, MPI_Datatype t, MPI_Request *rq)
{
    return ird(fh, LYR_ALL, 0, buf, count, t, rq);
}
int MPI_File_iread_at_all_c(MPI_File fh, MPI_Offset off, void *buf, MPI_Count count, MPI_Datatype t,
                            MPI_Request *rq)
{
    return ird(fh, LYR_AT_ALL, off, buf, count, t, rq);
}
int MPI_File_iread_shared_c(MPI_File fh, void *buf, MPI_Count count, MPI_Datatype t,
                            MPI_Request *rq)
{
    return ird(fh, LYR_SHARED, 0, buf, count, t, rq);
}
int MPI_File_read_all_begin_c(MPI_File fh, void *buf, MPI_Count count, MPI_Datatype t)
{
    return lyr_split_begin(fh, LYR_ALL, 0, 0, buf, count, t);
}
int MPI_File_read_at_all_begin_c(MPI_File fh, MPI_Offset off, void *buf, MPI_Count count,
                                 MPI_Datatype t)
{
    return lyr_split_begin(fh, LYR_AT_ALL, 0, off, buf, count, t);
}
int MPI_File_read_ordered_begin_c(MPI_File fh, void *buf, MPI_Count count, MPI_Datatype t)
{
    return lyr_split_begin(fh, LYR_ORDERED, 0, 0, buf, count, t);
}
#endif
