/* test_homid.c - homid and libhomi's daemon route, against a real homid
 * process (its path is the first argument):
 *
 *   multi   4 client processes on one homid, reading one shared file and one
 *           file each (holes, unaligned offsets and lengths, EOF, async API,
 *           per-file path hint): every byte equal to pread
 *   bad     a raw client sends garbage, truncated, oversized and out-of-order
 *           messages, unusable descriptors, requests for files it did not
 *           pass, past EOF, bad slots, corrupted ring indices: each refused
 *           with an error, homid keeps serving a well-behaved client
 *   kill    kill -9 of homid during one multi-GB homi_pread: the read
 *           completes, equal to pread, counted as daemon-lost
 *   stall   SIGSTOP of homid during a read: after homi_daemon_timeout the
 *           read completes in-process
 *   restart kill -9 of homid between reads and a new homid on the same
 *           socket: in-process meanwhile, served again after
 *           homi_daemon_retry (also a file opened while homid was down)
 *   nosrv   HOMI_SOCKET names no daemon: in-process, counted
 *   peer    (root) a client of another uid is refused (SO_PEERCRED)
 *   client [--as-uid N] [--passthru|--delegated] [--qpairs N] [--refused]
 *          [--no-queue] [--hold S] [--denied FILE] FILE...   (no homid
 *           started: HOMI_SOCKET names one; used inside the QEMU NVMe VM)
 *           random reads of each FILE equal to pread, served by homid;
 *           --passthru: homid used passthrough; --delegated: the client asks
 *           for the delegated path, homid's queue pairs served bytes;
 *           --qpairs N: asks homid for N delegated queue pairs of its own
 *           (homi_delegated_qpairs); --refused: that must be refused
 *           (queue-busy counted); --no-queue: with --delegated, no queue
 *           pair is free for it: every byte came through the kernel path;
 *           --hold S: stays connected S s after its reads (holding what it
 *           was granted); --as-uid: as that user (and group); --denied:
 *           that file must not open (another user's)
 */
#include <grp.h>
#include <pthread.h>
#include <pwd.h>

#include "homid_test.h"

static const char *homid_bin;

/* A file of random data with a hole in the middle (size bytes). */
static void make_file(const char *path, uint64_t size, int hole)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    REQUIRE(fd >= 0, "create %s: %s", path, strerror(errno));
    REQUIRE(ftruncate(fd, (off_t)size) == 0, "truncate");
    const size_t B = 4u << 20;
    char *buf = malloc(B);
    for (uint64_t off = 0; off < size; off += B) {
        size_t n = size - off < B ? (size_t)(size - off) : B;
        if (hole && off >= size / 3 && off + n <= size / 3 + (4u << 20)) continue;
        t_fill_random(buf, n);
        t_pwrite_all(fd, buf, n, (off_t)off);
    }
    free(buf);
    close(fd);
}

/* ------------------------------------------------------------ multi */

static int client_main(int id, const char *shared, const char *own, uint64_t seed)
{
    t_rng_state = seed;
    homi_engine *e;
    REQUIRE(homi_engine_create(NULL, &e) == 0, "engine");
    const char *names[2] = {shared, own};
    homi_file *hf[2];
    int fd[2];
    int64_t size[2];
    for (int i = 0; i < 2; i++) {
        REQUIRE(homi_open(e, names[i], HOMI_RDONLY, &hf[i]) == 0, "open %s", names[i]);
        fd[i] = open(names[i], O_RDONLY);
        size[i] = homi_file_size(hf[i]);
    }
    /* the own file asks for passthrough: homid serves it on kernel where it can't */
    CHECK_RC(homi_file_set_hint(hf[1], "homi_path", "passthru"), 0);
    const size_t MAXL = 3u << 20;
    char *a = malloc(MAXL), *b = malloc(MAXL);
    for (int it = 0; it < 150 && !t_failures; it++) {
        int i = (int)t_below(2);
        uint64_t off = t_below((uint64_t)size[i] + 65536);
        size_t len = (size_t)t_below(MAXL + 1);
        if (it % 5 == 0) off &= ~4095ull;
        t_verify_range(hf[i], fd[i], off, len, a, b);
    }
    t_verify_range(hf[0], fd[0], 0, 0, a, b);                          /* empty */
    t_verify_range(hf[0], fd[0], (uint64_t)size[0] - 100, 4096, a, b); /* across EOF */
    /* asynchronous: 16 requests in flight over both files */
    enum { N = 16, L = 700000 };
    char *abuf = malloc((size_t)N * L), *rbuf = malloc(L);
    homi_io io[N];
    for (int k = 0; k < N; k++) {
        int i = k & 1;
        io[k] = (homi_io){hf[i],       abuf + (size_t)k * L,
                          L,           (int64_t)t_below((uint64_t)size[i] - L),
                          (uint64_t)k, {0, 0, 0}};
    }
    CHECK_RC(homi_submit(e, io, N), N);
    homi_completion cs[N];
    int got = 0;
    while (got < N) {
        int r = homi_wait(e, cs + got, 1, (unsigned)(N - got), 20000);
        if (r <= 0) break;
        got += r;
    }
    CHECK(got == N, "%d of %d completions", got, N);
    for (int k = 0; k < got; k++) {
        int q = (int)cs[k].user_data;
        ssize_t w = t_pread_ref(fd[q & 1], rbuf, L, (off_t)io[q].offset);
        CHECK(cs[k].result == w && !memcmp(abuf + (size_t)q * L, rbuf, L), "async %d", q);
    }
    homi_stats st;
    homi_engine_stats(e, &st);
    CHECK(st.daemon_bytes > 0, "client %d: nothing served by homid", id);
    CHECK(st.fallbacks[HOMI_FB_DAEMON_LOST] == 0, "client %d: daemon-lost %llu", id,
          (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST]);
    CHECK(st.errors == 0, "client %d: %llu errors", id, (unsigned long long)st.errors);
    printf("client %d: %llu reads, %llu bytes, %llu by homid\n", id, (unsigned long long)st.reads,
           (unsigned long long)st.read_bytes, (unsigned long long)st.daemon_bytes);
    for (int i = 0; i < 2; i++) {
        homi_close(hf[i]);
        close(fd[i]);
    }
    homi_engine_destroy(e);
    free(a);
    free(b);
    free(abuf);
    free(rbuf);
    return t_failures ? 1 : 0;
}

static void test_multi(const char *dir)
{
    struct t_homid d;
    t_homid_start(&d, homid_bin, dir, NULL);
    setenv("HOMI_SOCKET", d.sock, 1);
    char shared[4200], own[4][4200];
    t_path(shared, sizeof shared, dir, "shared");
    make_file(shared, (13u << 20) + 12345, 1);
    for (int i = 0; i < 4; i++) {
        snprintf(own[i], sizeof own[i], "%s/own%d", dir, i);
        make_file(own[i], (1u << 20) + t_below(3u << 20), i & 1);
    }
    fflush(stdout);
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        if (kids[i] == 0) _exit(client_main(i, shared, own[i], t_rand()));
    }
    for (int i = 0; i < 4; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client %d failed (status 0x%x)", i, st);
    }
    CHECK_RC(t_homid_stop(&d), 0);
    FILE *f = fopen(d.stats, "r");
    CHECK(f != NULL, "no stats file %s", d.stats);
    int clients = -1, refused = -1;
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "clients %d", &clients);
        sscanf(line, "refused %d", &refused);
    }
    if (f) fclose(f);
    CHECK(clients == 4 && refused == 0, "stats: %d clients, %d refused", clients, refused);
    if (t_failures) t_show_log(&d);
    unsetenv("HOMI_SOCKET");
}

/* ------------------------------------------------------------ bad */

static void send_raw_bytes(const char *sock, const void *p, size_t n, const char *what, int want)
{
    struct t_raw r;
    printf("  %s\n", what);
    REQUIRE(t_raw_connect(&r, sock) == 0, "connect");
    CHECK(send(r.sock, p, n, MSG_NOSIGNAL) == (ssize_t)n, "send");
    CHECK_RC(t_raw_expect_error(&r), want);
    CHECK(t_raw_closed(&r), "%s: connection not closed", what);
    t_raw_close(&r);
}

static void test_bad(const char *dir)
{
    struct t_homid d;
    t_homid_start(&d, homid_bin, dir, NULL);
    char data[4200];
    t_path(data, sizeof data, dir, "data");
    make_file(data, (5u << 20) + 777, 0);
    int dfd = open(data, O_RDONLY);

    char junk[8192];
    t_fill_random(junk, sizeof junk);
    send_raw_bytes(d.sock, junk, 100, "garbage", HOMI_EINVAL);
    send_raw_bytes(d.sock, junk, 10, "truncated header", HOMI_EINVAL);
    send_raw_bytes(d.sock, junk, sizeof junk, "oversized record", HOMI_ERANGE);
    {
        struct homid_hdr h = {HOMID_MAGIC, HOMID_VERSION, HOMID_HELLO, 900, 1};
        memcpy(junk, &h, sizeof h);
        send_raw_bytes(d.sock, junk, sizeof h + 20, "length field larger than the record",
                       HOMI_EINVAL);
        struct homid_hdr h2 = {HOMID_MAGIC, HOMID_VERSION, HOMID_HELLO, 2000, 1};
        memcpy(junk, &h2, sizeof h2);
        send_raw_bytes(d.sock, junk, sizeof h2 + 2000, "payload over the limit", HOMI_ERANGE);
        struct homid_hdr h3 = {HOMID_MAGIC, HOMID_VERSION, 77, 0, 1};
        send_raw_bytes(d.sock, &h3, sizeof h3, "unknown type", HOMI_EINVAL);
    }
    struct t_raw r;
    printf("  unsupported protocol version\n");
    t_raw_connect(&r, d.sock);
    struct homid_hello hv = {90, 99, 1, 8, 1 << 20, ""};
    homid_send(r.sock, HOMID_HELLO, 1, &hv, sizeof hv, NULL, 0);
    CHECK_RC(t_raw_expect_error(&r), HOMI_ENOTSUP);
    CHECK(t_raw_closed(&r), "not closed");
    t_raw_close(&r);

    printf("  open before the handshake\n");
    t_raw_connect(&r, d.sock);
    struct homid_open o = {0, 0};
    homid_send(r.sock, HOMID_OPEN, 1, &o, sizeof o, &dfd, 1);
    CHECK_RC(t_raw_expect_error(&r), HOMI_EINVAL);
    CHECK(t_raw_closed(&r), "not closed");
    t_raw_close(&r);

    printf("  open without a descriptor\n");
    t_raw_connect(&r, d.sock);
    REQUIRE(t_raw_hello(&r, 8, 256 << 10) == 0, "hello");
    CHECK_RC(t_raw_open(&r, -1), HOMI_EINVAL);
    CHECK(t_raw_closed(&r), "not closed");
    t_raw_close(&r);

    printf("  open with too many descriptors\n");
    t_raw_connect(&r, d.sock);
    REQUIRE(t_raw_hello(&r, 8, 256 << 10) == 0, "hello");
    {
        int four[4] = {dfd, dfd, dfd, dfd};
        struct homid_hdr h = {HOMID_MAGIC, HOMID_VERSION, HOMID_OPEN, sizeof o, 5};
        char buf[sizeof h + sizeof o];
        memcpy(buf, &h, sizeof h);
        memcpy(buf + sizeof h, &o, sizeof o);
        struct iovec iov = {buf, sizeof buf};
        union {
            char c[CMSG_SPACE(sizeof four)];
            struct cmsghdr a;
        } ctl;
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.c, .msg_controllen = sizeof ctl.c};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof four);
        memcpy(CMSG_DATA(c), four, sizeof four);
        CHECK(sendmsg(r.sock, &m, MSG_NOSIGNAL) > 0, "sendmsg");
        CHECK_RC(t_raw_expect_error(&r), HOMI_ERANGE);
        CHECK(t_raw_closed(&r), "not closed");
    }
    t_raw_close(&r);

    printf("  unusable descriptors, then requests\n");
    t_raw_connect(&r, d.sock);
    REQUIRE(t_raw_hello(&r, 8, 256 << 10) == 0, "hello");
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY);
    int pathfd = open(data, O_PATH);
    int wrfd = open(data, O_WRONLY);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    CHECK_RC(t_raw_open(&r, dirfd), HOMI_EISDIR);
    CHECK_RC(t_raw_open(&r, pathfd), HOMI_EBADF);
    CHECK_RC(t_raw_open(&r, wrfd), HOMI_EBADF);
    CHECK_RC(t_raw_open(&r, sv[0]), HOMI_ENOTREG);
    close(dirfd);
    close(pathfd);
    close(wrfd);
    close(sv[0]);
    close(sv[1]);
    long id = t_raw_open(&r, dfd);
    REQUIRE(id > 0, "open of a readable file refused: %ld", id);
    uint32_t ss = r.hdr->slot_size;
    /* a good request first */
    char ref[256 << 10];
    int64_t res = t_raw_read(&r, (uint32_t)id, 3, 1000, 5000);
    CHECK(res == 5000, "good request: %lld", (long long)res);
    t_pread_ref(dfd, ref, 5000, 1000);
    CHECK(!memcmp(r.data + 3 * (size_t)ss, ref, 5000), "good request: bytes differ");
    CHECK_RC(t_raw_read(&r, (uint32_t)id + 1, 0, 0, 100), HOMI_EBADF);           /* not passed */
    CHECK_RC(t_raw_read(&r, 0x7fff0001u, 0, 0, 100), HOMI_EBADF);                /* not passed */
    CHECK_RC(t_raw_read(&r, (uint32_t)id, 0, 6u << 20, 100), HOMI_ERANGE);       /* past EOF */
    CHECK_RC(t_raw_read(&r, (uint32_t)id, 0, (5u << 20) + 777, 1), HOMI_ERANGE); /* at EOF */
    CHECK_RC(t_raw_read(&r, (uint32_t)id, 0, UINT64_MAX - 5, 100), HOMI_ERANGE); /* overflow */
    CHECK_RC(t_raw_read(&r, (uint32_t)id, 0, 0, ss + 1), HOMI_EINVAL);           /* > slot */
    CHECK_RC(t_raw_read(&r, (uint32_t)id, 0, 0, 0), HOMI_EINVAL);                /* empty */
    /* a read that crosses EOF is cut at EOF, never beyond */
    CHECK_RC(t_raw_read(&r, (uint32_t)id, 1, (5u << 20) + 700, 4096), 77);
    {
        uint32_t n = r.hdr->sq_entries;
        struct homid_sqe q = {7, 0, (uint32_t)id, 99, 100, HOMI_PATH_AUTO}; /* slot 99 */
        r.sq[r.sq_tail++ & (n - 1)] = q;
        struct homid_sqe q2 = {8, 0, (uint32_t)id, 0, 100, 42}; /* path 42 */
        r.sq[r.sq_tail++ & (n - 1)] = q2;
        atomic_store(&r.hdr->sq_tail, r.sq_tail);
        uint64_t one = 1;
        (void)!write(r.sq_efd, &one, sizeof one);
        int seen = 0;
        for (int i = 0; i < 500 && seen < 2; i++) {
            while (atomic_load(&r.hdr->cq_tail) != r.cq_head && seen < 2) {
                struct homid_cqe c = r.cq[r.cq_head++ & (n - 1)];
                CHECK(c.result == HOMI_EINVAL, "bad slot/path: %lld", (long long)c.result);
                seen++;
            }
            atomic_store(&r.hdr->cq_head, r.cq_head);
            struct pollfd p = {r.cq_efd, POLLIN, 0};
            poll(&p, 1, 10);
            if (p.revents) (void)!read(r.cq_efd, &one, sizeof one);
        }
        CHECK(seen == 2, "bad slot/path: %d completions", seen);
    }
    struct homid_close cl = {(uint32_t)id + 5, 0};
    homid_send(r.sock, HOMID_CLOSE, 40, &cl, sizeof cl, NULL, 0);
    CHECK_RC(t_raw_expect_error(&r), HOMI_EBADF);
    cl.file_id = (uint32_t)id;
    homid_send(r.sock, HOMID_CLOSE, 41, &cl, sizeof cl, NULL, 0);
    struct homid_msg m;
    CHECK(t_raw_recv(&r, &m, NULL, NULL) == HOMID_OK, "close");
    CHECK_RC(t_raw_read(&r, (uint32_t)id, 0, 0, 100), HOMI_EBADF); /* closed */
    homid_send(r.sock, HOMID_STATS, 42, NULL, 0, NULL, 0);
    CHECK(t_raw_recv(&r, &m, NULL, NULL) == HOMID_STATS_OK && m.u.stats_ok.client.refused >= 10,
          "stats: refused %llu", (unsigned long long)m.u.stats_ok.client.refused);
    printf("  corrupted request ring index\n");
    atomic_store(&r.hdr->sq_tail, r.sq_tail + 100000);
    uint64_t one = 1;
    (void)!write(r.sq_efd, &one, sizeof one);
    CHECK_RC(t_raw_expect_error(&r), HOMI_EINVAL);
    CHECK(t_raw_closed(&r), "not closed");
    t_raw_close(&r);

    printf("  a well-behaved client is still served\n");
    CHECK(t_homid_alive(&d), "homid died");
    setenv("HOMI_SOCKET", d.sock, 1);
    homi_engine *e;
    REQUIRE(homi_engine_create(NULL, &e) == 0, "engine");
    homi_file *hf;
    REQUIRE(homi_open(e, data, HOMI_RDONLY, &hf) == 0, "open");
    char *a = malloc(6u << 20), *b = malloc(6u << 20);
    t_verify_range(hf, dfd, 0, 6u << 20, a, b);
    t_verify_range(hf, dfd, 12345, 3u << 20, a, b);
    homi_stats st;
    homi_engine_stats(e, &st);
    CHECK(st.daemon_bytes >= (5u << 20) + 777 && !st.fallbacks[HOMI_FB_DAEMON_LOST],
          "homid served %llu bytes, daemon-lost %llu", (unsigned long long)st.daemon_bytes,
          (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST]);
    homi_close(hf);
    homi_engine_destroy(e);
    unsetenv("HOMI_SOCKET");
    free(a);
    free(b);
    close(dfd);
    CHECK_RC(t_homid_stop(&d), 0);
    if (t_failures) t_show_log(&d);
}

/* ------------------------------------------------------------ kill / stall */

struct killer {
    homi_engine *e;
    pid_t pid;
    int sig;
    uint64_t at, seen;
};

static void *killer_main(void *arg)
{
    struct killer *k = arg;
    for (int i = 0; i < 120000; i++) {
        homi_stats st;
        homi_engine_stats(k->e, &st);
        if (st.daemon_bytes >= k->at) {
            k->seen = st.daemon_bytes;
            kill(k->pid, k->sig);
            return NULL;
        }
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_lose(const char *dir, uint64_t mb, int sig)
{
    struct t_homid d;
    t_homid_start(&d, homid_bin, dir, NULL);
    char data[4200];
    t_path(data, sizeof data, dir, "big");
    uint64_t size = mb << 20;
    make_file(data, size + 4321, 0);
    size += 4321;
    setenv("HOMI_SOCKET", d.sock, 1);
    if (sig == SIGSTOP) setenv("HOMI_DAEMON_TIMEOUT", "2", 1);
    homi_engine *e;
    REQUIRE(homi_engine_create(NULL, &e) == 0, "engine");
    homi_file *hf;
    REQUIRE(homi_open(e, data, HOMI_RDONLY, &hf) == 0, "open");
    char *buf = malloc(size);
    REQUIRE(buf, "malloc %llu", (unsigned long long)size);
    struct killer k = {e, d.pid, sig, size / 4, 0};
    pthread_t th;
    pthread_create(&th, NULL, killer_main, &k);
    uint64_t t0 = (uint64_t)time(NULL);
    int64_t got = homi_pread(hf, buf, size, 0);
    pthread_join(th, NULL);
    printf("  %s at %llu of %llu bytes; read returned %lld after %llu s\n",
           sig == SIGKILL ? "kill -9" : "SIGSTOP", (unsigned long long)k.seen,
           (unsigned long long)size, (long long)got, (unsigned long long)(time(NULL) - t0));
    CHECK(k.seen > 0, "homid was not stopped during the read");
    CHECK(got == (int64_t)size, "read returned %lld of %llu", (long long)got,
          (unsigned long long)size);
    int fd = open(data, O_RDONLY);
    const size_t P = 64u << 20;
    char *ref = malloc(P);
    for (uint64_t off = 0; off < size && !t_failures; off += P) {
        size_t n = size - off < P ? (size_t)(size - off) : P;
        CHECK(t_pread_ref(fd, ref, n, (off_t)off) == (ssize_t)n && !memcmp(buf + off, ref, n),
              "bytes differ in [%llu, +%zu)", (unsigned long long)off, n);
    }
    /* later reads: in-process, counted */
    t_verify_range(hf, fd, 999, 3u << 20, buf, ref);
    homi_stats st;
    homi_engine_stats(e, &st);
    printf("  homid served %llu bytes; daemon-lost %llu; kernel path %llu bytes\n",
           (unsigned long long)st.daemon_bytes,
           (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST],
           (unsigned long long)st.path[HOMI_PATH_KERNEL].bytes);
    CHECK(st.fallbacks[HOMI_FB_DAEMON_LOST] >= 2, "daemon-lost counted %llu times",
          (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST]);
    CHECK(st.daemon_bytes > 0 && st.daemon_bytes < size, "homid served %llu",
          (unsigned long long)st.daemon_bytes);
    CHECK(st.errors == 0, "%llu errors", (unsigned long long)st.errors);
    homi_close(hf);
    homi_engine_destroy(e);
    if (sig == SIGSTOP) {
        kill(d.pid, SIGCONT);
        CHECK_RC(t_homid_stop(&d), 0);
    } else {
        int status;
        waitpid(d.pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "homid status 0x%x", status);
    }
    unsetenv("HOMI_SOCKET");
    unsetenv("HOMI_DAEMON_TIMEOUT");
    close(fd);
    free(buf);
    free(ref);
}

/* ------------------------------------------------------------ restart */

/* kill -9 of homid between reads, then homid started again on the same
 * socket: reads continue in-process meanwhile, and after
 * homi_daemon_retry (1 s here) go to the new homid again, also for a file
 * opened while homid was down; every byte equal to pread */
static void test_restart(const char *dir)
{
    struct t_homid d;
    t_homid_start(&d, homid_bin, dir, NULL);
    char f1[4200], f2[4200];
    t_path(f1, sizeof f1, dir, "r1");
    t_path(f2, sizeof f2, dir, "r2");
    make_file(f1, (48u << 20) + 777, 1);
    make_file(f2, (20u << 20) + 5, 0);
    setenv("HOMI_SOCKET", d.sock, 1);
    setenv("HOMI_DAEMON_RETRY", "1", 1);
    homi_engine *e;
    REQUIRE(homi_engine_create(NULL, &e) == 0, "engine");
    homi_file *h1, *h2;
    REQUIRE(homi_open(e, f1, HOMI_RDONLY, &h1) == 0, "open");
    int fd1 = open(f1, O_RDONLY), fd2 = open(f2, O_RDONLY);
    const size_t L = 3u << 20;
    char *a = malloc(L), *b = malloc(L);
    uint64_t s1 = (uint64_t)homi_file_size(h1);
    homi_stats st;
    for (int i = 0; i < 10; i++)
        t_verify_range(h1, fd1, t_below(s1), (size_t)t_below(L), a, b);
    homi_engine_stats(e, &st);
    uint64_t before = st.daemon_bytes;
    CHECK(before > 0, "homid served nothing before the kill");
    kill(d.pid, SIGKILL);
    waitpid(d.pid, NULL, 0);
    for (int i = 0; i < 10; i++)
        t_verify_range(h1, fd1, t_below(s1), (size_t)t_below(L), a, b);
    REQUIRE(homi_open(e, f2, HOMI_RDONLY, &h2) == 0, "open while homid is down");
    homi_engine_stats(e, &st);
    uint64_t down = st.daemon_bytes, lost = st.fallbacks[HOMI_FB_DAEMON_LOST];
    CHECK(down == before, "homid served %llu bytes while dead",
          (unsigned long long)(down - before));
    CHECK(lost > 0, "daemon-lost not counted");
    struct t_homid d2;
    t_homid_start(&d2, homid_bin, dir, NULL);
    usleep(1200000);
    uint64_t s2 = (uint64_t)homi_file_size(h2);
    for (int i = 0; i < 20; i++) {
        t_verify_range(h1, fd1, t_below(s1), (size_t)t_below(L), a, b);
        t_verify_range(h2, fd2, t_below(s2), (size_t)t_below(L), a, b);
    }
    homi_engine_stats(e, &st);
    homi_stats fs2;
    homi_file_stats(h2, &fs2);
    printf("  homid served %llu bytes before kill -9, %llu while down, %llu after the restart "
           "(file opened while down: %llu); daemon-lost %llu\n",
           (unsigned long long)before, (unsigned long long)(down - before),
           (unsigned long long)(st.daemon_bytes - down), (unsigned long long)fs2.daemon_bytes,
           (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST]);
    CHECK(st.daemon_bytes > down, "the restarted homid served nothing");
    CHECK(fs2.daemon_bytes > 0, "the file opened while homid was down was not served after");
    CHECK(st.errors == 0, "%llu errors", (unsigned long long)st.errors);
    homi_close(h1);
    homi_close(h2);
    homi_engine_destroy(e);
    CHECK_RC(t_homid_stop(&d2), 0);
    unsetenv("HOMI_SOCKET");
    unsetenv("HOMI_DAEMON_RETRY");
    close(fd1);
    close(fd2);
    free(a);
    free(b);
}

/* ------------------------------------------------------------ nosrv, peer */

static void test_nosrv(const char *dir)
{
    char sock[4200], data[4200];
    t_path(sock, sizeof sock, dir, "nobody-here.sock");
    t_path(data, sizeof data, dir, "data");
    make_file(data, 3u << 20, 1);
    setenv("HOMI_SOCKET", sock, 1);
    homi_engine *e;
    REQUIRE(homi_engine_create(NULL, &e) == 0, "engine without its daemon");
    homi_file *hf;
    REQUIRE(homi_open(e, data, HOMI_RDONLY, &hf) == 0, "open");
    int fd = open(data, O_RDONLY);
    char *a = malloc(4u << 20), *b = malloc(4u << 20);
    t_verify_range(hf, fd, 17, 4u << 20, a, b);
    homi_stats st;
    homi_engine_stats(e, &st);
    CHECK(st.fallbacks[HOMI_FB_DAEMON_LOST] == 1 && st.daemon_bytes == 0,
          "daemon-lost %llu, homid bytes %llu",
          (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST],
          (unsigned long long)st.daemon_bytes);
    homi_close(hf);
    homi_engine_destroy(e);
    unsetenv("HOMI_SOCKET");
    close(fd);
    free(a);
    free(b);
}

static int test_peer(const char *dir)
{
    if (geteuid() != 0) {
        printf("SKIP: peer: needs root (to connect as another uid)\n");
        return 77;
    }
    struct t_homid d;
    t_homid_start(&d, homid_bin, dir, NULL);
    /* open the permissions so that only SO_PEERCRED stands in the way */
    chmod(dir, 0755);
    chmod(d.dir, 0755);
    chmod(d.sock, 0666);
    pid_t p = fork();
    if (p == 0) {
        if (setgid(65534) || setuid(65534)) _exit(3);
        struct t_raw r;
        if (t_raw_connect(&r, d.sock)) _exit(4);
        int code = t_raw_expect_error(&r);
        _exit(code == HOMI_EACCES && t_raw_closed(&r) ? 0 : 5);
    }
    int st;
    waitpid(p, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "uid 65534 was not refused (status 0x%x)", st);
    chmod(d.sock, 0600);
    chmod(d.dir, 0700);
    CHECK(t_homid_alive(&d), "homid died");
    CHECK_RC(t_homid_stop(&d), 0);
    if (t_failures) t_show_log(&d);
    return 0;
}

static void test_client(int argc, char **argv)
{
    int want_pt = 0, want_dl = 0, refused = 0, no_queue = 0;
    unsigned hold = 0;
    /* --as-uid N first: become that user (node-service tests as root) */
    if (argc >= 2 && !strcmp(argv[0], "--as-uid")) {
        uid_t u = (uid_t)strtoul(argv[1], NULL, 10);
        REQUIRE(setgroups(0, NULL) == 0 && setgid((gid_t)u) == 0 && setuid(u) == 0,
                "become uid %u: %s", (unsigned)u, strerror(errno));
        argc -= 2;
        argv += 2;
    }
    /* options read before the engine connects to homid */
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--qpairs") && i + 1 < argc)
            setenv("HOMI_DELEGATED_QPAIRS", argv[i + 1], 1);
        if (!strcmp(argv[i], "--hold") && i + 1 < argc)
            hold = (unsigned)strtoul(argv[i + 1], NULL, 10);
        refused |= !strcmp(argv[i], "--refused");
        no_queue |= !strcmp(argv[i], "--no-queue");
    }
    homi_engine *e;
    REQUIRE(homi_engine_create(NULL, &e) == 0, "engine");
    const size_t MAXL = 8u << 20;
    char *a = malloc(MAXL), *b = malloc(MAXL);
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--passthru")) {
            want_pt = 1;
            continue;
        }
        if (!strcmp(argv[i], "--delegated")) {
            want_dl = 1;
            continue;
        }
        if (!strcmp(argv[i], "--qpairs") || !strcmp(argv[i], "--hold")) {
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--refused") || !strcmp(argv[i], "--no-queue")) continue;
        if (!strcmp(argv[i], "--denied") && i + 1 < argc) { /* another user's file */
            homi_file *hf;
            int rc = homi_open(e, argv[++i], HOMI_RDONLY, &hf);
            CHECK(rc == HOMI_EACCES, "uid %d opened %s (%s)", (int)getuid(), argv[i],
                  homi_strerror(rc));
            printf("  uid %d: %s refused (%s)\n", (int)getuid(), argv[i], homi_strerror(rc));
            continue;
        }
        homi_file *hf;
        REQUIRE(homi_open(e, argv[i], HOMI_RDONLY, &hf) == 0, "open %s", argv[i]);
        /* asked for by the client, not left to homid's default */
        if (want_dl) CHECK_RC(homi_file_set_hint(hf, "homi_path", "delegated"), 0);
        int fd = open(argv[i], O_RDONLY);
        uint64_t size = (uint64_t)homi_file_size(hf);
        t_verify_range(hf, fd, 0, MAXL, a, b);
        for (int it = 0; it < 40 && !t_failures; it++) {
            uint64_t off = t_below(size + 8192);
            size_t len = (size_t)t_below(MAXL + 1);
            if (it & 1) off &= ~4095ull, len &= ~(size_t)4095;
            t_verify_range(hf, fd, off, len, a, b);
        }
        homi_close(hf);
        close(fd);
    }
    homi_stats st;
    homi_engine_stats(e, &st);
    homi_stats_print(&st, 0, stdout);
    CHECK(st.daemon_bytes > 0 && st.fallbacks[HOMI_FB_DAEMON_LOST] == 0,
          "homid served %llu bytes, daemon-lost %llu", (unsigned long long)st.daemon_bytes,
          (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST]);
    if (want_pt)
        CHECK(st.path[HOMI_PATH_PASSTHRU].bytes > 0, "no bytes came from the passthrough path");
    if (want_dl && !no_queue)
        CHECK(st.path[HOMI_PATH_DELEGATED].bytes > 0,
              "no bytes came from the delegated path (homid's queue pairs)");
    if (want_dl && no_queue)
        CHECK(st.path[HOMI_PATH_DELEGATED].bytes == 0 && st.path[HOMI_PATH_KERNEL].bytes > 0,
              "no queue pair was free, yet %llu bytes came from the delegated path",
              (unsigned long long)st.path[HOMI_PATH_DELEGATED].bytes);
    CHECK((st.fallbacks[HOMI_FB_QUEUE_BUSY] > 0) == (refused != 0),
          "queue pairs %s, but queue-busy counted %llu",
          refused ? "refused" : "granted or not asked",
          (unsigned long long)st.fallbacks[HOMI_FB_QUEUE_BUSY]);
    if (hold) {
        printf("  pid %d: holding its connection for %u s\n", (int)getpid(), hold);
        fflush(stdout);
        sleep(hold);
    }
    homi_engine_destroy(e);
    free(a);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "client")) {
        t_seed_from_env((uint64_t)time(NULL) ^ (uint64_t)getpid());
        t_context = "client";
        test_client(argc - 2, argv + 2);
        return t_finish("client");
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOMID multi|bad|kill [MiB]|stall|restart|nosrv|peer\n", argv[0]);
        return 2;
    }
    homid_bin = argv[1];
    const char *mode = argv[2];
    t_seed_from_env((uint64_t)time(NULL));
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *dir = t_make_tmpdir("homid");
    t_context = mode;
    int rc = 0;
    if (!strcmp(mode, "multi")) {
        test_multi(dir);
    } else if (!strcmp(mode, "bad")) {
        test_bad(dir);
    } else if (!strcmp(mode, "kill")) {
        test_lose(dir, argc > 3 ? strtoull(argv[3], NULL, 10) : 2048, SIGKILL);
    } else if (!strcmp(mode, "stall")) {
        test_lose(dir, 256, SIGSTOP);
    } else if (!strcmp(mode, "restart")) {
        test_restart(dir);
    } else if (!strcmp(mode, "nosrv")) {
        test_nosrv(dir);
    } else if (!strcmp(mode, "peer")) {
        rc = test_peer(dir);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (rc == 77) return 77;
    return t_finish(mode);
}
