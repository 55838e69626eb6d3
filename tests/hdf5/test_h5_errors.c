/* test_h5_errors.c - H5FD_homi's errors: bad configurations (unknown key,
 * bad value, version, flags, full hints text, bad HOMI_* environment at
 * open), wrong property lists, missing files, writes to read-only files,
 * bad host buffers; and H5FD_homi_dread_check's verdict for each case
 * where HDF5 would touch a device buffer itself (conversion, filters,
 * compact layout, chunk cache, unallocated chunks, sec2, data sieve).
 * Every error must reach the HDF5 error stack with a clear text. */
#include <sys/mman.h>

#include "h5_test.h"

static char g_dir[4096];

static void config_errors(void)
{
    t_context = "config";
    H5FD_homi_config_t cfg;
    H5_OK(H5FD_homi_config_init(&cfg));
    CHECK(H5FD_homi_config_set(&cfg, "homi_bogus", "1") < 0, "unknown key accepted");
    CHECK(t_h5_error_has("homi_bogus"), "unknown key error");
    CHECK(H5FD_homi_config_set(&cfg, "homi_threads", "banana") < 0, "bad value accepted");
    CHECK(t_h5_error_has("homi_threads=banana"), "bad value error");
    CHECK(H5FD_homi_config_set(&cfg, "homi_threads", "2") >= 0, "good hint refused");
    CHECK(H5FD_homi_config_set(&cfg, "homi_chunk_size", "256K") >= 0, "good hint refused");
    CHECK(!strcmp(cfg.hints, "homi_threads=2,homi_chunk_size=256K"), "hints text \"%s\"",
          cfg.hints);
    CHECK(H5FD_homi_config_set(&cfg, "homi_path", "kernel two") < 0, "separator in value");
    H5Eclear2(H5E_DEFAULT);

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5FD_homi_config_t bad = cfg;
    snprintf(bad.hints, sizeof bad.hints, "homi_threads=2 homi_queue_depth=0");
    CHECK(H5Pset_fapl_homi(fapl, &bad) < 0, "bad hints text accepted");
    CHECK(t_h5_error_has("homi_queue_depth=0"), "bad hints text error");
    snprintf(bad.hints, sizeof bad.hints, "homi_threads");
    CHECK(H5Pset_fapl_homi(fapl, &bad) < 0, "hint without value accepted");
    CHECK(t_h5_error_has("not key=value"), "missing '=' error");
    bad = cfg;
    bad.version = 99;
    CHECK(H5Pset_fapl_homi(fapl, &bad) < 0, "bad version accepted");
    CHECK(t_h5_error_has("version 99"), "version error");
    bad = cfg;
    bad.flags = 0x100;
    CHECK(H5Pset_fapl_homi(fapl, &bad) < 0, "bad flags accepted");
    CHECK(t_h5_error_has("flags"), "flags error");
    bad = cfg;
    memset(bad.hints, 'x', sizeof bad.hints);
    CHECK(H5Pset_fapl_homi(fapl, &bad) < 0, "unterminated hints accepted");
    CHECK(t_h5_error_has("NUL"), "unterminated hints error");

    H5FD_homi_config_t full;
    H5_OK(H5FD_homi_config_init(&full));
    int added = 0;
    while (H5FD_homi_config_set(&full, "homi_threads", "3") >= 0)
        added++;
    CHECK(added > 10 && t_h5_error_has("full"), "full hints text error");

    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK(H5Pset_fapl_homi(dcpl, NULL) < 0, "dataset creation plist accepted");
    CHECK(t_h5_error_has("not a file access property list"), "wrong plist error");
    H5Pclose(dcpl);
    H5FD_homi_config_t out;
    CHECK(H5Pget_fapl_homi(fapl, &out) < 0, "get on a non-homi fapl");
    CHECK(t_h5_error_has("does not use the HOMI driver"), "get error");

    H5_OK(H5Pset_fapl_homi(fapl, &cfg));
    H5_OK(H5Pget_fapl_homi(fapl, &out));
    CHECK(!memcmp(&out, &cfg, sizeof cfg), "H5Pget_fapl_homi returned another config");
    size_t nbytes;
    H5_OK(H5Pget_cache(fapl, NULL, NULL, &nbytes, NULL));
    CHECK(nbytes == 0, "chunk cache %zu bytes, want 0", nbytes);
    hid_t copy = H5Pcopy(fapl);
    H5_OK(H5Pget_fapl_homi(copy, &out));
    CHECK(!strcmp(out.hints, cfg.hints), "copied fapl lost the hints");
    H5Pclose(copy);
    H5Pclose(fapl);

    /* bad environment: reported at open, naming the variable */
    char path[4200];
    t_path(path, sizeof path, g_dir, "env.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    setenv("HOMI_QUEUE_DEPTH", "-5", 1);
    fapl = t_fapl_homi(NULL);
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    CHECK(f < 0, "open with a bad HOMI_QUEUE_DEPTH succeeded");
    CHECK(t_h5_error_has("environment"), "bad environment error");
    H5Pclose(fapl);
    /* ... unless the config says to ignore the environment */
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5FD_homi_config_t ne;
    H5_OK(H5FD_homi_config_init(&ne));
    ne.flags = H5FD_HOMI_NO_ENV;
    H5_OK(H5Pset_fapl_homi(fapl, &ne));
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    CHECK(f >= 0, "H5FD_HOMI_NO_ENV open failed");
    if (f >= 0) H5Fclose(f);
    H5Pclose(fapl);
    unsetenv("HOMI_QUEUE_DEPTH");
}

static void open_errors(void)
{
    t_context = "open";
    hid_t fapl = t_fapl_homi(NULL);
    char path[4200];
    t_path(path, sizeof path, g_dir, "missing.h5");
    CHECK(H5Fopen(path, H5F_ACC_RDONLY, fapl) < 0, "opened a missing file");
    CHECK(t_h5_error_has("No such file"), "missing file error");
    CHECK(H5Fopen(g_dir, H5F_ACC_RDONLY, fapl) < 0, "opened a directory");
    H5Eclear2(H5E_DEFAULT);
    t_path(path, sizeof path, g_dir, "excl.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    H5_OK(f);
    H5Fclose(f);
    CHECK(H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, fapl) < 0, "H5F_ACC_EXCL over a file");
    H5Eclear2(H5E_DEFAULT);
    /* read-only file: dataset creation fails cleanly */
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5_OK(f);
    hsize_t n = 10;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    CHECK(H5Dcreate2(f, "x", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) < 0,
          "created a dataset in a read-only file");
    H5Eclear2(H5E_DEFAULT);
    H5Sclose(sp);
    H5Fclose(f);
    /* a non-HDF5 file */
    t_path(path, sizeof path, g_dir, "junk.h5");
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    t_pwrite_all(fd, "not an HDF5 file at all, just text\n", 35, 0);
    close(fd);
    CHECK(H5Fopen(path, H5F_ACC_RDONLY, fapl) < 0, "opened junk as HDF5");
    H5Eclear2(H5E_DEFAULT);
    H5Pclose(fapl);
}

/* Datasets for the device-read checks, in one file. */
static void make_check_file(const char *path, hid_t fapl)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5_OK(f);
    hsize_t n = 1u << 20, c = 65536, cn = 1000;
    hid_t sp = H5Screate_simple(1, &n, NULL), spc = H5Screate_simple(1, &cn, NULL);
    float *data = malloc(n * sizeof *data);
    REQUIRE(data, "malloc");
    for (hsize_t i = 0; i < n; i++)
        data[i] = (float)i * 0.5f;
    hid_t d = H5Dcreate2(f, "contig", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(d);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_OK(H5Pset_chunk(dcpl, 1, &c));
    d = H5Dcreate2(f, "chunked", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(d);
    /* only the first chunk written */
    d = H5Dcreate2(f, "chunked_holes", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hsize_t start = 0;
    hid_t fs = H5Scopy(sp), ms = H5Screate_simple(1, &c, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &c, NULL);
    H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, data));
    H5Dclose(d);
    H5Pclose(dcpl);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_OK(H5Pset_chunk(dcpl, 1, &c));
    H5_OK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
    d = H5Dcreate2(f, "chunked_holes_nofill", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, data));
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(fs);
    H5Sclose(ms);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_OK(H5Pset_chunk(dcpl, 1, &c));
    H5_OK(H5Pset_deflate(dcpl, 1));
    d = H5Dcreate2(f, "deflate", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(d);
    H5Pclose(dcpl);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_OK(H5Pset_layout(dcpl, H5D_COMPACT));
    d = H5Dcreate2(f, "compact", H5T_NATIVE_FLOAT, spc, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(d);
    H5Pclose(dcpl);
    d = H5Dcreate2(f, "contig_unwritten", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT,
                   H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Sclose(spc);
    free(data);
    H5_OK(H5Fclose(f));
}

static void expect_check(hid_t f, const char *name, hid_t mtype, int want, const char *text)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    H5_OK(d);
    char why[512];
    htri_t r = H5FD_homi_dread_check(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, why, sizeof why);
    CHECK(r == want, "%s: dread_check %d, want %d (%s)", name, (int)r, want, why);
    if (text) CHECK(strstr(why, text) != NULL, "%s: reason \"%s\" lacks \"%s\"", name, why, text);
    H5Dclose(d);
}

static void dread_checks(void)
{
    t_context = "dread_check";
    char path[4200];
    t_path(path, sizeof path, g_dir, "checks.h5");
    hid_t fapl = t_fapl_homi(NULL);
    make_check_file(path, fapl);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5_OK(f);
    expect_check(f, "contig", H5T_NATIVE_FLOAT, 1, NULL);
    expect_check(f, "chunked", H5T_NATIVE_FLOAT, 1, NULL);
    expect_check(f, "chunked_holes_nofill", H5T_NATIVE_FLOAT, 1, NULL);
    expect_check(f, "contig", H5T_NATIVE_DOUBLE, 0, "convert");
    expect_check(f, "chunked_holes", H5T_NATIVE_FLOAT, 0, "not allocated");
    expect_check(f, "deflate", H5T_NATIVE_FLOAT, 0, "deflate");
    expect_check(f, "compact", H5T_NATIVE_FLOAT, 0, "compact");
    expect_check(f, "contig_unwritten", H5T_NATIVE_FLOAT, 0, "not allocated");

    /* a selection inside the written chunk is fine */
    hid_t d = H5Dopen2(f, "chunked_holes", H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t start = 100, count = 1000;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
    char why[512];
    CHECK(H5FD_homi_dread_check(d, H5T_NATIVE_FLOAT, H5S_ALL, fs, H5P_DEFAULT, why, sizeof why) ==
              1,
          "selection in the written chunk refused: %s", why);
    /* and the helper reads it (host buffer) */
    float buf[1000];
    hid_t ms = H5Screate_simple(1, &count, NULL);
    H5_OK(H5FD_homi_dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, buf));
    CHECK(buf[0] == 50.0f && buf[999] == 549.5f, "H5FD_homi_dread values %g %g", buf[0], buf[999]);
    /* a bad host buffer: an error, not a crash (contiguous: HDF5 hands it
     * straight to the driver) */
    void *bad = mmap(NULL, 1 << 16, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(bad != MAP_FAILED, "mmap");
    hid_t dc = H5Dopen2(f, "contig", H5P_DEFAULT);
    hid_t fs2 = H5Dget_space(dc);
    hsize_t s2 = 4096, c2 = 4096;
    H5Sselect_hyperslab(fs2, H5S_SELECT_SET, &s2, NULL, &c2, NULL);
    hid_t ms2 = H5Screate_simple(1, &c2, NULL);
    CHECK(H5Dread(dc, H5T_NATIVE_FLOAT, ms2, fs2, H5P_DEFAULT, bad) < 0,
          "read into a PROT_NONE buffer succeeded");
    CHECK(t_h5_error_has("homi read of 16384 bytes"), "bad buffer error");
    munmap(bad, 1 << 16);
    CHECK(H5FD_homi_dread(dc, H5T_NATIVE_FLOAT, ms2, fs2, H5P_DEFAULT, NULL) < 0, "NULL buffer");
    CHECK(t_h5_error_has("NULL buffer"), "NULL buffer error");
    H5Sclose(ms2);
    H5Sclose(fs2);
    H5Dclose(dc);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);

    /* chunk cache kept: chunks of 256 KiB fit the default 1 MiB cache */
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5FD_homi_config_t cfg;
    H5FD_homi_config_init(&cfg);
    cfg.flags = H5FD_HOMI_KEEP_CHUNK_CACHE;
    H5_OK(H5Pset_fapl_homi(fapl, &cfg));
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5_OK(f);
    expect_check(f, "chunked", H5T_NATIVE_FLOAT, 0, "chunk cache");
    expect_check(f, "contig", H5T_NATIVE_FLOAT, 1, NULL);
    H5Fclose(f);
    /* ... unless the dataset is opened without a cache */
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5_OK(H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT));
    d = H5Dopen2(f, "chunked", dapl);
    CHECK(H5FD_homi_dread_check(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, why,
                                sizeof why) == 1,
          "chunked with a 0-byte dataset cache refused: %s", why);
    H5Dclose(d);
    H5Pclose(dapl);
    H5Fclose(f);
    H5Pclose(fapl);

    /* data sieve on: refused */
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    cfg.flags = H5FD_HOMI_DATA_SIEVE;
    H5_OK(H5Pset_fapl_homi(fapl, &cfg));
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    expect_check(f, "contig", H5T_NATIVE_FLOAT, 0, "sieve");
    H5Fclose(f);
    H5Pclose(fapl);

    /* sec2: refused */
    fapl = t_fapl_sec2();
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    expect_check(f, "contig", H5T_NATIVE_FLOAT, 0, "not open with H5FD_homi");
    H5Fclose(f);
    H5Pclose(fapl);
}

int main(void)
{
    t_seed_from_env(1);
    snprintf(g_dir, sizeof g_dir, "%s", t_make_tmpdir("h5errors"));
    t_h5_quiet();
    config_errors();
    open_errors();
    dread_checks();
    return t_finish("test_h5_errors");
}
