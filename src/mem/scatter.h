/* scatter.h - sieve-window buffers of scattered reads (homi_read_pieces)
 * and the scatter of a window's bytes to the pieces' destinations: host
 * memory (malloc'd buffers, memcpy on the caller's thread) or CUDA device
 * memory (pinned staging slots, one copy kernel per window on a stream of
 * its own; a slot goes back to the pool when its kernel has finished). */
#ifndef HOMI_MEM_SCATTER_H
#define HOMI_MEM_SCATTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/pieces_plan.h"

struct homi_engine;
struct homi_scatter;

/* Buffers for windows of up to win_bytes into memory of GPU device (or
 * host memory when device < 0).  Device buffers are staging slots, which
 * must hold twice win_bytes (the window, then its runs). */
int homi_scatter_open(struct homi_engine *e, int device, uint64_t win_bytes,
                      struct homi_scatter **out);
/* A window buffer: its id (>= 0) and *buf; HOMI_EBUSY when none is free
 * and !block; or another negative homi_err. */
int homi_scatter_get(struct homi_scatter *s, int block, char **buf);
/* Scatter the runs of a window group of which got bytes were read into buf, and
 * give the buffer back (host: at once; device: once the copies are done).
 * Rows past got are not copied: their bytes are added to *missing and
 * zeroed when zero_eof.  HOMI_OK or a negative homi_err. */
int homi_scatter_put(struct homi_scatter *s, int id, char *buf, const struct homi_pp_group *g,
                     const struct homi_pp_run *runs, uint64_t got, int zero_eof, uint64_t *missing);
/* Give a buffer back unused. */
void homi_scatter_drop(struct homi_scatter *s, int id);
/* Wait for the oldest buffer whose copies are in flight and free it: 1
 * when one was freed, 0 when none was in flight. */
int homi_scatter_retire(struct homi_scatter *s);
/* Zero len bytes at dst (in the buffers' memory kind). */
int homi_scatter_zero(struct homi_scatter *s, char *dst, uint64_t len);
/* Wait for every copy, free everything; the first error seen, or HOMI_OK. */
int homi_scatter_close(struct homi_scatter *s);

#endif
