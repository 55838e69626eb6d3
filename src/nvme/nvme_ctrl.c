/* nvme_ctrl.c - controller bring-up, admin commands, queue creation and
 * shutdown over vfio-pci (nvme_ctrl.h).  Register layout and command
 * fields from the NVMe base specification 1.4. */
#include "nvme/nvme_ctrl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "homi.h"

/* controller registers (BAR0) */
#define REG_CAP 0x00
#define REG_VS 0x08
#define REG_INTMS 0x0c
#define REG_CC 0x14
#define REG_CSTS 0x1c
#define REG_AQA 0x24
#define REG_ASQ 0x28
#define REG_ACQ 0x30

#define CC_EN 1u
#define CC_IOSQES (6u << 16)
#define CC_IOCQES (4u << 20)
#define CC_SHN_NORMAL (1u << 14)
#define CSTS_RDY 1u
#define CSTS_CFS 2u
#define CSTS_SHST_MASK (3u << 2)
#define CSTS_SHST_DONE (2u << 2)

#define ADMIN_DEPTH 32u

static uint32_t rd32(struct homi_nvme_ctrl *c, unsigned off)
{
    return *(volatile uint32_t *)((volatile uint8_t *)c->vf.bar0 + off);
}
static void wr32(struct homi_nvme_ctrl *c, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)((volatile uint8_t *)c->vf.bar0 + off) = v;
}
static uint64_t rd64(struct homi_nvme_ctrl *c, unsigned off)
{
    return rd32(c, off) | ((uint64_t)rd32(c, off + 4) << 32);
}
static void wr64(struct homi_nvme_ctrl *c, unsigned off, uint64_t v)
{
    wr32(c, off, (uint32_t)v);
    wr32(c, off + 4, (uint32_t)(v >> 32));
}

static void nap(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* Wait until (CSTS & mask) == want; 0, or -1 on timeout / fatal status. */
static int wait_csts(struct homi_nvme_ctrl *c, uint32_t mask, uint32_t want, unsigned ms)
{
    uint64_t end = homi_now_ns() + (uint64_t)ms * 1000000u;
    for (;;) {
        uint32_t s = rd32(c, REG_CSTS);
        if (s == 0xffffffffu) return -1; /* device gone */
        if ((s & mask) == want) return 0;
        if ((s & CSTS_CFS) && want != 0) return -1;
        if (homi_now_ns() > end) return -1;
        nap();
    }
}

int homi_nvme_admin(struct homi_nvme_ctrl *c, struct homi_nvme_sqe *e, uint32_t *dw0)
{
    pthread_mutex_lock(&c->admin_lock);
    uint16_t cid = c->admin_cid++;
    e->dw[0] = (e->dw[0] & 0xffffu) | ((uint32_t)cid << 16);
    if (homi_nvq_push(&c->aq, e) < 0) {
        pthread_mutex_unlock(&c->admin_lock);
        return HOMI_EBUSY;
    }
    homi_nvq_ring_sq(&c->aq);
    atomic_fetch_add(&c->admin_count, 1);
    uint64_t end = homi_now_ns() + (uint64_t)c->timeout_ms * 1000000u;
    struct homi_nvme_cqe cqe;
    int rc = HOMI_ETIMEDOUT;
    unsigned spins = 0;
    for (;;) {
        if (homi_nvq_poll(&c->aq, &cqe)) {
            homi_nvq_ring_cq(&c->aq);
            if (homi_nvme_cqe_cid(&cqe) != cid) continue; /* stale: not ours */
            rc = (int)homi_nvme_cqe_status(&cqe);
            if (dw0) *dw0 = cqe.dw[0];
            break;
        }
        if (homi_now_ns() > end) break;
        if (++spins > 1000) nap();
    }
    pthread_mutex_unlock(&c->admin_lock);
    if (rc == HOMI_ETIMEDOUT)
        homi_log(HOMI_LOG_ERROR, "nvme %s: admin opcode 0x%02x timed out after %u ms", c->vf.bdf,
                 homi_nvme_sqe_opcode(e), c->timeout_ms);
    return rc;
}

static void sqe_clear(struct homi_nvme_sqe *e, unsigned opcode)
{
    memset(e, 0, sizeof *e);
    e->dw[0] = opcode;
}

static void set_prp1(struct homi_nvme_sqe *e, uint64_t iova)
{
    e->dw[6] = (uint32_t)iova;
    e->dw[7] = (uint32_t)(iova >> 32);
}

static void copy_str(char *dst, const uint8_t *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = 0;
    while (n && (dst[n - 1] == ' ' || dst[n - 1] == 0))
        dst[--n] = 0;
}

static int identify(struct homi_nvme_ctrl *c, char *why, size_t wl)
{
    uint8_t *data = (uint8_t *)c->admin_mem.va + 2 * HOMI_NVME_PAGE;
    uint64_t data_iova = c->admin_mem.iova + 2 * HOMI_NVME_PAGE;
    struct homi_nvme_sqe e;
    sqe_clear(&e, HOMI_NVME_ADM_IDENTIFY);
    set_prp1(&e, data_iova);
    e.dw[10] = 1; /* CNS 1: controller */
    int rc = homi_nvme_admin(c, &e, NULL);
    if (rc) {
        snprintf(why, wl, "Identify Controller failed (status %d)", rc);
        return rc < 0 ? rc : HOMI_EIO;
    }
    c->cntlid = (uint16_t)(data[78] | (data[79] << 8));
    copy_str(c->sn, data + 4, 20);
    copy_str(c->mn, data + 24, 40);
    copy_str(c->subnqn, data + 768, 256);
    unsigned mdts = data[77];
    unsigned mps_min = (unsigned)((c->cap >> 48) & 0xf);
    c->mdts_bytes = mdts == 0                   ? 0
                    : mdts + 12 + mps_min >= 31 ? 1u << 31
                                                : 1u << (mdts + 12 + mps_min);
    uint32_t nn = (uint32_t)data[516] | ((uint32_t)data[517] << 8) | ((uint32_t)data[518] << 16) |
                  ((uint32_t)data[519] << 24);
    (void)nn;
    /* CNS 2: the active namespace list (up to 1024 NSIDs, ascending) */
    uint32_t list[1024];
    sqe_clear(&e, HOMI_NVME_ADM_IDENTIFY);
    set_prp1(&e, data_iova);
    e.dw[10] = 2;
    memset(data, 0, HOMI_NVME_PAGE);
    rc = homi_nvme_admin(c, &e, NULL);
    if (rc) {
        snprintf(why, wl, "Identify (active namespace list) failed (status %d)", rc);
        return rc < 0 ? rc : HOMI_EIO;
    }
    memcpy(list, data, sizeof list);
    c->nns = 0;
    for (unsigned k = 0; k < 1024 && list[k] && c->nns < HOMI_NVME_MAX_NS; k++) {
        uint32_t nsid = list[k];
        sqe_clear(&e, HOMI_NVME_ADM_IDENTIFY);
        e.dw[1] = nsid;
        set_prp1(&e, data_iova);
        e.dw[10] = 0; /* CNS 0: namespace */
        memset(data, 0, HOMI_NVME_PAGE);
        if (homi_nvme_admin(c, &e, NULL)) continue;
        uint64_t nsze;
        memcpy(&nsze, data, 8);
        if (!nsze) continue; /* not active on this controller */
        unsigned flbas = data[26];
        unsigned fmt = (flbas & 0xf) | ((flbas >> 1) & 0x30);
        unsigned ms = data[128 + 4 * fmt] | (data[128 + 4 * fmt + 1] << 8);
        unsigned lbads = data[128 + 4 * fmt + 2];
        if (lbads < 9 || lbads > 12 || ms) continue; /* 512 B..4 KiB, no metadata */
        struct homi_nvme_nsinfo *ns = &c->ns[c->nns++];
        ns->nsid = nsid;
        ns->lba = 1u << lbads;
        ns->ns_bytes = nsze << lbads;
    }
    return 0;
}

int homi_nvme_ctrl_open(struct homi_nvme_ctrl *c, const char *bdf, unsigned nq, unsigned timeout_ms,
                        char *why, size_t wl)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->admin_lock, NULL);
    int rc = homi_vfio_open(&c->vf, bdf, why, wl);
    if (rc) {
        pthread_mutex_destroy(&c->admin_lock);
        return rc;
    }
    c->cap = rd64(c, REG_CAP);
    c->vs = rd32(c, REG_VS);
    c->dstrd = (unsigned)((c->cap >> 32) & 0xf);
    c->mqes = (unsigned)(c->cap & 0xffff) + 1;
    unsigned to = (unsigned)((c->cap >> 24) & 0xff) * 500; /* CAP.TO, 500 ms units */
    c->timeout_ms = timeout_ms > to ? timeout_ms : to;
    if (!((c->cap >> 37) & 1)) {
        snprintf(why, wl, "%s: controller does not support the NVM command set", bdf);
        rc = HOMI_ENOTSUP;
        goto fail;
    }
    if (((c->cap >> 48) & 0xf) != 0) {
        snprintf(why, wl, "%s: smallest memory page above 4 KiB (CAP.MPSMIN)", bdf);
        rc = HOMI_ENOTSUP;
        goto fail;
    }
    if (rd32(c, REG_CC) & CC_EN) { /* reset whatever state it was left in */
        wr32(c, REG_CC, rd32(c, REG_CC) & ~CC_EN);
    }
    if (wait_csts(c, CSTS_RDY, 0, c->timeout_ms)) {
        snprintf(why, wl, "%s: controller did not disable (CSTS 0x%x)", bdf, rd32(c, REG_CSTS));
        rc = HOMI_EIO;
        goto fail;
    }
    rc = homi_vfio_dma_alloc(&c->vf, 3 * HOMI_NVME_PAGE, &c->admin_mem);
    if (rc) {
        snprintf(why, wl, "%s: no DMA memory for the admin queue", bdf);
        goto fail;
    }
    homi_nvq_init(&c->aq, 0, ADMIN_DEPTH, c->admin_mem.va,
                  (uint8_t *)c->admin_mem.va + HOMI_NVME_PAGE, c->admin_mem.iova,
                  c->admin_mem.iova + HOMI_NVME_PAGE, c->vf.bar0, c->dstrd);
    wr32(c, REG_INTMS, 0xffffffffu); /* we poll */
    wr32(c, REG_AQA, ((ADMIN_DEPTH - 1) << 16) | (ADMIN_DEPTH - 1));
    wr64(c, REG_ASQ, c->aq.sq_iova);
    wr64(c, REG_ACQ, c->aq.cq_iova);
    wr32(c, REG_CC, CC_IOSQES | CC_IOCQES | CC_EN); /* NVM command set, 4 KiB pages */
    if (wait_csts(c, CSTS_RDY, CSTS_RDY, c->timeout_ms)) {
        snprintf(why, wl, "%s: controller did not become ready (CSTS 0x%x)", bdf,
                 rd32(c, REG_CSTS));
        rc = HOMI_EIO;
        goto fail;
    }
    c->enabled = 1;
    if ((rc = identify(c, why, wl))) goto fail;
    struct homi_nvme_sqe e;
    sqe_clear(&e, HOMI_NVME_ADM_SET_FEATURES);
    e.dw[10] = 0x07; /* Number of Queues */
    e.dw[11] = ((nq - 1) << 16) | (nq - 1);
    uint32_t got = 0;
    int st = homi_nvme_admin(c, &e, &got);
    if (st) {
        snprintf(why, wl, "%s: Set Features (Number of Queues) failed (status %d)", bdf, st);
        rc = st < 0 ? st : HOMI_EIO;
        goto fail;
    }
    c->nsq = (got & 0xffff) + 1;
    c->ncq = (got >> 16) + 1;
    homi_log(HOMI_LOG_INFO,
             "nvme %s: %s (sn %s, cntlid %u, NVMe %u.%u), %u/%u I/O SQ/CQ, MQES %u, DSTRD %u, "
             "MDTS %u KiB, %u namespace(s), %s",
             bdf, c->mn, c->sn, c->cntlid, c->vs >> 16, (c->vs >> 8) & 0xff, c->nsq, c->ncq,
             c->mqes, c->dstrd, c->mdts_bytes >> 10, c->nns, c->subnqn);
    return 0;
fail:
    homi_nvme_ctrl_close(c);
    return rc;
}

void homi_nvme_ctrl_close(struct homi_nvme_ctrl *c)
{
    if (c->vf.bar0 && c->enabled) {
        /* normal shutdown, then disable: the controller stops all DMA */
        wr32(c, REG_CC, (rd32(c, REG_CC) & ~(3u << 14)) | CC_SHN_NORMAL);
        if (wait_csts(c, CSTS_SHST_MASK, CSTS_SHST_DONE, c->timeout_ms))
            homi_log(HOMI_LOG_ERROR, "nvme %s: shutdown did not complete", c->vf.bdf);
        wr32(c, REG_CC, rd32(c, REG_CC) & ~CC_EN);
        wait_csts(c, CSTS_RDY, 0, c->timeout_ms);
        c->enabled = 0;
    }
    if (c->vf.container >= 0 || c->vf.device >= 0) {
        homi_vfio_dma_free(&c->vf, &c->admin_mem);
        homi_vfio_close(&c->vf);
    }
    pthread_mutex_destroy(&c->admin_lock);
}

int homi_nvme_create_qpair(struct homi_nvme_ctrl *c, uint16_t qid, uint16_t depth,
                           const struct homi_dma *sq, const struct homi_dma *cq)
{
    struct homi_nvme_sqe e;
    sqe_clear(&e, HOMI_NVME_ADM_CREATE_CQ);
    set_prp1(&e, cq->iova);
    e.dw[10] = ((uint32_t)(depth - 1) << 16) | qid;
    e.dw[11] = 1; /* physically contiguous, interrupts off */
    int rc = homi_nvme_admin(c, &e, NULL);
    if (rc) return rc;
    sqe_clear(&e, HOMI_NVME_ADM_CREATE_SQ);
    set_prp1(&e, sq->iova);
    e.dw[10] = ((uint32_t)(depth - 1) << 16) | qid;
    e.dw[11] = ((uint32_t)qid << 16) | 1; /* its CQ, contiguous, priority 0 */
    rc = homi_nvme_admin(c, &e, NULL);
    if (rc) {
        sqe_clear(&e, HOMI_NVME_ADM_DELETE_CQ);
        e.dw[10] = qid;
        homi_nvme_admin(c, &e, NULL);
    }
    return rc;
}

int homi_nvme_delete_qpair(struct homi_nvme_ctrl *c, uint16_t qid)
{
    struct homi_nvme_sqe e;
    sqe_clear(&e, HOMI_NVME_ADM_DELETE_SQ);
    e.dw[10] = qid;
    int rc = homi_nvme_admin(c, &e, NULL);
    sqe_clear(&e, HOMI_NVME_ADM_DELETE_CQ);
    e.dw[10] = qid;
    int rc2 = homi_nvme_admin(c, &e, NULL);
    return rc ? rc : rc2;
}

const struct homi_nvme_nsinfo *homi_nvme_ctrl_ns(const struct homi_nvme_ctrl *c, uint32_t nsid)
{
    for (unsigned i = 0; i < c->nns; i++)
        if (c->ns[i].nsid == nsid) return &c->ns[i];
    return NULL;
}
