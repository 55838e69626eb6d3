/* e2e_mpiio.c - homi-run end-to-end job: an unmodified-style MPI-IO program
 * (Debian's libmpich ABI, run on MPICH + ad_homi) reads FILE collectively
 * with the hint homi=enable; each rank checks its part against pread.
 *   mpiexec -n N e2e_mpiio FILE */
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size, bad = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2) {
        if (!rank) fprintf(stderr, "usage: e2e_mpiio FILE\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    struct stat st;
    if (stat(argv[1], &st)) {
        perror(argv[1]);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Offset part = (MPI_Offset)st.st_size / size + 1;
    MPI_Offset off = part * rank;
    if (off > st.st_size) off = st.st_size;
    MPI_Offset n = off + part > st.st_size ? st.st_size - off : part;
    char *buf = malloc((size_t)part + 1), *ref = malloc((size_t)part + 1);
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "homi", "enable");
    MPI_File fh;
    int rc = MPI_File_open(MPI_COMM_WORLD, argv[1], MPI_MODE_RDONLY, info, &fh);
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int len;
        MPI_Error_string(rc, msg, &len);
        fprintf(stderr, "rank %d: MPI_File_open: %s\n", rank, msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Status status;
    rc = MPI_File_read_at_all(fh, off, buf, (int)n, MPI_BYTE, &status);
    int got = 0;
    MPI_Get_count(&status, MPI_BYTE, &got);
    int fd = open(argv[1], O_RDONLY);
    ssize_t want = pread(fd, ref, (size_t)n, off);
    if (rc != MPI_SUCCESS || got != want || memcmp(buf, ref, (size_t)n)) {
        fprintf(stderr, "rank %d: read %d of %lld bytes at %lld, differs from pread\n", rank, got,
                (long long)n, (long long)off);
        bad = 1;
    }
    char fs[64] = "";
    int flag = 0;
    MPI_Info used;
    MPI_File_get_info(fh, &used);
    MPI_Info_get(used, "homi", sizeof fs - 1, fs, &flag);
    MPI_File_close(&fh);
    int total = 0;
    MPI_Allreduce(&bad, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (!rank)
        printf("e2e_mpiio: %d ranks read %lld bytes collectively (hint homi=%s): %s\n", size,
               (long long)st.st_size, flag ? fs : "?", total ? "MISMATCH" : "equal to pread");
    close(fd);
    free(buf);
    free(ref);
    MPI_Info_free(&info);
    MPI_Finalize();
    return total ? 1 : 0;
}
