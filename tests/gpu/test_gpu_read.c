/* test_gpu_read.c - reads into CUDA device memory, checked byte-for-byte
 * against pread (copied back with cudaMemcpy): aligned, unaligned,
 * extent-crossing, holes, EOF, past EOF, pieces crossing staging slots,
 * buffered and O_DIRECT, batches, stream-ordered reads, many threads on one
 * engine, pinned host destinations, cuFile when present, and invalid or
 * freed device buffers (error, no crash).  Exits 77 without a GPU. */
#include <cuda_runtime_api.h>
#include <pthread.h>

#include "homi_test.h"

#define K 1024ull
#define M (1024ull * 1024ull)

static char g_path[4096];
static char *g_ref;     /* the file's bytes */
static uint64_t g_size; /* file size */
static homi_engine *g_eng;
static homi_file *g_f;

#define CUDA_OK(x)                                                                                 \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        REQUIRE(e_ == cudaSuccess, "%s: %s", #x, cudaGetErrorString(e_));                          \
    } while (0)

/* Expected result of a read of len at off. */
static uint64_t expect(uint64_t off, uint64_t len)
{
    return off >= g_size ? 0 : (g_size - off < len ? g_size - off : len);
}

/* Compare device bytes [dev, dev+n) with the file at off. */
static void compare(const char *what, const char *dev, uint64_t off, uint64_t n)
{
    if (!n) return;
    char *h = malloc(n);
    REQUIRE(h, "malloc");
    CUDA_OK(cudaMemcpy(h, dev, n, cudaMemcpyDeviceToHost));
    long long d = t_first_diff(h, g_ref + off, n);
    CHECK(d < 0, "%s: off %llu len %llu: first difference at +%lld", what, (unsigned long long)off,
          (unsigned long long)n, d);
    free(h);
}

/* One device read: result and bytes; a guard pattern after the expected
 * bytes must stay untouched. */
static void one_read(const char *what, char *dev, uint64_t dev_off, uint64_t off, uint64_t len)
{
    uint64_t want = expect(off, len);
    CUDA_OK(cudaMemset(dev + dev_off, 0xA5, len + 4096));
    int64_t r = homi_pread(g_f, dev + dev_off, len, (int64_t)off);
    CHECK(r == (int64_t)want, "%s: homi_pread(off %llu, len %llu) = %lld (%s), want %llu", what,
          (unsigned long long)off, (unsigned long long)len, (long long)r,
          r < 0 ? homi_strerror((int)r) : "", (unsigned long long)want);
    if (r == (int64_t)want) compare(what, dev + dev_off, off, want);
    char guard[4096];
    CUDA_OK(cudaMemcpy(guard, dev + dev_off + want, sizeof guard, cudaMemcpyDeviceToHost));
    int bad = 0;
    for (size_t i = 0; i < sizeof guard; i++)
        bad |= (unsigned char)guard[i] != 0xA5;
    CHECK(!bad, "%s: bytes written past the result (off %llu len %llu)", what,
          (unsigned long long)off, (unsigned long long)len);
    t_bail_if_many();
}

static void make_file(const char *dir)
{
    t_path(g_path, sizeof g_path, dir, "gpu.dat");
    g_size = 96 * M + 12345;
    g_ref = calloc(1, g_size);
    REQUIRE(g_ref, "calloc");
    int fd = open(g_path, O_CREAT | O_TRUNC | O_RDWR, 0644);
    REQUIRE(fd >= 0, "open %s: %s", g_path, strerror(errno));
    REQUIRE(ftruncate(fd, (off_t)g_size) == 0, "ftruncate");
    /* data islands with holes between them: [0,40M) data, [40M,56M) hole,
     * [56M, end) data with a 1 MiB hole at 80M */
    t_fill_random(g_ref, 40 * M);
    t_fill_random(g_ref + 56 * M, g_size - 56 * M);
    memset(g_ref + 80 * M, 0, M);
    t_pwrite_all(fd, g_ref, 40 * M, 0);
    t_pwrite_all(fd, g_ref + 56 * M, 24 * M, (off_t)(56 * M));
    t_pwrite_all(fd, g_ref + 81 * M, g_size - 81 * M, (off_t)(81 * M));
    fsync(fd);
    close(fd);
}

struct thr {
    int idx;
    int fails;
};

static void *thread_main(void *arg)
{
    struct thr *t = arg;
    char *dev;
    if (cudaMalloc((void **)&dev, 8 * M) != cudaSuccess) {
        t->fails++;
        return NULL;
    }
    char *h = malloc(8 * M);
    uint64_t s = 0x1234567ull * (uint64_t)(t->idx + 1);
    for (int i = 0; i < 40 && h; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t off = (s >> 11) % g_size, len = 1 + (s >> 40) % (8 * M);
        int64_t r = homi_pread(g_f, dev, len, (int64_t)off);
        uint64_t want = expect(off, len);
        if (r != (int64_t)want) {
            t->fails++;
            continue;
        }
        cudaMemcpy(h, dev, want, cudaMemcpyDeviceToHost);
        if (want && memcmp(h, g_ref + off, want)) t->fails++;
    }
    free(h);
    cudaFree(dev);
    return NULL;
}

static void run_suite(const char *label)
{
    char ctx[128];
    char *dev;
    const uint64_t DEVSZ = g_size + 64 * K;
    CUDA_OK(cudaMalloc((void **)&dev, DEVSZ + 8192));

    snprintf(ctx, sizeof ctx, "%s: fixed cases", label);
    t_context = ctx;
    struct {
        uint64_t dev_off, off, len;
        const char *what;
    } cases[] = {
        {0, 0, 4096, "aligned 4K"},
        {0, 0, 8 * M, "one staging slot"},
        {0, 0, 40 * M, "many slots"},
        {0, 4096, 1 * M, "aligned 1M at 4K"},
        {3, 1, 100, "tiny unaligned"},
        {1, 12345, 3 * M + 7, "unaligned across chunks"},
        {0, 39 * M + 5, 3 * M, "data into hole"},
        {0, 40 * M, 16 * M, "whole hole"},
        {5, 55 * M + 1, 2 * M, "hole into data"},
        {0, 79 * M + 3, 3 * M, "small hole inside"},
        {0, g_size - 100, 4096, "across EOF"},
        {0, g_size, 4096, "at EOF"},
        {0, g_size + 5, 4096, "past EOF"},
        {0, 0, g_size + 64 * K, "whole file, short"},
        {7, 17, 0, "zero length"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        one_read(cases[i].what, dev, cases[i].dev_off, cases[i].off, cases[i].len);

    snprintf(ctx, sizeof ctx, "%s: random", label);
    for (int i = 0; i < 150; i++) {
        uint64_t off = t_below(g_size + 4096);
        uint64_t len = t_below(i % 10 == 0 ? 20 * M : 256 * K) + 1;
        uint64_t doff = t_below(4096);
        one_read("random", dev, doff, off, len);
    }

    /* batch of device-destination reads through homi_submit */
    snprintf(ctx, sizeof ctx, "%s: batch", label);
    enum { NB = 64 };
    homi_io ios[NB];
    homi_completion cqe[NB];
    memset(ios, 0, sizeof ios);
    uint64_t boff[NB], blen[NB], pos = 0;
    for (int i = 0; i < NB; i++) {
        blen[i] = t_below(M) + 1;
        boff[i] = t_below(g_size);
        ios[i].file = g_f;
        ios[i].buf = dev + pos;
        ios[i].len = blen[i];
        ios[i].offset = (int64_t)boff[i];
        ios[i].user_data = (uint64_t)i;
        ios[i].opts.mem = HOMI_MEM_DEVICE;
        pos += blen[i];
    }
    REQUIRE(pos <= DEVSZ, "batch fits");
    CHECK_RC(homi_submit(g_eng, ios, NB), NB);
    int got = homi_wait(g_eng, cqe, NB, NB, 60000);
    CHECK(got == NB, "homi_wait collected %d of %d", got, NB);
    for (int i = 0; i < got; i++) {
        int k = (int)cqe[i].user_data;
        uint64_t want = expect(boff[k], blen[k]);
        CHECK(cqe[i].result == (int64_t)want, "batch %d: result %lld want %llu", k,
              (long long)cqe[i].result, (unsigned long long)want);
        if (cqe[i].result == (int64_t)want) compare("batch", (char *)ios[k].buf, boff[k], want);
    }

    /* stream-ordered reads followed by a copy back on the same stream */
    snprintf(ctx, sizeof ctx, "%s: stream", label);
    cudaStream_t s;
    CUDA_OK(cudaStreamCreate(&s));
    enum { NS = 12 };
    int64_t res[NS];
    char *back = NULL;
    CUDA_OK(cudaMallocHost((void **)&back, NS * 2 * M));
    for (int i = 0; i < NS; i++) {
        uint64_t off = (uint64_t)i * 7 * M + 11;
        CHECK_RC(
            homi_read_to_stream(g_f, dev + (uint64_t)i * 2 * M, 2 * M, (int64_t)off, s, &res[i]),
            HOMI_OK);
        CUDA_OK(cudaMemcpyAsync(back + (uint64_t)i * 2 * M, dev + (uint64_t)i * 2 * M, 2 * M,
                                cudaMemcpyDeviceToHost, s));
    }
    CUDA_OK(cudaStreamSynchronize(s));
    for (int i = 0; i < NS; i++) {
        uint64_t off = (uint64_t)i * 7 * M + 11, want = expect(off, 2 * M);
        CHECK(res[i] == (int64_t)want, "stream read %d: %lld", i, (long long)res[i]);
        CHECK(t_first_diff(back + (uint64_t)i * 2 * M, g_ref + off, want) < 0,
              "stream read %d: bytes differ (stream order broken?)", i);
    }
    CUDA_OK(cudaFreeHost(back));
    CUDA_OK(cudaStreamDestroy(s));

    /* many threads, one engine */
    snprintf(ctx, sizeof ctx, "%s: threads", label);
    pthread_t th[8];
    struct thr ts[8];
    for (int i = 0; i < 8; i++) {
        ts[i] = (struct thr){i, 0};
        pthread_create(&th[i], NULL, thread_main, &ts[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK(ts[i].fails == 0, "thread %d: %d bad reads", i, ts[i].fails);
    }

    /* pinned host destination: straight from storage */
    snprintf(ctx, sizeof ctx, "%s: pinned", label);
    char *pin;
    CUDA_OK(cudaMallocHost((void **)&pin, 4 * M));
    int64_t r = homi_pread(g_f, pin, 4 * M, 1000);
    CHECK(r == (int64_t)(4 * M) && memcmp(pin, g_ref + 1000, 4 * M) == 0, "pinned read: %lld",
          (long long)r);
    homi_read_opts o;
    memset(&o, 0, sizeof o);
    o.mem = HOMI_MEM_DEVICE; /* contradicts the buffer: error */
    CHECK(homi_pread_ex(g_f, pin, 4096, 0, &o) == HOMI_EINVAL, "pinned declared device");
    CUDA_OK(cudaFreeHost(pin));

    /* device buffer declared as host: error */
    o.mem = HOMI_MEM_HOST;
    CHECK(homi_pread_ex(g_f, dev, 4096, 0, &o) == HOMI_EINVAL, "device declared host");

    /* freed device buffer and a wild pointer: an error, no crash */
    snprintf(ctx, sizeof ctx, "%s: invalid buffers", label);
    char *gone;
    CUDA_OK(cudaMalloc((void **)&gone, 4 * M));
    CUDA_OK(cudaFree(gone));
    r = homi_pread(g_f, gone, 4 * M, 0);
    CHECK(r < 0, "read into a freed device buffer returned %lld", (long long)r);
    r = homi_pread(g_f, (void *)(uintptr_t)0x10, 4096, 0);
    CHECK(r < 0, "read into a wild pointer returned %lld", (long long)r);
    printf("  invalid buffers: freed -> %s\n", homi_strerror((int)homi_pread(g_f, gone, 4096, 0)));

    CUDA_OK(cudaFree(dev));
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0 || !homi_cuda_available()) {
        printf("SKIP: no CUDA device (%s)\n", e ? cudaGetErrorString(e) : "0 devices");
        return 77;
    }
    struct cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    printf("test_gpu_read: %s, %d device(s)\n", p.name, n);
    t_rng_state = t_seed_from_env(0x60A1);
    const char *dir = t_make_tmpdir("gpu");
    make_file(dir);

    const char *variants[][2] = {{"buffered", "off"}, {"direct", "on"}};
    for (int v = 0; v < 2; v++) {
        homi_config *cfg = t_config("homi_direct", variants[v][1], "homi_chunk_size", "256K",
                                    "homi_staging_size", "1M", "homi_staging_buffers", "6", NULL);
        REQUIRE(homi_engine_create(cfg, &g_eng) == HOMI_OK, "engine");
        homi_config_free(cfg);
        REQUIRE(homi_open(g_eng, g_path, HOMI_RDONLY, &g_f) == HOMI_OK, "open");
        run_suite(variants[v][0]);
        homi_stats st;
        homi_file_stats(g_f, &st);
        printf("%s: cuFile %s\n", variants[v][0], homi_cufile_status(g_eng));
        homi_stats_print(&st, 0, stdout);
        CHECK(st.path[HOMI_PATH_KERNEL].bytes > 0, "kernel path served device reads");
        CHECK(st.path[HOMI_PATH_HOLE].bytes > 0, "holes served without I/O");
        homi_close(g_f);
        homi_engine_destroy(g_eng);
    }

    /* cuFile forced: right bytes whether it runs or falls back (counted) */
    t_context = "cufile";
    homi_config *cfg = t_config("homi_path", "cufile", NULL);
    REQUIRE(homi_engine_create(cfg, &g_eng) == HOMI_OK, "engine (cufile)");
    homi_config_free(cfg);
    REQUIRE(homi_open(g_eng, g_path, HOMI_RDONLY, &g_f) == HOMI_OK, "open");
    char *dev;
    CUDA_OK(cudaMalloc((void **)&dev, 16 * M + 8192));
    for (int i = 0; i < 20; i++)
        one_read("cufile", dev, 0, t_below(g_size), t_below(16 * M) + 1);
    homi_stats st;
    homi_file_stats(g_f, &st);
    printf("cufile forced: status %s, cufile bytes %llu, path-unavailable fallbacks %llu\n",
           homi_cufile_status(g_eng), (unsigned long long)st.path[HOMI_PATH_CUFILE].bytes,
           (unsigned long long)st.fallbacks[HOMI_FB_PATH_UNAVAILABLE]);
    if (strcmp(homi_cufile_status(g_eng), "unavailable") == 0)
        CHECK(st.fallbacks[HOMI_FB_PATH_UNAVAILABLE] > 0, "fallback from cufile counted");
    cudaFree(dev);
    homi_close(g_f);
    homi_engine_destroy(g_eng);

    free(g_ref);
    return t_finish("test_gpu_read");
}
