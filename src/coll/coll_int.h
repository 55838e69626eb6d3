/* coll_int.h - declarations shared by the collective engine's files. */
#ifndef HOMI_COLL_INT_H
#define HOMI_COLL_INT_H

#include <string.h>

#include "coll_plan.h"
#include "homi_coll.h"

/* Read the parts of extents E[e0..] inside [ws, we) into win (window byte
 * 0 = file offset ws).  HOMI_EIO when the file is shorter than planned. */
int coll_read_window(homi_file *f, const struct coll_ext *E, size_t ne, size_t e0, int64_t ws,
                     int64_t we, char *win);
/* Copy np pieces of requests r into dst (kind dst_kind): from src_base +
 * buf_off, or packed one after the other when src_packed. */
int coll_copy_pieces(const struct coll_req *r, const struct coll_piece *p, size_t np,
                     const char *src_base, int src_packed, char *dst, int dst_kind, int src_kind,
                     int device);

#endif
