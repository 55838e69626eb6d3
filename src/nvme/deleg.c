/* deleg.c - the control-plane role of hardware-assisted delegation
 * (include/homi_nvme.h, docs/delegation.md): the owner holds the delegated
 * controller and its admin queue and provisions I/O queue pairs; a client
 * holds one I/O queue pair; a file is admitted after the subsystem, NSID,
 * LBA size, file system and descriptor checks.  The reads themselves are
 * in deleg_read.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "cplane/blkdev.h"
#include "homi.h"
#include "nvme/deleg_int.h"

static unsigned env_or(unsigned v, const char *name, unsigned dflt)
{
    if (v) return v;
    const char *s = getenv(name);
    if (s && *s) {
        char *end;
        unsigned long x = strtoul(s, &end, 0);
        if (*end == 0 && x > 0 && x < (1ul << 31)) return (unsigned)x;
        homi_log(HOMI_LOG_WARN, "%s=%s ignored (not a positive number)", name, s);
    }
    return dflt;
}

/* ---------------------------------------------------------------- owner */

int homi_nvme_owner_open(const char *bdf, const struct homi_nvme_opts *opts, homi_nvme_owner **out,
                         char *why, size_t wl)
{
    static const struct homi_nvme_opts none;
    if (!opts) opts = &none;
    if (!bdf || !out) {
        snprintf(why, wl, "no PCI address");
        return HOMI_EINVAL;
    }
    *out = NULL;
    struct homi_nvme_owner *o = calloc(1, sizeof *o);
    if (!o) return HOMI_ENOMEM;
    unsigned nq = env_or(opts->queues, "HOMI_NVME_QUEUES", 4);
    unsigned depth = env_or(opts->depth, "HOMI_NVME_QD", 32);
    unsigned xfer = env_or(opts->max_xfer, "HOMI_NVME_MAX_XFER", 128u << 10);
    unsigned tmo = env_or(opts->timeout_ms, "HOMI_NVME_TIMEOUT_MS", 10000);
    if (nq > MAX_QUEUES) nq = MAX_QUEUES;
    int rc = homi_nvme_ctrl_open(&o->ctrl, bdf, nq, tmo, why, wl);
    if (rc) {
        free(o);
        return rc;
    }
    o->nq = nq < o->ctrl.nsq ? nq : o->ctrl.nsq;
    if (o->nq > o->ctrl.ncq) o->nq = o->ctrl.ncq;
    if (depth > o->ctrl.mqes) depth = o->ctrl.mqes;
    if (depth > 1024) depth = 1024;
    if (depth < 2) depth = 2;
    o->depth = depth;
    if (o->ctrl.mdts_bytes && xfer > o->ctrl.mdts_bytes) xfer = o->ctrl.mdts_bytes;
    if (xfer > (2u << 20)) xfer = 2u << 20; /* one PRP list page */
    xfer &= ~(HOMI_NVME_PAGE - 1);
    if (xfer < HOMI_NVME_PAGE) xfer = HOMI_NVME_PAGE;
    o->max_xfer = xfer;
    if ((rc = homi_watcher_create(&o->watcher))) o->watcher = NULL; /* fstat only */
    pthread_mutex_init(&o->lock, NULL);
    homi_log(HOMI_LOG_INFO,
             "nvme %s: delegated: %u I/O queue pair(s) of %u entries, %u KiB per command", bdf,
             o->nq, o->depth, o->max_xfer >> 10);
    *out = o;
    return 0;
}

void homi_nvme_owner_close(homi_nvme_owner *o)
{
    if (!o) return;
    while (o->clients) {
        homi_log(HOMI_LOG_WARN, "nvme %s: closing client on queue %u left open", o->ctrl.vf.bdf,
                 o->clients->qid);
        homi_nvme_client_close(o->clients);
    }
    for (unsigned i = 0; i < o->nregs; i++)
        homi_vfio_dma_unmap(&o->ctrl.vf, o->regs[i].iova, o->regs[i].size);
    homi_nvme_ctrl_close(&o->ctrl);
    if (o->watcher) homi_watcher_destroy(o->watcher);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

int homi_nvme_owner_info(homi_nvme_owner *o, struct homi_nvme_info *in)
{
    if (!o || !in) return HOMI_EINVAL;
    memset(in, 0, sizeof *in);
    snprintf(in->model, sizeof in->model, "%s", o->ctrl.mn);
    snprintf(in->serial, sizeof in->serial, "%s", o->ctrl.sn);
    snprintf(in->subnqn, sizeof in->subnqn, "%s", o->ctrl.subnqn);
    in->cntlid = o->ctrl.cntlid;
    in->io_queues = o->nq;
    in->depth = o->depth;
    in->max_xfer = o->max_xfer;
    in->mdts_bytes = o->ctrl.mdts_bytes;
    in->nns = o->ctrl.nns;
    return 0;
}

void homi_nvme_stats_get(homi_nvme_owner *o, struct homi_nvme_stats *s)
{
    memset(s, 0, sizeof *s);
    if (!o) return;
    s->reads = atomic_load(&o->st[ST_READS]);
    s->refused = atomic_load(&o->st[ST_REFUSED]);
    s->cmds_built = atomic_load(&o->st[ST_CMDS_BUILT]);
    s->cmds_rejected = atomic_load(&o->st[ST_CMDS_REJECTED]);
    s->cmds_completed = atomic_load(&o->st[ST_CMDS_COMPLETED]);
    s->cmd_errors = atomic_load(&o->st[ST_CMD_ERRORS]);
    s->bytes_nvme = atomic_load(&o->st[ST_BYTES_NVME]);
    s->bytes_kernel = atomic_load(&o->st[ST_BYTES_KERNEL]);
    s->bytes_zero = atomic_load(&o->st[ST_BYTES_ZERO]);
    s->fb_unsafe = atomic_load(&o->st[ST_FB_UNSAFE]);
    s->fb_changed = atomic_load(&o->st[ST_FB_CHANGED]);
    s->map_builds = atomic_load(&o->st[ST_MAP_BUILDS]);
    s->admin_cmds = atomic_load(&o->ctrl.admin_count);
    s->qid_refused = atomic_load(&o->st[ST_QID_REFUSED]);
    s->bytes_direct = atomic_load(&o->st[ST_BYTES_DIRECT]);
}

/* ---------------------------------------------------------------- destinations */

int homi_nvme_register(homi_nvme_owner *o, void *buf, size_t len)
{
    if (!o || !buf || !len) return HOMI_EINVAL;
    uintptr_t a = (uintptr_t)buf & ~(uintptr_t)(HOMI_NVME_PAGE - 1);
    uintptr_t b = ((uintptr_t)buf + len + HOMI_NVME_PAGE - 1) & ~(uintptr_t)(HOMI_NVME_PAGE - 1);
    if (b <= a) return HOMI_ERANGE;
    pthread_mutex_lock(&o->lock);
    for (unsigned i = 0; i < o->nregs; i++)
        if (a < (uintptr_t)o->regs[i].va + o->regs[i].size && (uintptr_t)o->regs[i].va < b) {
            pthread_mutex_unlock(&o->lock);
            return HOMI_EBUSY; /* overlaps a registration */
        }
    if (o->nregs == MAX_REGS) {
        pthread_mutex_unlock(&o->lock);
        return HOMI_EBUSY;
    }
    uint64_t iova;
    int rc = homi_vfio_dma_map(&o->ctrl.vf, (void *)a, b - a, &iova);
    if (!rc) {
        struct homi_deleg_reg *r = &o->regs[o->nregs++];
        r->va = (char *)a;
        r->size = b - a;
        r->user = buf;
        r->iova = iova;
    }
    pthread_mutex_unlock(&o->lock);
    return rc;
}

int homi_nvme_unregister(homi_nvme_owner *o, void *buf)
{
    if (!o || !buf) return HOMI_EINVAL;
    pthread_mutex_lock(&o->lock);
    for (unsigned i = 0; i < o->nregs; i++)
        if (o->regs[i].user == buf) {
            homi_vfio_dma_unmap(&o->ctrl.vf, o->regs[i].iova, o->regs[i].size);
            o->regs[i] = o->regs[--o->nregs];
            pthread_mutex_unlock(&o->lock);
            return 0;
        }
    pthread_mutex_unlock(&o->lock);
    return HOMI_ENOENT;
}

/* ---------------------------------------------------------------- clients */

int homi_nvme_client_open(homi_nvme_owner *o, int qid, homi_nvme_client **out)
{
    if (!o || !out) return HOMI_EINVAL;
    *out = NULL;
    if (qid == 0) { /* the admin queue stays with the owner */
        homi_deleg_count(o, ST_QID_REFUSED, 1);
        homi_log(HOMI_LOG_WARN, "nvme %s: client asked for queue 0 (admin): refused",
                 o->ctrl.vf.bdf);
        return HOMI_EACCES;
    }
    if (qid != HOMI_NVME_QID_ANY && (qid < 0 || (unsigned)qid > o->nq)) {
        homi_deleg_count(o, ST_QID_REFUSED, 1);
        return HOMI_ERANGE;
    }
    pthread_mutex_lock(&o->lock);
    if (qid == HOMI_NVME_QID_ANY) {
        for (unsigned i = 1; i <= o->nq; i++)
            if (!o->qused[i]) {
                qid = (int)i;
                break;
            }
        if (qid == HOMI_NVME_QID_ANY) {
            pthread_mutex_unlock(&o->lock);
            homi_deleg_count(o, ST_QID_REFUSED, 1);
            return HOMI_EBUSY;
        }
    } else if (o->qused[qid]) {
        pthread_mutex_unlock(&o->lock);
        homi_deleg_count(o, ST_QID_REFUSED, 1);
        return HOMI_EBUSY;
    }
    o->qused[qid] = 1;
    pthread_mutex_unlock(&o->lock);

    struct homi_nvme_client *c = calloc(1, sizeof *c);
    int rc = HOMI_ENOMEM;
    if (!c) goto fail_q;
    c->o = o;
    c->qid = (uint16_t)qid;
    c->nslots = o->depth - 1;
    c->slot_piece = malloc(c->nslots * sizeof(int));
    c->free_slots = malloc(c->nslots * sizeof(int));
    c->slot_direct = calloc(c->nslots, 1);
    if (!c->slot_piece || !c->free_slots || !c->slot_direct) goto fail;
    for (unsigned s = 0; s < c->nslots; s++) {
        c->slot_piece[s] = -1;
        c->free_slots[s] = (int)(c->nslots - 1 - s);
    }
    c->nfree = c->nslots;
    if ((rc = homi_vfio_dma_alloc(&o->ctrl.vf, (size_t)o->depth * HOMI_NVME_SQE_BYTES, &c->sqm)) ||
        (rc = homi_vfio_dma_alloc(&o->ctrl.vf, (size_t)o->depth * HOMI_NVME_CQE_BYTES, &c->cqm)) ||
        (rc = homi_vfio_dma_alloc(&o->ctrl.vf, (size_t)c->nslots * (o->max_xfer + HOMI_NVME_PAGE),
                                  &c->slots)))
        goto fail;
    homi_nvq_init(&c->q, c->qid, (uint16_t)o->depth, c->sqm.va, c->cqm.va, c->sqm.iova, c->cqm.iova,
                  o->ctrl.vf.bar0, o->ctrl.dstrd);
    int st = homi_nvme_create_qpair(&o->ctrl, c->qid, (uint16_t)o->depth, &c->sqm, &c->cqm);
    if (st) {
        homi_log(HOMI_LOG_ERROR, "nvme %s: creating I/O queue %u failed (status %d)",
                 o->ctrl.vf.bdf, c->qid, st);
        rc = st < 0 ? st : HOMI_EIO;
        goto fail;
    }
    pthread_mutex_lock(&o->lock);
    c->next = o->clients;
    o->clients = c;
    pthread_mutex_unlock(&o->lock);
    *out = c;
    return 0;
fail:
    if (c) {
        homi_vfio_dma_free(&o->ctrl.vf, &c->slots);
        homi_vfio_dma_free(&o->ctrl.vf, &c->cqm);
        homi_vfio_dma_free(&o->ctrl.vf, &c->sqm);
        free(c->slot_piece);
        free(c->free_slots);
        free(c->slot_direct);
        free(c);
    }
fail_q:
    pthread_mutex_lock(&o->lock);
    o->qused[qid] = 0;
    pthread_mutex_unlock(&o->lock);
    return rc;
}

int homi_nvme_client_qid(const homi_nvme_client *c)
{
    return c ? c->qid : HOMI_EINVAL;
}

void homi_nvme_client_close(homi_nvme_client *c)
{
    if (!c) return;
    struct homi_nvme_owner *o = c->o;
    while (c->files)
        homi_nvme_file_close(c->files);
    int st = homi_nvme_delete_qpair(&o->ctrl, c->qid);
    if (st)
        homi_log(HOMI_LOG_ERROR, "nvme %s: deleting I/O queue %u failed (status %d)",
                 o->ctrl.vf.bdf, c->qid, st);
    if (!st || !c->dead) { /* the controller no longer writes into them */
        homi_vfio_dma_free(&o->ctrl.vf, &c->slots);
        homi_vfio_dma_free(&o->ctrl.vf, &c->cqm);
        homi_vfio_dma_free(&o->ctrl.vf, &c->sqm);
    } /* else: left mapped until the controller is shut down */
    pthread_mutex_lock(&o->lock);
    for (struct homi_nvme_client **p = &o->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    o->qused[c->qid] = 0;
    pthread_mutex_unlock(&o->lock);
    free(c->slot_piece);
    free(c->free_slots);
    free(c->slot_direct);
    free(c);
}

/* ---------------------------------------------------------------- files */

/* Subsystem NQN of the NVMe disk (a multipath head or a namespace of one
 * controller): the subsysnqn attribute of its parent in sysfs. */
static int disk_subnqn(const char *disk, char *out, size_t len)
{
    char p[PATH_MAX], real[PATH_MAX];
    snprintf(p, sizeof p, "/sys/block/%s", disk);
    if (!realpath(p, real)) return -1;
    char *slash = strrchr(real, '/');
    if (!slash) return -1;
    *slash = 0;
    snprintf(p, sizeof p, "%s/subsysnqn", real);
    FILE *f = fopen(p, "re");
    if (!f) return -1;
    char *r = fgets(out, (int)len, f);
    fclose(f);
    if (!r) return -1;
    size_t l = strcspn(out, "\n");
    while (l && out[l - 1] == ' ')
        l--;
    out[l] = 0;
    return 0;
}

int homi_nvme_file_open(homi_nvme_client *c, int fd, homi_nvme_file **out, char *why, size_t wl)
{
    if (!c || !out || fd < 0) {
        snprintf(why, wl, "bad argument");
        return HOMI_EINVAL;
    }
    *out = NULL;
    struct homi_nvme_owner *o = c->o;
    struct stat st;
    if (fstat(fd, &st)) {
        snprintf(why, wl, "fstat: %s", strerror(errno));
        return HOMI_EBADF;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, wl, "not a regular file");
        return HOMI_ENOTREG;
    }
    /* the descriptor is the client's proof that it may read the file: it
     * must be open for reading (not O_WRONLY, not O_PATH) */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY) {
        snprintf(why, wl, "descriptor not open for reading");
        return HOMI_EBADF;
    }
    struct homi_blkdev b;
    int rc = homi_blkdev_from_fd(fd, &b);
    if (rc) {
        snprintf(why, wl, "cannot identify the block device: %s", strerror(-rc));
        return HOMI_ENOTSUP;
    }
    if (b.kind != HOMI_BLK_NVME) {
        snprintf(why, wl, "%s", b.why_not[0] ? b.why_not : "not on an NVMe namespace");
        return HOMI_ENOTSUP;
    }
    if (homi_pt_fs_check(fd, b.fstype, why, wl)) return HOMI_ENOTSUP;
    char nqn[300];
    if (disk_subnqn(b.disk, nqn, sizeof nqn)) {
        snprintf(why, wl, "%s: subsystem NQN unknown", b.disk);
        return HOMI_ENOTSUP;
    }
    if (strcmp(nqn, o->ctrl.subnqn) != 0) {
        snprintf(why, wl, "%s is in subsystem %s, the delegated controller in %s", b.disk, nqn,
                 o->ctrl.subnqn);
        return HOMI_ENOTSUP;
    }
    const struct homi_nvme_nsinfo *ns = homi_nvme_ctrl_ns(&o->ctrl, b.nsid);
    if (!ns) {
        snprintf(why, wl, "namespace %u is not attached to the delegated controller", b.nsid);
        return HOMI_ENOTSUP;
    }
    if (ns->lba != b.logical_block || b.part_start % ns->lba || ns->lba > o->max_xfer) {
        snprintf(why, wl, "namespace %u: LBA %u B (kernel: %u B), partition start %llu", b.nsid,
                 ns->lba, b.logical_block, (unsigned long long)b.part_start);
        return HOMI_ENOTSUP;
    }
    struct homi_nvme_file *f = calloc(1, sizeof *f);
    if (!f) return HOMI_ENOMEM;
    f->c = c;
    f->fd = fd;
    f->nsid = b.nsid;
    f->g.part_start = b.part_start;
    f->g.ns_bytes = ns->ns_bytes;
    f->g.lba = ns->lba;
    f->g.max_cmd = o->max_xfer;
    f->w = o->watcher ? homi_watch_add(o->watcher, fd) : NULL;
    f->next = c->files;
    c->files = f;
    *out = f;
    return 0;
}

void homi_nvme_file_close(homi_nvme_file *f)
{
    if (!f) return;
    struct homi_nvme_client *c = f->c;
    for (struct homi_nvme_file **p = &c->files; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    if (f->w) homi_watch_release(c->o->watcher, f->w);
    homi_extmap_free(&f->map);
    free(f);
}
