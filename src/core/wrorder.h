/* wrorder.h - POSIX ordering of writes in flight within one process: each
 * file keeps the byte ranges of its writes that were issued and have not
 * completed.  A write waits for earlier overlapping writes before it is
 * issued, a read waits for earlier overlapping writes, homi_fsync for all
 * earlier writes. */
#ifndef HOMI_CORE_WRORDER_H
#define HOMI_CORE_WRORDER_H

#include <stdint.h>

struct homi_fh;

struct homi_wrange {
    uint64_t off, end; /* [off, end) */
    uint64_t seq;      /* issue order */
    struct homi_wrange *next;
};

void homi_wr_init(struct homi_fh *f);
void homi_wr_fini(struct homi_fh *f);
/* Issue a write of [off, off+len): waits until no earlier write in flight
 * overlaps it, then records it.  NULL when out of memory. */
struct homi_wrange *homi_wr_begin(struct homi_fh *f, uint64_t off, uint64_t len);
/* The write completed (NULL: no-op). */
void homi_wr_end(struct homi_fh *f, struct homi_wrange *r);
/* Wait until no write issued before this call overlapping [off, off+len)
 * is in flight (len UINT64_MAX: any write). */
void homi_wr_wait(struct homi_fh *f, uint64_t off, uint64_t len);
/* A read of [off, off+len): waits for earlier overlapping writes, and for
 * earlier writes beyond it while the file ends inside the read (they would
 * turn the rest of the read into a hole rather than a short read). */
void homi_wr_wait_read(struct homi_fh *f, uint64_t off, uint64_t len);

#endif
