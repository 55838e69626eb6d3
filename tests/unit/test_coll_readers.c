/* test_coll_readers.c - the collective engine's pool of window readers
 * (src/coll/coll_io.c) on a real file through libhomi: random windows over
 * random extent lists, cut into parts and read by 0..16 threads with two
 * batches queued, checked byte for byte against the file; the stated
 * preconditions (a third batch while two are in progress, waiting for a
 * batch that is not the oldest or was never started) refused at once with
 * nothing waited for; a short read (an extent past end of file) reported
 * by its own batch and by no other; and freeing the pool with a batch still
 * in progress (a caller error, logged) drains it first. */
#include <fcntl.h>
#include <unistd.h>

#include "coll_int.h"
#include "homi_test.h"

#define FSIZE (12 << 20)
#define MAXE 16

static unsigned char *ref;

/* Sorted, disjoint extents inside [0, FSIZE). */
static size_t random_extents(struct coll_ext *E)
{
    size_t n = 1 + t_below(MAXE);
    int64_t pos = (int64_t)t_below(1 << 20);
    size_t k = 0;
    for (; k < n && pos < FSIZE; k++) {
        int64_t len = 1 + (int64_t)t_below(3 << 20);
        if (pos + len > FSIZE) len = FSIZE - pos;
        E[k] = (struct coll_ext){pos, len};
        pos += len + (int64_t)t_below(1 << 20);
    }
    return k;
}

/* Every extent byte inside [ws, we) is in win at its offset from ws. */
static void check_window(const struct coll_ext *E, size_t ne, int64_t ws, int64_t we,
                         const unsigned char *win)
{
    for (size_t i = 0; i < ne; i++) {
        int64_t a = E[i].off > ws ? E[i].off : ws;
        int64_t b = E[i].off + E[i].len < we ? E[i].off + E[i].len : we;
        if (b <= a) continue;
        long long d = t_first_diff(win + (a - ws), ref + a, (size_t)(b - a));
        CHECK(d < 0, "window [%lld, %lld): extent %zu differs at file offset %lld", (long long)ws,
              (long long)we, i, (long long)(a + d));
    }
}

/* Two batches queued, the preconditions, then both waited in order. */
static void one_round(homi_file *f, int nthreads, unsigned char *win[2])
{
    struct coll_readers *r;
    REQUIRE(coll_readers_new(nthreads, f, &r) == HOMI_OK, "coll_readers_new");
    for (int it = 0; it < 8; it++) {
        struct coll_ext E[MAXE];
        size_t ne = random_extents(E);
        int64_t ws[2], we[2];
        unsigned t[2];
        for (int k = 0; k < 2; k++) {
            ws[k] = (int64_t)t_below(FSIZE - 1);
            we[k] = ws[k] + 1 + (int64_t)t_below((uint64_t)(FSIZE - ws[k]));
            if (we[k] - ws[k] > (8 << 20)) we[k] = ws[k] + (8 << 20);
            int nparts = 1 + (int)t_below(COLL_MAX_STREAMS + 2), parts = -1;
            CHECK_RC(coll_readers_start(r, E, ne, 0, ws[k], we[k], (char *)win[k], nparts, &parts,
                                        &t[k]),
                     HOMI_OK);
            /* up to nparts (at most COLL_MAX_STREAMS) parts, cut at 1 MiB
             * multiples: all but the last at least 1 MiB */
            int64_t span = we[k] - ws[k], n = nparts > COLL_MAX_STREAMS ? COLL_MAX_STREAMS : nparts;
            int64_t step = ((span + n - 1) / n + (1 << 20) - 1) / (1 << 20) * (1 << 20);
            CHECK(parts == (span + step - 1) / step && parts <= n,
                  "%d parts over %lld bytes for %d asked", parts, (long long)span, nparts);
        }
        unsigned t3 = 12345;
        CHECK_RC(coll_readers_start(r, E, ne, 0, 0, 4096, (char *)win[0], 1, NULL, &t3),
                 HOMI_EBUSY);
        CHECK(t3 == 12345, "a refused start set the ticket");
        CHECK_RC(coll_readers_wait(r, t[1]), HOMI_EINVAL); /* not the oldest */
        CHECK_RC(coll_readers_wait(r, t[0]), HOMI_OK);
        CHECK_RC(coll_readers_wait(r, t[0]), HOMI_EINVAL); /* waited already */
        check_window(E, ne, ws[0], we[0], win[0]);
        CHECK_RC(coll_readers_wait(r, t[1]), HOMI_OK);
        CHECK_RC(coll_readers_wait(r, t[1] + 1), HOMI_EINVAL); /* never started */
        check_window(E, ne, ws[1], we[1], win[1]);
        t_bail_if_many();
    }
    coll_readers_free(r);
}

/* A batch whose extent runs past end of file fails; the batch queued
 * behind it does not. */
static void short_read(homi_file *f, int nthreads, unsigned char *win[2])
{
    struct coll_readers *r;
    REQUIRE(coll_readers_new(nthreads, f, &r) == HOMI_OK, "coll_readers_new");
    struct coll_ext bad = {FSIZE - (1 << 20), 3 << 20}, good = {0, 5 << 20};
    unsigned tb, tg;
    CHECK_RC(
        coll_readers_start(r, &bad, 1, 0, bad.off, bad.off + bad.len, (char *)win[0], 4, NULL, &tb),
        HOMI_OK);
    CHECK_RC(coll_readers_start(r, &good, 1, 0, 0, good.len, (char *)win[1], 4, NULL, &tg),
             HOMI_OK);
    CHECK_RC(coll_readers_wait(r, tb), HOMI_EIO);
    CHECK_RC(coll_readers_wait(r, tg), HOMI_OK);
    check_window(&good, 1, 0, good.len, win[1]);
    coll_readers_free(r);
}

/* Freed with a batch in progress: drained (and logged), no reader left
 * writing into the window after free returns. */
static void free_in_progress(homi_file *f, unsigned char *win[2])
{
    struct coll_readers *r;
    REQUIRE(coll_readers_new(4, f, &r) == HOMI_OK, "coll_readers_new");
    struct coll_ext all = {0, 8 << 20};
    unsigned t;
    memset(win[0], 0, 8 << 20);
    printf("freeing a pool with a batch in progress: one \"internal error\" log line expected\n");
    fflush(stdout);
    CHECK_RC(coll_readers_start(r, &all, 1, 0, 0, all.len, (char *)win[0], 8, NULL, &t), HOMI_OK);
    coll_readers_free(r);
    check_window(&all, 1, 0, all.len, win[0]); /* complete once free returned */
}

int main(void)
{
    t_seed_from_env(20261201);
    const char *dir = t_make_tmpdir("coll-readers");
    char path[512];
    t_path(path, sizeof path, dir, "data");
    ref = malloc(FSIZE);
    unsigned char *win[2] = {malloc(8 << 20), malloc(8 << 20)};
    REQUIRE(ref && win[0] && win[1], "malloc");
    t_fill_random(ref, FSIZE);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE(fd >= 0, "create %s", path);
    t_pwrite_all(fd, ref, FSIZE, 0);
    close(fd);
    homi_engine *e;
    homi_file *f;
    REQUIRE(homi_engine_create(NULL, &e) == HOMI_OK, "homi_engine_create");
    REQUIRE(homi_open(e, path, 0, &f) == HOMI_OK, "homi_open %s", path);
    const int threads[] = {0, 1, 2, 3, 16};
    for (size_t i = 0; i < sizeof threads / sizeof *threads; i++) {
        char ctx[64];
        snprintf(ctx, sizeof ctx, "%d reader threads", threads[i]);
        t_context = ctx;
        one_round(f, threads[i], win);
        short_read(f, threads[i], win);
    }
    t_context = "free with a batch in progress";
    free_in_progress(f, win);
    homi_close(f);
    homi_engine_destroy(e);
    free(ref);
    free(win[0]);
    free(win[1]);
    return t_finish("test_coll_readers");
}
