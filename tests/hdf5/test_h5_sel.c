/* test_h5_sel.c - the selection fast path of H5FD_homi_dread
 * (hdf5-vfd/H5FDhomi_sel.c), checked without a GPU: the same mapping of a
 * selection to scattered reads is run into host memory and compared byte
 * for byte with sec2's H5Dread of the same selection.  Contiguous and
 * chunked datasets (chunks that do not divide the extents, 1-D to 4-D),
 * selections: all, single boxes, regular strided and blocked hyperslabs,
 * unions of overlapping boxes, points in random order, empty; memory
 * spaces: H5S_ALL and "all" selections of another shape.  Selections it
 * must leave to H5Dread (strided memory, a chunk never written) return 0
 * and leave the buffer alone.  Those go through the deferred reads of
 * H5FDhomi_defer.c (HDF5 hands the driver one piece at a time, the driver
 * records them and reads them in one scattered read): also run into host
 * memory here, with a small bound on the recorded list so that it is read
 * in several batches, and compared with sec2. */
#include "H5FDhomi_int.h"
#include "h5_test.h"

struct spec {
    const char *name;
    int rank;
    hsize_t dims[4], chunk[4];
};

static const struct spec g_specs[] = {
    {"c1", 1, {100003}, {0}},
    {"k1", 1, {100003}, {7001}},
    {"c2", 2, {301, 199}, {0}},
    {"k2", 2, {301, 199}, {64, 50}},
    {"c3", 3, {23, 47, 61}, {0}},
    {"k3", 3, {23, 47, 61}, {5, 10, 16}},
    {"k4", 4, {9, 11, 13, 15}, {4, 5, 6, 7}},
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
        hid_t sp = H5Screate_simple(s->rank, s->dims, NULL);
        hid_t d = H5Dcreate2(f, s->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
        H5Dclose(d);
        H5Sclose(sp);
        H5Pclose(dcpl);
        free(v);
    }
    /* chunked, only its first chunk written: the rest are not allocated */
    hsize_t dims[2] = {100, 100}, chunk[2] = {10, 10}, cnt[2] = {10, 10}, st[2] = {0, 0};
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_OK(H5Pset_chunk(dcpl, 2, chunk));
    H5_OK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "sparse", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    float v[100];
    t_fill_random(v, sizeof v);
    hid_t ms = H5Screate_simple(2, cnt, NULL);
    H5_OK(H5Sselect_hyperslab(sp, H5S_SELECT_SET, st, NULL, cnt, NULL));
    H5_OK(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, v));
    H5Sclose(ms);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5_OK(H5Fclose(f));
    H5Pclose(fapl);
}

/* Read fs/ms with H5Dread through the deferred pieces (host memory). */
static void compare_deferred(hid_t dh, hid_t ds, hid_t ms, hid_t fs, size_t bytes, const char *what)
{
    size_t guard = 64;
    char *ref = malloc(bytes + guard), *got = malloc(bytes + guard);
    REQUIRE(ref && got, "malloc");
    memset(ref, 0x5c, bytes + guard);
    memset(got, 0x5c, bytes + guard);
    H5_OK(H5Dread(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, ref));
    homi_h5_defer_begin(got, bytes, HOMI_MEM_HOST);
    herr_t r = H5Dread(dh, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, got);
    herr_t w = homi_h5_defer_end();
    CHECK(r >= 0 && w >= 0, "%s: deferred read failed (%d, %d)", what, (int)r, (int)w);
    long long d = t_first_diff(got, ref, bytes + guard);
    CHECK(d < 0, "%s: deferred: first wrong byte at %lld of %zu", what, d, bytes);
    free(ref);
    free(got);
    t_bail_if_many();
}

/* Read fs/ms through the fast path and through sec2; want: the fast
 * path's expected answer (1 mapped, 0 left to H5Dread). */
static void compare(hid_t dh, hid_t ds, hid_t ms, hid_t fs, size_t bytes, int want,
                    const char *what)
{
    size_t guard = 64;
    char *ref = malloc(bytes + guard), *got = malloc(bytes + guard);
    REQUIRE(ref && got, "malloc");
    memset(ref, 0x5c, bytes + guard);
    memset(got, 0x5c, bytes + guard);
    H5_OK(H5Dread(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, ref));
    int r = homi_h5_sel_read(dh, H5T_NATIVE_FLOAT, ms, fs, got, HOMI_MEM_HOST);
    CHECK(r == want, "%s: fast path returned %d, want %d", what, r, want);
    if (r < 0) H5Eprint2(H5E_DEFAULT, stderr);
    if (r == 1) {
        long long d = t_first_diff(got, ref, bytes + guard);
        CHECK(d < 0, "%s: first wrong byte at %lld of %zu", what, d, bytes);
    } else if (r == 0) {
        int untouched = 1;
        for (size_t i = 0; i < bytes + guard; i++)
            untouched &= got[i] == 0x5c;
        CHECK(untouched, "%s: refused, but the buffer was written", what);
    }
    free(ref);
    free(got);
    t_bail_if_many();
}

static hsize_t npoints(hid_t fs)
{
    hssize_t n = H5Sget_select_npoints(fs);
    H5_OK(n);
    return (hsize_t)n;
}

static void one_spec(hid_t dh, hid_t ds, const struct spec *s)
{
    char what[128];
    hid_t fs = H5Dget_space(dh);
    hsize_t total = npoints(fs);
    hsize_t start[4], stride[4], count[4], block[4];
    /* all, H5S_ALL both ways and into a 1-D "all" memory space */
    snprintf(what, sizeof what, "%s all / H5S_ALL", s->name);
    compare(dh, ds, H5S_ALL, H5S_ALL, total * 4, 1, what);
    hid_t m1 = H5Screate_simple(1, &total, NULL);
    snprintf(what, sizeof what, "%s all into 1-D", s->name);
    compare(dh, ds, m1, H5S_ALL, total * 4, 1, what);
    H5Sclose(m1);
    for (int round = 0; round < 12; round++) {
        int kind = round % 4; /* box, strided+blocked, union, points */
        if (kind == 0 || kind == 1) {
            for (int d = 0; d < s->rank; d++) {
                if (kind == 0) {
                    start[d] = t_below(s->dims[d]);
                    count[d] = 1 + t_below(s->dims[d] - start[d]);
                    stride[d] = block[d] = 1;
                } else {
                    block[d] = 1 + t_below(4);
                    stride[d] = block[d] + t_below(5);
                    start[d] = t_below(s->dims[d] > block[d] ? s->dims[d] - block[d] : 1);
                    hsize_t room = s->dims[d] - start[d];
                    count[d] = room < block[d] ? 0 : (room - block[d]) / stride[d] + 1;
                    if (!count[d]) count[d] = 1, block[d] = room;
                }
            }
            H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, stride, count, block));
        } else if (kind == 2) {
            H5_OK(H5Sselect_none(fs));
            for (int b = 0; b < 6; b++) {
                for (int d = 0; d < s->rank; d++) {
                    start[d] = t_below(s->dims[d]);
                    count[d] = 1 + t_below(s->dims[d] - start[d] < 30 ? s->dims[d] - start[d] : 30);
                }
                H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL));
            }
        } else {
            hsize_t np = 1 + t_below(3000), *c = malloc(np * 4 * sizeof *c);
            REQUIRE(c, "malloc");
            for (hsize_t i = 0; i < np; i++)
                for (int d = 0; d < s->rank; d++)
                    c[i * (hsize_t)s->rank + (hsize_t)d] = t_below(s->dims[d]);
            H5_OK(H5Sselect_elements(fs, H5S_SELECT_SET, np, c));
            free(c);
        }
        static const char *const kn[] = {"box", "strided+blocked", "union", "points"};
        hsize_t n = npoints(fs);
        hid_t ms = H5Screate_simple(1, &n, NULL);
        snprintf(what, sizeof what, "%s %s (%llu elements) into 1-D", s->name, kn[kind],
                 (unsigned long long)n);
        compare(dh, ds, ms, fs, n * 4, 1, what);
        compare_deferred(dh, ds, ms, fs, n * 4, what);
        if (kind != 2 && s->rank > 1) { /* a selection offset: left to H5Dread */
            hssize_t o[4] = {0, 0, 0, 0};
            o[0] = -1;
            hsize_t lo[4], hi[4];
            H5_OK(H5Sget_select_bounds(fs, lo, hi));
            if (lo[0] >= 1) {
                H5_OK(H5Soffset_simple(fs, o));
                snprintf(what, sizeof what, "%s %s moved by H5Soffset_simple", s->name, kn[kind]);
                compare(dh, ds, ms, fs, n * 4, 0, what);
                o[0] = 0;
                H5_OK(H5Soffset_simple(fs, o));
            }
        }
        H5Sclose(ms);
        snprintf(what, sizeof what, "%s %s, memory H5S_ALL", s->name, kn[kind]);
        compare(dh, ds, H5S_ALL, fs, total * 4, 1, what);
        if (round == 1) { /* strided memory: left to H5Dread */
            hsize_t mn = 2 * n, one = 1, two = 2;
            hid_t sm = H5Screate_simple(1, &mn, NULL);
            H5_OK(H5Sselect_hyperslab(sm, H5S_SELECT_SET, (hsize_t[]){0}, &two, &n, &one));
            snprintf(what, sizeof what, "%s strided memory", s->name);
            compare(dh, ds, sm, fs, mn * 4, 0, what);
            compare_deferred(dh, ds, sm, fs, mn * 4, what);
            H5Sclose(sm);
        }
    }
    H5_OK(H5Sselect_none(fs));
    snprintf(what, sizeof what, "%s empty selection, memory H5S_ALL", s->name);
    compare(dh, ds, H5S_ALL, fs, total * 4, 1, what);
    hsize_t one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    H5_OK(H5Sselect_none(ms));
    snprintf(what, sizeof what, "%s empty selection into an empty memory selection", s->name);
    compare(dh, ds, ms, fs, 4, 0, what); /* memory "none": left to H5Dread */
    H5Sclose(ms);
    H5Sclose(fs);
}

int main(void)
{
    t_seed_from_env(2527);
    const char *dir = t_make_tmpdir("h5sel");
    char path[4200];
    t_path(path, sizeof path, dir, "sel.h5");
    make_file(path);
    hid_t fh = t_fapl_homi(NULL), fsec = t_fapl_sec2();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fh), g = H5Fopen(path, H5F_ACC_RDONLY, fsec);
    H5_OK(f);
    H5_OK(g);
    homi_h5_defer_limit(1000); /* several batches per deferred read */
    for (size_t i = 0; i < NSPEC; i++) {
        t_context = g_specs[i].name;
        hid_t dh = H5Dopen2(f, g_specs[i].name, H5P_DEFAULT);
        hid_t ds = H5Dopen2(g, g_specs[i].name, H5P_DEFAULT);
        H5_OK(dh);
        H5_OK(ds);
        one_spec(dh, ds, &g_specs[i]);
        H5Dclose(dh);
        H5Dclose(ds);
    }
    /* not allocated chunks: the first chunk maps, a selection touching
     * others is left to H5Dread */
    t_context = "sparse";
    hid_t dh = H5Dopen2(f, "sparse", H5P_DEFAULT), ds = H5Dopen2(g, "sparse", H5P_DEFAULT);
    hid_t fs = H5Dget_space(dh);
    hsize_t st[2] = {2, 3}, cnt[2] = {5, 6}, n = 30;
    H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, cnt, NULL));
    hid_t ms = H5Screate_simple(1, &n, NULL);
    compare(dh, ds, ms, fs, n * 4, 1, "sparse, written chunk");
    cnt[0] = 20;
    n = 120;
    H5_OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, cnt, NULL));
    H5Sclose(ms);
    ms = H5Screate_simple(1, &n, NULL);
    int r = homi_h5_sel_read(dh, H5T_NATIVE_FLOAT, ms, fs, (float[120]){0}, HOMI_MEM_HOST);
    CHECK(r == 0, "a selection over a chunk never written: fast path returned %d, want 0", r);
    H5Eclear2(H5E_DEFAULT);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(dh);
    H5Dclose(ds);
    H5Fclose(f);
    H5Fclose(g);
    H5Pclose(fh);
    H5Pclose(fsec);
    return t_finish("test_h5_sel");
}
