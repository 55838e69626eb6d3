/* deleg_read.c - reads through a delegated controller's I/O queue pair
 * (homi_nvme_read): every command is built by the passthrough planner
 * (src/paths/passthru_plan.c) from the file's extent map, re-checked by
 * homi_pt_check and by the queue gate (homi_nvq_io_gate) before it is
 * queued; ranges past the file's size are refused before planning.
 * Unsafe extents and NVMe errors are read through the file system, and
 * chunks whose file changed while in flight (inotify + fstat, as
 * passthru.c) are read again through it; all counted. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errors.h"
#include "core/log.h"
#include "homi.h"
#include "nvme/deleg_int.h"

#define CHUNK (8u << 20) /* bytes planned and checked at a time */

static int same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
           a->st_blocks == b->st_blocks;
}

static uint64_t changes(struct homi_nvme_file *f)
{
    return f->w ? homi_watch_changes(f->c->o->watcher, f->w) : 0;
}

/* Bring the extent map up to date (rebuilt, with dirty data written back,
 * when the file changed).  0, or a HOMI_E* code. */
static int refresh_map(struct homi_nvme_file *f)
{
    uint64_t seen = changes(f);
    struct stat st;
    if (fstat(f->fd, &st)) return HOMI_EBADF;
    if (f->map_valid && seen == f->seen && same_stat(&st, &f->st)) return 0;
    homi_deleg_count(f->c->o, ST_MAP_BUILDS, 1);
    int rc = homi_extmap_build(f->fd, 1, &f->map);
    f->seen = seen;
    f->st = st;
    f->map_valid = rc == 0;
    if (rc) {
        homi_log(HOMI_LOG_INFO, "nvme: no extent map (%s): reading through the file system",
                 strerror(-rc));
        f->map.file_size = (uint64_t)st.st_size;
    }
    return 0;
}

static int pread_all(int fd, char *dst, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, dst + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return homi_err_from_errno(errno);
        if (r == 0) return 1; /* shorter than planned: the file shrank */
        got += (size_t)r;
    }
    return 0;
}

struct chunk_acct {
    uint64_t nvme, kernel, zero, direct;
};

/* Queue the NVMe command of piece i in a free slot.  0 queued, -1 refused
 * by the gate. */
/* IOVA of [addr, addr+len) when it lies in a registered destination and
 * may be a PRP target (dword aligned); 0 otherwise. */
static uint64_t registered(struct homi_nvme_owner *o, const char *addr, uint32_t len)
{
    uint64_t iova = 0;
    if (!o->nregs || ((uintptr_t)addr & 3)) return 0;
    pthread_mutex_lock(&o->lock);
    for (unsigned i = 0; i < o->nregs; i++) {
        const struct homi_deleg_reg *r = &o->regs[i];
        if (addr >= r->va && addr + len <= r->va + r->size) {
            iova = r->iova + (uint64_t)(addr - r->va);
            break;
        }
    }
    pthread_mutex_unlock(&o->lock);
    return iova;
}

/* Queue the NVMe command of piece i in a free slot: into the slot's DMA
 * buffer, or straight into dst when that is a registered destination.
 * 0 queued, -1 refused by the gate. */
static int queue_piece(struct homi_nvme_file *f, const struct homi_pt_piece *p, int i, char *dst)
{
    struct homi_nvme_client *c = f->c;
    unsigned max = c->o->max_xfer;
    int s = c->free_slots[--c->nfree];
    uint64_t data_iova = c->slots.iova + (uint64_t)s * max;
    uint64_t direct = p->kind == HOMI_PT_NVME ? registered(c->o, dst + p->dst_off, p->len) : 0;
    if (direct) data_iova = direct; /* whole LBAs: len == nlb * lba */
    size_t list_off = (size_t)c->nslots * max + (size_t)s * HOMI_NVME_PAGE;
    uint64_t prp1, prp2;
    struct homi_nvme_sqe e;
    if (homi_nvme_prp(data_iova, p->nlb * f->g.lba, (uint64_t *)((char *)c->slots.va + list_off),
                      c->slots.iova + list_off, &prp1, &prp2)) {
        c->free_slots[c->nfree++] = s;
        return -1;
    }
    homi_nvme_read_cmd(&e, (uint16_t)s, f->nsid, p->slba, p->nlb, prp1, prp2);
    if (homi_nvq_io_gate(&c->q, &e, f->nsid) || homi_nvq_push(&c->q, &e) < 0) {
        c->free_slots[c->nfree++] = s;
        return -1;
    }
    c->slot_piece[s] = i;
    c->slot_direct[s] = direct != 0;
    return 0;
}

static int read_chunk(struct homi_nvme_file *f, char *dst, uint32_t len, uint64_t off)
{
    struct homi_nvme_client *c = f->c;
    struct homi_nvme_owner *o = c->o;
    struct homi_pt_piece one, *p = &one;
    size_t n = 1;
    if (f->map_valid) {
        n = homi_pt_plan(&f->map, &f->g, off, len, NULL, 0);
        p = malloc(n * sizeof *p);
        if (!p) return HOMI_ENOMEM;
        n = homi_pt_plan(&f->map, &f->g, off, len, p, n);
    } else {
        memset(&one, 0, sizeof one);
        one.kind = HOMI_PT_KERNEL;
        one.reason = HOMI_FB_MAP_FAILED;
        one.foff = off;
        one.len = len;
    }
    uint64_t seen = f->seen;
    struct stat st0 = f->st;
    for (size_t i = 0; i < n; i++) {
        if (p[i].kind != HOMI_PT_NVME && p[i].kind != HOMI_PT_BOUNCE) continue;
        homi_deleg_count(o, ST_CMDS_BUILT, 1);
        if (homi_pt_check(&f->map, &f->g, &p[i])) {
            homi_deleg_count(o, ST_CMDS_REJECTED, 1);
            homi_log(HOMI_LOG_ERROR, "nvme: command for %u bytes at %llu failed the map check",
                     p[i].len, (unsigned long long)p[i].foff);
            p[i].kind = HOMI_PT_KERNEL;
            p[i].reason = HOMI_FB_EXTENT_UNSAFE;
        }
    }
    struct chunk_acct a = {0, 0, 0, 0};
    int err = 0, redo = 0;
    unsigned inflight = 0;
    size_t next = 0;
    uint64_t deadline = 0;
    while ((next < n || inflight) && !err) {
        int queued = 0;
        while (next < n && !err) {
            struct homi_pt_piece *q = &p[next];
            if (q->kind == HOMI_PT_NVME || q->kind == HOMI_PT_BOUNCE) {
                if (!c->nfree) break;
                if (queue_piece(f, q, (int)next, dst) == 0) {
                    queued = 1;
                    inflight++;
                    next++;
                    continue;
                }
                homi_deleg_count(o, ST_CMDS_REJECTED, 1);
                q->kind = HOMI_PT_KERNEL;
                q->reason = HOMI_FB_EXTENT_UNSAFE;
            }
            if (q->kind == HOMI_PT_ZERO) {
                memset(dst + q->dst_off, 0, q->len);
                a.zero += q->len;
            } else { /* HOMI_PT_KERNEL */
                if (q->reason == HOMI_FB_EXTENT_UNSAFE) homi_deleg_count(o, ST_FB_UNSAFE, 1);
                int r = pread_all(f->fd, dst + q->dst_off, q->len, q->foff);
                if (r < 0) err = r;
                if (r > 0) redo = 1;
                a.kernel += q->len;
            }
            next++;
        }
        if (queued) {
            homi_nvq_ring_sq(&c->q);
            deadline = homi_now_ns() + (uint64_t)o->ctrl.timeout_ms * 1000000u;
        }
        if (!inflight) continue;
        struct homi_nvme_cqe cqe;
        int got = 0;
        while (homi_nvq_poll(&c->q, &cqe)) {
            got = 1;
            unsigned s = homi_nvme_cqe_cid(&cqe);
            if (s >= c->nslots || c->slot_piece[s] < 0) {
                homi_log(HOMI_LOG_ERROR, "nvme: completion for unknown command id %u", s);
                continue;
            }
            struct homi_pt_piece *q = &p[c->slot_piece[s]];
            unsigned status = homi_nvme_cqe_status(&cqe);
            if (status == 0) {
                if (c->slot_direct[s]) {
                    a.direct += q->len; /* already in place */
                } else {
                    const char *src = (const char *)c->slots.va + (size_t)s * o->max_xfer + q->skip;
                    memcpy(dst + q->dst_off, src, q->len);
                }
                a.nvme += q->len;
                homi_deleg_count(o, ST_CMDS_COMPLETED, 1);
            } else {
                homi_deleg_count(o, ST_CMD_ERRORS, 1);
                homi_log(HOMI_LOG_INFO,
                         "nvme: read of %u LBAs at %llu: status 0x%x; using the file system",
                         q->nlb, (unsigned long long)q->slba, status);
                int r = pread_all(f->fd, dst + q->dst_off, q->len, q->foff);
                if (r < 0) err = r;
                if (r > 0) redo = 1;
                a.kernel += q->len;
            }
            c->slot_piece[s] = -1;
            c->free_slots[c->nfree++] = (int)s;
            inflight--;
        }
        if (got) {
            homi_nvq_ring_cq(&c->q);
            deadline = homi_now_ns() + (uint64_t)o->ctrl.timeout_ms * 1000000u;
        } else if (homi_now_ns() > deadline) {
            homi_log(HOMI_LOG_ERROR, "nvme %s: queue %u: %u command(s) timed out after %u ms",
                     o->ctrl.vf.bdf, c->qid, inflight, o->ctrl.timeout_ms);
            c->dead = 1;
            err = HOMI_ETIMEDOUT;
        }
    }
    if (p != &one) free(p);
    if (err) return err;
    /* Did the file change while the commands were in flight?  Then the
     * blocks read may no longer be the file's: read it all again through
     * the file system. */
    struct stat st;
    if (redo || changes(f) != seen || fstat(f->fd, &st) || !same_stat(&st, &st0)) {
        homi_deleg_count(o, ST_FB_CHANGED, 1);
        f->map_valid = 0;
        int r = pread_all(f->fd, dst, len, off);
        if (r) return r < 0 ? r : HOMI_EIO;
        homi_deleg_count(o, ST_BYTES_KERNEL, len);
        return 0;
    }
    homi_deleg_count(o, ST_BYTES_NVME, a.nvme);
    homi_deleg_count(o, ST_BYTES_KERNEL, a.kernel);
    homi_deleg_count(o, ST_BYTES_ZERO, a.zero);
    homi_deleg_count(o, ST_BYTES_DIRECT, a.direct);
    return 0;
}

int64_t homi_nvme_read(homi_nvme_file *f, void *dst, size_t len, uint64_t off)
{
    if (!f || (!dst && len)) return HOMI_EINVAL;
    struct homi_nvme_client *c = f->c;
    struct homi_nvme_owner *o = c->o;
    if (c->dead) return HOMI_EIO;
    if (len > (uint64_t)INT64_MAX || off > (uint64_t)INT64_MAX - len) {
        homi_deleg_count(o, ST_REFUSED, 1);
        return HOMI_ERANGE;
    }
    int rc = refresh_map(f);
    if (rc) return rc;
    if (off + len > f->map.file_size) { /* outside the file: no command is built */
        homi_deleg_count(o, ST_REFUSED, 1);
        HOMI_DEBUG("nvme: read of %zu bytes at %llu refused: file size %llu", len,
                   (unsigned long long)off, (unsigned long long)f->map.file_size);
        return HOMI_ERANGE;
    }
    homi_deleg_count(o, ST_READS, 1);
    size_t done = 0;
    while (done < len) {
        uint32_t n = len - done > CHUNK ? CHUNK : (uint32_t)(len - done);
        if (done && (rc = refresh_map(f))) return rc;
        if (off + done + n > f->map.file_size) return HOMI_ERANGE; /* shrank meanwhile */
        rc = read_chunk(f, (char *)dst + done, n, off + done);
        if (rc) return rc;
        done += n;
    }
    return (int64_t)len;
}
