/* test_stand_aside.c - libhomi_mpiio selects a file only when HOMI is asked
 * for, and never in an MPI that already contains ad_homi:
 *   test_stand_aside serve : hint homi=enable -> served by the layer
 *                            (MPI_File_get_info: homi_mpiio=pmpi); no hint
 *                            and no HOMI_MPIIO* -> not served
 *                            HOMI_MPIIO=enable -> served (also ufs:name);
 *                            a file HOMI cannot serve (/dev/null) is left
 *                            to the MPI library, unless asked for by hint
 *   test_stand_aside aside : (ADIO_HOMI_operations defined in the process)
 *                            hint homi=enable -> not served by the layer
 * In every case the data read equal pread. */
#include <mpi.h>

#include "homi_test.h"

static int served(MPI_File fh)
{
    MPI_Info info;
    char v[64];
    int flag = 0;
    MPI_File_get_info(fh, &info);
    MPI_Info_get(info, "homi_mpiio", sizeof v - 1, v, &flag);
    MPI_Info_free(&info);
    return flag && !strcmp(v, "pmpi");
}

static void read_check(const char *path, const char *hint, int want_served)
{
    t_context = hint ? hint : "no hint";
    MPI_Info info;
    MPI_Info_create(&info);
    if (hint) MPI_Info_set(info, "homi", hint);
    MPI_File fh;
    int err = MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDONLY, info, &fh);
    MPI_Info_free(&info);
    REQUIRE(err == MPI_SUCCESS, "open");
    CHECK(served(fh) == want_served, "served by the layer: %d, expected %d", served(fh),
          want_served);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char buf[5000], want[5000];
    MPI_Status st;
    err = MPI_File_read_at_all(fh, rank * 777, buf, sizeof buf, MPI_BYTE, &st);
    CHECK(err == MPI_SUCCESS, "read_at_all");
    int fd = open(strncmp(path, "ufs:", 4) ? path : path + 4, O_RDONLY);
    t_pread_ref(fd, want, sizeof want, rank * 777);
    close(fd);
    CHECK(!memcmp(buf, want, sizeof buf), "data differ from pread");
    MPI_File_close(&fh);
}

/* writes through the MPI library, reads by HOMI on the same handle: after
 * MPI_File_sync + barrier + sync every rank reads what rank 0 wrote */
static void coherence(const char *path)
{
    t_context = "write (MPI library) then read (HOMI), sync-barrier-sync";
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "homi", "enable");
    MPI_File fh;
    int err = MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDWR, info, &fh);
    MPI_Info_free(&info);
    REQUIRE(err == MPI_SUCCESS, "open RDWR");
    CHECK(served(fh), "RDWR handle not served by the layer");
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char before[8192], after[8192], pattern[8192];
    MPI_File_read_at_all(fh, 0, before, sizeof before, MPI_BYTE, MPI_STATUS_IGNORE);
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)(before[i] ^ 0x5a);
    if (rank == 0) MPI_File_write_at(fh, 0, pattern, sizeof pattern, MPI_BYTE, MPI_STATUS_IGNORE);
    MPI_File_sync(fh);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_File_sync(fh);
    MPI_File_read_at(fh, 0, after, sizeof after, MPI_BYTE, MPI_STATUS_IGNORE);
    CHECK(!memcmp(after, pattern, sizeof after), "rank %d reads stale data after the write", rank);
    MPI_File_read_at_all(fh, 0, after, sizeof after, MPI_BYTE, MPI_STATUS_IGNORE);
    CHECK(!memcmp(after, pattern, sizeof after), "rank %d: collective read stale", rank);
    MPI_File_close(&fh);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int aside = argc > 1 && !strcmp(argv[1], "aside");
    char path[4200];
    if (rank == 0) {
        t_path(path, sizeof path, t_make_tmpdir("pmpi-aside"), "data");
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        char *b = malloc(1 << 16);
        t_fill_random(b, 1 << 16);
        t_pwrite_all(fd, b, 1 << 16, 0);
        free(b);
        close(fd);
    }
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    unsetenv("HOMI_MPIIO");
    unsetenv("HOMI_MPIIO_PATHS");
    read_check(path, "enable", !aside);
    read_check(path, NULL, 0);
    read_check(path, "disable", 0);
    if (!aside) {
        /* HOMI_MPIIO=enable: every file, also under a ROMIO prefix; a file
         * HOMI cannot serve (/dev/null, not a regular file) is left to the
         * MPI library with a note, while asking for HOMI on it fails */
        setenv("HOMI_MPIIO", "enable", 1);
        read_check(path, NULL, 1);
#ifndef OPEN_MPI /* OMPIO does not take ROMIO's ufs: prefix */
        char ufs[4300];
        snprintf(ufs, sizeof ufs, "ufs:%s", path);
        read_check(ufs, NULL, 1);
#endif
        t_context = "/dev/null under HOMI_MPIIO=enable";
        MPI_File fh;
        int err = MPI_File_open(MPI_COMM_WORLD, "/dev/null", MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
        CHECK(err == MPI_SUCCESS, "open /dev/null failed");
        if (err == MPI_SUCCESS) {
            CHECK(!served(fh), "/dev/null served by HOMI");
            MPI_File_close(&fh);
        }
        t_context = "/dev/null with homi=enable";
        MPI_Info info;
        MPI_Info_create(&info);
        MPI_Info_set(info, "homi", "enable");
        err = MPI_File_open(MPI_COMM_WORLD, "/dev/null", MPI_MODE_RDONLY, info, &fh);
        MPI_Info_free(&info);
        CHECK(err != MPI_SUCCESS, "HOMI asked for on /dev/null: open succeeded");
        if (err == MPI_SUCCESS) MPI_File_close(&fh);
        unsetenv("HOMI_MPIIO");
        coherence(path);
    }
    int fails = t_failures, all;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank == 0) t_finish("test_stand_aside");
    return all ? 1 : 0;
}
