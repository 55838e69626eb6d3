/* test_badinput.c - every documented error return of the public API, and
 * that invalid calls neither crash nor touch memory they should not.
 *
 * homi.h: handles are validated (closed / foreign -> HOMI_EBADF), bad
 * arguments -> HOMI_EINVAL, overflow -> HOMI_ERANGE, a rejected
 * homi_submit batch queues nothing. */
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include "homi_test.h"

#define K 1024ull
static char g_dir[4200], g_file[4200];
static const size_t g_size = 256 * K + 17;

/* Either value is acceptable (the header allows both for that case). */
#define CHECK_RC2(expr, a, b)                                                                      \
    do {                                                                                           \
        long long rc_ = (long long)(expr);                                                         \
        if (rc_ != (a) && rc_ != (b))                                                              \
            T_FAIL("`%s` returned %lld (%s), expected %s or %s", #expr, rc_,                       \
                   homi_strerror((int)rc_), #a, #b);                                               \
    } while (0)

static homi_engine *new_engine(const char *k, const char *v)
{
    homi_config *cfg = t_config("homi_threads", "1", k, v, NULL);
    homi_engine *eng = NULL;
    int rc = homi_engine_create(cfg, &eng);
    homi_config_free(cfg);
    REQUIRE(rc == HOMI_OK && eng, "homi_engine_create: %d (%s)", rc, homi_strerror(rc));
    return eng;
}

static homi_file *open_ok(homi_engine *eng, const char *path, unsigned flags)
{
    homi_file *f = NULL;
    int rc = homi_open(eng, path, flags, &f);
    REQUIRE(rc == HOMI_OK && f, "homi_open(%s, 0x%x): %d (%s)", path, flags, rc, homi_strerror(rc));
    return f;
}

static void test_open(homi_engine *eng)
{
    t_context = "open";
    homi_file *f = (homi_file *)0;
    char p[4300];
    CHECK_RC(homi_open(eng, g_dir, HOMI_RDONLY, &f), HOMI_EISDIR);
    CHECK_RC(homi_open(eng, "/", HOMI_RDONLY, &f), HOMI_EISDIR);
    CHECK_RC(homi_open(eng, g_dir, HOMI_RDWR | HOMI_CREATE, &f), HOMI_EISDIR);
    t_path(p, sizeof p, g_dir, "missing");
    CHECK_RC(homi_open(eng, p, HOMI_RDONLY, &f), HOMI_ENOENT);
    CHECK_RC(homi_open(eng, p, HOMI_RDWR, &f), HOMI_ENOENT);
    CHECK(access(p, F_OK) != 0, "HOMI_RDWR without HOMI_CREATE created %s", p);
    t_path(p, sizeof p, g_dir, "missing/dir/file");
    CHECK_RC(homi_open(eng, p, HOMI_RDONLY, &f), HOMI_ENOENT);
    CHECK_RC2(homi_open(eng, "", HOMI_RDONLY, &f), HOMI_ENOENT, HOMI_EINVAL);
    CHECK_RC(homi_open(eng, NULL, HOMI_RDONLY, &f), HOMI_EINVAL);
    CHECK_RC(homi_open(NULL, g_file, HOMI_RDONLY, &f), HOMI_EINVAL);
    CHECK_RC(homi_open(eng, g_file, HOMI_RDONLY, NULL), HOMI_EINVAL);
    /* a character device is not a regular file */
    CHECK_RC(homi_open(eng, "/dev/null", HOMI_RDONLY, &f), HOMI_ENOTREG);
    /* a FIFO is not a regular file either, and opening it must not block
     * waiting for a writer: run it in a child with an alarm */
    t_path(p, sizeof p, g_dir, "fifo");
    if (mkfifo(p, 0644) == 0) {
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0, "fork");
        if (pid == 0) {
            alarm(5);
            homi_file *ff = NULL;
            int rc = homi_open(eng, p, HOMI_RDONLY, &ff);
            if (rc != HOMI_ENOTREG) {
                fprintf(stderr, "FAIL homi_open(FIFO) returned %d (%s), want HOMI_ENOTREG\n", rc,
                        homi_strerror(rc));
                _exit(2);
            }
            _exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st))
            T_FAIL("homi_open on a FIFO %s (signal %d)",
                   WTERMSIG(st) == SIGALRM ? "blocked for 5 s waiting for a writer" : "crashed",
                   WTERMSIG(st));
        else
            CHECK(WEXITSTATUS(st) == 0, "homi_open on a FIFO: wrong result (see above)");
    }
    if (geteuid() != 0) {
        t_path(p, sizeof p, g_dir, "noperm");
        int fd = open(p, O_CREAT | O_WRONLY, 0);
        if (fd >= 0) {
            close(fd);
            CHECK_RC(homi_open(eng, p, HOMI_RDONLY, &f), HOMI_EACCES);
        }
    } else {
        printf("open: running as root, EACCES case skipped\n");
    }
    CHECK_RC(homi_engine_create(NULL, NULL), HOMI_EINVAL);
}

static void test_read_args(homi_engine *eng)
{
    t_context = "pread arguments";
    homi_file *f = open_ok(eng, g_file, HOMI_RDONLY);
    /* big enough for the whole file: an implementation that ignored the
     * length check and read to EOF fails the check instead of corrupting
     * memory */
    size_t cap = g_size + 8192;
    char *buf = malloc(cap);
    REQUIRE(buf, "malloc");
    memset(buf, 0x5A, cap);

    CHECK_RC(homi_pread(f, NULL, 10, 0), HOMI_EINVAL);
    CHECK_RC(homi_pread(f, buf, 10, -1), HOMI_EINVAL);
    CHECK_RC(homi_pread(f, buf, 10, INT64_MIN), HOMI_EINVAL);
    CHECK_RC(homi_pread(f, buf, 0, -1), HOMI_EINVAL);
    CHECK_RC2(homi_pread(f, buf, SIZE_MAX, 0), HOMI_ERANGE, HOMI_EINVAL);
    CHECK_RC2(homi_pread(f, buf, (size_t)INT64_MAX + 1, 0), HOMI_ERANGE, HOMI_EINVAL);
    CHECK_RC2(homi_pread(f, buf, 2, INT64_MAX), HOMI_ERANGE, HOMI_EINVAL);
    CHECK_RC2(homi_pread(f, buf, 4096, INT64_MAX - 100), HOMI_ERANGE, HOMI_EINVAL);
    CHECK_RC2(homi_pread(f, buf, SIZE_MAX / 2, 1), HOMI_ERANGE, HOMI_EINVAL);
    /* no overflow, merely far past EOF: 0 (or ERANGE for "too large") */
    CHECK_RC2(homi_pread(f, buf, 4096, INT64_MAX - 4096), 0, HOMI_ERANGE);
    for (size_t i = 0; i < cap; i++)
        if ((unsigned char)buf[i] != 0x5A) {
            T_FAIL("a rejected/empty read wrote into the buffer at +%zu", i);
            break;
        }
    CHECK_RC2(homi_pread(NULL, buf, 10, 0), HOMI_EBADF, HOMI_EINVAL);

    homi_read_opts o;
    memset(&o, 0, sizeof o);
    o.flags = 0x80; /* undefined flag bits must be 0 */
    CHECK_RC(homi_pread_ex(f, buf, 10, 0, &o), HOMI_EINVAL);
    o.flags = 0;
    o.path = 99;
    CHECK_RC(homi_pread_ex(f, buf, 10, 0, &o), HOMI_EINVAL);
    o.path = -2;
    CHECK_RC(homi_pread_ex(f, buf, 10, 0, &o), HOMI_EINVAL);
    o.path = HOMI_PATH_AUTO;
    o.mem = (homi_mem_kind)77;
    CHECK_RC(homi_pread_ex(f, buf, 10, 0, &o), HOMI_EINVAL);
    o.mem = HOMI_MEM_HOST;
    CHECK_RC(homi_pread_ex(f, buf, 10, 0, &o), 10);

    t_context = "stats arguments";
    homi_stats s;
    CHECK_RC(homi_file_stats(f, NULL), HOMI_EINVAL);
    CHECK_RC(homi_engine_stats(eng, NULL), HOMI_EINVAL);
    CHECK_RC(homi_engine_stats(NULL, &s), HOMI_EINVAL);
    CHECK_RC2(homi_file_stats(NULL, &s), HOMI_EBADF, HOMI_EINVAL);

    t_context = "pwrite on read-only";
    CHECK_RC(homi_pwrite(f, buf, 10, 0), HOMI_EBADF);
    CHECK_RC(homi_pwrite(f, buf, 0, 0), HOMI_EBADF);
    homi_close(f);
    free(buf);
}

static void test_closed(homi_engine *eng)
{
    t_context = "closed handle";
    char buf[64];
    homi_stats s;
    homi_file *f = open_ok(eng, g_file, HOMI_RDONLY);
    CHECK_RC(homi_pread(f, buf, sizeof buf, 0), (int64_t)sizeof buf);
    CHECK_RC(homi_close(f), HOMI_OK);
    CHECK_RC(homi_pread(f, buf, sizeof buf, 0), HOMI_EBADF);
    CHECK_RC(homi_pread_ex(f, buf, sizeof buf, 0, NULL), HOMI_EBADF);
    CHECK_RC(homi_file_size(f), HOMI_EBADF);
    CHECK_RC(homi_file_stats(f, &s), HOMI_EBADF);
    CHECK_RC(homi_pwrite(f, buf, sizeof buf, 0), HOMI_EBADF);
    CHECK_RC(homi_close(f), HOMI_EBADF); /* double close */
    CHECK_RC(homi_close(NULL), HOMI_OK);

    /* the stale handle stays dead when its slot is reused */
    t_context = "stale handle after reuse";
    homi_file *a = open_ok(eng, g_file, HOMI_RDONLY);
    CHECK_RC(homi_close(a), HOMI_OK);
    homi_file *b = open_ok(eng, g_file, HOMI_RDWR);
    memset(buf, 0, sizeof buf);
    CHECK_RC(homi_pread(a, buf, sizeof buf, 0), HOMI_EBADF);
    CHECK(t_all_zero(buf, sizeof buf), "a stale handle read data");
    CHECK_RC(homi_close(a), HOMI_EBADF);
    CHECK_RC(homi_pread(b, buf, sizeof buf, 0), (int64_t)sizeof buf);
    CHECK_RC(homi_close(b), HOMI_OK);

    /* closed handle in an async request */
    t_context = "closed handle async";
    homi_io io;
    memset(&io, 0, sizeof io);
    io.file = a;
    io.buf = buf;
    io.len = sizeof buf;
    CHECK_RC(homi_submit(eng, &io, 1), HOMI_EBADF);
    CHECK(homi_inflight(eng) == 0, "rejected request is in flight");
}

/* Garbage handles: run in a child so that a crash is reported, not fatal
 * to the rest of the test. */
static void test_foreign(homi_engine *eng)
{
    t_context = "foreign handle";
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        char buf[64];
        int bad = 0;
        unsigned char *junk = malloc(4096);
        if (!junk) _exit(3);
        memset(junk, 0x41, 4096);
        homi_file *cands[] = {(homi_file *)(uintptr_t)0x12345678, (homi_file *)junk,
                              (homi_file *)(uintptr_t)1, (homi_file *)(junk + 8)};
        for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
            int64_t r = homi_pread(cands[i], buf, sizeof buf, 0);
            if (r != HOMI_EBADF) {
                fprintf(stderr, "FAIL foreign handle %p: homi_pread returned %" PRId64 "\n",
                        (void *)cands[i], r);
                bad = 1;
            }
            int c = homi_close(cands[i]);
            if (c != HOMI_EBADF) {
                fprintf(stderr, "FAIL foreign handle %p: homi_close returned %d\n",
                        (void *)cands[i], c);
                bad = 1;
            }
        }
        (void)eng;
        _exit(bad ? 2 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        T_FAIL("homi_pread/homi_close on a garbage handle killed the process (signal %d)",
               WTERMSIG(st));
    else
        CHECK(WEXITSTATUS(st) == 0, "garbage handles not rejected with HOMI_EBADF (see above)");

    /* a handle of another engine submitted here */
    t_context = "other engine's handle";
    homi_engine *e2 = new_engine("homi_log_level", "error");
    homi_file *f2 = open_ok(e2, g_file, HOMI_RDONLY);
    char buf[100];
    homi_io io;
    memset(&io, 0, sizeof io);
    io.file = f2;
    io.buf = buf;
    io.len = sizeof buf;
    io.user_data = 7;
    int rc = homi_submit(eng, &io, 1);
    if (rc == 1) {
        homi_completion c;
        int k = homi_wait(eng, &c, 1, 1, 10000);
        CHECK(k == 1 && c.user_data == 7 && c.result == (int64_t)sizeof buf,
              "a request for another engine's file was accepted but did not complete here "
              "(wait %d)",
              k);
        printf("other engine's handle: accepted and served by the submitting engine\n");
    } else {
        CHECK_RC(rc, HOMI_EBADF);
        printf("other engine's handle: rejected with %d (%s)\n", rc, homi_strerror(rc));
    }
    homi_engine_destroy(e2);
}

static void test_submit(homi_engine *eng)
{
    t_context = "submit batch rejection";
    homi_file *f = open_ok(eng, g_file, HOMI_RDONLY);
    homi_file *closed = open_ok(eng, g_file, HOMI_RDONLY);
    homi_close(closed);
    enum { N = 8 };
    static char bufs[N][4096];
    homi_io ios[N];
    const char *names[] = {"NULL buffer", "negative offset", "closed file",  "NULL file",
                           "flags != 0",  "bad path",        "bad mem kind", "length overflow"};
    for (int variant = 0; variant < 8; variant++) {
        t_context = names[variant];
        memset(bufs, 0x77, sizeof bufs);
        memset(ios, 0, sizeof ios);
        for (int i = 0; i < N; i++) {
            ios[i].file = f;
            ios[i].buf = bufs[i];
            ios[i].len = sizeof bufs[i];
            ios[i].offset = i * 4096;
            ios[i].user_data = (uint64_t)i;
            ios[i].opts.path = HOMI_PATH_AUTO;
        }
        homi_io *bad = &ios[N / 2];
        switch (variant) {
        case 0: bad->buf = NULL; break;
        case 1: bad->offset = -4096; break;
        case 2: bad->file = closed; break;
        case 3: bad->file = NULL; break;
        case 4: bad->opts.flags = 0x10; break;
        case 5: bad->opts.path = 1234; break;
        case 6: bad->opts.mem = (homi_mem_kind)55; break;
        case 7:
            bad->len = SIZE_MAX;
            bad->offset = 1;
            break;
        }
        int rc = homi_submit(eng, ios, N);
        CHECK(rc < 0, "batch with one %s was accepted (%d)", names[variant], rc);
        CHECK(homi_inflight(eng) == 0, "inflight %u after a rejected batch", homi_inflight(eng));
        homi_completion c[N];
        int k = homi_wait(eng, c, 1, N, 100);
        CHECK(k == 0, "a rejected batch produced %d completion(s)", k);
        for (int i = 0; i < N; i++)
            for (size_t j = 0; j < sizeof bufs[i]; j++)
                if ((unsigned char)bufs[i][j] != 0x77) {
                    T_FAIL("request %d of a rejected batch wrote its buffer", i);
                    i = N;
                    break;
                }
    }
    t_context = "submit arguments";
    CHECK_RC(homi_submit(eng, NULL, 1), HOMI_EINVAL);
    CHECK_RC(homi_submit(NULL, ios, 1), HOMI_EINVAL);
    homi_completion c[4];
    CHECK(homi_wait(eng, c, 3, 2, 0) == HOMI_EINVAL, "homi_wait(min > max) must be HOMI_EINVAL");
    CHECK(homi_wait(NULL, c, 1, 2, 0) == HOMI_EINVAL, "homi_wait(NULL engine)");
    CHECK(homi_poll(NULL, c, 4) < 0, "homi_poll(NULL engine) must fail");
    homi_close(f);
}

static void test_limits(void)
{
    t_context = "max files";
    homi_engine *eng = new_engine("homi_max_files", "2");
    homi_file *a = open_ok(eng, g_file, HOMI_RDONLY);
    homi_file *b = open_ok(eng, g_file, HOMI_RDONLY);
    homi_file *c = NULL;
    CHECK_RC(homi_open(eng, g_file, HOMI_RDONLY, &c), HOMI_EBUSY);
    CHECK_RC(homi_close(a), HOMI_OK);
    CHECK_RC(homi_open(eng, g_file, HOMI_RDONLY, &c), HOMI_OK);
    char buf[16];
    CHECK_RC(homi_pread(c, buf, sizeof buf, 0), (int64_t)sizeof buf);
    CHECK_RC(homi_pread(b, buf, sizeof buf, 0), (int64_t)sizeof buf);
    homi_engine_destroy(eng); /* closes b and c */

    t_context = "hints";
    homi_config *cfg = homi_config_new();
    CHECK_RC(homi_config_set(cfg, "homi_no_such_hint", "1"), HOMI_EHINT);
    CHECK_RC(homi_config_set(cfg, "homi_chunk_size", "lots"), HOMI_EHINTVAL);
    CHECK_RC(homi_config_set(cfg, "homi_direct", "sometimes"), HOMI_EHINTVAL);
    CHECK_RC(homi_config_set(cfg, "homi_path", "teleport"), HOMI_EHINTVAL);
    homi_config_free(cfg);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    t_seed_from_env(7);
    snprintf(g_dir, sizeof g_dir, "%s", t_make_tmpdir("badinput"));
    t_path(g_file, sizeof g_file, g_dir, "data");
    int fd = open(g_file, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0, "create %s", g_file);
    char *d = malloc(g_size);
    REQUIRE(d, "malloc");
    t_fill_random(d, g_size);
    t_pwrite_all(fd, d, g_size, 0);
    free(d);
    close(fd);

    homi_engine *eng = new_engine("homi_chunk_size", "64K");
    test_open(eng);
    test_read_args(eng);
    test_closed(eng);
    test_foreign(eng);
    test_submit(eng);
    homi_engine_destroy(eng);
    test_limits();
    return t_finish("test_badinput");
}
