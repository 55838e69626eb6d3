/* test_write.c - writes from host memory through every write entry point
 * (homi_pwrite, homi_pwrite_ex, HOMI_IO_WRITE batches of homi_submit),
 * checked byte for byte against the same writes made with pwrite(2) on a
 * reference file: random offsets and lengths, unaligned memory and file
 * offsets, across extents, into holes, extending the file, overlapping
 * earlier data; reads issued after overlapping writes in flight; fsync;
 * statistics; errors (read-only handle, bad arguments, RLIMIT_FSIZE) and a
 * writer killed with SIGKILL mid-write, whose synced bytes must survive.
 *
 *   test_write [direct]        unit test (buffered or homi_direct=on)
 *   test_write fs MOUNTPOINT   on a small fresh ext4/xfs (tests/fs/loop_fs.sh):
 *                              a full file system, a write past the maximum
 *                              file size, an immutable file */
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "homi_test.h"

#define K 1024ull
#define M (1024ull * 1024ull)
#define KBIT (1u << HOMI_PATH_KERNEL)

static int g_direct;

static homi_engine *new_engine(void)
{
    homi_config *cfg = t_config("homi_chunk_size", "256K", "homi_direct", g_direct ? "on" : "off",
                                "homi_threads", "3", NULL);
    homi_engine *eng = NULL;
    int rc = homi_engine_create(cfg, &eng);
    REQUIRE(rc == HOMI_OK, "engine: %s", homi_strerror(rc));
    homi_config_free(cfg);
    return eng;
}

/* Both files must hold the same bytes (and have the same size). */
static void compare_files(int ref, const char *path, const char *what)
{
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0, "open %s", path);
    struct stat a, b;
    REQUIRE(fstat(ref, &a) == 0 && fstat(fd, &b) == 0, "fstat");
    CHECK(a.st_size == b.st_size, "%s: size %lld, reference %lld", what, (long long)b.st_size,
          (long long)a.st_size);
    size_t n = 4 * M;
    char *x = malloc(n), *y = malloc(n);
    REQUIRE(x && y, "malloc");
    for (off_t o = 0; o < a.st_size; o += (off_t)n) {
        ssize_t r1 = t_pread_ref(ref, x, n, o), r2 = t_pread_ref(fd, y, n, o);
        REQUIRE(r1 >= 0 && r2 >= 0, "pread");
        if (r1 != r2) {
            T_FAIL("%s: short read at %lld", what, (long long)o);
            break;
        }
        long long d = t_first_diff(x, y, (size_t)r1);
        if (d >= 0) {
            T_FAIL("%s: first wrong byte at file offset %lld: 0x%02x, reference 0x%02x", what,
                   (long long)o + d, (unsigned char)y[d], (unsigned char)x[d]);
            break;
        }
    }
    free(x);
    free(y);
    close(fd);
}

/* A homi read of [off, off+len) must equal the reference file's bytes. */
static void check_read(homi_file *f, int ref, int64_t off, size_t len, const char *what)
{
    char *a = malloc(len + 1), *b = malloc(len + 1);
    REQUIRE(a && b, "malloc");
    ssize_t want = t_pread_ref(ref, a, len, off);
    int64_t got = homi_pread(f, b, len, off);
    if (got != want)
        T_FAIL("%s: homi_pread(%" PRId64 ", %zu) = %" PRId64 ", reference %zd", what, off, len, got,
               want);
    else if (want > 0 && t_first_diff(a, b, (size_t)want) >= 0)
        T_FAIL("%s: read after write differs at +%lld", what, t_first_diff(a, b, (size_t)want));
    free(a);
    free(b);
}

/* A random write: offset and length of every kind the issue lists. */
static void pick(uint64_t fsize, uint64_t cap, uint64_t *off, uint64_t *len)
{
    switch (t_below(6)) {
    case 0: *len = 1 + t_below(4095); break;         /* small, unaligned */
    case 1: *len = (1 + t_below(256)) * 4096; break; /* page multiples */
    case 2: *len = 1 + t_below(3 * M); break;        /* across chunks */
    default: *len = 1 + t_below(600 * K); break;
    }
    switch (t_below(5)) {
    case 0: *off = fsize; break;                                    /* append */
    case 1: *off = fsize > 4096 ? fsize - t_below(4096) : 0; break; /* extend across EOF */
    case 2: *off = fsize + t_below(2 * M); break;                   /* leave a hole */
    case 3: *off = t_below(fsize + 1) / 4096 * 4096; break;         /* aligned overwrite */
    default: *off = t_below(fsize + 1); break;                      /* overwrite */
    }
    if (*off + *len > cap) {
        *off = t_below(cap / 2);
        if (*off + *len > cap) *len = cap - *off;
    }
}

static void random_writes(homi_engine *eng, const char *dir)
{
    t_context = "random writes vs pwrite";
    char path[4200], rpath[4200];
    t_path(path, sizeof path, dir, "homi");
    t_path(rpath, sizeof rpath, dir, "ref");
    int ref = open(rpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(ref >= 0, "open ref");
    homi_file *f = NULL;
    int rc = homi_open(eng, path, HOMI_RDWR | HOMI_CREATE | HOMI_TRUNC, &f);
    REQUIRE(rc == HOMI_OK, "homi_open: %s", homi_strerror(rc));
    const uint64_t cap = 48 * M;
    const size_t pool = 8 * M;
    char *src = malloc(pool + 4096 + 64);
    REQUIRE(src, "malloc");
    char *asrc = (char *)(((uintptr_t)src + 4095) & ~(uintptr_t)4095);
    uint64_t fsize = 0, written = 0, nwrites = 0;
    for (int it = 0; it < 240; it++) {
        int entry = (int)t_below(3);
        unsigned nb = entry == 2 ? 1 + (unsigned)t_below(8) : 1;
        homi_io ios[8];
        memset(ios, 0, sizeof ios);
        for (unsigned b = 0; b < nb; b++) {
            uint64_t off, len;
            pick(fsize, cap, &off, &len);
            /* page-aligned memory, or not */
            char *p =
                asrc + t_below((pool - len) / 4096 + 1) * 4096 + (t_below(2) ? t_below(64) : 0);
            t_fill_random(p, len);
            if (entry == 0) {
                CHECK_RC(homi_pwrite(f, p, len, (int64_t)off), (int64_t)len);
            } else if (entry == 1) {
                homi_read_opts o = {.mem = HOMI_MEM_HOST};
                CHECK_RC(homi_pwrite_ex(f, p, len, (int64_t)off, &o), (int64_t)len);
            } else {
                /* several writes in one batch (they may overlap: issue order
                 * wins); the source must stay valid until completion, so
                 * each takes its own copy */
                char *copy = malloc(len);
                REQUIRE(copy, "malloc");
                memcpy(copy, p, len);
                ios[b] = (homi_io){.file = f,
                                   .buf = copy,
                                   .len = len,
                                   .offset = (int64_t)off,
                                   .user_data = b,
                                   .opts = {.flags = HOMI_IO_WRITE}};
            }
            t_pwrite_all(ref, p, len, (off_t)off);
            if (off + len > fsize) fsize = off + len;
            written += len;
            nwrites++;
        }
        if (entry == 2) {
            CHECK_RC(homi_submit(eng, ios, nb), nb);
            /* a read issued now, overlapping the writes in flight, sees them */
            check_read(f, ref, ios[0].offset, ios[0].len + 100, "read behind async writes");
            homi_completion c[8];
            int got = 0;
            while (got < (int)nb) {
                int n = homi_wait(eng, c + got, 1, nb - (unsigned)got, 10000);
                REQUIRE(n > 0, "homi_wait: %d", n);
                got += n;
            }
            for (int i = 0; i < got; i++) {
                CHECK(c[i].result == (int64_t)ios[c[i].user_data].len && c[i].path_mask == KBIT,
                      "batch completion %llu: result %lld mask %#x",
                      (unsigned long long)c[i].user_data, (long long)c[i].result, c[i].path_mask);
            }
            for (unsigned b = 0; b < nb; b++)
                free(ios[b].buf);
        }
        if (it % 20 == 0) {
            uint64_t a = t_below(fsize + 1);
            check_read(f, ref, (int64_t)a, 1 + t_below(2 * M), "read after writes");
        }
        t_bail_if_many();
    }
    CHECK(homi_file_size(f) == (int64_t)fsize, "size %" PRId64 ", want %" PRIu64, homi_file_size(f),
          fsize);
    CHECK_RC(homi_fsync(f, 0), HOMI_OK);
    CHECK_RC(homi_fsync(f, HOMI_FSYNC_DATA), HOMI_OK);
    CHECK_RC(homi_fsync(f, 0x80), HOMI_EINVAL);
    compare_files(ref, path, "whole file");

    homi_stats st;
    CHECK_RC(homi_file_stats(f, &st), HOMI_OK);
    CHECK(st.write_bytes == written, "write_bytes %" PRIu64 ", want %" PRIu64, st.write_bytes,
          written);
    CHECK(st.write_path[HOMI_PATH_KERNEL].bytes == written, "kernel path wrote %" PRIu64,
          st.write_path[HOMI_PATH_KERNEL].bytes);
    for (int p = 1; p < HOMI_PATH_COUNT; p++)
        CHECK(st.write_path[p].bytes == 0, "path %s wrote bytes", homi_path_name(p));
    CHECK(st.writes == nwrites, "writes %" PRIu64 ", want %" PRIu64, st.writes, nwrites);
    CHECK(st.syncs == 2, "syncs %" PRIu64, st.syncs);
    CHECK(st.staged_write_bytes == 0, "host writes staged %" PRIu64, st.staged_write_bytes);
    if (g_direct) CHECK(st.fallbacks[HOMI_FB_DIRECT_UNALIGNED] > 0, "no unaligned pieces counted");
    homi_stats_print(&st, 0, stdout);

    /* a write asked for another path takes the kernel path, counted */
    homi_read_opts po = {.path = HOMI_PATH_PASSTHRU, .flags = HOMI_READ_FORCE_PATH};
    CHECK_RC(homi_pwrite_ex(f, src, 5000, 3, &po), 5000);
    t_pwrite_all(ref, src, 5000, 3);
    CHECK_RC(homi_file_stats(f, &st), HOMI_OK);
    CHECK(st.fallbacks[HOMI_FB_PATH_UNAVAILABLE] == 1, "path-unavailable %" PRIu64,
          st.fallbacks[HOMI_FB_PATH_UNAVAILABLE]);

    /* a write and an overlapping read in one batch: the read sees the write */
    t_context = "write + read batch";
    char *rb = malloc(300 * K);
    REQUIRE(rb, "malloc");
    t_fill_random(src, 200 * K);
    homi_io two[2] = {{.file = f,
                       .buf = src,
                       .len = 200 * K,
                       .offset = 1000,
                       .user_data = 1,
                       .opts = {.flags = HOMI_IO_WRITE}},
                      {.file = f, .buf = rb, .len = 300 * K, .offset = 0, .user_data = 2}};
    t_pwrite_all(ref, src, 200 * K, 1000);
    CHECK_RC(homi_submit(eng, two, 2), 2);
    homi_completion c[2];
    int got = 0;
    while (got < 2) {
        int n = homi_wait(eng, c + got, 1, 2 - (unsigned)got, 10000);
        REQUIRE(n > 0, "homi_wait");
        got += n;
    }
    char *want = malloc(300 * K);
    REQUIRE(want && t_pread_ref(ref, want, 300 * K, 0) == (ssize_t)(300 * K), "ref read");
    for (int i = 0; i < 2; i++)
        CHECK(c[i].result == (int64_t)(c[i].user_data == 1 ? 200 * K : 300 * K),
              "completion %llu: %lld", (unsigned long long)c[i].user_data, (long long)c[i].result);
    CHECK(t_first_diff(rb, want, 300 * K) < 0, "read in the batch missed the write");
    compare_files(ref, path, "after the batch");
    free(want);
    free(rb);

    /* zero-length writes */
    CHECK_RC(homi_pwrite(f, src, 0, 5), 0);
    CHECK_RC(homi_pwrite(f, NULL, 0, 5), 0);
    CHECK_RC(homi_close(f), HOMI_OK);
    close(ref);
    free(src);
}

static void argument_errors(homi_engine *eng, const char *dir)
{
    t_context = "errors";
    char path[4200];
    t_path(path, sizeof path, dir, "ro");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0, "open");
    char buf[8192];
    t_fill_random(buf, sizeof buf);
    t_pwrite_all(fd, buf, sizeof buf, 0);
    homi_file *f = NULL;
    REQUIRE(homi_open(eng, path, HOMI_RDONLY, &f) == HOMI_OK, "open ro");
    CHECK_RC(homi_pwrite(f, buf, 10, 0), HOMI_EBADF);
    homi_io io = {.file = f, .buf = buf, .len = 10, .opts = {.flags = HOMI_IO_WRITE}};
    CHECK_RC(homi_submit(eng, &io, 1), HOMI_EBADF);
    int64_t res;
    CHECK_RC(homi_write_from_stream(f, buf, 10, 0, NULL, &res), HOMI_EBADF);
    CHECK_RC(homi_close(f), HOMI_OK);
    REQUIRE(homi_open(eng, path, HOMI_RDWR, &f) == HOMI_OK, "open rw");
    CHECK_RC(homi_pwrite(f, NULL, 10, 0), HOMI_EINVAL);
    CHECK_RC(homi_pwrite(f, buf, 10, -1), HOMI_EINVAL);
    CHECK_RC(homi_pwrite(f, buf, 10, INT64_MAX - 5), HOMI_ERANGE);
    homi_read_opts bad = {.flags = 0x100};
    CHECK_RC(homi_pwrite_ex(f, buf, 10, 0, &bad), HOMI_EINVAL);
    /* a read flag set on a read entry point is refused */
    homi_read_opts wflag = {.flags = HOMI_IO_WRITE};
    CHECK_RC(homi_pread_ex(f, buf, 10, 0, &wflag), HOMI_EINVAL);
    /* a bad request rejects the whole batch: nothing written */
    homi_io ios[2] = {
        {.file = f, .buf = buf, .len = 100, .offset = 0, .opts = {.flags = HOMI_IO_WRITE}},
        {.file = f, .buf = buf, .len = 10, .offset = -3, .opts = {.flags = HOMI_IO_WRITE}}};
    char zero[100] = {0};
    t_pwrite_all(fd, zero, 100, 0);
    CHECK_RC(homi_submit(eng, ios, 2), HOMI_EINVAL);
    char back[100];
    CHECK(t_pread_ref(fd, back, 100, 0) == 100 && t_all_zero(back, 100),
          "a rejected batch wrote bytes");
    CHECK_RC(homi_close(f), HOMI_OK);
    if (geteuid() != 0) {
        chmod(path, 0444);
        CHECK_RC(homi_open(eng, path, HOMI_RDWR, &f), HOMI_EACCES);
    } else {
        printf("root: a mode 0444 file is writable; the immutable-file case runs in the fs test\n");
    }
    close(fd);
}

/* RLIMIT_FSIZE: the write stops at the limit; the count is the bytes in
 * the file; the next write fails with HOMI_ERANGE (in a child process). */
static void fsize_limit(const char *dir)
{
    t_context = "RLIMIT_FSIZE";
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        t_failures = 0; /* the child reports only its own */
        signal(SIGXFSZ, SIG_IGN);
        const uint64_t lim = 3 * M + 5000;
        struct rlimit rl = {lim, lim};
        REQUIRE(setrlimit(RLIMIT_FSIZE, &rl) == 0, "setrlimit");
        homi_engine *eng = new_engine();
        char path[4200];
        t_path(path, sizeof path, dir, "limit");
        const size_t n = 4 * M;
        char *buf = malloc(n);
        REQUIRE(buf, "malloc");
        t_fill_random(buf, n);
        for (int async = 0; async < 2; async++) {
            homi_file *f = NULL;
            REQUIRE(homi_open(eng, path, HOMI_RDWR | HOMI_CREATE | HOMI_TRUNC, &f) == HOMI_OK,
                    "open");
            int64_t r;
            if (async) {
                homi_io io = {.file = f, .buf = buf, .len = n, .opts = {.flags = HOMI_IO_WRITE}};
                CHECK_RC(homi_submit(eng, &io, 1), 1);
                homi_completion c;
                REQUIRE(homi_wait(eng, &c, 1, 1, 20000) == 1, "wait");
                r = c.result;
            } else {
                r = homi_pwrite(f, buf, n, 0);
            }
            CHECK(r == (int64_t)lim, "%s write across the limit returned %lld, want %llu",
                  async ? "async" : "sync", (long long)r, (unsigned long long)lim);
            CHECK_RC(homi_pwrite(f, buf, 4096, (int64_t)lim), HOMI_ERANGE);
            CHECK(homi_file_size(f) == (int64_t)lim, "size %lld", (long long)homi_file_size(f));
            int fd = open(path, O_RDONLY);
            char *back = malloc(n);
            REQUIRE(fd >= 0 && back, "open");
            CHECK(t_pread_ref(fd, back, n, 0) == (ssize_t)lim && t_first_diff(back, buf, lim) < 0,
                  "bytes below the limit differ");
            close(fd);
            free(back);
            homi_stats st;
            homi_file_stats(f, &st);
            CHECK(st.errors >= 1, "errors not counted");
            homi_close(f);
        }
        homi_engine_destroy(eng);
        free(buf);
        _exit(t_failures ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %#x)", status);
}

/* A writer killed with SIGKILL mid-write: every block written and synced
 * before the kill is intact. */
static uint64_t block_seed(uint64_t i)
{
    return 0x5eed0000ull + i * 7919;
}

static void fill_block(char *b, size_t n, uint64_t i)
{
    uint64_t save = t_rng_state;
    t_rng_state = block_seed(i);
    t_fill_random(b, n);
    t_rng_state = save;
}

static void kill_writer(const char *dir)
{
    t_context = "kill -9 mid-write";
    char path[4200];
    t_path(path, sizeof path, dir, "ckpt");
    const size_t B = 512 * K;
    int pfd[2];
    REQUIRE(pipe(pfd) == 0, "pipe");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(pfd[0]);
        homi_engine *eng = new_engine();
        homi_file *f = NULL;
        REQUIRE(homi_open(eng, path, HOMI_RDWR | HOMI_CREATE | HOMI_TRUNC, &f) == HOMI_OK, "open");
        char *b = malloc(4 * B);
        REQUIRE(b, "malloc");
        for (uint64_t i = 0;; i += 4) {
            homi_io io[4];
            for (int k = 0; k < 4; k++) {
                fill_block(b + k * B, B, i + (uint64_t)k);
                io[k] = (homi_io){.file = f,
                                  .buf = b + k * B,
                                  .len = B,
                                  .offset = (int64_t)((i + (uint64_t)k) * B),
                                  .opts = {.flags = HOMI_IO_WRITE}};
            }
            if (homi_submit(eng, io, 4) != 4) _exit(2);
            homi_fsync(f, HOMI_FSYNC_DATA); /* waits for the four */
            homi_completion c[4];
            int got = 0;
            while (got < 4)
                got += homi_wait(eng, c + got, 1, 4 - (unsigned)got, -1);
            uint64_t synced = i + 4;
            if (write(pfd[1], &synced, sizeof synced) != sizeof synced) _exit(3);
            if (i > 4000) _exit(4);
        }
    }
    close(pfd[1]);
    uint64_t synced = 0, v;
    while (synced < 24 && read(pfd[0], &v, sizeof v) == sizeof v)
        synced = v;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    while (read(pfd[0], &v, sizeof v) == sizeof v) /* reported before the kill */
        synced = v;
    close(pfd[0]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "writer was not killed (%#x)",
          status);
    REQUIRE(synced >= 24, "writer synced only %llu blocks", (unsigned long long)synced);
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0, "open");
    char *b = malloc(B), *want = malloc(B);
    REQUIRE(b && want, "malloc");
    for (uint64_t i = 0; i < synced; i++) {
        fill_block(want, B, i);
        if (t_pread_ref(fd, b, B, (off_t)(i * B)) != (ssize_t)B || t_first_diff(b, want, B) >= 0) {
            T_FAIL("synced block %llu damaged after kill -9", (unsigned long long)i);
            break;
        }
    }
    printf("kill -9: %llu synced blocks of %zu bytes intact\n", (unsigned long long)synced, B);
    close(fd);
    free(b);
    free(want);
}

/* ---- fs mode: a small fresh file system */

static void fs_full(homi_engine *eng, const char *mnt)
{
    t_context = "full file system";
    char path[4200], other[4200];
    t_path(other, sizeof other, mnt, "other");
    t_path(path, sizeof path, mnt, "fill");
    /* bytes already in the file system that must not be damaged */
    const size_t on = 4 * M;
    char *obuf = malloc(on);
    REQUIRE(obuf, "malloc");
    t_fill_random(obuf, on);
    int ofd = open(other, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(ofd >= 0, "open");
    t_pwrite_all(ofd, obuf, on, 0);
    fsync(ofd);
    struct statvfs sv;
    REQUIRE(statvfs(mnt, &sv) == 0, "statvfs");
    /* root may use the reserved blocks too */
    uint64_t avail = (uint64_t)(geteuid() == 0 ? sv.f_bfree : sv.f_bavail) * sv.f_frsize;
    printf("free space: %llu bytes\n", (unsigned long long)avail);
    const size_t chunk = 8 * M;
    char *buf = malloc(chunk);
    REQUIRE(buf, "malloc");
    homi_file *f = NULL;
    REQUIRE(homi_open(eng, path, HOMI_RDWR | HOMI_CREATE | HOMI_TRUNC, &f) == HOMI_OK, "open");
    uint64_t total = 0;
    uint64_t seed0 = t_rng_state;
    int64_t r = 0;
    for (int i = 0; i < 4096; i++) {
        t_fill_random(buf, chunk);
        r = homi_pwrite(f, buf, chunk, (int64_t)total);
        if (r < 0) break;
        total += (uint64_t)r;
        if ((size_t)r < chunk) break;
    }
    printf("filled %llu bytes, last write returned %lld\n", (unsigned long long)total,
           (long long)r);
    /* the filling request returns its written prefix, or HOMI_ENOSPC when a
     * chunk at its start failed (its chunks run in parallel on the rings) */
    CHECK((r >= 0 && (size_t)r < chunk) || r == HOMI_ENOSPC,
          "the write that filled the file system returned %lld", (long long)r);
    CHECK(total > avail / 2 && total <= avail, "wrote %llu bytes of %llu free",
          (unsigned long long)total, (unsigned long long)avail);
    int64_t again = homi_pwrite(f, buf, chunk, (int64_t)total);
    CHECK(again == HOMI_ENOSPC, "write on a full file system: %lld (%s)", (long long)again,
          homi_strerror((int)again));
    homi_io io = {.file = f,
                  .buf = buf,
                  .len = chunk,
                  .offset = (int64_t)total,
                  .opts = {.flags = HOMI_IO_WRITE}};
    CHECK_RC(homi_submit(eng, &io, 1), 1);
    homi_completion c;
    REQUIRE(homi_wait(eng, &c, 1, 1, 20000) == 1, "wait");
    CHECK(c.result == HOMI_ENOSPC, "async write on a full file system: %lld", (long long)c.result);
    /* the file holds the bytes reported written (pieces of the failed
     * request after them may be there too) */
    CHECK(homi_file_size(f) >= (int64_t)total, "size %lld, reported %llu",
          (long long)homi_file_size(f), (unsigned long long)total);
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0, "open");
    uint64_t save = t_rng_state;
    t_rng_state = seed0;
    for (uint64_t o = 0; o < total; o += chunk) {
        t_fill_random(buf, chunk);
        size_t n = total - o < chunk ? (size_t)(total - o) : chunk;
        char *b = malloc(n);
        REQUIRE(b, "malloc");
        if (t_pread_ref(fd, b, n, (off_t)o) != (ssize_t)n || t_first_diff(b, buf, n) >= 0) {
            T_FAIL("written bytes at %llu differ", (unsigned long long)o);
            free(b);
            break;
        }
        free(b);
    }
    t_rng_state = save;
    close(fd);
    char *back = malloc(on);
    REQUIRE(back, "malloc");
    CHECK(t_pread_ref(ofd, back, on, 0) == (ssize_t)on && t_first_diff(back, obuf, on) < 0,
          "another file was damaged");
    CHECK_RC(homi_close(f), HOMI_OK);
    unlink(path);
    close(ofd);
    free(back);
    free(buf);
    free(obuf);
}

static void fs_limits(homi_engine *eng, const char *mnt)
{
    t_context = "maximum file size";
    char path[4200];
    t_path(path, sizeof path, mnt, "huge");
    struct statfs sf;
    REQUIRE(statfs(mnt, &sf) == 0, "statfs");
    homi_file *f = NULL;
    REQUIRE(homi_open(eng, path, HOMI_RDWR | HOMI_CREATE | HOMI_TRUNC, &f) == HOMI_OK, "open");
    char buf[8192];
    t_fill_random(buf, sizeof buf);
    CHECK_RC(homi_pwrite(f, buf, sizeof buf, 0), (int64_t)sizeof buf);
    /* ext4 (4 KiB blocks): 16 TiB, refused by the file system; xfs: 8 EiB
     * - 1, which only the offset + length overflow check can refuse */
    int64_t off = sf.f_type == 0xEF53 ? (int64_t)(1ull << 45) : INT64_MAX - 10;
    CHECK_RC(homi_pwrite(f, buf, 4096, off), HOMI_ERANGE);
    CHECK(homi_file_size(f) == (int64_t)sizeof buf, "size changed to %lld",
          (long long)homi_file_size(f));
    CHECK_RC(homi_close(f), HOMI_OK);

    t_context = "immutable file";
    int fd = open(path, O_RDONLY);
    int attr = 0;
    REQUIRE(fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &attr) == 0, "FS_IOC_GETFLAGS");
    attr |= FS_IMMUTABLE_FL;
    REQUIRE(ioctl(fd, FS_IOC_SETFLAGS, &attr) == 0, "FS_IOC_SETFLAGS: %s", strerror(errno));
    CHECK_RC(homi_open(eng, path, HOMI_RDWR, &f), HOMI_EACCES);
    attr &= ~FS_IMMUTABLE_FL;
    ioctl(fd, FS_IOC_SETFLAGS, &attr);
    close(fd);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int fs = argc > 2 && strcmp(argv[1], "fs") == 0;
    g_direct = argc > 1 && strcmp(argv[1], "direct") == 0;
    t_seed_from_env(g_direct ? 2207 : 22);
    if (fs) {
        const char *mnt = argv[2];
        for (g_direct = 0; g_direct < 2; g_direct++) {
            printf("fs mode on %s, %s\n", mnt, g_direct ? "O_DIRECT" : "buffered");
            homi_engine *eng = new_engine();
            fs_full(eng, mnt);
            fs_limits(eng, mnt);
            homi_engine_destroy(eng);
        }
        return t_finish("test_write fs");
    }
    printf("mode: %s writes\n", g_direct ? "O_DIRECT" : "buffered");
    const char *dir = t_make_tmpdir("write");
    homi_engine *eng = new_engine();
    random_writes(eng, dir);
    argument_errors(eng, dir);
    homi_engine_destroy(eng);
    fsize_limit(dir);
    kill_writer(dir);
    return t_finish(g_direct ? "test_write direct" : "test_write");
}
