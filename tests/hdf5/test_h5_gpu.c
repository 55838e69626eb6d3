/* test_h5_gpu.c - H5FD_homi_dread into CUDA device memory: contiguous and
 * chunked (partial edge chunks, chunks below and above HDF5's default
 * cache size) datasets, 1-D to 4-D hyperslabs, strided memory selections,
 * whole datasets into 1-D and strided memory, selections of many small
 * pieces (strided+blocked in every dimension, unions, points, N-D
 * memory spaces of another shape: issue 25);
 * each result copied back and compared byte-for-byte with the same read
 * through sec2 into host memory; guard bytes around the selection stay
 * untouched.  Refused cases (filter, type conversion, sec2 file) give an
 * error and leave the device buffer alone; a freed device buffer gives an
 * error, not a crash.  Exits 77 without a GPU. */
#include <cuda_runtime_api.h>
#include <time.h>

#include "h5_test.h"

static double t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CUDA_OK(x)                                                                                 \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        REQUIRE(e_ == cudaSuccess, "%s: %s", #x, cudaGetErrorString(e_));                          \
    } while (0)

struct spec {
    const char *name;
    int rank;
    hsize_t dims[4], chunk[4];
    int deflate;
};

static const struct spec g_specs[] = {
    {"c1", 1, {9000011}, {0}, 0},
    {"k1", 1, {9000011}, {300007}, 0},
    {"c2", 2, {3001, 1999}, {0}, 0},
    {"k2", 2, {3001, 1999}, {256, 509}, 0},
    {"k2small", 2, {3001, 1999}, {64, 64}, 0},
    {"k3", 3, {123, 77, 301}, {17, 32, 64}, 0},
    {"k4", 4, {21, 23, 25, 27}, {5, 6, 7, 8}, 0},
    {"z2", 2, {1000, 1000}, {100, 1000}, 1},
};
#define NSPEC (sizeof g_specs / sizeof g_specs[0])

static void make_file(const char *path)
{
    hid_t fapl = t_fapl_sec2();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5_OK(f);
    for (size_t i = 0; i < NSPEC; i++) {
        const struct spec *s = &g_specs[i];
        size_t n = 1;
        for (int d = 0; d < s->rank; d++)
            n *= s->dims[d];
        float *v = malloc(n * sizeof *v);
        REQUIRE(v, "malloc");
        t_fill_random(v, n * sizeof *v);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (s->chunk[0]) H5_OK(H5Pset_chunk(dcpl, s->rank, s->chunk));
        if (s->deflate) H5_OK(H5Pset_deflate(dcpl, 1));
        hid_t sp = H5Screate_simple(s->rank, s->dims, NULL);
        hid_t d = H5Dcreate2(f, s->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
        H5Dclose(d);
        H5Sclose(sp);
        H5Pclose(dcpl);
        free(v);
    }
    H5_OK(H5Fclose(f));
    H5Pclose(fapl);
}

static hsize_t random_slab(const struct spec *s, hid_t fs, int whole)
{
    hsize_t start[4], stride[4], count[4], block[4], n = 1;
    for (int d = 0; d < s->rank; d++) {
        hsize_t dim = s->dims[d];
        if (whole) {
            start[d] = 0, stride[d] = 1, block[d] = 1, count[d] = dim;
        } else if (d < s->rank - 1 || t_below(3)) {
            start[d] = t_below(dim);
            stride[d] = 1;
            block[d] = 1;
            count[d] = 1 + t_below(dim - start[d]);
            if (d < s->rank - 1 && count[d] > 40) count[d] = 1 + t_below(40);
        } else { /* strided last dimension */
            start[d] = t_below(dim / 2);
            block[d] = 1 + t_below(16);
            stride[d] = block[d] + 1 + t_below(16);
            count[d] = 1 + (dim - start[d] - block[d]) / stride[d];
            if (count[d] > 64) count[d] = 1 + t_below(64);
        }
        n *= count[d] * block[d];
    }
    H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, stride, count, block));
    return n;
}

/* Read selection fs of dh into memory selection ms of a device buffer
 * through H5FD_homi_dread and the same through sec2 (ds) into host memory;
 * the whole buffer (mbytes) plus guard bytes must be equal. */
static void compare_read(hid_t dh, hid_t ds, hid_t ms, hid_t fs, size_t mbytes, char *dev,
                         const char *what)
{
    size_t guard = 4096;
    char *want = malloc(mbytes + guard), *got = malloc(mbytes + guard);
    REQUIRE(want && got, "malloc");
    memset(want, 0x5c, mbytes + guard);
    H5_OK(H5Dread(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, want));
    CUDA_OK(cudaMemset(dev, 0x5c, mbytes + guard));
    char why[512];
    CHECK(H5FD_homi_dread_check(dh, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, why, sizeof why) == 1,
          "%s: refused: %s", what, why);
    double t0 = t_now();
    herr_t r = H5FD_homi_dread(dh, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, dev);
    double t1 = t_now();
    CHECK(r >= 0, "%s: H5FD_homi_dread failed", what);
    if (r < 0) H5Eprint2(H5E_DEFAULT, stderr);
    CUDA_OK(cudaMemcpy(got, dev, mbytes + guard, cudaMemcpyDeviceToHost));
    long long d = t_first_diff(got, want, mbytes + guard);
    CHECK(d < 0, "%s: device bytes differ from sec2 at %lld of %zu", what, d, mbytes);
    if (t1 - t0 > 0.5) printf("  %s: %.2f s\n", what, t1 - t0);
    free(want);
    free(got);
    t_bail_if_many();
}

static void one_read(hid_t dh, hid_t ds, const struct spec *s, int whole, int strided_mem,
                     char *dev)
{
    hid_t fs = H5Dget_space(dh);
    hsize_t n = random_slab(s, fs, whole);
    hsize_t mn = strided_mem ? 2 * n + 5 : n;
    hid_t ms = H5Screate_simple(1, &mn, NULL);
    if (strided_mem) {
        hsize_t st = 5, sd = 2, ct = n;
        H5_OK(H5Sselect_hyperslab(ms, H5S_SELECT_SET, &st, &sd, &ct, NULL));
    }
    char what[160];
    snprintf(what, sizeof what, "%s (%llu elements%s%s)", s->name, (unsigned long long)n,
             whole ? ", whole" : "", strided_mem ? ", strided memory" : "");
    compare_read(dh, ds, ms, fs, (size_t)mn * 4, dev, what);
    H5Sclose(ms);
    H5Sclose(fs);
}

/* Selections that hand the driver many small pieces (issue 25): strided
 * and blocked hyperslabs in every dimension, unions of boxes, points,
 * N-D selections into 1-D and into memory spaces of another shape. */
static void many_pieces(hid_t dh, hid_t ds, const struct spec *s, char *dev)
{
    hid_t fs = H5Dget_space(dh);
    hsize_t start[4], stride[4], count[4], block[4], n = 1;
    char what[160];
    /* strided + blocked in every dimension: pieces of block[last] floats */
    for (int d = 0; d < s->rank; d++) {
        block[d] = d == s->rank - 1 ? 4 : 1 + t_below(3);
        stride[d] = block[d] + 1 + t_below(3);
        start[d] = t_below(stride[d]);
        count[d] = (s->dims[d] - start[d] - block[d]) / stride[d] + 1;
        n *= count[d] * block[d];
    }
    H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, stride, count, block));
    hid_t ms = H5Screate_simple(1, &n, NULL);
    snprintf(what, sizeof what, "%s strided+blocked, %llu elements in 16-byte pieces into 1-D",
             s->name, (unsigned long long)n);
    compare_read(dh, ds, ms, fs, (size_t)n * 4, dev, what);
    H5Sclose(ms);
    /* the same into a memory space of the dataset's shape, shifted by one */
    hsize_t mdims[4], mstart[4];
    for (int d = 0; d < s->rank; d++) {
        mdims[d] = count[d] * block[d] + 2;
        mstart[d] = 1;
    }
    ms = H5Screate_simple(s->rank, mdims, NULL);
    H5_OK(H5Sselect_hyperslab(ms, H5S_SELECT_SET, mstart, block, count, block));
    hsize_t mn = 1;
    for (int d = 0; d < s->rank; d++)
        mn *= mdims[d];
    snprintf(what, sizeof what, "%s strided+blocked into an N-D memory space", s->name);
    compare_read(dh, ds, ms, fs, (size_t)mn * 4, dev, what);
    H5Sclose(ms);
    /* a union of random boxes */
    H5_OK(H5Sselect_none(fs));
    for (int b = 0; b < 12; b++) {
        for (int d = 0; d < s->rank; d++) {
            start[d] = t_below(s->dims[d]);
            count[d] = 1 + t_below(s->dims[d] - start[d] < 50 ? s->dims[d] - start[d] : 50);
        }
        H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL));
    }
    hssize_t np = H5Sget_select_npoints(fs);
    H5_OK(np);
    hsize_t un = (hsize_t)np;
    ms = H5Screate_simple(1, &un, NULL);
    snprintf(what, sizeof what, "%s union of 12 boxes (%llu elements)", s->name,
             (unsigned long long)un);
    compare_read(dh, ds, ms, fs, (size_t)un * 4, dev, what);
    H5Sclose(ms);
    /* random points, in random order */
    hsize_t npts = 5000;
    hsize_t *coord = malloc(npts * (size_t)s->rank * sizeof *coord);
    REQUIRE(coord, "malloc");
    for (hsize_t i = 0; i < npts; i++)
        for (int d = 0; d < s->rank; d++)
            coord[i * (hsize_t)s->rank + (hsize_t)d] = t_below(s->dims[d]);
    H5_OK(H5Sselect_elements(fs, H5S_SELECT_SET, npts, coord));
    free(coord);
    ms = H5Screate_simple(1, &npts, NULL);
    snprintf(what, sizeof what, "%s 5000 points", s->name);
    compare_read(dh, ds, ms, fs, (size_t)npts * 4, dev, what);
    H5Sclose(ms);
    H5Sclose(fs);
}

int main(void)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIP: no usable CUDA device\n");
        return 77;
    }
    t_seed_from_env(42);
    const char *dir = t_make_tmpdir("h5gpu");
    char path[4200];
    t_path(path, sizeof path, dir, "gpu.h5");
    make_file(path);

    hid_t fh = t_fapl_homi(NULL), fsec = t_fapl_sec2();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fh), g = H5Fopen(path, H5F_ACC_RDONLY, fsec);
    H5_OK(f);
    H5_OK(g);
    char *dev;
    size_t devbytes = 2 * 9000011 * 4 + 65536;
    CUDA_OK(cudaMalloc((void **)&dev, devbytes));
    for (size_t i = 0; i < NSPEC; i++) {
        const struct spec *s = &g_specs[i];
        if (s->deflate) continue;
        t_context = s->name;
        hid_t dh = H5Dopen2(f, s->name, H5P_DEFAULT), ds = H5Dopen2(g, s->name, H5P_DEFAULT);
        one_read(dh, ds, s, 1, 0, dev);
        one_read(dh, ds, s, 1, 1, dev); /* whole, into every other element */
        for (int k = 0; k < 6; k++)
            one_read(dh, ds, s, 0, k & 1, dev);
        many_pieces(dh, ds, s, dev);
        H5Dclose(dh);
        H5Dclose(ds);
    }
    homi_stats st;
    H5_OK(H5FD_homi_file_stats(f, &st));
    CHECK(st.staged_bytes > 0, "no bytes went through the staging pipeline");
    homi_stats_print(&st, 1.0, stdout);

    /* refused: filter, conversion, sec2 file; the buffer stays untouched */
    t_context = "refusals";
    t_h5_quiet();
    CUDA_OK(cudaMemset(dev, 0x77, 4096));
    hid_t dz = H5Dopen2(f, "z2", H5P_DEFAULT);
    CHECK(H5FD_homi_dread(dz, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dev) < 0,
          "deflate read into device memory accepted");
    CHECK(t_h5_error_has("filter"), "filter error text");
    H5Dclose(dz);
    hid_t dc = H5Dopen2(f, "c1", H5P_DEFAULT);
    CHECK(H5FD_homi_dread(dc, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dev) < 0,
          "converting read into device memory accepted");
    CHECK(t_h5_error_has("convert"), "conversion error text");
    hid_t dsec = H5Dopen2(g, "c1", H5P_DEFAULT);
    CHECK(H5FD_homi_dread(dsec, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dev) < 0,
          "sec2 read into device memory accepted");
    CHECK(t_h5_error_has("H5FD_homi"), "sec2 error text");
    H5Dclose(dsec);
    unsigned char chk[4096];
    CUDA_OK(cudaMemcpy(chk, dev, sizeof chk, cudaMemcpyDeviceToHost));
    int touched = 0;
    for (size_t i = 0; i < sizeof chk; i++)
        touched |= chk[i] != 0x77;
    CHECK(!touched, "a refused read touched the device buffer");

    /* freed device memory: an error, no crash */
    CUDA_OK(cudaFree(dev));
    hid_t fs1 = H5Dget_space(dc);
    hsize_t s0 = 0, c0 = 1 << 20;
    H5Sselect_hyperslab(fs1, H5S_SELECT_SET, &s0, NULL, &c0, NULL);
    hid_t ms1 = H5Screate_simple(1, &c0, NULL);
    CHECK(H5FD_homi_dread(dc, H5T_NATIVE_FLOAT, ms1, fs1, H5P_DEFAULT, dev) < 0,
          "read into freed device memory succeeded");
    H5Eclear2(H5E_DEFAULT);
    H5Sclose(ms1);
    H5Sclose(fs1);
    H5Dclose(dc);
    H5Fclose(f);
    H5Fclose(g);
    H5Pclose(fh);
    H5Pclose(fsec);
    H5close(); /* idle HOMI engines (pinned staging) go while CUDA is up */
    return t_finish("test_h5_gpu");
}
