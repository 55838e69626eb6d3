/* test_h5_mpio.c - the collective route for parallel HDF5: H5FD_mpio with
 * the MPI-IO hint homi=enable, so that ROMIO's ad_homi driver (issue 5)
 * serves HDF5's collective reads.  Built against the distribution's
 * MPICH-flavoured parallel HDF5 (pkg-config hdf5-mpich); run by
 * h5_mpio_route.sh with issue 5's MPICH (libmpich.so.12 with ad_homi) first
 * on LD_LIBRARY_PATH.  Rank 0 writes a 2-D dataset, then every rank reads
 * its row block and an overlapping block collectively and checks values. */
#include <mpi.h>

#include "h5_test.h"

#define NR 1024
#define NC 256

static float value(hsize_t i, hsize_t j)
{
    return (float)(i * 4096 + j);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2) {
        if (!rank) fprintf(stderr, "usage: test_h5_mpio FILE\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const char *path = argv[1];
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "homi", "enable");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5_OK(H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, info));
    hsize_t dims[2] = {NR, NC};

    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5_OK(f);
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_OK(d);
    if (rank == 0) {
        float *v = malloc(sizeof(float) * NR * NC);
        REQUIRE(v, "malloc");
        for (hsize_t i = 0; i < NR; i++)
            for (hsize_t j = 0; j < NC; j++)
                v[i * NC + j] = value(i, j);
        H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
        free(v);
    }
    H5Dclose(d);
    H5Sclose(sp);
    H5_OK(H5Fclose(f));
    MPI_Barrier(MPI_COMM_WORLD);

    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5_OK(f);
    d = H5Dopen2(f, "data", H5P_DEFAULT);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5_OK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
    hsize_t rows = NR / (hsize_t)size;
    for (int overlap = 0; overlap < 2; overlap++) {
        hsize_t r0 = (hsize_t)rank * rows, nr = overlap ? rows + rows / 2 : rows;
        if (r0 + nr > NR) nr = NR - r0;
        hsize_t start[2] = {r0, 0}, count[2] = {nr, NC}, n = nr * NC;
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &n, NULL);
        H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL));
        float *buf = malloc(sizeof(float) * n);
        REQUIRE(buf, "malloc");
        H5_OK(H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, dxpl, buf));
        for (hsize_t k = 0; k < n; k++)
            if (buf[k] != value(r0 + k / NC, k % NC)) {
                T_FAIL("rank %d: element %llu = %g", rank, (unsigned long long)k, buf[k]);
                break;
            }
        free(buf);
        H5Sclose(ms);
        H5Sclose(fs);
    }
    H5Pclose(dxpl);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);
    MPI_Info_free(&info);
    int fails = t_failures, all = 0;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (!rank) printf("test_h5_mpio: %d ranks, %d failure(s)\n", size, all);
    MPI_Finalize();
    return all ? 1 : 0;
}
