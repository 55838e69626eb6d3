/* test_h5_bigfile.c - an HDF5 file larger than 4 GiB: a 5 GiB contiguous
 * dataset allocated early with fill time "never", so the file is sparse;
 * 1 MiB random blocks written (sec2 in one file, H5FD_homi in the other)
 * across the 2 GiB and 4 GiB boundaries and at the end; windows around
 * them (data + holes) read with both drivers and compared byte-for-byte
 * with the data written and zeros elsewhere. */
#include "h5_test.h"

#define M (1024ull * 1024ull)
#define SIZE (5ull << 30)

static const uint64_t g_at[] = {0, (2ull << 30) - 300 * 1024, (4ull << 30) - 12345, SIZE - M};

static void write_big(const char *path, hid_t fapl, unsigned char *blocks)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5_OK(f);
    hsize_t n = SIZE;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_OK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
    H5_OK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
    hid_t d = H5Dcreate2(f, "big", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_OK(d);
    for (size_t i = 0; i < sizeof g_at / sizeof g_at[0]; i++) {
        hsize_t start = g_at[i], count = M;
        hid_t fs = H5Scopy(sp), ms = H5Screate_simple(1, &count, NULL);
        H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL));
        H5_OK(H5Dwrite(d, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, blocks + i * M));
        H5Sclose(fs);
        H5Sclose(ms);
    }
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5_OK(H5Fclose(f));
}

/* Expected byte at dataset offset o. */
static unsigned char expect(const unsigned char *blocks, uint64_t o)
{
    for (size_t i = 0; i < sizeof g_at / sizeof g_at[0]; i++)
        if (o >= g_at[i] && o < g_at[i] + M) return blocks[i * M + (o - g_at[i])];
    return 0;
}

static void verify_big(const char *path, const unsigned char *blocks, const char *label)
{
    t_context = label;
    hid_t fa = t_fapl_homi(NULL), fb = t_fapl_sec2();
    hid_t f1 = H5Fopen(path, H5F_ACC_RDONLY, fa), f2 = H5Fopen(path, H5F_ACC_RDONLY, fb);
    H5_OK(f1);
    H5_OK(f2);
    hid_t d1 = H5Dopen2(f1, "big", H5P_DEFAULT), d2 = H5Dopen2(f2, "big", H5P_DEFAULT);
    haddr_t base = H5Dget_offset(d1);
    CHECK(base != HADDR_UNDEF, "no dataset address");
    hid_t sp = H5Dget_space(d1);
    size_t win = 3 * M;
    unsigned char *a = malloc(win), *b = malloc(win), *e = malloc(win);
    REQUIRE(a && b && e, "malloc");
    for (size_t i = 0; i < sizeof g_at / sizeof g_at[0]; i++) {
        hsize_t start = g_at[i] > M + 777 ? g_at[i] - M - 777 : 0;
        hsize_t count = start + win > SIZE ? SIZE - start : win;
        hid_t ms = H5Screate_simple(1, &count, NULL);
        H5_OK(H5Sselect_hyperslab(sp, H5S_SELECT_SET, &start, NULL, &count, NULL));
        memset(a, 0xEE, win);
        memset(b, 0xDD, win);
        H5_OK(H5Dread(d1, H5T_NATIVE_UCHAR, ms, sp, H5P_DEFAULT, a));
        H5_OK(H5Dread(d2, H5T_NATIVE_UCHAR, ms, sp, H5P_DEFAULT, b));
        for (hsize_t k = 0; k < count; k++)
            e[k] = expect(blocks, start + k);
        long long d = t_first_diff(a, e, count);
        CHECK(d < 0, "homi window at %llu (file offset %llu): differs from the data at +%lld",
              (unsigned long long)start, (unsigned long long)(base + start), d);
        d = t_first_diff(a, b, count);
        CHECK(d < 0, "homi and sec2 differ at +%lld of the window at %llu", d,
              (unsigned long long)start);
        H5Sclose(ms);
    }
    homi_stats st;
    H5_OK(H5FD_homi_file_stats(f1, &st));
    printf("%s: %llu bytes read, %llu as holes without I/O\n", label,
           (unsigned long long)st.read_bytes, (unsigned long long)st.path[HOMI_PATH_HOLE].bytes);
    free(a);
    free(b);
    free(e);
    H5Sclose(sp);
    H5Dclose(d1);
    H5Dclose(d2);
    H5Fclose(f1);
    H5Fclose(f2);
    H5Pclose(fa);
    H5Pclose(fb);
}

int main(void)
{
    t_seed_from_env(5);
    const char *dir = t_make_tmpdir("h5big");
    size_t nb = sizeof g_at / sizeof g_at[0];
    unsigned char *blocks = malloc(nb * M);
    REQUIRE(blocks, "malloc");
    t_fill_random(blocks, nb * M);
    char p1[4200], p2[4200];
    t_path(p1, sizeof p1, dir, "big-sec2.h5");
    t_path(p2, sizeof p2, dir, "big-homi.h5");
    hid_t fs = t_fapl_sec2(), fh = t_fapl_homi(NULL);
    write_big(p1, fs, blocks);
    write_big(p2, fh, blocks);
    struct stat st;
    REQUIRE(stat(p2, &st) == 0, "stat");
    CHECK((uint64_t)st.st_size > SIZE, "file size %lld", (long long)st.st_size);
    printf("files: %lld bytes each, %lld bytes allocated on disk (homi)\n", (long long)st.st_size,
           (long long)st.st_blocks * 512);
    verify_big(p1, blocks, "sec2-written 5 GiB file");
    verify_big(p2, blocks, "homi-written 5 GiB file");
    H5Pclose(fs);
    H5Pclose(fh);
    free(blocks);
    return t_finish("test_h5_bigfile");
}
