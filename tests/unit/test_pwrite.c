/* test_pwrite.c - homi_pwrite and read-after-write coherence.
 *
 *   test_pwrite [direct]
 *
 * Opens HOMI_RDWR|HOMI_CREATE, writes, reads back through homi, overwrites
 * and reads again (no stale bytes), writes past EOF (the gap reads as
 * zeros), writes into a hole the engine has already seen as a hole (the
 * extent map must be invalidated), and checks HOMI_TRUNC.  Also a write
 * through a separate descriptor right after a homi read of a hole. */
#include "homi_test.h"

#define K 1024ull
#define M (1024ull * 1024ull)

static int g_direct;

/* Read [off, off+len) through homi and compare with expect (len bytes;
 * want = expected return). */
static void check_read(homi_file *f, int64_t off, size_t len, const unsigned char *expect,
                       int64_t want, const char *what)
{
    size_t mis = (size_t)t_below(64);
    unsigned char *mem = malloc(len + mis + 1);
    REQUIRE(mem, "malloc");
    unsigned char *buf = mem + mis;
    memset(buf, 0xCD, len);
    int64_t got = homi_pread(f, buf, len, off);
    if (got != want) {
        T_FAIL("%s: homi_pread(off=%" PRId64 ", len=%zu) = %" PRId64 " (%s), want %" PRId64, what,
               off, len, got, got < 0 ? homi_strerror((int)got) : "bytes", want);
    } else if (want > 0) {
        long long d = t_first_diff(buf, expect, (size_t)want);
        if (d >= 0)
            T_FAIL("%s: first wrong byte at file offset %lld: got 0x%02x want 0x%02x", what,
                   (long long)off + d, buf[d], expect[d]);
    }
    free(mem);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    g_direct = argc > 1 && strcmp(argv[1], "direct") == 0;
    t_seed_from_env(g_direct ? 31337 : 4242);
    printf("mode: %s\n", g_direct ? "O_DIRECT reads" : "buffered reads");
    const char *dir = t_make_tmpdir("pwrite");
    char path[4200];
    t_path(path, sizeof path, dir, "rw");

    homi_config *cfg = t_config("homi_chunk_size", "64K", "homi_direct", g_direct ? "on" : "off",
                                "homi_threads", "2", "homi_min_hole", "64K", NULL);
    homi_engine *eng = NULL;
    REQUIRE(homi_engine_create(cfg, &eng) == HOMI_OK, "engine");
    homi_config_free(cfg);

    /* the model of the file's contents */
    const size_t cap = 8 * M;
    unsigned char *model = calloc(1, cap);
    REQUIRE(model, "calloc");
    size_t fsize = 0;

    homi_file *f = NULL;
    int rc = homi_open(eng, path, HOMI_RDWR | HOMI_CREATE, &f);
    REQUIRE(rc == HOMI_OK && f, "homi_open(RDWR|CREATE): %d (%s)", rc, homi_strerror(rc));
    CHECK(homi_file_size(f) == 0, "new file has size %" PRId64, homi_file_size(f));
    struct stat st;
    mode_t um = umask(0);
    umask(um);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0644 & ~um),
          "created file mode %o, want 0644 & ~umask", (unsigned)(st.st_mode & 0777));

    /* 1. write, read back */
    t_context = "write + read back";
    size_t n1 = 1 * M + 333;
    unsigned char *w = malloc(2 * M);
    REQUIRE(w, "malloc");
    t_fill_random(w, n1);
    CHECK_RC(homi_pwrite(f, w, n1, 0), (int64_t)n1);
    memcpy(model, w, n1);
    fsize = n1;
    CHECK(homi_file_size(f) == (int64_t)fsize, "size %" PRId64 " after write, want %zu",
          homi_file_size(f), fsize);
    check_read(f, 0, fsize, model, (int64_t)fsize, "whole");
    check_read(f, 100, 5000, model + 100, 5000, "small");
    check_read(f, (int64_t)fsize - 10, 100, model + fsize - 10, 10, "EOF crossing");

    /* 2. overwrite pieces (unaligned) and read again: no stale bytes */
    t_context = "overwrite";
    for (int i = 0; i < 40; i++) {
        size_t off = (size_t)t_below(fsize), len = 1 + (size_t)t_below(200 * K);
        if (off + len > fsize) len = fsize - off;
        t_fill_random(w, len);
        CHECK_RC(homi_pwrite(f, w, len, (int64_t)off), (int64_t)len);
        memcpy(model + off, w, len);
        /* read a window around the write */
        size_t a = off > 70000 ? off - 70000 : 0;
        size_t b = off + len + 70000 < fsize ? off + len + 70000 : fsize;
        check_read(f, (int64_t)a, b - a, model + a, (int64_t)(b - a), "overwrite window");
        t_bail_if_many();
    }
    check_read(f, 0, fsize, model, (int64_t)fsize, "whole after overwrites");

    /* 3. write past EOF: the gap is a hole and reads as zeros */
    t_context = "write past EOF";
    size_t far = 7 * M + 77;
    t_fill_random(w, 4096);
    CHECK_RC(homi_pwrite(f, w, 4096, (int64_t)far), 4096);
    memcpy(model + far, w, 4096);
    fsize = far + 4096;
    CHECK(homi_file_size(f) == (int64_t)fsize, "size %" PRId64 ", want %zu", homi_file_size(f),
          fsize);
    check_read(f, 0, fsize, model, (int64_t)fsize, "whole with gap");
    check_read(f, 2 * M, 2 * M, model + 2 * M, 2 * M, "inside the gap");

    /* 4. write into the hole that was just read as a hole */
    t_context = "write into a seen hole";
    for (int i = 0; i < 20; i++) {
        size_t off = 2 * M + (size_t)i * 128 * K + (size_t)t_below(1000);
        check_read(f, (int64_t)off, 64 * K, model + off, 64 * K, "hole before write");
        t_fill_random(w, 3000);
        CHECK_RC(homi_pwrite(f, w, 3000, (int64_t)off + 10), 3000);
        memcpy(model + off + 10, w, 3000);
        check_read(f, (int64_t)off, 64 * K, model + off, 64 * K, "hole after homi_pwrite");
    }

    /* 5. write through another descriptor right after a homi read of a
     * hole: the next homi read must see the new bytes */
    t_context = "external write into a seen hole";
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0, "open");
    for (int i = 0; i < 20; i++) {
        size_t off = 5 * M + (size_t)i * 40 * K + (size_t)t_below(1000);
        check_read(f, (int64_t)off - 64 * K, 128 * K, model + off - 64 * K, 128 * K,
                   "hole before external write");
        t_fill_random(w, 5000);
        t_pwrite_all(fd, w, 5000, (off_t)off);
        memcpy(model + off, w, 5000);
        check_read(f, (int64_t)off - 64 * K, 128 * K, model + off - 64 * K, 128 * K,
                   "hole after external write");
    }
    check_read(f, 0, fsize, model, (int64_t)fsize, "whole at the end");

    /* 6. pwrite argument errors */
    t_context = "pwrite arguments";
    CHECK_RC(homi_pwrite(f, NULL, 10, 0), HOMI_EINVAL);
    CHECK_RC(homi_pwrite(f, w, 10, -1), HOMI_EINVAL);
    CHECK_RC(homi_pwrite(f, w, 0, 0), 0);
    CHECK(homi_file_size(f) == (int64_t)fsize, "size changed by rejected writes");
    CHECK_RC(homi_close(f), HOMI_OK);

    /* 7. HOMI_TRUNC */
    t_context = "truncate on open";
    rc = homi_open(eng, path, HOMI_RDWR | HOMI_TRUNC, &f);
    REQUIRE(rc == HOMI_OK, "homi_open(RDWR|TRUNC): %d", rc);
    CHECK(homi_file_size(f) == 0, "size %" PRId64 " after HOMI_TRUNC", homi_file_size(f));
    check_read(f, 0, 4096, model, 0, "read of truncated file");
    t_fill_random(w, 10000);
    CHECK_RC(homi_pwrite(f, w, 10000, 0), 10000);
    check_read(f, 0, 20000, w, 10000, "after rewrite");
    CHECK_RC(homi_close(f), HOMI_OK);
    /* reopen read-only: contents persist */
    rc = homi_open(eng, path, HOMI_RDONLY, &f);
    REQUIRE(rc == HOMI_OK, "reopen");
    check_read(f, 0, 20000, w, 10000, "reopened");
    CHECK_RC(homi_close(f), HOMI_OK);

    close(fd);
    homi_engine_destroy(eng);
    free(w);
    free(model);
    return t_finish(g_direct ? "test_pwrite direct" : "test_pwrite");
}
