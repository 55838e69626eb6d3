/* homid_test.h - helpers for the homid tests: start and stop a homid
 * process in a private runtime directory, and a raw protocol client that
 * can send what libhomi never would. */
#ifndef HOMID_TEST_H
#define HOMID_TEST_H

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "cplane/homid_proto.h"
#include "homi_test.h"

struct t_homid {
    pid_t pid;
    char dir[4096], sock[4200], log[4200], stats[4200], pidfile[4200];
};

/* Start BIN --runtime-dir DIR/run ...; waits until it accepts clients. */
static inline void t_homid_start(struct t_homid *d, const char *bin, const char *dir,
                                 const char *extra)
{
    snprintf(d->dir, sizeof d->dir, "%s/run", dir);
    snprintf(d->sock, sizeof d->sock, "%s/homid.sock", d->dir);
    snprintf(d->log, sizeof d->log, "%s/homid.log", dir);
    snprintf(d->stats, sizeof d->stats, "%s/homid.stats", dir);
    snprintf(d->pidfile, sizeof d->pidfile, "%s/homid.pid", dir);
    unlink(d->pidfile);
    d->pid = fork();
    REQUIRE(d->pid >= 0, "fork: %s", strerror(errno));
    if (d->pid == 0) {
        execl(bin, bin, "--runtime-dir", d->dir, "--log", d->log, "--stats", d->stats, "--pidfile",
              d->pidfile, extra ? extra : (char *)NULL, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        if (access(d->pidfile, F_OK) == 0) return;
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            d->pid = 0;
            REQUIRE(0, "homid exited at start (status 0x%x); log %s", st, d->log);
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    REQUIRE(0, "homid did not start within 10 s (log %s)", d->log);
}

/* SIGTERM, wait; returns the exit status (or -signal). */
static inline int t_homid_stop(struct t_homid *d)
{
    if (d->pid <= 0) return -1;
    kill(d->pid, SIGTERM);
    int st = 0;
    waitpid(d->pid, &st, 0);
    d->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static inline int t_homid_alive(const struct t_homid *d)
{
    return d->pid > 0 && kill(d->pid, 0) == 0 && waitpid(d->pid, NULL, WNOHANG) == 0;
}

static inline void t_show_log(const struct t_homid *d)
{
    FILE *f = fopen(d->log, "r");
    if (!f) return;
    char line[512];
    fprintf(stderr, "---- %s\n", d->log);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

/* ------------------------------------------------------------ raw client */

struct t_raw {
    int sock, sq_efd, cq_efd;
    void *shm;
    size_t size;
    struct homid_shm_hdr *hdr;
    struct homid_sqe *sq;
    struct homid_cqe *cq;
    char *data;
    uint32_t sq_tail, cq_head, seq;
};

static inline int t_raw_connect(struct t_raw *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->sq_efd = r->cq_efd = -1;
    r->sock = homid_connect(path);
    return r->sock < 0 ? -1 : 0;
}

/* Next message from homid: its type (HOMID_ERROR code in *code), 0 on EOF,
 * negative on timeout/error. */
static inline int t_raw_recv(struct t_raw *r, struct homid_msg *m, int *fds, unsigned *nfds)
{
    char buf[HOMID_RECV_CAP];
    int lfds[HOMID_MAX_FDS];
    unsigned ln = 0;
    long n = homid_recv(r->sock, buf, sizeof buf, fds ? fds : lfds, nfds ? nfds : &ln, 5000);
    if (n <= 0) return (int)n;
    char why[160];
    if (homid_parse(buf, (size_t)n, nfds ? *nfds : ln, m, why, sizeof why)) {
        fprintf(stderr, "raw client: bad message from homid: %s\n", why);
        return -100;
    }
    return m->h.type;
}

/* Expect an error reply; returns its code (or 1 if something else came). */
static inline int t_raw_expect_error(struct t_raw *r)
{
    struct homid_msg m;
    int t = t_raw_recv(r, &m, NULL, NULL);
    if (t != HOMID_ERROR) return 1;
    printf("    homid said: %s (%s)\n", m.u.error.text, homi_strerror(m.u.error.code));
    return m.u.error.code;
}

/* 1 when homid closed the connection within 5 s. */
static inline int t_raw_closed(struct t_raw *r)
{
    char buf[HOMID_RECV_CAP];
    int fds[HOMID_MAX_FDS];
    unsigned n;
    for (;;) {
        long k = homid_recv(r->sock, buf, sizeof buf, fds, &n, 5000);
        for (unsigned i = 0; i < n; i++)
            close(fds[i]);
        if (k == 0) return 1;
        if (k < 0 && k != HOMI_ERANGE) return 0;
    }
}

static inline int t_raw_hello(struct t_raw *r, uint32_t slots, uint32_t slot_size)
{
    struct homid_hello h = {HOMID_VERSION, HOMID_VERSION, (uint32_t)getpid(), slots, slot_size, ""};
    if (homid_send(r->sock, HOMID_HELLO, ++r->seq, &h, sizeof h, NULL, 0)) return -1;
    struct homid_msg m;
    int fds[HOMID_MAX_FDS];
    unsigned n = 0;
    if (t_raw_recv(r, &m, fds, &n) != HOMID_HELLO_OK || n != 3) return -1;
    r->size = m.u.hello_ok.shm_size;
    r->shm = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    close(fds[0]);
    r->sq_efd = fds[1];
    r->cq_efd = fds[2];
    if (r->shm == MAP_FAILED) return -1;
    r->hdr = r->shm;
    if (homid_shm_check(r->hdr, r->size)) return -1;
    r->sq = (struct homid_sqe *)((char *)r->shm + r->hdr->sq_off);
    r->cq = (struct homid_cqe *)((char *)r->shm + r->hdr->cq_off);
    r->data = (char *)r->shm + r->hdr->data_off;
    return 0;
}

/* OPEN with descriptor fd (-1: none); the file id, or a negative homi_err. */
static inline long t_raw_open(struct t_raw *r, int fd)
{
    struct homid_open o = {0, 0};
    if (homid_send(r->sock, HOMID_OPEN, ++r->seq, &o, sizeof o, fd >= 0 ? &fd : NULL,
                   fd >= 0 ? 1 : 0))
        return HOMI_EIO;
    struct homid_msg m;
    int t = t_raw_recv(r, &m, NULL, NULL);
    if (t == HOMID_OPEN_OK) return m.u.open_ok.file_id;
    if (t == HOMID_ERROR) {
        printf("    homid said: %s\n", m.u.error.text);
        return m.u.error.code;
    }
    return HOMI_EIO;
}

/* Submit one request and wait for its completion; the result. */
static inline int64_t t_raw_read(struct t_raw *r, uint32_t file, uint32_t slot, uint64_t off,
                                 uint32_t len)
{
    uint32_t n = r->hdr->sq_entries;
    struct homid_sqe q = {0x1234500000000ull | slot, off, file, slot, len, HOMI_PATH_AUTO};
    r->sq[r->sq_tail++ & (n - 1)] = q;
    atomic_store(&r->hdr->sq_tail, r->sq_tail);
    uint64_t one = 1;
    (void)!write(r->sq_efd, &one, sizeof one);
    for (int i = 0; i < 500; i++) {
        if (atomic_load(&r->hdr->cq_tail) != r->cq_head) {
            struct homid_cqe c = r->cq[r->cq_head++ & (n - 1)];
            atomic_store(&r->hdr->cq_head, r->cq_head);
            if (c.tag != q.tag) return -1000;
            return c.result;
        }
        struct pollfd p = {r->cq_efd, POLLIN, 0};
        poll(&p, 1, 10);
        if (p.revents) (void)!read(r->cq_efd, &one, sizeof one);
    }
    return -2000; /* no completion within 5 s */
}

static inline void t_raw_close(struct t_raw *r)
{
    if (r->shm && r->shm != MAP_FAILED) munmap(r->shm, r->size);
    if (r->sock >= 0) close(r->sock);
    if (r->sq_efd >= 0) close(r->sq_efd);
    if (r->cq_efd >= 0) close(r->cq_efd);
    memset(r, 0, sizeof *r);
    r->sock = r->sq_efd = r->cq_efd = -1;
}

#endif
