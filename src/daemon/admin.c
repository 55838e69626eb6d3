/* admin.c - operators' commands to a running homid (sent by homictl over
 * the same socket): list clients, users, jobs, limits and free resources;
 * change weights and limits at run time; drop a client (its resources are
 * reclaimed); drain (no new clients, exit after the last) and stop.  Any
 * local user may list (a user who is not an operator sees only their own
 * clients); changing anything needs root or homid's own uid. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "daemon/homid.h"
#include "paths/delegated.h"

static int is_operator(uid_t peer)
{
    return peer == 0 || peer == geteuid();
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || !*s) return -1;
    char *e;
    errno = 0;
    unsigned long long x = strtoull(s, &e, 10);
    if (errno || *e || *s == '-') return -1;
    *v = x;
    return 0;
}

static void list(struct homid_server *s, uid_t peer, FILE *out)
{
    int op = is_operator(peer);
    const struct homid_limits *l = &s->lim;
    fprintf(out, "homid %s pid %d node %s: %s, socket %s, up %.1f s%s\n", homi_version(),
            (int)getpid(), s->node, s->o.node ? "node service" : "per-job daemon", s->sock_path,
            (double)(homi_now_ns() - s->t0_ns) / 1e9,
            atomic_load(&s->draining) ? ", DRAINING" : "");
    fprintf(out,
            "limits (0: none): user-clients %u  user-shm %" PRIu64 " MiB  job-shm %" PRIu64
            " MiB  node-shm %" PRIu64 " MiB  inflight %" PRIu64
            " MiB  client-timeout %u s  gpu-queues %u  user-gpu-queues %u  user-qpairs %u  "
            "job-qpairs %u\n",
            l->user_clients, l->user_shm >> 20, l->job_shm >> 20, l->node_shm >> 20,
            l->inflight >> 20, l->client_timeout, l->gpu_queues, l->user_gpu_queues, l->user_qpairs,
            l->job_qpairs);
    pthread_mutex_lock(&s->share_lock);
    uint64_t infl = s->inflight;
    pthread_mutex_unlock(&s->share_lock);
    unsigned live = 0;
    for (struct dconn *c = s->conns; c; c = homid_conn_next(c))
        live += !homid_conn_is_admin(c);
    fprintf(out,
            "resources: shared memory %" PRIu64 " of %" PRIu64 " MiB granted, %" PRIu64
            " MiB free; in flight %" PRIu64 " of %" PRIu64 " KiB; clients %u now, %" PRIu64
            " since start; refused for lack of resources %" PRIu64 "\n",
            s->shm_used >> 20, l->node_shm >> 20,
            (l->node_shm > s->shm_used ? l->node_shm - s->shm_used : 0) >> 20, infl >> 10,
            l->inflight >> 10, live, s->clients_total, s->refused_busy);
    fprintf(out, "gpu queues: %u of %u in use, %" PRIu64 " created since start\n", s->gpu_queues,
            l->gpu_queues, s->gpu_queues_total);
    unsigned qt, qg;
    if (homi_delegated_inventory(s->eng, &qt, &qg) == HOMI_OK)
        fprintf(out,
                "delegated queue pairs: %u of %u granted, %u shared, %" PRIu64
                " grants since start\n",
                qg, qt, qt - qg, s->qpairs_total);
    fprintf(out, "clients:\n  %-8s %-6s %-16s %5s %8s %5s %6s %12s %9s %7s %14s %7s %6s\n", "pid",
            "uid", "job", "slots", "slot_KiB", "files", "weight", "inflight_KiB", "requests",
            "refused", "bytes", "idle_s", "qpairs");
    for (struct dconn *c = s->conns; c; c = homid_conn_next(c)) {
        if (homid_conn_is_admin(c)) continue;
        struct homid_conn_view v;
        homid_conn_view(c, &v);
        if (!op && v.uid != peer) continue;
        fprintf(out,
                "  %-8d %-6d %-16s %5u %8u %5u %6u %12" PRIu64 " %9" PRIu64 " %7" PRIu64
                " %14" PRIu64 " %7.1f %6u\n",
                (int)v.pid, (int)v.uid, v.job && v.job[0] ? v.job : "-", v.slots, v.slot_size >> 10,
                v.files, v.weight, v.inflight >> 10, v.requests, v.refused, v.bytes, v.idle_s,
                v.qpairs);
        /* the paths its bytes took (its open and closed files) */
        struct homid_client_rec r;
        homid_conn_snapshot(c, &r);
        int any = 0;
        fprintf(out, "           paths:");
        for (int p = 0; p < HOMI_PATH_COUNT && p < HOMID_W_PATHS; p++)
            if (r.served.reqs[p]) {
                fprintf(out, "%s %s %" PRIu64 " bytes", any ? "," : "", homi_path_name(p),
                        r.served.bytes[p]);
                any = 1;
            }
        fprintf(out, "%s\n", any ? "" : " none yet");
        struct homid_dq_view dv[HOMID_DQ_PER_CLIENT];
        unsigned nq = homid_conn_queues(c, dv, HOMID_DQ_PER_CLIENT);
        for (unsigned k = 0; k < nq; k++)
            fprintf(out,
                    "           gpu queue %u: %u slots, %u KiB inline, %u x %u KiB chunks, %u "
                    "threads; requests %" PRIu64 " (inline %" PRIu64 ", bulk %" PRIu64
                    "), bytes %" PRIu64 ", errors %" PRIu64 ", refused %" PRIu64 "\n",
                    dv[k].id, dv[k].slots, dv[k].inline_max >> 10, dv[k].chunks,
                    dv[k].chunk_size >> 10, dv[k].threads, dv[k].requests, dv[k].inline_reqs,
                    dv[k].bulk_reqs, dv[k].bytes, dv[k].errors, dv[k].refused);
    }
    fprintf(out, "users:\n  %-6s %7s %8s %6s %8s %10s %6s\n", "uid", "clients", "shm_MiB", "weight",
            "refused", "gpu_queues", "qpairs");
    for (struct homid_acct *a = s->accts; a; a = a->next)
        if (!a->is_job && (op || a->uid == peer))
            fprintf(out, "  %-6d %7u %8" PRIu64 " %6u %8" PRIu64 " %10u %6u\n", (int)a->uid,
                    a->clients, a->shm >> 20, a->weight ? a->weight : 1, a->refused, a->gpu_queues,
                    a->qpairs);
    fprintf(out, "jobs:\n  %-16s %-6s %7s %8s %8s %6s\n", "job", "uid", "clients", "shm_MiB",
            "refused", "qpairs");
    for (struct homid_acct *a = s->accts; a; a = a->next)
        if (a->is_job && (op || a->uid == peer))
            fprintf(out, "  %-16s %-6d %7u %8" PRIu64 " %8" PRIu64 " %6u\n", a->job, (int)a->uid,
                    a->clients, a->shm >> 20, a->refused, a->qpairs);
    if (op) {
        struct homid_wire_stats w;
        homid_node_stats(s, &w);
        fprintf(out, "node paths:");
        for (int p = 0; p < HOMI_PATH_COUNT && p < HOMID_W_PATHS; p++)
            if (w.reqs[p]) fprintf(out, " %s %" PRIu64 " bytes", homi_path_name(p), w.bytes[p]);
        fprintf(out, "; refused messages/requests %" PRIu64 "\n", w.refused);
    }
}

static struct dconn *find_pid(struct homid_server *s, long pid)
{
    for (struct dconn *c = s->conns; c; c = homid_conn_next(c)) {
        pid_t p;
        uid_t u;
        homid_conn_who(c, &p, &u);
        if (!homid_conn_is_admin(c) && (long)p == pid) return c;
    }
    return NULL;
}

static int set_limit(struct homid_server *s, const char *key, const char *val, FILE *out)
{
    uint64_t v;
    if (parse_u64(val, &v)) {
        fprintf(out, "limit %s: \"%s\" is not a number\n", key, val ? val : "");
        return HOMI_EINVAL;
    }
    struct homid_limits *l = &s->lim;
    if (!strcmp(key, "user-clients")) {
        l->user_clients = (unsigned)v;
    } else if (!strcmp(key, "user-shm")) {
        l->user_shm = v << 20;
    } else if (!strcmp(key, "job-shm")) {
        l->job_shm = v << 20;
    } else if (!strcmp(key, "node-shm")) {
        l->node_shm = v << 20;
    } else if (!strcmp(key, "inflight")) {
        pthread_mutex_lock(&s->share_lock);
        l->inflight = v << 20;
        pthread_mutex_unlock(&s->share_lock);
    } else if (!strcmp(key, "client-timeout")) {
        l->client_timeout = (unsigned)v;
    } else if (!strcmp(key, "gpu-queues")) {
        l->gpu_queues = (unsigned)v;
    } else if (!strcmp(key, "user-gpu-queues")) {
        l->user_gpu_queues = (unsigned)v;
    } else if (!strcmp(key, "user-qpairs")) {
        l->user_qpairs = (unsigned)v;
    } else if (!strcmp(key, "job-qpairs")) {
        l->job_qpairs = (unsigned)v;
    } else {
        fprintf(out,
                "limit %s: unknown (user-clients, user-shm, job-shm, node-shm, inflight, "
                "client-timeout, gpu-queues, user-gpu-queues, user-qpairs, job-qpairs)\n",
                key);
        return HOMI_EINVAL;
    }
    fprintf(out, "limit %s = %s\n", key, val);
    return 0;
}

int homid_admin(struct homid_server *s, uid_t peer, const char *cmd, FILE *out)
{
    char buf[HOMID_PAYLOAD_MAX + 1], *save = NULL;
    snprintf(buf, sizeof buf, "%s", cmd);
    char *w[4] = {0};
    int n = 0;
    for (char *t = strtok_r(buf, " \t\n", &save); t && n < 4; t = strtok_r(NULL, " \t\n", &save))
        w[n++] = t;
    if (!n) {
        fprintf(out, "empty command\n");
        return HOMI_EINVAL;
    }
    if (!strcmp(w[0], "ping")) {
        fprintf(out, "homid %s pid %d node %s %s\n", homi_version(), (int)getpid(), s->node,
                s->o.node ? "node" : "job");
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (!strcmp(w[0], "list")) {
        list(s, peer, out);
    } else if (!is_operator(peer)) {
        fprintf(out, "%s: only root or homid's user (uid %d) may change homid; uid %d may list\n",
                w[0], (int)geteuid(), (int)peer);
        rc = HOMI_EACCES;
    } else if (!strcmp(w[0], "weight") && n == 4 && !strcmp(w[1], "uid")) {
        uint64_t uid, wt;
        struct homid_acct *a = NULL;
        if (parse_u64(w[2], &uid) || parse_u64(w[3], &wt) || !wt || wt > 1000 ||
            !(a = homid_acct_get(s, 0, (uid_t)uid, NULL))) {
            fprintf(out, "weight uid UID W: W from 1 to 1000\n");
            rc = HOMI_EINVAL;
        } else {
            a->weight = (unsigned)wt;
            unsigned k = 0;
            for (struct dconn *c = s->conns; c; c = homid_conn_next(c)) {
                pid_t p;
                uid_t u;
                homid_conn_who(c, &p, &u);
                if (!homid_conn_is_admin(c) && u == (uid_t)uid) {
                    homid_conn_set_weight(c, (unsigned)wt);
                    k++;
                }
            }
            fprintf(out, "weight of uid %d = %u (%u live clients)\n", (int)uid, (unsigned)wt, k);
        }
    } else if (!strcmp(w[0], "weight") && n == 3) {
        uint64_t pid, wt;
        struct dconn *c = NULL;
        if (parse_u64(w[1], &pid) || parse_u64(w[2], &wt) || !wt || wt > 1000) {
            fprintf(out, "weight PID W: W from 1 to 1000\n");
            rc = HOMI_EINVAL;
        } else if (!(c = find_pid(s, (long)pid))) {
            fprintf(out, "weight: no client with pid %s\n", w[1]);
            rc = HOMI_ENOENT;
        } else {
            homid_conn_set_weight(c, (unsigned)wt);
            fprintf(out, "weight of pid %s = %u\n", w[1], (unsigned)wt);
        }
    } else if (!strcmp(w[0], "limit") && n == 3) {
        rc = set_limit(s, w[1], w[2], out);
    } else if (!strcmp(w[0], "drop") && n == 2) {
        uint64_t pid;
        struct dconn *c = parse_u64(w[1], &pid) ? NULL : find_pid(s, (long)pid);
        if (!c) {
            fprintf(out, "drop: no client with pid %s\n", w[1]);
            rc = HOMI_ENOENT;
        } else {
            homid_conn_drop(c);
            fprintf(out, "dropping pid %s: its requests finish, its resources are reclaimed\n",
                    w[1]);
        }
    } else if (!strcmp(w[0], "drain") && n == 1) {
        atomic_store(&s->draining, 1);
        unsigned live = 0;
        for (struct dconn *c = s->conns; c; c = homid_conn_next(c))
            live += !homid_conn_is_admin(c);
        fprintf(out, "draining: no new clients; homid exits after the last of %u\n", live);
        if (!live) homid_server_stop(s);
    } else if (!strcmp(w[0], "stop") && n == 1) {
        fprintf(out, "stopping: requests in flight finish, clients are closed\n");
        homid_server_stop(s);
    } else {
        fprintf(out,
                "unknown command \"%s\" (ping, list, weight PID W, weight uid UID W, limit KEY "
                "VALUE, drop PID, drain, stop)\n",
                cmd);
        rc = HOMI_EINVAL;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}
