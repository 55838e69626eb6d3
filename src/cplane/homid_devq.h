/* homid_devq.h - GPU device queues served by homid (issue 21): what a
 * client and homid share for one queue, checked here without I/O.
 *
 * The client (the process that owns the GPU context) creates the region in
 * a memfd, maps it for its GPU (cudaHostRegister) and hands it to homid
 * with HOMID_DEVQ_CREATE together with an eventfd.  Its kernels use the
 * same device API as an in-process queue (homi_cuda.h): they write requests
 * into the region's request ring; homid's service threads take them, check
 * each one (capability -> a file this client passed, offset, length, size),
 * read small ones into the region's inline data and post their completions;
 * large ones are read into the region's bulk chunks, which the client's pump
 * copies into the device destination before it posts the completion.
 * homid never needs the client's GPU, and never trusts the region: it
 * computes the layout from the parameters it accepted and copies every
 * field out before it checks it.
 *
 * Region (each part 4 KiB aligned):
 *   [homid_dq_hdr][req: slots x homi_devq_req][cpl: slots x homi_devq_cpl]
 *   [data: slots x inline_max][chunk descriptors: chunks x homid_dq_chunk]
 *   [chunk data: chunks x chunk_size] */
#ifndef HOMI_CPLANE_HOMID_DEVQ_H
#define HOMI_CPLANE_HOMID_DEVQ_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "homi_cuda.h"

#define HOMID_DQ_MAGIC 0x51444d48u /* "HMDQ" */
#define HOMID_DQ_VERSION 1u
#define HOMID_DQ_SLOTS_MAX 65536u
#define HOMID_DQ_INLINE_MAX (1u << 20)
#define HOMID_DQ_CHUNKS_MAX 64u
#define HOMID_DQ_CHUNK_MIN (64u << 10)
#define HOMID_DQ_CHUNK_MAX (16u << 20)
#define HOMID_DQ_THREADS_MAX 8u
#define HOMID_DQ_REQUEST_MAX (1ull << 30)
#define HOMID_DQ_CAPS 256u /* capabilities per queue */
#define HOMID_DQ_REGION_MAX (4ull << 30)

struct homid_dq_hdr {
    uint32_t magic, version;
    uint32_t slots, inline_max, chunks, chunk_size;
    uint64_t req_off, cpl_off, data_off, chk_off, cdata_off, size;
    /* homid's counters, for homi_devq_stats_get (informational only) */
    _Atomic uint64_t requests, bytes, errors, inline_reqs, bulk_reqs, batches, max_batch, torn;
    /* 1 while homid owes the client a wake-up: homid writes the eventfd only
     * when it sets this from 0, the pump clears it before it looks */
    _Atomic uint32_t kick;
    uint32_t pad;
};

/* One bulk chunk: homid fills it (state 0 -> 1), the pump empties it (1 -> 0). */
#define HOMID_DQ_FREE 0u
#define HOMID_DQ_FULL 1u
struct homid_dq_chunk {
    _Atomic uint32_t state;
    uint32_t len;   /* bytes of this piece */
    uint64_t t;     /* ticket of the request it belongs to */
    uint64_t roff;  /* offset of the piece within the request */
    int64_t total;  /* bytes the whole request delivers (short only at EOF) */
    uint64_t check; /* homid_dq_chunk_check() of the fields above */
    char pad[24];
};

/* Operations of HOMID_DEVQ (the queue exists). */
/* HOMID_DQ_PAUSE: cap 1 stops the queue's service threads taking requests
 * (they wait in the ring; homi_devq_pause), cap 0 restarts them. */
enum homid_dq_op {
    HOMID_DQ_EXPORT = 1,
    HOMID_DQ_REVOKE = 2,
    HOMID_DQ_DESTROY = 3,
    HOMID_DQ_PAUSE = 4
};

/* HOMID_DEVQ_CREATE: parameters (+ the region's memfd and an eventfd). */
struct homid_devq_create {
    uint32_t slots, inline_max, chunks, chunk_size;
    uint32_t threads; /* service threads wanted (homid may lower it) */
    uint32_t reserved;
    uint64_t max_request;
    uint64_t size; /* bytes of the region (homid_dq_layout's) */
};

/* HOMID_DEVQ: op on queue (EXPORT: file_id; REVOKE: cap). */
struct homid_devq_op {
    uint32_t op, queue, file_id, reserved;
    uint64_t cap;
};

/* HOMID_DEVQ_OK: the queue (CREATE) or the capability (EXPORT). */
struct homid_devq_ok {
    uint32_t queue, threads;
    uint64_t cap;
};

/* Layout for these parameters; 0 or HOMI_EINVAL with the reason in why. */
int homid_dq_layout(uint32_t slots, uint32_t inline_max, uint32_t chunks, uint32_t chunk_size,
                    struct homid_dq_hdr *out, char *why, size_t whylen);
/* Check a CREATE message; 0 or HOMI_EINVAL with the reason. */
int homid_dq_create_check(const struct homid_devq_create *c, char *why, size_t whylen);

/* The check word of a chunk descriptor. */
uint64_t homid_dq_chunk_check(uint32_t len, uint64_t t, uint64_t roff, int64_t total);

/* ---------------------------------------------------------------- the client's pump
 * Copies full chunks to their requests' destinations, frees them, and posts
 * the completions of bulk requests whose bytes have all arrived.  The copy
 * is the caller's: enqueue (dst, src, len) and, once per round, sync. */
struct homid_dq_pump {
    struct homid_dq_hdr lay; /* the layout the client created */
    char *base;              /* the client's mapping of the region */
    struct homid_dq_track {
        uint64_t t;
        int64_t done; /* bytes copied, or -1 once its result was posted as an error */
    } * track;        /* per slot */
    struct homid_dq_piece {
        unsigned chunk;
        int rc;                  /* the copy's (or the descriptor's) error, else 0 */
        int end;                 /* the request ends at d.total (its file shrank) */
        struct homid_dq_chunk d; /* the descriptor, copied once */
    } * round;                   /* scratch: the full chunks of one round */
    /* enqueue a copy (0, or a homi_err: the request fails with it) */
    int (*copy)(void *arg, void *dst, const void *src, size_t len);
    /* wait for the copies enqueued this round (0 or a homi_err) */
    int (*sync)(void *arg);
    void *arg;
    uint64_t chunks_copied, bulk_posted, bad_chunks;
};

/* Set up a pump over a region laid out as lay (mapped at base); 0 or HOMI_ENOMEM. */
int homid_dq_pump_init(struct homid_dq_pump *p, const struct homid_dq_hdr *lay, char *base);
void homid_dq_pump_free(struct homid_dq_pump *p);
/* One round; returns the completions posted (0: none). */
unsigned homid_dq_pump_run(struct homid_dq_pump *p);

#endif
