/* hdf5_read_to_gpu.c - read an HDF5 dataset (or a block of its leading
 * dimension) straight into GPU memory with the HOMI file driver, then show
 * which I/O path served the bytes.
 *   usage: hdf5_read_to_gpu FILE DATASET [FIRST_ROW [NROWS]]
 * Hints come from HOMI_* variables (docs/hints.md), e.g.
 *   HOMI_STAGING_SIZE=16M hdf5_read_to_gpu data.h5 /images 0 1024 */
#include <H5FDhomi.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE DATASET [FIRST_ROW [NROWS]]\n", argv[0]);
        return 2;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (H5Pset_fapl_homi(fapl, NULL) < 0) return 1; /* defaults + HOMI_* environment */
    hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, fapl);
    if (file < 0) return 1;
    hid_t dset = H5Dopen2(file, argv[2], H5P_DEFAULT);
    if (dset < 0) return 1;

    /* select rows [first, first + n) of the leading dimension */
    hid_t fspace = H5Dget_space(dset);
    int rank = H5Sget_simple_extent_ndims(fspace);
    hsize_t dims[H5S_MAX_RANK], start[H5S_MAX_RANK] = {0};
    H5Sget_simple_extent_dims(fspace, dims, NULL);
    hsize_t first = argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
    hsize_t nrows = argc > 4 ? strtoull(argv[4], NULL, 0) : dims[0] - first;
    if (first + nrows > dims[0]) {
        fprintf(stderr, "rows [%llu, %llu) outside the dataset's %llu\n", (unsigned long long)first,
                (unsigned long long)(first + nrows), (unsigned long long)dims[0]);
        return 2;
    }
    start[0] = first;
    dims[0] = nrows;
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, dims, NULL);
    hid_t mspace = H5Screate_simple(rank, dims, NULL);

    /* read with the dataset's own type: no conversion, so HDF5 hands the
     * device buffer to the driver */
    hid_t type = H5Dget_type(dset);
    size_t bytes = (size_t)H5Sget_select_npoints(fspace) * H5Tget_size(type);
    void *dev = NULL;
    if (cudaMalloc(&dev, bytes ? bytes : 1) != cudaSuccess) {
        fprintf(stderr, "cudaMalloc(%zu) failed\n", bytes);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (H5FD_homi_dread(dset, type, mspace, fspace, H5P_DEFAULT, dev) < 0) {
        fprintf(stderr, "read failed (the HDF5 error stack above says why)\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("read %zu bytes of %s into GPU memory at %p in %.3f s\n", bytes, argv[2], dev, sec);
    homi_stats st;
    if (H5FD_homi_file_stats(file, &st) == 0) homi_stats_print(&st, sec, stdout);

    cudaFree(dev);
    H5Tclose(type);
    H5Sclose(mspace);
    H5Sclose(fspace);
    H5Dclose(dset);
    H5Fclose(file);
    H5Pclose(fapl);
    H5close(); /* releases the driver's idle HOMI engine while CUDA is still up */
    return 0;
}
