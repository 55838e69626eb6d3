/* pmpi_calls.c - one switch per family over the MPI library's own read and
 * write calls (PMPI_File_*), with the large-count _c form where the count
 * does not fit an int and the MPI library has it (MPI 4). */
#include <limits.h>

#include "pmpi_calls.h"

#if MPI_VERSION >= 4
#define LARGE(call_c, call)                                                                        \
    do {                                                                                           \
        if (cnt > INT_MAX) return call_c;                                                          \
        return call;                                                                               \
    } while (0)
#else
#define LARGE(call_c, call)                                                                        \
    do {                                                                                           \
        if (cnt > INT_MAX) return MPI_ERR_COUNT;                                                   \
        return call;                                                                               \
    } while (0)
#endif

int lyr_pmpi_read(MPI_File fh, int op, MPI_Offset off, void *buf, MPI_Count cnt, MPI_Datatype t,
                  MPI_Status *st)
{
    int n = (int)cnt;
    switch (op) {
    case LYR_AT:
        LARGE(PMPI_File_read_at_c(fh, off, buf, cnt, t, st),
              PMPI_File_read_at(fh, off, buf, n, t, st));
    case LYR_ALL:
        LARGE(PMPI_File_read_all_c(fh, buf, cnt, t, st), PMPI_File_read_all(fh, buf, n, t, st));
    case LYR_AT_ALL:
        LARGE(PMPI_File_read_at_all_c(fh, off, buf, cnt, t, st),
              PMPI_File_read_at_all(fh, off, buf, n, t, st));
    case LYR_SHARED:
        LARGE(PMPI_File_read_shared_c(fh, buf, cnt, t, st),
              PMPI_File_read_shared(fh, buf, n, t, st));
    case LYR_ORDERED:
        LARGE(PMPI_File_read_ordered_c(fh, buf, cnt, t, st),
              PMPI_File_read_ordered(fh, buf, n, t, st));
    default: LARGE(PMPI_File_read_c(fh, buf, cnt, t, st), PMPI_File_read(fh, buf, n, t, st));
    }
}

int lyr_pmpi_iread(MPI_File fh, int op, MPI_Offset off, void *buf, MPI_Count cnt, MPI_Datatype t,
                   MPI_Request *rq)
{
    int n = (int)cnt;
    switch (op) {
    case LYR_AT:
        LARGE(PMPI_File_iread_at_c(fh, off, buf, cnt, t, rq),
              PMPI_File_iread_at(fh, off, buf, n, t, rq));
    case LYR_ALL:
        LARGE(PMPI_File_iread_all_c(fh, buf, cnt, t, rq), PMPI_File_iread_all(fh, buf, n, t, rq));
    case LYR_AT_ALL:
        LARGE(PMPI_File_iread_at_all_c(fh, off, buf, cnt, t, rq),
              PMPI_File_iread_at_all(fh, off, buf, n, t, rq));
    case LYR_SHARED:
        LARGE(PMPI_File_iread_shared_c(fh, buf, cnt, t, rq),
              PMPI_File_iread_shared(fh, buf, n, t, rq));
    default: LARGE(PMPI_File_iread_c(fh, buf, cnt, t, rq), PMPI_File_iread(fh, buf, n, t, rq));
    }
}

int lyr_pmpi_write(MPI_File fh, int op, MPI_Offset off, const void *buf, MPI_Count cnt,
                   MPI_Datatype t, MPI_Status *st)
{
    int n = (int)cnt;
    switch (op) {
    case LYR_AT:
        LARGE(PMPI_File_write_at_c(fh, off, buf, cnt, t, st),
              PMPI_File_write_at(fh, off, buf, n, t, st));
    case LYR_ALL:
        LARGE(PMPI_File_write_all_c(fh, buf, cnt, t, st), PMPI_File_write_all(fh, buf, n, t, st));
    case LYR_AT_ALL:
        LARGE(PMPI_File_write_at_all_c(fh, off, buf, cnt, t, st),
              PMPI_File_write_at_all(fh, off, buf, n, t, st));
    case LYR_SHARED:
        LARGE(PMPI_File_write_shared_c(fh, buf, cnt, t, st),
              PMPI_File_write_shared(fh, buf, n, t, st));
    case LYR_ORDERED:
        LARGE(PMPI_File_write_ordered_c(fh, buf, cnt, t, st),
              PMPI_File_write_ordered(fh, buf, n, t, st));
    default: LARGE(PMPI_File_write_c(fh, buf, cnt, t, st), PMPI_File_write(fh, buf, n, t, st));
    }
}

int lyr_pmpi_iwrite(MPI_File fh, int op, MPI_Offset off, const void *buf, MPI_Count cnt,
                    MPI_Datatype t, MPI_Request *rq)
{
    int n = (int)cnt;
    switch (op) {
    case LYR_AT:
        LARGE(PMPI_File_iwrite_at_c(fh, off, buf, cnt, t, rq),
              PMPI_File_iwrite_at(fh, off, buf, n, t, rq));
    case LYR_ALL:
        LARGE(PMPI_File_iwrite_all_c(fh, buf, cnt, t, rq), PMPI_File_iwrite_all(fh, buf, n, t, rq));
    case LYR_AT_ALL:
        LARGE(PMPI_File_iwrite_at_all_c(fh, off, buf, cnt, t, rq),
              PMPI_File_iwrite_at_all(fh, off, buf, n, t, rq));
    case LYR_SHARED:
        LARGE(PMPI_File_iwrite_shared_c(fh, buf, cnt, t, rq),
              PMPI_File_iwrite_shared(fh, buf, n, t, rq));
    default: LARGE(PMPI_File_iwrite_c(fh, buf, cnt, t, rq), PMPI_File_iwrite(fh, buf, n, t, rq));
    }
}

int lyr_pmpi_begin(MPI_File fh, int op, int write, MPI_Offset off, void *buf, MPI_Count cnt,
                   MPI_Datatype t)
{
    int n = (int)cnt;
    if (write) switch (op) {
        case LYR_AT_ALL:
            LARGE(PMPI_File_write_at_all_begin_c(fh, off, buf, cnt, t),
                  PMPI_File_write_at_all_begin(fh, off, buf, n, t));
        case LYR_ORDERED:
            LARGE(PMPI_File_write_ordered_begin_c(fh, buf, cnt, t),
                  PMPI_File_write_ordered_begin(fh, buf, n, t));
        default:
            LARGE(PMPI_File_write_all_begin_c(fh, buf, cnt, t),
                  PMPI_File_write_all_begin(fh, buf, n, t));
        }
    switch (op) {
    case LYR_AT_ALL:
        LARGE(PMPI_File_read_at_all_begin_c(fh, off, buf, cnt, t),
              PMPI_File_read_at_all_begin(fh, off, buf, n, t));
    case LYR_ORDERED:
        LARGE(PMPI_File_read_ordered_begin_c(fh, buf, cnt, t),
              PMPI_File_read_ordered_begin(fh, buf, n, t));
    default:
        LARGE(PMPI_File_read_all_begin_c(fh, buf, cnt, t), PMPI_File_read_all_begin(fh, buf, n, t));
    }
}

int lyr_pmpi_end(MPI_File fh, int op, int write, void *buf, MPI_Status *st)
{
    if (write) switch (op) {
        case LYR_AT_ALL: return PMPI_File_write_at_all_end(fh, buf, st);
        case LYR_ORDERED: return PMPI_File_write_ordered_end(fh, buf, st);
        default: return PMPI_File_write_all_end(fh, buf, st);
        }
    switch (op) {
    case LYR_AT_ALL: return PMPI_File_read_at_all_end(fh, buf, st);
    case LYR_ORDERED: return PMPI_File_read_ordered_end(fh, buf, st);
    default: return PMPI_File_read_all_end(fh, buf, st);
    }
}
