/* nvme_ctrl.h - an NVMe controller driven from user space over vfio-pci:
 * bring-up (disable, admin queue, enable), Identify Controller and
 * Namespace, Set Features (Number of Queues), creation and deletion of
 * polled I/O queue pairs, clean shutdown.  Only the owner (deleg.c) holds
 * one of these: the admin queue never leaves it. */
#ifndef HOMI_NVME_CTRL_H
#define HOMI_NVME_CTRL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme/nvme_queue.h"
#include "nvme/vfio_dev.h"

#define HOMI_NVME_MAX_NS 16

struct homi_nvme_nsinfo {
    uint32_t nsid;
    unsigned lba;      /* bytes per LBA of the in-use format */
    uint64_t ns_bytes; /* capacity */
};

struct homi_nvme_ctrl {
    struct homi_vfio vf;
    uint64_t cap;
    unsigned dstrd;
    unsigned mqes;       /* largest queue depth (CAP.MQES + 1) */
    unsigned timeout_ms; /* for each command and for CSTS.RDY changes */
    uint32_t vs;
    uint32_t mdts_bytes; /* 0: no limit reported */
    uint16_t cntlid;
    char sn[21], mn[41], subnqn[257];
    unsigned nsq, ncq; /* I/O queues granted by Set Features */
    struct homi_nvme_nsinfo ns[HOMI_NVME_MAX_NS];
    unsigned nns;
    pthread_mutex_t admin_lock;
    struct homi_nvq aq;
    struct homi_dma admin_mem; /* ASQ page, ACQ page, one data page */
    uint16_t admin_cid;
    atomic_ullong admin_count; /* admin commands submitted */
    int enabled;
};

/* Bring up the controller at bdf (bound to vfio-pci), asking for nq I/O
 * queue pairs.  Returns 0, or HOMI_E* with the reason in why. */
int homi_nvme_ctrl_open(struct homi_nvme_ctrl *c, const char *bdf, unsigned nq, unsigned timeout_ms,
                        char *why, size_t wl);
/* Shut the controller down (CC.SHN), disable it, release everything. */
void homi_nvme_ctrl_close(struct homi_nvme_ctrl *c);
/* One admin command, synchronously.  Returns 0, the NVMe status (> 0), or
 * a negative HOMI_E* (timeout).  *dw0 gets the result when not NULL. */
int homi_nvme_admin(struct homi_nvme_ctrl *c, struct homi_nvme_sqe *e, uint32_t *dw0);
/* Create I/O CQ and SQ qid (polled, no interrupt) over the given memory. */
int homi_nvme_create_qpair(struct homi_nvme_ctrl *c, uint16_t qid, uint16_t depth,
                           const struct homi_dma *sq, const struct homi_dma *cq);
int homi_nvme_delete_qpair(struct homi_nvme_ctrl *c, uint16_t qid);
const struct homi_nvme_nsinfo *homi_nvme_ctrl_ns(const struct homi_nvme_ctrl *c, uint32_t nsid);

#endif
