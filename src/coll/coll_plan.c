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

size_t coll_merge(const struct coll_req *r, size_t n, int64_t gap, struct coll_ext *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t end = r[i].off + r[i].len;
        if (k && r[i].off <= out[k - 1].off + out[k - 1].len + gap) {
            int64_t cur = out[k - 1].off + out[k - 1].len;
            if (end > cur) out[k - 1].len = end - out[k - 1].off;
        } else {
            out[k].off = r[i].off;
            out[k].len = r[i].len;
            k++;
        }
    }
    return k;
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
