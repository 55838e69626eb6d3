/* test_threads.c - libhomi_mpiio in an MPI_THREAD_MULTIPLE program: on each
 * rank four threads read the same file through one handle at the same
 * time (read_at with strided memory types that each thread creates and
 * frees, so the datatype cache and the file registry are hit concurrently,
 * plus iread_at + MPI_Wait), while the main thread opens and closes other
 * files; every read is compared with pread. */
#include <mpi.h>
#include <pthread.h>

#include "homi_test.h"

#define NT 4
#define ITERS 40

static char path[4200];
static MPI_File fh;
static int rank, ref_fd;
static _Atomic int bad;

static void *reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    int buf[3000], want[3000];
    for (int it = 0; it < ITERS; it++) {
        MPI_Datatype t;
        MPI_Type_vector(100, 5 + id, 10, MPI_INT, &t); /* memory: 5+id of every 10 ints */
        MPI_Type_commit(&t);
        MPI_Offset off = ((MPI_Offset)rank * 7919 + id * 1013 + it * 131) * 4;
        MPI_Status st;
        memset(buf, 0, sizeof buf);
        int err;
        if (it % 2) {
            MPI_Request rq;
            err = MPI_File_iread_at(fh, off, buf, 1, t, &rq);
            if (!err) err = MPI_Wait(&rq, &st);
        } else {
            err = MPI_File_read_at(fh, off, buf, 1, t, &st);
        }
        int n = 100 * (5 + id), cnt = 0;
        MPI_Get_count(&st, MPI_INT, &cnt);
        t_pread_ref(ref_fd, want, (size_t)n * 4, off);
        int ok = !err && cnt == n;
        for (int k = 0; ok && k < n; k++)
            ok = buf[(k / (5 + id)) * 10 + k % (5 + id)] == want[k];
        if (!ok) bad++;
        MPI_Type_free(&t);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (provided < MPI_THREAD_MULTIPLE) {
        if (rank == 0) printf("SKIP: the MPI library gives no MPI_THREAD_MULTIPLE\n");
        MPI_Finalize();
        return 77;
    }
    if (rank == 0) {
        t_path(path, sizeof path, t_make_tmpdir("pmpi-threads"), "data");
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        char *b = malloc(4 << 20);
        t_fill_random(b, 4 << 20);
        t_pwrite_all(fd, b, 4 << 20, 0);
        free(b);
        close(fd);
    }
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    ref_fd = open(path, O_RDONLY);
    char name[4300];
    snprintf(name, sizeof name, "homi:%s", path);
    REQUIRE(MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh) == 0, "open");
    pthread_t th[NT];
    for (int i = 0; i < NT; i++)
        pthread_create(&th[i], NULL, reader, (void *)(intptr_t)i);
    for (int i = 0; i < 10; i++) { /* meanwhile: other files come and go */
        MPI_File g;
        REQUIRE(MPI_File_open(MPI_COMM_SELF, name, MPI_MODE_RDONLY, MPI_INFO_NULL, &g) == 0,
                "open");
        char b[4096];
        MPI_File_read_at(g, i * 4096, b, 4096, MPI_BYTE, MPI_STATUS_IGNORE);
        MPI_File_close(&g);
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    t_context = "threads";
    CHECK(bad == 0, "rank %d: %d of %d threaded reads wrong", rank, (int)bad, NT * ITERS);
    MPI_File_close(&fh);
    close(ref_fd);
    int fails = t_failures, all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank == 0) t_finish("test_threads");
    return all ? 1 : 0;
}
