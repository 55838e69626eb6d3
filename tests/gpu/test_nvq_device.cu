// test_nvq_device.cu - the NVMe queue-pair protocol of src/nvme/nvme_queue.h
// run as GPU device code: the kernel homi_nvq_device_reads (nvme_queue_cuda.cu)
// builds Read commands, fills the SQ, rings the SQ doorbell, polls the CQ by
// phase tag and rings the CQ doorbell, with the queues and the doorbell page
// in mapped pinned host memory.  A host thread plays the controller the way
// the NVMe specification describes (consume up to the tail doorbell, write
// the data where PRP1/PRP2 point, post completions with the phase tag), so
// the device side's ordering (__threadfence_system between queue memory and
// doorbells, and between a completion's phase tag and its fields) is tested
// across the PCIe boundary over many queue wraps.  A real delegated
// controller with P2P DMA is not needed for this part and not available in
// CI; docs/delegation.md says what the real one adds.  Exits 77 without a GPU.
#include <cuda_runtime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvme/nvme_queue.h"

__global__ void homi_nvq_device_reads(homi_nvq *q, uint32_t nsid, const unsigned long long *reqs,
                                      unsigned n, unsigned *status);

#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define DEPTH 16u
#define NREQ 20000u
#define LBA 512u
#define NSID 1u

struct ctrl {
    homi_nvq *q; // host view (same addresses under UVA)
    unsigned n;
    volatile int stop;
    unsigned long long cmds;
};

static uint8_t pattern(uint64_t slba, uint32_t i)
{
    uint64_t z = slba * 0x9e3779b97f4a7c15ull + i;
    z ^= z >> 29;
    return (uint8_t)(z * 0xbf58476d1ce4e5b9ull >> 56);
}

// The controller: consume SQ entries up to the tail doorbell, "read" by
// writing the pattern of each LBA where the PRPs point, post a completion.
static void *controller(void *arg)
{
    ctrl *c = (ctrl *)arg;
    homi_nvq *q = c->q;
    unsigned head = 0, tail = 0, phase = 1;
    while (!c->stop) {
        unsigned db = *q->sq_db;
        if (head == db) continue;
        while (head != db) {
            volatile uint32_t *e = q->sq + head * 16u;
            head = (head + 1) % DEPTH;
            uint32_t cid = e[0] >> 16;
            uint64_t slba = e[10] | ((uint64_t)e[11] << 32);
            uint32_t nlb = (e[12] & 0xffffu) + 1;
            uint64_t prp1 = e[6] | ((uint64_t)e[7] << 32), prp2 = e[8] | ((uint64_t)e[9] << 32);
            unsigned status = (e[0] & 0xffu) == HOMI_NVME_CMD_READ && e[1] == NSID ? 0 : 0x2;
            uint32_t len = nlb * LBA, first = 4096 - (uint32_t)(prp1 & 4095);
            for (uint32_t i = 0; i < len && !status; i++) {
                uint8_t *dst = i < first ? (uint8_t *)prp1 + i : (uint8_t *)prp2 + (i - first);
                *dst = pattern(slba + i / LBA, i % LBA);
            }
            volatile uint32_t *cq = q->cq + tail * 4u;
            cq[0] = 0;
            cq[1] = 0;
            cq[2] = head | ((uint32_t)q->qid << 16);
            __sync_synchronize(); // the entry before its phase tag
            cq[3] = cid | (phase << 16) | (status << 17);
            if (++tail == DEPTH) tail = 0, phase ^= 1;
            c->cmds++;
        }
    }
    return NULL;
}

int main(void)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    alarm(300); // a lost doorbell or completion would spin forever
    CK(cudaSetDeviceFlags(cudaDeviceMapHost));
    uint32_t *sq, *cq, *bar;
    homi_nvq *q, *qadm;
    unsigned long long *reqs;
    unsigned *status;
    uint8_t *data;
    const size_t slot = 8192; // two pages per request: PRP1 + PRP2
    CK(cudaHostAlloc((void **)&sq, DEPTH * 64, cudaHostAllocMapped));
    CK(cudaHostAlloc((void **)&cq, DEPTH * 16, cudaHostAllocMapped));
    CK(cudaHostAlloc((void **)&bar, 0x2000, cudaHostAllocMapped));
    CK(cudaHostAlloc((void **)&q, sizeof *q, cudaHostAllocMapped));
    CK(cudaHostAlloc((void **)&qadm, sizeof *qadm, cudaHostAllocMapped));
    CK(cudaHostAlloc((void **)&reqs, NREQ * 4 * sizeof *reqs, cudaHostAllocMapped));
    CK(cudaHostAlloc((void **)&status, NREQ * sizeof *status, cudaHostAllocMapped));
    CK(cudaHostAlloc((void **)&data, (size_t)NREQ * slot, cudaHostAllocMapped));
    memset(bar, 0, 0x2000);
    memset(data, 0, (size_t)NREQ * slot);
    // requests: 1..15 LBAs at a dword offset inside the first page: one or two pages
    srand(7);
    for (unsigned i = 0; i < NREQ; i++) {
        uint32_t nlb = 1 + (unsigned)rand() % 15; // + offset: at most two pages
        uint64_t buf = (uint64_t)(uintptr_t)(data + (size_t)i * slot) + 4 * ((unsigned)rand() % 16);
        uint64_t l[2];
        uint64_t p1 = 0, p2 = 0;
        if (homi_nvme_prp(buf, nlb * LBA, l, 0, &p1, &p2)) {
            fprintf(stderr, "prp\n");
            return 1;
        }
        reqs[4 * i] = 1000 + 17ull * i;
        reqs[4 * i + 1] = nlb;
        reqs[4 * i + 2] = p1;
        reqs[4 * i + 3] = p2;
        status[i] = 0xdead;
    }
    int failures = 0;
    // queue 0 (admin) on the device: every command refused by the gate, none queued
    homi_nvq_init(qadm, 0, DEPTH, sq, cq, 0, 0, bar, 0);
    homi_nvq_device_reads<<<1, 1>>>(qadm, NSID, reqs, 64, status);
    CK(cudaDeviceSynchronize());
    for (unsigned i = 0; i < 64; i++)
        failures += status[i] != 0xffffu;
    failures += *qadm->sq_db != 0 || qadm->sq_tail != 0;
    printf("queue 0 from the device: %s\n", failures ? "NOT refused" : "64 commands refused");
    for (unsigned i = 0; i < 64; i++)
        status[i] = 0xdead;
    // I/O queue 1 with doorbell stride 2 (16 bytes)
    homi_nvq_init(q, 1, DEPTH, sq, cq, 0, 0, bar, 2);
    ctrl c = {q, NREQ, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, controller, &c);
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    CK(cudaEventRecord(e0));
    homi_nvq_device_reads<<<1, 1>>>(q, NSID, reqs, NREQ, status);
    CK(cudaEventRecord(e1));
    CK(cudaDeviceSynchronize());
    c.stop = 1;
    pthread_join(th, NULL);
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    unsigned bad_status = 0, bad_data = 0;
    for (unsigned i = 0; i < NREQ; i++) {
        bad_status += status[i] != 0;
        const uint8_t *b = (const uint8_t *)(uintptr_t)reqs[4 * i + 2];
        for (uint32_t k = 0; k < reqs[4 * i + 1] * LBA; k++)
            if (b[k] != pattern(reqs[4 * i] + k / LBA, k % LBA)) {
                bad_data++;
                break;
            }
    }
    printf("device-side queue pair: %u commands, %llu completed by the host controller, %u CQ "
           "wraps, %u bad status, %u bad buffers; %.1f ms (%.2f us per command)\n",
           NREQ, c.cmds, NREQ / DEPTH, bad_status, bad_data, ms, 1000.0 * ms / NREQ);
    failures += bad_status + bad_data + (c.cmds != NREQ);
    if (failures) {
        fprintf(stderr, "test_nvq_device: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_nvq_device: all checks passed\n");
    return 0;
}
