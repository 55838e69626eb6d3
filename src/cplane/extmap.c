/* extmap.c - FIEMAP walk into a classified, hole-explicit extent map, and
 * the read planner (holes vs data). */
#include "cplane/extmap.h"

#include <errno.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

const char *homi_ext_class_name(int cls)
{
    static const char *const n[] = {"data",    "hole",   "unknown",     "delalloc",
                                    "encoded", "inline", "not-aligned", "unwritten"};
    return cls >= 0 && cls < HOMI_EXT_CLASS_COUNT ? n[cls] : "?";
}

int homi_ext_classify(uint32_t f)
{
    if (f & FIEMAP_EXTENT_UNKNOWN) return HOMI_EXT_UNKNOWN;
    if (f & FIEMAP_EXTENT_DELALLOC) return HOMI_EXT_DELALLOC;
    if (f & (FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED)) return HOMI_EXT_ENCODED;
    if (f & FIEMAP_EXTENT_DATA_INLINE) return HOMI_EXT_INLINE;
    if (f & (FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_TAIL)) return HOMI_EXT_NOT_ALIGNED;
    if (f & FIEMAP_EXTENT_UNWRITTEN) return HOMI_EXT_UNWRITTEN;
    return HOMI_EXT_DATA;
}

int homi_extmap_push(struct homi_extmap *m, uint64_t logical, uint64_t physical, uint64_t length,
                     uint32_t flags, int cls)
{
    if (!length) return 0;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct homi_extent *e = realloc(m->ext, cap * sizeof *e);
        if (!e) return -ENOMEM;
        m->ext = e;
        m->cap = cap;
    }
    m->ext[m->n++] = (struct homi_extent){logical, physical, length, flags, cls};
    return 0;
}

void homi_extmap_free(struct homi_extmap *m)
{
    free(m->ext);
    m->ext = NULL;
    m->n = m->cap = 0;
}

#define BATCH 256

int homi_extmap_build(int fd, int sync, struct homi_extmap *out)
{
    struct stat st;
    if (fstat(fd, &st)) return -errno;
    uint64_t size = (uint64_t)st.st_size;
    struct homi_extmap m = {0};
    m.file_size = size;
    size_t sz = sizeof(struct fiemap) + BATCH * sizeof(struct fiemap_extent);
    struct fiemap *fm = calloc(1, sz);
    if (!fm) return -ENOMEM;
    uint64_t pos = 0; /* next file offset not yet covered by m */
    int rc = 0, last = 0;
    while (!last && pos < size) {
        memset(fm, 0, sz);
        fm->fm_start = pos;
        fm->fm_length = size - pos;
        fm->fm_flags = sync ? FIEMAP_FLAG_SYNC : 0;
        fm->fm_extent_count = BATCH;
        if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
            rc = errno == ENOTTY ? -EOPNOTSUPP : -errno;
            break;
        }
        if (fm->fm_mapped_extents == 0) break;
        for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
            struct fiemap_extent *e = &fm->fm_extents[i];
            uint64_t lo = e->fe_logical, hi = e->fe_logical + e->fe_length;
            if (e->fe_flags & FIEMAP_EXTENT_LAST) last = 1;
            if (hi <= pos) continue;
            if (lo > size) {
                last = 1;
                break;
            }
            if (lo > pos) { /* gap: a hole */
                if ((rc = homi_extmap_push(&m, pos, 0, lo - pos, 0, HOMI_EXT_HOLE))) goto out;
                pos = lo;
            }
            uint64_t skip = pos - lo;
            if (hi > size) hi = size;
            if (hi > pos && (rc = homi_extmap_push(&m, pos, e->fe_physical + skip, hi - pos,
                                                   e->fe_flags, homi_ext_classify(e->fe_flags))))
                goto out;
            if (hi > pos) pos = hi;
        }
    }
    if (!rc && pos < size) rc = homi_extmap_push(&m, pos, 0, size - pos, 0, HOMI_EXT_HOLE);
out:
    free(fm);
    if (rc) {
        homi_extmap_free(&m);
        return rc;
    }
    m.version = out->version;
    homi_extmap_free(out);
    *out = m;
    return 0;
}

/* Append a segment, merging adjacent data; counts past max so the caller
 * learns how many are needed.  *last_end / *last_hole describe the last
 * segment counted (0 / -1 when none yet). */
static size_t add_seg(struct homi_seg *segs, size_t n, size_t max, uint64_t off, uint64_t len,
                      int hole, uint64_t *last_end, int *last_hole)
{
    if (!len) return n;
    if (n > 0 && !hole && *last_hole == 0 && *last_end == off) {
        if (n <= max) segs[n - 1].length += len;
        *last_end = off + len;
        return n;
    }
    if (n < max) segs[n] = (struct homi_seg){off, len, hole};
    *last_end = off + len;
    *last_hole = hole;
    return n + 1;
}

size_t homi_extmap_plan(const struct homi_extmap *m, uint64_t off, uint64_t len, uint64_t min_hole,
                        struct homi_seg *segs, size_t max)
{
    size_t n = 0;
    uint64_t end = off + len, pos = off, last_end = 0;
    int last_hole = -1;
    if (!len) return 0;
    /* binary search for the first extent ending after off */
    size_t lo = 0, hi = m ? m->n : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->ext[mid].logical + m->ext[mid].length <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; m && i < m->n && pos < end; i++) {
        const struct homi_extent *e = &m->ext[i];
        uint64_t a = e->logical > pos ? e->logical : pos;
        uint64_t b = e->logical + e->length < end ? e->logical + e->length : end;
        if (a >= b) continue;
        if (a > pos) n = add_seg(segs, n, max, pos, a - pos, 0, &last_end, &last_hole);
        /* a whole hole extent below min_hole is read, not skipped */
        int hole = e->cls == HOMI_EXT_HOLE && e->length >= min_hole;
        n = add_seg(segs, n, max, a, b - a, hole, &last_end, &last_hole);
        pos = b;
    }
    if (pos < end) n = add_seg(segs, n, max, pos, end - pos, 0, &last_end, &last_hole);
    return n;
}
