/* test_nvme_queue.c - the NVMe queue-pair protocol of src/nvme/nvme_queue.h
 * (the code host threads run on a delegated controller, and GPU threads
 * would): doorbell addressing with the doorbell stride, SQ full/empty
 * accounting, phase tags across many wraps of the CQ, PRP entries and PRP
 * lists, the Read command's fields, and the gate that keeps admin opcodes
 * and queue 0 out of client queues.  The controller side is a few lines
 * here that consume SQ entries and post completions the way the NVMe
 * specification describes; the real controller is exercised by the VM
 * test vm_vfio. */
#include "homi_test.h"
#include "nvme/nvme_queue.h"

#define DEPTH 8

static uint32_t bar[0x3000 / 4];
static uint32_t sqmem[DEPTH * 16], cqmem[DEPTH * 4];

/* The controller's view of one queue pair. */
struct ctrl {
    unsigned sq_head, cq_tail, phase;
};

/* Consume every entry up to the SQ tail doorbell; post a completion for
 * each (status = opcode of the command when it is not a Read). */
static unsigned ctrl_run(struct ctrl *c, struct homi_nvq *q, unsigned max)
{
    unsigned tail = *q->sq_db, n = 0;
    while (c->sq_head != tail && n < max) {
        const uint32_t *e = sqmem + c->sq_head * 16;
        c->sq_head = (c->sq_head + 1) % DEPTH;
        uint32_t *cq = cqmem + c->cq_tail * 4;
        unsigned status = (e[0] & 0xff) == HOMI_NVME_CMD_READ ? 0 : (e[0] & 0xff);
        cq[0] = e[10]; /* result: echo of the SLBA low dword */
        cq[1] = 0;
        cq[2] = c->sq_head | ((uint32_t)q->qid << 16);
        cq[3] = (e[0] >> 16) | (c->phase << 16) | (status << 17);
        if (++c->cq_tail == DEPTH) {
            c->cq_tail = 0;
            c->phase ^= 1;
        }
        n++;
    }
    return n;
}

static void test_doorbells(void)
{
    t_context = "doorbells";
    struct homi_nvq q;
    homi_nvq_init(&q, 3, DEPTH, sqmem, cqmem, 0x10000, 0x20000, bar, 0);
    CHECK((char *)q.sq_db - (char *)bar == 0x1000 + 6 * 4, "SQ3 doorbell, stride 4");
    CHECK((char *)q.cq_db - (char *)bar == 0x1000 + 7 * 4, "CQ3 doorbell, stride 4");
    homi_nvq_init(&q, 3, DEPTH, sqmem, cqmem, 0x10000, 0x20000, bar, 2);
    CHECK((char *)q.sq_db - (char *)bar == 0x1000 + 6 * 16, "SQ3 doorbell, stride 16");
    CHECK((char *)q.cq_db - (char *)bar == 0x1000 + 7 * 16, "CQ3 doorbell, stride 16");
    homi_nvq_init(&q, 0, DEPTH, sqmem, cqmem, 0x10000, 0x20000, bar, 0);
    CHECK((char *)q.sq_db - (char *)bar == 0x1000, "admin SQ doorbell");
    CHECK(q.phase == 1 && q.sq_tail == 0 && q.cq_head == 0, "initial state");
}

static void test_wraps(void)
{
    t_context = "phase tags";
    struct homi_nvq q;
    memset(cqmem, 0xff, sizeof cqmem); /* init must clear stale phase bits */
    homi_nvq_init(&q, 1, DEPTH, sqmem, cqmem, 0x10000, 0x20000, bar, 0);
    struct ctrl c = {0, 0, 1};
    struct homi_nvme_cqe cqe;
    CHECK(!homi_nvq_poll(&q, &cqe), "completion seen on an empty queue");
    CHECK(homi_nvq_space(&q) == DEPTH - 1, "space %u", homi_nvq_space(&q));
    struct homi_nvme_sqe e;
    unsigned pushed = 0, seen = 0, next_cid = 0;
    for (int i = 0; i < DEPTH - 1; i++) { /* fill: one slot stays empty */
        homi_nvme_read_cmd(&e, (uint16_t)pushed, 1, pushed, 1, 0x1000, 0);
        CHECK(homi_nvq_push(&q, &e) == i, "slot");
        pushed++;
    }
    CHECK(homi_nvq_push(&q, &e) == -1 && homi_nvq_space(&q) == 0, "a full queue took more");
    homi_nvq_ring_sq(&q);
    CHECK(*q.sq_db == DEPTH - 1, "SQ tail doorbell %u", *q.sq_db);
    /* many wraps: the controller completes a random number each round */
    for (int round = 0; round < 4000; round++) {
        ctrl_run(&c, &q, 1 + (unsigned)t_below(DEPTH));
        while (homi_nvq_poll(&q, &cqe)) {
            CHECK(homi_nvme_cqe_cid(&cqe) == (uint16_t)next_cid, "cid %u, expected %u",
                  homi_nvme_cqe_cid(&cqe), next_cid);
            CHECK(homi_nvme_cqe_status(&cqe) == 0, "status");
            CHECK(cqe.dw[0] == next_cid, "result");
            next_cid++;
            seen++;
        }
        homi_nvq_ring_cq(&q);
        CHECK(*q.cq_db == q.cq_head, "CQ head doorbell");
        unsigned room = homi_nvq_space(&q);
        CHECK(room == DEPTH - 1 - (pushed - seen), "space %u with %u outstanding", room,
              pushed - seen);
        unsigned k = (unsigned)t_below(room + 1);
        for (unsigned i = 0; i < k; i++) {
            homi_nvme_read_cmd(&e, (uint16_t)pushed, 1, pushed, 1, 0x1000, 0);
            CHECK(homi_nvq_push(&q, &e) >= 0, "push with room");
            pushed++;
        }
        if (k) homi_nvq_ring_sq(&q);
        t_bail_if_many();
    }
    printf("phase tags: %u commands through a %d-entry queue pair (%u CQ wraps)\n", seen, DEPTH,
           seen / DEPTH);
    CHECK(seen > 10000, "only %u completions", seen);
}

static void test_prp(void)
{
    t_context = "PRP";
    uint64_t list[512], p1, p2;
    const uint64_t L = 0x7000000; /* list IOVA */
    CHECK(homi_nvme_prp(0x100000, 4096, list, L, &p1, &p2) == 0 && p1 == 0x100000 && p2 == 0,
          "one page");
    CHECK(homi_nvme_prp(0x100200, 3584, list, L, &p1, &p2) == 0 && p2 == 0, "end of a page");
    CHECK(homi_nvme_prp(0x100200, 3585, list, L, &p1, &p2) == 0 && p1 == 0x100200 && p2 == 0x101000,
          "two pages from an offset");
    CHECK(homi_nvme_prp(0x100000, 8192, list, L, &p1, &p2) == 0 && p2 == 0x101000, "two pages");
    memset(list, 0, sizeof list);
    CHECK(homi_nvme_prp(0x100000, 128 * 1024, list, L, &p1, &p2) == 0 && p1 == 0x100000 && p2 == L,
          "128 KiB: a list");
    int ok = 1;
    for (unsigned i = 0; i < 31; i++)
        ok &= list[i] == 0x101000 + 4096ull * i;
    CHECK(ok && list[31] == 0, "list entries");
    CHECK(homi_nvme_prp(0x100004, 3 * 4096, list, L, &p1, &p2) == 0 && p2 == L &&
              list[0] == 0x101000 && list[1] == 0x102000 && list[2] == 0x103000,
          "offset start: 4 pages");
    CHECK(homi_nvme_prp(0x100000, 2u << 20, list, L, &p1, &p2) == 0 &&
              list[510] == 0x100000 + 511 * 4096ull,
          "2 MiB: one full list page");
    CHECK(homi_nvme_prp(0x100000, (2u << 20) + 4096 + 1, list, L, &p1, &p2) == -1,
          "needs a second list page");
    CHECK(homi_nvme_prp(0x100002, 512, list, L, &p1, &p2) == -1, "not dword aligned");
    CHECK(homi_nvme_prp(0x100000, 0, list, L, &p1, &p2) == -1, "empty");
    CHECK(homi_nvme_prp(0x100000, 16384, list, L + 8, &p1, &p2) == -1, "unaligned list");
}

static void test_read_cmd_and_gate(void)
{
    t_context = "gate";
    struct homi_nvme_sqe e;
    homi_nvme_read_cmd(&e, 0x1234, 7, 0x123456789aull, 256, 0x1000, 0x2000);
    CHECK(homi_nvme_sqe_opcode(&e) == HOMI_NVME_CMD_READ && (e.dw[0] >> 16) == 0x1234, "CDW0");
    CHECK(e.dw[1] == 7 && e.dw[6] == 0x1000 && e.dw[8] == 0x2000, "NSID, PRPs");
    CHECK(e.dw[10] == 0x3456789a && e.dw[11] == 0x12 && e.dw[12] == 255, "SLBA, NLB");
    struct homi_nvq io, adm;
    homi_nvq_init(&io, 2, DEPTH, sqmem, cqmem, 0, 0, bar, 0);
    homi_nvq_init(&adm, 0, DEPTH, sqmem, cqmem, 0, 0, bar, 0);
    CHECK(homi_nvq_io_gate(&io, &e, 7) == 0, "a Read on an I/O queue");
    CHECK(homi_nvq_io_gate(&adm, &e, 7) == -1, "a Read on queue 0 (admin)");
    CHECK(homi_nvq_io_gate(&io, &e, 8) == -1, "another namespace");
    static const unsigned ops[] = {
        HOMI_NVME_ADM_DELETE_SQ, HOMI_NVME_ADM_CREATE_SQ,    HOMI_NVME_ADM_DELETE_CQ,
        HOMI_NVME_ADM_CREATE_CQ, HOMI_NVME_ADM_IDENTIFY,     HOMI_NVME_ADM_SET_FEATURES,
        0x0c /* AER */,          0x10 /* firmware commit */, 0x80 /* format */,
        0x84 /* sanitize */,     0x08 /* write zeroes */,    0x09 /* dataset mgmt */};
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct homi_nvme_sqe x = e;
        x.dw[0] = (x.dw[0] & ~0xffu) | ops[i];
        CHECK(homi_nvq_io_gate(&io, &x, 7) == -1, "opcode 0x%02x passed the gate", ops[i]);
    }
    struct homi_nvme_sqe f = e;
    f.dw[0] |= 1u << 8; /* fused */
    CHECK(homi_nvq_io_gate(&io, &f, 7) == -1, "fused command");
    f = e;
    f.dw[0] |= 1u << 14; /* SGL */
    CHECK(homi_nvq_io_gate(&io, &f, 7) == -1, "SGL data pointer");
    f = e;
    f.dw[1] = 0xffffffffu;
    CHECK(homi_nvq_io_gate(&io, &f, 0xffffffffu) == -1, "broadcast namespace");
}

int main(void)
{
    t_seed_from_env(10);
    test_doorbells();
    test_wraps();
    test_prp();
    test_read_cmd_and_gate();
    return t_finish("test_nvme_queue");
}
