/* test_coll_write.c - the collective write engine (homi_coll_write,
 * src/coll/coll_write_agg.c) on real MPI ranks.  The file starts as random
 * data with holes; every scenario cuts a range (past the end of file too)
 * into slots of random length, gives each slot to a random rank or to
 * nobody (a gap that must keep the file's bytes), shuffles each rank's
 * segments and spreads them in its buffer with gaps, writes them with
 * homi_coll_write, and checks byte for byte with pread(2): every rank its
 * own segments, rank 0 every byte nobody wrote (as before) and the file
 * size.  Options are swept: aggregators, window size (many rounds), one
 * window or two, writer threads, virtual nodes (the MPI route between
 * nodes), cb_write enable/automatic/disable.  Then the errors: a handle
 * open read-only fails on every rank with the same error.
 *
 * usage: test_coll_write [gpu]   (gpu: source buffers in CUDA device
 *                                memory; exits 77 when no GPU is usable) */
#include <mpi.h>

#include "homi_coll.h"
#include "homi_test.h"

static int rank, nprocs;

struct scenario {
    const char *name;
    int cb_nodes, node_size, cb_write;
    int64_t window;  /* cb_buffer_size and gpu_buffer_size */
    int maxlen;      /* longest slot */
    int64_t span;    /* bytes of file cut into slots (from span_at) */
    int64_t span_at; /* where the slots start */
    int gap_pct;     /* slots nobody writes, percent */
    int win_overlap; /* HOMI_COLL_*: next window filled while this one is written */
    int streams;     /* writer threads (0: default) */
    int expect_2phase;
};

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
            if ((off >> 20) % 3 != 1) t_pwrite_all(fd, b, n, off); /* a hole every 3 MiB */
        }
        REQUIRE(ftruncate(fd, size) == 0, "ftruncate");
        free(b);
        close(fd);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* Rank 0's copy of the whole file (size bytes). */
static char *slurp(const char *path, int64_t *size)
{
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0, "open %s", path);
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0, "fstat");
    *size = st.st_size;
    char *b = malloc((size_t)st.st_size + 1);
    t_pread_ref(fd, b, (size_t)st.st_size, 0);
    close(fd);
    return b;
}

/* One file opened on every rank (flags HOMI_RDWR or HOMI_RDONLY) with its
 * engine and collective state. */
struct open_coll {
    homi_engine *eng;
    homi_file *f;
    homi_coll *c;
};

static homi_coll *coll_open(const char *path, unsigned flags, const homi_coll_opts *o,
                            struct open_coll *h)
{
    REQUIRE(homi_engine_create(NULL, &h->eng) == 0, "engine");
    REQUIRE(homi_open(h->eng, path, flags, &h->f) == 0, "open");
    REQUIRE(homi_coll_create(MPI_COMM_WORLD, h->f, o, &h->c) == 0, "coll create");
    return h->c;
}

static void coll_close(struct open_coll *h)
{
    homi_coll_free(h->c);
    homi_close(h->f);
    homi_engine_destroy(h->eng);
}

static void run(const char *path, const struct scenario *s, int gpu, int gpu_dev, uint64_t seed)
{
    int64_t before_size = 0;
    char *before = rank == 0 ? slurp(path, &before_size) : NULL;
    MPI_Bcast(&before_size, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);

    /* slots: the same cut on every rank (common seed), owner or gap */
    t_rng_state = seed;
    int cap = 1024, ns = 0;
    int64_t *so = malloc((size_t)cap * sizeof *so), *sl = malloc((size_t)cap * sizeof *sl);
    int *own = malloc((size_t)cap * sizeof *own);
    for (int64_t off = s->span_at; off < s->span_at + s->span;) {
        int64_t len = 1 + (int64_t)t_below((uint64_t)s->maxlen);
        if (ns == cap) {
            cap *= 2;
            so = realloc(so, (size_t)cap * sizeof *so);
            sl = realloc(sl, (size_t)cap * sizeof *sl);
            own = realloc(own, (size_t)cap * sizeof *own);
        }
        so[ns] = off;
        sl[ns] = len;
        own[ns] = (int)t_below(100) < s->gap_pct ? -1 : (int)t_below((uint64_t)nprocs);
        ns++;
        off += len;
    }
    /* my segments, shuffled, spread in my buffer */
    int n = 0;
    for (int i = 0; i < ns; i++)
        n += own[i] == rank;
    homi_coll_seg *seg = calloc((size_t)n + 1, sizeof *seg);
    for (int i = 0, k = 0; i < ns; i++)
        if (own[i] == rank) seg[k++] = (homi_coll_seg){so[i], sl[i], 0};
    t_rng_state = seed * 7919 + (uint64_t)rank + 1;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)t_below((uint64_t)i + 1);
        homi_coll_seg t = seg[i];
        seg[i] = seg[j];
        seg[j] = t;
    }
    int64_t mem = 0, total = 0;
    for (int i = 0; i < n; i++) {
        seg[i].mem_off = mem;
        mem += seg[i].len + (int64_t)t_below(64);
        total += seg[i].len;
    }
    char *host = malloc((size_t)mem + 1);
    t_fill_random(host, (size_t)mem + 1);
    char *src = host;
    if (gpu) {
        REQUIRE(homi_mem_alloc(HOMI_MEM_DEVICE, gpu_dev, (size_t)mem + 1, (void **)&src) == 0,
                "cudaMalloc");
        void *d = src;
        const void *h = host;
        size_t l = (size_t)mem + 1;
        REQUIRE(homi_mem_copyv(1, &d, &h, &l, gpu_dev) == 0, "fill device");
    }

    homi_coll_opts o;
    homi_coll_opts_default(&o);
    o.cb_nodes = s->cb_nodes;
    o.node_size = s->node_size;
    o.cb_write = s->cb_write;
    o.cb_buffer_size = s->window;
    o.gpu_buffer_size = s->window;
    o.overlap = s->win_overlap;
    if (s->streams) o.read_streams = s->streams;
    struct open_coll oc;
    homi_coll *c = coll_open(path, HOMI_RDWR, &o, &oc);
    homi_coll_wbounce wb = {0};
    int64_t put = -1;
    int rc = homi_coll_write(c, src, seg, (size_t)n, &wb, &put);
    homi_coll_info info;
    homi_coll_last_info(c, &info);
    CHECK(rc == 0, "%s: homi_coll_write: %s", s->name, homi_strerror(rc));
    CHECK(put == total, "%s: bytes %lld, expected %lld", s->name, (long long)put, (long long)total);
    int naggr = info.naggr, rounds = info.rounds;
    if (s->expect_2phase)
        CHECK(naggr > 0 && rounds > 0, "%s: not two-phase (aggregators %d, rounds %d)", s->name,
              naggr, rounds);
    else
        CHECK(naggr == 0, "%s: two-phase (%d aggregators), expected each rank its own", s->name,
              naggr);
    unsigned long long moved[3] = {info.ipc_bytes, info.mpi_bytes, info.self_bytes}, all[3];
    MPI_Allreduce(moved, all, 3, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    long long sum_total = 0, t = total;
    MPI_Allreduce(&t, &sum_total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (naggr > 0) {
        CHECK(all[0] + all[1] + all[2] == (unsigned long long)sum_total,
              "%s: ipc %llu + mpi %llu + self %llu bytes, %lld written", s->name, all[0], all[1],
              all[2], sum_total);
        /* device buffers on one GPU and one node: every byte between ranks
         * through CUDA IPC; virtual nodes: between them through MPI */
        if (gpu && gpu_dev < 0 && s->node_size == 0 && nprocs > 1)
            CHECK(all[1] == 0, "%s: %llu bytes through MPI, expected CUDA IPC only", s->name,
                  all[1]);
        if (!gpu) CHECK(all[0] == 0, "%s: host buffers but %llu IPC bytes", s->name, all[0]);
    }
    homi_coll_wbounce_free(&wb);
    coll_close(&oc);
    MPI_Barrier(MPI_COMM_WORLD);

    /* my segments are in the file */
    int fd = open(path, O_RDONLY);
    for (int i = 0; i < n; i++) {
        char *b = malloc((size_t)seg[i].len);
        t_pread_ref(fd, b, (size_t)seg[i].len, seg[i].file_off);
        long long d = t_first_diff(b, host + seg[i].mem_off, (size_t)seg[i].len);
        CHECK(d < 0, "%s: rank %d: segment at %lld (%lld bytes) differs at byte %lld", s->name,
              rank, (long long)seg[i].file_off, (long long)seg[i].len, d);
        free(b);
        if (d >= 0) break;
    }
    close(fd);
    /* rank 0: nobody's bytes kept, and the size */
    if (rank == 0) {
        int64_t after_size = 0, want_size = before_size;
        char *after = slurp(path, &after_size);
        for (int i = 0; i < ns; i++)
            if (own[i] >= 0 && so[i] + sl[i] > want_size) want_size = so[i] + sl[i];
        CHECK(after_size == want_size, "%s: file size %lld, expected %lld", s->name,
              (long long)after_size, (long long)want_size);
        char *mine = calloc((size_t)after_size + 1, 1); /* 1: some rank wrote it */
        for (int i = 0; i < ns; i++)
            if (own[i] >= 0)
                for (int64_t x = so[i]; x < so[i] + sl[i] && x < after_size; x++)
                    mine[x] = 1;
        int64_t bad = -1;
        for (int64_t x = 0; x < after_size && bad < 0; x++)
            if (!mine[x] && after[x] != (x < before_size ? before[x] : 0)) bad = x;
        free(mine);
        CHECK(bad < 0, "%s: byte %lld, which no rank wrote, changed", s->name, (long long)bad);
        free(after);
    }
    int fails = t_failures, allbad = 0;
    MPI_Allreduce(&fails, &allbad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%-32s ranks %d aggr %d rounds %d parts %llu ipc %llu mpi %llu self %llu: %s\n",
               s->name, nprocs, naggr, rounds, (unsigned long long)info.read_parts, all[0], all[1],
               all[2], allbad ? "FAIL" : "ok");
    if (gpu) homi_mem_free(HOMI_MEM_DEVICE, src);
    free(host);
    free(seg);
    free(so);
    free(sl);
    free(own);
    free(before);
}

/* A handle open read-only: every rank fails with the same error. */
static void read_only(const char *path)
{
    t_context = "read-only handle";
    homi_coll_opts o;
    homi_coll_opts_default(&o);
    o.cb_write = HOMI_COLL_ENABLE;
    struct open_coll oc;
    homi_coll *c = coll_open(path, HOMI_RDONLY, &o, &oc);
    char buf[4096];
    memset(buf, 0x5A, sizeof buf);
    homi_coll_seg seg = {.file_off = (int64_t)rank * 8192, .len = 4096, .mem_off = 0};
    int64_t put = -1;
    int rc = homi_coll_write(c, buf, &seg, 1, NULL, &put);
    int rcs[2] = {rc, -rc}, agg[2];
    MPI_Allreduce(rcs, agg, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    CHECK(rc < 0, "write through a read-only handle: rc %d", rc);
    CHECK(agg[0] == -agg[1], "ranks disagree on the error (%d .. %d)", agg[0], -agg[1]);
    CHECK(put == 0, "read-only: %lld bytes counted", (long long)put);
    if (rank == 0) printf("read-only handle: %s on every rank: ok\n", homi_strerror(rc));
    coll_close(&oc);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    int gpu = argc > 1 && !strcmp(argv[1], "gpu");
    if (gpu && !homi_cuda_available()) {
        if (rank == 0) printf("SKIP: no usable CUDA GPU (gpu variant)\n");
        MPI_Finalize();
        return 77;
    }
    int gpu_dev = -1;
    const char *spread = getenv("HOMI_TEST_GPUS");
    if (gpu && spread && atoi(spread) > 0) gpu_dev = rank % atoi(spread);
    uint64_t seed = 0;
    if (rank == 0) seed = t_seed_from_env(20261204);
    MPI_Bcast(&seed, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    char path[4200];
    if (rank == 0) {
        const char *dir = t_make_tmpdir("collw");
        t_path(path, sizeof path, dir, "data");
    }
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    const int64_t fsize = (12 << 20) + 777;
    make_file(path, fsize, seed);
    int many = nprocs > 1; /* one rank: nothing interleaves */
    const int E = HOMI_COLL_ENABLE, A = HOMI_COLL_AUTO, D = HOMI_COLL_DISABLE;
    const struct scenario sc[] = {
        {"interleaved default", 0, 0, A, 16 << 20, 70000, 6 << 20, 100, 10, 0, 0, many},
        {"2 aggr, 64K windows", 2, 0, E, 64 << 10, 9000, 2 << 20, 3 << 20, 20, 0, 0, 1},
        {"gaps 60%, past EOF", 0, 0, E, 1 << 20, 30000, 4 << 20, fsize - (1 << 20), 60, 0, 0, 1},
        {"virtual nodes of 2", 0, 2, E, 256 << 10, 50000, 3 << 20, 5 << 20, 10, 0, 0, 1},
        {"nodes of 1, 3 aggr", 3, 1, E, 128 << 10, 20000, 2 << 20, 7 << 20, 15, 0, 0, 1},
        {"one window", 0, 0, E, 512 << 10, 90000, 4 << 20, 1 << 20, 10, D, 0, 1},
        {"8M windows, 5 writers", 1, 0, E, 8 << 20, 400000, 10 << 20, 333, 5, 0, 5, 1},
        {"tiny slots", 0, 0, E, 32 << 10, 16, 64 << 10, 4 << 20, 30, 0, 0, 1},
        {"cb_write disabled", 0, 0, D, 1 << 20, 100000, 4 << 20, 2 << 20, 10, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        t_context = sc[i].name;
        run(path, &sc[i], gpu, gpu_dev, seed + i);
        t_bail_if_many();
    }
    read_only(path);
    int bad = t_failures, allbad;
    MPI_Allreduce(&bad, &allbad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank != 0) t_tmpdir[0] = 0; /* rank 0 removes the directory */
    MPI_Finalize();
    if (rank == 0) return t_finish("test_coll_write") || allbad;
    return allbad ? 1 : 0;
}
