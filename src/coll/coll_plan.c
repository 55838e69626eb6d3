/* coll_plan.c - MPI-free planning of collective and sieved reads (see
 * coll_plan.h): clipping, sorting, merging, domains, windows, pieces. */
#include "coll_plan.h"

#include <stdlib.h>

long coll_clip(const homi_coll_seg *segs, size_t n, int64_t eof, struct coll_req *out,
               int64_t *bytes)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const homi_coll_seg *s = &segs[i];
        if (s->file_off < 0 || s->len < 0 || s->mem_off < 0) return -1;
        if (s->len > INT64_MAX - s->file_off) return -1;
        int64_t end = s->file_off + s->len;
        if (end > eof) end = eof;
        if (end <= s->file_off) continue;
        if (k && out[k - 1].off + out[k - 1].len == s->file_off &&
            out[k - 1].mem_off + out[k - 1].len == s->mem_off) { /* continues the previous one */
            out[k - 1].len += end - s->file_off;
            *bytes += end - s->file_off;
            continue;
        }
        out[k].off = s->file_off;
        out[k].len = end - s->file_off;
        out[k].mem_off = s->mem_off;
        *bytes += out[k].len;
        k++;
    }
    return (long)k;
}

static int cmp_req(const void *a, const void *b)
{
    const struct coll_req *x = a, *y = b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    if (x->mem_off != y->mem_off) return x->mem_off < y->mem_off ? -1 : 1;
    return (x->len > y->len) - (x->len < y->len);
}

void coll_sort(struct coll_req *r, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (r[i].off < r[i - 1].off) {
            qsort(r, n, sizeof *r, cmp_req);
            return;
        }
}

/* Add request q (in offset order) to the extents out[0..*k). */
static void ext_add(struct coll_ext *out, size_t *k, const struct coll_req *q, int64_t gap)
{
    int64_t end = q->off + q->len;
    if (*k && q->off <= out[*k - 1].off + out[*k - 1].len + gap) {
        int64_t cur = out[*k - 1].off + out[*k - 1].len;
        if (end > cur) out[*k - 1].len = end - out[*k - 1].off;
    } else {
        out[*k].off = q->off;
        out[*k].len = q->len;
        (*k)++;
    }
}

size_t coll_merge(const struct coll_req *r, size_t n, int64_t gap, struct coll_ext *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        ext_add(out, &k, &r[i], gap);
    return k;
}

/* The heap of runs, keyed by the offset of each run's next request. */
struct runs_heap {
    const struct coll_req *r;
    const int64_t *start;
    int64_t *pos;
    int *h;
    int n;
};

static int64_t head_off(const struct runs_heap *q, int i)
{
    return q->r[q->start[q->h[i]] + q->pos[q->h[i]]].off;
}

static void sift_down(struct runs_heap *q, int i)
{
    for (;;) {
        int m = i, a = 2 * i + 1, b = a + 1;
        if (a < q->n && head_off(q, a) < head_off(q, m)) m = a;
        if (b < q->n && head_off(q, b) < head_off(q, m)) m = b;
        if (m == i) return;
        int t = q->h[i];
        q->h[i] = q->h[m];
        q->h[m] = t;
        i = m;
    }
}

long coll_merge_runs(const struct coll_req *r, const int64_t *start, const int64_t *cnt, int nruns,
                     int64_t gap, struct coll_ext *out)
{
    struct runs_heap q = {.r = r, .start = start};
    q.pos = calloc(nruns > 0 ? (size_t)nruns : 1, sizeof *q.pos);
    q.h = malloc((nruns > 0 ? (size_t)nruns : 1) * sizeof *q.h);
    if (!q.pos || !q.h) {
        free(q.pos);
        free(q.h);
        return -1;
    }
    for (int i = 0; i < nruns; i++)
        if (cnt[i] > 0) q.h[q.n++] = i;
    for (int i = q.n / 2 - 1; i >= 0; i--)
        sift_down(&q, i);
    size_t k = 0;
    while (q.n) {
        int i = q.h[0];
        ext_add(out, &k, &r[start[i] + q.pos[i]], gap);
        if (++q.pos[i] == cnt[i]) q.h[0] = q.h[--q.n];
        sift_down(&q, 0);
    }
    free(q.pos);
    free(q.h);
    return (long)k;
}

int coll_runs_sorted(const struct coll_req *r, const int64_t *start, const int64_t *cnt, int nruns)
{
    for (int i = 0; i < nruns; i++)
        for (int64_t j = 1; j < cnt[i]; j++)
            if (r[start[i] + j].off < r[start[i] + j - 1].off) return 0;
    return 1;
}

void coll_domains_make(struct coll_domains *d, int64_t lo, int64_t hi, int naggr)
{
    int64_t span = hi > lo ? hi - lo : 1;
    int64_t per = (span + naggr - 1) / naggr;
    int64_t align = per >= (4 << 20) ? (1 << 20) : 4096;
    d->start = lo / align * align;
    span = hi - d->start;
    per = (span + naggr - 1) / naggr;
    d->size = (per + align - 1) / align * align;
    if (d->size <= 0) d->size = align;
    d->n = naggr;
}

int coll_domain_of(const struct coll_domains *d, int64_t x)
{
    int64_t i = (x - d->start) / d->size;
    if (i < 0) i = 0;
    if (i >= d->n) i = d->n - 1;
    return (int)i;
}

int64_t coll_domain_end(const struct coll_domains *d, int i)
{
    if (i >= d->n - 1) return INT64_MAX;
    return d->start + (int64_t)(i + 1) * d->size;
}

void coll_win_begin(struct coll_win_it *it, const struct coll_ext *E, size_t ne)
{
    it->e = 0;
    it->pos = ne ? E[0].off : 0;
}

int coll_win_next(struct coll_win_it *it, const struct coll_ext *E, size_t ne, int64_t cb,
                  int64_t *ws, int64_t *we, size_t *e0)
{
    while (it->e < ne && E[it->e].off + E[it->e].len <= it->pos)
        it->e++;
    if (it->e >= ne) return 0;
    int64_t s = it->pos > E[it->e].off ? it->pos : E[it->e].off;
    *ws = s;
    *we = s + cb;
    *e0 = it->e;
    it->pos = *we;
    return 1;
}

int coll_win_count(const struct coll_ext *E, size_t ne, int64_t cb)
{
    struct coll_win_it it;
    int64_t ws, we;
    size_t e0;
    int n = 0;
    coll_win_begin(&it, E, ne);
    while (coll_win_next(&it, E, ne, cb, &ws, &we, &e0))
        n++;
    return n;
}

size_t coll_pieces(const struct coll_req *r, size_t n, size_t *cursor, int64_t ws, int64_t we,
                   struct coll_piece *out)
{
    size_t k = 0;
    while (*cursor < n && r[*cursor].off + r[*cursor].len <= ws)
        (*cursor)++;
    for (size_t i = *cursor; i < n && r[i].off < we; i++) {
        int64_t a = r[i].off > ws ? r[i].off : ws;
        int64_t b = r[i].off + r[i].len;
        if (b > we) b = we;
        if (b <= a) continue;
        out[k].req = (int64_t)i;
        out[k].inner = a - r[i].off;
        out[k].buf_off = a - ws;
        out[k].len = b - a;
        k++;
    }
    return k;
}
