/* hdf5_write_gpu_bench.c - a checkpoint of device memory into an HDF5 file:
 * a chunked float32 dataset (default 4 GiB, 4 MiB chunks, allocated early)
 * created and written whole from a CUDA device buffer by
 *   homi         H5FD_homi + H5FD_homi_dwrite straight from the device buffer
 *   sec2+copy    stock sec2 driver: cudaMemcpy into pageable host memory, H5Dwrite
 *   sec2+pinned  the same through pinned host memory (cudaMallocHost)
 *   raw-homi     HOMI without HDF5: homi_pwrite of the device buffer (its ceiling)
 *   d2h-pinned   ceiling: cudaMemcpy device -> pinned, no file
 *   pwrite-pinned ceiling: pwrite(2) of pinned memory into a new file (page cache)
 * Each timed run creates a new file (the previous one is removed untimed),
 * writes and closes it; with --sync each run also ends with fdatasync(2).
 * The homi file is compared byte for byte with sec2's before timing.
 * Prints a table and the ratios issue 22 asks for; --csv writes one row per
 * method.
 *
 *   hdf5_write_gpu_bench [--file PATH] [--size 4G] [--chunk 4M] [--iters 3]
 *                        [--sync] [--csv FILE]
 * Exits 77 without a GPU. */
#include <cuda_runtime_api.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "H5FDhomi.h"

#define CUDA_OK(x)                                                                                 \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_));                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static const char *g_file = "/var/tmp/homi-hdf5-wbench.h5";
static uint64_t g_size = 4ull << 30, g_chunk = 4ull << 20;
static int g_iters = 3, g_sync;
static const char *g_csv;
static void *g_dev, *g_host, *g_pinned;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    uint64_t m = 1;
    switch (*end) {
    case 'k':
    case 'K': m = 1ull << 10; break;
    case 'm':
    case 'M': m = 1ull << 20; break;
    case 'g':
    case 'G': m = 1ull << 30; break;
    case 0: break;
    default: return -1;
    }
    if (v <= 0) return -1;
    *out = (uint64_t)(v * (double)m);
    return 0;
}

static void die_h5(const char *what)
{
    fprintf(stderr, "%s failed:\n", what);
    H5Eprint2(H5E_DEFAULT, stderr);
    exit(1);
}

static void sync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fdatasync(fd)) {
        perror(path);
        exit(1);
    }
    close(fd);
}

enum { M_HOMI, M_SEC2, M_SEC2_PINNED, M_RAW, M_D2H, M_PWRITE, M_COUNT };
static const char *const g_mname[M_COUNT] = {"homi",     "sec2+copy",  "sec2+pinned",
                                             "raw-homi", "d2h-pinned", "pwrite-pinned"};

/* Create path with the dataset and write it whole from the device buffer
 * by method m; returns seconds. */
static double run(int m, const char *path)
{
    unlink(path);
    sync(); /* the previous run's write-back does not land in this one */
    double t0 = now();
    if (m == M_D2H) {
        CUDA_OK(cudaMemcpy(g_pinned, g_dev, g_size, cudaMemcpyDeviceToHost));
        return now() - t0;
    }
    if (m == M_PWRITE) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        for (uint64_t o = 0; fd >= 0 && o < g_size;) {
            ssize_t r = pwrite(fd, (char *)g_pinned + o, g_size - o, (off_t)o);
            if (r <= 0) {
                perror("pwrite");
                exit(1);
            }
            o += (uint64_t)r;
        }
        if (fd < 0 || (g_sync && fdatasync(fd))) {
            perror(path);
            exit(1);
        }
        close(fd);
        return now() - t0;
    }
    if (m == M_RAW) {
        homi_config *cfg = homi_config_new();
        homi_config_load_env(cfg);
        homi_engine *eng;
        homi_file *hf;
        int rc = homi_engine_create(cfg, &eng);
        homi_config_free(cfg);
        t0 = now(); /* the engine is per process in real use: not timed */
        if (!rc) rc = homi_open(eng, path, HOMI_RDWR | HOMI_CREATE | HOMI_TRUNC, &hf);
        int64_t r = rc ? rc : homi_pwrite(hf, g_dev, g_size, 0);
        if (r == (int64_t)g_size && g_sync) r = homi_fsync(hf, HOMI_FSYNC_DATA) ? -1 : r;
        if (r != (int64_t)g_size) {
            fprintf(stderr, "raw HOMI write: %lld (%s)\n", (long long)r,
                    r < 0 ? homi_strerror((int)r) : "short");
            exit(1);
        }
        homi_close(hf);
        double t = now() - t0;
        homi_engine_destroy(eng);
        return t;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (m == M_HOMI) {
        H5FD_homi_config_t cfg;
        H5FD_homi_config_init(&cfg);
        if (H5Pset_fapl_homi(fapl, &cfg) < 0) die_h5("H5Pset_fapl_homi");
    } else {
        H5Pset_fapl_sec2(fapl);
    }
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) die_h5("H5Fcreate");
    hsize_t n = g_size / 4, c = g_chunk / 4;
    hid_t sp = H5Screate_simple(1, &n, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0); /* byte-identical files */
    H5Pset_chunk(dcpl, 1, &c);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    hid_t d = H5Dcreate2(f, "data", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0) die_h5("H5Dcreate2");
    if (m == M_HOMI) {
        if (H5FD_homi_dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, g_dev) < 0)
            die_h5("H5FD_homi_dwrite");
    } else {
        void *h = m == M_SEC2_PINNED ? g_pinned : g_host;
        CUDA_OK(cudaMemcpy(h, g_dev, g_size, cudaMemcpyDeviceToHost));
        if (H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, h) < 0) die_h5("H5Dwrite");
    }
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (H5Fclose(f) < 0) die_h5("H5Fclose");
    H5Pclose(fapl);
    if (g_sync) sync_file(path);
    return now() - t0;
}

/* The files homi and sec2 write must be byte for byte the same. */
static int same_files(const char *a, const char *b)
{
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int same = x && y;
    size_t n = 8u << 20;
    char *p = malloc(n), *q = malloc(n);
    uint64_t at = 0;
    while (same && p && q) {
        size_t r1 = fread(p, 1, n, x), r2 = fread(q, 1, n, y);
        if (r1 != r2 || memcmp(p, q, r1)) {
            fprintf(stderr, "files differ near byte %" PRIu64 "\n", at);
            same = 0;
        }
        if (r1 < n) break;
        at += r1;
    }
    if (x) fclose(x);
    if (y) fclose(y);
    free(p);
    free(q);
    return same && p && q;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--file") && v)
            g_file = argv[++i];
        else if (!strcmp(a, "--size") && v && !parse_size(v, &g_size))
            i++;
        else if (!strcmp(a, "--chunk") && v && !parse_size(v, &g_chunk))
            i++;
        else if (!strcmp(a, "--iters") && v)
            g_iters = atoi(argv[++i]);
        else if (!strcmp(a, "--csv") && v)
            g_csv = argv[++i];
        else if (!strcmp(a, "--sync"))
            g_sync = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--file PATH] [--size 4G] [--chunk 4M] [--iters 3] [--sync] "
                    "[--csv FILE]\n",
                    argv[0]);
            return 2;
        }
    }
    if (g_size % 4 || g_chunk % 4 || g_chunk > g_size || g_iters < 1) {
        fprintf(stderr, "bad --size/--chunk/--iters\n");
        return 2;
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || !ndev) {
        printf("SKIP: no usable CUDA device\n");
        return 77;
    }
    struct cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    printf("gpu: %s\nhdf5: %u.%u.%u\nhomi: %s\nwrite: %" PRIu64 " bytes, %" PRIu64
           "-byte chunks, %s\n",
           prop.name, maj, min, rel, homi_version(), g_size, g_chunk,
           g_sync ? "each run ends with fdatasync" : "page cache (no sync)");
    CUDA_OK(cudaMalloc(&g_dev, g_size));
    CUDA_OK(cudaMallocHost(&g_pinned, g_size));
    g_host = malloc(g_size);
    if (!g_host) {
        fprintf(stderr, "malloc %" PRIu64 "\n", g_size);
        return 1;
    }
    /* the checkpoint: distinct values, made on the host and put on the GPU */
    float *v = g_pinned;
    for (uint64_t i = 0; i < g_size / 4; i++)
        v[i] = (float)(i % 16777213) * 0.25f + 3.0f;
    CUDA_OK(cudaMemcpy(g_dev, g_pinned, g_size, cudaMemcpyHostToDevice));
    memset(g_host, 0, g_size); /* fault the pageable buffer in, untimed */

    char ref[4200];
    snprintf(ref, sizeof ref, "%s.sec2", g_file);
    run(M_SEC2, ref);
    run(M_HOMI, g_file);
    int ok = same_files(g_file, ref);
    printf("verify: the homi file %s sec2's byte for byte\n", ok ? "equals" : "DIFFERS FROM");
    unlink(ref);
    if (!ok) return 1;

    FILE *csv = g_csv ? fopen(g_csv, "w") : NULL;
    if (csv) fprintf(csv, "method,bytes,chunk,sync,iters,best_s,mean_s,best_GBps,mean_GBps\n");
    printf("\n%-14s %10s %10s %6s\n", "method", "GB/s best", "GB/s mean", "runs");
    double best[M_COUNT] = {0};
    for (int m = 0; m < M_COUNT; m++) {
        run(m, g_file); /* warm-up: first-use costs */
        double sum = 0, b = 1e30;
        for (int it = 0; it < g_iters; it++) {
            double t = run(m, g_file);
            sum += t;
            if (t < b) b = t;
        }
        best[m] = (double)g_size / b / 1e9;
        double mean = (double)g_size / (sum / g_iters) / 1e9;
        printf("%-14s %10.2f %10.2f %6d\n", g_mname[m], best[m], mean, g_iters);
        if (csv)
            fprintf(csv, "%s,%" PRIu64 ",%" PRIu64 ",%d,%d,%.4f,%.4f,%.3f,%.3f\n", g_mname[m],
                    g_size, g_chunk, g_sync, g_iters, b, sum / g_iters, best[m], mean);
    }
    double ceil = best[M_D2H] < best[M_PWRITE] ? best[M_D2H] : best[M_PWRITE];
    printf("\nhomi / sec2+copy = %.2fx (issue 22 target >= 3x), homi / sec2+pinned = %.2fx,\n"
           "homi / raw-homi = %.2fx, homi / min(d2h, pwrite) ceiling = %.2fx\n",
           best[M_HOMI] / best[M_SEC2], best[M_HOMI] / best[M_SEC2_PINNED],
           best[M_HOMI] / best[M_RAW], best[M_HOMI] / ceil);
    if (csv) fclose(csv);
    unlink(g_file);
    cudaFree(g_dev);
    cudaFreeHost(g_pinned);
    free(g_host);
    H5close();
    return 0;
}
