/* vm_passthru.c - the passthrough path against a real (emulated) NVMe
 * controller, run inside the test VM on ext4/xfs mounted from a namespace.
 *
 *   vm_passthru verify DIR       fragmented, sparse, preallocated and tail
 *                                files; random unaligned reads forced onto
 *                                passthrough equal pread byte-for-byte; then
 *                                the same after append, truncate, rewrite,
 *                                punch hole and reflink copy, with the file
 *                                open; the auto policy and the async API
 *   vm_passthru shared DIR SECS  kernel-path reader, passthrough reader,
 *                                an appending writer and a truncate/rewrite
 *                                churner on one controller, concurrently:
 *                                zero mismatches, each path served data, no
 *                                read ever shows a block of another file
 *   vm_passthru big DIR          256 MiB file read cold through passthrough:
 *                                path and command count (timing only shown)
 *
 * Exit 0 pass, 1 fail, 77 when passthrough is not available at all. */
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <time.h>

#include "homi_test.h"

#define MiB (1024u * 1024u)

static homi_engine *eng;

static homi_engine *engine_with(const char *k1, const char *v1, const char *k2, const char *v2)
{
    homi_config *c = homi_config_new();
    REQUIRE(c, "config");
    if (k1) REQUIRE(homi_config_set(c, k1, v1) == 0, "set %s", k1);
    if (k2) REQUIRE(homi_config_set(c, k2, v2) == 0, "set %s", k2);
    homi_engine *e = NULL;
    int rc = homi_engine_create(c, &e);
    homi_config_free(c);
    REQUIRE(rc == 0, "engine: %s", homi_strerror(rc));
    return e;
}

static int open_rw(const char *dir, const char *name, int trunc)
{
    char p[4096];
    t_path(p, sizeof p, dir, name);
    int fd = open(p, O_RDWR | O_CREAT | (trunc ? O_TRUNC : 0), 0644);
    REQUIRE(fd >= 0, "open %s: %s", p, strerror(errno));
    return fd;
}

static homi_file *hopen(homi_engine *e, const char *dir, const char *name, const char *path)
{
    char p[4096];
    t_path(p, sizeof p, dir, name);
    homi_file *f = NULL;
    int rc = homi_open(e, p, HOMI_RDONLY, &f);
    REQUIRE(rc == 0, "homi_open %s: %s", p, homi_strerror(rc));
    if (path) REQUIRE(homi_file_set_hint(f, "homi_path", path) == 0, "hint");
    return f;
}

/* n random reads of f, biased to unaligned ranges crossing extents and EOF. */
static void random_reads(homi_file *f, int fd, int n, const char *what)
{
    t_context = what;
    struct stat st;
    fstat(fd, &st);
    uint64_t size = (uint64_t)st.st_size;
    uint8_t *a = malloc(4 * MiB), *b = malloc(4 * MiB);
    REQUIRE(a && b, "oom");
    int bad = 0;
    for (int i = 0; i < n && bad < 5; i++) {
        uint64_t off;
        size_t len;
        switch (i % 5) {
        case 0:
            off = t_below(size + 1);
            len = 1 + t_below(4 * MiB - 1);
            break;
        case 1:
            off = t_below(size / 512 + 1) * 512;
            len = 512 * (1 + t_below(2048));
            break;
        case 2:
            off = size > 9000 ? size - t_below(9000) : 0;
            len = 1 + t_below(20000);
            break;
        case 3:
            off = t_below(size + 1);
            len = 1 + t_below(5000);
            break;
        default:
            off = t_below(size / 4096 + 1) * 4096 + t_below(3);
            len = 4096 * (1 + t_below(256)) - t_below(2);
            break;
        }
        bad += t_verify_range(f, fd, off, len, a, b) != 0;
    }
    free(a);
    free(b);
}

static void write_random(int fd, uint64_t off, size_t len)
{
    uint8_t *buf = malloc(len);
    REQUIRE(buf, "oom");
    t_fill_random(buf, len);
    t_pwrite_all(fd, buf, len, (off_t)off);
    free(buf);
}

static homi_stats fstats(homi_file *f)
{
    homi_stats s;
    homi_file_stats(f, &s);
    return s;
}

/* ------------------------------------------------------------ verify */

static void make_files(const char *dir)
{
    /* fragmented: two files written in interleaved 1 MiB pieces, synced */
    int a = open_rw(dir, "frag", 1), b = open_rw(dir, "other", 1);
    for (unsigned i = 0; i < 24; i++) {
        write_random(a, (uint64_t)i * MiB, MiB);
        write_random(b, (uint64_t)i * MiB, MiB);
        fsync(a);
        fsync(b);
    }
    write_random(a, 24ull * MiB, 12345); /* tail inside a block */
    fsync(a);
    close(a);
    close(b);
    /* sparse: data islands at unaligned offsets between holes */
    int s = open_rw(dir, "sparse", 1);
    for (unsigned i = 0; i < 16; i++)
        write_random(s, (uint64_t)i * 3 * MiB + t_below(MiB), 1000 + t_below(300000));
    fsync(s);
    close(s);
    /* preallocated: unwritten ranges the kernel must serve (as zeros or
     * dirty data), written ranges in between */
    int u = open_rw(dir, "prealloc", 1);
    REQUIRE(fallocate(u, 0, 0, 16 * MiB) == 0, "fallocate: %s", strerror(errno));
    write_random(u, 1 * MiB + 100, 2 * MiB);
    write_random(u, 9 * MiB, 3000);
    fsync(u);
    write_random(u, 12 * MiB, 5000); /* dirty, not synced */
    close(u);
    /* small */
    int t = open_rw(dir, "small", 1);
    write_random(t, 0, 5000);
    close(t);
}

static void verify_file(const char *dir, const char *name, int reads)
{
    char p[4096];
    t_path(p, sizeof p, dir, name);
    int fd = open(p, O_RDONLY);
    REQUIRE(fd >= 0, "open %s", p);
    homi_file *f = hopen(eng, dir, name, "passthru");
    char why[200];
    int st = homi_file_path_status(f, HOMI_PATH_PASSTHRU, why, sizeof why);
    printf("%s: passthrough %s (%s)\n", name, st == 1 ? "usable" : "NOT usable", why);
    CHECK(st == 1, "passthrough not usable for %s: %s", name, why);
    random_reads(f, fd, reads, name);
    homi_stats s = fstats(f);
    printf("%s: passthru %llu B in %llu NVMe commands, kernel %llu B, holes %llu B, "
           "fallbacks unsafe %llu error %llu changed %llu\n",
           name, (unsigned long long)s.path[HOMI_PATH_PASSTHRU].bytes,
           (unsigned long long)s.nvme_cmds, (unsigned long long)s.path[HOMI_PATH_KERNEL].bytes,
           (unsigned long long)s.path[HOMI_PATH_HOLE].bytes,
           (unsigned long long)s.fallbacks[HOMI_FB_EXTENT_UNSAFE],
           (unsigned long long)s.fallbacks[HOMI_FB_PASSTHRU_ERROR],
           (unsigned long long)s.fallbacks[HOMI_FB_CHANGED_IN_FLIGHT]);
    CHECK(s.path[HOMI_PATH_PASSTHRU].bytes > 0 && s.nvme_cmds > 0, "%s: no passthrough", name);
    CHECK(s.fallbacks[HOMI_FB_PASSTHRU_ERROR] == 0, "%s: NVMe commands failed", name);
    if (!strcmp(name, "sparse")) CHECK(s.path[HOMI_PATH_HOLE].bytes > 0, "no hole served");
    if (!strcmp(name, "prealloc"))
        CHECK(s.fallbacks[HOMI_FB_EXTENT_UNSAFE] > 0, "unwritten ranges not sent to the kernel");
    homi_close(f);
    close(fd);
}

/* Modify "frag" while it is open and read after each change. */
static void verify_changes(const char *dir)
{
    char p[4096];
    t_path(p, sizeof p, dir, "frag");
    int fd = open(p, O_RDWR);
    REQUIRE(fd >= 0, "open");
    homi_file *f = hopen(eng, dir, "frag", "passthru");
    random_reads(f, fd, 20, "before changes");
    write_random(fd, 24ull * MiB + 12345, 3 * MiB + 77); /* append (dirty) */
    random_reads(f, fd, 40, "after append");
    REQUIRE(ftruncate(fd, 7 * MiB + 999) == 0, "truncate");
    random_reads(f, fd, 40, "after truncate");
    write_random(fd, 2 * MiB + 333, MiB); /* rewrite in place (dirty) */
    random_reads(f, fd, 40, "after rewrite");
    write_random(fd, 5 * MiB, 2 * MiB); /* extend again, then sync */
    fsync(fd);
    REQUIRE(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MiB + 4096, 2 * MiB) == 0,
            "punch hole: %s", strerror(errno));
    random_reads(f, fd, 40, "after punch hole");
    int src = open_rw(dir, "clone-src", 1);
    write_random(src, 0, 4 * MiB);
    fsync(src);
    struct file_clone_range r = {src, 0, 2 * MiB, 3 * MiB};
    if (ioctl(fd, FICLONERANGE, &r) == 0) {
        random_reads(f, fd, 40, "after reflink copy");
        printf("reflink copy onto the open file: checked\n");
    } else {
        printf("reflink copy: not supported here (%s), not checked\n", strerror(errno));
    }
    close(src);
    homi_stats s = fstats(f);
    printf("changes: passthru %llu B, %llu commands, map rebuilds %llu, changed-in-flight %llu\n",
           (unsigned long long)s.path[HOMI_PATH_PASSTHRU].bytes, (unsigned long long)s.nvme_cmds,
           (unsigned long long)s.map_builds,
           (unsigned long long)s.fallbacks[HOMI_FB_CHANGED_IN_FLIGHT]);
    CHECK(s.map_builds >= 5, "extent map not rebuilt after the changes (%llu builds)",
          (unsigned long long)s.map_builds);
    homi_close(f);
    close(fd);
}

/* homi_path=auto with homi_direct: large reads go to passthrough. */
static void verify_auto_async(const char *dir)
{
    t_context = "auto+async";
    homi_engine *e = engine_with("homi_direct", "on", NULL, NULL);
    char p[4096];
    t_path(p, sizeof p, dir, "other"); /* written, synced, no holes */
    int fd = open(p, O_RDONLY);
    homi_file *f = NULL;
    REQUIRE(homi_open(e, p, HOMI_RDONLY, &f) == 0, "open");
    enum { N = 64, L = 700000 };
    uint8_t *buf = malloc((size_t)N * L), *ref = malloc(L);
    homi_io io[N];
    struct stat st;
    fstat(fd, &st);
    for (int i = 0; i < N; i++)
        io[i] = (homi_io){f,           buf + (size_t)i * L,
                          L,           (int64_t)t_below((uint64_t)st.st_size - L),
                          (uint64_t)i, {0, 0, 0}};
    CHECK(homi_submit(e, io, N) == N, "submit");
    homi_completion c[N];
    int got = 0;
    while (got < N) {
        int r = homi_wait(e, c + got, 1, N - got, 20000);
        REQUIRE(r > 0, "wait: %d", r);
        got += r;
    }
    for (int i = 0; i < N; i++) {
        homi_io *q = &io[c[i].user_data];
        CHECK(c[i].result == L, "async result %lld", (long long)c[i].result);
        CHECK(t_pread_ref(fd, ref, L, (off_t)q->offset) == L && !memcmp(ref, q->buf, L),
              "async read %d differs", i);
        CHECK(c[i].path_mask & (1u << HOMI_PATH_PASSTHRU), "auto did not use passthrough");
    }
    /* small reads stay on the kernel path */
    int64_t r = homi_pread(f, buf, 4096, 8192);
    CHECK(r == 4096, "small read %lld", (long long)r);
    homi_stats s = fstats(f);
    CHECK(s.path[HOMI_PATH_KERNEL].bytes >= 4096, "auto sent a 4 KiB read to passthrough");
    printf("auto+async: %d reads of %d B, passthru %llu B, %llu commands\n", N, L,
           (unsigned long long)s.path[HOMI_PATH_PASSTHRU].bytes, (unsigned long long)s.nvme_cmds);
    homi_close(f);
    homi_engine_destroy(e);
    free(buf);
    free(ref);
    close(fd);
}

static int cmd_verify(const char *dir)
{
    make_files(dir);
    verify_file(dir, "frag", 200);
    verify_file(dir, "sparse", 150);
    verify_file(dir, "prealloc", 150);
    verify_file(dir, "small", 50);
    verify_changes(dir);
    verify_auto_async(dir);
    return t_finish("vm_passthru verify");
}

/* ------------------------------------------------------------ shared */

#define BLK 4096u
#define W_MAGIC 1u
#define Z_MAGIC 2u

/* Byte k of block i of the churned (W) or appended (Z) file: never 0, and
 * W and Z differ almost everywhere, so a block of the other file (or of
 * another position) cannot pass for this one. */
static uint8_t sig_byte(unsigned magic, uint64_t i, unsigned k)
{
    uint8_t v = (uint8_t)(i * 131 + k * (magic == W_MAGIC ? 7 : 13) + magic * 97);
    return v ? v : 1;
}

static void fill_sig(uint8_t *b, unsigned magic, uint64_t first, unsigned nblk)
{
    for (unsigned j = 0; j < nblk; j++)
        for (unsigned k = 0; k < BLK; k++)
            b[(size_t)j * BLK + k] = sig_byte(magic, first + j, k);
}

struct shared_ctx {
    const char *dir;
    volatile int stop;
    uint64_t reads[4], bad[4];
};

static void *reader_fixed(void *arg, const char *name, const char *path, int slot)
{
    struct shared_ctx *x = arg;
    char p[4096];
    t_path(p, sizeof p, x->dir, name);
    int fd = open(p, O_RDONLY);
    homi_file *f = hopen(eng, x->dir, name, path);
    uint8_t *a = malloc(MiB), *b = malloc(MiB);
    struct stat st;
    fstat(fd, &st);
    while (!x->stop) {
        uint64_t off = t_below((uint64_t)st.st_size);
        size_t len = 1 + t_below(MiB - 1);
        int64_t got = homi_pread(f, a, len, (int64_t)off);
        ssize_t want = t_pread_ref(fd, b, len, (off_t)off);
        if (got != want || (got > 0 && memcmp(a, b, (size_t)got))) x->bad[slot]++;
        x->reads[slot]++;
    }
    free(a);
    free(b);
    homi_close(f);
    close(fd);
    return NULL;
}
static void *kernel_reader(void *arg)
{
    return reader_fixed(arg, "X", "kernel", 0);
}
static void *passthru_reader(void *arg)
{
    return reader_fixed(arg, "Y", "passthru", 1);
}

static void *appender(void *arg)
{
    struct shared_ctx *x = arg;
    int fd = open_rw(x->dir, "Z", 1);
    uint8_t *b = malloc(16 * BLK);
    uint64_t blk = 0;
    while (!x->stop) {
        fill_sig(b, Z_MAGIC, blk, 16);
        t_pwrite_all(fd, b, 16 * BLK, (off_t)(blk * BLK));
        blk += 16;
        if (blk % 256 == 0) fsync(fd);
    }
    fsync(fd);
    free(b);
    close(fd);
    return NULL;
}

/* Truncate W to nothing and write it again, over and over: its blocks are
 * freed and handed to Z while passthrough reads of W are in flight. */
static void *churner(void *arg)
{
    struct shared_ctx *x = arg;
    int fd = open_rw(x->dir, "W", 0);
    uint8_t *b = malloc(256 * BLK);
    fill_sig(b, W_MAGIC, 0, 256);
    while (!x->stop) {
        REQUIRE(ftruncate(fd, 0) == 0, "truncate W");
        for (uint64_t blk = 0; blk < 1024; blk += 256) {
            fill_sig(b, W_MAGIC, blk, 256);
            t_pwrite_all(fd, b, 256 * BLK, (off_t)(blk * BLK));
        }
        fsync(fd);
        x->reads[3]++;
    }
    free(b);
    close(fd);
    return NULL;
}

static void *churn_reader(void *arg)
{
    struct shared_ctx *x = arg;
    homi_file *f = hopen(eng, x->dir, "W", "passthru");
    uint8_t *a = malloc(64 * BLK);
    while (!x->stop) {
        uint64_t first = t_below(1024 - 64);
        unsigned n = 1 + (unsigned)t_below(64);
        int64_t got = homi_pread(f, a, (size_t)n * BLK, (int64_t)(first * BLK));
        if (got < 0) {
            x->bad[2]++;
            continue;
        }
        for (int64_t k = 0; k < got; k++) {
            uint64_t blk = first + (uint64_t)k / BLK;
            uint8_t v = a[k];
            if (v && v != sig_byte(W_MAGIC, blk, (unsigned)(k % BLK))) {
                x->bad[2]++;
                fprintf(stderr, "W block %llu byte %lld: %02x is neither 0 nor W's\n",
                        (unsigned long long)blk, (long long)(k % BLK), v);
                break;
            }
        }
        x->reads[2]++;
    }
    free(a);
    homi_close(f);
    return NULL;
}

static int cmd_shared(const char *dir, int secs)
{
    int xf = open_rw(dir, "X", 1), yf = open_rw(dir, "Y", 1), wf = open_rw(dir, "W", 1);
    write_random(xf, 0, 16 * MiB);
    write_random(yf, 0, 16 * MiB);
    uint8_t *b = malloc(1024 * BLK);
    fill_sig(b, W_MAGIC, 0, 1024);
    t_pwrite_all(wf, b, 1024 * BLK, 0);
    free(b);
    fsync(xf);
    fsync(yf);
    fsync(wf);
    close(xf);
    close(yf);
    close(wf);
    struct shared_ctx x = {.dir = dir};
    pthread_t th[5];
    void *(*fn[5])(void *) = {kernel_reader, passthru_reader, appender, churner, churn_reader};
    for (int i = 0; i < 5; i++)
        REQUIRE(pthread_create(&th[i], NULL, fn[i], &x) == 0, "thread");
    sleep((unsigned)secs);
    x.stop = 1;
    for (int i = 0; i < 5; i++)
        pthread_join(th[i], NULL);
    /* what was appended reads back exactly, through passthrough */
    char p[4096];
    t_path(p, sizeof p, dir, "Z");
    int zf = open(p, O_RDONLY);
    homi_file *z = hopen(eng, dir, "Z", "passthru");
    random_reads(z, zf, 50, "appended file");
    homi_close(z);
    close(zf);
    homi_stats s;
    homi_engine_stats(eng, &s);
    printf("shared %ds: kernel reader %llu reads (%llu bad), passthru reader %llu (%llu bad), "
           "churn reader %llu (%llu bad), churn rounds %llu\n",
           secs, (unsigned long long)x.reads[0], (unsigned long long)x.bad[0],
           (unsigned long long)x.reads[1], (unsigned long long)x.bad[1],
           (unsigned long long)x.reads[2], (unsigned long long)x.bad[2],
           (unsigned long long)x.reads[3]);
    printf("engine: kernel %llu B, passthru %llu B in %llu commands, holes %llu B, "
           "changed-in-flight re-reads %llu, map rebuilds %llu\n",
           (unsigned long long)s.path[HOMI_PATH_KERNEL].bytes,
           (unsigned long long)s.path[HOMI_PATH_PASSTHRU].bytes, (unsigned long long)s.nvme_cmds,
           (unsigned long long)s.path[HOMI_PATH_HOLE].bytes,
           (unsigned long long)s.fallbacks[HOMI_FB_CHANGED_IN_FLIGHT],
           (unsigned long long)s.map_builds);
    CHECK(x.bad[0] + x.bad[1] + x.bad[2] == 0, "mismatches under concurrency");
    CHECK(x.reads[0] > 0 && x.reads[1] > 0 && x.reads[2] > 0 && x.reads[3] > 0, "a thread idled");
    CHECK(s.path[HOMI_PATH_KERNEL].bytes > 0, "kernel path served nothing");
    CHECK(s.path[HOMI_PATH_PASSTHRU].bytes > 0, "passthrough served nothing");
    return t_finish("vm_passthru shared");
}

/* ------------------------------------------------------------ big */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmd_big(const char *dir)
{
    const uint64_t size = 256ull * MiB, req = 8 * MiB;
    int fd = open_rw(dir, "big", 1);
    for (uint64_t o = 0; o < size; o += 4 * MiB)
        write_random(fd, o, 4 * MiB);
    fsync(fd);
    int dc = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (dc >= 0) {
        ssize_t w = write(dc, "3", 1);
        (void)w;
        close(dc);
    }
    homi_file *f = hopen(eng, dir, "big", "passthru");
    uint8_t *buf = malloc(size), *ref = malloc(req);
    REQUIRE(buf && ref, "oom");
    double t0 = now_s();
    enum { QD = 8 };
    uint64_t next = 0, done = 0;
    unsigned mask = 0;
    while (done < size) {
        while (next < size && next - done < QD * req) {
            homi_io io = {f, buf + next, req, (int64_t)next, next, {0, 0, 0}};
            REQUIRE(homi_submit(eng, &io, 1) == 1, "submit");
            next += req;
        }
        homi_completion c;
        REQUIRE(homi_wait(eng, &c, 1, 1, 60000) == 1, "wait");
        CHECK(c.result == (int64_t)req, "result %lld", (long long)c.result);
        mask |= c.path_mask;
        done += req;
    }
    double t = now_s() - t0;
    for (uint64_t o = 0; o < size; o += req) {
        REQUIRE(t_pread_ref(fd, ref, req, (off_t)o) == (ssize_t)req, "pread");
        if (memcmp(ref, buf + o, req)) {
            T_FAIL("256 MiB file: bytes differ in [%llu, +8M)", (unsigned long long)o);
            break;
        }
    }
    homi_stats s = fstats(f);
    printf("big: %llu MiB read through %s%s%s, %llu NVMe commands (%.1f KiB each), "
           "%.0f MB/s inside TCG (not a performance figure)\n",
           (unsigned long long)(size >> 20), mask & (1u << HOMI_PATH_PASSTHRU) ? "passthru " : "",
           mask & (1u << HOMI_PATH_KERNEL) ? "kernel " : "",
           mask & (1u << HOMI_PATH_HOLE) ? "hole" : "", (unsigned long long)s.nvme_cmds,
           s.nvme_cmds ? (double)s.path[HOMI_PATH_PASSTHRU].bytes / (double)s.nvme_cmds / 1024 : 0,
           (double)size / t / 1e6);
    homi_stats_print(&s, t, stdout);
    CHECK(s.path[HOMI_PATH_PASSTHRU].bytes == size, "not all bytes came through passthrough");
    homi_close(f);
    free(buf);
    free(ref);
    close(fd);
    return t_finish("vm_passthru big");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: vm_passthru verify|shared|big DIR [SECONDS]\n");
        return 2;
    }
    t_seed_from_env((uint64_t)time(NULL));
    eng = engine_with(NULL, NULL, NULL, NULL);
    char why[200];
    homi_file *probe = NULL;
    char p[4096];
    t_path(p, sizeof p, argv[2], ".probe");
    int pf = open(p, O_CREAT | O_WRONLY, 0644);
    close(pf);
    if (homi_open(eng, p, HOMI_RDONLY, &probe) == 0) {
        int st = homi_file_path_status(probe, HOMI_PATH_PASSTHRU, why, sizeof why);
        homi_close(probe);
        if (st != 1) {
            printf("passthrough not available on %s: %s\n", argv[2], why);
            return 77;
        }
    }
    int rc;
    if (!strcmp(argv[1], "verify"))
        rc = cmd_verify(argv[2]);
    else if (!strcmp(argv[1], "shared"))
        rc = cmd_shared(argv[2], argc > 3 ? atoi(argv[3]) : 20);
    else if (!strcmp(argv[1], "big"))
        rc = cmd_big(argv[2]);
    else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        rc = 2;
    }
    homi_engine_destroy(eng);
    return rc;
}
