/* test_hdf5_mpio.c - Debian's MPICH-built parallel HDF5 (libhdf5-mpich),
 * unchanged, reading through the HOMI MPI-IO driver: the program is linked
 * against Debian's libmpich and libhdf5; at run time the MPICH + ad_homi
 * libmpich.so.12 replaces Debian's (LD_LIBRARY_PATH).  A 2-D int dataset
 * is written with stock ROMIO (ufs), then read back with the MPI-IO hint
 * homi=enable, collectively and independently, each rank a hyperslab of a
 * 2-D grid, and checked element by element; the HOMI driver must be the
 * one serving the file (MPI_File_get_info of HDF5's own MPI_File). */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NR 600
#define NC 500

static int val(long i, long j)
{
    return (int)((i * 7919 + j * 104729) ^ (i << 3));
}

static int rank, nprocs, fails;

static void fail(const char *what)
{
    fprintf(stderr, "rank %d: FAIL %s\n", rank, what);
    fails++;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    char path[4096];
    if (rank == 0) {
        const char *t = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/homi-h5-%d.h5", t && *t ? t : "/tmp", (int)getpid());
    }
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);

    int dims[2] = {0, 0};
    MPI_Dims_create(nprocs, 2, dims);
    hsize_t cnt[2] = {NR / dims[0], NC / dims[1]};
    hsize_t start[2] = {(hsize_t)(rank / dims[1]) * cnt[0], (hsize_t)(rank % dims[1]) * cnt[1]};
    hsize_t gdims[2] = {NR, NC};
    int *buf = malloc(cnt[0] * cnt[1] * sizeof *buf);
    for (hsize_t i = 0; i < cnt[0]; i++)
        for (hsize_t j = 0; j < cnt[1]; j++)
            buf[i * cnt[1] + j] = val((long)(start[0] + i), (long)(start[1] + j));

    /* write with stock ROMIO (ufs: prefix) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
    char upath[4200];
    snprintf(upath, sizeof upath, "ufs:%s", path);
    hid_t f = H5Fcreate(upath, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) fail("H5Fcreate");
    hid_t fs = H5Screate_simple(2, gdims, NULL);
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_INT, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(2, cnt, NULL);
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    if (H5Dwrite(d, H5T_NATIVE_INT, ms, fs, xfer, buf) < 0) fail("H5Dwrite");
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);

    /* read with HOMI: collective, then independent */
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "homi", "enable");
    MPI_Info_set(info, "cb_buffer_size", "131072");
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, info);
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) fail("H5Fopen with homi=enable");
    MPI_File *mfh = NULL;
    if (H5Fget_vfd_handle(f, fapl, (void **)&mfh) < 0 || !mfh)
        fail("H5Fget_vfd_handle");
    else {
        MPI_Info got;
        char v[64];
        int flag = 0;
        MPI_File_get_info(*mfh, &got);
        MPI_Info_get(got, "homi", sizeof v - 1, v, &flag);
        if (!flag || strcmp(v, "enable")) fail("HDF5's MPI file is not served by the HOMI driver");
        MPI_Info_free(&got);
    }
    d = H5Dopen2(f, "data", H5P_DEFAULT);
    fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    for (int mode = 0; mode < 2; mode++) {
        H5Pset_dxpl_mpio(xfer, mode ? H5FD_MPIO_INDEPENDENT : H5FD_MPIO_COLLECTIVE);
        memset(buf, 0, cnt[0] * cnt[1] * sizeof *buf);
        if (H5Dread(d, H5T_NATIVE_INT, ms, fs, xfer, buf) < 0) fail("H5Dread");
        long bad = 0;
        for (hsize_t i = 0; i < cnt[0]; i++)
            for (hsize_t j = 0; j < cnt[1]; j++)
                bad += buf[i * cnt[1] + j] != val((long)(start[0] + i), (long)(start[1] + j));
        if (bad) fail(mode ? "independent read: wrong data" : "collective read: wrong data");
    }
    H5Sclose(fs);
    H5Sclose(ms);
    H5Pclose(xfer);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);
    MPI_Info_free(&info);
    int all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        unlink(path);
        printf(all ? "test_hdf5_mpio: %d failure(s)\n" : "test_hdf5_mpio: all checks passed%.0d\n",
               all);
    }
    free(buf);
    MPI_Finalize();
    return all ? 1 : 0;
}
