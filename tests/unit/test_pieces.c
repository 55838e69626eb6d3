/* test_pieces.c - scattered reads: the planner (src/core/pieces_plan.c)
 * and homi_read_pieces on a real file.
 *
 * Planner: random piece lists (sorted and shuffled, adjacent, overlapping
 * in the file, past the end of the file, zero-length, 10^6 tiny pieces,
 * regular strides) are planned, the plan is executed on the CPU against an
 * in-memory "file", and the destinations are compared with a direct copy
 * of every piece; the plan's limits are checked (window size, gaps, runs
 * per window, bytes per run, no byte delivered twice or missed).
 * Engine: homi_read_pieces into host memory on a real file with holes,
 * compared byte for byte with pread, at EOF, with HOMI_PIECES_ZERO_EOF,
 * after the file shrinks under the open handle, and bad input. */
#include "homi_test.h"

#include "core/pieces_plan.h"

#define K 1024ull
#define M (1024ull * 1024ull)

/* ---------------------------------------------------------------- planner */

/* Execute plan pl on the CPU: file holds fsize bytes. */
static void execute(const struct homi_pp_plan *pl, const unsigned char *file, uint64_t fsize,
                    const struct homi_pp_params *prm)
{
    for (size_t i = 0; i < pl->nzero; i++)
        memset(pl->zero[i].dst, 0, pl->zero[i].len);
    for (size_t i = 0; i < pl->ndirect; i++) {
        const struct homi_pp_direct *d = &pl->direct[i];
        CHECK(d->off + d->len <= fsize, "direct piece past EOF");
        CHECK(d->len >= prm->direct_min, "direct piece of %llu bytes", (unsigned long long)d->len);
        memcpy(d->dst, file + d->off, d->len);
    }
    unsigned char *win = malloc(prm->window_max);
    REQUIRE(win, "malloc");
    size_t next_win = 0, next_run = 0;
    for (size_t gi = 0; gi < pl->ngrp; gi++) {
        const struct homi_pp_group *g = &pl->grp[gi];
        CHECK(g->win0 == next_win && g->run0 == next_run && g->nwin > 0 &&
                  g->nwin <= prm->group_max,
              "group %zu: windows %zu+%zu, runs %zu", gi, g->win0, g->nwin, g->run0);
        CHECK(g->len <= prm->window_max, "group %zu of %llu bytes", gi, (unsigned long long)g->len);
        CHECK(g->nruns <= prm->runs_max && g->nruns > 0, "group %zu has %zu runs", gi, g->nruns);
        next_win += g->nwin;
        next_run += g->nruns;
        memset(win, 0xA5, prm->window_max);
        uint64_t wbytes = 0, end = 0;
        size_t wruns = 0;
        for (size_t i = g->win0; i < g->win0 + g->nwin; i++) {
            const struct homi_pp_window *w = &pl->win[i];
            CHECK(w->boff >= end && w->boff + w->len <= g->len, "window %zu at %llu in its group",
                  i, (unsigned long long)w->boff);
            CHECK(w->off + w->len <= fsize, "window %zu past EOF", i);
            CHECK(w->run0 == g->run0 + wruns && w->nruns > 0, "window %zu runs", i);
            memcpy(win + w->boff, file + w->off, w->len);
            end = w->boff + w->len;
            wbytes += w->bytes;
            wruns += w->nruns;
        }
        CHECK(wruns == g->nruns && wbytes == g->bytes, "group %zu totals", gi);
        uint64_t bytes = 0;
        for (size_t r = 0; r < g->nruns; r++) {
            const struct homi_pp_run *run = &pl->runs[g->run0 + r];
            CHECK((uint64_t)run->len * run->count <= prm->task_max, "run of %u x %u bytes",
                  run->count, run->len);
            for (uint32_t row = 0; row < run->count; row++) {
                uint64_t s = run->src + (uint64_t)row * run->spitch;
                CHECK(s + run->len <= g->len, "run row past its group");
                memcpy((void *)(uintptr_t)(run->dst + (uint64_t)row * run->dpitch), win + s,
                       run->len);
                bytes += run->len;
            }
        }
        CHECK(bytes == g->bytes, "group %zu delivers %llu bytes, says %llu", gi,
              (unsigned long long)bytes, (unsigned long long)g->bytes);
    }
    CHECK(next_win == pl->nwin && next_run == pl->nruns, "groups cover %zu of %zu windows",
          next_win, pl->nwin);
    free(win);
}

/* Check destinations: piece i's bytes are the file's, past EOF zero (or
 * untouched 0xEE when !zero_eof); everything outside the pieces 0xEE. */
static void verify(const homi_piece *p, size_t n, const unsigned char *dst, size_t dlen,
                   const unsigned char *file, uint64_t fsize, int zero_eof, const char *what)
{
    unsigned char *ref = malloc(dlen);
    REQUIRE(ref, "malloc");
    memset(ref, 0xEE, dlen);
    for (size_t i = 0; i < n; i++) {
        if (!p[i].len) continue;
        size_t at = (size_t)((unsigned char *)p[i].buf - dst);
        uint64_t off = (uint64_t)p[i].offset;
        uint64_t valid = off >= fsize ? 0 : (fsize - off < p[i].len ? fsize - off : p[i].len);
        memcpy(ref + at, file + off, valid);
        if (zero_eof) memset(ref + at + valid, 0, p[i].len - valid);
    }
    long long d = t_first_diff(dst, ref, dlen);
    if (d >= 0) T_FAIL("%s: first wrong destination byte at %lld", what, d);
    free(ref);
}

/* Non-overlapping destinations inside a buffer: mode 0 in piece order
 * with random gaps, 1 in a shuffled order with random gaps, 2 in piece
 * order without gaps. */
static size_t layout(homi_piece *p, size_t n, unsigned char *base, int mode)
{
    size_t *ord = malloc(n * sizeof *ord);
    REQUIRE(ord, "malloc");
    for (size_t i = 0; i < n; i++)
        ord[i] = i;
    for (size_t i = n; mode == 1 && i > 1; i--) {
        size_t j = (size_t)t_below(i), t = ord[i - 1];
        ord[i - 1] = ord[j];
        ord[j] = t;
    }
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        if (mode != 2) at += t_below(4) ? 0 : (size_t)t_below(64);
        p[ord[k]].buf = base + at;
        at += p[ord[k]].len;
    }
    free(ord);
    return at + 64;
}

static void plan_case(const char *what, homi_piece *p, size_t n, uint64_t fsize,
                      const unsigned char *file, int zero_eof, int shuffle_mem, uint64_t direct_min,
                      uint64_t gap, uint64_t window)
{
    t_context = what;
    size_t bound = 64;
    for (size_t i = 0; i < n; i++)
        bound += p[i].len + 64;
    unsigned char *dst = malloc(bound);
    REQUIRE(dst, "malloc");
    size_t dlen = layout(p, n, dst, shuffle_mem);
    REQUIRE(dlen <= bound, "layout");
    memset(dst, 0xEE, dlen);
    struct homi_pp_params prm;
    homi_pp_params_default(&prm, window);
    prm.direct_min = direct_min;
    prm.gap_max = gap;
    prm.zero_eof = zero_eof;
    struct homi_pp_plan pl;
    int rc = homi_pp_build(p, n, fsize, &prm, &pl);
    CHECK_RC(rc, HOMI_OK);
    if (!rc) {
        uint64_t want = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t off = (uint64_t)p[i].offset;
            want += off >= fsize ? 0 : (fsize - off < p[i].len ? fsize - off : p[i].len);
        }
        CHECK(pl.file_bytes == want, "file_bytes %llu, want %llu",
              (unsigned long long)pl.file_bytes, (unsigned long long)want);
        execute(&pl, file, fsize, &prm);
        verify(p, n, dst, dlen, file, fsize, zero_eof, what);
        printf("  %-34s %8zu pieces -> %6zu direct, %6zu windows, %8zu runs, %4zu zero\n", what, n,
               pl.ndirect, pl.nwin, pl.nruns, pl.nzero);
        homi_pp_free(&pl);
    }
    free(dst);
    t_bail_if_many();
}

static void shuffle_pieces(homi_piece *p, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)t_below(i);
        homi_piece t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
}

static void test_planner(void)
{
    const uint64_t fsize = 24 * M + 123;
    unsigned char *file = malloc(fsize);
    REQUIRE(file, "malloc");
    t_fill_random(file, fsize);
    size_t cap = 1000000;
    homi_piece *p = calloc(cap, sizeof *p);
    REQUIRE(p, "calloc");

    /* random pieces of every size, some past EOF, some empty, unsorted */
    for (int round = 0; round < 6; round++) {
        size_t n = 1 + (size_t)t_below(2000);
        for (size_t i = 0; i < n; i++) {
            uint64_t len = t_below(20) == 0 ? t_below(3 * M) : t_below(70 * K);
            if (t_below(50) == 0) len = 0;
            p[i].offset = (int64_t)t_below(fsize + 2 * M);
            p[i].len = len;
        }
        char what[64];
        snprintf(what, sizeof what, "random round %d", round);
        plan_case(what, p, n, fsize, file, round & 1, 1, 1 * M, 64 * K, 4 * M);
    }
    /* adjacent pieces: one run per contiguous memory stretch */
    {
        size_t n = 5000;
        for (size_t i = 0; i < n; i++) {
            p[i].offset = (int64_t)(1000 + i * 48);
            p[i].len = 48;
        }
        plan_case("adjacent 48 B", p, n, fsize, file, 0, 0, 1 * M, 64 * K, 4 * M);
    }
    /* overlapping in the file, shuffled */
    {
        size_t n = 20000;
        for (size_t i = 0; i < n; i++) {
            p[i].offset = (int64_t)(t_below(2 * M) + 5 * M);
            p[i].len = 1 + t_below(9000);
        }
        plan_case("overlapping, shuffled", p, n, fsize, file, 0, 0, 1 * M, 64 * K, 4 * M);
    }
    /* everything past EOF and straddling it, zero-filled */
    {
        size_t n = 300;
        for (size_t i = 0; i < n; i++) {
            p[i].offset = (int64_t)(fsize - 4 * K + t_below(8 * K));
            p[i].len = 1 + t_below(2 * M);
        }
        shuffle_pieces(p, n);
        plan_case("straddling EOF, zero", p, n, fsize, file, 1, 0, 1 * M, 64 * K, 4 * M);
        plan_case("straddling EOF, kept", p, n, fsize, file, 0, 0, 1 * M, 64 * K, 4 * M);
    }
    /* a strided hyperslab: 10^6 pieces of 16 bytes, every 40 bytes */
    {
        size_t n = cap;
        for (size_t i = 0; i < n; i++) {
            p[i].offset = (int64_t)(64 + i * 24);
            p[i].len = 16;
        }
        plan_case("10^6 x 16 B strided", p, n, fsize, file, 0, 2, 1 * M, 64 * K, 4 * M);
        struct homi_pp_params prm;
        homi_pp_params_default(&prm, 4 * M);
        struct homi_pp_plan pl;
        CHECK_RC(homi_pp_build(p, n, fsize, &prm, &pl), HOMI_OK);
        /* dense memory, constant file stride: 2-D runs, few of them */
        CHECK(pl.nruns <= n / 100, "%zu runs for a regular stride", pl.nruns);
        homi_pp_free(&pl);
        shuffle_pieces(p, n);
        plan_case("10^6 x 16 B shuffled", p, n, fsize, file, 1, 0, 1 * M, 64 * K, 4 * M);
    }
    /* 10^6 random tiny pieces: the runs limit of a window is respected */
    {
        size_t n = cap;
        for (size_t i = 0; i < n; i++) {
            p[i].offset = (int64_t)t_below(fsize);
            p[i].len = 1 + t_below(24);
        }
        plan_case("10^6 random tiny", p, n, fsize, file, 1, 0, 1 * M, 64 * K, 4 * M);
        plan_case("10^6 random tiny, 64K windows", p, n, fsize, file, 1, 0, 1 * M, 0, 64 * K);
    }
    /* gap 0: windows only over touching pieces */
    {
        size_t n = 2000;
        for (size_t i = 0; i < n; i++) {
            p[i].offset = (int64_t)(i * 8192 + (i % 2) * 100);
            p[i].len = 4096;
        }
        struct homi_pp_params prm;
        homi_pp_params_default(&prm, 4 * M);
        prm.gap_max = 0;
        struct homi_pp_plan pl;
        CHECK_RC(homi_pp_build(p, n, fsize, &prm, &pl), HOMI_OK);
        CHECK(pl.nwin == n, "gap 0: %zu windows for %zu separate pieces", pl.nwin, n);
        homi_pp_free(&pl);
        plan_case("separate 4K, gap 0", p, n, fsize, file, 0, 0, 1 * M, 0, 4 * M);
    }
    /* bad input */
    {
        t_context = "planner bad input";
        struct homi_pp_params prm;
        homi_pp_params_default(&prm, 4 * M);
        struct homi_pp_plan pl;
        homi_piece bad = {.offset = -1, .len = 5, .buf = file};
        CHECK_RC(homi_pp_build(&bad, 1, fsize, &prm, &pl), HOMI_EINVAL);
        bad = (homi_piece){.offset = 0, .len = 5, .buf = NULL};
        CHECK_RC(homi_pp_build(&bad, 1, fsize, &prm, &pl), HOMI_EINVAL);
        bad = (homi_piece){.offset = INT64_MAX - 2, .len = 5, .buf = file};
        CHECK_RC(homi_pp_build(&bad, 1, fsize, &prm, &pl), HOMI_ERANGE);
        CHECK_RC(homi_pp_build(NULL, 3, fsize, &prm, &pl), HOMI_EINVAL);
        CHECK_RC(homi_pp_build(NULL, 0, fsize, &prm, &pl), HOMI_OK);
        CHECK(pl.nwin == 0 && pl.ndirect == 0, "empty plan");
        prm.task_max = 0;
        CHECK_RC(homi_pp_build(p, 1, fsize, &prm, &pl), HOMI_EINVAL);
    }
    free(p);
    free(file);
}

/* 2-D pieces: random shapes (rows overlapping in the file, past EOF,
 * longer than a run, wider than a window), planned with homi_pp_build2d,
 * executed on the CPU and compared with the rows copied one by one. */
static void test_planner2d(void)
{
    const uint64_t fsize = 8 * M + 77;
    unsigned char *file = malloc(fsize);
    REQUIRE(file, "malloc");
    t_fill_random(file, fsize);
    for (int round = 0; round < 20; round++) {
        size_t n = 1 + (size_t)t_below(400);
        homi_piece2d *p = calloc(n, sizeof *p);
        REQUIRE(p, "calloc");
        size_t span = 0;
        for (size_t i = 0; i < n; i++) {
            p[i].len = 1 + t_below(t_below(4) ? 64 : 9000);
            p[i].count = 1 + t_below(t_below(3) ? 300 : 4);
            p[i].fstride = t_below(5) ? p[i].len + t_below(200) : t_below(p[i].len + 1);
            if (!t_below(6)) p[i].fstride = p[i].len + t_below(2 * M); /* rows far apart */
            p[i].mstride = p[i].len + t_below(3) * 8;
            p[i].offset = (int64_t)t_below(fsize + 64 * K);
            span += (p[i].count - 1) * p[i].mstride + p[i].len + 16;
        }
        unsigned char *dst = malloc(span), *ref = malloc(span);
        REQUIRE(dst && ref, "malloc");
        memset(dst, 0xEE, span);
        memset(ref, 0xEE, span);
        int zero_eof = round & 1;
        uint64_t want = 0;
        for (size_t i = 0, at = 0; i < n; i++) {
            p[i].buf = dst + at;
            for (size_t r = 0; r < p[i].count; r++) {
                uint64_t off = (uint64_t)p[i].offset + r * p[i].fstride;
                uint64_t valid =
                    off >= fsize ? 0 : (fsize - off < p[i].len ? fsize - off : p[i].len);
                unsigned char *o = ref + at + r * p[i].mstride;
                memcpy(o, file + off, valid);
                if (zero_eof) memset(o + valid, 0, p[i].len - valid);
                want += valid;
            }
            at += (p[i].count - 1) * p[i].mstride + p[i].len + 16;
        }
        struct homi_pp_params prm;
        homi_pp_params_default(&prm, round % 3 ? 4 * M : 64 * K);
        prm.direct_min = t_below(2) ? 1 * M : 4 * K;
        prm.zero_eof = zero_eof;
        if (round % 4 == 3) prm.gap_max = 64;
        struct homi_pp_plan pl;
        char what[64];
        snprintf(what, sizeof what, "2-D round %d", round);
        t_context = what;
        CHECK_RC(homi_pp_build2d(p, n, fsize, &prm, &pl), HOMI_OK);
        CHECK(pl.file_bytes == want, "file_bytes %llu, want %llu",
              (unsigned long long)pl.file_bytes, (unsigned long long)want);
        /* windows read the pieces and gaps of at most gap_max between them:
         * no more than that in all (rows far apart are not one window) */
        uint64_t rows = 0, wbytes = 0;
        for (size_t i = 0; i < n; i++)
            rows += p[i].count;
        for (size_t w = 0; w < pl.nwin; w++)
            wbytes += pl.win[w].len;
        CHECK(wbytes <= want + rows * prm.gap_max, "windows read %llu bytes for %llu",
              (unsigned long long)wbytes, (unsigned long long)want);
        execute(&pl, file, fsize, &prm);
        long long d = t_first_diff(dst, ref, span);
        if (d >= 0) T_FAIL("%s: first wrong destination byte at %lld", what, d);
        homi_pp_free(&pl);
        free(dst);
        free(ref);
        free(p);
        t_bail_if_many();
    }
    t_context = "2-D bad input";
    homi_piece2d bad = {.offset = 0, .len = 8, .count = 2, .fstride = 8, .buf = file, .mstride = 4};
    struct homi_pp_params prm;
    homi_pp_params_default(&prm, 4 * M);
    struct homi_pp_plan pl;
    CHECK_RC(homi_pp_build2d(&bad, 1, fsize, &prm, &pl), HOMI_EINVAL);
    bad.mstride = 8;
    bad.fstride = UINT64_MAX / 2;
    CHECK_RC(homi_pp_build2d(&bad, 1, fsize, &prm, &pl), HOMI_ERANGE);
    free(file);
    printf("  2-D pieces: 20 rounds\n");
}

/* ---------------------------------------------------------------- engine */

static void engine_case(homi_file *f, int fd, homi_piece *p, size_t n, unsigned flags,
                        const char *what)
{
    t_context = what;
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0, "fstat");
    uint64_t fsize = (uint64_t)st.st_size;
    size_t dlen = 64;
    for (size_t i = 0; i < n; i++)
        dlen += p[i].len + (i % 5);
    unsigned char *dst = malloc(dlen), *ref = malloc(dlen);
    REQUIRE(dst && ref, "malloc");
    memset(dst, 0xEE, dlen);
    memset(ref, 0xEE, dlen);
    uint64_t want = 0;
    for (size_t i = 0, at = 0; i < n; i++) {
        p[i].buf = dst + at;
        uint64_t off = (uint64_t)p[i].offset;
        uint64_t valid = off >= fsize ? 0 : (fsize - off < p[i].len ? fsize - off : p[i].len);
        if (valid) REQUIRE(t_pread_ref(fd, ref + at, valid, (off_t)off) == (ssize_t)valid, "pread");
        if (flags & HOMI_PIECES_ZERO_EOF) memset(ref + at + valid, 0, p[i].len - valid);
        want += valid;
        at += p[i].len + (i % 5);
    }
    int64_t got = homi_read_pieces(f, p, n, HOMI_MEM_AUTO, flags);
    CHECK(got == (int64_t)want, "homi_read_pieces = %" PRId64 " (%s), want %" PRIu64, got,
          got < 0 ? homi_strerror((int)got) : "bytes", want);
    long long d = t_first_diff(dst, ref, dlen);
    if (d >= 0) T_FAIL("%s: first wrong byte at destination offset %lld", what, d);
    free(dst);
    free(ref);
    t_bail_if_many();
}

static void test_engine(const char *dir)
{
    char path[4200];
    t_path(path, sizeof path, dir, "pieces");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0, "create %s", path);
    /* data, a 3 MiB hole, data, a tail that does not end on a block */
    const uint64_t fsize = 12 * M + 777;
    unsigned char *data = malloc(fsize);
    REQUIRE(data, "malloc");
    t_fill_random(data, fsize);
    t_pwrite_all(fd, data, 4 * M, 0);
    t_pwrite_all(fd, data + 7 * M, fsize - 7 * M, 7 * M);
    free(data);

    homi_config *cfg = t_config("homi_chunk_size", "256K", "homi_pieces_direct", "512K", NULL);
    homi_engine *eng;
    REQUIRE(homi_engine_create(cfg, &eng) == HOMI_OK, "engine");
    homi_config_free(cfg);
    homi_file *f;
    REQUIRE(homi_open(eng, path, HOMI_RDONLY, &f) == HOMI_OK, "open");

    size_t cap = 200000;
    homi_piece *p = calloc(cap, sizeof *p);
    REQUIRE(p, "calloc");
    for (int round = 0; round < 8; round++) {
        size_t n = 1 + (size_t)t_below(round < 4 ? 500 : 5000);
        for (size_t i = 0; i < n; i++) {
            p[i].offset = (int64_t)t_below(fsize + M);
            p[i].len = t_below(round < 4 ? 8 : 100) == 0 ? t_below(2 * M) : t_below(20 * K);
        }
        char what[64];
        snprintf(what, sizeof what, "engine random round %d", round);
        engine_case(f, fd, p, n, round & 1 ? HOMI_PIECES_ZERO_EOF : 0, what);
    }
    /* strided, 10^5 pieces of 16 bytes across the hole */
    for (size_t i = 0; i < cap / 2; i++) {
        p[i].offset = (int64_t)(3 * M + i * 40);
        p[i].len = 16;
    }
    engine_case(f, fd, p, cap / 2, 0, "engine strided 16 B");
    /* EOF exactly, and one byte past */
    p[0] = (homi_piece){.offset = (int64_t)fsize - 10, .len = 10};
    p[1] = (homi_piece){.offset = (int64_t)fsize, .len = 10};
    p[2] = (homi_piece){.offset = (int64_t)fsize - 5, .len = 3 * M};
    engine_case(f, fd, p, 3, HOMI_PIECES_ZERO_EOF, "engine at EOF");

    /* 2-D pieces through the engine: a strided block read row by row */
    {
        t_context = "engine 2-D";
        homi_piece2d q[3];
        unsigned char *dst = malloc(3 * 40000), *ref = malloc(3 * 40000);
        REQUIRE(dst && ref, "malloc");
        memset(dst, 0xEE, 3 * 40000);
        memset(ref, 0xEE, 3 * 40000);
        q[0] = (homi_piece2d){
            .offset = 100, .len = 16, .count = 1000, .fstride = 40, .buf = dst, .mstride = 16};
        q[1] = (homi_piece2d){.offset = (int64_t)(3 * M + 5),
                              .len = 300,
                              .count = 100,
                              .fstride = 1000,
                              .buf = dst + 40000,
                              .mstride = 320};
        q[2] = (homi_piece2d){.offset = (int64_t)fsize - 600,
                              .len = 100,
                              .count = 20,
                              .fstride = 50,
                              .buf = dst + 80000,
                              .mstride = 100};
        uint64_t want = 0;
        for (int i = 0; i < 3; i++)
            for (size_t r = 0; r < q[i].count; r++) {
                uint64_t off = (uint64_t)q[i].offset + r * q[i].fstride;
                uint64_t valid =
                    off >= fsize ? 0 : (fsize - off < q[i].len ? fsize - off : q[i].len);
                unsigned char *o = ref + ((unsigned char *)q[i].buf - dst) + r * q[i].mstride;
                if (valid)
                    REQUIRE(t_pread_ref(fd, o, valid, (off_t)off) == (ssize_t)valid, "pread");
                memset(o + valid, 0, q[i].len - valid);
                want += valid;
            }
        int64_t got = homi_read_pieces2d(f, q, 3, HOMI_MEM_AUTO, HOMI_PIECES_ZERO_EOF);
        CHECK(got == (int64_t)want, "homi_read_pieces2d = %" PRId64 ", want %" PRIu64, got, want);
        long long d = t_first_diff(dst, ref, 3 * 40000);
        if (d >= 0) T_FAIL("engine 2-D: first wrong byte at %lld", d);
        free(dst);
        free(ref);
    }

    /* the file shrinks under the open handle */
    REQUIRE(ftruncate(fd, (off_t)(9 * M + 5)) == 0, "truncate");
    for (size_t i = 0; i < 3000; i++) {
        p[i].offset = (int64_t)(8 * M + t_below(3 * M));
        p[i].len = 1 + t_below(t_below(10) ? 4 * K : 1200 * K);
    }
    engine_case(f, fd, p, 3000, HOMI_PIECES_ZERO_EOF, "engine after shrink");

    /* bad input */
    t_context = "engine bad input";
    unsigned char b[16];
    homi_piece one = {.offset = 0, .len = sizeof b, .buf = b};
    CHECK_RC(homi_read_pieces(f, NULL, 2, HOMI_MEM_AUTO, 0), HOMI_EINVAL);
    CHECK_RC(homi_read_pieces(f, &one, 1, HOMI_MEM_AUTO, 0x80), HOMI_EINVAL);
    CHECK_RC(homi_read_pieces(f, &one, 1, (homi_mem_kind)9, 0), HOMI_EINVAL);
    CHECK_RC(homi_read_pieces(f, &one, 0, HOMI_MEM_AUTO, 0), 0);
    one.offset = -4;
    CHECK_RC(homi_read_pieces(f, &one, 1, HOMI_MEM_AUTO, 0), HOMI_EINVAL);
    one.offset = 0;
    CHECK_RC(homi_read_pieces(f, &one, 1, HOMI_MEM_AUTO, 0), (int64_t)sizeof b);
    homi_stats st;
    CHECK_RC(homi_file_stats(f, &st), HOMI_OK);
    CHECK(st.path[HOMI_PATH_KERNEL].bytes > 0, "kernel path bytes counted");
    CHECK_RC(homi_close(f), HOMI_OK);
    CHECK_RC(homi_read_pieces(f, &one, 1, HOMI_MEM_AUTO, 0), HOMI_EBADF);
    homi_engine_destroy(eng);
    close(fd);
    free(p);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    t_seed_from_env(2525);
    printf("planner:\n");
    test_planner();
    test_planner2d();
    const char *dir = t_make_tmpdir("pieces");
    printf("engine:\n");
    test_engine(dir);
    return t_finish("test_pieces");
}
