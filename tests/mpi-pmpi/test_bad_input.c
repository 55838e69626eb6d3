/* test_bad_input.c - bad input to HOMI's PMPI layer (libhomi_mpiio
 * preloaded into an unmodified MPI): the MPI error class the standard
 * names, through the file's error handler, no crash, and the other ranks
 * of a collective call unaffected:
 *   - MPI_File_open before MPI_Init and after MPI_Finalize: an error code
 *   - a homi: path that does not exist: MPI_ERR_NO_SUCH_FILE on every rank
 *   - MPI_File_set_view whose filetype is not made of etypes: MPI_ERR_ARG
 *   - a negative explicit offset (independent, and on one rank of a
 *     collective read: the others read their data, compared with pread)
 *   - errors reach a user error handler set on the file. */
#include <mpi.h>

#include "homi_test.h"

static int rank, nprocs;
static int handler_calls, handler_class;

static void on_error(MPI_File *fh, int *err, ...)
{
    (void)fh;
    handler_calls++;
    MPI_Error_class(*err, &handler_class);
}

static int cls_of(int err)
{
    int c = MPI_SUCCESS;
    if (err != MPI_SUCCESS) MPI_Error_class(err, &c);
    return c;
}

int main(int argc, char **argv)
{
    MPI_File fh;
    t_context = "open before MPI_Init";
    int err = MPI_File_open(MPI_COMM_WORLD, "homi:/tmp/x", MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    CHECK(err != MPI_SUCCESS, "MPI_File_open before MPI_Init succeeded");

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    char path[4200];
    if (rank == 0) {
        t_path(path, sizeof path, t_make_tmpdir("pmpi-bad"), "data");
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        REQUIRE(fd >= 0, "create");
        char *b = malloc(1 << 20);
        t_fill_random(b, 1 << 20);
        t_pwrite_all(fd, b, 1 << 20, 0);
        free(b);
        close(fd);
    }
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    int ref = open(path, O_RDONLY);

    t_context = "homi: path that does not exist";
    char name[4300];
    snprintf(name, sizeof name, "homi:%s.missing", path);
    err = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    CHECK(cls_of(err) == MPI_ERR_NO_SUCH_FILE, "error class %d", cls_of(err));

    snprintf(name, sizeof name, "homi:%s", path);
    err = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    REQUIRE(err == MPI_SUCCESS, "open %s", name);
    {
        MPI_Info info;
        char v[64];
        int flag = 0;
        MPI_File_get_info(fh, &info);
        MPI_Info_get(info, "homi_mpiio", sizeof v - 1, v, &flag);
        MPI_Info_free(&info);
        REQUIRE(flag && !strcmp(v, "pmpi"), "the file is not served by libhomi_mpiio");
    }
    MPI_Errhandler eh;
    MPI_File_create_errhandler(on_error, &eh);
    MPI_File_set_errhandler(fh, eh);

    t_context = "set_view: etype does not divide the filetype";
    MPI_Datatype six;
    MPI_Type_contiguous(6, MPI_BYTE, &six);
    MPI_Type_commit(&six);
    handler_calls = 0;
    err = MPI_File_set_view(fh, 0, MPI_INT, six, "native", MPI_INFO_NULL);
    CHECK(cls_of(err) == MPI_ERR_ARG, "error class %d", cls_of(err));
    CHECK(handler_calls == 1 && handler_class == MPI_ERR_ARG, "handler called %d times",
          handler_calls);
    MPI_Type_free(&six);

    t_context = "negative offset, read_at";
    int buf[256];
    MPI_Status st;
    handler_calls = 0;
    err = MPI_File_read_at(fh, -4, buf, 10, MPI_INT, &st);
    CHECK(cls_of(err) == MPI_ERR_ARG, "error class %d", cls_of(err));
    CHECK(handler_calls == 1, "handler called %d times", handler_calls);

    t_context = "negative offset on rank 1 of read_at_all";
    int bad = nprocs > 1 && rank == 1;
    memset(buf, 0, sizeof buf);
    err = MPI_File_read_at_all(fh, bad ? -100 : rank * 1000, buf, 256, MPI_INT, &st);
    if (bad) {
        CHECK(cls_of(err) == MPI_ERR_ARG, "error class %d", cls_of(err));
    } else {
        CHECK(err == MPI_SUCCESS, "read_at_all failed on a good rank");
        int cnt = 0;
        MPI_Get_count(&st, MPI_INT, &cnt);
        CHECK(cnt == 256, "count %d", cnt);
        int want[256];
        t_pread_ref(ref, want, sizeof want, rank * 1000);
        CHECK(!memcmp(buf, want, sizeof want), "data differ from pread");
    }
    t_context = "after the errors";
    err = MPI_File_read_at_all(fh, rank * 4, buf, 256, MPI_INT, &st);
    CHECK(err == MPI_SUCCESS, "the file is unusable after the errors");
    MPI_File_close(&fh);
    MPI_Errhandler_free(&eh);
    close(ref);
    int fails = t_failures, all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();

    t_context = "open after MPI_Finalize";
    err = MPI_File_open(MPI_COMM_WORLD, "homi:/tmp/x", MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    CHECK(err != MPI_SUCCESS, "MPI_File_open after MPI_Finalize succeeded");
    if (rank == 0) t_finish("test_bad_input");
    return t_failures || all ? 1 : 0;
}
