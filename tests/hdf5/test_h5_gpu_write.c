/* test_h5_gpu_write.c - H5FD_homi_dwrite from CUDA device memory: the same
 * sequence of writes (whole datasets, random hyperslabs, strided memory
 * selections) goes to one file through sec2 from host memory and to
 * another through H5FD_homi from device memory; contiguous (storage not
 * yet allocated) and chunked (allocated early, or fill time never)
 * datasets, 1-D to 4-D.  The two files must be byte-identical, and h5dump
 * (when installed) must read the HOMI file.  Refused cases (filter, type
 * conversion, an unallocated chunk that HDF5 would fill, a sec2 file) give
 * an error with the reason; a freed device buffer gives an error, not a
 * crash.  Exits 77 without a GPU. */
#include <cuda_runtime_api.h>

#include "h5_test.h"

#define CUDA_OK(x)                                                                                 \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        REQUIRE(e_ == cudaSuccess, "%s: %s", #x, cudaGetErrorString(e_));                          \
    } while (0)

struct spec {
    const char *name;
    int rank;
    hsize_t dims[4], chunk[4];
    int early; /* chunked: H5D_ALLOC_TIME_EARLY, else fill time never */
};

static const struct spec g_specs[] = {
    {"c1", 1, {9000011}, {0}, 0},
    {"c2", 2, {3001, 1999}, {0}, 0},
    {"k1", 1, {9000011}, {300007}, 1},
    {"k2", 2, {3001, 1999}, {256, 509}, 1},
    {"k3", 3, {123, 77, 301}, {17, 32, 64}, 0},
    {"k4", 4, {21, 23, 25, 27}, {5, 6, 7, 8}, 1},
};
#define NSPEC (sizeof g_specs / sizeof g_specs[0])

static hsize_t npoints(const struct spec *s)
{
    hsize_t n = 1;
    for (int d = 0; d < s->rank; d++)
        n *= s->dims[d];
    return n;
}

static void create_all(hid_t f)
{
    for (size_t i = 0; i < NSPEC; i++) {
        const struct spec *s = &g_specs[i];
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5_OK(H5Pset_obj_track_times(dcpl, 0));
        if (s->chunk[0]) {
            H5_OK(H5Pset_chunk(dcpl, s->rank, s->chunk));
            if (s->early)
                H5_OK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
            else
                H5_OK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
        }
        hid_t sp = H5Screate_simple(s->rank, s->dims, NULL);
        hid_t d = H5Dcreate2(f, s->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5_OK(d);
        H5Dclose(d);
        H5Sclose(sp);
        H5Pclose(dcpl);
    }
    /* refused cases */
    hsize_t dims[2] = {1000, 1000}, chunk[2] = {100, 1000};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_OK(H5Pset_obj_track_times(dcpl, 0));
    H5_OK(H5Pset_chunk(dcpl, 2, chunk));
    hid_t d = H5Dcreate2(f, "late", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_OK(d);
    H5Dclose(d);
    H5_OK(H5Pset_deflate(dcpl, 1));
    d = H5Dcreate2(f, "z2", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_OK(d);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
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

/* The same write to both files: host -> sec2, device -> H5FD_homi. */
static void one_write(hid_t d_sec2, hid_t d_homi, const struct spec *s, int whole, int strided_mem,
                      char *dev)
{
    hid_t fs = H5Dget_space(d_sec2);
    hsize_t n = random_slab(s, fs, whole);
    if (n > 20000) strided_mem = 0; /* one driver write per element: keep it short */
    hsize_t mn = strided_mem ? 2 * n + 5 : n;
    size_t bytes = (size_t)mn * 4;
    hid_t ms = H5Screate_simple(1, &mn, NULL);
    if (strided_mem) {
        hsize_t st = 5, sd = 2, ct = n;
        H5_OK(H5Sselect_hyperslab(ms, H5S_SELECT_SET, &st, &sd, &ct, NULL));
    }
    char *host = malloc(bytes);
    REQUIRE(host, "malloc");
    t_fill_random(host, bytes);
    CUDA_OK(cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice));
    H5_OK(H5Dwrite(d_sec2, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, host));
    char why[512];
    CHECK(H5FD_homi_dwrite_check(d_homi, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, why, sizeof why) ==
              1,
          "%s: refused: %s", s->name, why);
    herr_t r = H5FD_homi_dwrite(d_homi, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, dev);
    CHECK(r >= 0, "%s (%llu elements%s): H5FD_homi_dwrite failed", s->name, (unsigned long long)n,
          whole ? ", whole" : "");
    if (r < 0) H5Eprint2(H5E_DEFAULT, stderr);
    free(host);
    H5Sclose(ms);
    H5Sclose(fs);
    t_bail_if_many();
}

static void refused(hid_t f, const char *dset, hid_t mtype, const char *text, char *dev)
{
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    H5_OK(d);
    t_h5_quiet();
    herr_t r = H5FD_homi_dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dev);
    CHECK(r < 0, "%s: device write was not refused", dset);
    CHECK(t_h5_error_has(text), "%s: the error stack does not say \"%s\"", dset, text);
    H5Dclose(d);
}

static void compare_files(const char *a, const char *b)
{
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    REQUIRE(x && y, "fopen");
    long long off = 0;
    int cx, cy;
    do {
        cx = fgetc(x);
        cy = fgetc(y);
        if (cx != cy) {
            T_FAIL("files differ at byte %lld (sec2 %d, homi %d)", off, cx, cy);
            break;
        }
        off++;
    } while (cx != EOF);
    printf("compared %lld bytes\n", off - 1);
    fclose(x);
    fclose(y);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0 || !homi_cuda_available()) {
        printf("SKIP: no CUDA device (%s)\n", e ? cudaGetErrorString(e) : "0 devices");
        return 77;
    }
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    printf("hdf5: %u.%u.%u\n", maj, min, rel);
    t_seed_from_env(0x22D5);
    const char *dir = t_make_tmpdir("h5gpuw");
    char p_sec2[4200], p_homi[4200];
    t_path(p_sec2, sizeof p_sec2, dir, "sec2.h5");
    t_path(p_homi, sizeof p_homi, dir, "homi.h5");
    hid_t fa_sec2 = t_fapl_sec2(), fa_homi = t_fapl_homi(NULL);
    /* the raw-data chunk cache H5Pset_fapl_homi sets (0 bytes): with a
     * cache, HDF5 would write whole chunks from its own uninitialised
     * buffers where a chunk is partly written with fill time "never" */
    int mdc;
    size_t rdcc_nslots, rdcc_nbytes;
    double w0;
    H5_OK(H5Pget_cache(fa_homi, &mdc, &rdcc_nslots, &rdcc_nbytes, &w0));
    H5_OK(H5Pset_cache(fa_sec2, mdc, rdcc_nslots, rdcc_nbytes, w0));
    hid_t f1 = H5Fcreate(p_sec2, H5F_ACC_TRUNC, H5P_DEFAULT, fa_sec2);
    hid_t f2 = H5Fcreate(p_homi, H5F_ACC_TRUNC, H5P_DEFAULT, fa_homi);
    H5_OK(f1);
    H5_OK(f2);
    create_all(f1);
    create_all(f2);

    char *dev = NULL;
    CUDA_OK(cudaMalloc((void **)&dev, 9000011 * 4 * 2 + 4096));
    for (size_t i = 0; i < NSPEC; i++) {
        const struct spec *s = &g_specs[i];
        t_context = s->name;
        hid_t d1 = H5Dopen2(f1, s->name, H5P_DEFAULT), d2 = H5Dopen2(f2, s->name, H5P_DEFAULT);
        H5_OK(d1);
        H5_OK(d2);
        /* a partial write first: contiguous storage is allocated by it */
        one_write(d1, d2, s, 0, 0, dev);
        one_write(d1, d2, s, 1, 0, dev);
        for (int k = 0; k < 12; k++)
            one_write(d1, d2, s, 0, k % 3 == 0, dev);
        printf("%s: %llu elements, 14 writes\n", s->name, (unsigned long long)npoints(s));
        H5Dclose(d1);
        H5Dclose(d2);
    }
    t_context = "refused";
    refused(f2, "z2", H5T_NATIVE_FLOAT, "filter", dev);
    refused(f2, "k2", H5T_NATIVE_DOUBLE, "memory type differs", dev);
    refused(f2, "late", H5T_NATIVE_FLOAT, "not allocated", dev);
    refused(f1, "k2", H5T_NATIVE_FLOAT, "not open with H5FD_homi", dev);

    homi_stats st;
    H5_OK(H5FD_homi_file_stats(f2, &st));
    homi_stats_print(&st, 0, stdout);
    CHECK(st.staged_write_bytes > 0 && st.write_path[HOMI_PATH_KERNEL].bytes > 0,
          "device writes not staged / not on the kernel path");
    H5_OK(H5Fclose(f1));
    H5_OK(H5Fclose(f2));
    t_context = "files";
    compare_files(p_sec2, p_homi);

    char cmd[17000];
    if (system("command -v h5dump > /dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "h5dump -d /k2 -s 0,0 -c 2,2 '%s' > /dev/null", p_homi);
        CHECK(system(cmd) == 0, "h5dump cannot read the file written from device memory");
        /* (the first line names the file) */
        snprintf(cmd, sizeof cmd,
                 "h5dump '%s' | tail -n +2 > '%s.dump' && h5dump '%s' | tail -n +2 | cmp -s - "
                 "'%s.dump'",
                 p_sec2, p_sec2, p_homi, p_sec2);
        CHECK(system(cmd) == 0, "h5dump output differs between the sec2 and HOMI files");
        printf("h5dump: read back, same output as sec2's file\n");
    } else {
        printf("h5dump not installed: byte comparison only\n");
    }

    /* a freed device buffer: an error, not a crash */
    t_context = "freed buffer";
    f2 = H5Fopen(p_homi, H5F_ACC_RDWR, fa_homi);
    H5_OK(f2);
    hid_t d = H5Dopen2(f2, "k2", H5P_DEFAULT);
    char *gone = NULL;
    CUDA_OK(cudaMalloc((void **)&gone, 3001 * 1999 * 4));
    CUDA_OK(cudaFree(gone));
    t_h5_quiet();
    CHECK(H5FD_homi_dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, gone) < 0,
          "write from a freed device buffer succeeded");
    H5Dclose(d);
    H5Fclose(f2);
    CUDA_OK(cudaFree(dev));
    H5Pclose(fa_sec2);
    H5Pclose(fa_homi);
    return t_finish("test_h5_gpu_write");
}
