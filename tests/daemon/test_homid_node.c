/* test_homid_node.c - homid as the node service (--node) for several local
 * users: a real homid run as root, clients in processes that switched to two
 * unprivileged test users (created here when missing, removed afterwards):
 *
 *   users    both users read their own files through homid, equal to pread
 *            and served by homid, while a third client fuzzes the protocol;
 *            neither user can open the other's file; write-only, O_PATH,
 *            directory and device descriptors are refused; a client cannot
 *            use file ids it was not given; homictl list shows a user only
 *            their own clients; only root may change limits
 *   reclaim  kill -9 of a client returns its shared memory; the per-user
 *            client limit (set at run time) refuses a second client, which
 *            then reads in-process (counted as daemon-lost, bytes correct),
 *            until the first is gone; a client that leaves its completions
 *            unread is dropped after the client timeout; drain refuses new
 *            clients and homid exits after the last one
 *   fair     one user floods 1 MiB reads (256 slots in flight), the other
 *            reads 4 KiB one at a time: the second's median and p99 latency
 *            without and with the flood, for homid as configured by default
 *            (small reads of an otherwise idle client on the fast lane, 64 MiB
 *            in flight shared by weight), without the fast lane and without
 *            either; by default the p99 under the flood stays within
 *            HOMI_FAIR_FACTOR (default 25) of the p99 alone (floor 200 us);
 *            then two floods with weights 1 and 4 (homictl weight uid) at
 *            8 MiB in flight: the heavier gets more than 1.5x the bandwidth
 *
 *   test_homid_node HOMID HOMICTL users|reclaim|fair
 * Needs root and useradd (exit 77 otherwise). */
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>

#include "homid_test.h"

static const char *homid_bin, *homictl_bin, *dir;
static char sock[4200], log_path[4200];
static pid_t homid_pid;
static struct passwd ua, ub; /* the two test users */
static char fa[4200], fb[4200];
static int made_users;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ set-up */

static int user_get(const char *name, struct passwd *out)
{
    struct passwd *p = getpwnam(name);
    if (!p) {
        char cmd[256];
        snprintf(cmd, sizeof cmd,
                 "useradd --system --no-create-home --shell /usr/sbin/nologin %s 2>/dev/null",
                 name);
        if (system(cmd) != 0 || !(p = getpwnam(name))) return -1;
        made_users = 1;
    }
    *out = *p;
    out->pw_name = strdup(p->pw_name);
    return 0;
}

static void users_drop(void)
{
    if (!made_users) return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "userdel %s 2>/dev/null; userdel %s 2>/dev/null", ua.pw_name,
             ub.pw_name);
    if (system(cmd)) {}
}

/* DIR/NAME/file: size bytes of random data with a 1 MiB hole, owned by u, 0600
 * in a 0700 directory of u */
static void user_file(const struct passwd *u, const char *name, uint64_t size, char *path)
{
    char d[4200];
    snprintf(d, sizeof d, "%s/%s", dir, name);
    REQUIRE(mkdir(d, 0700) == 0 || errno == EEXIST, "mkdir %s", d);
    REQUIRE(chown(d, u->pw_uid, u->pw_gid) == 0, "chown %s", d);
    snprintf(path, 4200, "%s/file", d);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    REQUIRE(fd >= 0, "create %s", path);
    REQUIRE(ftruncate(fd, (off_t)size) == 0, "truncate");
    const size_t B = 1u << 20;
    char *b = malloc(B);
    for (uint64_t off = 0; off < size; off += B) {
        if (off == (size / 2 & ~(uint64_t)(B - 1))) continue; /* the hole */
        t_fill_random(b, B);
        t_pwrite_all(fd, b, size - off < B ? (size_t)(size - off) : B, (off_t)off);
    }
    free(b);
    REQUIRE(fchown(fd, u->pw_uid, u->pw_gid) == 0, "chown %s", path);
    close(fd);
    /* into the page cache */
    fd = open(path, O_RDONLY);
    b = malloc(B);
    while (read(fd, b, B) > 0) {}
    free(b);
    close(fd);
}

static void homid_start(const char *const *extra)
{
    char run[4200], pidf[4200];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(sock, sizeof sock, "%s/homid.sock", run);
    snprintf(log_path, sizeof log_path, "%s/homid.log", dir);
    snprintf(pidf, sizeof pidf, "%s/homid.pid", dir);
    unlink(pidf);
    const char *argv[32] = {homid_bin, "--node", "--runtime-dir", run,
                            "--log",   log_path, "--pidfile",     pidf};
    int n = 8;
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    homid_pid = fork();
    REQUIRE(homid_pid >= 0, "fork");
    if (!homid_pid) {
        execv(homid_bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 1000 && access(pidf, F_OK); i++)
        usleep(10000);
    REQUIRE(access(pidf, F_OK) == 0, "homid did not start (log %s)", log_path);
}

static int homid_stop(void)
{
    if (homid_pid <= 0) return -1;
    kill(homid_pid, SIGTERM);
    int st = 0;
    waitpid(homid_pid, &st, 0);
    homid_pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run fn(arg) in a child that is user u (NULL: stays root). */
static pid_t as_user(const struct passwd *u, void (*fn)(void *), void *arg)
{
    fflush(stdout);
    pid_t p = fork();
    REQUIRE(p >= 0, "fork");
    if (p) return p;
    if (u && (setgroups(0, NULL) || setgid(u->pw_gid) || setuid(u->pw_uid))) _exit(99);
    setenv("HOMI_SOCKET", sock, 1);
    t_failures = 0;
    fn(arg);
    fflush(stdout);
    _exit(t_failures ? 1 : 0);
}

static int child_rc(pid_t p)
{
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* homictl [as u] ARGS...: exit status, output in out */
static int ctl(const struct passwd *u, char *out, size_t cap, const char *a1, const char *a2,
               const char *a3)
{
    int pfd[2];
    REQUIRE(pipe(pfd) == 0, "pipe");
    pid_t p = fork();
    if (!p) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        if (u && (setgroups(0, NULL) || setgid(u->pw_gid) || setuid(u->pw_uid))) _exit(99);
        execl(homictl_bin, homictl_bin, "--socket", sock, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(pfd[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = 0;
    close(pfd[0]);
    return child_rc(p);
}

/* bytes served per client of uid a and b in a homictl list (columns: pid
 * uid job slots slot_KiB files weight inflight_KiB requests refused bytes
 * idle_s) */
static void bytes_by_uid(const char *list, uid_t a, uid_t b, uint64_t out[2])
{
    out[0] = out[1] = 0;
    for (const char *l = strchr(list, '\n'); l; l = strchr(l + 1, '\n')) {
        int pid, uid;
        char job[128];
        unsigned long long x[7], bytes;
        if (sscanf(l + 1, " %d %d %127s %llu %llu %llu %llu %llu %llu %llu %llu", &pid, &uid, job,
                   &x[0], &x[1], &x[2], &x[3], &x[4], &x[5], &x[6], &bytes) != 11)
            continue;
        if ((uid_t)uid == a) out[0] += bytes;
        if ((uid_t)uid == b) out[1] += bytes;
    }
}

static int listed(const char *list, pid_t pid)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\n  %-8d ", (int)pid);
    return strstr(list, pat) != NULL;
}

static uint64_t shm_granted(void)
{
    char out[16384];
    ctl(NULL, out, sizeof out, "list", NULL, NULL);
    const char *p = strstr(out, "shared memory ");
    return p ? strtoull(p + 14, NULL, 10) : ~0ull;
}

/* ------------------------------------------------------------ clients */

/* libhomi reads of path (random ranges) equal to pread; want: 1 served by
 * homid, 0 refused by homid (in-process, daemon-lost counted) */
struct rd_arg {
    const char *path;
    int iters, want_homid;
};

static void reader(void *v)
{
    struct rd_arg *a = v;
    homi_engine *e;
    REQUIRE(homi_engine_create(NULL, &e) == 0, "engine");
    homi_file *hf;
    REQUIRE(homi_open(e, a->path, HOMI_RDONLY, &hf) == 0, "open %s", a->path);
    int fd = open(a->path, O_RDONLY);
    uint64_t size = (uint64_t)homi_file_size(hf);
    const size_t MAXL = 3u << 20;
    char *x = malloc(MAXL), *y = malloc(MAXL);
    static char ctx[64]; /* the failure context of this (child) process */
    snprintf(ctx, sizeof ctx, "%s / uid %d", t_context, (int)getuid());
    t_context = ctx;
    for (int it = 0; it < a->iters && !t_failures; it++)
        t_verify_range(hf, fd, t_below(size + 4096), (size_t)t_below(MAXL), x, y);
    homi_stats st;
    homi_engine_stats(e, &st);
    if (a->want_homid)
        CHECK(st.daemon_bytes > 0 && st.fallbacks[HOMI_FB_DAEMON_LOST] == 0,
              "uid %d: homid served %llu bytes, daemon-lost %llu", (int)getuid(),
              (unsigned long long)st.daemon_bytes,
              (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST]);
    else
        CHECK(st.daemon_bytes == 0 && st.fallbacks[HOMI_FB_DAEMON_LOST] > 0,
              "uid %d: refused by homid, yet it served %llu bytes (daemon-lost %llu)",
              (int)getuid(), (unsigned long long)st.daemon_bytes,
              (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST]);
    printf("  uid %d: %d reads of %s equal to pread; homid served %llu bytes, daemon-lost %llu\n",
           (int)getuid(), a->iters, a->path, (unsigned long long)st.daemon_bytes,
           (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST]);
    homi_close(hf);
    homi_engine_destroy(e);
    close(fd);
    free(x);
    free(y);
}

/* the other user's file cannot even be opened: nothing to pass to homid */
static void foreign(void *v)
{
    int fd = open((const char *)v, O_RDONLY);
    CHECK(fd < 0 && errno == EACCES, "uid %d opened %s (%s)", (int)getuid(), (const char *)v,
          fd < 0 ? strerror(errno) : "no error");
    if (fd >= 0) close(fd);
}

/* descriptors homid must refuse, file ids this connection was not given */
static void bad_fds(void *v)
{
    const char *own = v;
    struct t_raw r;
    REQUIRE(t_raw_connect(&r, sock) == 0, "connect");
    REQUIRE(t_raw_hello(&r, 8, 256 << 10) == 0, "hello");
    int wo = open(own, O_WRONLY), op = open(own, O_PATH), dd = open(dir, O_RDONLY),
        dev = open("/dev/null", O_RDONLY);
    CHECK(t_raw_open(&r, wo) == HOMI_EBADF, "write-only descriptor accepted");
    CHECK(t_raw_open(&r, op) == HOMI_EBADF, "O_PATH descriptor accepted");
    CHECK(t_raw_open(&r, dd) == HOMI_EISDIR, "directory accepted");
    CHECK(t_raw_open(&r, dev) == HOMI_ENOTREG, "device accepted");
    /* ids: the first id any connection gets, before this one opened anything */
    CHECK(t_raw_read(&r, (1u << 16) | 1, 0, 0, 4096) == HOMI_EBADF,
          "an id never passed was served");
    int fd = open(own, O_RDONLY);
    long id = t_raw_open(&r, fd);
    CHECK(id > 0, "own file refused");
    CHECK(t_raw_read(&r, (uint32_t)id + 1, 0, 0, 4096) == HOMI_EBADF, "the next id was served");
    CHECK(t_raw_read(&r, (uint32_t)id + (1u << 16), 0, 0, 4096) == HOMI_EBADF,
          "an id of another generation was served");
    CHECK(t_raw_read(&r, (uint32_t)id, 1, 4096, 4096) == 4096, "own file not served");
    close(wo);
    close(op);
    close(dd);
    close(dev);
    close(fd);
    t_raw_close(&r);
}

/* random protocol input for secs seconds (records and ring entries) */
static void fuzzer(void *v)
{
    double secs = *(double *)v;
    uint64_t t0 = now_ns();
    unsigned conns = 0;
    while ((double)(now_ns() - t0) / 1e9 < secs) {
        struct t_raw r;
        if (t_raw_connect(&r, sock)) break;
        conns++;
        char buf[1200];
        t_fill_random(buf, sizeof buf);
        unsigned kind = (unsigned)t_below(3);
        if (kind == 0) { /* garbage record */
            (void)!send(r.sock, buf, (size_t)t_below(sizeof buf), MSG_NOSIGNAL);
        } else if (kind == 1) { /* a valid header, random type, length and payload */
            struct homid_hdr h = {HOMID_MAGIC, HOMID_VERSION, (uint16_t)t_below(16),
                                  (uint32_t)t_below(1100), 1};
            memcpy(buf, &h, sizeof h);
            (void)!send(r.sock, buf, sizeof h + (size_t)t_below(1100), MSG_NOSIGNAL);
        } else if (t_raw_hello(&r, 8, 64 << 10) == 0) { /* random requests, ring indices */
            for (int i = 0; i < 64; i++) {
                struct homid_sqe q;
                t_fill_random(&q, sizeof q);
                if (i & 1) q.len = (uint32_t)t_below(70000), q.slot = (uint32_t)t_below(10);
                r.sq[r.sq_tail++ & 7] = q;
            }
            atomic_store(&r.hdr->sq_tail, t_below(4) ? r.sq_tail : (uint32_t)t_below(1u << 31));
            uint64_t one = 1;
            (void)!write(r.sq_efd, &one, sizeof one);
            usleep(2000);
        }
        t_raw_close(&r);
    }
    printf("  uid %d: %u fuzzing connections in %.1f s\n", (int)getuid(), conns, secs);
}

/* a connected client with a file open, holding until its stdin closes */
static void holder(void *v)
{
    struct t_raw r;
    REQUIRE(t_raw_connect(&r, sock) == 0, "connect");
    REQUIRE(t_raw_hello(&r, 64, 1 << 20) == 0, "hello");
    int fd = open((const char *)v, O_RDONLY);
    CHECK(t_raw_open(&r, fd) > 0, "holder: open");
    char c;
    (void)!read(0, &c, 1);
    t_raw_close(&r);
}

static pid_t start_holder(const struct passwd *u, const char *file, int *wfd)
{
    int p[2];
    REQUIRE(pipe(p) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (!pid) {
        dup2(p[0], 0);
        close(p[1]);
        if (setgroups(0, NULL) || setgid(u->pw_gid) || setuid(u->pw_uid)) _exit(99);
        t_failures = 0;
        holder((void *)file);
        _exit(t_failures ? 1 : 0);
    }
    close(p[0]);
    *wfd = p[1];
    usleep(300000); /* connected and opened */
    return pid;
}

/* ------------------------------------------------------------ users */

static void test_users(void)
{
    homid_start(NULL);
    char out[16384];
    CHECK(ctl(&ua, out, sizeof out, "ping", NULL, NULL) == 0 && strstr(out, " node"),
          "homictl ping as a user: %s", out);
    /* both users read; a third client fuzzes meanwhile */
    double secs = 3;
    struct rd_arg ra = {fa, 150, 1}, rb = {fb, 150, 1};
    pid_t fz = as_user(&ub, fuzzer, &secs);
    pid_t pa = as_user(&ua, reader, &ra), pb = as_user(&ub, reader, &rb);
    CHECK(child_rc(pa) == 0, "user a's reads");
    CHECK(child_rc(pb) == 0, "user b's reads");
    CHECK(child_rc(fz) == 0, "fuzzer");
    CHECK(child_rc(as_user(&ua, foreign, fb)) == 0, "a opened b's file");
    CHECK(child_rc(as_user(&ub, foreign, fa)) == 0, "b opened a's file");
    CHECK(child_rc(as_user(&ub, bad_fds, fb)) == 0, "descriptors and ids");
    CHECK(kill(homid_pid, 0) == 0, "homid died");
    /* after the fuzzing, the users are still served */
    ra.iters = rb.iters = 40;
    pa = as_user(&ua, reader, &ra);
    pb = as_user(&ub, reader, &rb);
    CHECK(child_rc(pa) == 0 && child_rc(pb) == 0, "reads after the fuzzing");
    /* homictl: a user lists only their own clients; only root changes limits */
    int w;
    pid_t h = start_holder(&ua, fa, &w);
    CHECK(ctl(NULL, out, sizeof out, "list", NULL, NULL) == 0 && listed(out, h),
          "root's list lacks user a's client %d:\n%s", (int)h, out);
    CHECK(ctl(&ua, out, sizeof out, "list", NULL, NULL) == 0 && listed(out, h),
          "a's list lacks a's client");
    CHECK(ctl(&ub, out, sizeof out, "list", NULL, NULL) == 0 && !listed(out, h),
          "b's list shows a's client");
    CHECK(ctl(&ub, out, sizeof out, "limit", "inflight", "1") == 1 && strstr(out, "only root"),
          "user b changed a limit: %s", out);
    CHECK(ctl(&ub, out, sizeof out, "drop", "1", NULL) == 1, "user b dropped a client");
    CHECK(ctl(NULL, out, sizeof out, "limit", "bogus", "1") == 1, "unknown limit accepted");
    CHECK(ctl(NULL, out, sizeof out, "limit", "inflight", "x") == 1, "bad value accepted");
    CHECK(ctl(NULL, out, sizeof out, "weight", "1", "5000") == 1, "weight 5000 accepted");
    CHECK(ctl(NULL, out, sizeof out, "frobnicate", NULL, NULL) == 1, "unknown command accepted");
    close(w);
    CHECK(child_rc(h) == 0, "holder");
    CHECK(homid_stop() == 0, "homid's exit status");
}

/* ------------------------------------------------------------ reclaim */

static void stall(void *v)
{
    struct t_raw r;
    REQUIRE(t_raw_connect(&r, sock) == 0, "connect");
    REQUIRE(t_raw_hello(&r, 8, 64 << 10) == 0, "hello");
    int fd = open((const char *)v, O_RDONLY);
    long id = t_raw_open(&r, fd);
    CHECK(id > 0, "stall: open");
    for (uint32_t i = 0; i < 8; i++) /* completions never consumed */
        r.sq[r.sq_tail++ & 7] =
            (struct homid_sqe){i, (uint64_t)i << 16, (uint32_t)id, i, 65536, HOMI_PATH_AUTO};
    atomic_store(&r.hdr->sq_tail, r.sq_tail);
    uint64_t one = 1;
    (void)!write(r.sq_efd, &one, sizeof one);
    uint64_t t0 = now_ns();
    int closed = 0;
    for (int i = 0; i < 4 && !closed; i++) /* up to 20 s */
        closed = t_raw_closed(&r);
    printf("  stalled client: %s after %.1f s\n", closed ? "closed by homid" : "NOT closed",
           (double)(now_ns() - t0) / 1e9);
    CHECK(closed, "a client that left its completions unread was not dropped");
    t_raw_close(&r);
}

static void test_reclaim(void)
{
    const char *extra[] = {"--client-timeout", "2", NULL};
    homid_start(extra);
    char out[16384];
    /* kill -9 of a client: its region comes back */
    int w;
    pid_t h = start_holder(&ua, fa, &w);
    uint64_t held = shm_granted();
    CHECK(held >= 64 && held != ~0ull, "holder's region not granted (%llu MiB)",
          (unsigned long long)held);
    kill(h, SIGKILL);
    child_rc(h);
    close(w);
    uint64_t after = ~0ull;
    for (int i = 0; i < 50 && after; i++, usleep(100000))
        after = shm_granted();
    printf("  kill -9 of a client holding %llu MiB: %llu MiB granted afterwards\n",
           (unsigned long long)held, (unsigned long long)after);
    CHECK(after == 0, "shared memory not reclaimed after kill -9 (%llu MiB)",
          (unsigned long long)after);
    CHECK(ctl(NULL, out, sizeof out, "list", NULL, NULL) == 0 && !listed(out, h),
          "killed client still listed");
    /* one client per user: a second one is refused and reads in-process */
    CHECK(ctl(NULL, out, sizeof out, "limit", "user-clients", "1") == 0, "limit: %s", out);
    h = start_holder(&ua, fa, &w);
    struct rd_arg refused = {fa, 30, 0}, served = {fa, 30, 1};
    CHECK(child_rc(as_user(&ua, reader, &refused)) == 0, "reads of a refused client");
    struct rd_arg other = {fb, 30, 1}; /* the limit is per user: b is served */
    CHECK(child_rc(as_user(&ub, reader, &other)) == 0, "user b under a's limit");
    close(w);
    child_rc(h);
    usleep(300000);
    CHECK(child_rc(as_user(&ua, reader, &served)) == 0, "reads once the first client left");
    CHECK(ctl(NULL, out, sizeof out, "limit", "user-clients", "0") == 0, "limit: %s", out);
    /* a client that stops consuming completions is dropped */
    CHECK(child_rc(as_user(&ua, stall, fa)) == 0, "stalled client");
    CHECK(shm_granted() == 0, "stalled client's region not reclaimed");
    /* drop by an operator */
    h = start_holder(&ub, fb, &w);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)h);
    CHECK(ctl(NULL, out, sizeof out, "drop", pid, NULL) == 0, "drop: %s", out);
    usleep(1500000);
    CHECK(ctl(NULL, out, sizeof out, "list", NULL, NULL) == 0 && !listed(out, h),
          "dropped client still listed");
    close(w);
    child_rc(h);
    /* drain: new clients refused, homid exits after the last one */
    h = start_holder(&ua, fa, &w);
    CHECK(ctl(NULL, out, sizeof out, "drain", NULL, NULL) == 0, "drain: %s", out);
    struct t_raw r;
    CHECK(t_raw_connect(&r, sock) == 0, "connect while draining");
    struct homid_hello hh = {HOMID_VERSION, HOMID_VERSION, 1, 8, 65536, ""};
    homid_send(r.sock, HOMID_HELLO, 1, &hh, sizeof hh, NULL, 0);
    CHECK(t_raw_expect_error(&r) == HOMI_EACCES, "a new client was accepted while draining");
    t_raw_close(&r);
    CHECK(kill(homid_pid, 0) == 0, "homid exited before its last client");
    close(w);
    child_rc(h);
    int st = -1;
    for (int i = 0; i < 50; i++, usleep(100000))
        if (waitpid(homid_pid, &st, WNOHANG) == homid_pid) break;
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "homid did not exit after drain (status %d)", st);
    homid_pid = 0;
}

/* ------------------------------------------------------------ fair */

static volatile sig_atomic_t flood_stop;
static void on_term(int s)
{
    (void)s;
    flood_stop = 1;
}

static void flood(void *v)
{
    const char *path = v;
    signal(SIGTERM, on_term);
    setenv("HOMI_DAEMON_SLOTS", "256", 1);
    homi_engine *e;
    REQUIRE(homi_engine_create(NULL, &e) == 0, "engine");
    homi_file *hf;
    REQUIRE(homi_open(e, path, HOMI_RDONLY, &hf) == 0, "open");
    enum { D = 256, L = 1 << 20 };
    char *buf = malloc((size_t)D * L);
    uint64_t size = (uint64_t)homi_file_size(hf), bytes = 0, t0 = now_ns();
    homi_io io[D];
    for (int k = 0; k < D; k++)
        io[k] = (homi_io){
            hf, buf + (size_t)k * L, L, (int64_t)(t_below(size / L) * L), (uint64_t)k, {0, 0, 0}};
    REQUIRE(homi_submit(e, io, D) == D, "submit");
    while (!flood_stop) {
        homi_completion c[D];
        int n = homi_wait(e, c, 1, D, 1000);
        for (int i = 0; i < n; i++) {
            bytes += c[i].result > 0 ? (uint64_t)c[i].result : 0;
            homi_io q = io[c[i].user_data];
            q.offset = (int64_t)(t_below(size / L) * L);
            homi_submit(e, &q, 1);
        }
    }
    homi_completion c[D];
    while (homi_inflight(e) && homi_wait(e, c, 1, D, 5000) > 0) {}
    double gbs = (double)bytes / ((double)(now_ns() - t0));
    printf("  flood (uid %d): %.2f GB/s of 1 MiB reads through homid\n", (int)getuid(), gbs);
    char res[4300];
    snprintf(res, sizeof res, "%s", path);
    snprintf(strrchr(res, '/') + 1, 16, "flood.txt"); /* beside the file: its owner may write */
    FILE *f = fopen(res, "w");
    if (f) {
        fprintf(f, "%.3f\n", gbs);
        fclose(f);
    }
    homi_close(hf);
    homi_engine_destroy(e);
    free(buf);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* 4 KiB reads one at a time for 2 s; median and p99 (us) written to v */
static void prober(void *v)
{
    double *res = v;
    homi_engine *e;
    REQUIRE(homi_engine_create(NULL, &e) == 0, "engine");
    homi_file *hf;
    REQUIRE(homi_open(e, fb, HOMI_RDONLY, &hf) == 0, "open");
    uint64_t size = (uint64_t)homi_file_size(hf), *lat = malloc(200000 * sizeof *lat);
    char buf[4096];
    size_t n = 0;
    uint64_t t0 = now_ns();
    while (n < 200000 && now_ns() - t0 < 2000000000ull) {
        uint64_t a = now_ns();
        int64_t got = homi_pread(hf, buf, 4096, (int64_t)(t_below(size / 4096) * 4096));
        lat[n++] = now_ns() - a;
        CHECK(got == 4096, "probe read %lld", (long long)got);
    }
    qsort(lat, n, sizeof *lat, cmp_u64);
    homi_stats st;
    homi_engine_stats(e, &st);
    CHECK(st.daemon_bytes > 0, "probe not served by homid");
    FILE *f = fopen((const char *)res, "w");
    if (f) {
        fprintf(f, "%zu %.1f %.1f\n", n, lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3);
        fclose(f);
    }
    free(lat);
    homi_close(hf);
    homi_engine_destroy(e);
}

static void probe(int with_flood, double *p50, double *p99, size_t *n)
{
    char res[4300];
    snprintf(res, sizeof res, "%s/b/probe.txt", dir); /* b may write there */
    unlink(res);
    pid_t fl = with_flood ? as_user(&ua, flood, fa) : 0;
    if (fl) usleep(700000);
    CHECK(child_rc(as_user(&ub, prober, res)) == 0, "prober");
    if (fl) {
        kill(fl, SIGTERM);
        CHECK(child_rc(fl) == 0, "flood");
    }
    FILE *f = fopen(res, "r");
    *p50 = *p99 = 0;
    *n = 0;
    if (f) {
        if (fscanf(f, "%zu %lf %lf", n, p50, p99) != 3) *n = 0;
        fclose(f);
    }
    CHECK(*n > 0, "no probe result");
}

static void test_fair(void)
{
    double factor = getenv("HOMI_FAIR_FACTOR") ? atof(getenv("HOMI_FAIR_FACTOR")) : 25;
    const char *dflt[] = {NULL}, *nofast[] = {"--fast-max", "0", NULL},
               *none[] = {"--fast-max", "0", "--inflight", "0", NULL};
    const char *const *cfg[3] = {dflt, nofast, none};
    const char *name[3] = {"default (fast lane, 64 MiB in flight)", "no fast lane (--fast-max 0)",
                           "neither (--fast-max 0 --inflight 0)"};
    double r[3][4];
    for (int c = 0; c < 3; c++) {
        homid_start(cfg[c]);
        size_t n0, n1;
        probe(0, &r[c][0], &r[c][1], &n0);
        probe(1, &r[c][2], &r[c][3], &n1);
        printf("  %-40s alone: %zu reads, median %.1f us, p99 %.1f us; with the flood: %zu "
               "reads, median %.1f us, p99 %.1f us\n",
               name[c], n0, r[c][0], r[c][1], n1, r[c][2], r[c][3]);
        CHECK(homid_stop() == 0, "homid's exit status");
    }
    printf("| homid | median alone (us) | p99 alone | median with flood | p99 with flood | p99 "
           "with / alone |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (int c = 0; c < 3; c++)
        printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1fx |\n", name[c], r[c][0], r[c][1], r[c][2],
               r[c][3], r[c][3] / (r[c][1] > 0 ? r[c][1] : 1));
    double base = r[0][1] > 200 ? r[0][1] : 200;
    CHECK(r[0][3] <= factor * base, "p99 under the flood %.1f us > %.0f x %.1f us", r[0][3], factor,
          base);

    /* two floods, weights 1 (user a) and 4 (user b) at 8 MiB in flight: the
     * virtual-time gate gives each bytes in the ratio of its weight */
    const char *small[] = {"--inflight", "8", NULL};
    homid_start(small);
    char out[16384], ua_s[16], ub_s[16];
    snprintf(ua_s, sizeof ua_s, "%d", (int)ua.pw_uid);
    snprintf(ub_s, sizeof ub_s, "%d", (int)ub.pw_uid);
    CHECK(ctl(NULL, out, sizeof out, "weight", "uid", ua_s) != 0,
          "weight without a value accepted");
    /* homictl joins its words: "uid" "N W" is the command "weight uid N W" */
    char cmd_a[64], cmd_b[64];
    snprintf(cmd_a, sizeof cmd_a, "%s 1", ua_s);
    snprintf(cmd_b, sizeof cmd_b, "%s 4", ub_s);
    CHECK(ctl(NULL, out, sizeof out, "weight", "uid", cmd_a) == 0, "weight a: %s", out);
    CHECK(ctl(NULL, out, sizeof out, "weight", "uid", cmd_b) == 0, "weight b: %s", out);
    pid_t f1 = as_user(&ua, flood, fa), f2 = as_user(&ub, flood, fb);
    /* homid's bytes per user over the same window, once both run (so that
     * neither's start-up, e.g. faulting in its 256 MiB region, counts).
     * Up to three windows: on this 2-core machine a window in which
     * something else takes the CPU (both floods fell to 0.23 GB/s once,
     * against ~2 GB/s together) measures that, not the gate; without
     * weights no window shows 1.5x */
    uint64_t b0[2], b1[2];
    double g[2] = {0, 0};
    usleep(1500000);
    for (int w = 0; w < 3 && !(g[0] > 0 && g[1] > 1.5 * g[0]); w++) {
        CHECK(ctl(NULL, out, sizeof out, "list", NULL, NULL) == 0, "list");
        uint64_t w0 = now_ns();
        bytes_by_uid(out, ua.pw_uid, ub.pw_uid, b0);
        usleep(1500000);
        CHECK(ctl(NULL, out, sizeof out, "list", NULL, NULL) == 0, "list");
        double win = (double)(now_ns() - w0);
        bytes_by_uid(out, ua.pw_uid, ub.pw_uid, b1);
        if (w == 0) printf("%s", out);
        CHECK(strstr(out, "paths: kernel ") != NULL, "homictl list shows no client's paths:\n%s",
              out);
        for (int i = 0; i < 2; i++)
            g[i] = b1[i] > b0[i] ? (double)(b1[i] - b0[i]) / win : 0;
        printf("| two floods, 8 MiB in flight, homid's bytes over %.2f s (window %d) | weight 1 "
               "(uid %d) | weight 4 (uid %d) | ratio |\n| --- | ---: | ---: | ---: |\n| GB/s | "
               "%.2f | %.2f | %.2f |\n",
               win / 1e9, w + 1, (int)ua.pw_uid, (int)ub.pw_uid, g[0], g[1],
               g[0] > 0 ? g[1] / g[0] : 0);
    }
    kill(f1, SIGTERM);
    kill(f2, SIGTERM);
    CHECK(child_rc(f1) == 0 && child_rc(f2) == 0, "floods");
    CHECK(g[0] > 0 && g[1] > 1.5 * g[0], "weight 4 got %.2f GB/s, weight 1 %.2f GB/s", g[1], g[0]);
    CHECK(homid_stop() == 0, "homid's exit status");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOMID HOMICTL users|reclaim|fair\n", argv[0]);
        return 2;
    }
    if (geteuid() != 0) {
        printf("SKIP: needs root (homid as the node service, clients as two test users)\n");
        return 77;
    }
    homid_bin = argv[1];
    homictl_bin = argv[2];
    const char *mode = argv[3];
    t_seed_from_env((uint64_t)time(NULL));
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (user_get("homi-test-a", &ua) || user_get("homi-test-b", &ub)) {
        printf("SKIP: cannot create the test users homi-test-a/-b (useradd)\n");
        return 77;
    }
    unsetenv("HOMI_SOCKET");
    unsetenv("HOMI_RUNTIME_DIR");
    dir = t_make_tmpdir("homid-node");
    chmod(dir, 0755);
    t_context = mode;
    uint64_t big = !strcmp(mode, "fair") ? 256ull << 20 : 24ull << 20;
    user_file(&ua, "a", big, fa);
    user_file(&ub, "b", 16ull << 20, fb);
    if (!strcmp(mode, "users")) {
        test_users();
    } else if (!strcmp(mode, "reclaim")) {
        test_reclaim();
    } else if (!strcmp(mode, "fair")) {
        test_fair();
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (homid_pid > 0) homid_stop();
    if (t_failures) {
        FILE *f = fopen(log_path, "r");
        char line[512];
        fprintf(stderr, "---- %s (last lines)\n", log_path);
        long nl = 0;
        while (f && fgets(line, sizeof line, f))
            if (++nl > 0) fputs(line, stderr);
        if (f) fclose(f);
    }
    users_drop();
    return t_finish(mode);
}
