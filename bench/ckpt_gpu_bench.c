/* ckpt_gpu_bench.c - checkpoint of a CUDA device buffer to a file (issue
 * 22), every method in one run, on one file system:
 *
 *   ceiling  d2h            cudaMemcpy device -> pinned host (no file)
 *   ceiling  write-buffered pwrite(2) from pinned memory, page cache
 *   ceiling  write-direct   O_DIRECT pwrite(2) from pinned memory, T threads
 *   naive    memcpy+pwrite  cudaMemcpy to pageable memory, then pwrite (per block)
 *   cufile   cuFileWrite    libcufile (dlopen; GDS or compat mode as found)
 *   homi     sync / async   homi_pwrite / homi_submit(HOMI_IO_WRITE), buffered and O_DIRECT
 *
 * Each file-writing run starts from an empty file (O_TRUNC) and ends when
 * the call returns (no fsync: the ceilings are measured the same way); the
 * HOMI rows are checked byte for byte once (file read back against the
 * device buffer's bytes).  Prints a table, writes a CSV (--csv), and the
 * acceptance lines (targets of the issue).
 *
 *   ckpt-gpu-bench [--file PATH] [--size 8G] [--block 64M] [--iters 2]
 *                  [--threads 4] [--csv OUT.csv] [--no-verify]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "homi.h"

#define CUDA_OK(x)                                                                                 \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_));                               \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

static const char *g_file = "/var/tmp/homi-ckpt.bin";
static uint64_t g_size = 8ull << 30, g_block = 64ull << 20;
static int g_iters = 2, g_threads = 4, g_verify = 1;
static char *g_dev;    /* the device buffer (the state to checkpoint) */
static char *g_pinned; /* pinned staging for the ceilings, g_block * g_threads */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t parse_size(const char *s)
{
    char *e;
    double v = strtod(s, &e);
    switch (*e) {
    case 'k':
    case 'K': v *= 1024; break;
    case 'm':
    case 'M': v *= 1048576; break;
    case 'g':
    case 'G': v *= 1073741824.0; break;
    case 't':
    case 'T': v *= 1099511627776.0; break;
    default: break;
    }
    return (uint64_t)v;
}

static int open_trunc(int direct)
{
    int fd = open(g_file, O_RDWR | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0644);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", g_file, strerror(errno));
        exit(2);
    }
    return fd;
}

static int write_all(int fd, const char *p, uint64_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "pwrite at %" PRIu64 ": %s\n", off, strerror(errno));
            return -1;
        }
        p += w;
        n -= (uint64_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* ---- the methods: each returns seconds, or < 0 when not available */

static double m_d2h(char *why)
{
    (void)why;
    double t0 = now();
    for (uint64_t o = 0; o < g_size; o += g_block) {
        uint64_t n = g_size - o < g_block ? g_size - o : g_block;
        CUDA_OK(cudaMemcpy(g_pinned, g_dev + o, n, cudaMemcpyDeviceToHost));
    }
    return now() - t0;
}

static double m_write_buffered(char *why)
{
    (void)why;
    int fd = open_trunc(0);
    double t0 = now();
    for (uint64_t o = 0; o < g_size; o += g_block) {
        uint64_t n = g_size - o < g_block ? g_size - o : g_block;
        if (write_all(fd, g_pinned, n, o)) exit(2);
    }
    double t = now() - t0;
    close(fd);
    return t;
}

struct dw {
    int fd, k;
};

static void *direct_worker(void *arg)
{
    struct dw *d = arg;
    char *buf = g_pinned + (size_t)d->k * g_block;
    for (uint64_t o = (uint64_t)d->k * g_block; o < g_size; o += (uint64_t)g_threads * g_block) {
        uint64_t n = g_size - o < g_block ? g_size - o : g_block;
        if (write_all(d->fd, buf, n, o)) exit(2);
    }
    return NULL;
}

static double m_write_direct(char *why)
{
    int fd = open(g_file, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
    if (fd < 0) {
        snprintf(why, 200, "O_DIRECT: %s", strerror(errno));
        return -1;
    }
    pthread_t th[64];
    struct dw d[64];
    double t0 = now();
    for (int k = 0; k < g_threads; k++) {
        d[k] = (struct dw){fd, k};
        pthread_create(&th[k], NULL, direct_worker, &d[k]);
    }
    for (int k = 0; k < g_threads; k++)
        pthread_join(th[k], NULL);
    double t = now() - t0;
    close(fd);
    return t;
}

static double m_naive(char *why)
{
    (void)why;
    char *page = malloc(g_block);
    if (!page) exit(2);
    memset(page, 0, g_block);
    int fd = open_trunc(0);
    double t0 = now();
    for (uint64_t o = 0; o < g_size; o += g_block) {
        uint64_t n = g_size - o < g_block ? g_size - o : g_block;
        CUDA_OK(cudaMemcpy(page, g_dev + o, n, cudaMemcpyDeviceToHost));
        if (write_all(fd, page, n, o)) exit(2);
    }
    double t = now() - t0;
    close(fd);
    free(page);
    return t;
}

/* cuFile, loaded at run time */
typedef struct {
    int err, cu_err;
} cf_error;
typedef struct {
    int type;
    union {
        int fd;
        void *handle;
    } handle;
    const void *fs_ops;
} cf_descr;
static struct {
    void *h;
    int ok, gds;
    cf_error (*open)(void);
    cf_error (*reg)(void **, cf_descr *);
    void (*dereg)(void *);
    ssize_t (*write)(void *, const void *, size_t, off_t, off_t);
    char why[300];
} cf;

static void cufile_init(void)
{
    const char *env = getenv("HOMI_CUFILE_LIB");
    const char *names[] = {env, "libcufile.so", "libcufile.so.0", "libcufile.so.1"};
    for (size_t i = 0; i < 4 && !cf.h; i++)
        if (names[i] && *names[i]) cf.h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!cf.h) {
        snprintf(cf.why, sizeof cf.why, "libcufile not found (set HOMI_CUFILE_LIB)");
        return;
    }
    *(void **)&cf.open = dlsym(cf.h, "cuFileDriverOpen");
    *(void **)&cf.reg = dlsym(cf.h, "cuFileHandleRegister");
    *(void **)&cf.dereg = dlsym(cf.h, "cuFileHandleDeregister");
    *(void **)&cf.write = dlsym(cf.h, "cuFileWrite");
    if (!cf.open || !cf.reg || !cf.dereg || !cf.write) {
        snprintf(cf.why, sizeof cf.why, "libcufile lacks the cuFile symbols");
        return;
    }
    cf_error e = cf.open();
    if (e.err && e.err != 5026) {
        snprintf(cf.why, sizeof cf.why, "cuFileDriverOpen: error %d", e.err);
        return;
    }
    cf.gds = access("/proc/driver/nvidia-fs/version", F_OK) == 0;
    cf.ok = 1;
}

static double m_cufile(char *why)
{
    if (!cf.ok) {
        snprintf(why, 200, "%s", cf.why);
        return -1;
    }
    int fd = open(g_file, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
    if (fd < 0) fd = open_trunc(0);
    cf_descr d;
    memset(&d, 0, sizeof d);
    d.type = 1;
    d.handle.fd = fd;
    void *h = NULL;
    cf_error e = cf.reg(&h, &d);
    if (e.err) {
        snprintf(why, 200, "cuFileHandleRegister: error %d", e.err);
        close(fd);
        return -1;
    }
    double t0 = now();
    for (uint64_t o = 0; o < g_size; o += g_block) {
        uint64_t n = g_size - o < g_block ? g_size - o : g_block;
        ssize_t w = cf.write(h, g_dev, n, (off_t)o, (off_t)o);
        if (w != (ssize_t)n) {
            snprintf(why, 200, "cuFileWrite at %" PRIu64 ": %zd", o, w);
            cf.dereg(h);
            close(fd);
            return -1;
        }
    }
    double t = now() - t0;
    cf.dereg(h);
    close(fd);
    return t;
}

/* HOMI: one engine per mode (buffered / O_DIRECT) */
static homi_engine *g_eng[2];

static homi_engine *engine(int direct)
{
    if (g_eng[direct]) return g_eng[direct];
    homi_config *cfg = homi_config_new();
    homi_config_load_env(cfg); /* HOMI_* overrides */
    homi_config_set(cfg, "homi_direct", direct ? "on" : "off");
    if (homi_engine_create(cfg, &g_eng[direct])) exit(2);
    homi_config_free(cfg);
    return g_eng[direct];
}

static double m_homi(int direct, int async, char *why)
{
    homi_engine *eng = engine(direct);
    homi_file *f;
    int rc = homi_open(eng, g_file, HOMI_RDWR | HOMI_CREATE | HOMI_TRUNC, &f);
    if (rc) {
        snprintf(why, 200, "homi_open: %s", homi_strerror(rc));
        return -1;
    }
    double t0 = now();
    if (!async) {
        int64_t r = homi_pwrite(f, g_dev, g_size, 0);
        if (r != (int64_t)g_size) {
            snprintf(why, 200, "homi_pwrite: %lld (%s)", (long long)r,
                     r < 0 ? homi_strerror((int)r) : "short");
            homi_close(f);
            return -1;
        }
    } else {
        /* 8 requests in flight (1 GiB each for 8 GiB) */
        enum { N = 8 };
        homi_io io[N];
        uint64_t per = (g_size / N + 4095) / 4096 * 4096;
        unsigned n = 0;
        for (uint64_t o = 0; o < g_size && n < N; o += per, n++)
            io[n] = (homi_io){.file = f,
                              .buf = g_dev + o,
                              .len = g_size - o < per ? g_size - o : per,
                              .offset = (int64_t)o,
                              .user_data = n,
                              .opts = {.mem = HOMI_MEM_DEVICE, .flags = HOMI_IO_WRITE}};
        if (homi_submit(eng, io, n) != (int)n) exit(2);
        homi_completion c[N];
        unsigned got = 0;
        while (got < n) {
            int k = homi_wait(eng, c + got, 1, n - got, -1);
            if (k <= 0) exit(2);
            got += (unsigned)k;
        }
        for (unsigned i = 0; i < n; i++)
            if (c[i].result != (int64_t)io[c[i].user_data].len) {
                snprintf(why, 200, "async write %llu: %lld", (unsigned long long)c[i].user_data,
                         (long long)c[i].result);
                homi_close(f);
                return -1;
            }
    }
    double t = now() - t0;
    homi_close(f);
    return t;
}
static double m_homi_sb(char *w)
{
    return m_homi(0, 0, w);
}
static double m_homi_ab(char *w)
{
    return m_homi(0, 1, w);
}
static double m_homi_sd(char *w)
{
    return m_homi(1, 0, w);
}
static double m_homi_ad(char *w)
{
    return m_homi(1, 1, w);
}

/* the file must hold the device buffer's bytes */
static int verify(const char *what)
{
    int fd = open(g_file, O_RDONLY);
    char *a = malloc(g_block), *b = malloc(g_block);
    if (fd < 0 || !a || !b) exit(2);
    int ok = 1;
    for (uint64_t o = 0; o < g_size && ok; o += g_block) {
        uint64_t n = g_size - o < g_block ? g_size - o : g_block;
        CUDA_OK(cudaMemcpy(a, g_dev + o, n, cudaMemcpyDeviceToHost));
        uint64_t got = 0;
        while (got < n) {
            ssize_t r = pread(fd, b + got, n - got, (off_t)(o + got));
            if (r <= 0) break;
            got += (uint64_t)r;
        }
        if (got != n || memcmp(a, b, n)) {
            printf("verify %s: MISMATCH in block at %" PRIu64 "\n", what, o);
            ok = 0;
        }
    }
    if (ok) printf("verify %s: %" PRIu64 " bytes identical\n", what, g_size);
    close(fd);
    free(a);
    free(b);
    return ok;
}

struct method {
    const char *kind, *name;
    double (*fn)(char *why);
    int homi;
    double best, mean;
    int na;
    char why[256];
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *csv = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            g_file = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            g_size = parse_size(argv[++i]);
        else if (!strcmp(argv[i], "--block") && i + 1 < argc)
            g_block = parse_size(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            g_iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            g_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csv = argv[++i];
        else if (!strcmp(argv[i], "--no-verify"))
            g_verify = 0;
        else {
            fprintf(stderr,
                    "usage: %s [--file PATH] [--size 8G] [--block 64M] [--iters 2] "
                    "[--threads 4] [--csv OUT] [--no-verify]\n",
                    argv[0]);
            return 2;
        }
    }
    if (g_threads < 1 || g_threads > 64 || g_iters < 1 || g_block % 4096 || !g_size) return 2;
    if (!homi_cuda_available()) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    struct cudaDeviceProp p;
    CUDA_OK(cudaGetDeviceProperties(&p, 0));
    printf("ckpt-gpu-bench: %s, %.2f GiB device buffer -> %s, block %" PRIu64
           " MiB, %d iterations, %d O_DIRECT threads\n",
           p.name, (double)g_size / (1 << 30), g_file, g_block >> 20, g_iters, g_threads);
    CUDA_OK(cudaMalloc((void **)&g_dev, g_size));
    CUDA_OK(cudaHostAlloc((void **)&g_pinned, g_block * (uint64_t)g_threads, 0));
    { /* the state: a pattern no block repeats */
        char *h = malloc(g_block);
        if (!h) return 2;
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (uint64_t o = 0; o < g_size; o += g_block) {
            uint64_t n = g_size - o < g_block ? g_size - o : g_block;
            for (uint64_t i = 0; i + 8 <= n; i += 8) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                memcpy(h + i, &x, 8);
            }
            CUDA_OK(cudaMemcpy(g_dev + o, h, n, cudaMemcpyHostToDevice));
        }
        memset(g_pinned, 0x5a, g_block * (uint64_t)g_threads);
        free(h);
    }
    cufile_init();
    struct method ms[] = {
        {"ceiling", "d2h (pinned)", m_d2h, 0, 0, 0, 0, ""},
        {"ceiling", "write buffered (pinned)", m_write_buffered, 0, 0, 0, 0, ""},
        {"ceiling", "write O_DIRECT (pinned)", m_write_direct, 0, 0, 0, 0, ""},
        {"baseline", "cudaMemcpy+pwrite", m_naive, 0, 0, 0, 0, ""},
        {"baseline", cf.gds ? "cuFileWrite (gds)" : "cuFileWrite (compat)", m_cufile, 0, 0, 0, 0,
         ""},
        {"homi", "sync buffered", m_homi_sb, 1, 0, 0, 0, ""},
        {"homi", "async buffered", m_homi_ab, 1, 0, 0, 0, ""},
        {"homi", "sync O_DIRECT", m_homi_sd, 2, 0, 0, 0, ""},
        {"homi", "async O_DIRECT", m_homi_ad, 2, 0, 0, 0, ""},
    };
    const int NM = (int)(sizeof ms / sizeof ms[0]);
    int bad = 0;
    for (int it = 0; it < g_iters; it++)
        for (int m = 0; m < NM; m++) {
            if (ms[m].na) continue;
            unlink(g_file); /* the last run's dirty pages go without write-back */
            sync();
            double t = ms[m].fn(ms[m].why);
            if (t < 0) {
                ms[m].na = 1;
                printf("%s %s: n/a (%s)\n", ms[m].kind, ms[m].name, ms[m].why);
                continue;
            }
            double gbs = (double)g_size / t / 1e9;
            printf("  run %d %-8s %-26s %7.2f GB/s (%.2f s)\n", it + 1, ms[m].kind, ms[m].name, gbs,
                   t);
            if (gbs > ms[m].best) ms[m].best = gbs;
            ms[m].mean += gbs / g_iters;
            if (ms[m].homi && it == 0 && g_verify && !verify(ms[m].name)) bad = 1;
        }
    unlink(g_file);

    printf("\n| kind | method | GB/s best | GB/s mean |\n| --- | --- | ---: | ---: |\n");
    for (int m = 0; m < NM; m++)
        if (ms[m].na)
            printf("| %s | %s | n/a | %s |\n", ms[m].kind, ms[m].name, ms[m].why);
        else
            printf("| %s | %s | %.2f | %.2f |\n", ms[m].kind, ms[m].name, ms[m].best, ms[m].mean);
    if (csv) {
        FILE *c = fopen(csv, "w");
        if (c) {
            fprintf(c, "kind,method,size_bytes,block_bytes,iters,gbs_best,gbs_mean,note\n");
            for (int m = 0; m < NM; m++)
                fprintf(c, "%s,%s,%" PRIu64 ",%" PRIu64 ",%d,%.3f,%.3f,%s\n", ms[m].kind,
                        ms[m].name, g_size, g_block, g_iters, ms[m].na ? 0 : ms[m].best,
                        ms[m].na ? 0 : ms[m].mean, ms[m].na ? ms[m].why : "");
            fclose(c);
        }
    }
    /* acceptance (best of the runs) */
    double d2h = ms[0].best, wb = ms[1].best, wd = ms[2].na ? 0 : ms[2].best, naive = ms[3].best,
           cuf = ms[4].na ? 0 : ms[4].best;
    double hb = ms[5].best > ms[6].best ? ms[5].best : ms[6].best;
    double hd = ms[7].best > ms[8].best ? ms[7].best : ms[8].best;
    double hbest = hb > hd ? hb : hd;
    double lim = d2h < wb ? d2h : wb;
    printf("\ngoal buffered: %.2f GB/s = %.2fx min(d2h, buffered write) (target 0.9x) %s\n", hb,
           hb / lim, hb >= 0.9 * lim ? "MET" : "NOT MET");
    if (wd > 0)
        printf("goal O_DIRECT: %.2f GB/s = %.2fx the O_DIRECT ceiling (target 0.95x) %s\n", hd,
               hd / wd, hd >= 0.95 * wd ? "MET" : "NOT MET");
    printf("goal naive: %.2fx cudaMemcpy+pwrite (target 3x) %s\n", hbest / naive,
           hbest >= 3 * naive ? "MET" : "NOT MET");
    if (cuf > 0)
        printf("goal cuFile: %.2fx cuFileWrite (target 2x) %s\n", hbest / cuf,
               hbest >= 2 * cuf ? "MET" : "NOT MET");
    for (int d = 0; d < 2; d++)
        if (g_eng[d]) {
            homi_stats st;
            homi_engine_stats(g_eng[d], &st);
            printf("\nHOMI engine, %s:\n", d ? "O_DIRECT" : "buffered");
            homi_stats_print(&st, 0, stdout);
            homi_engine_destroy(g_eng[d]);
        }
    printf("verify: %s\n", bad ? "FAILED" : (g_verify ? "all HOMI rows identical" : "skipped"));
    cudaFree(g_dev);
    cudaFreeHost(g_pinned);
    return bad;
}
