/* test_h5_mpi.c - H5FD_homi in an MPI program with the parallel (Open MPI)
 * HDF5: rank 0 writes a file (sec2, then H5FD_homi), every rank opens it
 * with H5FD_homi and reads its own hyperslab of a contiguous and a chunked
 * 2-D dataset: disjoint row blocks, overlapping row blocks, one block all
 * ranks share, and a strided column selection; values are checked against
 * the formula they were written with.  Run under mpirun -np 4. */
#include <mpi.h>

#include "h5_test.h"

#define NR 1024
#define NC 512

static float value(hsize_t i, hsize_t j)
{
    return (float)(i * 1000 + j) + 0.25f;
}

static void write_file(const char *path, hid_t fapl)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5_OK(f);
    hsize_t dims[2] = {NR, NC}, chunk[2] = {64, 128};
    float *data = malloc(sizeof(float) * NR * NC);
    REQUIRE(data, "malloc");
    for (hsize_t i = 0; i < NR; i++)
        for (hsize_t j = 0; j < NC; j++)
            data[i * NC + j] = value(i, j);
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_OK(H5Pset_chunk(dcpl, 2, chunk));
    hid_t d1 = H5Dcreate2(f, "contig", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d2 = H5Dcreate2(f, "chunked", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_OK(H5Dwrite(d1, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5_OK(H5Dwrite(d2, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(d1);
    H5Dclose(d2);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5_OK(H5Fclose(f));
    free(data);
}

/* Read [r0, r0+nr) x [c0, c0+nc) with column stride cs; check values. */
static void read_block(hid_t d, const char *what, hsize_t r0, hsize_t nr, hsize_t c0, hsize_t nc,
                       hsize_t cs)
{
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {r0, c0}, stride[2] = {1, cs}, count[2] = {nr, nc};
    H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, stride, count, NULL));
    hsize_t n = nr * nc;
    hid_t ms = H5Screate_simple(1, &n, NULL);
    float *buf = malloc(sizeof(float) * n);
    REQUIRE(buf, "malloc");
    H5_OK(H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, buf));
    int bad = 0;
    for (hsize_t i = 0; i < nr && !bad; i++)
        for (hsize_t j = 0; j < nc; j++)
            if (buf[i * nc + j] != value(r0 + i, c0 + j * cs)) {
                T_FAIL("%s: element (%llu,%llu) = %g, want %g", what, (unsigned long long)(r0 + i),
                       (unsigned long long)(c0 + j * cs), buf[i * nc + j],
                       value(r0 + i, c0 + j * cs));
                bad = 1;
                break;
            }
    free(buf);
    H5Sclose(ms);
    H5Sclose(fs);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char dir[4096] = "";
    if (rank == 0) snprintf(dir, sizeof dir, "%s", t_make_tmpdir("h5mpi"));
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);

    const char *names[2] = {"sec2-written.h5", "homi-written.h5"};
    for (int round = 0; round < 2; round++) {
        char path[4200];
        t_path(path, sizeof path, dir, names[round]);
        if (rank == 0) {
            hid_t fapl = round ? t_fapl_homi(NULL) : t_fapl_sec2();
            write_file(path, fapl);
            H5Pclose(fapl);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        t_context = names[round];
        hid_t fapl = t_fapl_homi(NULL);
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
        H5_OK(f);
        const char *dsets[2] = {"contig", "chunked"};
        for (int k = 0; k < 2; k++) {
            hid_t d = H5Dopen2(f, dsets[k], H5P_DEFAULT);
            H5_OK(d);
            hsize_t rows = NR / (hsize_t)size;
            /* disjoint: my rows */
            read_block(d, "disjoint", (hsize_t)rank * rows, rows, 0, NC, 1);
            /* overlapping: my rows and half of the next rank's */
            hsize_t r0 = (hsize_t)rank * rows, nr = rows + rows / 2;
            if (r0 + nr > NR) nr = NR - r0;
            read_block(d, "overlapping", r0, nr, 3, NC - 3, 1);
            /* the same block on every rank */
            read_block(d, "shared", 100, 200, 50, 300, 1);
            /* strided columns, rank-dependent offset */
            read_block(d, "strided", 7 + (hsize_t)rank * 100, 40, (hsize_t)rank, NC / 4 - 1, 4);
            H5Dclose(d);
        }
        homi_stats st;
        H5_OK(H5FD_homi_file_stats(f, &st));
        CHECK(st.path[HOMI_PATH_KERNEL].bytes > 0, "no bytes through the kernel path");
        H5Fclose(f);
        H5Pclose(fapl);
        MPI_Barrier(MPI_COMM_WORLD);
    }
    int fails = t_failures, all = 0;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("test_h5_mpi: %d ranks, %d failure(s) in all\n", size, all);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    return all ? 1 : 0;
}
