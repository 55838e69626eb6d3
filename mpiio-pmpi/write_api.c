/* write_api.c - the MPI_File_write* entry points.  For files HOMI serves,
 * writes from device memory at the individual pointer or an explicit offset
 * (blocking, nonblocking, split collective) go to lyr_write (write.c); the
 * rest are the MPI library's work, a device buffer first copied to host
 * memory (the MPI library need not be CUDA-aware).  Nonblocking and split
 * writes from device memory complete inside the call.  HOMI's extent map
 * of the file notices the change by itself (inotify watch and stat check in
 * libhomi), so no read returns stale blocks. */
#include <stdlib.h>

#include "layer.h"
#include "pmpi_calls.h"

int lyr_write_blocking(lyr_file *f, MPI_File fh, int op, MPI_Offset off, const void *buf,
                       MPI_Count cnt, MPI_Datatype t, MPI_Status *st)
{
    if (!f) return lyr_pmpi_write(fh, op, off, buf, cnt, t, st);
    int rc;
    void *host;
    void *stage = lyr_stage_in(buf, cnt, t, 1, &host, &rc);
    if (rc) return lyr_fail(fh, lyr_err_homi(rc, "device buffer"));
    int err = lyr_pmpi_write(fh, op, off, host, cnt, t, st);
    free(stage);
    return err;
}

/* HOMI's write for the access kinds it serves; -1: the MPI library's */
static int homi_wr(lyr_file *f, int op, MPI_Offset off, const void *buf, MPI_Count cnt,
                   MPI_Datatype t, MPI_Status *st)
{
    if (!f || op == LYR_SHARED || op == LYR_ORDERED) return -1;
    return lyr_write(f, op == LYR_INDIV || op == LYR_ALL, off, buf, cnt, t,
                     op == LYR_ALL || op == LYR_AT_ALL, st);
}

int lyr_split_write(lyr_file *f, int op, MPI_Offset off, const void *buf, MPI_Count cnt,
                    MPI_Datatype t, MPI_Status *st)
{
    return homi_wr(f, op, off, buf, cnt, t, st);
}

static int wr(MPI_File fh, int op, MPI_Offset off, const void *buf, MPI_Count cnt, MPI_Datatype t,
              MPI_Status *st)
{
    lyr_file *f = lyr_lookup(fh);
    int err = homi_wr(f, op, off, buf, cnt, t, st);
    return err != -1 ? err : lyr_write_blocking(f, fh, op, off, buf, cnt, t, st);
}

static int iwr(MPI_File fh, int op, MPI_Offset off, const void *buf, MPI_Count cnt, MPI_Datatype t,
               MPI_Request *rq)
{
    lyr_file *f = lyr_lookup(fh);
    if (!f) return lyr_pmpi_iwrite(fh, op, off, buf, cnt, t, rq);
    MPI_Status hs;
    int herr = homi_wr(f, op, off, buf, cnt, t, &hs);
    if (herr != -1) {
        if (herr != MPI_SUCCESS) {
            *rq = MPI_REQUEST_NULL;
            return herr;
        }
        return lyr_request_done(&hs, MPI_SUCCESS, rq);
    }
    int rc;
    void *host;
    void *stage = lyr_stage_in(buf, cnt, t, 0, &host, &rc);
    if (rc) return lyr_fail(fh, lyr_err_homi(rc, "device buffer"));
    if (!stage) return lyr_pmpi_iwrite(fh, op, off, buf, cnt, t, rq);
    free(stage);
    MPI_Status st;
    int err = lyr_write_blocking(f, fh, op, off, buf, cnt, t, &st);
    if (err != MPI_SUCCESS) {
        *rq = MPI_REQUEST_NULL;
        return err;
    }
    return lyr_request_done(&st, MPI_SUCCESS, rq);
}

int MPI_File_write(MPI_File fh, const void *buf, int count, MPI_Datatype t, MPI_Status *st)
{
    return wr(fh, LYR_INDIV, 0, buf, count, t, st);
}
int MPI_File_write_at(MPI_File fh, MPI_Offset off, const void *buf, int count, MPI_Datatype t,
                      MPI_Status *st)
{
    return wr(fh, LYR_AT, off, buf, count, t, st);
}
int MPI_File_write_all(MPI_File fh, const void *buf, int count, MPI_Datatype t, MPI_Status *st)
{
    return wr(fh, LYR_ALL, 0, buf, count, t, st);
}
int MPI_File_write_at_all(MPI_File fh, MPI_Offset off, const void *buf, int count, MPI_Datatype t,
                          MPI_Status *st)
{
    return wr(fh, LYR_AT_ALL, off, buf, count, t, st);
}
int MPI_File_write_shared(MPI_File fh, const void *buf, int count, MPI_Datatype t, MPI_Status *st)
{
    return wr(fh, LYR_SHARED, 0, buf, count, t, st);
}
int MPI_File_write_ordered(MPI_File fh, const void *buf, int count, MPI_Datatype t, MPI_Status *st)
{
    return wr(fh, LYR_ORDERED, 0, buf, count, t, st);
}
int MPI_File_iwrite(MPI_File fh, const void *buf, int count, MPI_Datatype t, MPI_Request *rq)
{
    return iwr(fh, LYR_INDIV, 0, buf, count, t, rq);
}
int MPI_File_iwrite_at(MPI_File fh, MPI_Offset off, const void *buf, int count, MPI_Datatype t,
                       MPI_Request *rq)
{
    return iwr(fh, LYR_AT, off, buf, count, t, rq);
}
int MPI_File_iwrite_all(MPI_File fh, const void *buf, int count, MPI_Datatype t, MPI_Request *rq)
{
    return iwr(fh, LYR_ALL, 0, buf, count, t, rq);
}
int MPI_File_iwrite_at_all(MPI_File fh, MPI_Offset off, const void *buf, int count, MPI_Datatype t,
                           MPI_Request *rq)
{
    return iwr(fh, LYR_AT_ALL, off, buf, count, t, rq);
}
int MPI_File_iwrite_shared(MPI_File fh, const void *buf, int count, MPI_Datatype t, MPI_Request *rq)
{
    return iwr(fh, LYR_SHARED, 0, buf, count, t, rq);
}
int MPI_File_write_all_begin(MPI_File fh, const void *buf, int count, MPI_Datatype t)
{
    return lyr_split_begin(fh, LYR_ALL, 1, 0, (void *)buf, count, t);
}
int MPI_File_write_all_end(MPI_File fh, const void *buf, MPI_Status *st)
{
    return lyr_split_end(fh, LYR_ALL, 1, (void *)buf, st);
}
int MPI_File_write_at_all_begin(MPI_File fh, MPI_Offset off, const void *buf, int count,
                                MPI_Datatype t)
{
    return lyr_split_begin(fh, LYR_AT_ALL, 1, off, (void *)buf, count, t);
}
int MPI_File_write_at_all_end(MPI_File fh, const void *buf, MPI_Status *st)
{
    return lyr_split_end(fh, LYR_AT_ALL, 1, (void *)buf, st);
}
int MPI_File_write_ordered_begin(MPI_File fh, const void *buf, int count, MPI_Datatype t)
{
    return lyr_split_begin(fh, LYR_ORDERED, 1, 0, (void *)buf, count, t);
}
int MPI_File_write_ordered_end(MPI_File fh, const void *buf, MPI_Status *st)
{
    return lyr_split_end(fh, LYR_ORDERED, 1, (void *)buf, st);
}

#if MPI_VERSION >= 4 /* large-count forms */
int MPI_File_write_c(MPI_File fh, const void *buf, MPI_Count count, MPI_Datatype t, MPI_Status *st)
{
    return wr(fh, LYR_INDIV, 0, buf, count, t, st);
}
int MPI_File_write_at_c(MPI_File fh, MPI_Offset off, const void *buf, MPI_Count count,
                        MPI_Datatype t, MPI_Status *st)
{
    return wr(fh, LYR_AT, off, buf, count, t, st);
}
int MPI_File_write_all_c(MPI_File fh, const void *buf, MPI_Count count, MPI_Datatype t,
                         MPI_Status *st)
{
    return wr(fh, LYR_ALL, 0, buf, count, t, st);
}
int MPI_File_write_at_all_c(MPI_File fh, MPI_Offset off, const void *buf, MPI_Count count,
                            MPI_Datatype t, MPI_Status *st)
{
    return wr(fh, LYR_AT_ALL, off, buf, count, t, st);
}
int MPI_File_iwrite_c(MPI_File fh, const void *buf, MPI_Count count, MPI_Datatype t,
                      MPI_Request *rq)
{
    return iwr(fh, LYR_INDIV, 0, buf, count, t, rq);
}
int MPI_File_iwrite_at_c(MPI_File fh, MPI_Offset off, const void *buf, MPI_Count count,
                         MPI_Datatype t, MPI_Request *rq)
{
    return iwr(fh, LYR_AT, off, buf, count, t, rq);
}
int MPI_File_iwrite_all_c(MPI_File fh, const void *buf, MPI_Count count, MPI_Datatype t,
                          MPI_Request *rq)
{
    return iwr(fh, LYR_ALL, 0, buf, count, t, rq);
}
int MPI_File_iwrite_at_all_c(MPI_File fh, MPI_Offset off, const void *buf, MPI_Count count,
                             MPI_Datatype t, MPI_Request *rq)
{
    return iwr(fh, LYR_AT_ALL, off, buf, count, t, rq);
}
#endif
