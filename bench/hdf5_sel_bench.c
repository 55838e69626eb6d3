/* hdf5_sel_bench.c - HDF5 selections with many pieces -> GPU memory (issue
 * 25): a 3-D float32 dataset (default 200 x 400 x 500, 160 MB) stored
 * chunked (chunks 30 x 70 x 90, which do not divide the extents: partial
 * edge chunks) and contiguous, read with selections that hand the driver
 * many pieces:
 *   strided16   strided + blocked in every dimension, 16-byte pieces
 *   strided1k   every other row of every other plane, 1 KiB pieces
 *   union       a union of 8 boxes of 60^3 elements (rows of 240 bytes)
 *   points      100000 random points
 *   whole       the whole dataset
 * each into a 1-D device buffer, by
 *   homi        H5FD_homi + H5FD_homi_dread straight into the device buffer
 *   sec2+copy   stock sec2, H5Dread of the same selection into pageable host
 *               memory, then cudaMemcpy of the buffer
 * with the page cache warm.  Every homi result is compared byte for byte
 * with sec2's before it is timed.  Prints a table; --csv writes one row per
 * selection, layout and method.
 *
 *   hdf5_sel_bench [--file PATH] [--dims 200x400x500] [--iters 3] [--csv FILE]
 * Exits 77 without a GPU. */
#include <cuda_runtime_api.h>
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

static const char *g_file = "/var/tmp/homi-hdf5-sel.h5";
static hsize_t g_dims[3] = {200, 400, 500};
static const hsize_t g_chunk[3] = {30, 70, 90};
static int g_iters = 3;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die_h5(const char *what)
{
    fprintf(stderr, "%s failed\n", what);
    H5Eprint2(H5E_DEFAULT, stderr);
    exit(1);
}

static void make_file(void)
{
    double t0 = now();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_sec2(fapl);
    hid_t f = H5Fcreate(g_file, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) die_h5("H5Fcreate");
    size_t n = (size_t)(g_dims[0] * g_dims[1] * g_dims[2]);
    uint32_t *v = malloc(n * 4);
    if (!v) exit(1);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[i] = (uint32_t)x;
    }
    hid_t sp = H5Screate_simple(3, g_dims, NULL);
    for (int chunked = 0; chunked < 2; chunked++) {
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (chunked) H5Pset_chunk(dcpl, 3, g_chunk);
        hid_t d = H5Dcreate2(f, chunked ? "chunked" : "contiguous", H5T_IEEE_F32LE, sp, H5P_DEFAULT,
                             dcpl, H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
            die_h5("H5Dwrite");
        H5Dclose(d);
        H5Pclose(dcpl);
    }
    H5Sclose(sp);
    H5Fclose(f);
    H5Pclose(fapl);
    free(v);
    printf("file: %s (%llux%llux%llu float32, chunks %llux%llux%llu, written in %.1f s)\n", g_file,
           (unsigned long long)g_dims[0], (unsigned long long)g_dims[1],
           (unsigned long long)g_dims[2], (unsigned long long)g_chunk[0],
           (unsigned long long)g_chunk[1], (unsigned long long)g_chunk[2], now() - t0);
}

enum { S_STRIDED16, S_STRIDED1K, S_UNION, S_POINTS, S_WHOLE, S_COUNT };
static const char *const g_sname[S_COUNT] = {"strided16", "strided1k", "union", "points", "whole"};

/* Select s in fs; returns the number of elements; *piece is the piece size
 * in bytes (0: large or varied). */
static hsize_t select_sel(int s, hid_t fs, unsigned *piece)
{
    hsize_t start[3] = {0, 0, 0}, stride[3], count[3], block[3];
    uint64_t x;
    switch (s) {
    case S_STRIDED16:
        for (int d = 0; d < 3; d++) {
            block[d] = d == 2 ? 4 : 1;
            stride[d] = d == 2 ? 8 : 2;
            count[d] = (g_dims[d] - block[d]) / stride[d] + 1;
        }
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, stride, count, block) < 0)
            die_h5("select");
        *piece = 16;
        break;
    case S_STRIDED1K:
        for (int d = 0; d < 3; d++) {
            block[d] = d == 2 ? 256 : 1;
            stride[d] = d == 2 ? g_dims[2] : 2;
            count[d] = d == 2 ? 1 : (g_dims[d] - 1) / 2 + 1;
        }
        if (g_dims[2] < 256) block[2] = g_dims[2];
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, stride, count, block) < 0)
            die_h5("select");
        *piece = (unsigned)block[2] * 4;
        break;
    case S_UNION:
        H5Sselect_none(fs);
        x = 12345;
        for (int b = 0; b < 8; b++) {
            for (int d = 0; d < 3; d++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                count[d] = g_dims[d] < 60 ? g_dims[d] : 60;
                start[d] = (x >> 33) % (g_dims[d] - count[d] + 1);
            }
            if (H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL) < 0)
                die_h5("select");
        }
        *piece = (unsigned)(g_dims[2] < 60 ? g_dims[2] : 60) * 4; /* box rows */
        break;
    case S_POINTS: {
        size_t np = 100000;
        hsize_t *c = malloc(np * 3 * sizeof *c);
        if (!c) exit(1);
        x = 777;
        for (size_t i = 0; i < np; i++)
            for (int d = 0; d < 3; d++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                c[i * 3 + (size_t)d] = (x >> 33) % g_dims[d];
            }
        if (H5Sselect_elements(fs, H5S_SELECT_SET, np, c) < 0) die_h5("select");
        free(c);
        *piece = 4;
        break;
    }
    default: H5Sselect_all(fs); *piece = 0;
    }
    hssize_t n = H5Sget_select_npoints(fs);
    if (n < 0) die_h5("npoints");
    return (hsize_t)n;
}

static void *g_dev, *g_host, *g_check;

/* One timed read of selection s of dataset name: homi or sec2+copy. */
static double run(hid_t fapl, const char *name, int s, int homi, size_t *bytes)
{
    double t0 = now();
    hid_t f = H5Fopen(g_file, H5F_ACC_RDONLY, fapl);
    if (f < 0) die_h5("H5Fopen");
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) die_h5("H5Dopen2");
    hid_t fs = H5Dget_space(d);
    unsigned piece;
    hsize_t n = select_sel(s, fs, &piece);
    hid_t ms = H5Screate_simple(1, &n, NULL);
    *bytes = (size_t)n * 4;
    if (homi) {
        if (H5FD_homi_dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, g_dev) < 0)
            die_h5("H5FD_homi_dread");
    } else {
        if (H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, g_host) < 0) die_h5("H5Dread");
        CUDA_OK(cudaMemcpy(g_dev, g_host, *bytes, cudaMemcpyHostToDevice));
    }
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
    return now() - t0;
}

int main(int argc, char **argv)
{
    const char *csvpath = NULL;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long x, y, z;
        if (!strcmp(a, "--file") && v) {
            g_file = argv[++i];
        } else if (!strcmp(a, "--dims") && v && sscanf(v, "%llux%llux%llu", &x, &y, &z) == 3 &&
                   x >= 60 && y >= 60 && z >= 60) {
            g_dims[0] = x, g_dims[1] = y, g_dims[2] = z;
            i++;
        } else if (!strcmp(a, "--iters") && v) {
            g_iters = atoi(argv[++i]);
        } else if (!strcmp(a, "--csv") && v) {
            csvpath = argv[++i];
        } else if (!strcmp(a, "--keep")) {
            keep = 1;
        } else {
            fprintf(stderr,
                    "usage: %s [--file PATH] [--dims 200x400x500] [--iters 3] [--csv FILE] "
                    "[--keep]\n(dims at least 60 each)\n",
                    argv[0]);
            return 2;
        }
    }
    if (g_iters < 1) g_iters = 1;
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || !ndev) {
        printf("SKIP: no usable CUDA device\n");
        return 77;
    }
    make_file();
    size_t total = (size_t)(g_dims[0] * g_dims[1] * g_dims[2]) * 4;
    CUDA_OK(cudaMalloc(&g_dev, total));
    g_host = malloc(total);
    g_check = malloc(total);
    if (!g_host || !g_check) return 1;
    hid_t fsec = H5Pcreate(H5P_FILE_ACCESS), fhomi = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_sec2(fsec);
    if (H5Pset_fapl_homi(fhomi, NULL) < 0) die_h5("H5Pset_fapl_homi");
    FILE *csv = csvpath ? fopen(csvpath, "w") : NULL;
    if (csv) fprintf(csv, "selection,layout,elements,bytes,method,best_s,mean_s,verified\n");
    printf("\n%-10s %-10s %10s %11s %11s %10s %7s %s\n", "selection", "layout", "elements",
           "homi s", "sec2+copy s", "homi/sec2", "target", "check");
    int bad = 0, missed = 0;
    for (int lay = 0; lay < 2; lay++) {
        const char *name = lay ? "chunked" : "contiguous";
        for (int s = 0; s < S_COUNT; s++) {
            size_t bytes = 0;
            /* warm-up (page cache, engine) and sec2's bytes for the check */
            run(fsec, name, s, 0, &bytes);
            memcpy(g_check, g_host, bytes);
            CUDA_OK(cudaMemset(g_dev, 0x5c, bytes));
            run(fhomi, name, s, 1, &bytes);
            CUDA_OK(cudaMemcpy(g_host, g_dev, bytes, cudaMemcpyDeviceToHost));
            int ok = memcmp(g_host, g_check, bytes) == 0;
            bad += !ok;
            double best[2] = {1e30, 1e30}, sum[2] = {0, 0};
            for (int it = 0; it < g_iters; it++)
                for (int m = 0; m < 2; m++) {
                    double t = run(m ? fsec : fhomi, name, s, !m, &bytes);
                    sum[m] += t;
                    if (t < best[m]) best[m] = t;
                }
            unsigned piece;
            hid_t sp = H5Screate_simple(3, g_dims, NULL);
            select_sel(s, sp, &piece);
            H5Sclose(sp);
            double ratio = best[1] / best[0];
            double target = piece == 0 || piece >= 1024 ? 3.0 : 1.0;
            missed += ratio < target;
            printf("%-10s %-10s %10zu %11.4f %11.4f %9.2fx %6.0fx %s\n", g_sname[s], name,
                   bytes / 4, best[0], best[1], ratio, target, ok ? "equal" : "DIFFERS");
            if (csv)
                for (int m = 0; m < 2; m++)
                    fprintf(csv, "%s,%s,%zu,%zu,%s,%.5f,%.5f,%d\n", g_sname[s], name, bytes / 4,
                            bytes, m ? "sec2+copy" : "homi", best[m], sum[m] / g_iters, ok);
        }
    }
    printf("summary: %d selection(s) differ from sec2, %d row(s) below target (>= 1x sec2+copy; "
           ">= 3x for pieces of 1 KiB or more and whole reads)\n",
           bad, missed);
    if (csv) fclose(csv);
    H5Pclose(fsec);
    H5Pclose(fhomi);
    cudaFree(g_dev);
    free(g_host);
    free(g_check);
    if (!keep) unlink(g_file);
    H5close();
    return bad ? 1 : 0;
}
