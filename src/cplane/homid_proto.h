/* homid_proto.h - the wire protocol between libhomi clients and the per-node
 * control-plane daemon homid: control messages over a UNIX SOCK_SEQPACKET
 * socket (one message = one record; open files travel as SCM_RIGHTS), and
 * the per-client shared-memory region (request ring, completion ring, data
 * slots) that carries the data path without a socket round trip.
 *
 * Everything a peer sends is checked here before it is used: the pure
 * functions below (no I/O, no allocation) are what the libFuzzer target
 * tests/fuzz/fuzz_proto.c exercises. */
#ifndef HOMI_CPLANE_HOMID_PROTO_H
#define HOMI_CPLANE_HOMID_PROTO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cplane/homid_devq.h"

#define HOMID_MAGIC 0x494d4f48u /* "HOMI" */
#define HOMID_VERSION 1u        /* the protocol version this build speaks */
#define HOMID_PAYLOAD_MAX 1024u /* largest payload of any message          */
#define HOMID_MAX_FDS 3u        /* most descriptors one message carries     */
#define HOMID_ERRTEXT 200u      /* longest error text                       */
#define HOMID_NODE 64u          /* node name field                          */
#define HOMID_JOB 48u           /* job name field of HELLO                  */

/* Limits the daemon enforces on a client's shared region. */
#define HOMID_SLOTS_MIN 2u
#define HOMID_SLOTS_MAX 1024u
#define HOMID_SLOT_MIN (64u << 10)
#define HOMID_SLOT_MAX (16u << 20)
#define HOMID_SHM_MAX (1ull << 30) /* data area per client */

enum homid_type {
    HOMID_HELLO = 1,        /* c->d homid_hello                                   */
    HOMID_HELLO_OK = 2,     /* d->c homid_hello_ok + memfd, sq eventfd, cq eventfd */
    HOMID_OPEN = 3,         /* c->d homid_open + the open file                    */
    HOMID_OPEN_OK = 4,      /* d->c homid_open_ok                                 */
    HOMID_CLOSE = 5,        /* c->d homid_close             -> HOMID_OK           */
    HOMID_STATS = 6,        /* c->d (empty)                 -> HOMID_STATS_OK     */
    HOMID_STATS_OK = 7,     /* d->c homid_wire_stats (this client's, then node's)  */
    HOMID_REPORT = 8,       /* c->d homid_wire_stats: the client's own counters    */
    HOMID_OK = 9,           /* d->c (empty)                                       */
    HOMID_ERROR = 10,       /* d->c homid_error                                   */
    HOMID_ADMIN = 11,       /* c->d an operator's command (text, see homictl)     */
    HOMID_ADMIN_OK = 12,    /* d->c homid_admin_ok + a sealed memfd with the text */
    HOMID_DEVQ_CREATE = 13, /* c->d homid_devq_create + region memfd + eventfd (homid_devq.h) */
    HOMID_DEVQ = 14,        /* c->d homid_devq_op: export, revoke, destroy  */
    HOMID_DEVQ_OK = 15,     /* d->c homid_devq_ok                           */
    HOMID_QPAIRS = 16,      /* c->d homid_qpairs: delegated queue pairs of its own */
    HOMID_QPAIRS_OK = 17,   /* d->c homid_qpairs_ok                         */
    HOMID_TYPE_MAX = 17
};

struct homid_hdr {
    uint32_t magic;
    uint16_t version; /* HOMID_VERSION (HELLO: the client's highest) */
    uint16_t type;
    uint32_t len; /* payload bytes after this header */
    uint32_t seq; /* echoed in the reply */
};

struct homid_hello {
    uint16_t min_version, max_version; /* versions the client speaks */
    uint32_t pid;
    uint32_t slots;     /* data slots wanted (the daemon may lower it) */
    uint32_t slot_size; /* bytes per slot wanted                       */
    /* optional (clients before the node service send 16 bytes): the job
     * the client belongs to, for accounting and per-job limits */
    char job[HOMID_JOB];
};
#define HOMID_HELLO_MIN 16u

struct homid_hello_ok {
    uint32_t version;
    uint32_t slots, slot_size;
    uint32_t sq_entries, cq_entries;
    uint32_t max_files;
    uint64_t shm_size;
    char node[HOMID_NODE];
};

struct homid_open {
    uint32_t flags; /* 0 */
    uint32_t reserved;
};

struct homid_open_ok {
    uint32_t file_id;
    uint32_t reserved;
    uint64_t size;
};

struct homid_close {
    uint32_t file_id;
    uint32_t reserved;
};

/* Queue pairs of the delegated controller for this client alone (asked
 * once, before its first OPEN; homid grants all or none, within the node's,
 * the user's and the job's limits, and takes them back when the client
 * goes).  Its delegated reads then use only those; a client without a
 * grant shares the queue pairs nobody holds. */
struct homid_qpairs {
    uint32_t want; /* 1..HOMID_QPAIRS_MAX */
    uint32_t reserved;
};
#define HOMID_QPAIRS_MAX 64u

struct homid_qpairs_ok {
    uint32_t granted; /* = want */
    uint32_t total;   /* queue pairs of the controller */
    uint32_t free;    /* left in the shared pool after this grant */
    uint32_t reserved;
};

/* Statistics on the wire: fixed-size arrays, independent of the sizes of
 * the public homi_stats (paths/reasons beyond these are not sent). */
#define HOMID_W_PATHS 8
#define HOMID_W_FB 32
struct homid_wire_stats {
    uint64_t bytes[HOMID_W_PATHS], reqs[HOMID_W_PATHS], ns[HOMID_W_PATHS];
    uint64_t fb[HOMID_W_FB];
    uint64_t reads, read_bytes, errors, map_builds, staged_bytes, nvme_cmds, daemon_bytes;
    uint64_t refused; /* requests and messages the daemon refused */
};

struct homid_stats_ok {
    struct homid_wire_stats client, node;
};

/* An operator's command is the payload of HOMID_ADMIN: text such as
 * "list" or "weight 1234 4" (homictl's words; src/daemon/admin.c). */
struct homid_admin_ok {
    uint64_t len; /* bytes of text in the memfd */
};

struct homid_error {
    int32_t code; /* a homi_err */
    char text[HOMID_ERRTEXT];
};

/* A parsed message (payload copied out, text NUL-terminated). */
struct homid_msg {
    struct homid_hdr h;
    unsigned nfds; /* descriptors that came with it */
    union {
        struct homid_hello hello;
        struct homid_hello_ok hello_ok;
        struct homid_open open;
        struct homid_open_ok open_ok;
        struct homid_close close;
        struct homid_wire_stats stats;
        struct homid_stats_ok stats_ok;
        struct homid_error error;
        struct homid_admin_ok admin_ok;
        struct homid_devq_create dq_create;
        struct homid_devq_op dq_op;
        struct homid_devq_ok dq_ok;
        struct homid_qpairs qpairs;
        struct homid_qpairs_ok qpairs_ok;
        char text[HOMID_PAYLOAD_MAX + 1]; /* HOMID_ADMIN, NUL-terminated */
    } u;
};

/* Write the reason (printf-style) into why (when given) and return rc: how
 * the checks here and in homid_devq.c say why they refuse. */
int homid_fail(char *why, size_t whylen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parse one received record of len bytes that came with nfds descriptors.
 * 0, or a negative homi_err with the reason in why. */
int homid_parse(const void *buf, size_t len, unsigned nfds, struct homid_msg *out, char *why,
                size_t whylen);

/* ---------------------------------------------------------------- shared region
 *
 * [homid_shm_hdr][sq: sq_entries x homid_sqe][cq: cq_entries x homid_cqe]
 * [data: slots x slot_size]  (each part 4 KiB aligned)
 *
 * The client owns sq_tail and cq_head, the daemon sq_head and cq_tail.
 * One request uses one data slot; the daemon never has more requests in
 * flight than the completion ring has free entries. */
#define HOMID_SHM_MAGIC 0x4d485348u /* "HSHM" */

struct homid_shm_hdr {
    uint32_t magic, version;
    uint32_t sq_entries, cq_entries; /* powers of two */
    uint32_t slots, slot_size;
    uint64_t sq_off, cq_off, data_off, size;
    char pad0[64 - 56];
    _Atomic uint32_t sq_tail; /* client */
    char pad1[60];
    _Atomic uint32_t sq_head; /* daemon */
    char pad2[60];
    _Atomic uint32_t cq_tail; /* daemon */
    char pad3[60];
    _Atomic uint32_t cq_head; /* client */
    char pad4[60];
};

/* One request: read len bytes of the client's file file_id at offset into
 * data slot slot; tag comes back in the completion. */
struct homid_sqe {
    uint64_t tag;
    uint64_t offset;
    uint32_t file_id;
    uint32_t slot;
    uint32_t len;
    int32_t path; /* HOMI_PATH_AUTO, _KERNEL, _PASSTHRU or _DELEGATED */
};

struct homid_cqe {
    uint64_t tag;
    int64_t result; /* bytes placed in the slot, or a negative homi_err */
    uint32_t path_mask;
    uint32_t slot;
};

/* Layout of a region for slots x slot_size; 0 or HOMI_EINVAL/HOMI_ERANGE. */
int homid_shm_layout(uint32_t slots, uint32_t slot_size, struct homid_shm_hdr *out);
/* Check a region header against the size actually mapped (client side). */
int homid_shm_check(const struct homid_shm_hdr *h, uint64_t mapped);
/* Check one request (copied out of shared memory) against the region's
 * limits; file ownership and file size are the daemon's to check. */
int homid_sqe_check(const struct homid_sqe *e, uint32_t slots, uint32_t slot_size, char *why,
                    size_t whylen);
/* Check one completion (client side). */
int homid_cqe_check(const struct homid_cqe *e, uint32_t slots, uint32_t slot_size);
/* Entries between head and tail of a ring of n entries; -1 when the
 * distance is impossible (a peer wrote garbage). */
long homid_ring_used(uint32_t head, uint32_t tail, uint32_t n);

/* ---------------------------------------------------------------- socket I/O */

/* A connected SOCK_SEQPACKET socket to homid at path, or -1 with errno
 * (ENAMETOOLONG when path does not fit a UNIX socket address). */
int homid_connect(const char *path);

/* Send one message (payload may be NULL when len is 0) with up to
 * HOMID_MAX_FDS descriptors.  0 or a negative homi_err (HOMI_EIO: peer gone). */
int homid_send(int sock, uint16_t type, uint32_t seq, const void *payload, uint32_t len,
               const int *fds, unsigned nfds);
/* Receive one record into buf (at least sizeof(struct homid_hdr) +
 * HOMID_PAYLOAD_MAX + 1 bytes) and its descriptors.  timeout_ms < 0 waits
 * forever.  Returns the record length, 0 when the peer closed, or a
 * negative homi_err (HOMI_ETIMEDOUT, HOMI_ERANGE: record or descriptors
 * truncated, which closes any descriptors received). */
long homid_recv(int sock, void *buf, size_t cap, int *fds, unsigned *nfds, int timeout_ms);
/* Size of the receive buffer homid_recv needs. */
#define HOMID_RECV_CAP (sizeof(struct homid_hdr) + HOMID_PAYLOAD_MAX + 1)

/* ---------------------------------------------------------------- node names and sockets
 *
 * The node's name, as homid reports it and as "%h" in HOMI_SOCKET and
 * HOMI_RUNTIME_DIR expands: HOMI_NODE_NAME when set (several homids
 * standing for nodes on one machine), else the host name. */
void homi_node_name(char *buf, size_t len);
/* in with every "%h" replaced by the node's name, into out; 0 or -1 (too long) */
int homi_expand_node(const char *in, char *out, size_t len);

/* Wire conversion of statistics (homi_stats is from homi.h). */
struct homi_stats;
void homid_stats_to_wire(const struct homi_stats *s, struct homid_wire_stats *w);
void homid_stats_from_wire(const struct homid_wire_stats *w, struct homi_stats *s);
void homid_wire_add(struct homid_wire_stats *sum, const struct homid_wire_stats *w);

#endif
