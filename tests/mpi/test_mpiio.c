/* test_mpiio.c - MPI-IO reads through the HOMI ROMIO driver compared
 * byte-for-byte (data and counts) with the same reads through ROMIO's
 * stock ufs driver: contiguous, vector, 2-D and 3-D subarray, indexed and
 * struct file views, contiguous and strided memory types; independent and
 * collective, blocking, nonblocking and split-collective, explicit offsets
 * and individual file pointers; a file with holes and reads across EOF;
 * bad hints must fail with clear errors; get_info reports the hints.
 *
 * usage: test_mpiio [hint|prefix|force|env] [gpu] [pmpi]
 *   hint   : HOMI selected with the hint homi=enable (default)
 *   prefix : HOMI selected with the homi: file-name prefix
 *   force  : HOMI selected with ROMIO_FSTYPE_FORCE=homi: (set by the caller)
 *   env    : (pmpi only) no hint: HOMI_MPIIO_PATHS names the data directory
 *   gpu    : HOMI reads into CUDA device memory (exit 77 without a GPU)
 *   pmpi   : HOMI is libhomi_mpiio (mpiio-pmpi/, LD_PRELOAD) in an unmodified
 *            MPI library: the reference is the MPI library's own reads
 *            (hint homi=disable), MPI_File_get_info reports HOMI's values on
 *            every MPI, and every rank checks that HOMI served bytes
 * Must run with MPICH built by scripts/build-mpich-homi.sh, or (built with
 * Open MPI's mpicc) on the installed Open MPI with the HOMI io/romio321
 * plugin of scripts/build-ompi-homi.sh (tests/mpi-ompi/run_ompi.sh).  Open MPI
 * 4.1 differs in two places, both handled below: MPI_File_get_info returns
 * Open MPI's copy of the user's hints, not ROMIO's (so the driver's
 * effective values are not visible and "is it HOMI" is answered by the
 * loaded plugin plus the bad-hint errors only ad_homi gives), and the stock
 * ufs driver of its ROMIO 3.2.1 crashes in MPI_File_iread_*_all (NULL
 * IreadStridedColl without grequest extensions): the ufs reference uses the
 * blocking collective there. */
#include <mpi.h>
#ifdef OPEN_MPI
#include <dlfcn.h>
#include <link.h>
#endif

#include "grid_subarray.h"
#include "homi_test.h"

static int rank, nprocs, gpu, pmpi;
static const char *mode = "hint";
static char path[4200];
static MPI_Offset fsize;

enum { READ_AT, IREAD_AT, READ_AT_ALL, IREAD_AT_ALL, READ_ALL_TWICE, READ_SPLIT, NOPS };
static const char *op_name[] = {"read_at",      "iread_at",    "read_at_all",
                                "iread_at_all", "read_all x2", "read + read_all_begin/end"};

struct view {
    const char *name;
    MPI_Offset disp;
    MPI_Datatype etype, ftype, mtype;
    int count;     /* memory items per read */
    MPI_Offset at; /* explicit offset (etypes) */
    size_t buflen; /* bytes of memory spanned by count x mtype */
    int eof;       /* reads cross EOF: compare only what ufs defines */
};

static int check_mpi(int err, const char *what)
{
    if (err == MPI_SUCCESS) return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len;
    MPI_Error_string(err, msg, &len);
    T_FAIL("%s: %s", what, msg);
    return 1;
}

#ifdef OPEN_MPI
/* dl_iterate_phdr callback: is a loaded mca_io_romio321.so HOMI's? */
static int find_homi_plugin(struct dl_phdr_info *pi, size_t sz, void *arg)
{
    (void)sz;
    static const char so[] = "/mca_io_romio321.so";
    const char *n = pi->dlpi_name;
    size_t l = n ? strlen(n) : 0;
    if (l < sizeof so - 1 || strcmp(n + l - (sizeof so - 1), so)) return 0;
    void *h = dlopen(n, RTLD_LAZY | RTLD_NOLOAD);
    if (h) {
        if (dlsym(h, "ADIO_HOMI_operations")) *(int *)arg = 1;
        dlclose(h);
    }
    return 0;
}

/* Open MPI: the romio321 plugin serving MPI-IO in this process is HOMI's
 * (Open MPI 4.1 offers no per-handle way to ask ROMIO which driver opened
 * fh; tests/mpi-ompi/homi_used.sh proves the reads went through libhomi). */
static int is_homi_info(MPI_File fh);
static int is_homi(MPI_File fh)
{
    if (pmpi) return is_homi_info(fh);
    int found = 0;
    dl_iterate_phdr(find_homi_plugin, &found);
    return found;
}
#else
static int is_homi_info(MPI_File fh);
static int is_homi(MPI_File fh)
{
    return is_homi_info(fh);
}
#endif

/* MPI_File_get_info reports homi=enable (ad_homi in MPICH, the PMPI layer;
 * the layer adds homi_mpiio=pmpi) */
static int is_homi_info(MPI_File fh)
{
    MPI_Info info;
    char v[64];
    int flag = 0;
    MPI_File_get_info(fh, &info);
    MPI_Info_get(info, "homi", sizeof v - 1, v, &flag);
    int on = flag && !strcmp(v, "enable");
    if (on && pmpi) {
        MPI_Info_get(info, "homi_mpiio", sizeof v - 1, v, &flag);
        on = flag && !strcmp(v, "pmpi");
    }
    MPI_Info_free(&info);
    return on;
}

/* bytes HOMI served on fh (the PMPI layer's homi_served_bytes), or -1 */
static long long served_bytes(MPI_File fh)
{
    MPI_Info info;
    char v[64];
    int flag = 0;
    MPI_File_get_info(fh, &info);
    MPI_Info_get(info, "homi_served_bytes", sizeof v - 1, v, &flag);
    MPI_Info_free(&info);
    return flag ? atoll(v) : -1;
}

static MPI_File open_homi(const char *extra_key, const char *extra_val, int *err)
{
    MPI_Info info;
    MPI_Info_create(&info);
    char name[4300];
    snprintf(name, sizeof name, "%s%s", !strcmp(mode, "prefix") ? "homi:" : "", path);
    if (!strcmp(mode, "hint")) MPI_Info_set(info, "homi", "enable");
    MPI_Info_set(info, "homi_threads", "2");
    MPI_Info_set(info, "cb_buffer_size", "262144"); /* several rounds */
    if (extra_key) MPI_Info_set(info, extra_key, extra_val);
    MPI_File fh = MPI_FILE_NULL;
    *err = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY, info, &fh);
    MPI_Info_free(&info);
    return fh;
}

static MPI_File open_ufs(void)
{
    char name[4300];
    MPI_Info info = MPI_INFO_NULL;
    snprintf(name, sizeof name, "%s%s", pmpi ? "" : "ufs:", path);
    if (pmpi) { /* the MPI library's own driver: HOMI deselected by hint */
        MPI_Info_create(&info);
        MPI_Info_set(info, "homi", "disable");
    }
    MPI_File fh;
    int err = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY, info, &fh);
    if (info != MPI_INFO_NULL) MPI_Info_free(&info);
    REQUIRE(err == MPI_SUCCESS, "open reference %s", name);
    return fh;
}

/* One read of view v with operation op into buf (the second read of the
 * x2 forms lands at buf + v->buflen).  Returns bytes (sum of both). */
static long long do_read(MPI_File fh, const struct view *v, int op, char *buf)
{
    MPI_Status st;
    MPI_Request rq;
    int cnt, err = MPI_SUCCESS, cnt2 = 0;
    err = MPI_File_set_view(fh, v->disp, v->etype, v->ftype, "native", MPI_INFO_NULL);
    if (err) {
        T_FAIL("%s: MPI_File_set_view failed (%d)", v->name, err);
        return -1;
    }
    switch (op) {
    case READ_AT: err = MPI_File_read_at(fh, v->at, buf, v->count, v->mtype, &st); break;
    case IREAD_AT:
        err = MPI_File_iread_at(fh, v->at, buf, v->count, v->mtype, &rq);
        if (!err) err = MPI_Wait(&rq, &st);
        break;
    case READ_AT_ALL: err = MPI_File_read_at_all(fh, v->at, buf, v->count, v->mtype, &st); break;
    case IREAD_AT_ALL:
        err = MPI_File_iread_at_all(fh, v->at, buf, v->count, v->mtype, &rq);
        if (!err) err = MPI_Wait(&rq, &st);
        break;
    case READ_ALL_TWICE:
    case READ_SPLIT:
        MPI_File_seek(fh, v->at, MPI_SEEK_SET);
        if (op == READ_ALL_TWICE)
            err = MPI_File_read_all(fh, buf, v->count, v->mtype, &st);
        else
            err = MPI_File_read(fh, buf, v->count, v->mtype, &st);
        if (!err) {
            MPI_Status st2;
            if (op == READ_ALL_TWICE)
                err = MPI_File_read_all(fh, buf + v->buflen, v->count, v->mtype, &st2);
            else {
                err = MPI_File_read_all_begin(fh, buf + v->buflen, v->count, v->mtype);
                if (!err) err = MPI_File_read_all_end(fh, buf + v->buflen, &st2);
            }
            MPI_Get_count(&st2, MPI_BYTE, &cnt2);
        }
        break;
    }
    if (check_mpi(err, op_name[op])) return -1;
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    return (long long)cnt + cnt2;
}

static void compare(const struct view *v, MPI_File fh_ufs, MPI_File fh_homi)
{
    size_t len = 2 * v->buflen + 16;
    char *a = malloc(len), *b = malloc(len), *dev = NULL;
    for (int op = 0; op < NOPS; op++) {
        char ctx[160];
        snprintf(ctx, sizeof ctx, "%s / %s / %s%s", mode, v->name, op_name[op],
                 gpu ? " / gpu" : "");
        t_context = ctx;
        memset(a, 0xAB, len);
        memset(b, 0xAB, len);
/* Open MPI: the stock ufs of its ROMIO 3.2.1 crashes in iread_at_all;
 * its OMPIO (the pmpi reference) hung polling glibc aio in its own
 * iread_at and read_all_begin/end in these runs: the reference reads
 * the same bytes with the blocking forms */
#ifdef OPEN_MPI
        int ref_op = op == IREAD_AT_ALL         ? READ_AT_ALL
                     : pmpi && op == IREAD_AT   ? READ_AT
                     : pmpi && op == READ_SPLIT ? READ_ALL_TWICE
                                                : op;
        long long na = do_read(fh_ufs, v, ref_op, a);
#else
        long long na = do_read(fh_ufs, v, op, a);
#endif
        char *dst = b;
        if (gpu) {
            REQUIRE(homi_mem_alloc(HOMI_MEM_DEVICE, -1, len, (void **)&dev) == 0, "cudaMalloc");
            void *d = dev;
            const void *h = b;
            homi_mem_copyv(1, &d, &h, &len, -1);
            dst = dev;
        }
        long long nb = do_read(fh_homi, v, op, dst);
        if (gpu) {
            void *h = b;
            const void *d = dev;
            homi_mem_copyv(1, &h, &d, &len, -1);
            homi_mem_free(HOMI_MEM_DEVICE, dev);
        }
        if (!v->eof) {
            CHECK(na == nb, "rank %d: byte count ufs %lld, homi %lld", rank, na, nb);
            long long d = t_first_diff(a, b, len);
            CHECK(d < 0, "rank %d: buffers differ at byte %lld", rank, d);
        } else {
            /* past EOF ufs leaves undefined bytes in strided reads: compare
             * the part both define (HOMI reports the bytes before EOF) */
            long long d = t_first_diff(a, b, (size_t)(nb < 0 ? 0 : nb));
            CHECK(nb >= 0 && nb <= na, "rank %d: homi count %lld vs ufs %lld", rank, nb, na);
            CHECK(d < 0, "rank %d: buffers differ at byte %lld", rank, d);
        }
        t_bail_if_many();
    }
    free(a);
    free(b);
}

static size_t span_of(MPI_Datatype t, int count)
{
    MPI_Aint lb, ext, tlb, text;
    MPI_Type_get_extent(t, &lb, &ext);
    MPI_Type_get_true_extent(t, &tlb, &text);
    return (size_t)(ext * (count - 1) + tlb + text);
}

static void run_views(MPI_File fu, MPI_File fh)
{
    struct view v;
    int P = nprocs;

    /* contiguous: one block per rank, unaligned */
    v = (struct view){"contiguous", 0, MPI_BYTE, MPI_BYTE, MPI_BYTE, 300001, 0, 0, 0};
    v.at = (MPI_Offset)rank * 300001 + 17;
    v.buflen = (size_t)v.count;
    compare(&v, fu, fh);

    /* vector of ints, interleaved between ranks */
    v = (struct view){"vector", (MPI_Offset)rank * 40, MPI_INT, 0, MPI_INT, 0, 3, 0, 0};
    MPI_Type_vector(1000, 10, 10 * P, MPI_INT, &v.ftype);
    MPI_Type_commit(&v.ftype);
    v.count = 10 * 1000;
    v.buflen = (size_t)v.count * 4;
    compare(&v, fu, fh);
    MPI_Type_free(&v.ftype);

    /* 2-D subarray: a 2-D grid of ranks over a 512 x 300 int array */
    {
        int gs[2] = {512, 300};
        v = (struct view){"subarray 2-D", 4096, MPI_INT, 0, MPI_INT, 0, 0, 0, 0};
        v.count = t_grid_subarray(2, gs, rank, P, MPI_INT, &v.ftype, NULL);
        v.buflen = (size_t)v.count * 4;
        compare(&v, fu, fh);
        MPI_Type_free(&v.ftype);
    }

    /* 3-D subarray with a strided memory type */
    {
        int gs[3] = {40, 50, 60}, ss[3];
        v = (struct view){"subarray 3-D", 100, MPI_INT, 0, 0, 1, 0, 0, 0};
        int n = t_grid_subarray(3, gs, rank, P, MPI_INT, &v.ftype, ss);
        MPI_Type_vector(n / ss[2], ss[2], ss[2] + 3, MPI_INT, &v.mtype); /* gaps in memory */
        MPI_Type_commit(&v.mtype);
        v.buflen = span_of(v.mtype, 1);
        compare(&v, fu, fh);
        v.name = "subarray 3-D contiguous mem";
        MPI_Type_free(&v.mtype);
        v.mtype = MPI_INT;
        v.count = n;
        v.buflen = (size_t)n * 4;
        compare(&v, fu, fh);
        MPI_Type_free(&v.ftype);
    }

    /* indexed: irregular blocks, rank-shifted */
    {
        int bl[64], dp[64], tot = 0, pos = 0;
        for (int i = 0; i < 64; i++) {
            bl[i] = 1 + (i * 37 + rank * 11) % 200;
            dp[i] = pos;
            pos += bl[i] + 1 + (i * 53) % 300;
            tot += bl[i];
        }
        v = (struct view){"indexed", (MPI_Offset)rank * 8192 + 5, MPI_BYTE, 0, MPI_BYTE, 0, 0, 0,
                          0};
        MPI_Type_indexed(64, bl, dp, MPI_INT, &v.ftype);
        MPI_Type_commit(&v.ftype);
        v.etype = MPI_INT;
        v.mtype = MPI_INT;
        v.count = 3 * tot; /* three tiles */
        v.at = 7;
        v.buflen = (size_t)v.count * 4;
        compare(&v, fu, fh);
        MPI_Type_free(&v.ftype);
    }

    /* indexed whose data starts past 0 (lb > 0), read in calls that stop
     * inside the tile's last lb bytes: the individual file pointer then
     * lies beyond lb + ext - lb = ext of the tile's start (regression: the
     * view walker took such a pointer for the next tile) */
    {
        int bl[64], dp[64];
        for (int i = 0; i < 64; i++) {
            bl[i] = 100;
            dp[i] = 2000 + i * 300 + rank * 7;
        }
        v = (struct view){"indexed lb > 0", 64, MPI_INT, 0, MPI_INT, 60 * 100 + 50, 0, 0, 0};
        MPI_Type_indexed(64, bl, dp, MPI_INT, &v.ftype);
        MPI_Type_commit(&v.ftype);
        v.buflen = (size_t)v.count * 4;
        compare(&v, fu, fh);
        MPI_Type_free(&v.ftype);
    }

    /* a filetype of more than 2 GiB (MPI_Type_size cannot say its size: one
     * rank's part of an 8 GiB array); the data read lies in its first block */
    v = (struct view){
        "filetype over 2 GiB", (MPI_Offset)rank * 1004, MPI_INT, 0, MPI_INT, 0, 0, 0, 0};
    MPI_Type_vector(2, 1 << 29, (1 << 29) + 16, MPI_INT, &v.ftype);
    MPI_Type_commit(&v.ftype);
    v.count = 250000 + rank * 3;
    v.buflen = (size_t)v.count * 4;
    compare(&v, fu, fh);
    MPI_Type_free(&v.ftype);

    /* struct: int + double blocks with holes, resized extent */
    {
        int bl[3] = {3, 2, 5};
        MPI_Aint dp[3] = {0, 24, 64};
        MPI_Datatype ty[3] = {MPI_INT, MPI_DOUBLE, MPI_INT}, s, r;
        MPI_Type_create_struct(3, bl, dp, ty, &s);
        MPI_Type_create_resized(s, 0, 96 * P, &r);
        MPI_Type_free(&s);
        v = (struct view){"struct", (MPI_Offset)rank * 96, MPI_BYTE, r, MPI_BYTE, 0, 11, 0, 0};
        MPI_Type_commit(&v.ftype);
        v.count = 48 * 2000 - 11;
        v.buflen = (size_t)v.count;
        compare(&v, fu, fh);
        MPI_Type_free(&v.ftype);
    }

    /* across EOF: contiguous and vector views ending past the end */
    v = (struct view){"contiguous past EOF", 0, MPI_BYTE, MPI_BYTE, MPI_BYTE, 200000, 0, 0, 1};
    v.at = fsize - 100000 + rank * 1000;
    v.buflen = (size_t)v.count;
    compare(&v, fu, fh);
    v = (struct view){
        "vector past EOF", fsize - 400000 + rank * 40, MPI_INT, 0, MPI_INT, 0, 0, 0, 1};
    MPI_Type_vector(1000, 10, 10 * P, MPI_INT, &v.ftype);
    MPI_Type_commit(&v.ftype);
    v.count = 10 * 1000;
    v.buflen = (size_t)v.count * 4;
    compare(&v, fu, fh);
    MPI_Type_free(&v.ftype);
}

/* Writes through HOMI (from device memory in the gpu variant): a
 * contiguous write_at, a collective write_at_all and iwrite_at_all through
 * an interleaved vector view; the file must hold exactly the pattern. */
static void writes(void)
{
    t_context = gpu ? "writes from device memory" : "writes";
    char wpath[4300], name[4400];
    snprintf(wpath, sizeof wpath, "%s.w", path);
    snprintf(name, sizeof name, "%s%s", !strcmp(mode, "prefix") ? "homi:" : "", wpath);
    MPI_Info info;
    MPI_Info_create(&info);
    if (!strcmp(mode, "hint")) MPI_Info_set(info, "homi", "enable");
    MPI_File fh;
    int err = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_CREATE | MPI_MODE_RDWR, info, &fh);
    MPI_Info_free(&info);
    if (check_mpi(err, "open for writing")) return;
    CHECK(is_homi(fh), "write handle not served by HOMI");
    const int B = 4096, NB = 50; /* ints per block, blocks per rank */
    size_t len = (size_t)B * NB * 4;
    int *h = malloc(len);
    for (int i = 0; i < B * NB; i++)
        h[i] = rank * 1000003 + i;
    void *src = h;
    if (gpu) {
        REQUIRE(homi_mem_alloc(HOMI_MEM_DEVICE, -1, len, &src) == 0, "cudaMalloc");
        const void *hs = h;
        homi_mem_copyv(1, &src, &hs, &len, -1);
    }
    MPI_Status st;
    MPI_Request rq;
    /* part 1: contiguous, one region per rank */
    err = MPI_File_write_at(fh, (MPI_Offset)rank * (MPI_Offset)len, src, B * NB, MPI_INT, &st);
    check_mpi(err, "write_at");
    /* part 2 and 3: interleaved blocks after all contiguous regions */
    MPI_Datatype ft;
    MPI_Type_vector(NB, B, B * nprocs, MPI_INT, &ft);
    MPI_Type_commit(&ft);
    MPI_Offset base = (MPI_Offset)nprocs * (MPI_Offset)len;
    MPI_File_set_view(fh, base + (MPI_Offset)rank * B * 4, MPI_INT, ft, "native", MPI_INFO_NULL);
    err = MPI_File_write_at_all(fh, 0, src, B * NB, MPI_INT, &st);
    check_mpi(err, "write_at_all");
    MPI_File_set_view(fh, 2 * base + (MPI_Offset)rank * B * 4, MPI_INT, ft, "native",
                      MPI_INFO_NULL);
    err = MPI_File_iwrite_at_all(fh, 0, src, B * NB, MPI_INT, &rq);
    if (!check_mpi(err, "iwrite_at_all")) MPI_Wait(&rq, &st);
    MPI_Type_free(&ft);
    MPI_File_close(&fh);
    if (gpu) homi_mem_free(HOMI_MEM_DEVICE, src);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        int fd = open(wpath, O_RDONLY);
        REQUIRE(fd >= 0, "open %s", wpath);
        int *all = malloc(3 * (size_t)nprocs * len);
        CHECK(t_pread_ref(fd, all, 3 * (size_t)nprocs * len, 0) ==
                  (ssize_t)(3 * (size_t)nprocs * len),
              "file size");
        long bad = 0;
        for (int r = 0; r < nprocs; r++)
            for (int i = 0; i < B * NB; i++) {
                int want = r * 1000003 + i;
                bad += all[(size_t)r * B * NB + (size_t)i] != want;
                size_t k = (size_t)(i / B) * (size_t)B * nprocs + (size_t)r * B + (size_t)(i % B);
                bad += all[(size_t)nprocs * B * NB + k] != want;
                bad += all[2 * (size_t)nprocs * B * NB + k] != want;
            }
        CHECK(bad == 0, "%ld wrong ints in the written file", bad);
        free(all);
        close(fd);
        unlink(wpath);
    }
    free(h);
}

static void bad_hints(void)
{
    static const struct {
        const char *key, *val;
        int cls;
        const char *text;
    } bad[] = {
        {"homi", "bogus", MPI_ERR_INFO_VALUE, "homi=\"bogus\""},
        {"homi_threads", "many", MPI_ERR_INFO_VALUE, "homi_threads"},
        {"homi_chunk_size", "12345", MPI_ERR_INFO_VALUE, "homi_chunk_size"},
        {"homi_no_such_key", "1", MPI_ERR_INFO_KEY, "homi_no_such_key"},
        {"homi_coll_ipc", "sometimes", MPI_ERR_INFO_VALUE, "homi_coll_ipc"},
        {"cb_buffer_size", "1000", MPI_ERR_INFO_VALUE, "cb_buffer_size"},
        {"homi_gpu_buffer_size", "12", MPI_ERR_INFO_VALUE, "homi_gpu_buffer_size"},
        {"homi_node_size", "-3", MPI_ERR_INFO_VALUE, "homi_node_size"},
        {"homi_coll_read_streams", "17", MPI_ERR_INFO_VALUE, "homi_coll_read_streams"},
        {"homi_coll_net", "fast", MPI_ERR_INFO_VALUE, "homi_coll_net"},
    };
    const char *saved = mode;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!strcmp(bad[i].key, "homi") && strcmp(saved, "hint")) continue;
        char ctx[128];
        snprintf(ctx, sizeof ctx, "%s / bad hint %s=%s", mode, bad[i].key, bad[i].val);
        t_context = ctx;
        int err;
        MPI_File fh = open_homi(bad[i].key, bad[i].val, &err);
        if (err == MPI_SUCCESS) {
            T_FAIL("open succeeded");
            MPI_File_close(&fh);
            continue;
        }
        int cls;
        char msg[MPI_MAX_ERROR_STRING];
        int len;
        MPI_Error_class(err, &cls);
        MPI_Error_string(err, msg, &len);
        CHECK(cls == bad[i].cls, "error class %d, expected %d (%s)", cls, bad[i].cls, msg);
        CHECK(strstr(msg, bad[i].text) != NULL, "message does not name the hint: %s", msg);
        if (rank == 0 && i == 0) printf("bad hint error text: %s\n", msg);
    }
}

static void check_info(MPI_File fh)
{
    t_context = "get_info";
    MPI_Info info;
    char v[MPI_MAX_INFO_VAL + 1];
    int flag;
    MPI_File_get_info(fh, &info);
    MPI_Info_get(info, "homi_threads", MPI_MAX_INFO_VAL, v, &flag);
    CHECK(flag && !strcmp(v, "2"), "homi_threads reported as %s", flag ? v : "(absent)");
    MPI_Info_get(info, "cb_buffer_size", MPI_MAX_INFO_VAL, v, &flag);
    CHECK(flag && !strcmp(v, "262144"), "cb_buffer_size reported as %s", flag ? v : "(absent)");
#ifdef OPEN_MPI /* Open MPI 4.1 reports its copy of the user's hints only */
    if (!pmpi) {
        MPI_Info_free(&info);
        return;
    }
#endif
    MPI_Info_get(info, "homi_path", MPI_MAX_INFO_VAL, v, &flag);
    CHECK(flag, "homi_path not reported");
    MPI_Info_get(info, "homi_gpu_buffer_size", MPI_MAX_INFO_VAL, v, &flag);
    CHECK(flag && !strcmp(v, "67108864"), "homi_gpu_buffer_size reported as %s",
          flag ? v : "(absent)");
    MPI_Info_get(info, "homi_coll_read_streams", MPI_MAX_INFO_VAL, v, &flag);
    CHECK(flag && !strcmp(v, "4"), "homi_coll_read_streams reported as %s", flag ? v : "(absent)");
    MPI_Info_get(info, "homi_coll_net", MPI_MAX_INFO_VAL, v, &flag);
    CHECK(flag && !strcmp(v, "auto"), "homi_coll_net reported as %s", flag ? v : "(absent)");
    MPI_Info_free(&info);
}

/* The collective engine's UCX route through the driver: virtual nodes of
 * one rank (homi_node_size=1) and homi_coll_net=ucx, the same views
 * against stock ufs (hint mode; several ranks). */
static void net_ucx(void)
{
    if ((strcmp(mode, "hint") && strcmp(mode, "env")) || nprocs < 2) return;
    t_context = "homi_coll_net=ucx";
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "homi", "enable");
    MPI_Info_set(info, "cb_buffer_size", "262144");
    MPI_Info_set(info, "homi_node_size", "1");
    MPI_Info_set(info, "homi_coll_net", "ucx");
    MPI_File fh, fu = open_ufs();
    int err = MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDONLY, info, &fh);
    MPI_Info_free(&info);
    REQUIRE(err == MPI_SUCCESS, "open with homi_coll_net=ucx");
    /* can UCX start here?  (CI: it must, HOMI_TEST_REQUIRE_UCX=1; a GPU
     * machine without libucp, or a plugin built without UCX headers: skip) */
    {
        char b[100];
        MPI_Info_create(&info);
        MPI_Info_set(info, "romio_cb_read", "enable");
        MPI_File_set_info(fh, info);
        MPI_Info_free(&info);
        int e =
            MPI_File_read_at_all(fh, (MPI_Offset)rank * 100, b, 100, MPI_BYTE, MPI_STATUS_IGNORE);
        const char *req = getenv("HOMI_TEST_REQUIRE_UCX");
        if (e != MPI_SUCCESS && !(req && *req == '1')) {
            if (rank == 0) printf("note: the UCX route cannot start here: net=ucx views skipped\n");
            MPI_File_close(&fh);
            MPI_File_close(&fu);
            return;
        }
        CHECK(e == MPI_SUCCESS, "net=ucx probe read failed");
    }
#ifdef OPEN_MPI
    if (pmpi)
#endif
    {
        char v[MPI_MAX_INFO_VAL + 1];
        int flag;
        MPI_File_get_info(fh, &info);
        MPI_Info_get(info, "homi_coll_net", MPI_MAX_INFO_VAL, v, &flag);
        CHECK(flag && !strcmp(v, "ucx"), "homi_coll_net reported as %s", flag ? v : "(absent)");
        MPI_Info_free(&info);
    }
    run_views(fu, fh);
    MPI_File_close(&fu);
    MPI_File_close(&fh);
    if (rank == 0) printf("homi_coll_net=ucx, homi_node_size=1: views compared\n");

    /* UCX that cannot be loaded (HOMI_UCX_LIB): the collective read fails
     * on every rank with MPI_ERR_UNSUPPORTED_OPERATION, never falls back */
    setenv("HOMI_UCX_LIB", "libhomi-no-such-ucp.so.0", 1);
    MPI_Info_create(&info);
    MPI_Info_set(info, "homi", "enable");
    MPI_Info_set(info, "homi_node_size", "1");
    MPI_Info_set(info, "homi_coll_net", "ucx");
    MPI_Info_set(info, "romio_cb_read", "enable");
    err = MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_RDONLY, info, &fh);
    MPI_Info_free(&info);
    REQUIRE(err == MPI_SUCCESS, "open with homi_coll_net=ucx (no UCX)");
    char buf[1000];
    err = MPI_File_read_at_all(fh, (MPI_Offset)rank * 1000, buf, 1000, MPI_BYTE, MPI_STATUS_IGNORE);
    int cls = MPI_SUCCESS;
    if (err != MPI_SUCCESS) MPI_Error_class(err, &cls);
    CHECK(cls == MPI_ERR_UNSUPPORTED_OPERATION, "read_at_all without UCX: error class %d", cls);
    MPI_File_close(&fh);
    unsetenv("HOMI_UCX_LIB");
}

/* cb_nodes is used as given (ROMIO's cb_config_list caps only its own
 * copy at one aggregator per host) and reported as used: min(value, ranks) */
static void check_cb_nodes(void)
{
#ifdef OPEN_MPI /* Open MPI 4.1 reports its copy of the user's hints only */
    if (!pmpi) return;
#endif
    t_context = "cb_nodes";
    int err;
    MPI_File fh = open_homi("cb_nodes", "3", &err);
    REQUIRE(err == MPI_SUCCESS, "open with cb_nodes=3");
    MPI_Info info;
    char v[MPI_MAX_INFO_VAL + 1], want[16];
    int flag;
    MPI_File_get_info(fh, &info);
    MPI_Info_get(info, "cb_nodes", MPI_MAX_INFO_VAL, v, &flag);
    snprintf(want, sizeof want, "%d", nprocs < 3 ? nprocs : 3);
    CHECK(flag && !strcmp(v, want), "cb_nodes reported as %s, expected %s", flag ? v : "(absent)",
          want);
    MPI_Info_free(&info);
    MPI_File_close(&fh);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "gpu"))
            gpu = 1;
        else if (!strcmp(argv[i], "pmpi"))
            pmpi = 1;
        else
            mode = argv[i];
    }
    if (gpu && !homi_cuda_available()) {
        if (rank == 0) printf("SKIP: no usable CUDA GPU (gpu variant)\n");
        MPI_Finalize();
        return 77;
    }
    uint64_t seed = 0;
    if (rank == 0) {
        seed = t_seed_from_env(5);
        (void)seed;
        t_path(path, sizeof path, t_make_tmpdir("mpiio"), "data");
        /* 6 MiB + 333 bytes, holes at [1M, 2M) and [3.5M, 4M) */
        fsize = (6 << 20) + 333;
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        REQUIRE(fd >= 0, "create");
        char *b = malloc((size_t)fsize);
        t_fill_random(b, (size_t)fsize);
        t_pwrite_all(fd, b, 1 << 20, 0);
        t_pwrite_all(fd, b + (2 << 20), 3 << 19, 2 << 20);
        t_pwrite_all(fd, b + (4 << 20), (size_t)fsize - (4 << 20), 4 << 20);
        free(b);
        close(fd);
    }
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(&fsize, 1, MPI_OFFSET, 0, MPI_COMM_WORLD);
    if (!strcmp(mode, "env")) { /* no hint: HOMI_MPIIO_PATHS selects the data directory */
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = 0;
        setenv("HOMI_MPIIO_PATHS", dir, 1);
    }

    int err;
    MPI_File fh = open_homi(NULL, NULL, &err);
    REQUIRE(err == MPI_SUCCESS, "open with HOMI (%s) failed", mode);
    t_context = "selection";
    REQUIRE(is_homi(fh), "the file was not opened by the HOMI driver (mode %s)", mode);
    check_info(fh);
    if (strcmp(mode, "force")) {
        /* ROMIO_FSTYPE_FORCE overrides the ufs: prefix too: no reference
         * handle in that mode (the hint and prefix runs compare) */
        MPI_File fu = open_ufs();
#ifndef OPEN_MPI
        REQUIRE(!is_homi(fu), "ufs: prefix gave the HOMI driver");
#endif
        run_views(fu, fh);
        MPI_File_close(&fu);
    }
    if (pmpi) { /* every rank read independently: HOMI must have served bytes */
        t_context = "served by HOMI";
        long long b = served_bytes(fh);
        CHECK(b > 0, "rank %d: HOMI served %lld bytes (homi_served_bytes)", rank, b);
        if (rank == 0) printf("rank 0: HOMI (libhomi_mpiio) served %lld bytes\n", b);
    }
    MPI_File_close(&fh);
    net_ucx();
    writes();
    bad_hints();
    check_cb_nodes();

    int bad = t_failures, allbad;
    MPI_Allreduce(&bad, &allbad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank == 0) return t_finish("test_mpiio") || allbad;
    return allbad ? 1 : 0;
}
