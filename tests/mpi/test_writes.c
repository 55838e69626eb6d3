/* test_writes.c - writes HOMI serves in libhomi_mpiio, byte for byte
 * against the MPI library's own writes: two files start identical (random
 * data with a hole); every case writes the same bytes with the same view
 * into both, one through HOMI (hint homi=enable) and one through the MPI
 * library (homi=disable, its independent calls: the same bytes); after each
 * case the two files must be equal and the counts the same.  Views: contiguous unaligned, extending
 * the file, interleaved vector with gaps that must keep the file's bytes, 2-D and 3-D subarrays
 * (strided memory type), indexed, struct with holes, pieces over 1 MiB; operations: write_at, write
 * (individual pointer, two calls), write_at_all, write_all (two calls), iwrite_at, iwrite_at_all,
 * split write_all_begin/end.  Cases overwrite earlier cases' bytes.  Then the calls that stay the
 * MPI library's, on both files: atomic mode (writes through the MPI library, device buffers
 * staged), MPI_File_set_size (shrink, grow), MPI_File_preallocate, MPI_File_sync.  At the end the
 * file is read back through HOMI (stale extent maps would show) and every rank must have written
 * through HOMI (homi_written_bytes).
 *
 * usage: test_writes [adhomi] [gpu] | [adhomi] full|kill-write DIR | [adhomi] kill-check DIR N
 *   adhomi: the MPI library has ad_homi (MPICH: tests/mpi/run_mpi.sh; Open
 *           MPI's io/romio321 plugin: tests/mpi-ompi/run_ompi.sh):
 *           the reference is ROMIO's ufs driver (ufs: prefix), and HOMI's
 *           handle is proven by get_info's homi=enable (ad_homi reports no
 *           byte counts); otherwise libhomi_mpiio is preloaded
 *   (none): host buffers, HOMI_MPIIO_WRITES=all (HOMI writes every buffer)
 *   gpu   : CUDA device buffers, the default HOMI_MPIIO_WRITES=device (77
 *           without a GPU); the reference writes the same bytes from host
 *           memory
 *   kill-write DIR / kill-check DIR N (tests/mpi/writes_kill.sh): a
 *           checkpoint in DIR/ckpt is written and synced by every rank,
 *           then a second one is being written when rank 1 is killed with
 *           SIGKILL (the job dies); the next job (kill-check, one rank)
 *           must read the synced checkpoint intact through HOMI
 *   full  : DIR is a small file system (tests/fs/loop_fs.sh): every rank
 *           writes 40 MiB through HOMI until it is full; a rank that fails
 *           must get MPI_ERR_NO_SPACE, its count must be bytes that are in
 *           the file, and a file written before must be intact */
#include <mpi.h>
#include <signal.h>

#include "grid_subarray.h"
#include "homi_test.h"

static int rank, nprocs, gpu, adhomi;
static char path_h[4200], path_r[4200];
static MPI_File fh, fr;

enum { W_AT, W_INDIV, W_AT_ALL, W_ALL, W_IAT, W_IAT_ALL, W_SPLIT, NOPS };
static const char *op_name[] = {"write_at",  "write x2",      "write_at_all",   "write_all x2",
                                "iwrite_at", "iwrite_at_all", "write_all_begin"};

struct wcase {
    const char *name;
    MPI_Offset disp;
    MPI_Datatype etype, ftype, mtype;
    int count;
    MPI_Offset at;
};

static int check_mpi(int err, const char *what)
{
    if (err == MPI_SUCCESS) return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len;
    MPI_Error_string(err, msg, &len);
    CHECK(0, "%s: %s", what, msg);
    return 1;
}

static size_t span_of(MPI_Datatype t, int count)
{
    MPI_Aint lb, ext, tlb, text;
    MPI_Type_get_extent(t, &lb, &ext);
    MPI_Type_get_true_extent(t, &tlb, &text);
    return (size_t)(ext * (count - 1) + tlb + text);
}

/* one operation on one file; returns the bytes its status reports */
static long long do_write(MPI_File f, const struct wcase *c, int op, const void *buf)
{
    MPI_Status st;
    MPI_Request rq;
    MPI_Count n = 0, n2 = 0;
    int err = MPI_SUCCESS, half = c->count / 2;
    MPI_Aint lb, ext;
    MPI_Type_get_extent(c->mtype, &lb, &ext);
    const char *second = (const char *)buf + (size_t)half * (size_t)ext;
    /* the reference writes the same bytes with the plain independent calls:
     * the collective writes of Debian 12's OMPIO (fcoll vulcan) crash or
     * hang now and then on these views (after set_size / preallocate), and
     * Open MPI 4.1's ROMIO 3.2.1 ufs has no iwrite_*_all */
    if (f == fr) op = op == W_ALL ? W_INDIV : op == W_SPLIT ? -1 : op == W_INDIV ? W_INDIV : W_AT;
    switch (op) {
    case -1: /* the split collective's bytes: at the individual pointer */
        MPI_File_seek(f, c->at, MPI_SEEK_SET);
        err = MPI_File_write(f, buf, c->count, c->mtype, &st);
        break;
    case W_AT: err = MPI_File_write_at(f, c->at, buf, c->count, c->mtype, &st); break;
    case W_AT_ALL: err = MPI_File_write_at_all(f, c->at, buf, c->count, c->mtype, &st); break;
    case W_IAT:
        err = MPI_File_iwrite_at(f, c->at, buf, c->count, c->mtype, &rq);
        if (!err) err = MPI_Wait(&rq, &st);
        break;
    case W_IAT_ALL:
        err = MPI_File_iwrite_at_all(f, c->at, buf, c->count, c->mtype, &rq);
        if (!err) err = MPI_Wait(&rq, &st);
        break;
    case W_SPLIT:
        MPI_File_seek(f, c->at, MPI_SEEK_SET);
        err = MPI_File_write_all_begin(f, buf, c->count, c->mtype);
        if (!err) err = MPI_File_write_all_end(f, buf, &st);
        break;
    case W_INDIV:
    case W_ALL:
        MPI_File_seek(f, c->at, MPI_SEEK_SET);
        err = op == W_INDIV ? MPI_File_write(f, buf, half, c->mtype, &st)
                            : MPI_File_write_all(f, buf, half, c->mtype, &st);
        if (!err) MPI_Get_elements_x(&st, MPI_BYTE, &n2);
        if (!err)
            err = op == W_INDIV ? MPI_File_write(f, second, c->count - half, c->mtype, &st)
                                : MPI_File_write_all(f, second, c->count - half, c->mtype, &st);
        break;
    }
    if (check_mpi(err, op >= 0 ? op_name[op] : "write (reference of the split collective)"))
        return -1;
    MPI_Get_elements_x(&st, MPI_BYTE, &n);
    return (long long)(n + n2);
}

static char *read_all(const char *p, size_t *len)
{
    int fd = open(p, O_RDONLY);
    REQUIRE(fd >= 0, "open %s", p);
    struct stat s;
    fstat(fd, &s);
    *len = (size_t)s.st_size;
    char *b = malloc(*len + 1);
    REQUIRE(t_pread_ref(fd, b, *len, 0) == (ssize_t)*len, "read %s", p);
    close(fd);
    return b;
}

/* rank 0: the two files are equal */
static void compare_files(const char *what)
{
    MPI_File_sync(fh);
    MPI_File_sync(fr);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        size_t lh, lr;
        char *h = read_all(path_h, &lh), *r = read_all(path_r, &lr);
        CHECK(lh == lr, "%s: file size %zu through HOMI, %zu through the MPI library", what, lh,
              lr);
        size_t n = lh < lr ? lh : lr, bad = 0, first = n;
        for (size_t i = 0; i < n; i++)
            if (h[i] != r[i]) {
                bad++;
                if (first == n) first = i;
            }
        CHECK(bad == 0, "%s: %zu bytes differ, the first at %zu", what, bad, first);
        free(h);
        free(r);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static void run_case(struct wcase *c)
{
    size_t len = span_of(c->mtype, c->count);
    char *src = malloc(len);
    t_fill_random(src, len);
    void *dev = NULL;
    if (gpu) {
        REQUIRE(homi_mem_alloc(HOMI_MEM_DEVICE, -1, len, &dev) == 0, "cudaMalloc");
        const void *s = src;
        REQUIRE(homi_mem_copyv(1, &dev, &s, &len, -1) == 0, "copy to the device");
    }
    for (int op = 0; op < NOPS; op++) {
        char what[160];
        snprintf(what, sizeof what, "%s, %s", c->name, op_name[op]);
        t_context = what;
        if (rank == 0 && getenv("HOMI_TEST_VERBOSE")) fprintf(stderr, "case: %s\n", what);
        for (int k = 0; k < 2; k++) {
            MPI_File f = k ? fr : fh;
            check_mpi(MPI_File_set_view(f, c->disp, c->etype, c->ftype ? c->ftype : c->etype,
                                        "native", MPI_INFO_NULL),
                      "set_view");
        }
        /* new bytes for each operation: the file's earlier bytes are overwritten */
        src[0] ^= (char)(op + 1);
        if (dev) {
            const void *s = src;
            size_t one = 1;
            homi_mem_copyv(1, &dev, &s, &one, -1);
        }
        long long nh = do_write(fh, c, op, dev ? dev : src);
        long long nr = do_write(fr, c, op, src);
        CHECK(nh == nr, "count %lld through HOMI, %lld through the MPI library", nh, nr);
        compare_files(what);
        t_bail_if_many();
    }
    if (dev) homi_mem_free(HOMI_MEM_DEVICE, dev);
    free(src);
}

static void run_cases(MPI_Offset fsize)
{
    struct wcase c;
    int P = nprocs;

    c = (struct wcase){"contiguous", 0, MPI_BYTE, 0, MPI_BYTE, 300001, 0};
    c.at = (MPI_Offset)rank * 300001 + 17;
    run_case(&c);

    c = (struct wcase){"extending the file", 0, MPI_BYTE, 0, MPI_BYTE, 4000, 0};
    c.at = fsize - 1000 + (MPI_Offset)rank * 5000;
    run_case(&c);

    /* ints interleaved between ranks, with gaps no rank writes */
    /* (ending inside the first tile: the next tile would start on another
     * rank's last block, the vector's extent has no trailing gap) */
    c = (struct wcase){"vector with gaps", (MPI_Offset)rank * 40, MPI_INT, 0, MPI_INT, 9997, 3};
    MPI_Type_vector(1000, 10, 10 * P + 7, MPI_INT, &c.ftype);
    MPI_Type_commit(&c.ftype);
    run_case(&c);
    MPI_Type_free(&c.ftype);

    {
        int gs[2] = {512, 300};
        c = (struct wcase){"subarray 2-D", 4096, MPI_INT, 0, MPI_INT, 0, 0};
        c.count = t_grid_subarray(2, gs, rank, P, MPI_INT, &c.ftype, NULL);
        run_case(&c);
        MPI_Type_free(&c.ftype);
    }
    {
        int gs[3] = {40, 50, 60}, ss[3];
        c = (struct wcase){"subarray 3-D, strided memory", 100, MPI_INT, 0, 0, 1, 0};
        int n = t_grid_subarray(3, gs, rank, P, MPI_INT, &c.ftype, ss);
        MPI_Type_vector(n / ss[2], ss[2], ss[2] + 3, MPI_INT, &c.mtype); /* gaps in memory */
        MPI_Type_commit(&c.mtype);
        run_case(&c);
        MPI_Type_free(&c.mtype);
        MPI_Type_free(&c.ftype);
    }

    {
        int bl[64], dp[64], tot = 0, pos = 0;
        for (int i = 0; i < 64; i++) {
            bl[i] = 1 + (i * 37 + rank * 11) % 200;
            dp[i] = pos;
            pos += bl[i] + 1 + (i * 53) % 300;
            tot += bl[i];
        }
        /* ranks' tiles apart (a tile spans at most 64 x 501 ints): the
         * result of two ranks writing the same bytes is undefined */
        c = (struct wcase){
            "indexed", (MPI_Offset)rank * 4 * 64 * 501 * 4 + 5, MPI_INT, 0, MPI_INT, 0, 7};
        MPI_Type_indexed(64, bl, dp, MPI_INT, &c.ftype);
        MPI_Type_commit(&c.ftype);
        c.count = 3 * tot;
        run_case(&c);
        MPI_Type_free(&c.ftype);
    }

    {
        int bl[3] = {3, 2, 5};
        MPI_Aint dp[3] = {0, 24, 64};
        MPI_Datatype ty[3] = {MPI_INT, MPI_DOUBLE, MPI_INT}, s;
        MPI_Type_create_struct(3, bl, dp, ty, &s);
        c = (struct wcase){
            "struct with holes", (MPI_Offset)rank * 96, MPI_BYTE, 0, MPI_BYTE, 0, 11};
        MPI_Type_create_resized(s, 0, 96 * P, &c.ftype);
        MPI_Type_free(&s);
        MPI_Type_commit(&c.ftype);
        c.count = 48 * 2000 - 11;
        run_case(&c);
        MPI_Type_free(&c.ftype);
    }

    /* pieces of 1.5 MiB (written straight from the buffer), interleaved */
    c = (struct wcase){
        "1.5 MiB pieces", (MPI_Offset)rank * (3 << 19), MPI_BYTE, 0, MPI_BYTE, 3 << 20, 0};
    MPI_Type_vector(2, 3 << 19, (3 << 19) * P + 4096, MPI_BYTE, &c.ftype);
    MPI_Type_commit(&c.ftype);
    run_case(&c);
    MPI_Type_free(&c.ftype);
}

/* what stays the MPI library's keeps working next to HOMI's writes */
static void library_calls(void)
{
    struct wcase c = {"atomic mode", 0, MPI_INT, 0, MPI_INT, 1999, 1}; /* inside one tile */
    MPI_Type_vector(500, 4, 4 * nprocs + 3, MPI_INT, &c.ftype);
    MPI_Type_commit(&c.ftype);
    c.disp = (MPI_Offset)rank * 16 + 64;
    MPI_File_set_atomicity(fh, 1);
    MPI_File_set_atomicity(fr, 1);
    run_case(&c); /* every operation, through the MPI library on both */
    MPI_File_set_atomicity(fh, 0);
    MPI_File_set_atomicity(fr, 0);
    MPI_Type_free(&c.ftype);
    for (int k = 0; k < 2; k++)
        MPI_File_set_view(k ? fr : fh, 0, MPI_BYTE, MPI_BYTE, "native", MPI_INFO_NULL);
    t_context = "set_size / preallocate";
    MPI_Offset sz[3] = {(2 << 20) + 4097, (5 << 20) + 3, 0};
    for (int i = 0; i < 2; i++) {
        check_mpi(MPI_File_set_size(fh, sz[i]), "set_size (HOMI's handle)");
        check_mpi(MPI_File_set_size(fr, sz[i]), "set_size (reference)");
        MPI_Offset got = -1;
        MPI_File_get_size(fh, &got);
        CHECK(got == sz[i], "size %lld after set_size(%lld)", (long long)got, (long long)sz[i]);
        compare_files("set_size");
    }
    check_mpi(MPI_File_preallocate(fh, 6 << 20), "preallocate (HOMI's handle)");
    check_mpi(MPI_File_preallocate(fr, 6 << 20), "preallocate (reference)");
    compare_files("preallocate");
    /* a write after the size changes lands where it should */
    struct wcase w = {"after set_size", 0, MPI_BYTE, 0, MPI_BYTE, 70000, 0};
    w.at = (6 << 20) - 35000 + (MPI_Offset)rank * 70000;
    run_case(&w);
}

static MPI_File open_one(const char *p, const char *homi)
{
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "homi", homi);
    MPI_File f;
    char name[4300];
    snprintf(name, sizeof name, "%s%s", adhomi && !strcmp(homi, "disable") ? "ufs:" : "", p);
    int err = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDWR, info, &f);
    MPI_Info_free(&info);
    REQUIRE(err == MPI_SUCCESS, "open %s (homi=%s)", p, homi);
    return f;
}

/* get_info says homi=enable */
static int is_homi(MPI_File f)
{
    MPI_Info info;
    char v[64] = "";
    int flag = 0;
    MPI_File_get_info(f, &info);
    MPI_Info_get(info, "homi", sizeof v - 1, v, &flag);
    MPI_Info_free(&info);
    return flag && !strcmp(v, "enable");
}

static long long info_ll(MPI_File f, const char *key)
{
    MPI_Info info;
    char v[64] = "";
    int flag = 0;
    MPI_File_get_info(f, &info);
    MPI_Info_get(info, key, sizeof v - 1, v, &flag);
    MPI_Info_free(&info);
    return flag ? atoll(v) : -1;
}

/* f opened with the hint homi=enable */
static int open_hint(MPI_Comm comm, const char *p, int amode, MPI_File *f)
{
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "homi", "enable");
    int err = MPI_File_open(comm, p, amode, info, f);
    MPI_Info_free(&info);
    return err;
}

/* kill-write / kill-check: the bytes of the synced checkpoint */
enum { CKPT_PART = 8 << 20, CKPT_NEXT = 128 << 20 };
static unsigned char ckpt_byte(uint64_t o)
{
    return (unsigned char)((o * 2654435761u) >> 13);
}

static int kill_write(const char *dir)
{
    setenv("HOMI_MPIIO_WRITES", "all", 1);
    t_context = "checkpoint killed";
    char p[4200];
    snprintf(p, sizeof p, "%s/ckpt", dir);
    MPI_File f;
    int err = open_hint(MPI_COMM_WORLD, p, MPI_MODE_CREATE | MPI_MODE_RDWR, &f);
    REQUIRE(err == MPI_SUCCESS, "open %s", p);
    unsigned char *b = malloc(CKPT_NEXT);
    MPI_Offset off = (MPI_Offset)rank * CKPT_PART;
    for (size_t i = 0; i < CKPT_PART; i++)
        b[i] = ckpt_byte((uint64_t)off + i);
    MPI_Status st;
    REQUIRE(MPI_File_write_at_all(f, off, b, CKPT_PART, MPI_BYTE, &st) == MPI_SUCCESS, "step 1");
    REQUIRE(MPI_File_sync(f) == MPI_SUCCESS, "sync");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) printf("checkpoint 1 written and synced\n");
    fflush(stdout);
    /* checkpoint 2 after it; rank 1 is killed while it writes */
    memset(b, 0xa5, CKPT_NEXT);
    if (rank == 1 && fork() == 0) {
        usleep(20000);
        kill(getppid(), SIGKILL);
        _exit(0);
    }
    off = (MPI_Offset)nprocs * CKPT_PART + (MPI_Offset)rank * CKPT_NEXT;
    for (int k = 0; k < 8; k++) /* long enough to be killed in the middle */
        MPI_File_write_at_all(f, off, b, CKPT_NEXT, MPI_BYTE, &st);
    MPI_File_close(&f);
    MPI_Finalize();
    printf("rank %d: checkpoint 2 finished: rank 1 was not killed in time\n", rank);
    return 1;
}

static int kill_check(const char *dir, int ranks)
{
    t_context = "next job";
    char p[4200];
    snprintf(p, sizeof p, "%s/ckpt", dir);
    MPI_File f;
    int err = open_hint(MPI_COMM_SELF, p, MPI_MODE_RDONLY, &f);
    REQUIRE(err == MPI_SUCCESS, "open %s after the killed job", p);
    MPI_Offset size = 0;
    MPI_File_get_size(f, &size);
    size_t n = (size_t)ranks * CKPT_PART;
    unsigned char *b = malloc(n);
    MPI_Status st;
    err = MPI_File_read_at(f, 0, b, (int)n, MPI_BYTE, &st);
    MPI_Count got = 0;
    MPI_Get_elements_x(&st, MPI_BYTE, &got);
    size_t bad = 0;
    for (size_t i = 0; i < (size_t)got; i++)
        bad += b[i] != ckpt_byte(i);
    printf("next job: file of %lld bytes, %lld of the %zu synced bytes read, %zu wrong\n",
           (long long)size, (long long)got, n, bad);
    CHECK(!err && got == (MPI_Count)n && bad == 0, "the synced checkpoint is not intact");
    MPI_File_close(&f);
    free(b);
    MPI_Finalize();
    return t_finish("test_writes kill-check");
}

/* full DIR: writes that fill the file system */
static int full(const char *dir)
{
    setenv("HOMI_MPIIO_WRITES", "all", 1);
    t_context = "full file system";
    char keep[4200], big[4200];
    snprintf(keep, sizeof keep, "%s/keep", dir);
    snprintf(big, sizeof big, "%s/big", dir);
    enum { KEEP = 1 << 20, PART = 40 << 20 };
    char *kb = malloc(KEEP), *src = malloc(PART), *back = malloc(PART);
    t_fill_random(kb, KEEP);
    MPI_Bcast(kb, KEEP, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        int fd = open(keep, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        REQUIRE(fd >= 0, "create %s", keep);
        t_pwrite_all(fd, kb, KEEP, 0);
        fsync(fd);
        close(fd);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    t_fill_random(src, PART);
    MPI_File f;
    int err = open_hint(MPI_COMM_WORLD, big, MPI_MODE_CREATE | MPI_MODE_RDWR, &f);
    REQUIRE(err == MPI_SUCCESS, "open %s", big);
    MPI_Status st;
    MPI_Offset off = (MPI_Offset)rank * PART;
    err = MPI_File_write_at_all(f, off, src, PART, MPI_BYTE, &st);
    MPI_Count n = 0;
    MPI_Get_elements_x(&st, MPI_BYTE, &n);
    int cls = MPI_SUCCESS;
    if (err) MPI_Error_class(err, &cls);
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (err) MPI_Error_string(err, msg, &len);
    printf("rank %d: %s, %lld of %d bytes written%s%s\n", rank, err ? "error" : "no error",
           (long long)n, PART, err ? ": " : "", msg);
    CHECK(!err || cls == MPI_ERR_NO_SPACE, "error class %d, not MPI_ERR_NO_SPACE: %s", cls, msg);
    CHECK(err || n == PART, "no error but %lld bytes", (long long)n);
    CHECK(n >= 0 && n <= PART, "count %lld", (long long)n);
    long long w = adhomi ? n : info_ll(f, "homi_written_bytes");
    CHECK(w == n, "homi_written_bytes %lld, status %lld", w, (long long)n);
    MPI_File_close(&f);
    int fails = err != MPI_SUCCESS, anyfail = 0;
    MPI_Allreduce(&fails, &anyfail, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) CHECK(anyfail > 0, "%d x 40 MiB fit in the small file system", nprocs);
    /* what the count says was written is in the file */
    int fd = open(big, O_RDONLY);
    REQUIRE(fd >= 0, "open %s", big);
    CHECK(t_pread_ref(fd, back, (size_t)n, off) == (ssize_t)n && !memcmp(back, src, (size_t)n),
          "the %lld bytes counted are not all in the file", (long long)n);
    close(fd);
    MPI_Barrier(MPI_COMM_WORLD); /* every rank has checked before big goes */
    if (rank == 0) {
        fd = open(keep, O_RDONLY);
        REQUIRE(fd >= 0, "open %s", keep);
        CHECK(t_pread_ref(fd, back, KEEP, 0) == KEEP && !memcmp(back, kb, KEEP),
              "a file written before was damaged");
        close(fd);
        unlink(big);
    }
    free(kb);
    free(src);
    free(back);
    int bad = t_failures, allbad;
    MPI_Allreduce(&bad, &allbad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank == 0) return t_finish("test_writes full") || allbad;
    return allbad ? 1 : 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    int a = 1;
    adhomi = argc > a && !strcmp(argv[a], "adhomi");
    a += adhomi;
    if (argc > a + 1 && !strcmp(argv[a], "full")) return full(argv[a + 1]);
    if (argc > a + 1 && !strcmp(argv[a], "kill-write")) return kill_write(argv[a + 1]);
    if (argc > a + 2 && !strcmp(argv[a], "kill-check"))
        return kill_check(argv[a + 1], atoi(argv[a + 2]));
    gpu = argc > a && !strcmp(argv[a], "gpu");
    if (gpu && !homi_cuda_available()) {
        if (rank == 0) printf("SKIP: no usable CUDA GPU (gpu variant)\n");
        MPI_Finalize();
        return 77;
    }
    if (!gpu) setenv("HOMI_MPIIO_WRITES", "all", 1);
    MPI_Offset fsize = (3 << 20) + 777;
    if (rank == 0) {
        t_seed_from_env(7);
        const char *dir = t_make_tmpdir("pmpi-writes");
        t_path(path_h, sizeof path_h, dir, "homi");
        t_path(path_r, sizeof path_r, dir, "ref");
        char *b = malloc((size_t)fsize);
        t_fill_random(b, (size_t)fsize);
        for (int k = 0; k < 2; k++) { /* data, a hole at [1 MiB, 2 MiB), data */
            int fd = open(k ? path_r : path_h, O_CREAT | O_TRUNC | O_WRONLY, 0644);
            REQUIRE(fd >= 0, "create");
            t_pwrite_all(fd, b, 1 << 20, 0);
            t_pwrite_all(fd, b + (2 << 20), (size_t)fsize - (2 << 20), 2 << 20);
            close(fd);
        }
        free(b);
    }
    MPI_Bcast(path_h, sizeof path_h, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(path_r, sizeof path_r, MPI_CHAR, 0, MPI_COMM_WORLD);
    fh = open_one(path_h, "enable");
    fr = open_one(path_r, "disable");
    REQUIRE(adhomi ? is_homi(fh) : info_ll(fh, "homi_served_bytes") >= 0,
            "the HOMI handle is not %s's", adhomi ? "ad_homi" : "libhomi_mpiio");
    REQUIRE(!is_homi(fr), "the reference handle is HOMI's");
    run_cases(fsize);
    library_calls();

    t_context = "served";
    if (!adhomi) {
        long long w = info_ll(fh, "homi_written_bytes");
        CHECK(w > 0, "rank %d: HOMI wrote %lld bytes (homi_written_bytes)", rank, w);
        if (rank == 0) printf("rank 0: HOMI (libhomi_mpiio) wrote %lld bytes\n", w);
    }

    /* read back through HOMI's own handle: what it reads is the file */
    t_context = "read back through HOMI";
    MPI_File_set_view(fh, 0, MPI_BYTE, MPI_BYTE, "native", MPI_INFO_NULL);
    if (rank == 0) {
        size_t lr;
        char *r = read_all(path_r, &lr), *h = malloc(lr + 1);
        MPI_Status st;
        int err = MPI_File_read_at(fh, 0, h, (int)lr, MPI_BYTE, &st);
        MPI_Count n = 0;
        MPI_Get_elements_x(&st, MPI_BYTE, &n);
        CHECK(!err && n == (MPI_Count)lr && !memcmp(h, r, lr),
              "reading the written file through HOMI: %lld of %zu bytes, %s", (long long)n, lr,
              memcmp(h, r, lr) ? "different" : "equal");
        free(h);
        free(r);
    }
    MPI_File_close(&fh);
    MPI_File_close(&fr);
    int bad = t_failures, allbad;
    MPI_Allreduce(&bad, &allbad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank == 0) return t_finish("test_writes") || allbad;
    return allbad ? 1 : 0;
}
