// nvme_queue_cuda.cu - build-only: compiles the queue-pair protocol of
// nvme_queue.h as CUDA device code, in the kernel GPU threads would run on
// a delegated queue pair whose SQ/CQ and doorbells are mapped for the GPU
// (docs/delegation.md).  Nothing calls it: CI has no GPU and no P2P DMA;
// nvcc proves that the one protocol implementation is valid device code.
#include "nvme/nvme_queue.h"

// One warp-free, single-thread submitter: builds a Read for each request,
// rings the SQ doorbell, polls the CQ with phase tags and rings the CQ
// doorbell.  reqs: {slba, nlb, prp1, prp2} quadruples; status[i] gets the
// NVMe status of request i (by command id).
__global__ void homi_nvq_device_reads(homi_nvq *q, uint32_t nsid, const unsigned long long *reqs,
                                      unsigned n, unsigned *status)
{
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    unsigned done = 0, next = 0;
    while (done < n) {
        int queued = 0;
        while (next < n && homi_nvq_space(q)) {
            homi_nvme_sqe e;
            const unsigned long long *r = reqs + 4u * next;
            homi_nvme_read_cmd(&e, (uint16_t)next, nsid, r[0], (uint32_t)r[1], r[2], r[3]);
            if (homi_nvq_io_gate(q, &e, nsid)) {
                status[next] = 0xffffu; // refused before it reached the queue
                done++;
            } else if (homi_nvq_push(q, &e) >= 0) {
                queued = 1;
            }
            next++;
        }
        if (queued) homi_nvq_ring_sq(q);
        homi_nvme_cqe c;
        int got = 0;
        while (homi_nvq_poll(q, &c)) {
            status[homi_nvme_cqe_cid(&c)] = homi_nvme_cqe_status(&c);
            done++;
            got = 1;
        }
        if (got) homi_nvq_ring_cq(q);
    }
}

// PRP list construction on the device (for destinations in GPU memory
// mapped for the controller by P2P DMA).
__global__ void homi_nvq_device_prp(unsigned long long buf, uint32_t len, uint64_t *list,
                                    unsigned long long list_iova, unsigned long long *out)
{
    uint64_t p1 = 0, p2 = 0;
    int rc = homi_nvme_prp(buf, len, list, list_iova, &p1, &p2);
    out[0] = p1;
    out[1] = p2;
    out[2] = (unsigned long long)rc;
}
