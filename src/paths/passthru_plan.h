/* passthru_plan.h - turning a file range into NVMe Read commands: the pure
 * translation (extent map -> LBAs on the namespace, split at extent
 * boundaries and the controller's transfer limit, LBA alignment) and the
 * check every command passes before it is submitted.  No I/O here. */
#ifndef HOMI_PATHS_PASSTHRU_PLAN_H
#define HOMI_PATHS_PASSTHRU_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "cplane/extmap.h"

enum homi_pt_kind {
    HOMI_PT_NVME = 0, /* LBA-aligned: read straight into the destination */
    HOMI_PT_BOUNCE,   /* partial LBA: read one LBA into a bounce, copy   */
    HOMI_PT_KERNEL,   /* not translatable: read through the file system  */
    HOMI_PT_ZERO,     /* hole: zeros, no I/O                             */
};

/* Geometry of the namespace a file lives on. */
struct homi_pt_geom {
    uint64_t part_start; /* byte offset of the partition on the namespace */
    uint64_t ns_bytes;   /* namespace capacity, bytes                     */
    unsigned lba;        /* LBA size, bytes (512 .. 4096, power of two)   */
    uint32_t max_cmd;    /* largest transfer per command, multiple of lba */
};

struct homi_pt_piece {
    int kind;             /* enum homi_pt_kind                                */
    int reason;           /* HOMI_PT_KERNEL: the homi_fallback reason        */
    uint64_t foff;        /* file offset of the user bytes                   */
    uint32_t len;         /* user bytes                                      */
    uint32_t dst_off;     /* offset of those bytes in the chunk's buffer     */
    uint64_t slba;        /* NVMe: first LBA                                 */
    uint32_t nlb;         /* NVMe: number of LBAs                            */
    uint32_t skip;        /* BOUNCE: user bytes start this far into the LBA  */
    uint64_t ext_logical; /* NVMe/BOUNCE: the extent the command came from */
};

/* Plan [off, off+len) of the file mapped by m.  Pieces cover the range in
 * order, without gaps.  Ranges past m->file_size become KERNEL pieces
 * (the file system decides what is there).  Returns the number of pieces
 * written (at most max) or, when max is too small, the number needed. */
size_t homi_pt_plan(const struct homi_extmap *m, const struct homi_pt_geom *g, uint64_t off,
                    uint32_t len, struct homi_pt_piece *out, size_t max);

/* The pre-submission check: an NVMe/BOUNCE piece must name LBAs that lie
 * inside one safe (DATA) extent of the file in m, at the position that
 * extent gives the piece's file offset, and inside the namespace.
 * Returns 0 when the command is allowed, -1 when it must not be sent. */
int homi_pt_check(const struct homi_extmap *m, const struct homi_pt_geom *g,
                  const struct homi_pt_piece *p);

/* Whether the file open on fd, on a file system of type fstype, has
 * extents whose physical addresses are byte offsets on the one block
 * device it is mounted from (ext2/3/4, xfs except realtime files).
 * Returns 0, or -1 with the reason in why.  Shared by every path that
 * reads raw LBAs (passthru.c, src/nvme/deleg.c). */
int homi_pt_fs_check(int fd, const char *fstype, char *why, size_t wl);

#endif
