/* e2e_hdf5.c - homi-run end-to-end job: an MPI program with HDF5.  Rank 0
 * writes FILE.h5 with the default driver: a 1-D uint8 dataset holding the
 * bytes of FILE; then every rank opens it with H5FD_homi and reads its own
 * hyperslab (plus an overlapping one), checked against pread of FILE.
 *   mpirun -n N e2e_hdf5 FILE */
#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "H5FDhomi.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size, bad = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2) {
        if (!rank) fprintf(stderr, "usage: e2e_hdf5 FILE\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    struct stat st;
    if (stat(argv[1], &st)) {
        perror(argv[1]);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    hsize_t total = (hsize_t)st.st_size;
    char h5[4096];
    snprintf(h5, sizeof h5, "%s.h5", argv[1]);
    int fd = open(argv[1], O_RDONLY);
    if (!rank) { /* the file, written by stock HDF5 (sec2) */
        char *all = malloc(total);
        if (pread(fd, all, total, 0) != (ssize_t)total) bad = 1;
        hid_t f = H5Fcreate(h5, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hid_t sp = H5Screate_simple(1, &total, NULL);
        hid_t d =
            H5Dcreate2(f, "/bytes", H5T_NATIVE_UINT8, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) < 0) bad = 1;
        H5Dclose(d);
        H5Sclose(sp);
        H5Fclose(f);
        free(all);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (H5Pset_fapl_homi(fapl, NULL) < 0) bad = 1;
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, fapl);
    hid_t d = H5Dopen2(f, "/bytes", H5P_DEFAULT);
    hid_t fsp = H5Dget_space(d);
    hsize_t part = total / (hsize_t)size;
    for (int k = 0; k < 2 && f >= 0 && d >= 0; k++) {
        /* k 0: own part; k 1: half of own and half of the next rank's */
        hsize_t start = part * (hsize_t)rank + (k ? part / 2 : 0);
        hsize_t count = part;
        if (start + count > total) count = total - start;
        if (!count) continue;
        unsigned char *buf = malloc(count), *ref = malloc(count);
        hid_t msp = H5Screate_simple(1, &count, NULL);
        H5Sselect_hyperslab(fsp, H5S_SELECT_SET, &start, NULL, &count, NULL);
        if (H5Dread(d, H5T_NATIVE_UINT8, msp, fsp, H5P_DEFAULT, buf) < 0 ||
            pread(fd, ref, count, (off_t)start) != (ssize_t)count || memcmp(buf, ref, count)) {
            fprintf(stderr, "rank %d: hyperslab %llu+%llu differs\n", rank,
                    (unsigned long long)start, (unsigned long long)count);
            bad = 1;
        }
        H5Sclose(msp);
        free(buf);
        free(ref);
    }
    if (f < 0 || d < 0) bad = 1;
    homi_stats hs;
    memset(&hs, 0, sizeof hs);
    if (f >= 0) H5FD_homi_file_stats(f, &hs);
    H5Sclose(fsp);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);
    int sum = 0;
    MPI_Allreduce(&bad, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (!rank)
        printf("e2e_hdf5: %d ranks read disjoint and overlapping hyperslabs of %llu bytes "
               "through H5FD_homi: %s\n",
               size, (unsigned long long)total, sum ? "MISMATCH" : "equal to pread");
    if (!rank) unlink(h5);
    close(fd);
    H5close();
    MPI_Finalize();
    return sum ? 1 : 0;
}
