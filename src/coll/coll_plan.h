/* coll_plan.h - the pure (MPI-free) planning steps of collective reads:
 * clipping segments at end of file, sorting, splitting over file domains,
 * merging requests into extents, walking an aggregator's windows and
 * cutting a requester's list into pieces of one window. */
#ifndef HOMI_COLL_PLAN_H
#define HOMI_COLL_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "homi_coll.h"

/* One requested range (part of a segment) and where it goes in memory. */
struct coll_req {
    int64_t off, len, mem_off;
};

/* A merged file range that an aggregator reads. */
struct coll_ext {
    int64_t off, len;
};

/* One piece of a window delivered to a requester: bytes [inner, inner+len)
 * of its request req, found at buf_off in the aggregator's window. */
struct coll_piece {
    int64_t req, inner, buf_off, len;
};

/* Copy segs into out (room for n) dropping empty ones and clipping at eof;
 * a segment that continues the previous one (next file byte and next
 * memory byte) extends it.  Returns the count kept and adds the bytes kept
 * to *bytes.  Negative offsets or lengths give -1. */
long coll_clip(const homi_coll_seg *segs, size_t n, int64_t eof, struct coll_req *out,
               int64_t *bytes);
/* Sort by file offset (stable for equal offsets: by memory offset). */
void coll_sort(struct coll_req *r, size_t n);
/* Union of sorted requests; ranges closer than gap are merged too.  out
 * has room for n.  Returns the number of extents. */
size_t coll_merge(const struct coll_req *sorted, size_t n, int64_t gap, struct coll_ext *out);
/* The same union for nruns lists r[start[i] .. start[i] + cnt[i]), each
 * sorted by offset (the requests an aggregator gets from each rank):
 * merged as they are, in O(n log nruns), instead of sorted again.  -1 when
 * out of memory.  coll_runs_sorted: 1 when every list is sorted. */
long coll_merge_runs(const struct coll_req *r, const int64_t *start, const int64_t *cnt, int nruns,
                     int64_t gap, struct coll_ext *out);
int coll_runs_sorted(const struct coll_req *r, const int64_t *start, const int64_t *cnt, int nruns);

/* File domains: naggr equal ranges of [lo, hi) on align boundaries. */
struct coll_domains {
    int64_t start, size;
    int n;
};
void coll_domains_make(struct coll_domains *d, int64_t lo, int64_t hi, int naggr);
/* Domain index holding file offset x. */
int coll_domain_of(const struct coll_domains *d, int64_t x);
/* End of domain i (exclusive). */
int64_t coll_domain_end(const struct coll_domains *d, int i);

/* Windows over sorted extents: each covers at most cb bytes of file and
 * starts at the first extent byte not covered yet.  Returns 0 at the end. */
struct coll_win_it {
    size_t e;    /* first extent not finished */
    int64_t pos; /* first byte not covered    */
};
void coll_win_begin(struct coll_win_it *it, const struct coll_ext *E, size_t ne);
int coll_win_next(struct coll_win_it *it, const struct coll_ext *E, size_t ne, int64_t cb,
                  int64_t *ws, int64_t *we, size_t *e0);
/* Number of windows (walks a copy of a fresh iterator). */
int coll_win_count(const struct coll_ext *E, size_t ne, int64_t cb);

/* Pieces of requests r[*cursor..n) (sorted) inside [ws, we), appended to
 * out (room: n - *cursor + 1 is always enough... callers size by n);
 * advances *cursor past requests that end before we.  Returns the count. */
size_t coll_pieces(const struct coll_req *r, size_t n, size_t *cursor, int64_t ws, int64_t we,
                   struct coll_piece *out);

#endif
