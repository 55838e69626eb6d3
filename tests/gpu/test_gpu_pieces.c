/* test_gpu_pieces.c - homi_read_pieces into CUDA device memory: random
 * piece lists (tiny, medium and large pieces, unsorted, overlapping in the
 * file, across a hole, past the end of the file with and without
 * HOMI_PIECES_ZERO_EOF), regular strides of 10^6 16-byte pieces, and a
 * file that shrinks under the open handle; every destination byte is
 * compared with pread of the same pieces into host memory, and bytes
 * outside the pieces must stay untouched.  A freed device buffer gives an
 * error, not a crash.  Exits 77 without a GPU. */
#include <cuda_runtime_api.h>

#include "homi_test.h"

#define K 1024ull
#define M (1024ull * 1024ull)

#define CUDA_OK(x)                                                                                 \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        REQUIRE(e_ == cudaSuccess, "%s: %s", #x, cudaGetErrorString(e_));                          \
    } while (0)

static char *g_dev;
static size_t g_devlen;

/* Lay the pieces out in the device buffer (dense or with gaps), read them,
 * compare with pread into host memory. */
static void one_case(homi_file *f, int fd, homi_piece *p, size_t n, unsigned flags, int dense,
                     const char *what)
{
    t_context = what;
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0, "fstat");
    uint64_t fsize = (uint64_t)st.st_size;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        p[i].buf = g_dev + at;
        at += p[i].len + (dense ? 0 : i % 5);
    }
    size_t dlen = at + 4096;
    REQUIRE(dlen <= g_devlen, "device buffer too small for %s", what);
    unsigned char *ref = malloc(dlen), *got = malloc(dlen);
    REQUIRE(ref && got, "malloc");
    memset(ref, 0xEE, dlen);
    uint64_t want = 0;
    for (size_t i = 0; i < n; i++) {
        size_t o = (size_t)((char *)p[i].buf - g_dev);
        uint64_t off = (uint64_t)p[i].offset;
        uint64_t valid = off >= fsize ? 0 : (fsize - off < p[i].len ? fsize - off : p[i].len);
        if (valid) REQUIRE(t_pread_ref(fd, ref + o, valid, (off_t)off) == (ssize_t)valid, "pread");
        if (flags & HOMI_PIECES_ZERO_EOF) memset(ref + o + valid, 0, p[i].len - valid);
        want += valid;
    }
    CUDA_OK(cudaMemset(g_dev, 0xEE, dlen));
    int64_t r = homi_read_pieces(f, p, n, HOMI_MEM_AUTO, flags);
    CHECK(r == (int64_t)want, "homi_read_pieces = %" PRId64 " (%s), want %" PRIu64, r,
          r < 0 ? homi_strerror((int)r) : "bytes", want);
    CUDA_OK(cudaMemcpy(got, g_dev, dlen, cudaMemcpyDeviceToHost));
    long long d = t_first_diff(got, ref, dlen);
    if (d >= 0) T_FAIL("%s: first wrong device byte at %lld of %zu", what, d, dlen);
    printf("  %-34s %8zu pieces, %10" PRIu64 " bytes: %s\n", what, n, want,
           d < 0 && r == (int64_t)want ? "equal" : "DIFFERENT");
    free(ref);
    free(got);
    t_bail_if_many();
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0 || !homi_cuda_available()) {
        printf("SKIP: no usable CUDA device (or libhomi built without CUDA)\n");
        return 77;
    }
    t_seed_from_env(2526);
    const char *dir = t_make_tmpdir("gpupieces");
    char path[4200];
    t_path(path, sizeof path, dir, "pieces");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0, "create");
    const uint64_t fsize = 48 * M + 4321;
    unsigned char *data = malloc(fsize);
    REQUIRE(data, "malloc");
    t_fill_random(data, fsize);
    t_pwrite_all(fd, data, 20 * M, 0); /* 20..26 MiB stays a hole */
    t_pwrite_all(fd, data + 26 * M, fsize - 26 * M, 26 * M);
    free(data);

    g_devlen = 512 * M;
    CUDA_OK(cudaMalloc((void **)&g_dev, g_devlen));
    homi_config *cfg = t_config("homi_staging_size", "2M", NULL);
    homi_engine *eng;
    REQUIRE(homi_engine_create(cfg, &eng) == HOMI_OK, "engine");
    homi_config_free(cfg);
    homi_file *f;
    REQUIRE(homi_open(eng, path, HOMI_RDONLY, &f) == HOMI_OK, "open");

    size_t cap = 1000000;
    homi_piece *p = calloc(cap, sizeof *p);
    REQUIRE(p, "calloc");
    for (int round = 0; round < 10; round++) {
        size_t n = 1 + (size_t)t_below(round < 5 ? 300 : 4000);
        for (size_t i = 0; i < n; i++) {
            p[i].offset = (int64_t)t_below(fsize + 2 * M);
            uint64_t c = t_below(100);
            p[i].len = c == 0 ? t_below(4 * M) : c < 10 ? t_below(300 * K) : t_below(64);
        }
        char what[64];
        snprintf(what, sizeof what, "random round %d%s", round, round & 1 ? ", zero past EOF" : "");
        one_case(f, fd, p, n, round & 1 ? HOMI_PIECES_ZERO_EOF : 0, round & 2, what);
    }
    for (size_t i = 0; i < cap; i++) {
        p[i].offset = (int64_t)(i * 40 + 3);
        p[i].len = 16;
    }
    one_case(f, fd, p, cap, 0, 1, "10^6 x 16 B, stride 40, dense");
    one_case(f, fd, p, cap / 4, HOMI_PIECES_ZERO_EOF, 0, "2.5x10^5 x 16 B, gaps in memory");
    for (size_t i = 0; i < 20000; i++) {
        p[i].offset = (int64_t)(t_below(fsize / 1024) * 1024);
        p[i].len = 1024;
    }
    one_case(f, fd, p, 20000, 0, 1, "20000 x 1 KiB, random");
    p[0] = (homi_piece){.offset = (int64_t)fsize - 7, .len = 7};
    p[1] = (homi_piece){.offset = (int64_t)fsize + 5, .len = 9};
    p[2] = (homi_piece){.offset = (int64_t)fsize - 3 * M, .len = 5 * M};
    one_case(f, fd, p, 3, HOMI_PIECES_ZERO_EOF, 0, "at EOF");

    REQUIRE(ftruncate(fd, (off_t)(40 * M + 11)) == 0, "truncate");
    for (size_t i = 0; i < 5000; i++) {
        p[i].offset = (int64_t)(38 * M + t_below(6 * M));
        p[i].len = 1 + t_below(t_below(10) ? 2 * K : 1500 * K);
    }
    one_case(f, fd, p, 5000, HOMI_PIECES_ZERO_EOF, 0, "after the file shrank");

    homi_stats st;
    CHECK_RC(homi_file_stats(f, &st), HOMI_OK);
    CHECK(st.staged_bytes > 0, "staged bytes counted");
    homi_stats_print(&st, 1.0, stdout);

    t_context = "freed buffer";
    CUDA_OK(cudaFree(g_dev));
    homi_piece one = {.offset = 0, .len = 4096, .buf = g_dev};
    int64_t r = homi_read_pieces(f, &one, 1, HOMI_MEM_AUTO, 0);
    CHECK(r < 0, "read into freed device memory returned %" PRId64, r);
    homi_close(f);
    homi_engine_destroy(eng);
    close(fd);
    free(p);
    return t_finish("test_gpu_pieces");
}
