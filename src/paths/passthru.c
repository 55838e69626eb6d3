/* passthru.c - the user-space-managed path: NVMe Read commands built from
 * a file's extent map, sent with IORING_OP_URING_CMD to the generic char
 * device (/dev/ngXnY) of the kernel-owned controller.
 *
 * Each worker owns an SQE128/CQE32 ring.  A chunk becomes a job: under the
 * file's map lock the map is refreshed (built with FIEMAP_FLAG_SYNC so no
 * dirty page is newer than the disk), the range is planned
 * (passthru_plan.c) and every command is checked against the map.  Holes
 * are zero-filled, ranges that are not safe to read raw are read through
 * the file system on the same ring (IORING_OP_READ), counted with their
 * reason.  When the last piece completes, the file is checked for changes
 * since the map was built (inotify + stat); if it changed, the chunk is
 * read again through the file system, so a raw read never returns blocks
 * that stopped belonging to the file while it was in flight. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/errors.h"
#include "core/log.h"
#include "cplane/blkdev.h"
#include "cplane/nvme_ident.h"
#include "paths/inbox.h"
#include "paths/passthru_plan.h"
#include "paths/path.h"

#define NVME_CMD_READ 0x02
#define BOUNCE_SIZE 4096u /* one LBA of the largest supported format */

/* One namespace (generic char device), shared by the files on it. */
struct pt_ns {
    char dev[64];
    int fd;
    unsigned refs;
    struct homi_nvme_ident id;
    struct pt_ns *next;
};

/* Per-file state (f->path_priv[HOMI_PATH_PASSTHRU]) when usable. */
struct pt_file {
    struct pt_ns *ns;
    struct homi_pt_geom g;
};

struct pt_job;
struct pt_run { /* run-time state of one piece */
    struct pt_job *job;
    uint32_t done; /* KERNEL: bytes read so far */
    int slot;      /* BOUNCE: bounce slot, or -1 */
};

struct pt_job {
    struct homi_chunk *c;
    struct pt_file *pf;
    size_t n, sub; /* pieces, next to submit */
    unsigned out;  /* pieces in flight        */
    int redo;      /* re-read through the file system at the end */
    int err;
    uint64_t seen; /* change counter and stat when planned */
    struct stat st;
    uint64_t bytes[HOMI_PATH_COUNT];
    unsigned cmds;
    struct pt_job *link; /* worker's list of jobs with pieces to submit */
    struct homi_pt_piece *p;
    struct pt_run *r;
};

struct ptpath;
struct ptworker {
    struct ptpath *pp;
    pthread_t th;
    int started;
    struct io_uring ring;
    int ring_ok;
    struct homi_inbox in;                 /* chunks from submitters, eventfd wake-up */
    struct pt_job *jobs_head, *jobs_tail; /* with pieces left to submit */
    unsigned inflight;
    char *bounce;
    int *free_slots;
    unsigned nfree;
};

struct ptpath {
    struct homi_engine *eng;
    unsigned n, qd;
    struct ptworker *w;
    atomic_uint rr;
    atomic_int stop;
    pthread_mutex_t ns_lock;
    struct pt_ns *ns_list;
};

/* ---------------------------------------------------------------- jobs */

static void job_finish(struct ptworker *w, struct pt_job *j)
{
    struct homi_chunk *c = j->c;
    struct homi_fh *f = c->op->file;
    int changed = 0;
    if (!j->err) {
        pthread_mutex_lock(&f->map_lock);
        changed = j->redo || homi_file_changed_since(f, j->seen, &j->st);
        pthread_mutex_unlock(&f->map_lock);
    }
    if (changed) {
        /* Something changed while the commands were in flight (or a piece
         * could not be completed): what was read may be blocks the file no
         * longer owns.  Read the whole chunk again through the file system. */
        homi_fh_fallback(f, HOMI_FB_CHANGED_IN_FLIGHT);
        HOMI_DEBUG("passthru: %s changed during a raw read: re-reading %u bytes at %llu", f->path,
                   c->len, (unsigned long long)c->off);
        uint64_t t0 = homi_now_ns();
        uint32_t got = 0;
        int err = 0;
        while (got < c->len) {
            ssize_t r = pread(f->fd, c->dst + got, c->len - got, (off_t)(c->off + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                err = homi_err_from_errno(errno);
                break;
            }
            if (r == 0) break;
            got += (uint32_t)r;
        }
        if (err) {
            homi_chunk_complete(c, err);
            return;
        }
        homi_fh_account(f, HOMI_PATH_KERNEL, got, homi_now_ns() - t0);
        c->acct_other = got;
        c->other_mask = 1u << HOMI_PATH_KERNEL;
        homi_chunk_complete(c, got);
        return;
    }
    if (j->err) {
        homi_chunk_complete(c, j->err);
        return;
    }
    /* the chunk is accounted to passthrough (or, with no raw bytes, to the
     * kernel path or holes); the other paths' bytes are accounted here */
    uint64_t ns = homi_now_ns() - c->t0;
    c->path = j->bytes[HOMI_PATH_PASSTHRU] ? HOMI_PATH_PASSTHRU
              : j->bytes[HOMI_PATH_KERNEL] ? HOMI_PATH_KERNEL
                                           : HOMI_PATH_HOLE;
    uint32_t other = 0;
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        if (p == c->path || !j->bytes[p]) continue;
        homi_fh_account(f, p, j->bytes[p], ns);
        other += (uint32_t)j->bytes[p];
        c->other_mask |= 1u << p;
    }
    c->acct_other = other;
    atomic_fetch_add(&f->stats.nvme_cmds, j->cmds);
    atomic_fetch_add(&f->eng->stats.nvme_cmds, j->cmds);
    (void)w;
    homi_chunk_complete(c, c->len);
}

/* Plan chunk c into a job; NULL when out of memory (then c is completed). */
static struct pt_job *job_new(struct homi_chunk *c)
{
    struct homi_fh *f = c->op->file;
    struct pt_file *pf = f->path_priv[HOMI_PATH_PASSTHRU];
    pthread_mutex_lock(&f->map_lock);
    homi_file_refresh_map(f);
    size_t n = 1;
    struct homi_pt_piece one;
    int mapped = f->map_valid;
    if (mapped) n = homi_pt_plan(&f->map, &pf->g, c->off, c->len, NULL, 0);
    struct pt_job *j =
        calloc(1, sizeof *j + n * (sizeof(struct homi_pt_piece) + sizeof(struct pt_run)));
    if (!j) {
        pthread_mutex_unlock(&f->map_lock);
        homi_chunk_complete(c, HOMI_ENOMEM);
        return NULL;
    }
    j->c = c;
    j->pf = pf;
    j->p = (struct homi_pt_piece *)(j + 1);
    j->r = (struct pt_run *)(j->p + n);
    if (mapped) {
        j->n = homi_pt_plan(&f->map, &pf->g, c->off, c->len, j->p, n);
        /* the check every command passes before it may be submitted */
        for (size_t i = 0; i < j->n; i++) {
            struct homi_pt_piece *p = &j->p[i];
            if ((p->kind == HOMI_PT_NVME || p->kind == HOMI_PT_BOUNCE) &&
                homi_pt_check(&f->map, &pf->g, p)) {
                homi_log(HOMI_LOG_ERROR,
                         "passthru: %s: command for %u bytes at %llu failed the map check; "
                         "reading it through the file system",
                         f->path, p->len, (unsigned long long)p->foff);
                p->kind = HOMI_PT_KERNEL;
                p->reason = HOMI_FB_EXTENT_UNSAFE;
            }
        }
    } else {
        memset(&one, 0, sizeof one);
        one.kind = HOMI_PT_KERNEL;
        one.reason = HOMI_FB_MAP_FAILED;
        one.foff = c->off;
        one.len = c->len;
        j->p[0] = one;
        j->n = 1;
    }
    j->seen = f->map_seen;
    j->st = f->map_st;
    pthread_mutex_unlock(&f->map_lock);
    for (size_t i = 0; i < j->n; i++) {
        j->r[i].job = j;
        j->r[i].slot = -1;
        if (j->p[i].kind == HOMI_PT_KERNEL) homi_fh_fallback(f, j->p[i].reason);
    }
    return j;
}

static void piece_done(struct ptworker *w, struct pt_job *j)
{
    j->out--;
    if (!j->out && j->sub == j->n) {
        job_finish(w, j);
        free(j);
    }
}

/* ---------------------------------------------------------------- ring */

static void prep_nvme(struct io_uring_sqe *sqe, int fd, unsigned nsid, void *buf, uint64_t slba,
                      uint32_t nlb, unsigned lba)
{
    memset(sqe, 0, 128);
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd;
    sqe->cmd_op = NVME_URING_CMD_IO;
    struct nvme_uring_cmd *cmd = (struct nvme_uring_cmd *)sqe->cmd;
    cmd->opcode = NVME_CMD_READ;
    cmd->nsid = nsid;
    cmd->addr = (uint64_t)(uintptr_t)buf;
    cmd->data_len = nlb * lba;
    cmd->cdw10 = (uint32_t)slba;
    cmd->cdw11 = (uint32_t)(slba >> 32);
    cmd->cdw12 = nlb - 1;
}

/* Submit piece i of j.  Returns 1 when submitted or completed at once,
 * 0 when it must wait (no SQE / no bounce slot). */
static int submit_piece(struct ptworker *w, struct pt_job *j, size_t i)
{
    struct homi_pt_piece *p = &j->p[i];
    struct pt_run *r = &j->r[i];
    struct homi_chunk *c = j->c;
    struct homi_fh *f = c->op->file;
    if (p->kind == HOMI_PT_ZERO) {
        memset(c->dst + p->dst_off, 0, p->len);
        j->bytes[HOMI_PATH_HOLE] += p->len;
        return 1;
    }
    if (p->kind == HOMI_PT_BOUNCE && r->slot < 0) {
        if (!w->nfree) return 0;
        r->slot = w->free_slots[--w->nfree];
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (!sqe) {
        io_uring_submit(&w->ring);
        if (!(sqe = io_uring_get_sqe(&w->ring))) {
            if (r->slot >= 0) w->free_slots[w->nfree++] = r->slot, r->slot = -1;
            return 0;
        }
    }
    const struct pt_ns *ns = j->pf->ns;
    switch (p->kind) {
    case HOMI_PT_NVME:
        prep_nvme(sqe, ns->fd, ns->id.nsid, c->dst + p->dst_off, p->slba, p->nlb, ns->id.lba);
        break;
    case HOMI_PT_BOUNCE:
        prep_nvme(sqe, ns->fd, ns->id.nsid, w->bounce + (size_t)r->slot * BOUNCE_SIZE, p->slba, 1,
                  ns->id.lba);
        break;
    default: /* HOMI_PT_KERNEL: through the file system */
        memset(sqe, 0, 128);
        io_uring_prep_read(sqe, f->fd, c->dst + p->dst_off + r->done, p->len - r->done,
                           p->foff + r->done);
        break;
    }
    io_uring_sqe_set_data(sqe, r);
    j->out++;
    w->inflight++;
    return 1;
}

static void on_cqe(struct ptworker *w, struct pt_run *r, int res)
{
    struct pt_job *j = r->job;
    size_t i = (size_t)(r - j->r);
    struct homi_pt_piece *p = &j->p[i];
    struct homi_chunk *c = j->c;
    struct homi_fh *f = c->op->file;
    w->inflight--;
    if (p->kind == HOMI_PT_NVME || p->kind == HOMI_PT_BOUNCE) {
        if (res == 0) {
            if (p->kind == HOMI_PT_BOUNCE)
                memcpy(c->dst + p->dst_off, w->bounce + (size_t)r->slot * BOUNCE_SIZE + p->skip,
                       p->len);
            j->bytes[HOMI_PATH_PASSTHRU] += p->len;
            j->cmds++;
        } else {
            /* NVMe status (> 0) or errno (< 0): read it through the file
             * system instead, counted */
            homi_fh_fallback(f, HOMI_FB_PASSTHRU_ERROR);
            homi_log(HOMI_LOG_INFO,
                     "passthru: %s: read of %u LBAs at %llu failed (%s %d); "
                     "using the kernel path",
                     f->path, p->nlb, (unsigned long long)p->slba,
                     res > 0 ? "NVMe status" : "errno", res > 0 ? res : -res);
            p->kind = HOMI_PT_KERNEL;
            r->done = 0;
            if (r->slot >= 0) w->free_slots[w->nfree++] = r->slot;
            r->slot = -1;
            j->out--;
            if (!submit_piece(w, j, i)) j->redo = 1; /* rare: whole chunk again */
            if (!j->out && j->sub == j->n) {
                job_finish(w, j);
                free(j);
            }
            return;
        }
        if (r->slot >= 0) w->free_slots[w->nfree++] = r->slot;
        r->slot = -1;
        piece_done(w, j);
        return;
    }
    /* kernel piece */
    if (res == -EAGAIN || res == -EINTR) res = 0, j->redo = 1;
    if (res < 0) {
        if (!j->err) j->err = homi_err_from_errno(-res);
    } else if (res == 0 && r->done < p->len) {
        j->redo = 1; /* end of file inside the chunk: the file shrank */
    } else {
        r->done += (uint32_t)res;
        if (r->done < p->len) { /* short read: continue */
            j->out--;
            if (submit_piece(w, j, i)) return;
            j->redo = 1;
            j->out++;
        } else {
            j->bytes[HOMI_PATH_KERNEL] += p->len;
        }
    }
    piece_done(w, j);
}

static void cqe_done(void *w, void *data, int res)
{
    on_cqe(w, data, res);
}

static void *worker_main(void *arg)
{
    struct ptworker *w = arg;
    struct ptpath *pp = w->pp;
    for (;;) {
        struct homi_chunk *in = homi_inbox_take(&w->in, NULL);
        while (in) {
            struct homi_chunk *c = in;
            in = c->next;
            c->next = NULL;
            struct pt_job *j = job_new(c);
            if (!j) continue;
            if (w->jobs_tail)
                w->jobs_tail->link = j;
            else
                w->jobs_head = j;
            w->jobs_tail = j;
        }
        /* submit pieces in order while there is room */
        while (w->jobs_head && w->inflight < pp->qd) {
            struct pt_job *j = w->jobs_head;
            int stuck = 0;
            while (j->sub < j->n && w->inflight < pp->qd) {
                if (!submit_piece(w, j, j->sub)) {
                    stuck = 1;
                    break;
                }
                j->sub++;
            }
            if (stuck || j->sub < j->n) break; /* no SQE, bounce slot or queue room */
            w->jobs_head = j->link;
            if (!w->jobs_head) w->jobs_tail = NULL;
            j->link = NULL;
            if (!j->out) { /* nothing in flight (holes only, or all done) */
                job_finish(w, j);
                free(j);
            }
        }
        if (atomic_load(&pp->stop) && !w->inflight && !w->jobs_head && homi_inbox_empty(&w->in))
            break;
        homi_inbox_ring_turn(&w->in, &w->ring, 1, 1, "passthru", cqe_done, w);
    }
    return NULL;
}

static struct homi_inbox *inbox_of(void *state, unsigned k)
{
    return &((struct ptpath *)state)->w[k].in;
}

static void pt_submit(void *state, struct homi_chunk **chunks, size_t n)
{
    struct ptpath *pp = state;
    unsigned start = atomic_fetch_add(&pp->rr, (unsigned)n);
    homi_inbox_spread(chunks, n, pp->n, start, inbox_of, pp);
}

/* ---------------------------------------------------------------- files */

/* Why file f cannot use passthrough ("" when it can); fills *pf. */
static int classify(struct ptpath *pp, struct homi_fh *f, struct pt_file *pf, char *why, size_t wl)
{
    struct homi_blkdev b;
    int rc = homi_blkdev_from_fd(f->fd, &b);
    if (rc) {
        snprintf(why, wl, "cannot identify the block device: %s", strerror(-rc));
        return -1;
    }
    if (b.kind != HOMI_BLK_NVME || b.why_not[0]) {
        snprintf(why, wl, "%s", b.why_not[0] ? b.why_not : "not on an NVMe namespace");
        return -1;
    }
    if (homi_pt_fs_check(f->fd, b.fstype, why, wl)) return -1;
    pthread_mutex_lock(&pp->ns_lock);
    struct pt_ns *ns = pp->ns_list;
    while (ns && strcmp(ns->dev, b.generic) != 0)
        ns = ns->next;
    if (!ns) {
        ns = calloc(1, sizeof *ns);
        if (!ns) {
            pthread_mutex_unlock(&pp->ns_lock);
            snprintf(why, wl, "out of memory");
            return -1;
        }
        snprintf(ns->dev, sizeof ns->dev, "%s", b.generic);
        ns->fd = open(b.generic, O_RDONLY | O_CLOEXEC);
        if (ns->fd < 0) {
            snprintf(why, wl, "cannot open %s: %s", b.generic, strerror(errno));
            free(ns);
            pthread_mutex_unlock(&pp->ns_lock);
            return -1;
        }
        if (homi_nvme_identify(ns->fd, b.disk, &ns->id, why, wl)) {
            close(ns->fd);
            free(ns);
            pthread_mutex_unlock(&pp->ns_lock);
            return -1;
        }
        if (ns->id.lba > BOUNCE_SIZE) {
            snprintf(why, wl, "%s: LBA size %u above %u", b.generic, ns->id.lba, BOUNCE_SIZE);
            close(ns->fd);
            free(ns);
            pthread_mutex_unlock(&pp->ns_lock);
            return -1;
        }
        ns->next = pp->ns_list;
        pp->ns_list = ns;
        homi_log(HOMI_LOG_INFO,
                 "passthru: %s nsid %u, LBA %u B, %llu MiB, MDTS %u KiB, %u KiB per command%s",
                 ns->dev, ns->id.nsid, ns->id.lba, (unsigned long long)(ns->id.ns_bytes >> 20),
                 ns->id.mdts_bytes >> 10, ns->id.max_cmd >> 10,
                 ns->id.from_identify ? "" : " (sysfs: no Identify)");
    }
    ns->refs++;
    pthread_mutex_unlock(&pp->ns_lock);
    if (b.part_start % ns->id.lba) {
        snprintf(why, wl, "partition start %llu not LBA aligned", (unsigned long long)b.part_start);
        pthread_mutex_lock(&pp->ns_lock);
        ns->refs--;
        pthread_mutex_unlock(&pp->ns_lock);
        return -1;
    }
    pf->ns = ns;
    pf->g.part_start = b.part_start;
    pf->g.ns_bytes = ns->id.ns_bytes;
    pf->g.lba = ns->id.lba;
    pf->g.max_cmd = ns->id.max_cmd;
    return 0;
}

static int pt_file_open(void *state, struct homi_fh *f)
{
    struct ptpath *pp = state;
    struct pt_file tmp;
    char why[160];
    if (classify(pp, f, &tmp, why, sizeof why)) {
        HOMI_DEBUG("passthru: %s: %s", f->path, why);
        return 0; /* the file is served by the other paths */
    }
    struct pt_file *pf = malloc(sizeof *pf);
    if (!pf) {
        pthread_mutex_lock(&pp->ns_lock);
        tmp.ns->refs--;
        pthread_mutex_unlock(&pp->ns_lock);
        return 0;
    }
    *pf = tmp;
    f->path_priv[HOMI_PATH_PASSTHRU] = pf;
    /* raw reads must see what the page cache holds: write dirty pages
     * back whenever the map is built */
    f->map_sync = 1;
    pthread_mutex_lock(&f->map_lock);
    f->map_valid = 0;
    pthread_mutex_unlock(&f->map_lock);
    return 0;
}

static void pt_file_close(void *state, struct homi_fh *f)
{
    struct ptpath *pp = state;
    struct pt_file *pf = f->path_priv[HOMI_PATH_PASSTHRU];
    if (!pf) return;
    pthread_mutex_lock(&pp->ns_lock);
    pf->ns->refs--; /* namespaces stay open until the engine ends */
    pthread_mutex_unlock(&pp->ns_lock);
    free(pf);
    f->path_priv[HOMI_PATH_PASSTHRU] = NULL;
}

static int pt_file_status(void *state, struct homi_fh *f, char *why, size_t wl)
{
    struct ptpath *pp = state;
    if (f->path_priv[HOMI_PATH_PASSTHRU]) {
        struct pt_file *pf = f->path_priv[HOMI_PATH_PASSTHRU];
        snprintf(why, wl, "%s nsid %u, LBA %u B, partition offset %llu, %u KiB per command",
                 pf->ns->dev, pf->ns->id.nsid, pf->g.lba, (unsigned long long)pf->g.part_start,
                 pf->g.max_cmd >> 10);
        return 1;
    }
    struct pt_file tmp;
    if (classify(pp, f, &tmp, why, wl)) return 0;
    pthread_mutex_lock(&pp->ns_lock); /* usable now, but was not at open */
    tmp.ns->refs--;
    pthread_mutex_unlock(&pp->ns_lock);
    snprintf(why, wl, "usable, but the file was opened before the namespace could be used");
    return 0;
}

/* ---------------------------------------------------------------- engine */

static void pt_fini(void *state)
{
    struct ptpath *pp = state;
    if (!pp) return;
    atomic_store(&pp->stop, 1);
    for (unsigned i = 0; i < pp->n; i++)
        if (pp->w[i].started) {
            homi_inbox_wake(&pp->w[i].in);
            pthread_join(pp->w[i].th, NULL);
        }
    for (unsigned i = 0; i < pp->n; i++) {
        struct ptworker *w = &pp->w[i];
        if (w->ring_ok) io_uring_queue_exit(&w->ring);
        homi_inbox_fini(&w->in);
        if (w->bounce) munmap(w->bounce, (size_t)pp->qd * BOUNCE_SIZE);
        free(w->free_slots);
    }
    for (struct pt_ns *ns = pp->ns_list, *nx; ns; ns = nx) {
        nx = ns->next;
        close(ns->fd);
        free(ns);
    }
    pthread_mutex_destroy(&pp->ns_lock);
    free(pp->w);
    free(pp);
}

static int pt_init(struct homi_engine *eng, void **state, char *why, size_t wl)
{
    struct ptpath *pp = calloc(1, sizeof *pp);
    if (!pp) return HOMI_ENOMEM;
    pp->eng = eng;
    pp->n = eng->cfg.passthru_threads ? eng->cfg.passthru_threads : 1;
    pp->qd = eng->cfg.passthru_qd;
    pthread_mutex_init(&pp->ns_lock, NULL);
    pp->w = calloc(pp->n, sizeof *pp->w);
    if (!pp->w) {
        pthread_mutex_destroy(&pp->ns_lock);
        free(pp);
        return HOMI_ENOMEM;
    }
    int rc = 0;
    for (unsigned i = 0; i < pp->n; i++) {
        struct ptworker *w = &pp->w[i];
        w->pp = pp;
        homi_inbox_prepare(&w->in);
    }
    for (unsigned i = 0; i < pp->n && !rc; i++) {
        struct ptworker *w = &pp->w[i];
        int r = io_uring_queue_init(pp->qd + 8, &w->ring, IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
        if (r < 0) {
            snprintf(why, wl, "io_uring with 128-byte SQEs unavailable (%s): Linux 5.19+ needed",
                     strerror(-r));
            rc = HOMI_ENOTSUP;
            break;
        }
        w->ring_ok = 1;
        int efd_rc = homi_inbox_open(&w->in);
        w->bounce = mmap(NULL, (size_t)pp->qd * BOUNCE_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        w->free_slots = malloc(pp->qd * sizeof(int));
        if (efd_rc < 0 || w->bounce == MAP_FAILED || !w->free_slots) {
            if (w->bounce == MAP_FAILED) w->bounce = NULL;
            snprintf(why, wl, "out of memory or descriptors");
            rc = HOMI_ENOMEM;
            break;
        }
        for (unsigned s = 0; s < pp->qd; s++)
            w->free_slots[s] = (int)s;
        w->nfree = pp->qd;
    }
    for (unsigned i = 0; i < pp->n && !rc; i++) {
        if (pthread_create(&pp->w[i].th, NULL, worker_main, &pp->w[i])) {
            snprintf(why, wl, "pthread_create failed");
            rc = HOMI_ESYS;
        } else {
            pp->w[i].started = 1;
        }
    }
    if (rc) {
        pt_fini(pp);
        return rc;
    }
    *state = pp;
    return 0;
}

const struct homi_path_ops homi_path_passthru_ops = {
    .id = HOMI_PATH_PASSTHRU,
    .name = "passthru",
    .init = pt_init,
    .fini = pt_fini,
    .file_open = pt_file_open,
    .file_close = pt_file_close,
    .submit = pt_submit,
    .file_status = pt_file_status,
};
