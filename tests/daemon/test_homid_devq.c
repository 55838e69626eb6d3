/* test_homid_devq.c - GPU device queues served by homid, without a GPU: a
 * raw client creates the queue region (cplane/homid_devq.h) in a memfd,
 * hands it to a real homid, and its threads then do what GPU threads do
 * (homi_cuda.h's ring protocol: requests into the ring, completions polled,
 * inline data copied out, slots released) while a pump thread runs the
 * library's pump (homid_dq_pump_run) with memcpy for the bulk chunks.
 *
 *   serve    4 "GPU threads" x random reads (unaligned, across chunks and
 *            EOF, a hole, 0 bytes, inline and bulk) of two files: every byte
 *            equal to pread; refused with the right error: a capability never
 *            exported, a revoked one, another client's, past EOF, larger than
 *            the queue's largest request, a torn request; exporting a file id
 *            the client never passed; bad region parameters; a region that
 *            can shrink; garbage in the ring leaves another client's queue
 *            correct; a file that shrinks under a bulk request gives the
 *            bytes up to its new end; a paused queue leaves a request in the
 *            ring until it is resumed; homictl list shows the queue and its
 *            counts
 *   reclaim  --gpu-queues=1: a second client is refused a queue while the
 *            first holds it; kill -9 of the first (mid-reads) returns it
 *            (homictl shows 0 in use) and the second gets it; a file closed
 *            while its capability is exported fails later requests (EBADF); a
 *            queue whose pump stops taking homid's wake-ups is reclaimed after
 *            the client timeout, the client stays connected
 *   stress   56 threads x 256 requests in flight on a queue of 16384 slots (the
 *            GPU benchmark's shape): every read completes and equals pread
 *   share    two processes flood their GPU queues with 1 MiB reads, weights 1
 *            and 4 (homictl weight PID W, homid --inflight 8): the bytes
 *            each gets in the same seconds follow the weights (GPU queues
 *            are under the in-flight budget and virtual-time gate of share.c)
 *
 *   test_homid_devq HOMID HOMICTL serve|reclaim|stress|share */
#include <pthread.h>
#include <sys/eventfd.h>

#include "cplane/homid_devq.h"
#include "homid_test.h"

static const char *homid_bin, *homictl_bin;
static struct t_homid d;

/* ------------------------------------------------------------ a client's queue */

struct tq {
    struct t_raw raw;
    struct homid_dq_hdr lay;
    char *base;
    int memfd, efd;
    uint32_t queue;
    homi_devq_req *req;
    homi_devq_cpl *cpl;
    char *data;
    _Atomic uint64_t tail;
    struct homid_dq_pump pump;
    pthread_t pth;
    atomic_int stop;
    atomic_int hold; /* the pump copies nothing meanwhile */
};

static int mem_copy(void *arg, void *dst, const void *src, size_t len)
{
    (void)arg;
    memcpy(dst, src, len);
    return 0;
}

static void *pump_main(void *arg)
{
    struct tq *q = arg;
    struct homid_dq_hdr *h = (struct homid_dq_hdr *)q->base;
    while (!atomic_load(&q->stop)) {
        struct pollfd p = {q->efd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
            uint64_t v;
            (void)!read(q->efd, &v, sizeof v);
        }
        if (atomic_load(&q->hold)) continue;
        atomic_store(&h->kick, 0);
        homid_dq_pump_run(&q->pump);
    }
    return NULL;
}

/* Region + CREATE; 0, or the error homid replied. */
static int tq_create(struct tq *q, uint32_t slots, uint32_t inl, uint32_t chunks, uint32_t cs,
                     uint64_t max_request, int seal)
{
    memset(&q->lay, 0, sizeof q->lay);
    REQUIRE(homid_dq_layout(slots, inl, chunks, cs, &q->lay, NULL, 0) == 0, "layout");
    q->memfd = memfd_create("t-devq", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    REQUIRE(q->memfd >= 0 && q->efd >= 0 && ftruncate(q->memfd, (off_t)q->lay.size) == 0, "memfd");
    if (seal) REQUIRE(fcntl(q->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0, "seal");
    q->base = mmap(NULL, q->lay.size, PROT_READ | PROT_WRITE, MAP_SHARED, q->memfd, 0);
    REQUIRE(q->base != MAP_FAILED, "mmap");
    q->req = (homi_devq_req *)(q->base + q->lay.req_off);
    q->cpl = (homi_devq_cpl *)(q->base + q->lay.cpl_off);
    q->data = q->base + q->lay.data_off;
    for (uint32_t i = 0; i < slots; i++)
        q->req[i].seq = 2 * i;
    atomic_store(&q->tail, 0);
    struct homid_devq_create c = {slots, inl, chunks, cs, 2, 0, max_request, q->lay.size};
    int fds[2] = {q->memfd, q->efd};
    REQUIRE(homid_send(q->raw.sock, HOMID_DEVQ_CREATE, ++q->raw.seq, &c, sizeof c, fds, 2) == 0,
            "send");
    struct homid_msg m;
    int t = t_raw_recv(&q->raw, &m, NULL, NULL);
    if (t == HOMID_ERROR) {
        printf("    homid said: %s\n", m.u.error.text);
        return m.u.error.code;
    }
    REQUIRE(t == HOMID_DEVQ_OK, "reply %d", t);
    q->queue = m.u.dq_ok.queue;
    REQUIRE(homid_dq_pump_init(&q->pump, &q->lay, q->base) == 0, "pump");
    q->pump.copy = mem_copy;
    atomic_store(&q->stop, 0);
    REQUIRE(pthread_create(&q->pth, NULL, pump_main, q) == 0, "pump thread");
    return 0;
}

static void tq_unmap(struct tq *q)
{
    if (q->pump.track) {
        atomic_store(&q->stop, 1);
        pthread_join(q->pth, NULL);
        homid_dq_pump_free(&q->pump);
    }
    if (q->base && q->base != MAP_FAILED) munmap(q->base, q->lay.size);
    if (q->memfd >= 0) close(q->memfd);
    if (q->efd >= 0) close(q->efd);
    q->base = NULL;
    q->memfd = q->efd = -1;
}

/* HOMID_DEVQ op; 0 with *cap, or homid's error. */
static int tq_op(struct tq *q, uint32_t op, uint32_t queue, uint32_t file, uint64_t cap,
                 uint64_t *out)
{
    struct homid_devq_op o = {op, queue, file, 0, cap};
    REQUIRE(homid_send(q->raw.sock, HOMID_DEVQ, ++q->raw.seq, &o, sizeof o, NULL, 0) == 0, "send");
    struct homid_msg m;
    int t = t_raw_recv(&q->raw, &m, NULL, NULL);
    if (t == HOMID_ERROR) {
        printf("    homid said: %s\n", m.u.error.text);
        return m.u.error.code;
    }
    REQUIRE(t == HOMID_DEVQ_OK, "reply %d", t);
    if (out) *out = m.u.dq_ok.cap;
    return 0;
}

/* What a GPU thread does: submit, wait, copy inline data out, release.
 * torn: write a check word that does not match. */
static uint64_t gpu_submit(struct tq *q, uint64_t cap, void *dst, uint64_t len, int64_t off,
                           int torn)
{
    const uint32_t slots = q->lay.slots;
    uint64_t t = atomic_fetch_add(&q->tail, 1);
    homi_devq_req *r = &q->req[t & (slots - 1)];
    while (__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) != (uint32_t)(2 * t))
        sched_yield();
    r->flags = 0;
    r->file = cap;
    r->offset = off;
    r->len = len;
    r->dst = (uint64_t)(uintptr_t)dst;
    r->ticket = t;
    r->check = homi_devq_check(cap, off, len, (uint64_t)(uintptr_t)dst, t) ^ (torn ? 1 : 0);
    __atomic_store_n(&r->seq, (uint32_t)(2 * t + 1), __ATOMIC_RELEASE);
    return t;
}

static int64_t gpu_wait(struct tq *q, uint64_t t, void *dst, uint64_t len)
{
    const uint32_t slots = q->lay.slots;
    homi_devq_req *r = &q->req[t & (slots - 1)];
    const homi_devq_cpl *c = &q->cpl[t & (slots - 1)];
    const uint32_t want = (uint32_t)(2 * t + 1);
    int64_t res = -99999;
    for (uint64_t i = 0;; i++) {
        homi_devq_cpl v;
        v.seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
        v.result = c->result;
        v.seq2 = c->seq2;
        v.check = c->check;
        if (v.seq == want && v.seq2 == want && (v.result ^ v.seq ^ HOMI_DEVQ_CPL_KEY) == v.check) {
            res = v.result;
            break;
        }
        if (i > 20000000) return -99999; /* no completion */
        if (i > 1000) usleep(10);
    }
    if (res > 0 && len <= q->lay.inline_max)
        memcpy(dst, q->data + (size_t)(t & (slots - 1)) * q->lay.inline_max, (size_t)res);
    __atomic_store_n(&r->seq, (uint32_t)(2 * (t + slots)), __ATOMIC_RELEASE);
    return res;
}

static int64_t gpu_read(struct tq *q, uint64_t cap, void *dst, uint64_t len, int64_t off, int torn)
{
    return gpu_wait(q, gpu_submit(q, cap, dst, len, off, torn), dst, len);
}

/* ------------------------------------------------------------ files */

static void make_file(const char *path, uint64_t size, int hole)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    REQUIRE(fd >= 0, "create %s: %s", path, strerror(errno));
    REQUIRE(ftruncate(fd, (off_t)size) == 0, "truncate");
    const size_t B = 1u << 20;
    char *buf = malloc(B);
    for (uint64_t off = 0; off < size; off += B) {
        size_t n = size - off < B ? (size_t)(size - off) : B;
        if (hole && off >= (2u << 20) && off < (4u << 20)) continue;
        t_fill_random(buf, n);
        t_pwrite_all(fd, buf, n, (off_t)off);
    }
    free(buf);
    close(fd);
}

struct worker {
    struct tq *q;
    uint64_t cap[2];
    int fd[2];
    int64_t size[2];
    uint64_t seed;
    unsigned reads, bulk;
    int bad;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const size_t MAXL = 3u << 20;
    char *a = malloc(MAXL), *b = malloc(MAXL);
    uint64_t s = w->seed;
    for (unsigned it = 0; it < 300 && !w->bad; it++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((s >> 60) & 1);
        uint64_t off = (s >> 8) % (uint64_t)w->size[i];
        uint64_t len;
        switch (it % 4) {
        case 0: len = (s >> 20) % 4096 + 1; break;              /* inline, unaligned */
        case 1: len = (s >> 20) % (16u << 10) + 1; break;       /* up to inline_max */
        case 2: len = (s >> 20) % MAXL + 1; break;              /* bulk, several chunks */
        default: len = (s >> 20) % (600u << 10) + 16385; break; /* bulk */
        }
        if (it % 7 == 0) off = (uint64_t)w->size[i] - (s >> 30) % 5000 - 1; /* across EOF */
        if (it % 11 == 0) len = 0;
        memset(a, 0xa5, len ? len : 1);
        int64_t got = gpu_read(w->q, w->cap[i], a, len, (int64_t)off, 0);
        ssize_t want = len ? t_pread_ref(w->fd[i], b, len, (off_t)off) : 0;
        w->reads++;
        w->bulk += len > w->q->lay.inline_max;
        if (got != want || (want > 0 && memcmp(a, b, (size_t)want))) {
            fprintf(stderr,
                    "  read file %d off %llu len %llu: got %lld want %lld, first diff %lld\n", i,
                    (unsigned long long)off, (unsigned long long)len, (long long)got,
                    (long long)want, want > 0 ? t_first_diff(a, b, (size_t)want) : -1ll);
            w->bad = 1;
        }
    }
    free(a);
    free(b);
    return NULL;
}

static void ctl_list(char *out, size_t cap)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "HOMI_SOCKET=%s %s list 2>&1", d.sock, homictl_bin);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, cap - 1, p) : 0;
    out[n] = 0;
    if (p) pclose(p);
}

static long open_file(struct tq *q, const char *path)
{
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0, "open %s", path);
    long id = t_raw_open(&q->raw, fd);
    close(fd);
    return id;
}

static void connect_q(struct tq *q)
{
    memset(q, 0, sizeof *q);
    q->memfd = q->efd = -1;
    REQUIRE(t_raw_connect(&q->raw, d.sock) == 0, "connect");
    REQUIRE(t_raw_hello(&q->raw, 4, 64 << 10) == 0, "hello");
}

/* ------------------------------------------------------------ serve */

static void test_serve(const char *dir)
{
    char f1[4200], f2[4200];
    t_path(f1, sizeof f1, dir, "one");
    t_path(f2, sizeof f2, dir, "two");
    make_file(f1, (12u << 20) + 1234, 1);
    make_file(f2, 777777, 0);
    t_homid_start(&d, homid_bin, dir, NULL);
    struct tq q, o;
    connect_q(&q);
    connect_q(&o);
    long id1 = open_file(&q, f1), id2 = open_file(&q, f2), oid = open_file(&o, f1);
    REQUIRE(id1 > 0 && id2 > 0 && oid > 0, "open");

    printf("  bad queue parameters and regions are refused\n");
    struct tq u;
    connect_q(&u);
    {
        int mfd = memfd_create("t-bad", MFD_CLOEXEC), efd = eventfd(0, EFD_CLOEXEC);
        REQUIRE(mfd >= 0 && efd >= 0 && ftruncate(mfd, 1 << 20) == 0, "memfd");
        struct homid_devq_create c = {6, 16 << 10, 4, 1 << 20, 2, 0, 64 << 20, 1 << 20};
        int fds[2] = {mfd, efd};
        REQUIRE(homid_send(u.raw.sock, HOMID_DEVQ_CREATE, 1, &c, sizeof c, fds, 2) == 0, "send");
        CHECK(t_raw_expect_error(&u.raw) == HOMI_EINVAL, "6 slots accepted");
        CHECK(t_raw_closed(&u.raw), "a client that sent a bad queue was kept");
        close(mfd);
        close(efd);
        t_raw_close(&u.raw);
    }
    connect_q(&u);
    CHECK(tq_create(&u, 64, 16 << 10, 4, 1 << 20, 64 << 20, 0) == HOMI_EINVAL,
          "a region that can shrink was accepted");
    tq_unmap(&u);
    t_raw_close(&u.raw);

    REQUIRE(tq_create(&q, 64, 16 << 10, 4, 1 << 20, 64 << 20, 1) == 0, "create");
    REQUIRE(tq_create(&o, 16, 4096, 2, 256 << 10, 1 << 20, 1) == 0, "create (other)");
    uint64_t cap1, cap2, ocap, spare;
    CHECK_RC(tq_op(&q, HOMID_DQ_EXPORT, q.queue, (uint32_t)id1, 0, &cap1), 0);
    CHECK_RC(tq_op(&q, HOMID_DQ_EXPORT, q.queue, (uint32_t)id2, 0, &cap2), 0);
    CHECK_RC(tq_op(&o, HOMID_DQ_EXPORT, o.queue, (uint32_t)oid, 0, &ocap), 0);
    CHECK_RC(tq_op(&q, HOMID_DQ_EXPORT, q.queue, (uint32_t)id1, 0, &spare), 0);
    printf("  a file id the client never passed, another client's queue\n");
    CHECK_RC(tq_op(&q, HOMID_DQ_EXPORT, q.queue, (uint32_t)oid + 7, 0, NULL), HOMI_EBADF);
    CHECK_RC(tq_op(&q, HOMID_DQ_EXPORT, q.queue + 100, (uint32_t)id1, 0, NULL), HOMI_EBADF);

    printf("  4 threads x 300 random reads, every byte against pread\n");
    struct worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){&q,
                               {cap1, cap2},
                               {open(f1, O_RDONLY), open(f2, O_RDONLY)},
                               {(12 << 20) + 1234, 777777},
                               t_rand(),
                               0,
                               0,
                               0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    /* meanwhile the other client's queue gets garbage in its ring */
    for (uint32_t i = 0; i < o.lay.slots; i++) {
        homi_devq_req g;
        t_fill_random(&g, sizeof g);
        g.seq = o.req[i].seq;
        memcpy(&o.req[i], &g, sizeof g);
        __atomic_store_n(&o.req[i].seq, 2 * i + 1, __ATOMIC_RELEASE);
    }
    unsigned reads = 0, bulk = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(!w[i].bad, "thread %d read wrong bytes", i);
        reads += w[i].reads;
        bulk += w[i].bulk;
        close(w[i].fd[0]);
        close(w[i].fd[1]);
    }
    printf("    %u reads (%u bulk), pump: %llu chunks, %llu bad\n", reads, bulk,
           (unsigned long long)q.pump.chunks_copied, (unsigned long long)q.pump.bad_chunks);
    CHECK(q.pump.bad_chunks == 0 && q.pump.chunks_copied >= bulk, "pump counts");

    printf("  errors\n");
    char buf[64 << 10];
    int64_t r;
    r = gpu_read(&q, cap1 ^ (1ull << 40), buf, 100, 0, 0);
    CHECK(r == HOMI_EBADF, "unexported capability: %lld", (long long)r);
    r = gpu_read(&q, ocap, buf, 100, 0, 0);
    CHECK(r == HOMI_EBADF, "another client's capability: %lld", (long long)r);
    r = gpu_read(&q, cap2, buf, 100, 777777, 0);
    CHECK(r == HOMI_ERANGE, "at EOF: %lld", (long long)r);
    r = gpu_read(&q, cap2, buf, (64ull << 20) + 1, 0, 0);
    CHECK(r == HOMI_ERANGE, "larger than the largest request: %lld", (long long)r);
    r = gpu_read(&q, cap2, NULL, 100, 0, 0);
    CHECK(r == HOMI_EINVAL, "no destination: %lld", (long long)r);
    r = gpu_read(&q, cap2, buf, 100, 0, 1);
    CHECK(r == HOMI_EIO, "torn request: %lld", (long long)r);
    CHECK_RC(tq_op(&q, HOMID_DQ_REVOKE, q.queue, 0, spare, NULL), 0);
    r = gpu_read(&q, spare, buf, 100, 0, 0);
    CHECK(r == HOMI_EBADF, "revoked capability: %lld", (long long)r);
    CHECK_RC(tq_op(&q, HOMID_DQ_REVOKE, q.queue, 0, spare, NULL), HOMI_EBADF);
    r = gpu_read(&q, cap1, buf, 5000, 100, 0); /* still served after all that */
    CHECK(r == 5000, "read after the errors: %lld", (long long)r);

    printf("  a file that shrinks under a bulk request: the bytes up to its new end\n");
    {
        char f3[4200];
        t_path(f3, sizeof f3, dir, "three");
        make_file(f3, 8u << 20, 0);
        long id3 = open_file(&q, f3);
        uint64_t cap3 = 0;
        CHECK(id3 > 0 && tq_op(&q, HOMID_DQ_EXPORT, q.queue, (uint32_t)id3, 0, &cap3) == 0,
              "export");
        char *want = malloc(8u << 20), *dst = malloc(8u << 20);
        int wfd = open(f3, O_RDONLY);
        REQUIRE(want && dst && pread(wfd, want, 8u << 20, 0) == (ssize_t)(8u << 20), "pread");
        close(wfd);
        memset(dst, 0xee, 8u << 20);
        /* homid fills the queue's 4 chunks (4 MiB) and waits for the pump;
         * the file then shrinks to 5 MiB + 1234: the 5th piece reads whole,
         * the 6th 1234 bytes */
        atomic_store(&q.hold, 1);
        uint64_t st = gpu_submit(&q, cap3, dst, 6u << 20, 0, 0);
        usleep(300000);
        REQUIRE(truncate(f3, (5 << 20) + 1234) == 0, "truncate");
        atomic_store(&q.hold, 0);
        int64_t sr = gpu_wait(&q, st, dst, 6u << 20);
        CHECK(sr == (5 << 20) + 1234 && !memcmp(dst, want, (size_t)sr),
              "read over the shrink: %lld bytes (want %d), %s", (long long)sr, (5 << 20) + 1234,
              sr > 0 && memcmp(dst, want, (size_t)sr) ? "wrong bytes" : "bytes equal");
        free(want);
        free(dst);
    }

    printf("  pause: a request waits in the ring until the queue is resumed\n");
    CHECK_RC(tq_op(&q, HOMID_DQ_PAUSE, q.queue, 0, 1, NULL), 0);
    uint64_t pt = gpu_submit(&q, cap1, buf, 3000, 12345, 0);
    usleep(300000);
    const homi_devq_cpl *pc = &q.cpl[pt & (q.lay.slots - 1)];
    CHECK(__atomic_load_n(&pc->seq, __ATOMIC_ACQUIRE) != (uint32_t)(2 * pt + 1),
          "a paused queue completed a request");
    CHECK_RC(tq_op(&q, HOMID_DQ_PAUSE, q.queue, 0, 0, NULL), 0);
    r = gpu_wait(&q, pt, buf, 3000);
    {
        char want[3000];
        int pfd = open(f1, O_RDONLY);
        CHECK(r == 3000 && pread(pfd, want, sizeof want, 12345) == 3000 && !memcmp(buf, want, 3000),
              "read after resume: %lld", (long long)r);
        close(pfd);
    }

    char list[16384];
    ctl_list(list, sizeof list);
    printf("%s", list);
    CHECK(strstr(list, "gpu queues: 2 of 32 in use") != NULL, "inventory");
    CHECK(strstr(list, "gpu queue 1: 64 slots") != NULL, "queue line");
    CHECK(t_homid_alive(&d), "homid died");

    printf("  destroy: the queue goes back\n");
    CHECK_RC(tq_op(&o, HOMID_DQ_DESTROY, o.queue, 0, 0, NULL), 0);
    ctl_list(list, sizeof list);
    CHECK(strstr(list, "gpu queues: 1 of 32 in use") != NULL, "inventory after destroy:\n%s", list);
    tq_unmap(&q);
    tq_unmap(&o);
    t_raw_close(&q.raw);
    t_raw_close(&o.raw);
    CHECK(t_homid_stop(&d) == 0, "homid's exit status");
}

/* ------------------------------------------------------------ reclaim */

static void test_reclaim(const char *dir)
{
    char f1[4200];
    t_path(f1, sizeof f1, dir, "one");
    make_file(f1, 8u << 20, 0);
    t_homid_start(&d, homid_bin, dir, "--gpu-queues=1");
    int pfd[2];
    REQUIRE(pipe(pfd) == 0, "pipe");
    pid_t a = fork();
    if (a == 0) { /* holds the node's only queue and reads until killed */
        struct tq q;
        connect_q(&q);
        long id = open_file(&q, f1);
        uint64_t cap;
        if (id <= 0 || tq_create(&q, 64, 16 << 10, 4, 1 << 20, 64 << 20, 1) ||
            tq_op(&q, HOMID_DQ_EXPORT, q.queue, (uint32_t)id, 0, &cap))
            _exit(3);
        (void)!write(pfd[1], "x", 1);
        char *buf = malloc(2u << 20);
        for (;;)
            if (gpu_read(&q, cap, buf, 2u << 20, 4096, 0) != (2 << 20)) _exit(4);
    }
    char x;
    REQUIRE(read(pfd[0], &x, 1) == 1, "first client did not start");
    struct tq b;
    connect_q(&b);
    printf("  a second queue while the first holds the only one\n");
    CHECK_RC(tq_create(&b, 64, 16 << 10, 4, 1 << 20, 64 << 20, 1), HOMI_EBUSY);
    tq_unmap(&b);
    char list[16384];
    ctl_list(list, sizeof list);
    CHECK(strstr(list, "gpu queues: 1 of 1 in use") != NULL, "inventory:\n%s", list);
    usleep(200000);
    printf("  kill -9 of the holder mid-read\n");
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    int freed = 0;
    for (int i = 0; i < 100 && !freed; i++) {
        ctl_list(list, sizeof list);
        freed = strstr(list, "gpu queues: 0 of 1 in use") != NULL;
        if (!freed) usleep(50000);
    }
    CHECK(freed, "queue not reclaimed:\n%s", list);
    long id = open_file(&b, f1);
    REQUIRE(id > 0, "open");
    CHECK_RC(tq_create(&b, 64, 16 << 10, 4, 1 << 20, 64 << 20, 1), 0);
    uint64_t cap;
    CHECK_RC(tq_op(&b, HOMID_DQ_EXPORT, b.queue, (uint32_t)id, 0, &cap), 0);
    char *buf = malloc(3u << 20), *ref = malloc(3u << 20);
    int fd = open(f1, O_RDONLY);
    int64_t r = gpu_read(&b, cap, buf, 3u << 20, 12345, 0);
    CHECK(r == (3 << 20) && t_pread_ref(fd, ref, 3u << 20, 12345) == (3 << 20) &&
              !memcmp(buf, ref, 3u << 20),
          "read on the reclaimed queue: %lld", (long long)r);
    printf("  a file closed while exported\n");
    struct homid_close cl = {(uint32_t)id, 0};
    REQUIRE(homid_send(b.raw.sock, HOMID_CLOSE, ++b.raw.seq, &cl, sizeof cl, NULL, 0) == 0,
            "close");
    struct homid_msg m;
    CHECK(t_raw_recv(&b.raw, &m, NULL, NULL) == HOMID_OK, "close reply");
    r = gpu_read(&b, cap, buf, 100, 0, 0);
    CHECK(r == HOMI_EBADF, "closed file: %lld", (long long)r);

    printf("  a queue whose pump stops taking wake-ups is reclaimed after the client timeout\n");
    char out[256];
    snprintf(out, sizeof out, "HOMI_SOCKET=%s %s limit client-timeout 2 >/dev/null", d.sock,
             homictl_bin);
    CHECK(system(out) == 0, "homictl limit");
    atomic_store(&b.stop, 1); /* the pump stops */
    pthread_join(b.pth, NULL);
    r = gpu_read(&b, cap, buf, 100, 0, 0); /* homid still posts it: it owes a wake-up now */
    CHECK(r == HOMI_EBADF, "closed file, no pump: %lld", (long long)r);
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        usleep(100000);
        ctl_list(list, sizeof list);
        gone = strstr(list, "gpu queues: 0 of 1 in use") != NULL;
    }
    CHECK(gone, "stalled queue not reclaimed:\n%s", list);
    CHECK(open_file(&b, f1) > 0, "the client lost its connection with its queue");
    homid_dq_pump_free(&b.pump);
    close(fd);
    free(buf);
    free(ref);
    tq_unmap(&b);
    t_raw_close(&b.raw);
    CHECK(t_homid_alive(&d), "homid died");
    CHECK(t_homid_stop(&d) == 0, "homid's exit status");
}

/* ------------------------------------------------------------ stress */

struct sworker {
    struct tq *q;
    uint64_t cap;
    int fd;
    uint64_t nrec, seed;
    unsigned n, bad;
};

static void *sworker_main(void *arg)
{
    struct sworker *w = arg;
    enum { DEPTH = 256 };
    char *a = malloc((size_t)DEPTH * 4096), b[4096];
    int64_t offs[DEPTH];
    uint64_t ts[DEPTH];
    uint64_t s = w->seed;
    for (unsigned i = 0; i < w->n; i += DEPTH) { /* DEPTH requests in flight */
        for (unsigned k = 0; k < DEPTH; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            offs[k] = (int64_t)((s >> 20) % w->nrec) * 4096;
            ts[k] = gpu_submit(w->q, w->cap, a + (size_t)k * 4096, 4096, offs[k], 0);
        }
        for (unsigned k = 0; k < DEPTH; k++) {
            int64_t got = gpu_wait(w->q, ts[k], a + (size_t)k * 4096, 4096);
            if (got != 4096 || t_pread_ref(w->fd, b, 4096, offs[k]) != 4096 ||
                memcmp(a + (size_t)k * 4096, b, 4096))
                w->bad++;
        }
    }
    free(a);
    return NULL;
}

/* Many requesters on a queue of many slots (the GPU benchmark's shape,
 * scaled to CPU threads): every read completes and is correct. */
static void test_stress(const char *dir)
{
    char f1[4200];
    t_path(f1, sizeof f1, dir, "one");
    make_file(f1, 64u << 20, 0);
    t_homid_start(&d, homid_bin, dir, NULL);
    struct tq q;
    connect_q(&q);
    long id = open_file(&q, f1);
    REQUIRE(id > 0, "open");
    REQUIRE(tq_create(&q, 16384, 16 << 10, 8, 8 << 20, 64 << 20, 1) == 0, "create");
    uint64_t cap;
    CHECK_RC(tq_op(&q, HOMID_DQ_EXPORT, q.queue, (uint32_t)id, 0, &cap), 0);
    enum { NT = 56 };
    struct sworker w[NT];
    pthread_t th[NT];
    uint64_t t0 = (uint64_t)time(NULL);
    struct timespec a0, a1;
    clock_gettime(CLOCK_MONOTONIC, &a0);
    for (int i = 0; i < NT; i++) {
        w[i] = (struct sworker){&q, cap, open(f1, O_RDONLY), 16384, t_rand() + t0, 2048, 0};
        pthread_create(&th[i], NULL, sworker_main, &w[i]);
    }
    unsigned bad = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        bad += w[i].bad;
        close(w[i].fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &a1);
    double secs = (double)(a1.tv_sec - a0.tv_sec) + (double)(a1.tv_nsec - a0.tv_nsec) / 1e9;
    printf("  %d threads x 2048 random 4 KiB reads, 256 in flight each, on 16384 slots: %.2f s "
           "(%.0f reads/s), %u bad\n",
           NT, secs, NT * 2048 / secs, bad);
    CHECK(bad == 0, "%u bad reads", bad);
    tq_unmap(&q);
    t_raw_close(&q.raw);
    CHECK(t_homid_stop(&d) == 0, "homid's exit status");
}

/* ------------------------------------------------------------ share */

struct fworker {
    struct tq *q;
    uint64_t cap, nblk, seed;
    double until;
    uint64_t bytes;
    unsigned bad;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 MiB reads, DEPTH in flight, until the deadline; bytes of the reads
 * that completed before it */
static void *fworker_main(void *arg)
{
    struct fworker *w = arg;
    enum { DEPTH = 4, BLK = 1 << 20 };
    char *a = malloc((size_t)DEPTH * BLK);
    uint64_t ts[DEPTH], s = w->seed;
    while (mono_s() < w->until) {
        for (unsigned k = 0; k < DEPTH; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            ts[k] = gpu_submit(w->q, w->cap, a + (size_t)k * BLK, BLK,
                               (int64_t)((s >> 20) % w->nblk) * BLK, 0);
        }
        for (unsigned k = 0; k < DEPTH; k++) {
            int64_t got = gpu_wait(w->q, ts[k], a + (size_t)k * BLK, BLK);
            if (got != BLK) w->bad++;
            if (got > 0 && mono_s() < w->until) w->bytes += (uint64_t)got;
        }
    }
    free(a);
    return NULL;
}

/* One client's flood: its own connection and queue, NT threads; returns
 * the bytes read before the deadline (bad reads counted in *bad). */
static uint64_t flood(const char *path, uint64_t nblk, double start, double secs, unsigned *bad)
{
    struct tq q;
    connect_q(&q);
    long id = open_file(&q, path);
    REQUIRE(id > 0, "open");
    REQUIRE(tq_create(&q, 64, 4096, 8, 1 << 20, 1 << 20, 1) == 0, "create");
    uint64_t cap;
    REQUIRE(tq_op(&q, HOMID_DQ_EXPORT, q.queue, (uint32_t)id, 0, &cap) == 0, "export");
    while (mono_s() < start)
        usleep(1000);
    enum { NT = 4 };
    struct fworker w[NT];
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) {
        w[i] = (struct fworker){&q,           cap, nblk, (uint64_t)getpid() * 977 + (uint64_t)i,
                                start + secs, 0,   0};
        pthread_create(&th[i], NULL, fworker_main, &w[i]);
    }
    uint64_t bytes = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        bytes += w[i].bytes;
        *bad += w[i].bad;
    }
    tq_unmap(&q);
    t_raw_close(&q.raw);
    return bytes;
}

static int ctl_cmd(char *out, size_t cap, const char *args)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "HOMI_SOCKET=%s %s %s 2>&1", d.sock, homictl_bin, args);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, cap - 1, p) : 0;
    out[n] = 0;
    return p ? pclose(p) : -1;
}

static void test_share(const char *dir)
{
    char f1[4200];
    t_path(f1, sizeof f1, dir, "one");
    const uint64_t nblk = 48;
    make_file(f1, nblk << 20, 0);
    t_homid_start(&d, homid_bin, dir, "--inflight=8");
    const double secs = 3.0;
    /* the child floods with weight 4, this process with weight 1; both
     * start at the same moment, after the weights are set */
    int up[2], go[2], res[2];
    REQUIRE(pipe(up) == 0 && pipe(go) == 0 && pipe(res) == 0, "pipe");
    pid_t kid = fork();
    REQUIRE(kid >= 0, "fork");
    if (kid == 0) {
        double start;
        char c = 1;
        (void)!write(up[1], &c, 1);
        if (read(go[0], &start, sizeof start) != sizeof start) _exit(3);
        unsigned bad = 0;
        uint64_t r[2] = {flood(f1, nblk, start, secs, &bad), bad};
        (void)!write(res[1], r, sizeof r);
        _exit(t_failures ? 1 : 0);
    }
    char c;
    REQUIRE(read(up[0], &c, 1) == 1, "child up");
    /* the child's connection exists once its flood has connected: set the
     * weights when both are connected (a weight is a live client's) */
    double start = mono_s() + 1.5;
    REQUIRE(write(go[1], &start, sizeof start) == sizeof start, "go");
    /* the child's weight, once it is connected (a weight is a live client's);
     * this process keeps the default weight 1 */
    usleep(700000);
    char out[8192], args[128];
    snprintf(args, sizeof args, "weight %d 4", (int)kid);
    CHECK(ctl_cmd(out, sizeof out, args) == 0, "weight child: %s", out);
    unsigned bad = 0;
    uint64_t mine = flood(f1, nblk, start, secs, &bad);
    uint64_t r[2] = {0, 0};
    CHECK(read(res[0], r, sizeof r) == sizeof r, "child result");
    int st = 0;
    waitpid(kid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    CHECK(bad == 0 && r[1] == 0, "bad reads: %u here, %llu in the child", bad,
          (unsigned long long)r[1]);
    double g1 = (double)mine / secs / 1e9, g4 = (double)r[0] / secs / 1e9;
    printf("  | two GPU-queue floods of 1 MiB reads, homid --inflight 8, %.1f s | weight 1 | "
           "weight 4 | ratio |\n  | GB/s | %.3f | %.3f | %.2fx |\n",
           secs, g1, g4, g1 > 0 ? g4 / g1 : 0.0);
    CHECK(g1 > 0 && g4 > 1.5 * g1, "weight 4 got %.3f GB/s, weight 1 %.3f GB/s: not by weight", g4,
          g1);
    close(up[0]);
    close(up[1]);
    close(go[0]);
    close(go[1]);
    close(res[0]);
    close(res[1]);
    CHECK(t_homid_stop(&d) == 0, "homid's exit status");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOMID HOMICTL serve|reclaim|stress|share\n", argv[0]);
        return 2;
    }
    homid_bin = argv[1];
    homictl_bin = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    t_seed_from_env((uint64_t)time(NULL));
    unsetenv("HOMI_SOCKET");
    unsetenv("HOMI_RUNTIME_DIR");
    const char *dir = t_make_tmpdir("homid-devq");
    t_context = argv[3];
    if (!strcmp(argv[3], "serve"))
        test_serve(dir);
    else if (!strcmp(argv[3], "reclaim"))
        test_reclaim(dir);
    else if (!strcmp(argv[3], "stress"))
        test_stress(dir);
    else if (!strcmp(argv[3], "share"))
        test_share(dir);
    else
        return 2;
    if (t_failures) t_show_log(&d);
    return t_finish(argv[3]);
}
