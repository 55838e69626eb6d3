/* test_hdf5_pmpi.c - Debian's parallel HDF5 (H5FD_mpio), unchanged and
 * without any hint, through libhomi_mpiio preloaded into Debian's MPI: the
 * runner sets HOMI_MPIIO_PATHS to a directory, the program writes a 2-D int
 * dataset there collectively (the MPI library's writes, through the layer),
 * then reads it back with collective and independent H5Dread, each rank a
 * hyperslab of a 2-D grid, checked element by element.  HDF5's own MPI_File
 * must be served by the layer (MPI_File_get_info: homi_mpiio=pmpi) and
 * HOMI must have served bytes of it (homi_served_bytes). */
#include <errno.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* the layer's report on HDF5's MPI_File: served (1/0) and bytes */
static int layer_info(hid_t f, hid_t fapl, long long *bytes)
{
    MPI_File *mfh = NULL;
    *bytes = -1;
    if (H5Fget_vfd_handle(f, fapl, (void **)&mfh) < 0 || !mfh) return 0;
    MPI_Info got;
    char v[64];
    int flag = 0, on;
    MPI_File_get_info(*mfh, &got);
    MPI_Info_get(got, "homi_mpiio", sizeof v - 1, v, &flag);
    on = flag && !strcmp(v, "pmpi");
    MPI_Info_get(got, "homi_served_bytes", sizeof v - 1, v, &flag);
    if (flag) *bytes = atoll(v);
    MPI_Info_free(&got);
    return on;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    const char *dirs = getenv("HOMI_MPIIO_PATHS");
    if (!dirs || !*dirs) {
        if (rank == 0) printf("SKIP: HOMI_MPIIO_PATHS is not set (the runner sets it)\n");
        MPI_Finalize();
        return 77;
    }
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", dirs);
    char *colon = strchr(dir, ':');
    if (colon) *colon = 0;
    if (rank == 0 && mkdir(dir, 0755) && errno != EEXIST) fail("mkdir");
    snprintf(path, sizeof path, "%s/homi-h5-pmpi-%d.h5", dir, nprocs);

    int dims[2] = {0, 0};
    MPI_Dims_create(nprocs, 2, dims);
    hsize_t cnt[2] = {NR / dims[0], NC / dims[1]};
    hsize_t start[2] = {(hsize_t)(rank / dims[1]) * cnt[0], (hsize_t)(rank % dims[1]) * cnt[1]};
    hsize_t gdims[2] = {NR, NC};
    int *buf = malloc(cnt[0] * cnt[1] * sizeof *buf);
    for (hsize_t i = 0; i < cnt[0]; i++)
        for (hsize_t j = 0; j < cnt[1]; j++)
            buf[i * cnt[1] + j] = val((long)(start[0] + i), (long)(start[1] + j));
    MPI_Barrier(MPI_COMM_WORLD);

    /* write: the MPI library's work, through the layer */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) fail("H5Fcreate");
    hid_t fs = H5Screate_simple(2, gdims, NULL);
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_INT, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(2, cnt, NULL);
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    if (H5Dwrite(d, H5T_NATIVE_INT, ms, fs, xfer, buf) < 0) fail("H5Dwrite");
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);

    /* read back: collective, then independent, no hint */
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) fail("H5Fopen");
    long long bytes;
    if (!layer_info(f, fapl, &bytes)) fail("HDF5's MPI file is not served by libhomi_mpiio");
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
    layer_info(f, fapl, &bytes);
    if (bytes < (long long)(cnt[0] * cnt[1] * sizeof *buf)) fail("HOMI served too few bytes");
    if (rank == 0) printf("rank 0: HOMI served %lld bytes of HDF5's file\n", bytes);
    H5Sclose(fs);
    H5Sclose(ms);
    H5Pclose(xfer);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);
    int all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        unlink(path);
        printf(all ? "test_hdf5_pmpi: %d failure(s)\n" : "test_hdf5_pmpi: all checks passed%.0d\n",
               all);
    }
    free(buf);
    MPI_Finalize();
    return all ? 1 : 0;
}
