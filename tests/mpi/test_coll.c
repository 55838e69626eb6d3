/* test_coll.c - the collective read engine (src/coll) on real MPI ranks:
 * random segment lists per rank (unsorted, overlapping, crossing holes and
 * end of file) read with homi_coll_read and homi_coll_read_indep,
 * compared byte-for-byte with pread(2).  Options are swept: aggregator
 * count, buffer size (many rounds), virtual nodes (multi-node exchange on
 * one machine), sieving gap, independent/collective, the route between
 * nodes (UCX through the real libucp, or MPI).
 *
 * usage: test_coll [gpu]   (gpu: destination buffers in CUDA device memory;
 *                          exits 77 when no GPU is usable)
 *        test_coll ucx-errors  (homi_coll_net=ucx where libucp cannot be
 *                          used: every rank fails the read, HOMI_ENOTSUP) */
#include <mpi.h>

#include "homi_coll.h"
#include "homi_test.h"

static int rank, nprocs;

static void make_file(const char *path, int64_t size, uint64_t seed)
{
    if (rank == 0) {
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        REQUIRE(fd >= 0, "create %s: %s", path, strerror(errno));
        char *b = malloc(1 << 20);
        t_rng_state = seed;
        for (int64_t off = 0; off < size; off += 1 << 20) {
            size_t n = (size_t)(size - off < (1 << 20) ? size - off : (1 << 20));
            t_fill_random(b, n);
            /* a hole of 1 MiB every 4 MiB (skipped with lseek) */
            if ((off >> 20) % 4 != 2) t_pwrite_all(fd, b, n, off);
        }
        REQUIRE(ftruncate(fd, size) == 0, "ftruncate");
        free(b);
        close(fd);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

struct scenario {
    const char *name;
    int cb_nodes, node_size, cb_read;
    int64_t cb_buffer, gap;
    int nsegs, maxlen, overlap;
    int win_overlap;  /* HOMI_COLL_*: read-ahead of the next window (0: default, on) */
    int read_streams; /* parts of a window read at once (0: default) */
    int net;          /* HOMI_COLL_NET_*: route between nodes (0: auto) */
    int fixed;        /* every segment is maxlen bytes long */
    int expect;       /* with more than one rank: 1 independent reads, -1 two-phase */
};

/* GPU variant: the device of this rank (HOMI_TEST_GPUS=n spreads the ranks
 * over n GPUs, rank % n; default: the current device) */
static int gpu_dev = -1;

/* One file opened on every rank with its engine and collective state. */
struct open_coll {
    homi_engine *eng;
    homi_file *f;
    homi_coll *c;
};

static void coll_open(const char *path, const homi_coll_opts *o, struct open_coll *h)
{
    REQUIRE(homi_engine_create(NULL, &h->eng) == 0, "engine");
    REQUIRE(homi_open(h->eng, path, HOMI_RDONLY, &h->f) == 0, "open");
    REQUIRE(homi_coll_create(MPI_COMM_WORLD, h->f, o, &h->c) == 0, "coll create");
}

static void coll_close(struct open_coll *h)
{
    homi_coll_free(h->c);
    homi_close(h->f);
    homi_engine_destroy(h->eng);
}

static int run(const char *path, int64_t fsize, const struct scenario *s, int gpu, uint64_t seed)
{
    homi_coll_opts o;
    homi_coll_opts_default(&o);
    o.cb_nodes = s->cb_nodes;
    o.node_size = s->node_size;
    o.cb_read = s->cb_read;
    o.cb_buffer_size = s->cb_buffer;
    o.sieve_gap = s->gap;
    o.gpu_buffer_size = s->cb_buffer; /* several rounds in the GPU variant too */
    o.overlap = s->win_overlap;
    if (s->read_streams) o.read_streams = s->read_streams;
    o.net = s->net;
    struct open_coll oc;
    coll_open(path, &o, &oc);
    homi_coll *c = oc.c;
    homi_file *f = oc.f;

    t_rng_state = seed * 7919 + (uint64_t)rank;
    int n = s->nsegs;
    homi_coll_seg *seg = calloc((size_t)n, sizeof *seg);
    int64_t mem = 0, want = 0;
    for (int i = 0; i < n; i++) {
        int64_t len = s->fixed ? s->maxlen : 1 + (int64_t)t_below((uint64_t)s->maxlen);
        int64_t off;
        if (s->overlap)
            off = (int64_t)t_below((uint64_t)(fsize + fsize / 8)); /* some past EOF */
        else
            off = ((int64_t)i * nprocs + rank) * (fsize / ((int64_t)n * nprocs)); /* interleaved */
        seg[i].file_off = off;
        seg[i].len = len;
        seg[i].mem_off = mem;
        mem += len + (int64_t)t_below(64);
        int64_t e = off + len < fsize ? off + len : fsize;
        if (e > off) want += e - off;
    }
    /* shuffle: the engine must not rely on order */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)t_below((uint64_t)i + 1);
        homi_coll_seg t = seg[i];
        seg[i] = seg[j];
        seg[j] = t;
    }
    char *host = malloc((size_t)mem + 1), *ref = malloc((size_t)mem + 1);
    memset(host, 0xAB, (size_t)mem + 1);
    memset(ref, 0xAB, (size_t)mem + 1);
    char *dst = host;
    if (gpu) {
        REQUIRE(homi_mem_alloc(HOMI_MEM_DEVICE, gpu_dev, (size_t)mem + 1, (void **)&dst) == 0,
                "cudaMalloc");
        void *d = dst;
        const void *h = host;
        size_t l = (size_t)mem + 1;
        REQUIRE(homi_mem_copyv(1, &d, &h, &l, gpu_dev) == 0, "fill device");
    }
    int fd = open(path, O_RDONLY);
    for (int i = 0; i < n; i++) {
        int64_t e = seg[i].file_off + seg[i].len < fsize ? seg[i].file_off + seg[i].len : fsize;
        if (e > seg[i].file_off)
            t_pread_ref(fd, ref + seg[i].mem_off, (size_t)(e - seg[i].file_off), seg[i].file_off);
    }
    close(fd);

    int64_t got = -1;
    int rc = homi_coll_read(c, dst, seg, (size_t)n, &got);
    if (gpu) {
        void *h = host;
        const void *d = dst;
        size_t l = (size_t)mem + 1;
        REQUIRE(homi_mem_copyv(1, &h, &d, &l, gpu_dev) == 0, "copy back");
    }
    homi_coll_info info;
    homi_coll_last_info(c, &info);
    CHECK(rc == 0, "%s: homi_coll_read: %s", s->name, homi_strerror(rc));
    CHECK(got == want, "%s: bytes %lld, expected %lld", s->name, (long long)got, (long long)want);
    if (nprocs > 1 && s->expect)
        CHECK(s->expect > 0 ? info.naggr == 0 : info.naggr > 0, "%s: %d aggregators, expected %s",
              s->name, info.naggr, s->expect > 0 ? "independent reads" : "two-phase");
    if (nprocs > 1 && s->expect > 0)
        CHECK(info.indep_why && strstr(info.indep_why, "homi_coll_indep_min"),
              "%s: independent, but the reason given is \"%s\"", s->name,
              info.indep_why ? info.indep_why : "(none)");
    if (nprocs > 1 && s->expect < 0)
        CHECK(!info.indep_why, "%s: two-phase, yet a reason for independence", s->name);
    long long d = t_first_diff(host, ref, (size_t)mem + 1);
    CHECK(d < 0, "%s: rank %d differs at memory byte %lld", s->name, rank, d);
    /* device buffers on one GPU of one node: every byte between ranks moves
     * GPU to GPU (CUDA IPC), none through MPI */
    unsigned long long moved[3] = {info.ipc_bytes, info.mpi_bytes, info.ucx_bytes}, all[3];
    MPI_Allreduce(moved, all, 3, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (gpu && gpu_dev < 0 && s->node_size == 0 && info.naggr > 0 && nprocs > 1 &&
        s->net != HOMI_COLL_NET_UCX)
        CHECK(all[1] == 0 && all[0] > 0 && all[2] == 0,
              "%s: ipc %llu mpi %llu ucx %llu bytes: expected IPC only", s->name, all[0], all[1],
              all[2]);
    /* the route between nodes: net=ucx takes every pair that is neither
     * self nor IPC (nothing through MPI); several nodes and the pieces
     * spread over all ranks: some bytes go through UCX */
    int multi = s->node_size > 0 && nprocs > s->node_size && info.naggr > 0;
    if (s->net == HOMI_COLL_NET_UCX) {
        CHECK(info.net_ucx == 1, "%s: net=ucx but the read did not use UCX", s->name);
        CHECK(all[1] == 0, "%s: net=ucx but %llu bytes went through MPI", s->name, all[1]);
        if (multi)
            CHECK(all[2] > 0, "%s: net=ucx, %d nodes, but no bytes through UCX", s->name,
                  info.nodes);
    } else if (s->net == HOMI_COLL_NET_MPI) {
        CHECK(info.net_ucx == 0 && all[2] == 0, "%s: net=mpi but %llu bytes through UCX", s->name,
              all[2]);
    } else if (!gpu) { /* auto, host buffers: UCX is for GPU buffers only */
        CHECK(info.net_ucx == 0 && all[2] == 0, "%s: net=auto, host buffers, %llu bytes via UCX",
              s->name, all[2]);
    } else if (multi && gpu_dev < 0) { /* auto, GPU buffers on one GPU, several nodes */
        if (info.ucx_cuda)
            CHECK(all[2] > 0 && all[1] == 0, "%s: UCX has CUDA: ucx %llu mpi %llu bytes", s->name,
                  all[2], all[1]);
        else
            CHECK(all[2] == 0 && info.net_ucx == 0, "%s: UCX without CUDA used in auto", s->name);
    }
    /* windows larger than 1 MiB are cut into parts read at once */
    int want_parts = s->read_streams > 1 && s->cb_buffer >= (2 << 20);
    if (info.is_aggr && want_parts)
        CHECK(info.read_parts > (uint64_t)info.rounds / 2, "%s: %llu window parts in %d rounds",
              s->name, (unsigned long long)info.read_parts, info.rounds);
    if (info.is_aggr && s->read_streams == 1)
        CHECK(info.read_parts <= (uint64_t)info.rounds, "%s: %llu window parts in %d rounds",
              s->name, (unsigned long long)info.read_parts, info.rounds);
    int bad = t_failures, allbad;
    MPI_Allreduce(&bad, &allbad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%-28s ranks %d aggr %d rounds %d parts %llu nodes %d ipc %llu mpi %llu self %llu "
               "ucx %llu%s: %s\n",
               s->name, nprocs, info.naggr, info.rounds, (unsigned long long)info.read_parts,
               info.nodes, (unsigned long long)info.ipc_bytes, (unsigned long long)info.mpi_bytes,
               (unsigned long long)info.self_bytes, (unsigned long long)info.ucx_bytes,
               info.net_ucx ? (info.ucx_cuda ? " (ucx cuda)" : " (ucx host)") : "",
               allbad ? "FAIL" : "ok");

    /* the same segments read independently */
    memset(host, 0xAB, (size_t)mem + 1);
    if (gpu) {
        void *dd = dst;
        const void *h = host;
        size_t l = (size_t)mem + 1;
        homi_mem_copyv(1, &dd, &h, &l, gpu_dev);
    }
    got = -1;
    rc = homi_coll_read_indep(f, &o, dst, seg, (size_t)n, &got);
    if (gpu) {
        void *h = host;
        const void *dd = dst;
        size_t l = (size_t)mem + 1;
        homi_mem_copyv(1, &h, &dd, &l, gpu_dev);
    }
    CHECK(rc == 0 && got == want, "%s indep: rc %d bytes %lld", s->name, rc, (long long)got);
    d = t_first_diff(host, ref, (size_t)mem + 1);
    CHECK(d < 0, "%s indep: rank %d differs at memory byte %lld", s->name, rank, d);

    if (gpu) homi_mem_free(HOMI_MEM_DEVICE, dst);
    free(host);
    free(ref);
    free(seg);
    coll_close(&oc);
    return 0;
}

/* Can the UCX route start here (a two-phase read with net=ucx)?  Where it
 * cannot (no libucp, or the engine built without UCX headers) the net=ucx
 * scenarios are skipped with a note, unless HOMI_TEST_REQUIRE_UCX=1 (CTest
 * sets it: CI has UCX) makes that a failure. */
static int ucx_usable(const char *path)
{
    homi_coll_opts o;
    homi_coll_opts_default(&o);
    o.cb_read = HOMI_COLL_ENABLE;
    o.net = HOMI_COLL_NET_UCX;
    struct open_coll h;
    coll_open(path, &o, &h);
    char b[64];
    homi_coll_seg seg = {.file_off = 100 * rank, .len = 64, .mem_off = 0};
    int rc = homi_coll_read(h.c, b, &seg, 1, NULL);
    coll_close(&h);
    const char *req = getenv("HOMI_TEST_REQUIRE_UCX");
    if (rc == HOMI_ENOTSUP && !(req && *req == '1')) {
        if (rank == 0)
            printf("note: the UCX route cannot start here (see the log line above): "
                   "net=ucx scenarios skipped\n");
        return 0;
    }
    CHECK(rc == 0, "net=ucx probe read: %s", homi_strerror(rc));
    return 1;
}

/* homi_coll_net=ucx where UCX cannot be used (HOMI_UCX_LIB names a library
 * that does not exist, then one without the ucp symbols): every rank's
 * read fails with HOMI_ENOTSUP, again on the next read, and the same
 * handle reads correctly once switched to net=mpi. */
static void ucx_errors(const char *path, int64_t fsize)
{
    const char *libs[] = {"libhomi-no-such-ucp.so.0", "libm.so.6"};
    for (int li = 0; li < 2; li++) {
        t_context = libs[li];
        setenv("HOMI_UCX_LIB", libs[li], 1);
        homi_coll_opts o;
        homi_coll_opts_default(&o);
        o.node_size = 1;
        o.cb_read = HOMI_COLL_ENABLE;
        o.cb_buffer_size = 64 << 10;
        o.net = HOMI_COLL_NET_UCX;
        struct open_coll h;
        coll_open(path, &o, &h);
        homi_coll *c = h.c;
        /* interleaved blocks: 64 of 3000 bytes */
        enum { NB = 64, BL = 3000 };
        homi_coll_seg seg[NB];
        for (int i = 0; i < NB; i++) {
            seg[i].file_off = ((int64_t)i * nprocs + rank) * (fsize / (NB * nprocs));
            seg[i].len = BL;
            seg[i].mem_off = (int64_t)i * BL;
        }
        char *buf = malloc(NB * BL), *ref = malloc(NB * BL);
        int fd = open(path, O_RDONLY);
        for (int i = 0; i < NB; i++)
            t_pread_ref(fd, ref + seg[i].mem_off, BL, seg[i].file_off);
        close(fd);
        for (int k = 0; k < 2; k++) {
            int64_t got = -1;
            int rc = homi_coll_read(c, buf, seg, NB, &got);
            CHECK(rc == HOMI_ENOTSUP, "%s: read %d with net=ucx: rc %d (%s), expected HOMI_ENOTSUP",
                  libs[li], k, rc, homi_strerror(rc));
        }
        o.net = HOMI_COLL_NET_MPI;
        REQUIRE(homi_coll_set_opts(c, &o) == 0, "set_opts");
        memset(buf, 0xAB, NB * BL);
        int64_t got = -1;
        int rc = homi_coll_read(c, buf, seg, NB, &got);
        CHECK(rc == 0 && got == NB * BL, "%s: net=mpi after: rc %d bytes %lld", libs[li], rc,
              (long long)got);
        CHECK(t_first_diff(buf, ref, NB * BL) < 0, "%s: net=mpi after: data differs", libs[li]);
        homi_coll_info info;
        homi_coll_last_info(c, &info);
        CHECK(info.net_ucx == 0 && info.ucx_bytes == 0, "%s: net=mpi used UCX", libs[li]);
        if (rank == 0)
            printf("net=ucx with HOMI_UCX_LIB=%s: HOMI_ENOTSUP on every rank: ok\n", libs[li]);
        free(buf);
        free(ref);
        coll_close(&h);
    }
    unsetenv("HOMI_UCX_LIB");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    int gpu = argc > 1 && !strcmp(argv[1], "gpu");
    int ucx_err = argc > 1 && !strcmp(argv[1], "ucx-errors");
    if (gpu && !homi_cuda_available()) {
        if (rank == 0) printf("SKIP: no usable CUDA GPU (gpu variant)\n");
        MPI_Finalize();
        return 77;
    }
    const char *spread = getenv("HOMI_TEST_GPUS");
    if (gpu && spread && atoi(spread) > 0) gpu_dev = rank % atoi(spread);
    uint64_t seed = 0;
    if (rank == 0) seed = t_seed_from_env(20261125);
    MPI_Bcast(&seed, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    char path[4200];
    if (rank == 0) {
        const char *dir = t_make_tmpdir("coll");
        t_path(path, sizeof path, dir, "data");
    }
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    const int64_t fsize = (24 << 20) + 12345; /* holes at 2-3 MiB, 6-7 MiB, ... */
    make_file(path, fsize, seed);

    const struct scenario sc[] = {
        {"interleaved default", 0, 0, HOMI_COLL_AUTO, 16 << 20, 64 << 10, 64, 70000, 0, 0, 0, 0, 0,
         -1},
        /* interleaved, but every piece is long: each rank reads its own
         * (homi_coll_indep_min, 1 MiB by default) */
        {"interleaved long pieces", 0, 0, HOMI_COLL_AUTO, 16 << 20, 64 << 10, 2, (1 << 20) + 4096,
         0, 0, 0, 0, 1, 1},
        {"interleaved 2 aggr 64K", 2, 0, HOMI_COLL_ENABLE, 64 << 10, 0, 200, 9000, 0, 0, 0, 0, 0,
         0},
        {"random overlap+EOF", 0, 0, HOMI_COLL_ENABLE, 1 << 20, 4096, 300, 300000, 1, 0, 0, 0, 0,
         0},
        {"virtual nodes of 2", 0, 2, HOMI_COLL_ENABLE, 256 << 10, 64 << 10, 100, 50000, 1, 0, 0, 0,
         0, 0},
        {"virtual nodes of 1, 3 aggr", 3, 1, HOMI_COLL_ENABLE, 128 << 10, 0, 150, 20000, 0, 0, 0, 0,
         0, 0},
        {"virtual nodes of 2, 3 aggr", 3, 2, HOMI_COLL_ENABLE, 96 << 10, 4096, 150, 30000, 1, 0, 0,
         0, 0, 0},
        {"cb disabled", 0, 0, HOMI_COLL_DISABLE, 1 << 20, 64 << 10, 100, 100000, 1, 0, 0, 0, 0, 0},
        {"tiny segments", 0, 0, HOMI_COLL_ENABLE, 32 << 10, 0, 2000, 16, 1, 0, 0, 0, 0, 0},
        {"one window (no read-ahead)", 0, 0, HOMI_COLL_ENABLE, 512 << 10, 64 << 10, 100, 90000, 1,
         HOMI_COLL_DISABLE, 0, 0, 0, 0},
        {"read-ahead, 2 aggr, 40 rounds", 2, 0, HOMI_COLL_ENABLE, 300 << 10, 4096, 64, 200000, 0,
         HOMI_COLL_ENABLE, 0, 0, 0, 0},
        /* windows cut into parts read at once, across holes and EOF */
        {"8M windows, 5 streams", 1, 0, HOMI_COLL_ENABLE, 8 << 20, 64 << 10, 80, 400000, 1, 0, 5, 0,
         0, 0},
        {"8M windows, 16 streams, 1 win", 2, 0, HOMI_COLL_ENABLE, 8 << 20, 4096, 40, 900000, 1,
         HOMI_COLL_DISABLE, 16, 0, 0, 0},
        {"3M windows, 1 stream, 1 win", 2, 0, HOMI_COLL_ENABLE, 3 << 20, 4096, 40, 900000, 0,
         HOMI_COLL_DISABLE, 1, 0, 0, 0},
        /* the route between nodes: UCX (the real libucp: shared memory and
         * TCP between the ranks here; host memory, or GPU memory when the
         * UCX found supports CUDA) and MPI */
        {"ucx: virtual nodes of 2", 0, 2, HOMI_COLL_ENABLE, 256 << 10, 64 << 10, 100, 50000, 1, 0,
         0, HOMI_COLL_NET_UCX, 0, 0},
        {"ucx: nodes of 1, 3 aggr", 3, 1, HOMI_COLL_ENABLE, 128 << 10, 0, 150, 20000, 0, 0, 0,
         HOMI_COLL_NET_UCX, 0, 0},
        {"ucx: 2 aggr, 1M windows", 2, 2, HOMI_COLL_ENABLE, 1 << 20, 4096, 64, 300000, 0, 0, 0,
         HOMI_COLL_NET_UCX, 0, 0},
        {"ucx: one window, tiny", 0, 2, HOMI_COLL_ENABLE, 32 << 10, 0, 40, 64, 1, HOMI_COLL_DISABLE,
         0, HOMI_COLL_NET_UCX, 0, 0},
        {"mpi: virtual nodes of 2", 0, 2, HOMI_COLL_ENABLE, 256 << 10, 64 << 10, 100, 50000, 1, 0,
         0, HOMI_COLL_NET_MPI, 0, 0},
    };
    if (ucx_err) {
        ucx_errors(path, fsize);
        t_bail_if_many();
    }
    int have_ucx = ucx_err ? 0 : ucx_usable(path);
    for (size_t i = 0; i < sizeof sc / sizeof sc[0] && !ucx_err; i++) {
        if (sc[i].net == HOMI_COLL_NET_UCX && !have_ucx) continue;
        t_context = sc[i].name;
        run(path, fsize, &sc[i], gpu, seed + i);
        t_bail_if_many();
    }
    int bad = t_failures, allbad;
    MPI_Allreduce(&bad, &allbad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank != 0) t_tmpdir[0] = 0; /* rank 0 removes the directory */
    MPI_Finalize();
    if (rank == 0) return t_finish("test_coll") || allbad;
    return allbad ? 1 : 0;
}
