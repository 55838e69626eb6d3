/* extmap.h - file extent maps (FIEMAP) with the safety classification of
 * DESIGN.md, and the read planner that turns a byte range into hole and
 * data segments.  Owned by the control plane; paths only consume plans. */
#ifndef HOMI_CPLANE_EXTMAP_H
#define HOMI_CPLANE_EXTMAP_H

#include <stddef.h>
#include <stdint.h>

/* Class of one range of a file, in order of precedence when FIEMAP sets
 * several flags: the first that applies wins.  Only HOMI_EXT_DATA is safe
 * to read raw from the block device; HOMI_EXT_HOLE reads as zeros. */
enum homi_ext_class {
    HOMI_EXT_DATA = 0,    /* mapped, written, aligned: safe to read raw */
    HOMI_EXT_HOLE,        /* no blocks allocated: zeros                 */
    HOMI_EXT_UNKNOWN,     /* FIEMAP_EXTENT_UNKNOWN: location unknown    */
    HOMI_EXT_DELALLOC,    /* dirty data not yet allocated               */
    HOMI_EXT_ENCODED,     /* compressed/encrypted on disk               */
    HOMI_EXT_INLINE,      /* data stored in metadata                    */
    HOMI_EXT_NOT_ALIGNED, /* not block aligned / tail packed            */
    HOMI_EXT_UNWRITTEN,   /* preallocated: zeros on disk, maybe dirty    */
    HOMI_EXT_CLASS_COUNT
};

const char *homi_ext_class_name(int cls);
/* Classify from fe_flags (FIEMAP_EXTENT_*). */
int homi_ext_classify(uint32_t fe_flags);

struct homi_extent {
    uint64_t logical;  /* file offset, bytes                    */
    uint64_t physical; /* byte offset on the block device (0 for holes) */
    uint64_t length;   /* bytes                                 */
    uint32_t flags;    /* FIEMAP_EXTENT_* as reported           */
    int cls;           /* enum homi_ext_class                   */
};

/* A map covers [0, file_size): extents and explicit holes, sorted and
 * contiguous.  Extents FIEMAP reports past file_size are clipped. */
struct homi_extmap {
    struct homi_extent *ext;
    size_t n;
    size_t cap;
    uint64_t file_size;
    uint64_t version; /* bumped by the owner on each rebuild */
};

/* Build the map of fd.  sync != 0 asks FIEMAP to write dirty data back
 * first (FIEMAP_FLAG_SYNC), as raw reads need.  Returns 0 or -errno
 * (-EOPNOTSUPP when the file system has no FIEMAP). */
int homi_extmap_build(int fd, int sync, struct homi_extmap *out);
void homi_extmap_free(struct homi_extmap *m);
/* Append a range (used by build and by tests of the planner). */
int homi_extmap_push(struct homi_extmap *m, uint64_t logical, uint64_t physical, uint64_t length,
                     uint32_t flags, int cls);

/* One piece of a read plan. */
struct homi_seg {
    uint64_t offset;
    uint64_t length;
    int hole; /* 1: serve as zeros without I/O */
};

/* Plan [off, off+len) against m.  Ranges beyond m->file_size are data
 * (the kernel decides what is there).  Holes shorter than min_hole are
 * merged into data.  Adjacent data segments are merged.  Returns the
 * number of segments written (at most max) or, when max is too small,
 * the number needed (caller retries).  */
size_t homi_extmap_plan(const struct homi_extmap *m, uint64_t off, uint64_t len, uint64_t min_hole,
                        struct homi_seg *segs, size_t max);

#endif
