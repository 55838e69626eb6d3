/* pieces_gpu_bench.c - scattered reads of one file into GPU memory (issue
 * 25): piece lists of several shapes read by
 *   homi-pieces   homi_read_pieces into the device buffer (sieve windows
 *                 scattered by a kernel, large pieces staged directly)
 *   coll-indep    homi_coll_read_indep, the independent strided read of the
 *                 MPI-IO driver ad_homi (built with -DHAVE_COLL and MPI only)
 *   pread+copy    pread of every piece into pageable host memory laid out
 *                 like the device buffer, then one cudaMemcpy
 * with the page cache warm; every result is compared with pread+copy's
 * byte for byte.  Prints a table; --csv FILE writes the rows.
 *
 *   pieces_gpu_bench [--file PATH] [--size 1G] [--iters 3] [--csv FILE]
 * Exits 77 without a GPU. */
#include <cuda_runtime_api.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "homi.h"
#ifdef HAVE_COLL
#include "homi_coll.h"
#endif

#define CUDA_OK(x)                                                                                 \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_));                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(uint64_t n)
{
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return g_rng % n;
}

enum { P_16, P_16_SHUF, P_1K, P_64K_SHUF, P_4M, P_COUNT };
static const char *const g_pname[P_COUNT] = {"16B stride 40", "16B shuffled", "1KiB stride 2KiB",
                                             "64KiB shuffled", "4MiB stride 5MiB"};

/* Pieces of shape s over a file of fsize bytes, dense in memory (offsets
 * into the buffer in buf). */
static size_t make_pieces(int s, uint64_t fsize, homi_piece *p, size_t cap)
{
    size_t n = 0;
    uint64_t len = s <= P_16_SHUF ? 16 : s == P_1K ? 1024 : s == P_64K_SHUF ? 65536 : 4u << 20;
    uint64_t stride = s <= P_16_SHUF ? 40 : s == P_1K ? 2048 : s == P_64K_SHUF ? 131072 : 5u << 20;
    for (uint64_t off = 0; off + len <= fsize && n < cap; off += stride)
        p[n++] = (homi_piece){.offset = (int64_t)off, .len = len};
    if (s == P_16_SHUF || s == P_64K_SHUF)
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)rnd(i);
            homi_piece t = p[i - 1];
            p[i - 1] = p[j];
            p[j] = t;
        }
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        p[i].buf = (void *)(uintptr_t)at;
        at += p[i].len;
    }
    return n;
}

int main(int argc, char **argv)
{
    const char *file = "/var/tmp/homi-pieces-bench.dat", *csvpath = NULL;
    uint64_t size = 1ull << 30;
    int iters = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (!strcmp(a, "--file") && v) {
            file = argv[++i];
        } else if (!strcmp(a, "--size") && v) {
            size = strtoull(argv[++i], &end, 10);
            if (*end == 'G') size <<= 30;
            if (*end == 'M') size <<= 20;
        } else if (!strcmp(a, "--iters") && v) {
            iters = atoi(argv[++i]);
        } else if (!strcmp(a, "--csv") && v) {
            csvpath = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--file PATH] [--size 1G] [--iters 3] [--csv FILE]\n",
                    argv[0]);
            return 2;
        }
    }
    if (iters < 1) iters = 1;
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || !ndev) {
        printf("SKIP: no usable CUDA device\n");
        return 77;
    }
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(file);
        return 1;
    }
    size_t step = 64u << 20;
    unsigned char *w = malloc(step);
    for (uint64_t off = 0; off < size; off += step) {
        for (size_t i = 0; i < step; i += 8) {
            uint64_t x = rnd(UINT64_MAX);
            memcpy(w + i, &x, 8);
        }
        size_t n = size - off < step ? (size_t)(size - off) : step;
        if (pwrite(fd, w, n, (off_t)off) != (ssize_t)n) {
            perror("pwrite");
            return 1;
        }
    }
    free(w);
    homi_engine *eng;
    homi_file *hf;
    if (homi_engine_create(NULL, &eng) || homi_open(eng, file, HOMI_RDONLY, &hf)) {
        fprintf(stderr, "homi open failed\n");
        return 1;
    }
    size_t cap = size / 40 + 1;
    homi_piece *p = malloc(cap * sizeof *p), *q = malloc(cap * sizeof *q);
    char *dev, *host = malloc(size), *chk = malloc(size);
    CUDA_OK(cudaMalloc((void **)&dev, size));
    if (!p || !q || !host || !chk) return 1;
#ifdef HAVE_COLL
    homi_coll_seg *segs = malloc(cap * sizeof *segs);
    homi_coll_opts copts;
    homi_coll_opts_default(&copts);
#endif
    FILE *csv = csvpath ? fopen(csvpath, "w") : NULL;
    if (csv) fprintf(csv, "pieces,count,bytes,method,best_s,mean_s,GBps,verified\n");
    printf("file %s, %" PRIu64 " bytes, page cache warm\n\n%-18s %9s %-12s %9s %9s %8s %s\n", file,
           size, "pieces", "count", "method", "best s", "GB/s", "vs copy", "check");
    int bad = 0;
    for (int s = 0; s < P_COUNT; s++) {
        size_t n = make_pieces(s, size, q, cap);
        uint64_t bytes = 0;
        for (size_t i = 0; i < n; i++)
            bytes += q[i].len;
        double base = 0;
        static const int order[3] = {2, 0, 1}; /* the baseline first */
        for (int k = 0; k < 3; k++) {
            int m = order[k];
#ifndef HAVE_COLL
            if (m == 1) continue;
#endif
            double best = 1e30, sum = 0;
            int ok = 1;
            for (int it = 0; it <= iters; it++) { /* iteration 0 warms up */
                CUDA_OK(cudaMemset(dev, 0x5c, bytes));
                double t0 = now();
                if (m == 0) {
                    for (size_t i = 0; i < n; i++)
                        p[i] = (homi_piece){q[i].offset, q[i].len, dev + (uintptr_t)q[i].buf};
                    int64_t r = homi_read_pieces(hf, p, n, HOMI_MEM_DEVICE, 0);
                    if (r != (int64_t)bytes) {
                        fprintf(stderr, "homi_read_pieces: %" PRId64 "\n", r);
                        return 1;
                    }
                } else if (m == 1) {
#ifdef HAVE_COLL
                    for (size_t i = 0; i < n; i++)
                        segs[i] = (homi_coll_seg){q[i].offset, (int64_t)q[i].len,
                                                  (int64_t)(uintptr_t)q[i].buf};
                    int64_t got = 0;
                    int rc = homi_coll_read_indep(hf, &copts, dev, segs, n, &got);
                    if (rc || got != (int64_t)bytes) {
                        fprintf(stderr, "homi_coll_read_indep: %s\n", homi_strerror(rc));
                        return 1;
                    }
#endif
                } else {
                    for (size_t i = 0; i < n; i++)
                        if (pread(fd, host + (uintptr_t)q[i].buf, q[i].len, q[i].offset) !=
                            (ssize_t)q[i].len) {
                            perror("pread");
                            return 1;
                        }
                    CUDA_OK(cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice));
                }
                CUDA_OK(cudaDeviceSynchronize());
                double t = now() - t0;
                if (it == 0) continue;
                sum += t;
                if (t < best) best = t;
            }
            if (m == 2) {
                memcpy(chk, host, bytes); /* the reference bytes */
            } else {
                CUDA_OK(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
                ok = memcmp(host, chk, bytes) == 0;
                bad += !ok;
            }
            const char *mname = m == 0 ? "homi-pieces" : m == 1 ? "coll-indep" : "pread+copy";
            if (m == 2) base = best;
            printf("%-18s %9zu %-12s %9.4f %9.2f %7.2fx %s\n", g_pname[s], n, mname, best,
                   (double)bytes / best / 1e9, base / best, ok ? "equal" : "DIFFERS");
            if (csv)
                fprintf(csv, "%s,%zu,%" PRIu64 ",%s,%.5f,%.5f,%.3f,%d\n", g_pname[s], n, bytes,
                        mname, best, sum / iters, (double)bytes / best / 1e9, ok);
        }
    }
    printf("summary: %d result(s) differ\n", bad);
    if (csv) fclose(csv);
    homi_close(hf);
    homi_engine_destroy(eng);
    cudaFree(dev);
    close(fd);
    unlink(file);
    return bad ? 1 : 0;
}
