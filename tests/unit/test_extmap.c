/* test_extmap.c - the extent-map read planner (src/cplane/extmap.h) on
 * synthetic maps, the FIEMAP flag classifier, and homi_extmap_build on a
 * real temporary file (skipped where the file system has no FIEMAP).
 *
 * Planner contract (extmap.h): segments cover [off, off+len) in order;
 * holes of at least min_hole become hole segments, shorter holes are read
 * as data; only HOMI_EXT_HOLE ranges may become holes (unwritten, delalloc
 * ... are data); ranges beyond file_size are data; adjacent data segments
 * are merged; when max is too small the number needed is returned. */
#include <linux/fiemap.h>

#include "cplane/extmap.h"
#include "homi_test.h"

#define K 1024ull
#define M (1024ull * 1024ull)

struct r {
    uint64_t len;
    int cls;
};

/* Build a map of consecutive ranges starting at 0; file_size = their sum
 * unless fsize != 0. */
static void mkmap(struct homi_extmap *m, const struct r *rs, size_t n, uint64_t fsize)
{
    memset(m, 0, sizeof *m);
    uint64_t pos = 0, phys = 1 << 20;
    for (size_t i = 0; i < n; i++) {
        int rc = homi_extmap_push(m, pos, rs[i].cls == HOMI_EXT_HOLE ? 0 : phys, rs[i].len, 0,
                                  rs[i].cls);
        REQUIRE(rc == 0, "homi_extmap_push returned %d", rc);
        pos += rs[i].len;
        phys += rs[i].len + 4096;
    }
    m->file_size = fsize ? fsize : pos;
}

static void print_segs(const char *what, const struct homi_seg *s, size_t n)
{
    fprintf(stderr, "    %s (%zu):", what, n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " [%s %" PRIu64 "+%" PRIu64 "]", s[i].hole ? "H" : "D", s[i].offset,
                s[i].length);
    fputc('\n', stderr);
}

/* Expected segments are given as (offset, length, hole) triples. */
static void expect_plan(const char *name, const struct homi_extmap *m, uint64_t off, uint64_t len,
                        uint64_t min_hole, const struct homi_seg *want, size_t nwant)
{
    t_context = name;
    struct homi_seg got[64];
    size_t n = homi_extmap_plan(m, off, len, min_hole, got, 64);
    int ok = n == nwant;
    for (size_t i = 0; ok && i < n; i++)
        ok = got[i].offset == want[i].offset && got[i].length == want[i].length &&
             !!got[i].hole == !!want[i].hole;
    if (!ok) {
        T_FAIL("plan(off=%" PRIu64 ", len=%" PRIu64 ", min_hole=%" PRIu64 ") differs", off, len,
               min_hole);
        print_segs("got ", got, n < 64 ? n : 64);
        print_segs("want", want, nwant);
    }
}

#define SEGS(...) ((const struct homi_seg[]){__VA_ARGS__})
#define NSEGS(...) (sizeof((const struct homi_seg[]){__VA_ARGS__}) / sizeof(struct homi_seg))
#define EXPECT(name, m, off, len, mh, ...)                                                         \
    expect_plan(name, m, off, len, mh, SEGS(__VA_ARGS__), NSEGS(__VA_ARGS__))

static void test_fixed(void)
{
    struct homi_extmap m;

    /* data 64K | hole 1M | data 64K */
    mkmap(&m, (struct r[]){{64 * K, HOMI_EXT_DATA}, {M, HOMI_EXT_HOLE}, {64 * K, HOMI_EXT_DATA}}, 3,
          0);
    uint64_t fs = m.file_size;
    EXPECT("big hole", &m, 0, fs, 64 * K, {0, 64 * K, 0}, {64 * K, M, 1}, {64 * K + M, 64 * K, 0});
    EXPECT("big hole, min_hole 1M", &m, 0, fs, M, {0, 64 * K, 0}, {64 * K, M, 1},
           {64 * K + M, 64 * K, 0});
    EXPECT("hole below min_hole 2M", &m, 0, fs, 2 * M, {0, fs, 0});
    EXPECT("inside the hole", &m, 100 * K, 200 * K, 64 * K, {100 * K, 200 * K, 1});
    EXPECT("unaligned start", &m, 1000, 100 * K, 64 * K, {1000, 64 * K - 1000, 0},
           {64 * K, 100 * K - (64 * K - 1000), 1});
    EXPECT("hole then past EOF", &m, 1000 * K, 200 * K, 64 * K, {1000 * K, 88 * K, 1},
           {1088 * K, 112 * K, 0});
    EXPECT("one byte in data", &m, 5, 1, 64 * K, {5, 1, 0});
    EXPECT("one byte in hole", &m, 500 * K, 1, 64 * K, {500 * K, 1, 1});
    EXPECT("past EOF only", &m, fs + 10, 4096, 64 * K, {fs + 10, 4096, 0});
    EXPECT("at EOF", &m, fs, 1, 64 * K, {fs, 1, 0});
    homi_extmap_free(&m);

    /* small hole: data 64K | hole 16K | data 64K */
    mkmap(&m,
          (struct r[]){{64 * K, HOMI_EXT_DATA}, {16 * K, HOMI_EXT_HOLE}, {64 * K, HOMI_EXT_DATA}},
          3, 0);
    fs = m.file_size;
    EXPECT("small hole merged", &m, 0, fs, 64 * K, {0, fs, 0});
    EXPECT("small hole at min_hole", &m, 0, fs, 16 * K, {0, 64 * K, 0}, {64 * K, 16 * K, 1},
           {80 * K, 64 * K, 0});
    EXPECT("small hole, min_hole 0", &m, 0, fs, 0, {0, 64 * K, 0}, {64 * K, 16 * K, 1},
           {80 * K, 64 * K, 0});
    homi_extmap_free(&m);

    /* Unsafe-to-read-raw classes are data for the planner, never zeros. */
    static const int unsafe[] = {HOMI_EXT_UNWRITTEN, HOMI_EXT_DELALLOC, HOMI_EXT_UNKNOWN,
                                 HOMI_EXT_ENCODED,   HOMI_EXT_INLINE,   HOMI_EXT_NOT_ALIGNED};
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s range is data", homi_ext_class_name(unsafe[i]));
        mkmap(&m, (struct r[]){{64 * K, HOMI_EXT_DATA}, {M, unsafe[i]}, {64 * K, HOMI_EXT_DATA}}, 3,
              0);
        EXPECT(name, &m, 0, m.file_size, 64 * K, {0, m.file_size, 0});
        EXPECT(name, &m, 100 * K, 4 * K, 0, {100 * K, 4 * K, 0});
        homi_extmap_free(&m);
    }

    /* data and unsafe ranges side by side merge into one data segment */
    mkmap(&m,
          (struct r[]){{16 * K, HOMI_EXT_DATA},
                       {16 * K, HOMI_EXT_UNWRITTEN},
                       {16 * K, HOMI_EXT_DELALLOC},
                       {M, HOMI_EXT_HOLE},
                       {16 * K, HOMI_EXT_DATA}},
          5, 0);
    EXPECT("adjacent data merged", &m, 0, m.file_size, 64 * K, {0, 48 * K, 0}, {48 * K, M, 1},
           {48 * K + M, 16 * K, 0});
    homi_extmap_free(&m);

    /* hole | 4K data | hole */
    mkmap(&m, (struct r[]){{M, HOMI_EXT_HOLE}, {4 * K, HOMI_EXT_DATA}, {M, HOMI_EXT_HOLE}}, 3, 0);
    EXPECT("two holes", &m, 0, m.file_size, 64 * K, {0, M, 1}, {M, 4 * K, 0}, {M + 4 * K, M, 1});
    EXPECT("two holes and beyond", &m, 10, m.file_size, 64 * K, {10, M - 10, 1}, {M, 4 * K, 0},
           {M + 4 * K, M, 1}, {2 * M + 4 * K, 10, 0});
    homi_extmap_free(&m);

    /* an empty file: everything is beyond EOF */
    memset(&m, 0, sizeof m);
    EXPECT("empty map", &m, 0, 4096, 64 * K, {0, 4096, 0});
    EXPECT("empty map far", &m, 1ull << 40, 1, 0, {1ull << 40, 1, 0});

    /* a file that is one big hole, read past its end */
    mkmap(&m, (struct r[]){{4 * M, HOMI_EXT_HOLE}}, 1, 0);
    EXPECT("all hole", &m, 0, 4 * M, 64 * K, {0, 4 * M, 1});
    EXPECT("all hole + tail", &m, 3 * M, 2 * M, 64 * K, {3 * M, M, 1}, {4 * M, M, 0});
    homi_extmap_free(&m);
}

/* Zero length and the "max too small" protocol. */
static void test_counts(void)
{
    struct homi_extmap m;
    struct homi_seg segs[8];
    t_context = "zero length";
    mkmap(&m, (struct r[]){{64 * K, HOMI_EXT_DATA}, {M, HOMI_EXT_HOLE}, {64 * K, HOMI_EXT_DATA}}, 3,
          0);
    uint64_t offs[] = {0, 7, 64 * K, 100 * K, m.file_size, m.file_size + 99};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        size_t n = homi_extmap_plan(&m, offs[i], 0, 64 * K, segs, 8);
        CHECK(n == 0, "zero-length plan at %" PRIu64 " gave %zu segments", offs[i], n);
        n = homi_extmap_plan(&m, offs[i], 0, 64 * K, NULL, 0);
        CHECK(n == 0, "zero-length plan (max 0) at %" PRIu64 " gave %zu", offs[i], n);
    }

    t_context = "max too small";
    for (size_t max = 0; max < 3; max++) {
        struct homi_seg canary[4];
        memset(canary, 0xA5, sizeof canary);
        size_t n = homi_extmap_plan(&m, 0, m.file_size, 64 * K, max ? canary : NULL, max);
        CHECK(n == 3, "max=%zu: returned %zu, want the 3 needed", max, n);
        unsigned char pat[sizeof canary];
        memset(pat, 0xA5, sizeof pat);
        CHECK(memcmp((unsigned char *)&canary[max], pat, sizeof(struct homi_seg)) == 0,
              "max=%zu: planner wrote past max", max);
    }
    homi_extmap_free(&m);

    /* The count needed must be exact even when data ranges merge after
     * the array is full. */
    mkmap(&m,
          (struct r[]){{16 * K, HOMI_EXT_DATA},
                       {16 * K, HOMI_EXT_UNWRITTEN},
                       {16 * K, HOMI_EXT_DELALLOC},
                       {M, HOMI_EXT_HOLE},
                       {16 * K, HOMI_EXT_DATA},
                       {16 * K, HOMI_EXT_UNWRITTEN}},
          6, 0);
    size_t full = homi_extmap_plan(&m, 0, m.file_size + 4096, 64 * K, segs, 8);
    CHECK(full == 3, "merged plan has %zu segments, want 3", full);
    for (size_t max = 0; max < full; max++) {
        size_t n = homi_extmap_plan(&m, 0, m.file_size + 4096, 64 * K, max ? segs : NULL, max);
        CHECK(n == full, "max=%zu: returned %zu needed, but %zu are needed", max, n, full);
    }
    homi_extmap_free(&m);
}

/* Random maps: structural invariants of every plan. */
static unsigned count_mismatches, plans_checked;
static void check_invariants(const struct homi_extmap *m, uint64_t off, uint64_t len,
                             uint64_t min_hole, int iter)
{
    struct homi_seg segs[512];
    size_t n = homi_extmap_plan(m, off, len, min_hole, segs, 512);
    static char ctx[96];
    snprintf(ctx, sizeof ctx, "random #%d off=%" PRIu64 " len=%" PRIu64 " min_hole=%" PRIu64, iter,
             off, len, min_hole);
    t_context = ctx;
    if (n > 512) {
        T_FAIL("%zu segments", n);
        return;
    }
    if (len == 0) {
        CHECK(n == 0, "zero length gave %zu segments", n);
        return;
    }
    plans_checked++;
    uint64_t pos = off;
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        const struct homi_seg *s = &segs[i];
        if (s->offset != pos || s->length == 0) {
            T_FAIL("segment %zu not contiguous/non-empty", i);
            bad = 1;
        }
        if (i && !s->hole && !segs[i - 1].hole) {
            T_FAIL("segments %zu and %zu are adjacent data, not merged", i - 1, i);
            bad = 1;
        }
        if (s->hole) {
            /* must lie inside one HOLE extent of at least min_hole */
            int inside = 0;
            for (size_t e = 0; e < m->n; e++) {
                const struct homi_extent *x = &m->ext[e];
                if (x->cls == HOMI_EXT_HOLE && x->length >= min_hole && s->offset >= x->logical &&
                    s->offset + s->length <= x->logical + x->length &&
                    s->offset + s->length <= m->file_size)
                    inside = 1;
            }
            if (!inside) {
                T_FAIL("hole segment %zu [%" PRIu64 "+%" PRIu64
                       "] is not inside a hole >= min_hole",
                       i, s->offset, s->length);
                bad = 1;
            }
        }
        pos = s->offset + s->length;
    }
    if (!bad && pos != off + len) {
        T_FAIL("segments end at %" PRIu64 ", want %" PRIu64, pos, off + len);
        bad = 1;
    }
    /* every large-enough hole that meets the range is skipped entirely */
    for (size_t e = 0; e < m->n && !bad; e++) {
        const struct homi_extent *x = &m->ext[e];
        if (x->cls != HOMI_EXT_HOLE || x->length < min_hole) continue;
        uint64_t a = x->logical > off ? x->logical : off;
        uint64_t b = x->logical + x->length < off + len ? x->logical + x->length : off + len;
        if (a >= b) continue;
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= segs[i].hole && segs[i].offset == a && segs[i].length == b - a;
        if (!found) {
            T_FAIL("hole extent [%" PRIu64 "+%" PRIu64 "] (>= min_hole) not planned as a hole",
                   x->logical, x->length);
            bad = 1;
        }
    }
    /* the count for a too-small array is the count needed */
    if (!bad && n > 0) {
        size_t max = (size_t)t_below(n);
        struct homi_seg small[512];
        size_t n2 = homi_extmap_plan(m, off, len, min_hole, small, max);
        if (n2 != n && count_mismatches++ == 0)
            fprintf(stderr, "  first 'needed count' mismatch: %s: max=%zu returned %zu, need %zu\n",
                    ctx, max, n2, n);
    }
    if (bad) print_segs("plan", segs, n);
}

static void test_random(void)
{
    static const int classes[] = {HOMI_EXT_DATA,       HOMI_EXT_UNWRITTEN, HOMI_EXT_DELALLOC,
                                  HOMI_EXT_UNKNOWN,    HOMI_EXT_ENCODED,   HOMI_EXT_INLINE,
                                  HOMI_EXT_NOT_ALIGNED};
    int before = t_failures;
    for (int iter = 0; iter < 3000 && t_failures - before < 5; iter++) {
        struct homi_extmap m;
        memset(&m, 0, sizeof m);
        size_t nr = 1 + (size_t)t_below(12);
        uint64_t pos = 0;
        int last_hole = 0;
        for (size_t i = 0; i < nr; i++) {
            int hole = !last_hole && t_below(2);
            uint64_t len = 1 + (t_below(4) ? t_below(256 * K) : t_below(4 * M));
            if (t_below(2)) len = (len + 4095) & ~4095ull;
            int cls = hole ? HOMI_EXT_HOLE : classes[t_below(sizeof classes / sizeof classes[0])];
            REQUIRE(homi_extmap_push(&m, pos, hole ? 0 : pos + 8 * M, len, 0, cls) == 0, "push");
            pos += len;
            last_hole = hole;
        }
        m.file_size = pos;
        uint64_t min_holes[] = {0, 4 * K, 64 * K, M};
        uint64_t mh = min_holes[t_below(4)];
        for (int j = 0; j < 8; j++) {
            uint64_t off = t_below(pos + 64 * K);
            uint64_t len = t_below(4) == 0 ? 0 : 1 + t_below(pos + 128 * K - off);
            check_invariants(&m, off, len, mh, iter);
        }
        check_invariants(&m, 0, pos, mh, iter);
        homi_extmap_free(&m);
    }
    t_context = "random";
    CHECK(count_mismatches == 0,
          "%u of %u random plans returned a wrong 'needed' count for a too-small array",
          count_mismatches, plans_checked);
    printf("random: %u plans checked\n", plans_checked);
}

static void test_classify(void)
{
    t_context = "classify";
    struct {
        uint32_t flags;
        int cls;
    } cases[] = {
        {0, HOMI_EXT_DATA},
        {FIEMAP_EXTENT_LAST, HOMI_EXT_DATA},
        {FIEMAP_EXTENT_MERGED, HOMI_EXT_DATA},
        {FIEMAP_EXTENT_SHARED | FIEMAP_EXTENT_LAST, HOMI_EXT_DATA},
        {FIEMAP_EXTENT_UNKNOWN, HOMI_EXT_UNKNOWN},
        {FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN, HOMI_EXT_UNKNOWN},
        {FIEMAP_EXTENT_DELALLOC, HOMI_EXT_DELALLOC},
        {FIEMAP_EXTENT_ENCODED, HOMI_EXT_ENCODED},
        {FIEMAP_EXTENT_DATA_ENCRYPTED, HOMI_EXT_ENCODED},
        {FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED, HOMI_EXT_INLINE},
        {FIEMAP_EXTENT_NOT_ALIGNED, HOMI_EXT_NOT_ALIGNED},
        {FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_NOT_ALIGNED, HOMI_EXT_NOT_ALIGNED},
        {FIEMAP_EXTENT_UNWRITTEN, HOMI_EXT_UNWRITTEN},
        {FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_LAST, HOMI_EXT_UNWRITTEN},
        {FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_UNWRITTEN, HOMI_EXT_ENCODED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int c = homi_ext_classify(cases[i].flags);
        CHECK(c == cases[i].cls, "flags 0x%x classified %s, want %s", cases[i].flags,
              homi_ext_class_name(c), homi_ext_class_name(cases[i].cls));
    }
    for (int c = 0; c < HOMI_EXT_CLASS_COUNT; c++)
        CHECK(homi_ext_class_name(c) && *homi_ext_class_name(c), "class %d has no name", c);
}

/* homi_extmap_build on a real file in $TMPDIR: coverage, holes, and the
 * safety rule that written-but-unsynced data is never a hole. */
static void test_build(void)
{
    t_context = "build";
    const char *dir = t_make_tmpdir("extmap");
    char path[4200];
    t_path(path, sizeof path, dir, "sparse");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
    char *buf = malloc(64 * K);
    REQUIRE(buf, "malloc");
    t_fill_random(buf, 64 * K);
    t_pwrite_all(fd, buf, 64 * K, 0);
    t_pwrite_all(fd, buf, 64 * K, 2 * M);
    REQUIRE(ftruncate(fd, 8 * M) == 0, "ftruncate");
    REQUIRE(fsync(fd) == 0, "fsync");
    /* unsynced data inside the first hole, and at the far end */
    t_pwrite_all(fd, buf, 64 * K, M);
    t_pwrite_all(fd, buf, 4 * K, 6 * M + 123);

    struct homi_extmap m;
    memset(&m, 0, sizeof m);
    int rc = homi_extmap_build(fd, 0, &m);
    if (rc == -EOPNOTSUPP) {
        printf("build: no FIEMAP on %s: skipped\n", dir);
        close(fd);
        free(buf);
        return;
    }
    REQUIRE(rc == 0, "homi_extmap_build: %d (%s)", rc, strerror(-rc));
    CHECK(m.file_size == 8 * M, "file_size %" PRIu64, m.file_size);
    uint64_t pos = 0, holes = 0;
    for (size_t i = 0; i < m.n; i++) {
        CHECK(m.ext[i].logical == pos, "extent %zu starts at %" PRIu64 ", want %" PRIu64, i,
              m.ext[i].logical, pos);
        CHECK(m.ext[i].length > 0, "extent %zu empty", i);
        pos = m.ext[i].logical + m.ext[i].length;
        if (m.ext[i].cls == HOMI_EXT_HOLE) holes += m.ext[i].length;
    }
    CHECK(pos == m.file_size, "map covers [0,%" PRIu64 "), file is %" PRIu64, pos, m.file_size);

    struct homi_seg segs[64];
    size_t n = homi_extmap_plan(&m, 0, 8 * M, 64 * K, segs, 64);
    REQUIRE(n <= 64, "n=%zu", n);
    uint64_t hole_bytes = 0;
    const uint64_t data[][2] = {{0, 64 * K}, {2 * M, 64 * K}, {M, 64 * K}, {6 * M + 123, 4 * K}};
    for (size_t i = 0; i < n; i++) {
        if (!segs[i].hole) continue;
        hole_bytes += segs[i].length;
        for (size_t d = 0; d < 4; d++)
            CHECK(segs[i].offset + segs[i].length <= data[d][0] ||
                      segs[i].offset >= data[d][0] + data[d][1],
                  "data [%" PRIu64 "+%" PRIu64 "] planned as hole [%" PRIu64 "+%" PRIu64 "]",
                  data[d][0], data[d][1], segs[i].offset, segs[i].length);
    }
    printf("build: %zu ranges, %" PRIu64 " hole bytes mapped, %" PRIu64 " planned as holes\n", m.n,
           holes, hole_bytes);
    CHECK(hole_bytes > 0, "an 8 MiB file with ~7.8 MiB of holes planned no hole segment");
    homi_extmap_free(&m);
    close(fd);
    free(buf);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    t_seed_from_env(20240611);
    test_fixed();
    test_counts();
    test_classify();
    test_random();
    test_build();
    return t_finish("test_extmap");
}
