/* fs_verify.c - file-system scenarios for HOMI on a real file system.
 *
 *   fs_verify DIR
 *
 * Runs every scenario inside DIR, once with homi_direct=off and once with
 * homi_direct=on, with a 64K chunk size so that reads split into many
 * pieces.  Every homi read is checked byte-for-byte against pread(2) on a
 * separate descriptor (the kernel's view is the reference).  Prints one
 * line per scenario and exits 0 when all pass, 1 otherwise.
 *
 * It is meant to run on a freshly made ext4 or xfs (tests/fs/loop_fs.sh
 * makes one on a loop device), but works on any directory; file-system
 * specific expectations (O_DIRECT works, FIEMAP works) are only enforced
 * on ext4 and xfs. */
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <time.h>

#include "homi_test.h"

#define K 1024ull
#define M (1024ull * 1024ull)

#define EXT4_MAGIC 0xEF53
#define XFS_MAGIC 0x58465342

static const char *g_dir;
static int g_direct;
static int g_known_fs; /* ext4 or xfs: O_DIRECT and FIEMAP must work */
static const char *g_fsname = "unknown";
static homi_engine *g_eng;
static char g_scen[128];

/* ---------------------------------------------------------------- helpers */

static void mkpath(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", g_dir, name);
}

static int create_file(const char *name, char *path, size_t plen)
{
    mkpath(path, plen, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0, "create %s: %s", path, strerror(errno));
    return fd;
}

static homi_file *hopen(const char *path)
{
    homi_file *f = NULL;
    int rc = homi_open(g_eng, path, HOMI_RDONLY, &f);
    REQUIRE(rc == HOMI_OK && f, "homi_open(%s): %d (%s)", path, rc, homi_strerror(rc));
    return f;
}

static void write_random(int fd, uint64_t off, size_t len)
{
    unsigned char *b = malloc(len ? len : 1);
    REQUIRE(b, "malloc");
    t_fill_random(b, len);
    t_pwrite_all(fd, b, len, (off_t)off);
    free(b);
}

/* Drop the file's clean pages so that buffered reads go to the device. */
static void drop_cache(int fd)
{
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static int64_t file_size(int fd)
{
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0, "fstat");
    return st.st_size;
}

/* Read through homi and pread(fd); compare result and bytes.  Returns the
 * homi result. */
static int64_t check(homi_file *f, int fd, uint64_t off, size_t len, const char *what)
{
    size_t mis = t_below(3) ? (size_t)t_below(4096) : 0;
    unsigned char *mem = malloc(len + mis + 64), *ref = malloc(len ? len : 1);
    REQUIRE(mem && ref, "malloc %zu", len);
    unsigned char *buf = mem + mis;
    memset(mem, 0xEE, len + mis + 64);
    int64_t got = homi_pread(f, buf, len, (int64_t)off);
    ssize_t want = t_pread_ref(fd, ref, len, (off_t)off);
    REQUIRE(want >= 0, "reference pread: %s", strerror(errno));
    if (got != want) {
        T_FAIL("%s: homi_pread(off=%" PRIu64 ", len=%zu) = %" PRId64 " (%s), pread gives %zd", what,
               off, len, got, got < 0 ? homi_strerror((int)got) : "bytes", want);
    } else if (want > 0) {
        long long d = t_first_diff(buf, ref, (size_t)want);
        if (d >= 0)
            T_FAIL("%s: homi_pread(off=%" PRIu64 ", len=%zu): first wrong byte at file offset %llu:"
                   " got 0x%02x, pread 0x%02x%s",
                   what, off, len, (unsigned long long)(off + (uint64_t)d), buf[d], ref[d],
                   t_all_zero(buf + d, (size_t)(want - d) < 4096 ? (size_t)(want - d) : 4096)
                       ? " (homi returned zeros: stale hole?)"
                       : "");
    }
    for (size_t i = 0; i < 64; i++)
        if (buf[len + i] != 0xEE) {
            T_FAIL("%s: homi_pread wrote past the end of the buffer", what);
            break;
        }
    free(mem);
    free(ref);
    return got;
}

/* Random reads over [0, size + slack). */
static void random_reads(homi_file *f, int fd, uint64_t size, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        uint64_t off;
        size_t len;
        switch (t_below(4)) {
        case 0: /* aligned */
            off = t_below(size / 4096 + 1) * 4096;
            len = (1 + (size_t)t_below(128)) * 4096;
            break;
        case 1: /* small unaligned */
            off = t_below(size + 1);
            len = 1 + (size_t)t_below(9000);
            break;
        case 2: /* chunk crossing */
            off = t_below(size + 1);
            len = (size_t)(64 * K * (1 + t_below(12)) + t_below(64 * K));
            break;
        default: /* large */
            off = t_below(size + 1);
            len = 1 + (size_t)t_below(3 * M);
            break;
        }
        check(f, fd, off, len, what);
        t_bail_if_many();
    }
}

static unsigned fiemap_count(int fd, uint64_t *bounds, unsigned maxb)
{
    size_t sz = sizeof(struct fiemap) + 512 * sizeof(struct fiemap_extent);
    struct fiemap *fm = calloc(1, sz);
    REQUIRE(fm, "calloc");
    fm->fm_start = 0;
    fm->fm_length = FIEMAP_MAX_OFFSET;
    fm->fm_flags = FIEMAP_FLAG_SYNC;
    fm->fm_extent_count = 512;
    unsigned n = 0;
    if (ioctl(fd, FS_IOC_FIEMAP, fm) == 0) {
        n = fm->fm_mapped_extents;
        for (unsigned i = 0; i < n && bounds && i < maxb; i++)
            bounds[i] = fm->fm_extents[i].fe_logical + fm->fm_extents[i].fe_length;
    }
    free(fm);
    return n;
}

/* Every byte must be accounted to exactly one path. */
static void check_accounting(homi_file *f, homi_stats *out)
{
    homi_stats s;
    CHECK_RC(homi_file_stats(f, &s), HOMI_OK);
    uint64_t sum = 0;
    for (int p = 0; p < HOMI_PATH_COUNT; p++)
        sum += s.path[p].bytes;
    CHECK(sum == s.read_bytes, "path bytes sum to %" PRIu64 " but read_bytes is %" PRIu64, sum,
          s.read_bytes);
    CHECK(s.errors == 0, "%" PRIu64 " read errors counted", s.errors);
    if (g_known_fs) {
        CHECK(s.fallbacks[HOMI_FB_DIRECT_UNSUPPORTED] == 0,
              "%s supports O_DIRECT, but %" PRIu64 " DIRECT_UNSUPPORTED fallbacks", g_fsname,
              s.fallbacks[HOMI_FB_DIRECT_UNSUPPORTED]);
        CHECK(s.fallbacks[HOMI_FB_MAP_FAILED] == 0,
              "%s supports FIEMAP, but %" PRIu64 " MAP_FAILED fallbacks", g_fsname,
              s.fallbacks[HOMI_FB_MAP_FAILED]);
    }
    if (out) *out = s;
}

/* ---------------------------------------------------------------- scenarios */

static void sc_random(char *info, size_t ilen)
{
    char path[4300];
    int fd = create_file("random", path, sizeof path);
    uint64_t size = 24 * M + 4321;
    write_random(fd, 0, size);
    drop_cache(fd);
    homi_file *f = hopen(path);
    CHECK(homi_file_size(f) == (int64_t)size, "homi_file_size %" PRId64, homi_file_size(f));
    check(f, fd, 0, size, "whole file");
    drop_cache(fd);
    random_reads(f, fd, size, 250, "random");
    check(f, fd, size - 1, 2, "EOF straddle");
    homi_stats s;
    check_accounting(f, &s);
    CHECK(s.path[HOMI_PATH_KERNEL].bytes > 0, "no kernel-path bytes");
    if (g_direct && g_known_fs)
        CHECK(s.fallbacks[HOMI_FB_DIRECT_UNALIGNED] > 0,
              "unaligned O_DIRECT reads, but no DIRECT_UNALIGNED fallback counted");
    snprintf(info, ilen, "%" PRIu64 " bytes, 252 reads, %u extents", size,
             fiemap_count(fd, NULL, 0));
    homi_close(f);
    close(fd);
    unlink(path);
}

static void sc_fragmented(char *info, size_t ilen)
{
    char pa[4300], pb[4300];
    int a = create_file("frag_a", pa, sizeof pa);
    int b = create_file("frag_b", pb, sizeof pb);
    /* interleave allocations of two files; sync each block so that they
     * are allocated one by one */
    const unsigned rounds = 64;
    const size_t blk = 36 * K;
    for (unsigned r = 0; r < rounds; r++) {
        unsigned i = r % 2 ? rounds - r : r; /* out of order: defeats prealloc */
        write_random(a, (uint64_t)i * blk, blk);
        fdatasync(a);
        write_random(b, (uint64_t)i * blk, blk);
        fdatasync(b);
    }
    /* Interleaving is enough on xfs; ext4's per-inode preallocation keeps
     * the file contiguous.  Cutting single blocks out of it (collapse range)
     * leaves logically adjacent data in physically separate extents on
     * both. */
    struct stat st;
    REQUIRE(fstat(a, &st) == 0, "fstat");
    uint64_t bs = st.st_blksize ? (uint64_t)st.st_blksize : 4096;
    int collapsed = 0;
    for (unsigned i = 0; i < 24; i++) {
        uint64_t off = ((uint64_t)(i + 1) * 83 * K) / bs * bs;
        if (off + bs >= (uint64_t)file_size(a)) break;
        if (fallocate(a, FALLOC_FL_COLLAPSE_RANGE, (off_t)off, (off_t)bs) != 0) break;
        collapsed++;
    }
    fsync(a);
    drop_cache(a);
    homi_file *f = hopen(pa);
    uint64_t size = (uint64_t)file_size(a);
    uint64_t bounds[512];
    unsigned n = fiemap_count(a, bounds, 512);
    /* around every extent boundary */
    for (unsigned i = 0; i < n && i < 512; i++) {
        uint64_t x = 1 + t_below(70 * K), y = 1 + t_below(70 * K);
        uint64_t off = bounds[i] > x ? bounds[i] - x : 0;
        check(f, a, off, (size_t)(bounds[i] - off + y), "extent boundary");
        check(f, a, bounds[i] > 4096 ? bounds[i] - 4096 : 0, 8192, "extent boundary aligned");
    }
    check(f, a, 0, size, "whole fragmented file");
    drop_cache(a);
    random_reads(f, a, size, 120, "fragmented random");
    check_accounting(f, NULL);
    snprintf(info, ilen, "%u extents in a %" PRIu64 "-byte file, %d ranges collapsed%s", n, size,
             collapsed, n < 4 ? " (WARNING: could not fragment it)" : "");
    homi_close(f);
    close(a);
    close(b);
    unlink(pa);
    unlink(pb);
}

static void sc_sparse(char *info, size_t ilen)
{
    char path[4300];
    int fd = create_file("sparse", path, sizeof path);
    uint64_t size = 64 * M;
    REQUIRE(ftruncate(fd, (off_t)size) == 0, "ftruncate");
    write_random(fd, 0, 4096);
    write_random(fd, 1 * M + 123, 100 * K);
    write_random(fd, 10 * M, 8 * K);
    fsync(fd);
    /* not synced: */
    write_random(fd, 40 * M + 4095, 3);
    write_random(fd, 50 * M, 70 * K);
    write_random(fd, size - 1, 1);
    homi_file *f = hopen(path);
    for (uint64_t off = 0; off < size; off += 4 * M)
        check(f, fd, off, 4 * M, "4M pieces");
    check(f, fd, 0, size, "whole sparse file");
    random_reads(f, fd, size, 150, "sparse random");
    check(f, fd, 20 * M + 5, 3 * M, "inside the big hole");
    homi_stats s;
    check_accounting(f, &s);
    if (s.fallbacks[HOMI_FB_MAP_FAILED] == 0)
        CHECK(s.path[HOMI_PATH_HOLE].bytes > 0,
              "64 MiB file with large holes: no bytes served as holes (path[HOLE].bytes == 0)");
    else /* no FIEMAP here (counted): holes are read through the kernel */
        CHECK(s.path[HOMI_PATH_HOLE].bytes == 0, "hole bytes without an extent map");
    if (g_known_fs) CHECK(s.map_builds > 0, "no extent map built on %s", g_fsname);
    snprintf(info, ilen, "hole bytes %" PRIu64 ", kernel bytes %" PRIu64 ", map builds %" PRIu64,
             s.path[HOMI_PATH_HOLE].bytes, s.path[HOMI_PATH_KERNEL].bytes, s.map_builds);
    homi_close(f);

    /* hole skipping off, or holes below homi_min_hole: same bytes, all of
     * them read through the kernel path */
    const char *alt[][2] = {{"homi_hole_skip", "off"}, {"homi_min_hole", "1G"}};
    for (int i = 0; i < 2; i++) {
        homi_config *cfg = t_config("homi_chunk_size", "64K", "homi_direct",
                                    g_direct ? "on" : "off", alt[i][0], alt[i][1], NULL);
        homi_engine *e = NULL;
        REQUIRE(homi_engine_create(cfg, &e) == HOMI_OK, "engine");
        homi_config_free(cfg);
        homi_file *g = NULL;
        REQUIRE(homi_open(e, path, HOMI_RDONLY, &g) == HOMI_OK, "open");
        check(g, fd, 0, size, alt[i][0]);
        check(g, fd, 20 * M + 5, 3 * M, alt[i][0]);
        check_accounting(g, &s);
        CHECK(s.path[HOMI_PATH_HOLE].bytes == 0, "%s=%s, but %" PRIu64 " bytes served as holes",
              alt[i][0], alt[i][1], s.path[HOMI_PATH_HOLE].bytes);
        homi_engine_destroy(e);
    }
    close(fd);
    unlink(path);
}

static void sc_fallocate(char *info, size_t ilen)
{
    char path[4300];
    int fd = create_file("falloc", path, sizeof path);
    write_random(fd, 0, 64 * K);
    if (fallocate(fd, 0, 64 * K, 16 * M) != 0) {
        snprintf(info, ilen, "SKIPPED: fallocate: %s", strerror(errno));
        close(fd);
        unlink(path);
        return;
    }
    uint64_t size = (uint64_t)file_size(fd);
    homi_file *f = hopen(path);
    int64_t r = check(f, fd, 64 * K, 16 * M, "unwritten range");
    unsigned char *z = malloc(16 * M);
    REQUIRE(z, "malloc");
    if (r == (int64_t)(16 * M)) {
        CHECK(homi_pread(f, z, 16 * M, 64 * K) == (int64_t)(16 * M) && t_all_zero(z, 16 * M),
              "fallocated range does not read as zeros");
    }
    check(f, fd, 0, size, "whole preallocated file");
    /* write into part of the unwritten range, no fsync, read at once */
    write_random(fd, 3 * M + 5, 100 * K);
    check(f, fd, 3 * M, 200 * K, "written part of unwritten range (no fsync)");
    check(f, fd, 0, size, "whole file after write");
    write_random(fd, 8 * M, 1 * M);
    check(f, fd, 8 * M - 4096, 1 * M + 8192, "aligned write into unwritten (no fsync)");
    fsync(fd);
    check(f, fd, 0, size, "whole file after fsync");
    /* preallocation beyond EOF: still EOF; extending reveals zeros */
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)size, 4 * M) == 0) {
        check(f, fd, size - 10, 4096, "EOF with preallocation beyond");
        CHECK_RC(homi_pread(f, z, 4096, (int64_t)size), 0);
        REQUIRE(ftruncate(fd, (off_t)(size + 2 * M)) == 0, "ftruncate");
        check(f, fd, size - 10, 2 * M + 20, "extended into preallocation");
    }
    check_accounting(f, NULL);
    snprintf(info, ilen, "16 MiB fallocated, writes into it read back before fsync");
    free(z);
    homi_close(f);
    close(fd);
    unlink(path);
}

static void sc_unsynced(char *info, size_t ilen)
{
    char path[4300];
    int fd = create_file("fresh", path, sizeof path);
    /* open the homi handle first: the file grows under it */
    homi_file *f = hopen(path);
    check(f, fd, 0, 4096, "empty file");
    write_random(fd, 0, 5 * M + 3);
    check(f, fd, 0, 6 * M, "fresh data, not synced");
    random_reads(f, fd, 5 * M + 3, 60, "fresh random");
    for (int i = 0; i < 20; i++) {
        uint64_t off = t_below(5 * M);
        size_t len = 1 + (size_t)t_below(300 * K);
        write_random(fd, off, len);
        check(f, fd, off > 1000 ? off - 1000 : 0, len + 2000, "overwritten, not synced");
    }
    /* a synced copy overwritten without sync */
    fsync(fd);
    write_random(fd, 1 * M, 2 * M);
    check(f, fd, 0, 6 * M, "synced then overwritten");
    check_accounting(f, NULL);
    snprintf(info, ilen, "5 MiB written without fsync, 20 unsynced overwrites");
    homi_close(f);
    close(fd);
    unlink(path);
}

static void sc_eof(char *info, size_t ilen)
{
    char path[4300];
    int fd = create_file("eof", path, sizeof path);
    uint64_t size = 1 * M + 7;
    write_random(fd, 0, size);
    drop_cache(fd);
    homi_file *f = hopen(path);
    unsigned char buf[16];
    struct {
        uint64_t off;
        size_t len;
    } c[] = {{size - 1, 1},  {size - 1, 100}, {size - 4096, 8192},    {size, 1},
             {size, 4096},   {size + 1, 1},   {size + 5 * M, 64 * K}, {0, size},
             {0, size + 1},  {4096, size},    {size - 7, 7},          {size - 8, 8},
             {1 * M, 64 * K}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        check(f, fd, c[i].off, c[i].len, "eof");
    CHECK_RC(homi_pread(f, buf, 0, 0), 0);
    CHECK_RC(homi_pread(f, buf, 0, (int64_t)size), 0);
    CHECK_RC(homi_pread(f, buf, 0, (int64_t)size + 100), 0);
    CHECK_RC(homi_pread(f, buf, sizeof buf, (int64_t)size), 0);
    CHECK_RC(homi_pread(f, buf, sizeof buf, (int64_t)size + 12345), 0);
    CHECK_RC(homi_pread(f, buf, sizeof buf, (int64_t)size - 3), 3);
    check_accounting(f, NULL);
    snprintf(info, ilen, "size %" PRIu64 ", %zu boundary cases", size, sizeof c / sizeof c[0]);
    homi_close(f);
    close(fd);
    unlink(path);
}

static void sc_truncate(char *info, size_t ilen)
{
    char path[4300];
    int fd = create_file("trunc", path, sizeof path);
    uint64_t size = 8 * M;
    write_random(fd, 0, size);
    drop_cache(fd);
    homi_file *f = hopen(path);
    check(f, fd, 0, size, "before truncate");

    uint64_t small = 3 * M + 100;
    REQUIRE(ftruncate(fd, (off_t)small) == 0, "ftruncate");
    CHECK(homi_file_size(f) == (int64_t)small,
          "homi_file_size %" PRId64 " after truncate to %" PRIu64, homi_file_size(f), small);
    int64_t r = check(f, fd, 0, size, "after shrinking");
    CHECK(r == (int64_t)small, "read of 8M after truncate to %" PRIu64 " returned %" PRId64, small,
          r);
    check(f, fd, 5 * M, 4096, "past new EOF");
    check(f, fd, small - 50, 100, "new EOF straddle");

    /* extend again: the old bytes must not come back */
    REQUIRE(ftruncate(fd, (off_t)size) == 0, "ftruncate up");
    unsigned char *buf = malloc(size);
    REQUIRE(buf, "malloc");
    r = homi_pread(f, buf, size, 0);
    CHECK(r == (int64_t)size, "read after re-extend returned %" PRId64, r);
    if (r == (int64_t)size)
        CHECK(t_all_zero(buf + small, size - small),
              "re-extended range [%" PRIu64 ", %" PRIu64 ") is not zeros: stale bytes", small,
              size);
    check(f, fd, 0, size, "after re-extend");

    /* rewrite while open, no sync */
    for (int i = 0; i < 10; i++) {
        uint64_t off = t_below(size - 1 * M);
        size_t len = 1 + (size_t)t_below(1 * M);
        write_random(fd, off, len);
        check(f, fd, off, len, "rewritten while open");
    }
    /* punch a hole through the other descriptor */
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * M, 512 * K) == 0) {
        check(f, fd, 2 * M - 100, 512 * K + 200, "punched hole");
        r = homi_pread(f, buf, 512 * K, 2 * M);
        CHECK(r == (int64_t)(512 * K) && t_all_zero(buf, 512 * K), "punched range not zeros");
    }
    /* shrink to zero, then grow with data */
    REQUIRE(ftruncate(fd, 0) == 0, "ftruncate 0");
    CHECK_RC(homi_pread(f, buf, 4096, 0), 0);
    write_random(fd, 0, 12345);
    check(f, fd, 0, 20000, "regrown");
    check_accounting(f, NULL);
    snprintf(info, ilen, "shrink/extend/rewrite/punch/regrow while open");
    free(buf);
    homi_close(f);
    close(fd);
    unlink(path);
}

/* A homi read of a hole, then a write into it through another descriptor,
 * then an immediate homi read: must return the new bytes. */
static void sc_hole_write(char *info, size_t ilen)
{
    char path[4300];
    int fd = create_file("holewrite", path, sizeof path);
    uint64_t size = 48 * M;
    REQUIRE(ftruncate(fd, (off_t)size) == 0, "ftruncate");
    write_random(fd, 0, 64 * K);
    write_random(fd, size - 64 * K, 64 * K);
    fsync(fd);
    homi_file *f = hopen(path);
    check(f, fd, 0, size, "whole before");
    int stale = 0;
    const int iters = 100;
    for (int i = 0; i < iters; i++) {
        uint64_t p = 1 * M + (uint64_t)i * 256 * K + t_below(100 * K);
        int before = t_failures;
        check(f, fd, p - 64 * K, 128 * K, "hole before write");
        write_random(fd, p, 4096 + (size_t)t_below(16 * K));
        if (i % 10 == 9) fsync(fd);
        check(f, fd, p - 64 * K, 128 * K, "hole right after external write");
        if (t_failures != before) stale++;
        if (stale >= 3) break;
    }
    check(f, fd, 0, size, "whole after");
    snprintf(info, ilen, "%d write-after-hole-read iterations%s", iters,
             stale ? " (STALE ZEROS SEEN)" : "");
    homi_close(f);
    close(fd);
    unlink(path);
}

/* The same through a shared mapping: no write(2) is issued at all. */
static void sc_hole_mmap(char *info, size_t ilen)
{
    char path[4300];
    int fd = create_file("holemmap", path, sizeof path);
    uint64_t size = 16 * M;
    REQUIRE(ftruncate(fd, (off_t)size) == 0, "ftruncate");
    write_random(fd, 0, 4096);
    fsync(fd);
    unsigned char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE(map != MAP_FAILED, "mmap: %s", strerror(errno));
    homi_file *f = hopen(path);
    int stale = 0;
    for (int i = 0; i < 20 && stale < 3; i++) {
        uint64_t p = 1 * M + (uint64_t)i * 512 * K + t_below(4096);
        int before = t_failures;
        check(f, fd, p - 128 * K, 256 * K, "hole before mmap write");
        t_fill_random(map + p, 8192);
        check(f, fd, p - 128 * K, 256 * K, "hole right after mmap write");
        if (t_failures != before) stale++;
    }
    munmap(map, size);
    check(f, fd, 0, size, "whole after munmap");
    snprintf(info, ilen, "mmap writes into holes%s", stale ? " (STALE ZEROS SEEN)" : "");
    homi_close(f);
    close(fd);
    unlink(path);
}

/* ---------------------------------------------------------------- main */

struct scenario {
    const char *name;
    void (*fn)(char *info, size_t ilen);
};

static const struct scenario scenarios[] = {
    {"random", sc_random},       {"fragmented", sc_fragmented}, {"sparse", sc_sparse},
    {"fallocate", sc_fallocate}, {"unsynced", sc_unsynced},     {"eof", sc_eof},
    {"truncate", sc_truncate},   {"hole-write", sc_hole_write}, {"hole-mmap", sc_hole_mmap},
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    struct statfs sfs;
    REQUIRE(statfs(g_dir, &sfs) == 0, "statfs(%s): %s", g_dir, strerror(errno));
    if (sfs.f_type == EXT4_MAGIC)
        g_fsname = "ext4";
    else if (sfs.f_type == XFS_MAGIC)
        g_fsname = "xfs";
    g_known_fs = sfs.f_type == EXT4_MAGIC || sfs.f_type == XFS_MAGIC;
    uint64_t seed = t_seed_from_env(0xF5F5F5);
    printf("fs_verify: %s (%s, f_type 0x%lx)\n", g_dir, g_fsname, (unsigned long)sfs.f_type);

    int total_failed = 0;
    for (g_direct = 0; g_direct <= 1; g_direct++) {
        homi_config *cfg = t_config("homi_chunk_size", "64K", "homi_direct",
                                    g_direct ? "on" : "off", "homi_threads", "2", NULL);
        int rc = homi_engine_create(cfg, &g_eng);
        homi_config_free(cfg);
        REQUIRE(rc == HOMI_OK, "homi_engine_create: %d (%s)", rc, homi_strerror(rc));
        for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
            /* each scenario gets its own reproducible stream */
            t_rng_state = seed ^ (0x9E37u * (i + 1)) ^ ((uint64_t)g_direct << 40);
            snprintf(g_scen, sizeof g_scen, "%s direct=%s", scenarios[i].name,
                     g_direct ? "on" : "off");
            t_context = g_scen;
            char info[256] = "";
            int before = t_failures;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            scenarios[i].fn(info, sizeof info);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
            int failed = t_failures - before;
            printf("%-4s %-26s %6.2fs  %s%s\n", failed ? "FAIL" : "ok", g_scen, sec, info,
                   failed ? "  <-- see FAIL lines above" : "");
            if (failed) total_failed++;
            t_failures = before; /* per-scenario budget for t_bail_if_many */
        }
        homi_stats s;
        if (homi_engine_stats(g_eng, &s) == HOMI_OK) {
            printf("engine stats (direct=%s):\n", g_direct ? "on" : "off");
            homi_stats_print(&s, 1.0, stdout);
        }
        homi_engine_destroy(g_eng);
    }
    printf("fs_verify on %s: %d scenario run(s) failed\n", g_fsname, total_failed);
    return total_failed ? 1 : 0;
}
