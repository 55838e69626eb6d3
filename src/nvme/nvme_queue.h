/* nvme_queue.h - the NVMe queue-pair protocol, written once: submission
 * queue entries, completion queue entries with phase tags, doorbells (with
 * the controller's doorbell stride), PRP lists and the NVMe Read command.
 * Plain C with HOMI_HD on every function, so the same code compiles as
 * host code (the .c files of src/nvme) and as CUDA device code (nvme_queue_cuda.cu):
 * it is what GPU threads run where a delegated queue pair and P2P DMA are
 * available (docs/delegation.md).  No allocation, no system calls: queue
 * memory, doorbell pointers and IOVAs come from the owner (nvme_ctrl.c). */
#ifndef HOMI_NVME_QUEUE_H
#define HOMI_NVME_QUEUE_H

#include <stdint.h>

#ifdef __CUDACC__
#define HOMI_HD __host__ __device__
#else
#define HOMI_HD
#endif

/* Ordering between queue memory and the doorbell write (release), and
 * between a completion's phase tag and its other fields (acquire).  The
 * device side orders against the whole system: queues live in host or
 * GPU memory that the controller reads by DMA, doorbells are MMIO. */
#if defined(__CUDA_ARCH__)
#define HOMI_NVQ_WMB() __threadfence_system()
#define HOMI_NVQ_RMB() __threadfence_system()
#else
#define HOMI_NVQ_WMB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define HOMI_NVQ_RMB() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif

/* Sizes fixed by the NVMe base specification (CC.IOSQES=6, CC.IOCQES=4). */
#define HOMI_NVME_SQE_BYTES 64u
#define HOMI_NVME_CQE_BYTES 16u
#define HOMI_NVME_PAGE 4096u /* CC.MPS = 0 */
#define HOMI_NVME_PRP_PER_PAGE (HOMI_NVME_PAGE / 8u)

/* Opcodes used by HOMI. */
enum {
    HOMI_NVME_ADM_DELETE_SQ = 0x00,
    HOMI_NVME_ADM_CREATE_SQ = 0x01,
    HOMI_NVME_ADM_DELETE_CQ = 0x04,
    HOMI_NVME_ADM_CREATE_CQ = 0x05,
    HOMI_NVME_ADM_IDENTIFY = 0x06,
    HOMI_NVME_ADM_SET_FEATURES = 0x09,
    HOMI_NVME_CMD_READ = 0x02, /* NVM command set, I/O queues */
};

/* A submission queue entry as 16 dwords (CDW0 = opcode | fuse | cid<<16,
 * 1 = NSID, 6..7 = PRP1, 8..9 = PRP2, 10..15 = command specific). */
struct homi_nvme_sqe {
    uint32_t dw[16];
};
/* A completion queue entry: dw0 = result, dw2 = SQ head | SQ id << 16,
 * dw3 = command id | phase << 16 | status << 17. */
struct homi_nvme_cqe {
    uint32_t dw[4];
};

HOMI_HD static inline unsigned homi_nvme_sqe_opcode(const struct homi_nvme_sqe *e)
{
    return e->dw[0] & 0xffu;
}
HOMI_HD static inline uint16_t homi_nvme_cqe_cid(const struct homi_nvme_cqe *c)
{
    return (uint16_t)(c->dw[3] & 0xffffu);
}
/* Status field without the phase tag: 0 = success; SCT in bits 10:8, SC 7:0. */
HOMI_HD static inline unsigned homi_nvme_cqe_status(const struct homi_nvme_cqe *c)
{
    return (c->dw[3] >> 17) & 0x7fffu;
}

/* One queue pair (SQ and its CQ of the same depth).  The memory behind
 * sq/cq is DMA memory; sq_iova/cq_iova are what the controller was told. */
struct homi_nvq {
    volatile uint32_t *sq; /* depth * 16 dwords */
    volatile uint32_t *cq; /* depth * 4 dwords  */
    volatile uint32_t *sq_db, *cq_db;
    uint64_t sq_iova, cq_iova;
    uint16_t qid, depth;
    uint16_t sq_tail; /* next SQ slot we write                  */
    uint16_t sq_head; /* controller's SQ head, from completions */
    uint16_t cq_head; /* next CQ slot we read                   */
    uint8_t phase;    /* phase tag that marks a new completion  */
};

/* Doorbell registers start at BAR0 + 0x1000; CAP.DSTRD gives the stride
 * (4 << DSTRD bytes); SQ y tail is doorbell 2y, CQ y head is 2y+1. */
HOMI_HD static inline void homi_nvq_init(struct homi_nvq *q, uint16_t qid, uint16_t depth,
                                         volatile void *sq, volatile void *cq, uint64_t sq_iova,
                                         uint64_t cq_iova, volatile void *bar0, unsigned dstrd)
{
    volatile uint8_t *db = (volatile uint8_t *)bar0 + 0x1000u;
    uint32_t stride = 4u << dstrd;
    q->sq = (volatile uint32_t *)sq;
    q->cq = (volatile uint32_t *)cq;
    q->sq_iova = sq_iova;
    q->cq_iova = cq_iova;
    q->sq_db = (volatile uint32_t *)(db + (2u * qid) * stride);
    q->cq_db = (volatile uint32_t *)(db + (2u * qid + 1u) * stride);
    q->qid = qid;
    q->depth = depth;
    q->sq_tail = q->sq_head = q->cq_head = 0;
    q->phase = 1;
    for (uint32_t i = 0; i < (uint32_t)depth * 4u; i++)
        q->cq[i] = 0; /* phase 0 everywhere: nothing posted yet */
}

/* Free SQ slots (one slot always stays empty: full != empty). */
HOMI_HD static inline unsigned homi_nvq_space(const struct homi_nvq *q)
{
    unsigned used = (unsigned)(q->sq_tail + q->depth - q->sq_head) % q->depth;
    return q->depth - 1u - used;
}

/* Copy e into the next SQ slot.  Returns the slot, or -1 when full.  The
 * controller sees it after homi_nvq_ring_sq. */
HOMI_HD static inline int homi_nvq_push(struct homi_nvq *q, const struct homi_nvme_sqe *e)
{
    if (!homi_nvq_space(q)) return -1;
    unsigned slot = q->sq_tail;
    volatile uint32_t *d = q->sq + (uint32_t)slot * 16u;
    for (unsigned i = 0; i < 16u; i++)
        d[i] = e->dw[i];
    q->sq_tail = (uint16_t)((slot + 1u) % q->depth);
    return (int)slot;
}

HOMI_HD static inline void homi_nvq_ring_sq(struct homi_nvq *q)
{
    HOMI_NVQ_WMB(); /* entries visible before the doorbell */
    *q->sq_db = q->sq_tail;
}

/* Take the next completion if the controller posted one: 1 and *out, or
 * 0.  The CQ head doorbell is written by homi_nvq_ring_cq (batchable). */
HOMI_HD static inline int homi_nvq_poll(struct homi_nvq *q, struct homi_nvme_cqe *out)
{
    volatile uint32_t *c = q->cq + (uint32_t)q->cq_head * 4u;
    uint32_t dw3 = c[3];
    if (((dw3 >> 16) & 1u) != q->phase) return 0;
    HOMI_NVQ_RMB(); /* the rest of the entry after its phase tag */
    out->dw[0] = c[0];
    out->dw[1] = c[1];
    out->dw[2] = c[2];
    out->dw[3] = dw3;
    q->sq_head = (uint16_t)(out->dw[2] & 0xffffu);
    if (++q->cq_head == q->depth) {
        q->cq_head = 0;
        q->phase ^= 1u;
    }
    return 1;
}

HOMI_HD static inline void homi_nvq_ring_cq(struct homi_nvq *q)
{
    HOMI_NVQ_WMB();
    *q->cq_db = q->cq_head;
}

/* PRP entries for len bytes at IOVA buf (dword aligned, contiguous in IOVA
 * space): PRP1 is buf; PRP2 is the second page, or the IOVA of a PRP list
 * (list/list_iova: one page, up to 512 entries) naming pages 2..n.
 * Returns 0, or -1 when the buffer is misaligned or needs more than one
 * list page (callers keep transfers <= 2 MiB). */
HOMI_HD static inline int homi_nvme_prp(uint64_t buf, uint32_t len, uint64_t *list,
                                        uint64_t list_iova, uint64_t *prp1, uint64_t *prp2)
{
    if ((buf & 3u) || !len) return -1;
    uint64_t first = HOMI_NVME_PAGE - (buf & (HOMI_NVME_PAGE - 1u)); /* bytes in page 1 */
    *prp1 = buf;
    *prp2 = 0;
    if (len <= first) return 0;
    uint64_t next = buf + first; /* page aligned */
    uint64_t rest = len - first;
    uint64_t pages = (rest + HOMI_NVME_PAGE - 1u) / HOMI_NVME_PAGE;
    if (pages == 1) {
        *prp2 = next;
        return 0;
    }
    if (pages > HOMI_NVME_PRP_PER_PAGE || (list_iova & (HOMI_NVME_PAGE - 1u))) return -1;
    for (uint64_t i = 0; i < pages; i++)
        list[i] = next + i * HOMI_NVME_PAGE;
    *prp2 = list_iova;
    return 0;
}

/* An NVMe Read of nlb LBAs at slba of namespace nsid (cid is the caller's
 * command id: the slot its completion is matched to). */
HOMI_HD static inline void homi_nvme_read_cmd(struct homi_nvme_sqe *e, uint16_t cid, uint32_t nsid,
                                              uint64_t slba, uint32_t nlb, uint64_t prp1,
                                              uint64_t prp2)
{
    for (unsigned i = 0; i < 16u; i++)
        e->dw[i] = 0;
    e->dw[0] = HOMI_NVME_CMD_READ | ((uint32_t)cid << 16);
    e->dw[1] = nsid;
    e->dw[6] = (uint32_t)prp1;
    e->dw[7] = (uint32_t)(prp1 >> 32);
    e->dw[8] = (uint32_t)prp2;
    e->dw[9] = (uint32_t)(prp2 >> 32);
    e->dw[10] = (uint32_t)slba;
    e->dw[11] = (uint32_t)(slba >> 32);
    e->dw[12] = nlb - 1u; /* zero-based */
}

/* The gate every command on a client (I/O) queue passes: only NVMe Read,
 * only on an I/O queue (qid >= 1), only for namespace nsid.  Admin opcodes
 * and the admin queue are unreachable from here by construction.
 * Returns 0 when allowed, -1 otherwise. */
HOMI_HD static inline int homi_nvq_io_gate(const struct homi_nvq *q, const struct homi_nvme_sqe *e,
                                           uint32_t nsid)
{
    if (q->qid == 0) return -1;
    if (homi_nvme_sqe_opcode(e) != HOMI_NVME_CMD_READ) return -1;
    if ((e->dw[0] >> 8) & 0xffu) return -1; /* no fused ops, PRPs only (PSDT 0) */
    if (e->dw[1] != nsid || nsid == 0 || nsid == 0xffffffffu) return -1;
    return 0;
}

#endif
