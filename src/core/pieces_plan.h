/* pieces_plan.h - the planner of scattered reads (homi_read_pieces): a
 * list of (file offset, length, destination) pieces becomes
 *   - direct reads: large pieces, each read on its own into its
 *     destination (for device memory: the staging pipeline);
 *   - sieve windows: covering file ranges of small pieces that lie close
 *     together, read once, with the copy runs that scatter the window's
 *     bytes to the destinations; consecutive small windows are packed into
 *     groups that share a buffer (one launch per group on a GPU);
 *   - zero ranges: the bytes of pieces past the end of the file.
 * Pure computation over the piece list, no I/O: unit-tested on its own. */
#ifndef HOMI_CORE_PIECES_PLAN_H
#define HOMI_CORE_PIECES_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "homi.h"

/* One copy run: count rows of len bytes, row r from window offset
 * src + r * spitch to address dst + r * dpitch.  len * count never
 * exceeds the plan's task_max (so one GPU warp copies one run). */
struct homi_pp_run {
    uint64_t src;
    uint64_t dst; /* destination address */
    uint32_t len, count;
    uint32_t spitch, dpitch;
};

struct homi_pp_window {
    uint64_t off, len;  /* file range read into the buffer at boff        */
    uint64_t boff;      /* where in its group's buffer                    */
    size_t run0, nruns; /* its runs: runs[run0 .. run0 + nruns)           */
    uint64_t bytes;     /* destination bytes the runs deliver             */
};

/* Consecutive windows that share one buffer (at most window_max bytes and
 * runs_max runs): read together, scattered by one launch.  The src of a
 * run is an offset in its group's buffer. */
struct homi_pp_group {
    size_t win0, nwin;  /* windows win[win0 .. win0 + nwin)               */
    uint64_t len;       /* buffer bytes used                              */
    size_t run0, nruns; /* the windows' runs, contiguous                  */
    uint64_t bytes;
};

struct homi_pp_direct {
    uint64_t off, len;
    char *dst;
};

struct homi_pp_zero {
    char *dst;
    uint64_t len;
};

struct homi_pp_params {
    uint64_t direct_min; /* pieces of at least this many bytes: direct    */
    uint64_t gap_max;    /* largest gap between pieces inside a window    */
    uint64_t window_max; /* largest window, bytes                         */
    size_t runs_max;     /* most runs in one window                       */
    uint32_t task_max;   /* most bytes in one run (len * count)           */
    size_t group_max;    /* most windows in one buffer group              */
    int zero_eof;        /* plan zero ranges for bytes past the end       */
};

struct homi_pp_plan {
    struct homi_pp_window *win;
    size_t nwin;
    struct homi_pp_group *grp;
    size_t ngrp;
    struct homi_pp_run *runs;
    size_t nruns;
    struct homi_pp_direct *direct;
    size_t ndirect;
    struct homi_pp_zero *zero;
    size_t nzero;
    uint64_t file_bytes; /* piece bytes before the end of the file       */
};

/* Defaults for window buffers of window_max bytes (runs_max and task_max
 * are derived from it; direct_min and gap_max from the hints). */
void homi_pp_params_default(struct homi_pp_params *p, uint64_t window_max);

/* Plan n pieces against a file of fsize bytes.  Pieces may come in any
 * order and overlap in the file; zero-length pieces are ignored.  Returns
 * HOMI_OK, HOMI_EINVAL (bad parameters, a piece with a NULL buffer, an
 * offset or length out of range) or HOMI_ENOMEM; *out is then empty. */
int homi_pp_build(const homi_piece *pieces, size_t n, uint64_t fsize,
                  const struct homi_pp_params *prm, struct homi_pp_plan *out);
/* The same for 2-D pieces: a piece whose rows fit one window and lie
 * within gap_max of each other becomes a few 2-D runs at once (planning
 * costs per piece, not per row); the rows of the others are planned one by
 * one, in file order with everything else. */
int homi_pp_build2d(const homi_piece2d *pieces, size_t n, uint64_t fsize,
                    const struct homi_pp_params *prm, struct homi_pp_plan *out);
void homi_pp_free(struct homi_pp_plan *p);

#endif
