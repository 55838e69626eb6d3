/* hdf5_gpu_bench.c - HDF5 dataset -> GPU memory: a chunked float32
 * dataset (default 4 GiB, 4 MiB chunks) read whole into device memory by
 *   homi         H5FD_homi + H5FD_homi_dread straight into the device buffer
 *   sec2+copy    stock sec2 driver, H5Dread into pageable host memory, cudaMemcpy
 *   sec2+pinned  the same into pinned host memory (cudaMallocHost)
 *   core+copy    H5FD_core (the whole file read into memory at open), H5Dread, cudaMemcpy
 *   raw-homi     HOMI's raw file -> GPU figure: homi_pread of the whole file
 *                into device memory (no HDF5)
 * in "cached" mode (page cache warm) and "cold" mode (the file's pages
 * dropped with posix_fadvise(DONTNEED) before each run; homi and raw-homi
 * then also run with homi_direct=on as homi-direct / raw-homi-direct).
 * Each timed run includes opening and closing the file.  The first homi
 * result is checked byte-for-byte against sec2's.  Prints a table and the
 * ratios the issue asks for; --csv writes one row per method and mode.
 *
 *   hdf5_gpu_bench [--file PATH] [--size 4G] [--chunk 4M] [--iters 3]
 *                  [--modes cached,cold] [--csv FILE] [--keep]
 * Exits 77 without a GPU. */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static const char *g_file = "/var/tmp/homi-hdf5-bench.h5";
static uint64_t g_size = 4ull << 30, g_chunk = 4ull << 20;
static int g_iters = 3, g_keep;
static const char *g_modes = "cached,cold", *g_csv;

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
    case 't':
    case 'T': m = 1ull << 40; break;
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

/* ---------------------------------------------------------------- file */

static void make_file(void)
{
    struct stat st;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_sec2(fapl);
    if (stat(g_file, &st) == 0) {
        H5E_BEGIN_TRY
        {
            hid_t f = H5Fopen(g_file, H5F_ACC_RDONLY, fapl);
            if (f >= 0) {
                hid_t d = H5Dopen2(f, "data", H5P_DEFAULT);
                hsize_t n = 0;
                if (d >= 0) {
                    hid_t sp = H5Dget_space(d);
                    H5Sget_simple_extent_dims(sp, &n, NULL);
                    H5Sclose(sp);
                    hid_t dcpl = H5Dget_create_plist(d);
                    hsize_t c = 0;
                    H5Pget_chunk(dcpl, 1, &c);
                    H5Pclose(dcpl);
                    H5Dclose(d);
                    if (n * 4 == g_size && c * 4 == g_chunk) {
                        H5Fclose(f);
                        H5Pclose(fapl);
                        printf("file: %s (existing, %" PRIu64 " bytes of float32, %" PRIu64
                               "-byte chunks)\n",
                               g_file, g_size, g_chunk);
                        return;
                    }
                }
                H5Fclose(f);
            }
        }
        H5E_END_TRY;
    }
    double t0 = now();
    hid_t f = H5Fcreate(g_file, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) die_h5("H5Fcreate");
    hsize_t n = g_size / 4, c = g_chunk / 4;
    hid_t sp = H5Screate_simple(1, &n, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &c);
    hid_t d = H5Dcreate2(f, "data", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0) die_h5("H5Dcreate2");
    size_t step = 64ull << 20;
    float *buf = malloc(step);
    for (hsize_t off = 0; off < n; off += step / 4) {
        hsize_t cnt = n - off < step / 4 ? n - off : step / 4;
        for (hsize_t i = 0; i < cnt; i++)
            buf[i] = (float)((off + i) % 16777213) * 0.5f + 1.0f;
        hid_t fs = H5Scopy(sp), ms = H5Screate_simple(1, &cnt, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
        if (H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, buf) < 0) die_h5("H5Dwrite");
        H5Sclose(fs);
        H5Sclose(ms);
    }
    free(buf);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
    H5Pclose(fapl);
    int fd = open(g_file, O_RDONLY);
    if (fd >= 0) {
        fdatasync(fd);
        close(fd);
    }
    printf("file: %s (written in %.1f s, %" PRIu64 " bytes of float32, %" PRIu64 "-byte chunks)\n",
           g_file, now() - t0, g_size, g_chunk);
}

static void drop_cache(void)
{
    int fd = open(g_file, O_RDONLY);
    if (fd < 0) return;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

/* ---------------------------------------------------------------- methods */

enum { M_HOMI, M_HOMI_DIRECT, M_SEC2, M_SEC2_PINNED, M_CORE, M_RAW, M_RAW_DIRECT, M_COUNT };
static const char *const g_mname[M_COUNT] = {
    "homi", "homi-direct", "sec2+copy", "sec2+pinned", "core+copy", "raw-homi", "raw-homi-direct"};

static void *g_dev, *g_host, *g_pinned;

static hid_t homi_fapl(int direct)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5FD_homi_config_t cfg;
    H5FD_homi_config_init(&cfg);
    if (direct) H5FD_homi_config_set(&cfg, "homi_direct", "on");
    if (H5Pset_fapl_homi(fapl, &cfg) < 0) die_h5("H5Pset_fapl_homi");
    return fapl;
}

/* One timed run; returns seconds. */
static double run(int m)
{
    double t0 = now();
    if (m == M_RAW || m == M_RAW_DIRECT) {
        homi_config *cfg = homi_config_new();
        homi_config_load_env(cfg);
        if (m == M_RAW_DIRECT) homi_config_set(cfg, "homi_direct", "on");
        homi_engine *eng;
        homi_file *hf;
        int rc = homi_engine_create(cfg, &eng);
        homi_config_free(cfg);
        t0 = now(); /* the engine is per process in real use: not timed */
        if (!rc) rc = homi_open(eng, g_file, HOMI_RDONLY, &hf);
        if (rc) {
            fprintf(stderr, "raw HOMI: %s\n", homi_strerror(rc));
            exit(1);
        }
        int64_t sz = homi_file_size(hf);
        uint64_t want = (uint64_t)sz < g_size ? (uint64_t)sz : g_size;
        int64_t r = homi_pread(hf, g_dev, want, 0);
        if (r != (int64_t)want) {
            fprintf(stderr, "raw HOMI read: %lld\n", (long long)r);
            exit(1);
        }
        homi_close(hf);
        double t = now() - t0;
        homi_engine_destroy(eng);
        return t;
    }
    hid_t fapl;
    if (m == M_HOMI || m == M_HOMI_DIRECT) {
        fapl = homi_fapl(m == M_HOMI_DIRECT);
    } else {
        fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (m == M_CORE)
            H5Pset_fapl_core(fapl, 64u << 20, 0);
        else
            H5Pset_fapl_sec2(fapl);
    }
    hid_t f = H5Fopen(g_file, H5F_ACC_RDONLY, fapl);
    if (f < 0) die_h5("H5Fopen");
    hid_t d = H5Dopen2(f, "data", H5P_DEFAULT);
    if (d < 0) die_h5("H5Dopen2");
    if (m == M_HOMI || m == M_HOMI_DIRECT) {
        if (H5FD_homi_dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, g_dev) < 0)
            die_h5("H5FD_homi_dread");
    } else {
        void *h = m == M_SEC2_PINNED ? g_pinned : g_host;
        if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, h) < 0) die_h5("H5Dread");
        CUDA_OK(cudaMemcpy(g_dev, h, g_size, cudaMemcpyHostToDevice));
    }
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);
    return now() - t0;
}

/* The homi result against sec2's, byte for byte (g_host holds sec2's). */
static int verify(void)
{
    void *h = malloc(g_size);
    if (!h) return -1;
    CUDA_OK(cudaMemcpy(h, g_dev, g_size, cudaMemcpyDeviceToHost));
    int ok = memcmp(h, g_host, g_size) == 0;
    free(h);
    return ok;
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
        else if (!strcmp(a, "--modes") && v)
            g_modes = argv[++i];
        else if (!strcmp(a, "--csv") && v)
            g_csv = argv[++i];
        else if (!strcmp(a, "--keep"))
            g_keep = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--file PATH] [--size 4G] [--chunk 4M] [--iters 3] "
                    "[--modes cached,cold] [--csv FILE] [--keep]\n",
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
    printf("gpu: %s\nhdf5: %u.%u.%u\nhomi: %s\n", prop.name, maj, min, rel, homi_version());
    make_file();
    CUDA_OK(cudaMalloc(&g_dev, g_size));
    CUDA_OK(cudaMallocHost(&g_pinned, g_size));
    g_host = malloc(g_size);
    if (!g_host) {
        fprintf(stderr, "malloc %" PRIu64 "\n", g_size);
        return 1;
    }
    FILE *csv = g_csv ? fopen(g_csv, "w") : NULL;
    if (csv) fprintf(csv, "mode,method,bytes,chunk,iters,best_s,mean_s,best_GBps,mean_GBps\n");
    printf("\n%-7s %-16s %10s %10s %8s\n", "mode", "method", "GB/s best", "GB/s mean", "runs");
    int verified = 0;
    for (int cold = 0; cold < 2; cold++) {
        if (!strstr(g_modes, cold ? "cold" : "cached")) continue;
        const char *mode = cold ? "cold" : "cached";
        double best[M_COUNT] = {0};
        for (int m = 0; m < M_COUNT; m++) {
            if (!cold && (m == M_HOMI_DIRECT || m == M_RAW_DIRECT)) continue;
            if (!cold) run(m); /* warm-up: page cache and first-use costs */
            double sum = 0, b = 1e30;
            for (int it = 0; it < g_iters; it++) {
                if (cold) drop_cache();
                double t = run(m);
                sum += t;
                if (t < b) b = t;
            }
            if (!verified && (m == M_HOMI || m == M_HOMI_DIRECT)) {
                run(M_SEC2); /* sec2's bytes into g_host */
                run(m);
                int ok = verify();
                printf("verify: %s result %s sec2's byte for byte\n", g_mname[m],
                       ok == 1 ? "equals" : "DIFFERS FROM");
                if (ok != 1) return 1;
                verified = 1;
            }
            best[m] = (double)g_size / b / 1e9;
            double mean = (double)g_size / (sum / g_iters) / 1e9;
            printf("%-7s %-16s %10.2f %10.2f %8d\n", mode, g_mname[m], best[m], mean, g_iters);
            if (csv)
                fprintf(csv, "%s,%s,%" PRIu64 ",%" PRIu64 ",%d,%.4f,%.4f,%.3f,%.3f\n", mode,
                        g_mname[m], g_size, g_chunk, g_iters, b, sum / g_iters, best[m], mean);
        }
        printf("goal %s: homi / sec2+copy = %.2fx (target >= 3x), homi / raw-homi = %.2fx "
               "(target >= 0.8x)\n",
               mode, best[M_HOMI] / best[M_SEC2], best[M_HOMI] / best[M_RAW]);
        if (cold)
            printf("goal %s (O_DIRECT): homi-direct / sec2+copy = %.2fx, homi-direct / "
                   "raw-homi-direct = %.2fx\n",
                   mode, best[M_HOMI_DIRECT] / best[M_SEC2],
                   best[M_HOMI_DIRECT] / best[M_RAW_DIRECT]);
    }
    if (csv) fclose(csv);
    cudaFree(g_dev);
    cudaFreeHost(g_pinned);
    free(g_host);
    if (!g_keep) unlink(g_file);
    H5close(); /* idle HOMI engines released while CUDA is still up */
    return 0;
}
