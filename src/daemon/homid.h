/* homid.h - the per-node control-plane daemon: options, the server (listen
 * socket, signals, shutdown, statistics file) and its per-client
 * connections (src/daemon/conn.c).  tools/homid.c is the thin main. */
#ifndef HOMI_DAEMON_HOMID_H
#define HOMI_DAEMON_HOMID_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "cplane/homid_proto.h"
#include "homi.h"

struct homid_opts {
    const char *runtime_dir; /* made 0700 if missing; socket homid.sock in it */
    const char *socket;      /* explicit socket path (overrides runtime_dir)  */
    const char *log;         /* log file (stderr when NULL)                  */
    const char *stats;       /* statistics written here on exit              */
    const char *pidfile;     /* written once the socket accepts clients      */
    unsigned max_clients;
    unsigned max_files; /* per client */
    homi_config *cfg;   /* the daemon engine's configuration (owned)       */
};

/* What is kept of a client after it disconnected (for the stats file). */
struct homid_client_rec {
    pid_t pid;
    uid_t uid;
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
};

/* Run the daemon until SIGTERM/SIGINT; returns the exit status. */
int homid_run(const struct homid_opts *o);

/* conn.c: serve one accepted client on its own (detached) thread. */
int homid_conn_start(struct homid_server *s, int fd, pid_t pid, uid_t uid);
/* Record a finished client (called by conn.c under s->lock). */
void homid_server_record(struct homid_server *s, const struct homid_client_rec *r);
/* Live clients' statistics added to sum / rec list (under s->lock). */
void homid_conn_snapshot(struct dconn *c, struct homid_client_rec *out);
struct dconn *homid_conn_next(struct dconn *c);
/* The server's node-wide numbers as wire statistics. */
void homid_node_stats(struct homid_server *s, struct homid_wire_stats *w);

#endif
