/* test_coll_plan.c - the MPI-free planning of the collective engine
 * (src/coll/coll_plan.c): for random request lists, clipping at EOF,
 * merging, domains, windows and pieces must deliver every requested byte
 * exactly once, from the right window offset, with windows no larger than
 * the buffer and covering only merged extents. */
#include "coll_plan.h"
#include "homi_test.h"

static void one_case(int n, int64_t maxlen, int64_t span, int64_t eof, int64_t gap, int64_t cb,
                     int naggr)
{
    homi_coll_seg *s = calloc((size_t)n, sizeof *s);
    struct coll_req *r = calloc((size_t)n, sizeof *r);
    struct coll_ext *E = calloc((size_t)n, sizeof *E);
    struct coll_piece *P = calloc((size_t)n, sizeof *P);
    int64_t mem = 0, want = 0;
    for (int i = 0; i < n; i++) {
        s[i].file_off = (int64_t)t_below((uint64_t)span);
        s[i].len = (int64_t)t_below((uint64_t)maxlen + 1); /* some empty */
        s[i].mem_off = mem;
        mem += s[i].len;
        int64_t e = s[i].file_off + s[i].len < eof ? s[i].file_off + s[i].len : eof;
        if (e > s[i].file_off) want += e - s[i].file_off;
    }
    int64_t got = 0;
    long k = coll_clip(s, (size_t)n, eof, r, &got);
    CHECK(k >= 0 && got == want, "clip kept %lld bytes, expected %lld", (long long)got,
          (long long)want);
    coll_sort(r, (size_t)k);
    for (long i = 1; i < k; i++)
        CHECK(r[i - 1].off <= r[i].off, "not sorted at %ld", i);

    /* domains: every offset maps into a domain whose range holds it */
    struct coll_domains d;
    coll_domains_make(&d, 0, eof, naggr);
    for (long i = 0; i < k; i++) {
        int a = coll_domain_of(&d, r[i].off);
        int64_t lo = a == 0 ? INT64_MIN : coll_domain_end(&d, a - 1);
        CHECK(a >= 0 && a < naggr && r[i].off < coll_domain_end(&d, a) && r[i].off >= lo,
              "offset %lld in domain %d", (long long)r[i].off, a);
    }

    size_t ne = coll_merge(r, (size_t)k, gap, E);
    for (size_t i = 1; i < ne; i++)
        CHECK(E[i - 1].off + E[i - 1].len + gap < E[i].off, "extents %zu/%zu not merged", i - 1, i);

    /* every requested byte delivered exactly once, at the right place */
    unsigned char *hits = calloc((size_t)mem + 1, 1);
    struct coll_win_it it;
    int64_t ws, we, prev_we = INT64_MIN;
    size_t e0, cursor = 0;
    int nwin = 0;
    coll_win_begin(&it, E, ne);
    while (coll_win_next(&it, E, ne, cb, &ws, &we, &e0)) {
        nwin++;
        CHECK(we - ws == cb && ws >= prev_we, "window [%lld, %lld)", (long long)ws, (long long)we);
        prev_we = we;
        size_t np = coll_pieces(r, (size_t)k, &cursor, ws, we, P);
        for (size_t p = 0; p < np; p++) {
            const struct coll_req *q = &r[P[p].req];
            int64_t foff = q->off + P[p].inner;
            CHECK(P[p].buf_off == foff - ws && foff >= ws && foff + P[p].len <= we,
                  "piece outside its window");
            /* the window must read these bytes: inside a merged extent */
            int inside = 0;
            for (size_t e = 0; e < ne && !inside; e++)
                inside = foff >= E[e].off && foff + P[p].len <= E[e].off + E[e].len;
            CHECK(inside, "piece at %lld not inside an extent", (long long)foff);
            for (int64_t b = 0; b < P[p].len; b++)
                hits[q->mem_off + P[p].inner + b]++;
        }
        t_bail_if_many();
    }
    CHECK(nwin == coll_win_count(E, ne, cb), "window count");
    int64_t delivered = 0;
    for (long i = 0; i < k; i++)
        for (int64_t b = 0; b < r[i].len; b++) {
            CHECK(hits[r[i].mem_off + b] == 1, "byte %lld of request %ld delivered %d times",
                  (long long)b, i, hits[r[i].mem_off + b]);
            delivered++;
            if (t_failures) break;
        }
    CHECK(delivered == want, "delivered %lld of %lld", (long long)delivered, (long long)want);
    free(hits);
    free(s);
    free(r);
    free(E);
    free(P);
}

/* coll_merge_runs over nruns sorted lists (some empty, overlapping,
 * duplicated) gives the extents that sorting the concatenation and
 * coll_merge give. */
static void runs_case(int nruns, int maxn, int64_t span, int64_t maxlen, int64_t gap)
{
    int64_t *start = calloc((size_t)nruns, sizeof *start),
            *cnt = calloc((size_t)nruns, sizeof *cnt);
    int64_t total = 0;
    for (int i = 0; i < nruns; i++) {
        start[i] = total;
        cnt[i] = (int64_t)t_below((uint64_t)maxn + 1);
        total += cnt[i];
    }
    struct coll_req *r = calloc((size_t)total + 1, sizeof *r),
                    *all = calloc((size_t)total + 1, sizeof *all);
    struct coll_ext *E1 = calloc((size_t)total + 1, sizeof *E1),
                    *E2 = calloc((size_t)total + 1, sizeof *E2);
    for (int i = 0; i < nruns; i++) {
        int64_t off = (int64_t)t_below((uint64_t)span);
        for (int64_t j = 0; j < cnt[i]; j++) {
            struct coll_req *q = &r[start[i] + j];
            q->off = off;
            q->len = 1 + (int64_t)t_below((uint64_t)maxlen);
            q->mem_off = j;
            off += (int64_t)t_below((uint64_t)maxlen * 3); /* 0: the same offset again */
        }
    }
    CHECK(coll_runs_sorted(r, start, cnt, nruns), "runs made sorted are not");
    memcpy(all, r, (size_t)total * sizeof *r);
    coll_sort(all, (size_t)total);
    size_t n2 = coll_merge(all, (size_t)total, gap, E2);
    long n1 = coll_merge_runs(r, start, cnt, nruns, gap, E1);
    CHECK(n1 == (long)n2, "%ld extents from the runs, %zu from sorting", n1, n2);
    for (size_t i = 0; n1 == (long)n2 && i < n2; i++)
        CHECK(E1[i].off == E2[i].off && E1[i].len == E2[i].len, "extent %zu differs", i);
    if (total > 1) { /* an unsorted list is seen */
        int i = 0;
        while (cnt[i] < 2 && i < nruns - 1)
            i++;
        if (cnt[i] >= 2) {
            struct coll_req t = r[start[i]];
            r[start[i]] = r[start[i] + cnt[i] - 1];
            r[start[i] + cnt[i] - 1] = t;
            if (r[start[i]].off != r[start[i] + cnt[i] - 1].off)
                CHECK(!coll_runs_sorted(r, start, cnt, nruns), "an unsorted run passed");
        }
    }
    free(start);
    free(cnt);
    free(r);
    free(all);
    free(E1);
    free(E2);
}

int main(void)
{
    t_seed_from_env(42);
    for (int i = 0; i < 300; i++) {
        t_context = "random";
        int64_t span = 1 + (int64_t)t_below(1 << 22);
        one_case(1 + (int)t_below(200), 1 + (int64_t)t_below(70000), span,
                 (int64_t)t_below((uint64_t)span + 4096), (int64_t)t_below(3) * 4096,
                 4096 * (1 + (int64_t)t_below(64)), 1 + (int)t_below(8));
        t_bail_if_many();
    }
    for (int i = 0; i < 300; i++) {
        t_context = "merged runs";
        runs_case(1 + (int)t_below(16), (int)t_below(300), 1 + (int64_t)t_below(1 << 20),
                  1 + (int64_t)t_below(8192), (int64_t)t_below(3) * 1024);
        t_bail_if_many();
    }
    t_context = "no runs";
    CHECK(coll_merge_runs(NULL, NULL, NULL, 0, 0, NULL) == 0, "no runs: extents");
    /* negative values are rejected */
    homi_coll_seg bad = {-1, 10, 0};
    struct coll_req r;
    int64_t b = 0;
    CHECK(coll_clip(&bad, 1, 100, &r, &b) == -1, "negative offset accepted");
    return t_finish("test_coll_plan");
}
