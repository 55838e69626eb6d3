/* passthru_plan.c - file range -> NVMe Read commands from the extent map,
 * and the check each command passes before submission (passthru_plan.h). */
#include "paths/passthru_plan.h"

#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "homi.h"

/* Index of the map entry containing file offset x, or m->n. */
static size_t find_ext(const struct homi_extmap *m, uint64_t x)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct homi_extent *e = &m->ext[mid];
        if (x < e->logical)
            hi = mid;
        else if (x >= e->logical + e->length)
            lo = mid + 1;
        else
            return mid;
    }
    return m->n;
}

struct sink {
    struct homi_pt_piece *out;
    size_t max, n;
    uint64_t base; /* file offset of the chunk start */
    struct homi_pt_piece last;
};

static void emit(struct sink *s, const struct homi_pt_piece *p)
{
    /* merge zero / kernel pieces with the previous one where that changes
     * nothing (tracked in s->last, so that counting gives the same n) */
    struct homi_pt_piece *q = &s->last;
    if (s->n && q->kind == p->kind &&
        (p->kind == HOMI_PT_ZERO || (p->kind == HOMI_PT_KERNEL && q->reason == p->reason)) &&
        q->foff + q->len == p->foff) {
        q->len += p->len;
        if (s->n <= s->max) s->out[s->n - 1].len = q->len;
        return;
    }
    *q = *p;
    q->dst_off = (uint32_t)(p->foff - s->base);
    if (s->n < s->max) s->out[s->n] = *q;
    s->n++;
}

static void other(struct sink *s, int kind, int reason, uint64_t foff, uint64_t len)
{
    struct homi_pt_piece p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    p.reason = reason;
    p.foff = foff;
    p.len = (uint32_t)len;
    emit(s, &p);
}

/* [foff, foff+len) lies in DATA extent e: LBA commands. */
static void data(struct sink *s, const struct homi_pt_geom *g, const struct homi_extent *e,
                 uint64_t foff, uint64_t len)
{
    const uint64_t L = g->lba;
    uint64_t dp = g->part_start + e->physical + (foff - e->logical); /* device byte */
    uint64_t dq = dp + len;
    uint64_t A = (dp + L - 1) / L * L, B = dq / L * L;
    struct homi_pt_piece p;
    memset(&p, 0, sizeof p);
    p.ext_logical = e->logical;
    if (A > B) { /* inside one LBA */
        p.kind = HOMI_PT_BOUNCE;
        p.foff = foff;
        p.len = (uint32_t)len;
        p.slba = dp / L;
        p.nlb = 1;
        p.skip = (uint32_t)(dp % L);
        emit(s, &p);
        return;
    }
    if (dp < A) { /* head: the end of a partly wanted LBA */
        p.kind = HOMI_PT_BOUNCE;
        p.foff = foff;
        p.len = (uint32_t)(A - dp);
        p.slba = dp / L;
        p.nlb = 1;
        p.skip = (uint32_t)(dp % L);
        emit(s, &p);
    }
    for (uint64_t x = A; x < B;) { /* whole LBAs, at most max_cmd each */
        uint64_t n = B - x < g->max_cmd ? B - x : g->max_cmd;
        p.kind = HOMI_PT_NVME;
        p.foff = foff + (x - dp);
        p.len = (uint32_t)n;
        p.slba = x / L;
        p.nlb = (uint32_t)(n / L);
        p.skip = 0;
        emit(s, &p);
        x += n;
    }
    if (B < dq && B >= A) { /* tail: the start of a partly wanted LBA */
        p.kind = HOMI_PT_BOUNCE;
        p.foff = foff + (B - dp);
        p.len = (uint32_t)(dq - B);
        p.slba = B / L;
        p.nlb = 1;
        p.skip = 0;
        emit(s, &p);
    }
}

size_t homi_pt_plan(const struct homi_extmap *m, const struct homi_pt_geom *g, uint64_t off,
                    uint32_t len, struct homi_pt_piece *out, size_t max)
{
    struct sink s;
    memset(&s, 0, sizeof s);
    s.out = out;
    s.max = max;
    s.base = off;
    uint64_t end = off + len, x = off;
    while (x < end) {
        if (x >= m->file_size) { /* past the mapped size: the kernel decides */
            other(&s, HOMI_PT_KERNEL, HOMI_FB_MAP_STALE, x, end - x);
            break;
        }
        size_t i = find_ext(m, x);
        if (i == m->n) { /* not covered (cannot happen for a built map) */
            uint64_t n = (m->file_size < end ? m->file_size : end) - x;
            other(&s, HOMI_PT_KERNEL, HOMI_FB_EXTENT_UNSAFE, x, n);
            x += n;
            continue;
        }
        const struct homi_extent *e = &m->ext[i];
        uint64_t eend = e->logical + e->length;
        uint64_t n = (eend < end ? eend : end) - x;
        if (e->cls == HOMI_EXT_HOLE)
            other(&s, HOMI_PT_ZERO, 0, x, n);
        else if (e->cls != HOMI_EXT_DATA)
            other(&s, HOMI_PT_KERNEL, HOMI_FB_EXTENT_UNSAFE, x, n);
        else
            data(&s, g, e, x, n);
        x += n;
    }
    return s.n;
}

int homi_pt_check(const struct homi_extmap *m, const struct homi_pt_geom *g,
                  const struct homi_pt_piece *p)
{
    if (p->kind != HOMI_PT_NVME && p->kind != HOMI_PT_BOUNCE) return -1;
    if (!p->nlb || !p->len || (uint64_t)p->nlb * g->lba > g->max_cmd) return -1;
    const uint64_t L = g->lba;
    uint64_t cmd_start = p->slba * L, cmd_end = cmd_start + (uint64_t)p->nlb * L;
    if (cmd_end > g->ns_bytes || cmd_start < g->part_start) return -1;
    size_t i = find_ext(m, p->ext_logical);
    if (i == m->n) return -1;
    const struct homi_extent *e = &m->ext[i];
    if (e->cls != HOMI_EXT_DATA || e->logical != p->ext_logical) return -1;
    /* the user bytes lie in the extent ... */
    if (p->foff < e->logical || p->foff + p->len > e->logical + e->length) return -1;
    /* ... the command reads them where the extent says they are ... */
    uint64_t want = g->part_start + e->physical + (p->foff - e->logical);
    uint64_t at = p->kind == HOMI_PT_BOUNCE ? cmd_start + p->skip : cmd_start;
    if (at != want || at + p->len > cmd_end) return -1;
    /* ... and every LBA it names belongs to the extent's blocks (rounded
     * out to whole LBAs: an extent is file-system-block aligned, and a
     * block is never smaller than an LBA) */
    uint64_t ext_start = g->part_start + e->physical;
    uint64_t ext_end = ext_start + e->length;
    ext_start = ext_start / L * L;
    ext_end = (ext_end + L - 1) / L * L;
    if (cmd_start < ext_start || cmd_end > ext_end) return -1;
    return 0;
}

int homi_pt_fs_check(int fd, const char *fstype, char *why, size_t wl)
{
    /* file systems whose FIEMAP physical addresses are byte offsets on the
     * one block device they are mounted from */
    static const char *const ok[] = {"ext4", "ext3", "ext2", "xfs"};
    int allowed = 0;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(fstype, ok[i]) == 0) allowed = 1;
    if (!allowed) {
        snprintf(why, wl, "file system %s: extent addresses are not namespace offsets",
                 fstype[0] ? fstype : "unknown");
        return -1;
    }
    struct fsxattr fx;
    if (strcmp(fstype, "xfs") == 0 && ioctl(fd, FS_IOC_FSGETXATTR, &fx) == 0 &&
        (fx.fsx_xflags & FS_XFLAG_REALTIME)) {
        snprintf(why, wl, "xfs realtime file: its extents are on the realtime device");
        return -1;
    }
    return 0;
}
