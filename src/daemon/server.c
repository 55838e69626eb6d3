/* server.c - homid's server: the runtime directory and socket (per job:
 * directory 0700, socket 0600, peers of other uids refused with
 * SO_PEERCRED; node service: directory 0755, socket 0666, every local user
 * served and SO_PEERCRED kept for accounting; or a listening socket handed
 * over by systemd), the daemon engine, accepting clients, SIGTERM/SIGINT
 * and homictl's stop (requests in flight finish, clients are closed,
 * statistics are written), and the statistics file homi-run summarises
 * (with the delegated controller's counters when homid owns one). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"
#include "daemon/homid.h"
#include "homi_nvme.h"
#include "paths/delegated.h"

#define REC_MAX 4096u

void homid_server_record(struct homid_server *s, const struct homid_client_rec *r)
{
    if (r->reported_ok) homid_wire_add(&s->reported_sum, &r->reported);
    if (s->nrecs < REC_MAX) {
        struct homid_client_rec *n = realloc(s->recs, (s->nrecs + 1) * sizeof *n);
        if (!n) return;
        s->recs = n;
        s->recs[s->nrecs++] = *r;
    }
}

void homid_node_stats(struct homid_server *s, struct homid_wire_stats *w)
{
    homi_stats st;
    homi_engine_stats(s->eng, &st);
    homid_stats_to_wire(&st, w);
    w->refused = atomic_load(&s->refused);
}

/* ---------------------------------------------------------------- runtime dir, socket */

static int check_dir(const char *dir, int node)
{
    struct stat st;
    mode_t want = node ? 0755 : 0700;
    if (mkdir(dir, want) && errno != EEXIST) {
        homi_log(HOMI_LOG_ERROR, "runtime directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (lstat(dir, &st) || !S_ISDIR(st.st_mode)) {
        homi_log(HOMI_LOG_ERROR, "runtime directory %s is not a directory", dir);
        return -1;
    }
    if (node && st.st_uid == geteuid() && (st.st_mode & 07777) != 0755) chmod(dir, 0755);
    if (lstat(dir, &st) || st.st_uid != geteuid() || (st.st_mode & (node ? 022 : 077))) {
        homi_log(HOMI_LOG_ERROR,
                 "runtime directory %s must be owned by uid %d with mode %s (is uid %d, %04o)", dir,
                 (int)geteuid(), node ? "0755" : "0700", (int)st.st_uid,
                 (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

/* systemd socket activation: the listening socket is descriptor 3 when
 * LISTEN_PID names this process (sd_listen_fds(3), without libsystemd). */
static int activated_socket(void)
{
    const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
    if (!pid || !n || strtol(pid, NULL, 10) != (long)getpid() || strtol(n, NULL, 10) < 1) return -1;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    int fd = 3, type = 0, acc = 0;
    socklen_t l = sizeof type, l2 = sizeof acc;
    struct sockaddr_un sa;
    socklen_t sl = sizeof sa;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) || type != SOCK_SEQPACKET ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l2) || !acc ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) || sa.sun_family != AF_UNIX) {
        homi_log(HOMI_LOG_ERROR, "socket activation: descriptor 3 is not a listening "
                                 "SOCK_SEQPACKET UNIX socket (ListenSequentialPacket=)");
        return -2;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

static int listen_on(struct homid_server *s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, s->sock_path, strlen(s->sock_path) + 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    /* a socket file left by a dead daemon is replaced; a live one is not */
    struct stat st;
    if (lstat(s->sock_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            homi_log(HOMI_LOG_ERROR, "%s exists and is not a socket", s->sock_path);
            close(fd);
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            homi_log(HOMI_LOG_ERROR, "another homid is serving %s", s->sock_path);
            close(fd);
            return -1;
        }
        close(fd);
        unlink(s->sock_path);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
    }
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc || chmod(s->sock_path, s->o.node ? 0666 : 0600) || listen(fd, 128)) {
        homi_log(HOMI_LOG_ERROR, "listen on %s: %s", s->sock_path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void accept_one(struct homid_server *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    struct ucred cr;
    socklen_t len = sizeof cr;
    const char *why = NULL;
    char buf[96];
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
        why = "no peer credentials";
    } else if (!s->o.node && cr.uid != geteuid() && cr.uid != 0) {
        snprintf(buf, sizeof buf, "uid %d is not the job's user (uid %d)", (int)cr.uid,
                 (int)geteuid());
        why = buf;
    } else if (atomic_load(&s->draining)) {
        why = "homid is draining: no new clients";
    } else if (s->nconns >= s->o.max_clients) {
        snprintf(buf, sizeof buf, "more than %u clients", s->o.max_clients);
        why = buf;
    }
    if (!why && homid_conn_start(s, fd, cr.pid, cr.uid) == HOMI_OK) return;
    if (!why) why = "out of resources";
    atomic_fetch_add(&s->refused, 1);
    homi_log(HOMI_LOG_WARN, "client pid %d refused: %s", (int)cr.pid, why);
    struct homid_error e = {HOMI_EACCES, ""};
    snprintf(e.text, sizeof e.text, "%s", why);
    (void)homid_send(fd, HOMID_ERROR, 0, &e, (uint32_t)(sizeof e.code + strlen(e.text)), NULL, 0);
    close(fd);
}

/* ---------------------------------------------------------------- statistics file */

static void put_wire(FILE *f, const char *prefix, const struct homid_wire_stats *w, double secs)
{
    for (int p = 0; p < HOMI_PATH_COUNT && p < HOMID_W_PATHS; p++)
        if (w->reqs[p] || w->bytes[p])
            fprintf(f, "%spath %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %.3f\n", prefix,
                    homi_path_name(p), w->bytes[p], w->reqs[p], w->ns[p],
                    secs > 0 ? (double)w->bytes[p] / secs / 1e9 : 0.0);
    for (int r = 0; r < HOMI_FB_COUNT && r < HOMID_W_FB; r++)
        if (w->fb[r])
            fprintf(f, "%sfallback %s %" PRIu64 "\n", prefix, homi_fallback_name(r), w->fb[r]);
    fprintf(f,
            "%stotals reads %" PRIu64 " read_bytes %" PRIu64 " errors %" PRIu64
            " nvme_cmds %" PRIu64 " map_builds %" PRIu64 " daemon_bytes %" PRIu64 "\n",
            prefix, w->reads, w->read_bytes, w->errors, w->nvme_cmds, w->map_builds,
            w->daemon_bytes);
}

static void write_stats(struct homid_server *s)
{
    if (!s->o.stats) return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->o.stats);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        homi_log(HOMI_LOG_ERROR, "stats file %s: %s", tmp, strerror(errno));
        return;
    }
    double secs = (double)(homi_now_ns() - s->t0_ns) / 1e9;
    struct homid_wire_stats node;
    homid_node_stats(s, &node);
    fprintf(f, "# homid statistics, format 1\n");
    fprintf(f, "node %s\npid %d\nseconds %.3f\nclients %" PRIu64 "\nrefused %" PRIu64 "\n", s->node,
            (int)getpid(), secs, s->clients_total, (uint64_t)node.refused);
    put_wire(f, "node ", &node, secs);
    put_wire(f, "reported ", &s->reported_sum, secs);
    struct homi_nvme_stats d;
    if (homi_delegated_stats(s->eng, &d) == HOMI_OK)
        fprintf(f,
                "delegated reads %" PRIu64 " refused %" PRIu64 " cmds %" PRIu64
                " cmd_errors %" PRIu64 " bytes_nvme %" PRIu64 " bytes_kernel %" PRIu64
                " bytes_zero %" PRIu64 "\n",
                d.reads, d.refused, d.cmds_completed, d.cmd_errors, d.bytes_nvme, d.bytes_kernel,
                d.bytes_zero);
    for (unsigned i = 0; i < s->nrecs; i++) {
        const struct homid_client_rec *r = &s->recs[i];
        char pre[64];
        snprintf(pre, sizeof pre, "client %d ", (int)r->pid);
        fprintf(f, "%suid %d requests %" PRIu64 " refused %" PRIu64 " job %s\n", pre, (int)r->uid,
                r->requests, r->refused, r->job[0] ? r->job : "-");
        put_wire(f, pre, &r->served, secs);
    }
    fclose(f);
    if (rename(tmp, s->o.stats)) homi_log(HOMI_LOG_ERROR, "stats file: %s", strerror(errno));
}

/* ---------------------------------------------------------------- main loop */

int homid_run(const struct homid_opts *o)
{
    struct homid_server S, *s = &S;
    memset(s, 0, sizeof *s);
    s->o = *o;
    s->lfd = s->sig_fd = s->stop_efd = -1;
    s->t0_ns = homi_now_ns();
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->gone, NULL);
    homi_node_name(s->node, sizeof s->node);
    s->lim = o->lim;
    pthread_mutex_init(&s->share_lock, NULL);
    int act = activated_socket();
    if (act == -2) return 1;
    if (act >= 0) {
        struct sockaddr_un sa;
        socklen_t sl = sizeof sa;
        memset(&sa, 0, sizeof sa);
        getsockname(act, (struct sockaddr *)&sa, &sl);
        snprintf(s->sock_path, sizeof s->sock_path, "%s", sa.sun_path);
        s->activated = 1;
    } else if (o->socket) {
        snprintf(s->sock_path, sizeof s->sock_path, "%s", o->socket);
    } else if (o->runtime_dir) {
        if (check_dir(o->runtime_dir, o->node)) return 1;
        if (snprintf(s->sock_path, sizeof s->sock_path, "%s/homid.sock", o->runtime_dir) >=
            (int)sizeof s->sock_path) {
            homi_log(HOMI_LOG_ERROR, "runtime directory path too long for a socket");
            return 1;
        }
    } else {
        homi_log(HOMI_LOG_ERROR, "no runtime directory or socket given");
        return 1;
    }
    /* signals go to the signalfd; every thread created later inherits the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    s->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
    s->stop_efd = eventfd(0, EFD_CLOEXEC);
    int rc = homi_engine_create(o->cfg, &s->eng);
    if (rc) {
        homi_log(HOMI_LOG_ERROR, "engine: %s", homi_strerror(rc));
        return 1;
    }
    /* a controller named for delegation that cannot be owned is an error,
     * not a quiet fallback */
    if (s->eng->cfg.delegate[0] && !s->eng->paths[HOMI_PATH_DELEGATED].ok) {
        homi_log(HOMI_LOG_ERROR, "delegated controller %s: %s", s->eng->cfg.delegate,
                 s->eng->paths[HOMI_PATH_DELEGATED].why);
        homi_engine_destroy(s->eng);
        return 1;
    }
    s->lfd = s->activated ? act : listen_on(s);
    if (s->lfd < 0 || s->sig_fd < 0 || s->stop_efd < 0) {
        homi_engine_destroy(s->eng);
        return 1;
    }
    char why[160];
    if (o->pidfile) {
        FILE *pf = fopen(o->pidfile, "w");
        if (pf) {
            fprintf(pf, "%d\n", (int)getpid());
            fclose(pf);
        }
    }
    homi_log(HOMI_LOG_INFO, "homid %s pid %d serving %s on node %s (homi_path %s, %s%s)",
             homi_version(), (int)getpid(), s->sock_path, s->node,
             homi_config_get(o->cfg, "homi_path", why, sizeof why) == 0 ? why : "?",
             o->node ? "node service: every local user" : "per job: its user only",
             s->activated ? ", socket from systemd" : "");
    int sig = 0;
    uint64_t busy_ns = homi_now_ns(); /* last time a client was connected */
    while (!sig) {
        struct pollfd p[2] = {{s->lfd, POLLIN, 0}, {s->sig_fd, POLLIN, 0}};
        if (poll(p, 2, o->idle_exit ? 1000 : -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (o->idle_exit) { /* a job's node homid started on demand: gone when idle */
            pthread_mutex_lock(&s->lock);
            unsigned n = s->nconns;
            pthread_mutex_unlock(&s->lock);
            uint64_t now = homi_now_ns();
            if (n) busy_ns = now;
            if (now - busy_ns > (uint64_t)o->idle_exit * 1000000000ull) {
                homi_log(HOMI_LOG_INFO, "homid: no client for %u s: exiting", o->idle_exit);
                sig = SIGTERM;
                break;
            }
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(s->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) sig = (int)si.ssi_signo;
        }
        if (!sig && (p[0].revents & POLLIN)) accept_one(s);
    }
    homi_log(HOMI_LOG_INFO, "homid: signal %d: draining %u clients", sig, s->nconns);
    close(s->lfd);
    if (!s->activated) unlink(s->sock_path); /* systemd's socket stays for the next start */
    uint64_t one = 1;
    (void)!write(s->stop_efd, &one, sizeof one);
    pthread_mutex_lock(&s->lock);
    while (s->nconns)
        pthread_cond_wait(&s->gone, &s->lock);
    pthread_mutex_unlock(&s->lock);
    write_stats(s);
    homi_stats st;
    homi_engine_stats(s->eng, &st);
    double secs = (double)(homi_now_ns() - s->t0_ns) / 1e9;
    homi_log(HOMI_LOG_INFO,
             "homid: exiting after %.1f s, %" PRIu64 " clients, %" PRIu64 " bytes served", secs,
             s->clients_total, st.read_bytes);
    homi_engine_destroy(s->eng);
    if (o->pidfile) unlink(o->pidfile);
    close(s->sig_fd);
    close(s->stop_efd);
    free(s->recs);
    while (s->accts) {
        struct homid_acct *a = s->accts;
        s->accts = a->next;
        free(a);
    }
    pthread_mutex_destroy(&s->share_lock);
    return 0;
}

void homid_server_stop(struct homid_server *s)
{
    kill(getpid(), SIGTERM); /* the main loop's signalfd takes it */
}
