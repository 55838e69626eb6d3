// test_devq.cu - the device-initiated path (homi_cuda.h) on a real GPU:
// 10^6 random reads of 512 B to 1 MiB issued by ~100k GPU threads, every
// byte verified on the device against the file's pattern; per-warp
// (coalesced) and per-block reads; out-of-range, past-EOF, revoked and
// unknown capabilities completing with error codes while good reads go
// on; a paused service giving timeouts, then recovering.  Exits 77
// without a GPU.
#include <cuda_runtime.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "homi.h"
#include "homi_cuda.h"

#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int failures;
#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #c);                           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

__host__ __device__ static inline uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* The file's byte at offset x. */
__host__ __device__ static inline uint8_t pat(uint64_t x)
{
    return (uint8_t)(mix(x >> 3) >> (8 * (x & 7)));
}

struct counters {
    unsigned long long ops, bytes, bad_bytes, bad_result, errors[16];
};

__device__ static uint64_t rnd(uint64_t *s)
{
    *s = mix(*s);
    return *s;
}

__device__ static void verify(counters *c, const uint8_t *buf, int64_t got, int64_t want,
                              int64_t off)
{
    atomicAdd(&c->ops, 1ull);
    if (got != want) {
        atomicAdd(&c->bad_result, 1ull);
        if (got < 0) atomicAdd(&c->errors[(-got) & 15], 1ull);
        return;
    }
    unsigned long long bad = 0;
    /* __ldcg: data the host's copy engine wrote is not in this SM's L1 */
    for (int64_t k = 0; k < got; k++)
        bad += __ldcg(buf + k) != pat((uint64_t)(off + k));
    if (bad) atomicAdd(&c->bad_bytes, bad);
    atomicAdd(&c->bytes, (unsigned long long)got);
}

#define SMALL (64u << 10)
#define BIG (1u << 20)
#define SLACK 16u

/* R random reads per thread; threads below nbig may read up to 1 MiB. */
__global__ void k_random(homi_devq_dev *q, homi_dev_file f, uint8_t *bufs, uint64_t size, int R,
                         unsigned nbig, counters *c, uint64_t seed)
{
    const uint64_t gid = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    uint8_t *buf = gid < nbig
                       ? bufs + gid * (BIG + SLACK)
                       : bufs + nbig * (uint64_t)(BIG + SLACK) + (gid - nbig) * (SMALL + SLACK);
    uint64_t s = seed ^ (gid * 0x9e3779b97f4a7c15ull);
    for (int i = 0; i < R; i++) {
        uint64_t r = rnd(&s) % 100, len;
        if (r < 90)
            len = 512 + rnd(&s) % (4096 - 512 + 1);
        else if (r < 99 || gid >= nbig)
            len = 4097 + rnd(&s) % (SMALL - 4097 + 1);
        else
            len = SMALL + 1 + rnd(&s) % (BIG - SMALL);
        int64_t off, want = (int64_t)len;
        if (rnd(&s) % 50 == 0) { /* crosses the end of the file */
            off = (int64_t)(size - 1 - rnd(&s) % (len > 1 ? len - 1 : 1));
            want = (int64_t)size - off;
        } else {
            off = (int64_t)(rnd(&s) % (size - len + 1));
        }
        uint8_t *dst = buf + rnd(&s) % 3; /* unaligned destinations too */
        int64_t got = homi_dev_read(q, f, dst, len, off);
        verify(c, dst, got, want, off);
    }
}

/* Each warp: 32 adjacent 4 KiB records into adjacent destinations (one
 * coalesced request per warp), then 32 scattered 1000-byte reads. */
__global__ void k_warp(homi_devq_dev *q, homi_dev_file f, uint8_t *bufs, uint64_t size, counters *c,
                       uint64_t seed)
{
    const uint64_t gid = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    const uint64_t warp = gid / 32, lane = gid % 32;
    uint64_t s = seed ^ (warp * 0x9e3779b97f4a7c15ull);
    uint64_t base = (rnd(&s) % (size / 4096 - 32)) * 4096 + 7; /* unaligned run */
    uint8_t *dst = bufs + gid * 4096;
    int64_t off = (int64_t)(base + lane * 4096);
    int64_t got = homi_dev_read_warp(q, f, dst, 4096, off);
    verify(c, dst, got, 4096, off);
    uint64_t s2 = seed ^ (gid * 0x51ed27ull);
    off = (int64_t)(rnd(&s2) % (size - 1000));
    got = homi_dev_read_warp(q, f, dst, 1000, off);
    verify(c, dst, got, 1000, off);
}

/* Each block: one 32 KiB read (staged, copied by all threads) and one
 * 256 KiB read (straight into device memory). */
__global__ void k_block(homi_devq_dev *q, homi_dev_file f, uint8_t *bufs, uint64_t size,
                        counters *c, uint64_t seed)
{
    uint64_t s = seed ^ (blockIdx.x * 0x9e3779b97f4a7c15ull);
    uint8_t *dst = bufs + blockIdx.x * (uint64_t)(256 << 10);
    int64_t off = (int64_t)(rnd(&s) % (size - (32 << 10)));
    int64_t got = homi_dev_read_block(q, f, dst, 32 << 10, off);
    if (threadIdx.x == 0) verify(c, dst, got, 32 << 10, off);
    off = (int64_t)(rnd(&s) % (size - (256 << 10)));
    got = homi_dev_read_block(q, f, dst, 256 << 10, off);
    if (threadIdx.x == 0) verify(c, dst, got, 256 << 10, off);
}

/* Bad requests among good ones: each thread's kind is gid % 8. */
__global__ void k_errors(homi_devq_dev *q, homi_dev_file f, homi_dev_file revoked, uint8_t *bufs,
                         uint64_t size, int64_t *results, counters *c)
{
    const uint64_t gid = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    uint8_t *dst = bufs + gid * 8192;
    int64_t r;
    switch (gid % 8) {
    case 0: r = homi_dev_read(q, f, dst, 4096, -5); break;                    /* EINVAL */
    case 1: r = homi_dev_read(q, f, dst, 1ull << 40, 0); break;               /* ERANGE */
    case 2: r = homi_dev_read(q, f, dst, 4096, (int64_t)size + 10); break;    /* ERANGE */
    case 3: r = homi_dev_read(q, revoked, dst, 4096, 0); break;               /* EBADF */
    case 4: r = homi_dev_read(q, 0xdeadbeef00000007ull, dst, 4096, 0); break; /* EBADF */
    case 5: r = homi_dev_read(q, f, nullptr, 4096, 0); break;                 /* EINVAL */
    default: {
        int64_t off = (int64_t)((gid * 7919) % (size - 8192));
        r = homi_dev_read(q, f, dst, 8192, off);
        verify(c, dst, r, 8192, off);
    }
    }
    results[gid] = r;
}

__global__ void k_simple(homi_devq_dev *q, homi_dev_file f, uint8_t *bufs, uint64_t size,
                         int64_t *results, counters *c, int check)
{
    const uint64_t gid = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    uint8_t *dst = bufs + gid * 4096;
    int64_t off = (int64_t)((gid * 104729) % (size - 4096));
    int64_t r = homi_dev_read(q, f, dst, 4096, off);
    results[gid] = r;
    if (check) verify(c, dst, r, 4096, off);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static counters run_counters(counters *d)
{
    counters h;
    CK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
    CK(cudaMemset(d, 0, sizeof h));
    return h;
}

static void report(const char *what, const counters &h, unsigned long long want_ops, double t)
{
    printf(
        "%-28s %9llu reads %12llu bytes %8.3f s %10.0f reads/s  bad bytes %llu, bad results %llu\n",
        what, h.ops, h.bytes, t, h.ops / t, h.bad_bytes, h.bad_result);
    for (int e = 1; e < 16; e++)
        if (h.errors[e]) printf("    error -%d: %llu\n", e, h.errors[e]);
    CHECK(h.ops == want_ops, "%s: %llu reads, expected %llu", what, h.ops, want_ops);
    CHECK(h.bad_bytes == 0 && h.bad_result == 0, "%s: mismatches", what);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int ndev = 0;
    if (!homi_cuda_available() || cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1) {
        printf("SKIP: no CUDA GPU\n");
        return 77;
    }
    const char *dir = getenv("HOMI_TEST_DIR");
    if (!dir) dir = getenv("TMPDIR");
    if (!dir) dir = "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/homi-devq-%d.dat", dir, (int)getpid());
    const uint64_t size = (1ull << 30) + 12345;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    {
        const size_t chunk = 64u << 20;
        uint8_t *b = (uint8_t *)malloc(chunk);
        for (uint64_t o = 0; o < size; o += chunk) {
            size_t n = size - o < chunk ? size - o : chunk;
            for (size_t k = 0; k < n; k++)
                b[k] = pat(o + k);
            if (pwrite(fd, b, n, (off_t)o) != (ssize_t)n) {
                perror("pwrite");
                return 1;
            }
        }
        free(b);
    }
    homi_engine *eng;
    CHECK(homi_engine_create(NULL, &eng) == 0, "engine");
    homi_file *hf;
    CHECK(homi_open(eng, path, HOMI_RDONLY, &hf) == 0, "open");
    homi_devq *q;
    int rc = homi_devq_create(eng, 0, NULL, &q);
    if (rc) {
        fprintf(stderr, "homi_devq_create: %s\n", homi_strerror(rc));
        return 1;
    }
    homi_devq_dev *dq = homi_devq_device(q);
    /* a queue served by homid (homi_devq_daemon, the process is homid's
     * client) has no service of this process to pause */
    const int remote = homi_devq_pause(q, 0) == HOMI_ENOTSUP;
    printf("queue served %s\n", remote ? "by homid" : "in-process");
    if (getenv("HOMI_TEST_DEVQ_HOMID"))
        CHECK(remote == (atoi(getenv("HOMI_TEST_DEVQ_HOMID")) != 0),
              "HOMI_TEST_DEVQ_HOMID=%s but the queue is served %s", getenv("HOMI_TEST_DEVQ_HOMID"),
              remote ? "by homid" : "in-process");
    homi_dev_file f, revoked;
    CHECK(homi_devq_export(q, hf, &f) == 0, "export");
    CHECK(homi_devq_export(q, hf, &revoked) == 0, "export 2");
    CHECK(homi_devq_revoke(q, revoked) == 0, "revoke");
    CHECK(homi_devq_revoke(q, revoked) == HOMI_EBADF, "double revoke");

    const unsigned blocks = 392, threads = 256, nbig = 2048;
    const unsigned nt = blocks * threads;
    const int R = 10;
    size_t bufsz = (size_t)nbig * (BIG + SLACK) + (size_t)(nt - nbig) * (SMALL + SLACK);
    uint8_t *bufs;
    counters *dc;
    int64_t *dres;
    CK(cudaMalloc(&bufs, bufsz));
    CK(cudaMalloc(&dc, sizeof(counters)));
    CK(cudaMemset(dc, 0, sizeof(counters)));
    CK(cudaMalloc(&dres, nt * sizeof(int64_t)));

    printf("file %llu bytes; %u threads x %d reads\n", (unsigned long long)size, nt, R);
    double t0 = now_s();
    k_random<<<blocks, threads>>>(dq, f, bufs, size, R, nbig, dc, 20261125);
    CK(cudaDeviceSynchronize());
    report("random 512B-1MiB, per thread", run_counters(dc), (unsigned long long)nt * R,
           now_s() - t0);

    t0 = now_s();
    k_warp<<<1024, 256>>>(dq, f, bufs, size, dc, 7);
    CK(cudaDeviceSynchronize());
    homi_devq_stats st0, st1;
    homi_devq_stats_get(q, &st0);
    report("per warp (coalesced)", run_counters(dc), 2ull * 1024 * 256, now_s() - t0);

    t0 = now_s();
    k_block<<<2048, 256>>>(dq, f, bufs, size, dc, 9);
    CK(cudaDeviceSynchronize());
    report("per block", run_counters(dc), 2ull * 2048, now_s() - t0);

    /* errors */
    k_errors<<<64, 256>>>(dq, f, revoked, bufs, size, dres, dc);
    CK(cudaDeviceSynchronize());
    {
        int64_t *h = (int64_t *)malloc(64 * 256 * sizeof(int64_t));
        CK(cudaMemcpy(h, dres, 64 * 256 * sizeof(int64_t), cudaMemcpyDeviceToHost));
        const int64_t want[6] = {HOMI_EINVAL, HOMI_ERANGE, HOMI_ERANGE,
                                 HOMI_EBADF,  HOMI_EBADF,  HOMI_EINVAL};
        int bad = 0;
        for (int i = 0; i < 64 * 256; i++)
            if (i % 8 < 6 && h[i] != want[i % 8] && bad++ < 5)
                fprintf(stderr, "error case %d: got %lld want %lld\n", i % 8, (long long)h[i],
                        (long long)want[i % 8]);
        CHECK(bad == 0, "%d bad requests got the wrong result", bad);
        printf(
            "error requests: %d wrong results (EINVAL, ERANGE, past-EOF, revoked, unknown, NULL)\n",
            bad);
        free(h);
    }
    report("good reads among bad ones", run_counters(dc), 64ull * 256 * 2 / 8, 1);

    /* timeouts: a queue whose service is paused */
    homi_devq_config tc = {};
    tc.slots = 64;
    tc.timeout_ms = 300;
    homi_devq *tq;
    CHECK(homi_devq_create(eng, 0, &tc, &tq) == 0, "timeout queue");
    homi_dev_file tf;
    homi_devq_export(tq, hf, &tf);
    double tt = 0;
    if (remote) {
        printf("paused service: not tested (homid's threads serve the queue)\n");
    } else {
        homi_devq_pause(tq, 1);
        t0 = now_s();
        k_simple<<<1, 128>>>(homi_devq_device(tq), tf, bufs, size, dres, dc, 0);
        CK(cudaDeviceSynchronize());
        tt = now_s() - t0;
    }
    if (!remote) {
        int64_t h[128];
        CK(cudaMemcpy(h, dres, sizeof h, cudaMemcpyDeviceToHost));
        int to = 0;
        for (int i = 0; i < 128; i++)
            to += h[i] == HOMI_ETIMEDOUT;
        printf("paused service: %d/128 reads timed out after %.2f s\n", to, tt);
        CHECK(to == 128, "expected 128 timeouts, got %d", to);
    }
    homi_devq_pause(tq, 0);
    run_counters(dc);
    k_simple<<<4, 128>>>(homi_devq_device(tq), tf, bufs, size, dres, dc, 1);
    CK(cudaDeviceSynchronize());
    report("after resume (same queue)", run_counters(dc), 512, 1);
    homi_devq_destroy(tq);

    homi_devq_stats_get(q, &st1);
    printf("queue: %llu requests, %llu bytes, %llu errors, %llu staged in the queue, %llu direct, "
           "%llu batches (max %llu), %llu requests seen before their fields\n",
           (unsigned long long)st1.requests, (unsigned long long)st1.bytes,
           (unsigned long long)st1.errors, (unsigned long long)st1.inline_reqs,
           (unsigned long long)st1.direct_reqs, (unsigned long long)st1.batches,
           (unsigned long long)st1.max_batch, (unsigned long long)st1.torn);
    CHECK(st0.requests < (unsigned long long)nt * R + 2ull * 1024 * 256,
          "warp reads not coalesced");
    homi_stats es;
    homi_engine_stats(eng, &es);
    homi_stats_print(&es, 0, stdout);
    homi_devq_destroy(q);
    homi_close(hf);
    homi_engine_destroy(eng);
    cudaFree(bufs);
    unlink(path);
    printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
