/* test_engine.c - reads through a real engine (io_uring kernel path) on a
 * temporary file, checked byte-for-byte against pread(2).
 *
 *   test_engine            buffered reads (homi_direct=off)
 *   test_engine direct     O_DIRECT reads (homi_direct=on); where the file
 *                          system refuses O_DIRECT the engine falls back and
 *                          must count HOMI_FB_DIRECT_UNSUPPORTED
 *
 * Covers: synchronous reads (unaligned, chunk-crossing with a 64K chunk
 * size, EOF-crossing, at/past EOF, zero length, misaligned buffers),
 * asynchronous batches (homi_submit/homi_wait/homi_poll/homi_inflight),
 * concurrent readers, forced paths (fallback must be counted), stats. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "homi_test.h"

#define K 1024ull
#define M (1024ull * 1024ull)
#define CHUNK (64 * K)
#define GUARD 64
#define GUARD_BYTE 0xEE

static int g_direct;
static char g_path[4200];
static int g_fd;        /* reference descriptor for pread */
static uint64_t g_size; /* file size */

/* ---------------------------------------------------------------- helpers */

struct rbuf {
    unsigned char *base; /* allocation */
    unsigned char *dst;  /* base + mis  */
    size_t mis, len;
};

static void rbuf_alloc(struct rbuf *b, size_t len, size_t mis)
{
    void *p = NULL;
    size_t total = mis + len + GUARD;
    REQUIRE(posix_memalign(&p, 4096, total) == 0, "posix_memalign(%zu)", total);
    b->base = p;
    b->dst = b->base + mis;
    b->mis = mis;
    b->len = len;
    memset(b->base, GUARD_BYTE, total);
}

static void rbuf_free(struct rbuf *b)
{
    free(b->base);
}

static int64_t expected_len(uint64_t off, uint64_t len)
{
    if (off >= g_size) return 0;
    return (int64_t)(len < g_size - off ? len : g_size - off);
}

/* Verify one read result; returns 0 when all is well. */
static int verify(const char *what, const struct rbuf *b, int64_t off, int64_t got)
{
    int64_t want = expected_len((uint64_t)off, b->len);
    if (got != want) {
        T_FAIL("%s: read(off=%" PRId64 ", len=%zu, buf+%zu) returned %" PRId64
               " (%s), want %" PRId64,
               what, off, b->len, b->mis, got, got < 0 ? homi_strerror((int)got) : "bytes", want);
        return -1;
    }
    if (want > 0) {
        unsigned char *ref = malloc((size_t)want);
        REQUIRE(ref, "malloc");
        ssize_t r = t_pread_ref(g_fd, ref, (size_t)want, (off_t)off);
        REQUIRE(r == want, "reference pread returned %zd", r);
        long long d = t_first_diff(b->dst, ref, (size_t)want);
        free(ref);
        if (d >= 0) {
            T_FAIL("%s: read(off=%" PRId64 ", len=%zu, buf+%zu): first wrong byte at +%lld (file "
                   "offset %lld): got 0x%02x",
                   what, off, b->len, b->mis, d, (long long)off + d, b->dst[d]);
            return -1;
        }
    }
    for (size_t i = 0; i < b->mis; i++)
        if (b->base[i] != GUARD_BYTE) {
            T_FAIL("%s: read(off=%" PRId64 ", len=%zu) wrote %zu bytes before the buffer", what,
                   off, b->len, b->mis - i);
            return -1;
        }
    /* like pread(2): bytes of the buffer past the result are not touched */
    for (size_t i = (size_t)want; i < b->len; i++)
        if (b->dst[i] != GUARD_BYTE) {
            T_FAIL("%s: read(off=%" PRId64 ", len=%zu) returned %" PRId64
                   " but modified the buffer at +%zu",
                   what, off, b->len, got, i);
            return -1;
        }
    for (size_t i = 0; i < GUARD; i++)
        if (b->dst[b->len + i] != GUARD_BYTE) {
            T_FAIL("%s: read(off=%" PRId64 ", len=%zu) wrote past the end of the buffer", what, off,
                   b->len);
            return -1;
        }
    return 0;
}

/* A random request of one of several shapes. */
static void random_req(uint64_t *off, size_t *len, size_t *mis)
{
    switch (t_below(7)) {
    case 0: /* small, anywhere */
        *off = t_below(g_size);
        *len = 1 + (size_t)t_below(4096);
        break;
    case 1: /* medium */
        *off = t_below(g_size);
        *len = 1 + (size_t)t_below(300 * K);
        break;
    case 2: /* large */
        *off = t_below(g_size);
        *len = 1 + (size_t)t_below(3 * M);
        break;
    case 3: /* aligned */
        *off = t_below(g_size / 4096) * 4096;
        *len = (1 + (size_t)t_below(64)) * 4096;
        break;
    case 4: { /* straddling a chunk boundary */
        uint64_t b = (1 + t_below(g_size / CHUNK)) * CHUNK;
        uint64_t x = 1 + t_below(4095);
        *off = b - x;
        *len = (size_t)(x + 1 + t_below(CHUNK + 4096));
        break;
    }
    case 5: { /* crossing EOF */
        uint64_t x = t_below(200 * K);
        *off = g_size - (x < g_size ? x : g_size);
        *len = (size_t)(x + 1 + t_below(100 * K));
        break;
    }
    default: /* many chunks, odd both ends */
        *off = t_below(g_size);
        *len = (size_t)(CHUNK * (2 + t_below(20)) + t_below(CHUNK));
        break;
    }
    switch (t_below(4)) {
    case 0: *mis = 0; break;
    case 1: *mis = 512 * t_below(8); break;
    default: *mis = 1 + (size_t)t_below(4095); break;
    }
}

static homi_engine *make_engine(void)
{
    homi_config *cfg = t_config("homi_chunk_size", "64K", "homi_direct", g_direct ? "on" : "off",
                                "homi_threads", "2", "homi_queue_depth", "16", NULL);
    homi_engine *eng = NULL;
    int rc = homi_engine_create(cfg, &eng);
    /* the engine copies cfg: freeing it now must be harmless */
    homi_config_free(cfg);
    REQUIRE(rc == HOMI_OK && eng, "homi_engine_create: %d (%s)", rc, homi_strerror(rc));
    return eng;
}

static homi_file *open_file(homi_engine *eng)
{
    homi_file *f = NULL;
    int rc = homi_open(eng, g_path, HOMI_RDONLY, &f);
    REQUIRE(rc == HOMI_OK && f, "homi_open(%s): %d (%s)", g_path, rc, homi_strerror(rc));
    return f;
}

/* ---------------------------------------------------------------- sync */

static int64_t do_read(homi_file *f, uint64_t off, size_t len, size_t mis, const char *what)
{
    struct rbuf b;
    rbuf_alloc(&b, len, mis);
    int64_t got = homi_pread(f, b.dst, len, (int64_t)off);
    verify(what, &b, (int64_t)off, got);
    rbuf_free(&b);
    return got;
}

static void test_sync(homi_engine *eng)
{
    t_context = "sync";
    homi_file *f = open_file(eng);
    CHECK(homi_file_size(f) == (int64_t)g_size, "homi_file_size %" PRId64 ", want %" PRIu64,
          homi_file_size(f), g_size);

    struct {
        uint64_t off;
        size_t len;
        const char *what;
    } fixed[] = {
        {0, 0, "zero length at 0"},
        {12345, 0, "zero length inside"},
        {g_size, 0, "zero length at EOF"},
        {g_size, 1, "at EOF"},
        {g_size, 1 * M, "at EOF, 1M"},
        {g_size + 1, 100, "past EOF"},
        {g_size + 10 * M, 4096, "far past EOF"},
        {1ull << 50, 4096, "2^50"},
        {0, (size_t)g_size, "whole file"},
        {0, (size_t)g_size + 1 * M, "whole file + 1M"},
        {1, (size_t)g_size - 1, "all but first byte"},
        {g_size - 1, 1, "last byte"},
        {g_size - 1, 4096, "last byte, 4K asked"},
        {g_size - 4097, 8192, "EOF crossing"},
        {CHUNK - 1, 2, "chunk boundary 2 bytes"},
        {CHUNK, CHUNK, "exactly one chunk"},
        {3 * CHUNK - 7, 2 * CHUNK + 14, "three chunks, odd ends"},
        {0, 1, "first byte"},
        {511, 513, "sector straddle"},
        {4095, 4097, "page straddle"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        do_read(f, fixed[i].off, fixed[i].len, 0, fixed[i].what);
        do_read(f, fixed[i].off, fixed[i].len, 1 + i, fixed[i].what); /* misaligned buffer */
    }

    int n = 400;
    for (int i = 0; i < n; i++) {
        uint64_t off;
        size_t len, mis;
        random_req(&off, &len, &mis);
        do_read(f, off, len, mis, "random");
        t_bail_if_many();
    }
    printf("sync: %zu fixed cases x2 and %d random reads checked\n", sizeof fixed / sizeof fixed[0],
           n);

    /* homi_pread_ex with explicit options */
    t_context = "pread_ex";
    homi_read_opts o;
    memset(&o, 0, sizeof o);
    o.path = HOMI_PATH_AUTO;
    o.mem = HOMI_MEM_HOST;
    struct rbuf b;
    rbuf_alloc(&b, 200 * K + 3, 5);
    verify("pread_ex mem=host path=auto", &b, 777, homi_pread_ex(f, b.dst, b.len, 777, &o));
    rbuf_free(&b);
    o.mem = HOMI_MEM_AUTO;
    o.path = HOMI_PATH_KERNEL;
    o.flags = HOMI_READ_FORCE_PATH;
    rbuf_alloc(&b, 200 * K + 3, 5);
    verify("pread_ex path=kernel", &b, 778, homi_pread_ex(f, b.dst, b.len, 778, &o));
    rbuf_free(&b);
    rbuf_alloc(&b, 9999, 0);
    verify("pread_ex opts=NULL", &b, 1, homi_pread_ex(f, b.dst, b.len, 1, NULL));
    rbuf_free(&b);

    CHECK_RC(homi_close(f), HOMI_OK);
}

/* ---------------------------------------------------------------- async */

struct areq {
    struct rbuf b;
    uint64_t off;
    int done;
};

static void check_completion(struct areq *reqs, unsigned n, uint64_t base, const homi_completion *c)
{
    if (c->user_data < base || c->user_data >= base + n) {
        T_FAIL("completion with unknown user_data %" PRIu64, c->user_data);
        return;
    }
    struct areq *r = &reqs[c->user_data - base];
    if (r->done++) {
        T_FAIL("user_data %" PRIu64 " completed twice", c->user_data);
        return;
    }
    char what[64];
    snprintf(what, sizeof what, "async #%" PRIu64, c->user_data - base);
    if (verify(what, &r->b, (int64_t)r->off, c->result) == 0 && c->result > 0)
        CHECK(c->path_mask & (1u << HOMI_PATH_KERNEL),
              "%s: %" PRId64 " bytes but path_mask 0x%x lacks the kernel bit", what, c->result,
              c->path_mask);
}

static void make_batch(homi_file *f, struct areq *reqs, homi_io *ios, unsigned n, uint64_t base)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t off;
        size_t len, mis;
        random_req(&off, &len, &mis);
        if (i % 50 == 7) len = 0;           /* zero length */
        if (i % 50 == 11) off = g_size + i; /* past EOF */
        if (i % 50 == 13) off = g_size;     /* at EOF */
        if (len > 1 * M) len = 1 * M;       /* bound memory */
        rbuf_alloc(&reqs[i].b, len, mis);
        reqs[i].off = off;
        reqs[i].done = 0;
        memset(&ios[i], 0, sizeof ios[i]);
        ios[i].file = f;
        ios[i].buf = reqs[i].b.dst;
        ios[i].len = len;
        ios[i].offset = (int64_t)off;
        ios[i].user_data = base + i;
        ios[i].opts.path = HOMI_PATH_AUTO;
    }
}

static void test_async(homi_engine *eng)
{
    t_context = "async";
    homi_file *f = open_file(eng);
    homi_completion cq[64];

    CHECK(homi_inflight(eng) == 0, "inflight %u before any submission", homi_inflight(eng));
    CHECK_RC(homi_poll(eng, cq, 64), 0);

    enum { N = 200 };
    const uint64_t base = 0x1000000000ull;
    struct areq *reqs = calloc(N, sizeof *reqs);
    homi_io *ios = calloc(N, sizeof *ios);
    REQUIRE(reqs && ios, "calloc");
    make_batch(f, reqs, ios, N, base);

    int rc = homi_submit(eng, ios, N);
    REQUIRE(rc == N, "homi_submit(200) returned %d (%s)", rc, homi_strerror(rc));
    CHECK(homi_inflight(eng) == N, "inflight %u right after submitting %d", homi_inflight(eng), N);

    unsigned got = 0;
    while (got < N) {
        int k = homi_wait(eng, cq, 1, 64, 20000);
        if (k <= 0) {
            T_FAIL("homi_wait returned %d (%s) with %u of %d collected", k,
                   k < 0 ? homi_strerror(k) : "timeout", got, N);
            break;
        }
        for (int i = 0; i < k; i++)
            check_completion(reqs, N, base, &cq[i]);
        got += (unsigned)k;
        CHECK(homi_inflight(eng) == N - got, "inflight %u after collecting %u", homi_inflight(eng),
              got);
    }
    for (unsigned i = 0; i < N; i++)
        CHECK(reqs[i].done == 1, "request %u never completed", i);
    CHECK(homi_inflight(eng) == 0, "inflight %u after collecting all", homi_inflight(eng));
    CHECK_RC(homi_poll(eng, cq, 64), 0);
    /* nothing pending: a short wait times out with 0 */
    CHECK_RC(homi_wait(eng, cq, 1, 64, 50), 0);
    CHECK_RC(homi_wait(eng, cq, 0, 64, 0), 0);
    for (unsigned i = 0; i < N; i++)
        rbuf_free(&reqs[i].b);
    printf("async: %d requests submitted, waited and verified\n", N);

    /* Two batches collected by polling only, and homi_wait(min=max=all). */
    t_context = "async poll";
    make_batch(f, reqs, ios, N, base);
    REQUIRE(homi_submit(eng, ios, N / 2) == N / 2, "submit first half");
    REQUIRE(homi_submit(eng, ios + N / 2, N / 2) == N / 2, "submit second half");
    got = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (got < N) {
        int k = homi_poll(eng, cq, 64);
        REQUIRE(k >= 0, "homi_poll returned %d (%s)", k, homi_strerror(k));
        for (int i = 0; i < k; i++)
            check_completion(reqs, N, base, &cq[i]);
        got += (unsigned)k;
        if (!k) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (t1.tv_sec - t0.tv_sec > 20) {
                T_FAIL("polling: only %u of %d completions after 20 s", got, N);
                break;
            }
        }
    }
    CHECK(homi_inflight(eng) == 0, "inflight %u after polling all", homi_inflight(eng));
    for (unsigned i = 0; i < N; i++)
        rbuf_free(&reqs[i].b);

    t_context = "async wait all";
    make_batch(f, reqs, ios, 40, base);
    REQUIRE(homi_submit(eng, ios, 40) == 40, "submit 40");
    homi_completion all[40];
    int k = homi_wait(eng, all, 40, 40, 20000);
    CHECK(k == 40, "homi_wait(min=max=40) returned %d", k);
    for (int i = 0; i < k; i++)
        check_completion(reqs, 40, base, &all[i]);
    for (unsigned i = 0; i < 40; i++)
        rbuf_free(&reqs[i].b);

    /* a big batch of small reads, far beyond ring and queue depths, all
     * queued at once and collected only afterwards */
    t_context = "async big batch";
    {
        enum { NB = 5000 };
        struct areq *br = calloc(NB, sizeof *br);
        homi_io *bi = calloc(NB, sizeof *bi);
        homi_completion *bc = calloc(NB, sizeof *bc);
        REQUIRE(br && bi && bc, "calloc");
        for (unsigned i = 0; i < NB; i++) {
            uint64_t off = t_below(g_size + 100);
            size_t len = 1 + (size_t)t_below(8192);
            rbuf_alloc(&br[i].b, len, (size_t)t_below(64));
            br[i].off = off;
            bi[i].file = f;
            bi[i].buf = br[i].b.dst;
            bi[i].len = len;
            bi[i].offset = (int64_t)off;
            bi[i].user_data = base + i;
            bi[i].opts.path = HOMI_PATH_AUTO;
        }
        int r = homi_submit(eng, bi, NB);
        CHECK(r == NB, "homi_submit(%d) returned %d (%s)", NB, r, r < 0 ? homi_strerror(r) : "");
        if (r == NB) {
            unsigned have = 0;
            while (have < NB) {
                int kk = homi_wait(eng, bc + have, 1, NB - have, 30000);
                if (kk <= 0) {
                    T_FAIL("homi_wait returned %d with %u of %d collected", kk, have, NB);
                    break;
                }
                have += (unsigned)kk;
            }
            for (unsigned i = 0; i < have; i++)
                check_completion(br, NB, base, &bc[i]);
            printf("async: batch of %d collected (%u)\n", NB, have);
        }
        for (unsigned i = 0; i < NB; i++)
            rbuf_free(&br[i].b);
        free(br);
        free(bi);
        free(bc);
    }

    /* an empty batch queues nothing */
    CHECK_RC(homi_submit(eng, ios, 0), 0);
    CHECK(homi_inflight(eng) == 0, "inflight %u after empty submit", homi_inflight(eng));

    free(reqs);
    free(ios);
    CHECK_RC(homi_close(f), HOMI_OK);
}

/* ---------------------------------------------------------------- paths */

/* Forcing a path the engine cannot take (no NVMe passthrough on a temp
 * file, no GPU) must still return correct bytes and must be counted as a
 * fallback: never silent. */
static void test_forced_paths(homi_engine *eng)
{
    homi_file *f = open_file(eng);
    static const int forced[] = {HOMI_PATH_PASSTHRU, HOMI_PATH_DEVICE, HOMI_PATH_CUFILE};
    for (size_t i = 0; i < sizeof forced / sizeof forced[0]; i++) {
        static char ctx[64];
        snprintf(ctx, sizeof ctx, "forced path %s", homi_path_name(forced[i]));
        t_context = ctx;
        homi_stats before, after;
        CHECK_RC(homi_file_stats(f, &before), HOMI_OK);
        struct rbuf b;
        rbuf_alloc(&b, 300 * K + 1, 3);
        homi_io io;
        memset(&io, 0, sizeof io);
        io.file = f;
        io.buf = b.dst;
        io.len = b.len;
        io.offset = 4097;
        io.user_data = 42;
        io.opts.path = forced[i];
        io.opts.flags = HOMI_READ_FORCE_PATH;
        int rc = homi_submit(eng, &io, 1);
        CHECK(rc == 1, "submit with path=%d returned %d (%s)", forced[i], rc, homi_strerror(rc));
        if (rc == 1) {
            homi_completion c;
            int k = homi_wait(eng, &c, 1, 1, 20000);
            REQUIRE(k == 1, "wait returned %d", k);
            CHECK(c.user_data == 42, "user_data %" PRIu64, c.user_data);
            verify(ctx, &b, 4097, c.result);
            CHECK_RC(homi_file_stats(f, &after), HOMI_OK);
            uint64_t fb = 0;
            for (int r = 0; r < HOMI_FB_COUNT; r++)
                fb += after.fallbacks[r] - before.fallbacks[r];
            int served = (c.path_mask & (1u << forced[i])) != 0;
            printf("%s: path_mask 0x%x, %" PRIu64 " fallback(s) counted\n", ctx, c.path_mask, fb);
            CHECK(served || fb > 0,
                  "path %s was asked for, not used (mask 0x%x), and no fallback was counted",
                  homi_path_name(forced[i]), c.path_mask);
            CHECK(c.path_mask != 0, "a %" PRId64 "-byte read has an empty path_mask", c.result);
        }
        rbuf_free(&b);
    }
    CHECK_RC(homi_close(f), HOMI_OK);
}

/* ---------------------------------------------------------------- large */

/* Lengths and offsets beyond 32 bits: a 4 GiB+ request on a small file
 * (the destination is a lazily backed mapping, only the file's bytes are
 * touched), and data at an offset past 4 GiB in a sparse file. */
static void test_large(homi_engine *eng)
{
    t_context = "large length";
    const size_t big = (4ull << 30) + 8192;
    unsigned char *map = mmap(NULL, big + 4096, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) {
        printf("large: cannot map %zu bytes (%s): skipped\n", big, strerror(errno));
    } else {
        homi_file *f = open_file(eng);
        const size_t lens[] = {4ull << 30, (4ull << 30) + 100, big};
        for (size_t i = 0; i < 3; i++) {
            int64_t got = homi_pread(f, map + 7, lens[i], 3);
            int64_t want = (int64_t)g_size - 3;
            CHECK(got == want,
                  "homi_pread(len=%zu, off=3) on a %" PRIu64 "-byte file returned %" PRId64
                  ", want %" PRId64,
                  lens[i], g_size, got, want);
            if (got == want) {
                unsigned char *ref = malloc(g_size);
                REQUIRE(ref, "malloc");
                REQUIRE(t_pread_ref(g_fd, ref, g_size - 3, 3) == (ssize_t)(g_size - 3), "pread");
                CHECK(memcmp(map + 7, ref, g_size - 3) == 0, "bytes differ (len=%zu)", lens[i]);
                free(ref);
            }
        }
        homi_close(f);
        munmap(map, big + 4096);
    }

    t_context = "offset past 4 GiB";
    char p[4300];
    snprintf(p, sizeof p, "%s.sparse5g", g_path);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0, "open %s", p);
    const uint64_t at = (4ull << 30) + 123;
    if (ftruncate(fd, (off_t)(5ull << 30)) != 0) {
        printf("large: cannot make a 5 GiB sparse file (%s): skipped\n", strerror(errno));
        close(fd);
        unlink(p);
        return;
    }
    unsigned char *d = malloc(200 * K), *b = malloc(400 * K);
    REQUIRE(d && b, "malloc");
    t_fill_random(d, 200 * K);
    t_pwrite_all(fd, d, 200 * K, (off_t)at);
    homi_file *f = NULL;
    REQUIRE(homi_open(eng, p, HOMI_RDONLY, &f) == HOMI_OK, "homi_open");
    CHECK(homi_file_size(f) == (int64_t)(5ull << 30), "size %" PRId64, homi_file_size(f));
    memset(b, 0xEE, 400 * K);
    int64_t got = homi_pread(f, b, 400 * K, (int64_t)at - 100 * K);
    CHECK(got == (int64_t)(400 * K), "read at 4 GiB returned %" PRId64, got);
    CHECK(t_all_zero(b, 100 * K), "hole before the data at 4 GiB is not zeros");
    CHECK(memcmp(b + 100 * K, d, 200 * K) == 0, "data at 4 GiB+123 differs");
    CHECK(t_all_zero(b + 300 * K, 100 * K), "hole after the data at 4 GiB is not zeros");
    got = homi_pread(f, b, 4096, (int64_t)(at & 0xffffffffu));
    CHECK(got == 4096 && t_all_zero(b, 4096),
          "offset wrapped to 32 bits: read at %" PRIu64 " is not the hole it should be",
          at & 0xffffffffu);
    got = homi_pread(f, b, 400 * K, (int64_t)(5ull << 30) - 1000);
    CHECK(got == 1000 && t_all_zero(b, 1000), "EOF at 5 GiB: got %" PRId64, got);
    homi_close(f);
    close(fd);
    unlink(p);
    free(d);
    free(b);
    printf("large: 4 GiB+ lengths and offsets checked\n");
}

/* ---------------------------------------------------------------- threads */

struct thr {
    homi_file *f;
    uint64_t seed;
    int bad;
};

static void *reader(void *arg)
{
    struct thr *t = arg;
    uint64_t s = t->seed;
    unsigned char *buf = malloc(512 * K + 64), *ref = malloc(512 * K);
    if (!buf || !ref) {
        t->bad++;
        return NULL;
    }
    for (int i = 0; i < 150; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t off = (s >> 11) % (g_size + 4096);
        size_t len = 1 + (size_t)((s >> 3) % (512 * K));
        size_t mis = (size_t)(s >> 50) % 64;
        int64_t got = homi_pread(t->f, buf + mis, len, (int64_t)off);
        int64_t want = expected_len(off, len);
        ssize_t r = want > 0 ? t_pread_ref(g_fd, ref, (size_t)want, (off_t)off) : 0;
        if (got != want || r != want || (want > 0 && memcmp(buf + mis, ref, (size_t)want))) {
            if (!t->bad)
                fprintf(stderr,
                        "FAIL thread read(off=%" PRIu64 ", len=%zu) = %" PRId64 ", want %" PRId64
                        " (or bytes differ)\n",
                        off, len, got, want);
            t->bad++;
        }
    }
    free(buf);
    free(ref);
    return NULL;
}

static void test_threads(homi_engine *eng)
{
    t_context = "threads";
    homi_file *f = open_file(eng);
    enum { NT = 4 };
    pthread_t th[NT];
    struct thr a[NT];
    for (int i = 0; i < NT; i++) {
        a[i] = (struct thr){f, t_rand(), 0};
        REQUIRE(pthread_create(&th[i], NULL, reader, &a[i]) == 0, "pthread_create");
    }
    int bad = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        bad += a[i].bad;
    }
    CHECK(bad == 0, "%d of %d concurrent reads were wrong", bad, NT * 150);
    printf("threads: %d threads x 150 reads on one handle\n", NT);
    CHECK_RC(homi_close(f), HOMI_OK);
}

/* ---------------------------------------------------------------- stats */

static void test_stats(homi_engine *eng)
{
    t_context = "stats";
    homi_stats e0, e1, s;
    CHECK_RC(homi_engine_stats(eng, &e0), HOMI_OK);
    homi_file *f = open_file(eng);
    CHECK_RC(homi_file_stats(f, &s), HOMI_OK);
    CHECK(s.reads == 0 && s.read_bytes == 0, "fresh file has reads=%" PRIu64 " bytes=%" PRIu64,
          s.reads, s.read_bytes);

    enum { NR = 25 };
    uint64_t sum = 0;
    for (int i = 0; i < NR; i++) {
        uint64_t off = t_below(g_size - 1);
        size_t len = 1 + (size_t)t_below(400 * K);
        int64_t got = do_read(f, off, len, (size_t)t_below(16), "stats read");
        if (got > 0) sum += (uint64_t)got;
    }
    CHECK_RC(homi_file_stats(f, &s), HOMI_OK);
    CHECK(s.reads == NR, "file stats: reads=%" PRIu64 ", %d were done", s.reads, NR);
    CHECK(s.read_bytes == sum, "file stats: read_bytes=%" PRIu64 ", want %" PRIu64, s.read_bytes,
          sum);
    CHECK(s.errors == 0, "file stats: errors=%" PRIu64, s.errors);
    CHECK(s.path[HOMI_PATH_KERNEL].bytes == sum,
          "file stats: kernel path bytes=%" PRIu64 ", want %" PRIu64 " (file has no holes)",
          s.path[HOMI_PATH_KERNEL].bytes, sum);
    CHECK(s.path[HOMI_PATH_KERNEL].requests >= NR, "kernel requests %" PRIu64 " < %d",
          s.path[HOMI_PATH_KERNEL].requests, NR);
    CHECK(s.path[HOMI_PATH_HOLE].bytes == 0, "hole bytes %" PRIu64 " in a file without holes",
          s.path[HOMI_PATH_HOLE].bytes);
    uint64_t other = 0;
    for (int p = 0; p < HOMI_PATH_COUNT; p++)
        if (p != HOMI_PATH_KERNEL) other += s.path[p].bytes;
    CHECK(other == 0, "%" PRIu64 " bytes on non-kernel paths", other);

    /* direct-I/O fallbacks are counted, and only in direct mode */
    int odirect_ok = 1, derr = 0;
    int dfd = open(g_path, O_RDONLY | O_DIRECT);
    if (dfd < 0) {
        odirect_ok = 0;
        derr = errno;
    } else {
        close(dfd);
    }
    uint64_t fb_uns = s.fallbacks[HOMI_FB_DIRECT_UNSUPPORTED];
    uint64_t fb_una = s.fallbacks[HOMI_FB_DIRECT_UNALIGNED];
    if (!g_direct) {
        CHECK(fb_uns == 0 && fb_una == 0,
              "buffered mode counted direct fallbacks (%" PRIu64 " unsupported, %" PRIu64
              " unaligned)",
              fb_uns, fb_una);
    } else if (!odirect_ok) {
        printf("stats: O_DIRECT not supported here (%s)\n", strerror(derr));
        CHECK(fb_uns > 0, "O_DIRECT unsupported but no HOMI_FB_DIRECT_UNSUPPORTED counted");
    } else {
        CHECK(fb_uns == 0,
              "O_DIRECT works on this file, but %" PRIu64
              " DIRECT_UNSUPPORTED fallbacks were counted",
              fb_uns);
        CHECK(fb_una > 0, "unaligned O_DIRECT reads, but no HOMI_FB_DIRECT_UNALIGNED counted");
    }

    CHECK_RC(homi_engine_stats(eng, &e1), HOMI_OK);
    CHECK(e1.reads >= e0.reads + NR, "engine reads %" PRIu64 " -> %" PRIu64, e0.reads, e1.reads);
    CHECK(e1.read_bytes >= e0.read_bytes + sum, "engine read_bytes did not grow by %" PRIu64, sum);
    CHECK(e1.path[HOMI_PATH_KERNEL].bytes >= e0.path[HOMI_PATH_KERNEL].bytes + sum,
          "engine kernel bytes did not grow by %" PRIu64, sum);
    CHECK(e1.path[HOMI_PATH_KERNEL].bytes > 0, "engine kernel bytes 0");

    printf("stats (file):\n");
    homi_stats_print(&s, 1.0, stdout);
    printf("stats (engine):\n");
    homi_stats_print(&e1, 1.0, stdout);
    CHECK_RC(homi_close(f), HOMI_OK);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    g_direct = argc > 1 && strcmp(argv[1], "direct") == 0;
    t_seed_from_env(g_direct ? 0xD1EC7 : 0xB0FFE);
    printf("mode: %s\n", g_direct ? "O_DIRECT (homi_direct=on)" : "buffered (homi_direct=off)");

    const char *dir = t_make_tmpdir("engine");
    t_path(g_path, sizeof g_path, dir, "data");
    g_size = 9 * M + 12345;
    unsigned char *data = malloc(g_size);
    REQUIRE(data, "malloc");
    t_fill_random(data, g_size);
    g_fd = open(g_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(g_fd >= 0, "open %s: %s", g_path, strerror(errno));
    t_pwrite_all(g_fd, data, g_size, 0);
    REQUIRE(fsync(g_fd) == 0, "fsync");
    free(data);

    homi_engine *eng = make_engine();
    test_sync(eng);
    t_bail_if_many();
    test_async(eng);
    t_bail_if_many();
    test_forced_paths(eng);
    test_large(eng);
    test_threads(eng);
    test_stats(eng);
    homi_engine_destroy(eng);

    /* cfg == NULL: defaults plus environment */
    t_context = "default engine";
    homi_engine *e2 = NULL;
    CHECK_RC(homi_engine_create(NULL, &e2), HOMI_OK);
    if (e2) {
        homi_file *f = open_file(e2);
        do_read(f, 100, 200 * K, 0, "default engine");
        /* destroy closes files that are still open */
        homi_engine_destroy(e2);
    }

    /* destroy with requests in flight and a file still open: it waits for
     * them (the buffers stay valid until it returns); ASan/LSan check that
     * nothing is touched afterwards or leaked */
    t_context = "destroy with in-flight requests";
    homi_engine *e3 = make_engine();
    homi_file *f3 = open_file(e3);
    enum { NB = 64 };
    struct areq *reqs = calloc(NB, sizeof *reqs);
    homi_io *ios = calloc(NB, sizeof *ios);
    REQUIRE(reqs && ios, "calloc");
    make_batch(f3, reqs, ios, NB, 0);
    CHECK_RC(homi_submit(e3, ios, NB), NB);
    homi_engine_destroy(e3);
    for (unsigned i = 0; i < NB; i++)
        rbuf_free(&reqs[i].b);
    free(reqs);
    free(ios);

    close(g_fd);
    return t_finish(g_direct ? "test_engine direct" : "test_engine");
}
