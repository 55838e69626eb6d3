/* homid.h - the per-node control-plane daemon: options, the server (listen
 * socket, signals, shutdown, statistics file), its per-client connections
 * (src/daemon/conn.c), what each client may hold (share.c) and the
 * operators' commands (admin.c).  tools/homid.c is the thin main. */
#ifndef HOMI_DAEMON_HOMID_H
#define HOMI_DAEMON_HOMID_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "cplane/homid_proto.h"
#include "homi.h"

/* Limits of the node service; homictl changes them at run time. */
struct homid_limits {
    unsigned user_clients;    /* connected clients per uid                     */
    uint64_t user_shm;        /* shared-region bytes per uid                   */
    uint64_t job_shm;         /* shared-region bytes per job (0: no limit)     */
    uint64_t node_shm;        /* shared-region bytes of all clients            */
    uint64_t inflight;        /* request bytes in flight, all clients together */
    unsigned client_timeout;  /* seconds a client may leave completions unread */
    unsigned gpu_queues;      /* GPU device queues of all clients (0: none allowed) */
    unsigned user_gpu_queues; /* GPU device queues per uid (0: no limit)       */
    unsigned user_qpairs;     /* delegated queue pairs held per uid (0: no limit) */
    unsigned job_qpairs;      /* delegated queue pairs held per job (0: no limit) */
};

struct homid_opts {
    int node;                /* the node service: every local user is served  */
    const char *runtime_dir; /* made 0700 if missing (0755 with node); socket homid.sock in it */
    const char *socket;      /* explicit socket path (overrides runtime_dir)  */
    const char *log;         /* log file (stderr when NULL)                  */
    const char *stats;       /* statistics written here on exit              */
    const char *pidfile;     /* written once the socket accepts clients      */
    unsigned max_clients;
    unsigned max_files; /* per client */
    unsigned idle_exit; /* exit after this many seconds without a client (0: never) */
    unsigned fast_max;  /* requests up to this size from an otherwise idle
                         * client are read on its thread (0: never) */
    homi_config *cfg;   /* the daemon engine's configuration (owned)       */
    struct homid_limits lim;
};

/* Usage and settings of one uid or one job (share.c). */
struct homid_acct {
    int is_job;
    uid_t uid;
    char job[HOMID_JOB];
    unsigned clients, weight; /* weight 0: the default (1) */
    unsigned gpu_queues;      /* device queues held (users only) */
    unsigned qpairs;          /* delegated queue pairs held */
    uint64_t shm;
    uint64_t bytes, refused;
    struct homid_acct *next;
};

/* A client's part of the in-flight budget (share.c; inside struct dconn). */
struct homid_share {
    uint64_t inflight; /* bytes of its requests in flight */
    unsigned weight;
    int waiting;      /* on the server's waiting list */
    int backlog;      /* refused and not admitted since: it has requests waiting */
    int wake_efd;     /* written to wake the client's thread */
    uint32_t queued;  /* requests left in its ring when it last asked */
    uint64_t vtime;   /* service received / weight (share.c's virtual time) */
    unsigned pending; /* GPU-queue requests taken and waiting to be read */
    struct homid_share *wnext, *anext;
};

/* What is kept of a client after it disconnected (for the stats file). */
struct homid_client_rec {
    pid_t pid;
    uid_t uid;
    char job[HOMID_JOB];
    uint64_t requests, refused;
    struct homid_wire_stats served;   /* what homid did for it */
    struct homid_wire_stats reported; /* what it counted itself (REPORT) */
    int reported_ok;
};

struct dconn;
struct homid_server {
    struct homid_opts o;
    char sock_path[108];
    char node[HOMID_NODE];
    homi_engine *eng;
    int lfd, sig_fd, stop_efd;
    uint64_t t0_ns;

    pthread_mutex_t lock;
    pthread_cond_t gone;
    struct dconn *conns;
    unsigned nconns;
    uint64_t clients_total;
    struct homid_client_rec *recs; /* finished clients, at most REC_MAX */
    unsigned nrecs;
    struct homid_wire_stats reported_sum; /* every client's REPORT */
    atomic_uint_fast64_t refused;         /* refused messages/requests/peers */

    /* node service: limits, grants and the in-flight budget (share.c) */
    int activated;             /* listening socket handed over by systemd */
    atomic_int draining;       /* no new clients; exit when the last one leaves */
    struct homid_limits lim;   /* under lock */
    struct homid_acct *accts;  /* under lock */
    uint64_t shm_used;         /* under lock */
    unsigned gpu_queues;       /* device queues held by all clients (under lock) */
    uint64_t gpu_queues_total; /* created since start (under lock) */
    uint64_t qpairs_total;     /* delegated queue-pair grants since start (under lock) */
    uint64_t refused_busy;     /* clients refused for lack of resources */
    pthread_mutex_t share_lock;
    uint64_t inflight, active_weight;
    struct homid_share *waiters;
    struct homid_share *shares; /* every client's, for the virtual-time gate */
};

/* vf_setup.c: --delegate-vf CTRL[:VFN]: prepare that SR-IOV VF with the
 * resources of the hints homi_vf_queues / homi_vf_interrupts and make it
 * cfg's homi_delegate.  0 or a negative homi_err, the reason in why. */
int homid_vf_setup(homi_config *cfg, const char *spec, char *why, size_t whylen);

/* Run the daemon until SIGTERM/SIGINT; returns the exit status. */
int homid_run(const struct homid_opts *o);
/* Stop the daemon as SIGTERM does (admin "stop"). */
void homid_server_stop(struct homid_server *s);

/* conn.c: serve one accepted client on its own (detached) thread. */
int homid_conn_start(struct homid_server *s, int fd, pid_t pid, uid_t uid);
/* What admin.c lists and changes of a live client (under s->lock). */
struct homid_conn_view {
    pid_t pid;
    uid_t uid;
    const char *job;
    uint32_t slots, slot_size;
    unsigned files, weight, qpairs;
    uint64_t inflight, requests, refused, bytes;
    double idle_s; /* seconds since it last consumed a completion (0: none pending) */
};
void homid_conn_view(struct dconn *c, struct homid_conn_view *v);
void homid_conn_set_weight(struct dconn *c, unsigned w);
int homid_conn_is_admin(const struct dconn *c);                     /* an operator's connection */
void homid_conn_who(const struct dconn *c, pid_t *pid, uid_t *uid); /* its peer */
void homid_conn_drop(struct dconn *c); /* reclaim it now (its thread closes it) */
/* The open file file_id of client c, held until homid_conn_unhold (a close
 * waits for it), or NULL when c has no such file open.  Any thread. */
struct homi_fh *homid_conn_hold(struct dconn *c, uint32_t file_id);
void homid_conn_unhold(struct dconn *c);
void homid_conn_count_refused(struct dconn *c);
/* A GPU queue's read of len bytes waits for its client's turn (share.c: the
 * in-flight budget and the virtual-time gate, by the client's weight, as
 * for its ring's requests); 0, or -1 when *stop is set while waiting.
 * homid_conn_share_end when the read is over. */
int homid_conn_share_begin(struct dconn *c, uint64_t len, atomic_int *stop);
void homid_conn_share_end(struct dconn *c, uint64_t len);
/* Requests of c's GPU queues waiting for their reads (homid_share_pending). */
void homid_conn_share_pending(struct dconn *c, int delta);
/* The device queues of c, for admin.c's list (under s->lock). */
struct homid_dq_view {
    unsigned id, slots, inline_max, chunks, chunk_size, threads;
    uint64_t requests, bytes, errors, refused, inline_reqs, bulk_reqs;
};
unsigned homid_conn_queues(struct dconn *c, struct homid_dq_view *v, unsigned max);

/* devq_serve.c: a client's GPU device queue (cplane/homid_devq.h).  create
 * takes efd (closed on failure, with the reason in why); destroy stops its
 * threads and waits for its reads before it unmaps the region. */
#define HOMID_DQ_PER_CLIENT 4
struct homid_dq;
struct homid_dq *homid_dq_create(struct dconn *c, unsigned id, const struct homid_devq_create *p,
                                 int memfd, int efd, char *why, size_t whylen);
unsigned homid_dq_threads(const struct homid_dq *q);
unsigned homid_dq_id(const struct homid_dq *q);
int homid_dq_export(struct homid_dq *q, uint32_t file_id, uint64_t *cap);
int homid_dq_revoke(struct homid_dq *q, uint64_t cap);
/* Stop (1) or restart (0) taking requests from its ring (homi_devq_pause). */
void homid_dq_pause(struct homid_dq *q, int pause);
void homid_dq_forget_file(struct homid_dq *q, uint32_t file_id);
void homid_dq_view(const struct homid_dq *q, struct homid_dq_view *v);
/* 1 when the client has not taken homid's wake-up for timeout_s seconds. */
int homid_dq_stalled(struct homid_dq *q, unsigned timeout_s);
void homid_dq_destroy(struct homid_dq *q);

/* share.c: shared-region grants.  Grant up to want bytes (a multiple of
 * unit, at least min) for a client of uid/job within the limits; 0 with
 * *granted set, or HOMI_EBUSY with the reason in why.  Called under s->lock. */
int homid_grant(struct homid_server *s, uid_t uid, const char *job, uint64_t want, uint64_t min,
                uint64_t unit, uint64_t *granted, char *why, size_t whylen);
void homid_ungrant(struct homid_server *s, uid_t uid, const char *job, uint64_t bytes);
struct homid_acct *homid_acct_get(struct homid_server *s, int is_job, uid_t uid, const char *job);
/* The in-flight budget: may the client start a request of len bytes?  Two
 * rules, both off with an in-flight budget of 0:
 * - virtual time: each client's service (bytes admitted / weight) may run
 *   at most 4 MiB (of weight-1 service) ahead of the least-served busy client, so busy
 *   clients get bytes in the ratio of their weights whatever the bottleneck
 *   (device, engine or the CPU of homid's threads); only busy clients (in
 *   flight or queued in their ring) hold others back, and a client that was
 *   idle starts level with the busy ones, not with credit saved up;
 * - budget: a client with nothing in flight may start one request; others
 *   hold at most budget x weight / (sum of the weights of clients with
 *   requests in flight).
 * When not, the client waits: its wake_efd is written when a request
 * completes; homid_share_retry_ms says how long to wait at most. */
int homid_share_admit(struct homid_server *s, struct homid_share *sh, uint64_t len,
                      uint32_t queued); /* requests in its ring, this one included */
/* A client's share joins the server's list (before its first request). */
void homid_share_join(struct homid_server *s, struct homid_share *sh);
/* Milliseconds a refused client should wait before it asks again when no
 * completion may wake it (the virtual-time gate), or -1: wait for a wake. */
int homid_share_retry_ms(struct homid_server *s, struct homid_share *sh);
void homid_share_done(struct homid_server *s, struct homid_share *sh, uint64_t len);
void homid_share_weight(struct homid_server *s, struct homid_share *sh, unsigned w);
void homid_share_forget(struct homid_server *s, struct homid_share *sh); /* before it is freed */
/* GPU-queue requests of the client waiting for their reads (+1 when one is
 * queued, -1 when its last piece has started): they keep it busy. */
void homid_share_pending(struct homid_server *s, struct homid_share *sh, int delta);

/* admin.c: run one operator command from a peer of uid; the reply text
 * goes to out (a memstream).  Returns 0 or a homi_err (text says why). */
int homid_admin(struct homid_server *s, uid_t peer, const char *cmd, FILE *out);
/* Record a finished client (called by conn.c under s->lock). */
void homid_server_record(struct homid_server *s, const struct homid_client_rec *r);
/* Live clients' statistics added to sum / rec list (under s->lock). */
void homid_conn_snapshot(struct dconn *c, struct homid_client_rec *out);
struct dconn *homid_conn_next(struct dconn *c);
/* The server's node-wide numbers as wire statistics. */
void homid_node_stats(struct homid_server *s, struct homid_wire_stats *w);

#endif
