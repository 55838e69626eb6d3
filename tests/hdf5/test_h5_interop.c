/* test_h5_interop.c - HDF5 files written with the stock sec2 driver and
 * with H5FD_homi, each read back with both drivers: many datatypes,
 * contiguous / chunked (partial edge chunks) / compact layouts, 1-D to 4-D
 * hyperslabs (strided, blocked, into strided memory selections), groups,
 * attributes, unallocated storage with fill values, early allocation with
 * unwritten (sparse) regions.  Every read through H5FD_homi is compared
 * byte-for-byte with the same read through sec2 and with the data written;
 * the two files themselves must be byte-identical (object times are off).
 *
 *   test_h5_interop [--write-only DIR]   (--write-only: leave DIR/sec2.h5
 *                                          and DIR/homi.h5 for h5dump/h5ls) */
#include <time.h>

#include "h5_test.h"

#define MAXDS 96

struct ds {
    char name[96];
    hid_t type; /* file and memory type (no conversion) */
    size_t esize;
    int rank;
    hsize_t dims[4];
    hsize_t chunk[4]; /* chunk[0] == 0: not chunked      */
    int compact;
    int hole; /* 0 none, 1 chunked late + fill, 2 contig late never written, 3 early / fill never, 4
                 early + fill */
    size_t n; /* elements */
    unsigned char *ref;
};

static struct ds g_ds[MAXDS];
static int g_nds;
static hid_t g_types[16];
static const char *g_type_names[16];
static int g_ntypes;

static void add_type(const char *name, hid_t t)
{
    g_type_names[g_ntypes] = name;
    g_types[g_ntypes++] = t;
}

static void make_types(void)
{
    add_type("i8", H5T_NATIVE_SCHAR);
    add_type("u8", H5T_NATIVE_UCHAR);
    add_type("i16", H5T_NATIVE_SHORT);
    add_type("u16be", H5T_STD_U16BE);
    add_type("i32", H5T_NATIVE_INT);
    add_type("u32", H5T_NATIVE_UINT);
    add_type("i64", H5T_NATIVE_LLONG);
    add_type("u64be", H5T_STD_U64BE);
    add_type("f32", H5T_NATIVE_FLOAT);
    add_type("f64", H5T_NATIVE_DOUBLE);
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, 13);
    add_type("str13", s);
    hid_t c = H5Tcreate(H5T_COMPOUND, 4 + 8 + 3);
    H5Tinsert(c, "a", 0, H5T_NATIVE_INT);
    H5Tinsert(c, "b", 4, H5T_NATIVE_DOUBLE);
    hid_t c3 = H5Tcopy(H5T_C_S1);
    H5Tset_size(c3, 3);
    H5Tinsert(c, "c", 12, c3);
    add_type("compound", c);
    hsize_t adim = 3;
    add_type("array", H5Tarray_create2(H5T_NATIVE_SHORT, 1, &adim));
    hid_t o = H5Tcreate(H5T_OPAQUE, 7);
    H5Tset_tag(o, "homi-test-opaque");
    add_type("opaque", o);
}

static struct ds *add_ds(const char *name, hid_t type, int rank, const hsize_t *dims,
                         const hsize_t *chunk)
{
    REQUIRE(g_nds < MAXDS, "too many datasets");
    struct ds *d = &g_ds[g_nds++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->type = type;
    d->esize = H5Tget_size(type);
    d->rank = rank;
    d->n = 1;
    for (int i = 0; i < rank; i++) {
        d->dims[i] = dims[i];
        d->chunk[i] = chunk ? chunk[i] : 0;
        d->n *= dims[i];
    }
    d->ref = malloc(d->n * d->esize);
    REQUIRE(d->ref, "malloc");
    t_fill_random(d->ref, d->n * d->esize);
    return d;
}

static void make_specs(void)
{
    char name[96];
    for (int t = 0; t < g_ntypes; t++) {
        hsize_t n = 1000, c = 64, nc = 100;
        snprintf(name, sizeof name, "/types/%s_contig", g_type_names[t]);
        add_ds(name, g_types[t], 1, &n, NULL);
        snprintf(name, sizeof name, "/types/%s_chunk", g_type_names[t]);
        add_ds(name, g_types[t], 1, &n, &c);
        snprintf(name, sizeof name, "/types/%s_compact", g_type_names[t]);
        add_ds(name, g_types[t], 1, &nc, NULL)->compact = 1;
    }
    static const hsize_t dims[4][4] = {{100003}, {301, 257}, {37, 41, 43}, {11, 13, 17, 19}};
    static const hsize_t chunks[4][4] = {{4099}, {64, 50}, {8, 16, 10}, {4, 5, 6, 7}};
    hid_t rtypes[4] = {H5T_NATIVE_FLOAT, H5T_NATIVE_INT, H5T_NATIVE_DOUBLE, H5T_NATIVE_SHORT};
    for (int r = 1; r <= 4; r++) {
        snprintf(name, sizeof name, "/ranks/r%d_contig", r);
        add_ds(name, rtypes[r - 1], r, dims[r - 1], NULL);
        snprintf(name, sizeof name, "/ranks/r%d_chunk", r);
        add_ds(name, rtypes[r - 1], r, dims[r - 1], chunks[r - 1]);
    }
    /* 2-D chunks larger than HDF5's default 1 MiB chunk cache */
    hsize_t bd[2] = {1200, 700}, bc[2] = {600, 500};
    add_ds("/ranks/r2_bigchunk", H5T_NATIVE_FLOAT, 2, bd, bc);

    /* holes */
    hsize_t hn = 100000, hc = 1000;
    add_ds("/holes/chunk_late_fill", H5T_NATIVE_INT, 1, &hn, &hc)->hole = 1;
    hsize_t ln = 50000;
    add_ds("/holes/contig_late_unwritten", H5T_NATIVE_INT, 1, &ln, NULL)->hole = 2;
    hsize_t en = 8u << 20;
    add_ds("/holes/contig_early_never", H5T_NATIVE_UCHAR, 1, &en, NULL)->hole = 3;
    hsize_t fn = 300000;
    add_ds("/holes/contig_early_fill", H5T_NATIVE_SHORT, 1, &fn, NULL)->hole = 4;
    hsize_t gn = 5000;
    add_ds("/g1/g2/g3/deep", H5T_NATIVE_DOUBLE, 1, &gn, NULL);
}

static const int g_fill_i32 = 0x5a5a1234;
static const short g_fill_i16 = -7;

/* Written ranges (elements) of the hole datasets; the rest is fill/zero. */
static const hsize_t hole_ranges[][2] = {{10000, 20000}, {55500, 56700}};

static void set_expected_holes(struct ds *d)
{
    unsigned char *data = malloc(d->n * d->esize);
    REQUIRE(data, "malloc");
    memcpy(data, d->ref, d->n * d->esize);
    for (size_t i = 0; i < d->n; i++) {
        unsigned char *p = d->ref + i * d->esize;
        if (d->hole == 1 || d->hole == 2)
            memcpy(p, &g_fill_i32, 4);
        else if (d->hole == 3)
            memset(p, 0, d->esize);
        else
            memcpy(p, &g_fill_i16, 2);
    }
    if (d->hole != 2) {
        hsize_t scale = d->hole == 3 ? 83 : 1; /* uchar: ranges scaled up */
        for (int r = 0; r < 2; r++) {
            size_t a = (size_t)(hole_ranges[r][0] * scale), b = (size_t)(hole_ranges[r][1] * scale);
            memcpy(d->ref + a * d->esize, data + a * d->esize, (b - a) * d->esize);
        }
    }
    free(data);
}

static void write_attrs(hid_t file)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 24);
    hid_t a = H5Acreate2(file, "title", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5_OK(H5Awrite(a, st, "HOMI interop test file!"));
    H5Aclose(a);
    H5Tclose(st);
    H5Sclose(sp);

    hsize_t n = 5;
    sp = H5Screate_simple(1, &n, NULL);
    hid_t g = H5Gopen2(file, "/g1", H5P_DEFAULT);
    int iv[5] = {1, -2, 3, -4, 5};
    a = H5Acreate2(g, "ints", H5T_STD_I32BE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5_OK(H5Awrite(a, H5T_NATIVE_INT, iv));
    H5Aclose(a);
    H5Gclose(g);
    hid_t d = H5Dopen2(file, "/g1/g2/g3/deep", H5P_DEFAULT);
    double dv[5] = {0.5, 1.5, -2.25, 1e300, -0.0};
    a = H5Acreate2(d, "doubles", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5_OK(H5Awrite(a, H5T_NATIVE_DOUBLE, dv));
    H5Aclose(a);
    H5Dclose(d);
    H5Sclose(sp);
}

static void check_attrs(hid_t file)
{
    char title[24];
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 24);
    hid_t a = H5Aopen(file, "title", H5P_DEFAULT);
    H5_OK(H5Aread(a, st, title));
    CHECK(!strcmp(title, "HOMI interop test file!"), "title attribute \"%s\"", title);
    H5Aclose(a);
    H5Tclose(st);
    int iv[5];
    a = H5Aopen_by_name(file, "/g1", "ints", H5P_DEFAULT, H5P_DEFAULT);
    H5_OK(H5Aread(a, H5T_NATIVE_INT, iv));
    CHECK(iv[0] == 1 && iv[1] == -2 && iv[4] == 5, "ints attribute");
    H5Aclose(a);
    double dv[5];
    a = H5Aopen_by_name(file, "/g1/g2/g3/deep", "doubles", H5P_DEFAULT, H5P_DEFAULT);
    H5_OK(H5Aread(a, H5T_NATIVE_DOUBLE, dv));
    CHECK(dv[0] == 0.5 && dv[3] == 1e300, "doubles attribute");
    H5Aclose(a);
    H5G_info_t gi;
    H5_OK(H5Gget_info_by_name(file, "/types", &gi, H5P_DEFAULT));
    CHECK(gi.nlinks == (hsize_t)g_ntypes * 3, "/types has %llu links, want %d",
          (unsigned long long)gi.nlinks, g_ntypes * 3);
}

static void write_file(const char *path, hid_t fapl)
{
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5_OK(H5Pset_obj_track_times(gcpl, 0));
    H5_OK(H5Pset_create_intermediate_group(lcpl, 1));
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5_OK(file);
    for (int i = 0; i < g_nds; i++) {
        struct ds *d = &g_ds[i];
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5_OK(H5Pset_obj_track_times(dcpl, 0));
        if (d->chunk[0]) H5_OK(H5Pset_chunk(dcpl, d->rank, d->chunk));
        if (d->compact) H5_OK(H5Pset_layout(dcpl, H5D_COMPACT));
        if (d->hole == 1 || d->hole == 2) {
            H5_OK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE));
            H5_OK(H5Pset_fill_value(dcpl, H5T_NATIVE_INT, &g_fill_i32));
        } else if (d->hole == 3) {
            H5_OK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
            H5_OK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
        } else if (d->hole == 4) {
            H5_OK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
            H5_OK(H5Pset_fill_value(dcpl, H5T_NATIVE_SHORT, &g_fill_i16));
        }
        hid_t sp = H5Screate_simple(d->rank, d->dims, NULL);
        hid_t ds = H5Dcreate2(file, d->name, d->type, sp, lcpl, dcpl, H5P_DEFAULT);
        H5_OK(ds);
        if (!d->hole) {
            H5_OK(H5Dwrite(ds, d->type, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->ref));
        } else if (d->hole != 2) {
            hsize_t scale = d->hole == 3 ? 83 : 1;
            for (int r = 0; r < 2; r++) {
                hsize_t start = hole_ranges[r][0] * scale;
                hsize_t count = (hole_ranges[r][1] - hole_ranges[r][0]) * scale;
                hid_t fs = H5Scopy(sp), ms = H5Screate_simple(1, &count, NULL);
                H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL));
                H5_OK(H5Dwrite(ds, d->type, ms, fs, H5P_DEFAULT, d->ref + start * d->esize));
                H5Sclose(fs);
                H5Sclose(ms);
            }
        }
        H5Dclose(ds);
        H5Sclose(sp);
        H5Pclose(dcpl);
    }
    write_attrs(file);
    H5_OK(H5Fclose(file));
    H5Pclose(gcpl);
    H5Pclose(lcpl);
}

/* A random hyperslab of d in fs; returns the number of elements. */
static hsize_t random_hyperslab(const struct ds *d, hid_t fs)
{
    hsize_t start[4], stride[4], count[4], block[4], n = 1;
    for (int i = 0; i < d->rank; i++) {
        hsize_t dim = d->dims[i];
        start[i] = t_below(dim);
        hsize_t left = dim - start[i];
        block[i] = 1 + t_below(left < 5 ? left : (t_below(4) ? 5 : left));
        stride[i] = block[i] + t_below(4);
        count[i] = 1;
        if (left > block[i]) count[i] += t_below((left - block[i]) / stride[i] + 1);
        /* bound the number of pieces (no sieve buffer: one driver read each) */
        if (i < d->rank - 1) {
            if (block[i] > 3) block[i] = 1 + t_below(3);
            stride[i] = block[i] + t_below(4);
            count[i] = 1 + t_below(4);
            while (count[i] > 1 && start[i] + (count[i] - 1) * stride[i] + block[i] > dim)
                count[i]--;
        } else if (count[i] > 300) {
            count[i] = 1 + t_below(300);
        }
        n *= count[i] * block[i];
    }
    /* at most ~200 contiguous pieces in all */
    hsize_t rows = 1;
    for (int i = 0; i < d->rank - 1; i++)
        rows *= count[i] * block[i];
    int last = d->rank - 1;
    while (rows * count[last] > 200 && count[last] > 1) {
        n = n / count[last] * (count[last] / 2);
        count[last] /= 2;
    }
    H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, stride, count, block));
    return n;
}

/* Read fs (n elements) from two datasets into memory selections; the
 * memory is a strided 1-D selection half the time. */
static void compare_read(const struct ds *d, hid_t da, hid_t db, hid_t fs, hsize_t n,
                         const char *what)
{
    /* a strided memory selection makes one driver read per element */
    int strided = n <= 2048 && t_below(2);
    hsize_t mn = strided ? 2 * n + 7 : n;
    size_t bytes = (size_t)(mn * d->esize);
    unsigned char *a = malloc(bytes), *b = malloc(bytes);
    REQUIRE(a && b, "malloc %zu", bytes);
    memset(a, 0xC3, bytes);
    memset(b, 0xC3, bytes);
    hid_t ms = H5Screate_simple(1, &mn, NULL);
    if (strided) {
        hsize_t st = 3, sd = 2, ct = n;
        H5_OK(H5Sselect_hyperslab(ms, H5S_SELECT_SET, &st, &sd, &ct, NULL));
    }
    herr_t ra = H5Dread(da, d->type, ms, fs, H5P_DEFAULT, a);
    herr_t rb = H5Dread(db, d->type, ms, fs, H5P_DEFAULT, b);
    CHECK(ra >= 0 && rb >= 0, "%s %s: H5Dread homi %d sec2 %d", d->name, what, (int)ra, (int)rb);
    long long diff = t_first_diff(a, b, bytes);
    CHECK(diff < 0, "%s %s: H5FD_homi and sec2 differ at byte %lld of %zu", d->name, what, diff,
          bytes);
    H5Sclose(ms);
    free(a);
    free(b);
    t_bail_if_many();
}

/* Read everything in path with fapl_t (under test) and sec2. */
static void verify_file(const char *path, hid_t fapl_t, const char *label, int nhyper)
{
    t_context = label;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hid_t fapl_s = t_fapl_sec2();
    hid_t ft = H5Fopen(path, H5F_ACC_RDONLY, fapl_t), fs2 = H5Fopen(path, H5F_ACC_RDONLY, fapl_s);
    H5_OK(ft);
    H5_OK(fs2);
    check_attrs(ft);
    for (int i = 0; i < g_nds; i++) {
        const struct ds *d = &g_ds[i];
        struct timespec q0, q1;
        clock_gettime(CLOCK_MONOTONIC, &q0);
        hid_t da = H5Dopen2(ft, d->name, H5P_DEFAULT), db = H5Dopen2(fs2, d->name, H5P_DEFAULT);
        H5_OK(da);
        H5_OK(db);
        size_t bytes = d->n * d->esize;
        unsigned char *buf = malloc(bytes);
        REQUIRE(buf, "malloc");
        memset(buf, 0xEE, bytes);
        H5_OK(H5Dread(da, d->type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
        long long diff = t_first_diff(buf, d->ref, bytes);
        CHECK(diff < 0, "%s: whole read differs from the data written at byte %lld of %zu", d->name,
              diff, bytes);
        free(buf);
        hid_t sp = H5Dget_space(da);
        for (int k = 0; k < nhyper; k++) {
            hsize_t n = random_hyperslab(d, sp);
            char what[32];
            snprintf(what, sizeof what, "hyperslab %d", k);
            compare_read(d, da, db, sp, n, what);
        }
        H5Sclose(sp);
        H5Dclose(da);
        H5Dclose(db);
        clock_gettime(CLOCK_MONOTONIC, &q1);
        double sec = (double)(q1.tv_sec - q0.tv_sec) + 1e-9 * (double)(q1.tv_nsec - q0.tv_nsec);
        if (sec > 0.5) printf("  %s: %.2f s\n", d->name, sec);
    }
    H5_OK(H5Fclose(ft));
    H5_OK(H5Fclose(fs2));
    H5Pclose(fapl_s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("verified %s: %.2f s\n", label,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
}

static void compare_files(const char *a, const char *b)
{
    int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
    REQUIRE(fa >= 0 && fb >= 0, "open");
    struct stat sa, sb;
    fstat(fa, &sa);
    fstat(fb, &sb);
    CHECK(sa.st_size == sb.st_size, "file sizes differ: sec2 %lld, homi %lld",
          (long long)sa.st_size, (long long)sb.st_size);
    size_t n = (size_t)(sa.st_size < sb.st_size ? sa.st_size : sb.st_size);
    char *x = malloc(n + 1), *y = malloc(n + 1);
    REQUIRE(x && y, "malloc");
    REQUIRE(t_pread_ref(fa, x, n, 0) == (ssize_t)n && t_pread_ref(fb, y, n, 0) == (ssize_t)n,
            "read");
    long long d = t_first_diff(x, y, n);
    CHECK(d < 0, "file written through H5FD_homi differs from the sec2 one at byte %lld", d);
    free(x);
    free(y);
    close(fa);
    close(fb);
}

int main(int argc, char **argv)
{
    t_seed_from_env(0x6d6f68);
    const char *dir;
    int write_only = argc > 2 && !strcmp(argv[1], "--write-only");
    dir = write_only ? argv[2] : t_make_tmpdir("h5interop");
    make_types();
    make_specs();
    for (int i = 0; i < g_nds; i++)
        if (g_ds[i].hole) set_expected_holes(&g_ds[i]);

    char p_sec2[4200], p_homi[4200];
    t_path(p_sec2, sizeof p_sec2, dir, "sec2.h5");
    t_path(p_homi, sizeof p_homi, dir, "homi.h5");
    hid_t fapl_s = t_fapl_sec2(), fapl_h = t_fapl_homi(NULL);
    t_context = "write";
    write_file(p_sec2, fapl_s);
    write_file(p_homi, fapl_h);
    if (write_only) {
        printf("wrote %s and %s\n", p_sec2, p_homi);
        return t_finish("test_h5_interop --write-only");
    }
    compare_files(p_sec2, p_homi);

    verify_file(p_sec2, fapl_h, "sec2 file, homi defaults", 6);
    verify_file(p_homi, fapl_h, "homi file, homi defaults", 6);
    verify_file(p_homi, fapl_s, "homi file, sec2 only", 2);
    hid_t fapl_d = t_fapl_homi("homi_direct=on,homi_chunk_size=64K;homi_min_hole=4K");
    verify_file(p_sec2, fapl_d, "sec2 file, homi O_DIRECT 64K chunks", 1);
    H5Pclose(fapl_d);
    hid_t fapl_n = t_fapl_homi("homi_hole_skip=off homi_threads=1 homi_inline_sync=off");
    verify_file(p_homi, fapl_n, "homi file, homi no hole skip, 1 thread", 1);
    H5Pclose(fapl_n);
    /* data sieving on (host-only mode) */
    hid_t fapl_v = H5Pcreate(H5P_FILE_ACCESS);
    H5FD_homi_config_t cv;
    H5_OK(H5FD_homi_config_init(&cv));
    cv.flags = H5FD_HOMI_DATA_SIEVE | H5FD_HOMI_KEEP_CHUNK_CACHE;
    H5_OK(H5Pset_fapl_homi(fapl_v, &cv));
    verify_file(p_sec2, fapl_v, "sec2 file, homi with data sieve and chunk cache", 6);
    H5Pclose(fapl_v);

    /* the driver's statistics: bytes went through the kernel path */
    hid_t f = H5Fopen(p_sec2, H5F_ACC_RDONLY, fapl_h);
    H5_OK(f);
    hid_t d = H5Dopen2(f, "/ranks/r2_bigchunk", H5P_DEFAULT);
    float *buf = malloc(1200 * 700 * 4);
    H5_OK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    homi_stats st;
    H5_OK(H5FD_homi_file_stats(f, &st));
    CHECK(st.read_bytes >= 1200 * 700 * 4, "stats: %llu bytes read",
          (unsigned long long)st.read_bytes);
    CHECK(st.path[HOMI_PATH_KERNEL].bytes > 0, "stats: no kernel-path bytes");
    free(buf);
    H5Dclose(d);
    H5Fclose(f);

    for (int i = 0; i < g_nds; i++)
        free(g_ds[i].ref);
    H5Pclose(fapl_s);
    H5Pclose(fapl_h);
    return t_finish("test_h5_interop");
}
