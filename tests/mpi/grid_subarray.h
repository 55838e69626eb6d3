/* grid_subarray.h - the subarray filetype of one rank in a process grid
 * (MPI_Dims_create over nd dimensions, C order), shared by the MPI-IO
 * test programs (test_mpiio.c, test_writes.c).  Returns the elements of
 * the rank's block; block (may be NULL) gets its size per dimension. */
#ifndef HOMI_TEST_GRID_SUBARRAY_H
#define HOMI_TEST_GRID_SUBARRAY_H

#include <mpi.h>

static inline int t_grid_subarray(int nd, const int *gs, int rank, int nprocs, MPI_Datatype etype,
                                  MPI_Datatype *ft, int *block)
{
    int dims[3] = {0, 0, 0}, ss[3], st[3], co[3];
    MPI_Dims_create(nprocs, nd, dims);
    for (int d = nd - 1, r = rank; d >= 0; d--) {
        co[d] = r % dims[d];
        r /= dims[d];
    }
    int count = 1;
    for (int d = 0; d < nd; d++) {
        ss[d] = gs[d] / dims[d];
        st[d] = co[d] * ss[d];
        count *= ss[d];
        if (block) block[d] = ss[d];
    }
    MPI_Type_create_subarray(nd, gs, ss, st, MPI_ORDER_C, etype, ft);
    MPI_Type_commit(ft);
    return count;
}

#endif
