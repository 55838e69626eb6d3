/* vm_vfio.c - hardware-assisted delegation inside the test VM
 * (HOMI_VM_LAYOUT=subsys): the file system is mounted from the kernel's
 * controller of an NVMe subsystem; a second controller of the same
 * subsystem, bound to vfio-pci, is driven by HOMI's user-space queue
 * driver (include/homi_nvme.h).
 *
 *   vm_vfio BDF SECS DIR
 *     1. isolation: queue 0 (admin), out-of-range and busy queues are
 *        refused to clients
 *     2. fragmented, sparse, preallocated (+dirty) and small files: random
 *        unaligned reads through the delegated controller equal pread
 *        byte-for-byte (ranges crossing extents, holes, ending at EOF)
 *     3. refusals: ranges past EOF / overflowing are refused before any
 *        command is built (the commands-built counter does not move);
 *        registered destinations: the controller writes into them directly
 *     4. SECS seconds of concurrency on the shared namespace: two clients
 *        (two I/O queue pairs) read through the delegated controller while
 *        a kernel-path reader checks a file against its known content and
 *        a writer appends to another; then the appended file is read whole
 *        through the delegated controller and compared with what was
 *        written
 *     5. the owner is closed (controller shut down) and opened again
 *
 *   vm_vfio --sriov CTRL OUTFILE
 *     the SR-IOV variant's set-up (see sriov_setup)
 *
 * Exit 0 pass, 1 fail, 77 when the delegated controller cannot be opened
 * because vfio is missing. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "homi_nvme.h"
#include "homi_test.h"

#define MiB (1024u * 1024u)
#define MAXREAD (3 * MiB)

static const char *bdf, *dir;
static homi_nvme_owner *own;

static int open_rw(const char *name, int trunc)
{
    char p[4096];
    t_path(p, sizeof p, dir, name);
    int fd = open(p, O_RDWR | O_CREAT | (trunc ? O_TRUNC : 0), 0644);
    REQUIRE(fd >= 0, "open %s: %s", p, strerror(errno));
    return fd;
}

static void write_random(int fd, uint64_t off, size_t len, uint8_t *keep)
{
    uint8_t *buf = malloc(len);
    REQUIRE(buf, "oom");
    t_fill_random(buf, len);
    t_pwrite_all(fd, buf, len, (off_t)off);
    if (keep) memcpy(keep + off, buf, len);
    free(buf);
}

static struct homi_nvme_stats stats(void)
{
    struct homi_nvme_stats s;
    homi_nvme_stats_get(own, &s);
    return s;
}

/* per-thread PRNG (splitmix64) */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random range of a file of size bytes, biased to unaligned ranges,
 * ranges crossing extents and ranges ending at EOF. */
static void pick(uint64_t *rs, uint64_t size, int i, uint64_t *off, size_t *len)
{
    uint64_t o, l;
    switch (i % 5) {
    case 0: /* anywhere, up to 3 MiB */
        o = rnd(rs) % (size + 1);
        l = 1 + rnd(rs) % MAXREAD;
        break;
    case 1: /* LBA-aligned */
        o = rnd(rs) % (size / 512 + 1) * 512;
        l = 512 * (1 + rnd(rs) % 2048);
        break;
    case 2: /* ending at EOF */
        l = 1 + rnd(rs) % 20000;
        o = size > l ? size - l : 0;
        break;
    case 3: /* small */
        o = rnd(rs) % (size + 1);
        l = 1 + rnd(rs) % 5000;
        break;
    default: /* near page boundaries */
        o = rnd(rs) % (size / 4096 + 1) * 4096 + rnd(rs) % 3;
        l = 4096 * (1 + rnd(rs) % 256) - rnd(rs) % 2;
        break;
    }
    if (o > size) o = size;
    if (o + l > size) l = size - o; /* the API refuses ranges past EOF */
    *off = o;
    *len = (size_t)l;
}

/* One delegated read compared with pread; returns 0 when equal. */
static int compare(homi_nvme_file *f, int fd, uint64_t off, size_t len, uint8_t *a, uint8_t *b,
                   const char *what)
{
    memset(a, 0xa5, len);
    memset(b, 0x5a, len);
    int64_t got = homi_nvme_read(f, a, len, off);
    ssize_t want = t_pread_ref(fd, b, len, (off_t)off);
    if (got != (int64_t)len || want != (ssize_t)len) {
        fprintf(stderr, "FAIL [%s] read %zu at %llu: delegated %lld (%s), pread %zd\n", what, len,
                (unsigned long long)off, (long long)got, got < 0 ? homi_strerror((int)got) : "",
                want);
        return -1;
    }
    if (memcmp(a, b, len)) {
        size_t i = 0;
        while (a[i] == b[i])
            i++;
        fprintf(stderr, "FAIL [%s] read %zu at %llu: first difference at +%zu (%02x vs %02x)\n",
                what, len, (unsigned long long)off, i, a[i], b[i]);
        return -1;
    }
    return 0;
}

static uint64_t fsize(int fd)
{
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0, "fstat");
    return (uint64_t)st.st_size;
}

/* ------------------------------------------------------------ 1. isolation */

static void check_isolation(void)
{
    t_context = "isolation";
    struct homi_nvme_info in;
    REQUIRE(homi_nvme_owner_info(own, &in) == 0, "info");
    struct homi_nvme_stats s0 = stats();
    homi_nvme_client *c = NULL, *d = NULL;
    CHECK_RC(homi_nvme_client_open(own, 0, &c), HOMI_EACCES); /* the admin queue */
    CHECK(c == NULL, "a client for queue 0 was returned");
    CHECK_RC(homi_nvme_client_open(own, (int)in.io_queues + 1, &c), HOMI_ERANGE);
    CHECK_RC(homi_nvme_client_open(own, -7, &c), HOMI_ERANGE);
    CHECK_RC(homi_nvme_client_open(own, 1, &c), 0);
    CHECK(homi_nvme_client_qid(c) == 1, "qid %d", homi_nvme_client_qid(c));
    CHECK_RC(homi_nvme_client_open(own, 1, &d), HOMI_EBUSY);
    /* every queue taken: the next client is refused, never given queue 0 */
    homi_nvme_client *all[64] = {0};
    unsigned n = 0;
    while (n < 64 && homi_nvme_client_open(own, HOMI_NVME_QID_ANY, &all[n]) == 0) {
        CHECK(homi_nvme_client_qid(all[n]) >= 2, "client got queue %d",
              homi_nvme_client_qid(all[n]));
        n++;
    }
    CHECK(n == in.io_queues - 1, "%u more clients for %u queues", n, in.io_queues);
    CHECK_RC(homi_nvme_client_open(own, HOMI_NVME_QID_ANY, &d), HOMI_EBUSY);
    for (unsigned i = 0; i < n; i++)
        homi_nvme_client_close(all[i]);
    homi_nvme_client_close(c);
    struct homi_nvme_stats s1 = stats();
    CHECK(s1.qid_refused - s0.qid_refused == 6, "refused %llu client opens, expected 6",
          (unsigned long long)(s1.qid_refused - s0.qid_refused));
    CHECK(s1.cmds_built == s0.cmds_built, "commands built");
    printf("isolation: queue 0, out-of-range and busy queues refused (%llu refusals); "
           "%u queue pairs opened and closed; admin commands so far %llu\n",
           (unsigned long long)(s1.qid_refused - s0.qid_refused), n + 1,
           (unsigned long long)s1.admin_cmds);
}

/* ------------------------------------------------------------ 2. files */

static uint8_t *other_data; /* what "other" holds (the kernel reader checks it) */
static uint64_t other_size;

static void make_files(void)
{
    int a = open_rw("frag", 1), b = open_rw("other", 1);
    other_size = 6 * MiB + 4321;
    other_data = malloc(other_size);
    REQUIRE(other_data, "oom");
    for (unsigned i = 0; i < 12; i++) { /* interleaved: fragmented extents */
        write_random(a, (uint64_t)i * MiB / 2, MiB / 2, NULL);
        write_random(b, (uint64_t)i * MiB / 2, MiB / 2, other_data);
        fsync(a);
        fsync(b);
    }
    write_random(a, 6ull * MiB, 12345, NULL); /* tail inside a block */
    write_random(b, 6ull * MiB, 4321, other_data);
    fsync(a);
    fsync(b);
    close(a);
    close(b);
    int s = open_rw("sparse", 1); /* data islands at unaligned offsets */
    for (unsigned i = 0; i < 10; i++)
        write_random(s, (uint64_t)i * 2 * MiB + t_below(MiB), 1000 + t_below(300000), NULL);
    fsync(s);
    close(s);
    int u = open_rw("prealloc", 1); /* unwritten ranges: the kernel serves them */
    REQUIRE(fallocate(u, 0, 0, 8 * MiB) == 0, "fallocate: %s", strerror(errno));
    write_random(u, 1 * MiB + 100, 2 * MiB, NULL);
    write_random(u, 5 * MiB, 3000, NULL);
    fsync(u);
    write_random(u, 6 * MiB, 5000, NULL); /* dirty, not synced */
    close(u);
    int t = open_rw("small", 1);
    write_random(t, 0, 5000, NULL);
    close(t);
}

static homi_nvme_file *dfile(homi_nvme_client *c, int fd, const char *name)
{
    homi_nvme_file *f = NULL;
    char why[300] = "";
    int rc = homi_nvme_file_open(c, fd, &f, why, sizeof why);
    REQUIRE(rc == 0, "%s: not readable through the delegated controller: %s (%s)", name,
            homi_strerror(rc), why);
    return f;
}

static void verify_file(homi_nvme_client *c, const char *name, int reads)
{
    t_context = name;
    char p[4096];
    t_path(p, sizeof p, dir, name);
    int fd = open(p, O_RDONLY);
    REQUIRE(fd >= 0, "open %s", p);
    homi_nvme_file *f = dfile(c, fd, name);
    uint8_t *a = malloc(MAXREAD), *b = malloc(MAXREAD);
    REQUIRE(a && b, "oom");
    struct homi_nvme_stats s0 = stats();
    uint64_t size = fsize(fd), bytes = 0;
    int bad = 0;
    for (int i = 0; i < reads && bad < 5; i++) {
        uint64_t off;
        size_t len;
        pick(&t_rng_state, size, i, &off, &len);
        bad += compare(f, fd, off, len, a, b, name) != 0;
        bytes += len;
    }
    /* the whole file in one read */
    if (size <= MAXREAD) bad += compare(f, fd, 0, size, a, b, name) != 0, bytes += size;
    t_failures += bad;
    struct homi_nvme_stats s = stats();
    printf("%s: %d reads, %llu B verified: NVMe %llu B in %llu commands, kernel %llu B, holes "
           "%llu B, unsafe ranges %llu, changed %llu, map builds %llu\n",
           name, reads, (unsigned long long)bytes,
           (unsigned long long)(s.bytes_nvme - s0.bytes_nvme),
           (unsigned long long)(s.cmds_completed - s0.cmds_completed),
           (unsigned long long)(s.bytes_kernel - s0.bytes_kernel),
           (unsigned long long)(s.bytes_zero - s0.bytes_zero),
           (unsigned long long)(s.fb_unsafe - s0.fb_unsafe),
           (unsigned long long)(s.fb_changed - s0.fb_changed),
           (unsigned long long)(s.map_builds - s0.map_builds));
    CHECK(s.cmds_completed > s0.cmds_completed && s.bytes_nvme > s0.bytes_nvme,
          "%s: nothing read through the delegated controller", name);
    CHECK(s.cmd_errors == s0.cmd_errors, "%s: NVMe errors", name);
    CHECK(s.cmds_rejected == s0.cmds_rejected, "%s: commands rejected by the check", name);
    if (!strcmp(name, "sparse")) CHECK(s.bytes_zero > s0.bytes_zero, "no hole served");
    if (!strcmp(name, "prealloc"))
        CHECK(s.fb_unsafe > s0.fb_unsafe, "unwritten ranges not sent to the kernel");
    free(a);
    free(b);
    homi_nvme_file_close(f);
    close(fd);
}

/* ------------------------------------------------------------ 3. refusals */

static void check_refusals(homi_nvme_client *c)
{
    t_context = "refusals";
    char p[4096];
    t_path(p, sizeof p, dir, "frag");
    int fd = open(p, O_RDONLY);
    REQUIRE(fd >= 0, "open");
    homi_nvme_file *f = dfile(c, fd, "frag");
    uint64_t size = fsize(fd);
    uint8_t buf[64];
    struct homi_nvme_stats s0 = stats();
    CHECK_RC(homi_nvme_read(f, buf, 1, size), HOMI_ERANGE);             /* at EOF */
    CHECK_RC(homi_nvme_read(f, buf, 11, size - 10), HOMI_ERANGE);       /* across EOF */
    CHECK_RC(homi_nvme_read(f, buf, 64, size + 12345678), HOMI_ERANGE); /* far past */
    CHECK_RC(homi_nvme_read(f, buf, 16, UINT64_MAX - 8), HOMI_ERANGE);  /* overflow */
    CHECK_RC(homi_nvme_read(f, buf, 8, (uint64_t)INT64_MAX), HOMI_ERANGE);
    CHECK_RC(homi_nvme_read(f, NULL, 8, 0), HOMI_EINVAL);
    struct homi_nvme_stats s1 = stats();
    CHECK(s1.cmds_built == s0.cmds_built, "%llu commands built for refused requests",
          (unsigned long long)(s1.cmds_built - s0.cmds_built));
    CHECK(s1.refused - s0.refused == 5, "refused %llu, expected 5",
          (unsigned long long)(s1.refused - s0.refused));
    CHECK_RC(homi_nvme_read(f, buf, 10, size - 10), 10); /* the last bytes are fine */
    struct homi_nvme_stats s2 = stats();
    CHECK(s2.cmds_built > s1.cmds_built, "no command for a valid read");
    printf("refusals: %llu requests refused with %llu commands built; a valid read at EOF "
           "built %llu\n",
           (unsigned long long)(s1.refused - s0.refused),
           (unsigned long long)(s1.cmds_built - s0.cmds_built),
           (unsigned long long)(s2.cmds_built - s1.cmds_built));
    homi_nvme_file_close(f);
    /* a descriptor that does not allow reading is no proof of access */
    int wfd = open(p, O_WRONLY), pfd = open(p, O_PATH);
    REQUIRE(wfd >= 0 && pfd >= 0, "open O_WRONLY / O_PATH: %s", strerror(errno));
    homi_nvme_file *h = NULL;
    char why2[300] = "";
    CHECK_RC(homi_nvme_file_open(c, wfd, &h, why2, sizeof why2), HOMI_EBADF);
    CHECK_RC(homi_nvme_file_open(c, pfd, &h, why2, sizeof why2), HOMI_EBADF);
    CHECK(h == NULL, "a file handle for a write-only / O_PATH descriptor");
    printf("refusals: O_WRONLY and O_PATH descriptors: %s\n", why2);
    close(wfd);
    close(pfd);
    /* a file outside the delegated subsystem (the initramfs) is refused */
    int rfd = open("/homi/guest_lib.sh", O_RDONLY);
    if (rfd >= 0) {
        homi_nvme_file *g = NULL;
        char why[300] = "";
        int rc = homi_nvme_file_open(c, rfd, &g, why, sizeof why);
        CHECK(rc == HOMI_ENOTSUP && !g, "file on the initramfs accepted (%d)", rc);
        printf("refusals: file outside the subsystem: %s\n", why);
        close(rfd);
    }
    close(fd);
}

/* ------------------------------------------------------------ 3b. registered destination */

/* Reads into registered memory: the controller writes whole LBAs straight
 * into the destination (bytes_direct); unaligned destinations and partial
 * LBAs still go through the queue's buffers; all equal pread. */
static void check_registered(homi_nvme_client *c)
{
    t_context = "registered";
    char p[4096];
    t_path(p, sizeof p, dir, "frag");
    int fd = open(p, O_RDONLY);
    REQUIRE(fd >= 0, "open");
    homi_nvme_file *f = dfile(c, fd, "frag");
    size_t region = 4 * MiB + 8192;
    uint8_t *buf = NULL, *ref = malloc(MAXREAD);
    REQUIRE(posix_memalign((void **)&buf, 4096, region) == 0 && ref, "oom");
    uint8_t *user = buf + 100; /* not page aligned: registered rounded out */
    CHECK_RC(homi_nvme_register(own, user, 4 * MiB), 0);
    CHECK_RC(homi_nvme_register(own, buf + 2 * MiB, 4096), HOMI_EBUSY); /* overlaps */
    struct homi_nvme_stats s0 = stats();
    uint64_t size = fsize(fd), bytes = 0;
    int bad = 0, n = 60;
    for (int i = 0; i < n && bad < 5; i++) {
        uint64_t off;
        size_t len;
        pick(&t_rng_state, size, i, &off, &len);
        uint8_t *dst = user + (i % 4 == 3 ? 1 + t_below(MiB) : 4 * t_below(MiB / 4));
        bad += compare(f, fd, off, len, dst, ref, "registered") != 0;
        bytes += len;
    }
    t_failures += bad;
    struct homi_nvme_stats s1 = stats();
    printf(
        "registered: %d reads, %llu B verified; %llu B written by the controller straight into "
        "the destination, %llu B through the queue buffers\n",
        n, (unsigned long long)bytes, (unsigned long long)(s1.bytes_direct - s0.bytes_direct),
        (unsigned long long)(s1.bytes_nvme - s0.bytes_nvme - (s1.bytes_direct - s0.bytes_direct)));
    CHECK(s1.bytes_direct > s0.bytes_direct, "nothing transferred straight into the destination");
    CHECK(s1.bytes_nvme - s0.bytes_nvme > s1.bytes_direct - s0.bytes_direct,
          "unaligned destinations should have been copied");
    CHECK_RC(homi_nvme_unregister(own, user), 0);
    CHECK_RC(homi_nvme_unregister(own, user), HOMI_ENOENT);
    struct homi_nvme_stats s2 = stats();
    bad = 0;
    for (int i = 0; i < 10 && bad < 5; i++) {
        uint64_t off;
        size_t len;
        pick(&t_rng_state, size, i, &off, &len);
        bad += compare(f, fd, off, len, user + 4 * t_below(MiB / 4), ref, "unregistered") != 0;
    }
    t_failures += bad;
    struct homi_nvme_stats s3 = stats();
    CHECK(s3.bytes_direct == s2.bytes_direct, "direct transfer after unregister");
    free(buf);
    free(ref);
    homi_nvme_file_close(f);
    close(fd);
}

/* ------------------------------------------------------------ 4. concurrency */

static atomic_int stop;
static double secs;

struct reader {
    const char *names[4];
    uint64_t seed;
    int qid;
    uint64_t reads, bytes, fails;
};

static void *delegated_reader(void *arg)
{
    struct reader *r = arg;
    homi_nvme_client *c = NULL;
    int rc = homi_nvme_client_open(own, HOMI_NVME_QID_ANY, &c);
    if (rc) {
        fprintf(stderr, "FAIL client: %s\n", homi_strerror(rc));
        r->fails++;
        return NULL;
    }
    r->qid = homi_nvme_client_qid(c);
    int fds[4];
    homi_nvme_file *fs[4];
    unsigned nf = 0;
    for (; nf < 4 && r->names[nf]; nf++) {
        char p[4096];
        t_path(p, sizeof p, dir, r->names[nf]);
        fds[nf] = open(p, O_RDONLY);
        char why[300];
        if (fds[nf] < 0 || homi_nvme_file_open(c, fds[nf], &fs[nf], why, sizeof why)) {
            fprintf(stderr, "FAIL open %s for the delegated reader\n", p);
            r->fails++;
            return NULL;
        }
    }
    uint8_t *a = malloc(MAXREAD), *b = malloc(MAXREAD);
    for (int i = 0; !atomic_load(&stop) && r->fails < 5; i++) {
        unsigned k = (unsigned)(rnd(&r->seed) % nf);
        uint64_t off;
        size_t len;
        pick(&r->seed, fsize(fds[k]), i, &off, &len);
        if (compare(fs[k], fds[k], off, len, a, b, r->names[k])) r->fails++;
        r->reads++;
        r->bytes += len;
    }
    free(a);
    free(b);
    for (unsigned k = 0; k < nf; k++) {
        homi_nvme_file_close(fs[k]);
        close(fds[k]);
    }
    homi_nvme_client_close(c);
    return NULL;
}

struct kreader {
    uint64_t reads, bytes, fails;
};

static void *kernel_reader(void *arg) /* the kernel path on the same namespace */
{
    struct kreader *k = arg;
    char p[4096];
    t_path(p, sizeof p, dir, "other");
    int fd = open(p, O_RDONLY);
    uint8_t *b = malloc(MAXREAD);
    uint64_t seed = 77;
    while (fd >= 0 && b && !atomic_load(&stop)) {
        uint64_t off = rnd(&seed) % other_size;
        size_t len = 1 + rnd(&seed) % MAXREAD;
        if (off + len > other_size) len = other_size - off;
        if (t_pread_ref(fd, b, len, (off_t)off) != (ssize_t)len ||
            memcmp(b, other_data + off, len)) {
            fprintf(stderr, "FAIL kernel reader: %zu at %llu differs\n", len,
                    (unsigned long long)off);
            k->fails++;
        }
        if (k->reads % 8 == 0) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); /* reach the disk */
        k->reads++;
        k->bytes += len;
    }
    free(b);
    if (fd >= 0) close(fd);
    return NULL;
}

static uint8_t *grow_data;
static atomic_ullong grow_size;
static unsigned grow_appends;
static int grow_full; /* the writer stopped at GROW_MAX before the end */
#define GROW_MAX (24 * MiB)

static void *writer(void *arg)
{
    (void)arg;
    int fd = open_rw("grow", 0);
    uint64_t seed = 99, n = 0;
    while (!atomic_load(&stop)) {
        uint64_t at = atomic_load(&grow_size);
        size_t len = 1 + rnd(&seed) % (96 * 1024);
        if (at + len > GROW_MAX) {
            grow_full = 1;
            break;
        }
        for (size_t i = 0; i < len; i++)
            grow_data[at + i] = (uint8_t)rnd(&seed);
        t_pwrite_all(fd, grow_data + at, len, (off_t)at);
        if (++n % 4 == 0) fdatasync(fd);
        atomic_store(&grow_size, at + len);
        grow_appends++;
        struct timespec ts = {0, 40 * 1000000};
        nanosleep(&ts, NULL);
    }
    fsync(fd);
    close(fd);
    return NULL;
}

static void concurrency(void)
{
    t_context = "concurrency";
    grow_data = malloc(GROW_MAX);
    REQUIRE(grow_data, "oom");
    int g = open_rw("grow", 1);
    write_random(g, 0, MiB, grow_data);
    fsync(g);
    close(g);
    atomic_store(&grow_size, MiB);
    struct homi_nvme_stats s0 = stats();
    struct reader r1 = {{"frag", "sparse", "grow", NULL}, 1, 0, 0, 0, 0};
    struct reader r2 = {{"prealloc", "small", "frag", "grow"}, 2, 0, 0, 0, 0};
    struct kreader kr = {0, 0, 0};
    pthread_t th[4];
    pthread_create(&th[0], NULL, delegated_reader, &r1);
    pthread_create(&th[1], NULL, delegated_reader, &r2);
    pthread_create(&th[2], NULL, kernel_reader, &kr);
    pthread_create(&th[3], NULL, writer, NULL);
    struct timespec ts = {(time_t)secs, (long)((secs - (time_t)secs) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    struct homi_nvme_stats s1 = stats();
    printf("concurrency %.0f s: delegated queue %d: %llu reads %llu B, queue %d: %llu reads %llu "
           "B; kernel reader %llu reads %llu B; writer appended %llu B in %u appends%s; NVMe "
           "commands %llu, "
           "changed-in-flight re-reads %llu, map builds %llu\n",
           secs, r1.qid, (unsigned long long)r1.reads, (unsigned long long)r1.bytes, r2.qid,
           (unsigned long long)r2.reads, (unsigned long long)r2.bytes, (unsigned long long)kr.reads,
           (unsigned long long)kr.bytes, (unsigned long long)(atomic_load(&grow_size) - MiB),
           grow_appends, grow_full ? " (reached its cap before the end)" : " (until the end)",
           (unsigned long long)(s1.cmds_completed - s0.cmds_completed),
           (unsigned long long)(s1.fb_changed - s0.fb_changed),
           (unsigned long long)(s1.map_builds - s0.map_builds));
    t_failures += (int)(r1.fails + r2.fails + kr.fails);
    CHECK(r1.reads > 0 && r2.reads > 0 && kr.reads > 0, "a reader did not run");
    CHECK(r1.qid != r2.qid, "two clients on one queue");
    CHECK(atomic_load(&grow_size) > MiB, "the writer did not append");
    CHECK(s1.cmd_errors == s0.cmd_errors, "NVMe errors");

    /* the appended file, whole, through the delegated controller */
    homi_nvme_client *c = NULL;
    REQUIRE(homi_nvme_client_open(own, HOMI_NVME_QID_ANY, &c) == 0, "client");
    int fd = open_rw("grow", 0);
    homi_nvme_file *f = dfile(c, fd, "grow");
    uint64_t size = atomic_load(&grow_size);
    CHECK(fsize(fd) == size, "grow: size %llu, written %llu", (unsigned long long)fsize(fd),
          (unsigned long long)size);
    uint8_t *a = malloc(size);
    REQUIRE(a, "oom");
    struct homi_nvme_stats s2 = stats();
    CHECK_RC(homi_nvme_read(f, a, size, 0), (int64_t)size);
    struct homi_nvme_stats s3 = stats();
    CHECK(memcmp(a, grow_data, size) == 0, "grow: delegated read differs from what was written");
    CHECK(s3.bytes_nvme - s2.bytes_nvme == size, "grow: %llu of %llu B through NVMe",
          (unsigned long long)(s3.bytes_nvme - s2.bytes_nvme), (unsigned long long)size);
    printf("grow: %llu B appended under load, read whole through the delegated controller in "
           "%llu commands: equal to what was written\n",
           (unsigned long long)size, (unsigned long long)(s3.cmds_completed - s2.cmds_completed));
    free(a);
    homi_nvme_file_close(f);
    close(fd);
    homi_nvme_client_close(c);
}

/* ------------------------------------------------------------ main */

static int open_owner(void)
{
    char why[300] = "";
    int rc = homi_nvme_owner_open(bdf, NULL, &own, why, sizeof why);
    if (rc) {
        fprintf(stderr, "cannot take %s: %s (%s)\n", bdf, homi_strerror(rc), why);
        return rc;
    }
    struct homi_nvme_info in;
    homi_nvme_owner_info(own, &in);
    printf("delegated %s: %s, cntlid %u, %s, %u I/O queue pairs x %u, %u KiB per command "
           "(MDTS %u KiB), %u namespaces\n",
           bdf, in.model, in.cntlid, in.subnqn, in.io_queues, in.depth, in.max_xfer >> 10,
           in.mdts_bytes >> 10, in.nns);
    return 0;
}

/* vm_vfio --sriov CTRL OUT: the control plane's SR-IOV set-up on the PF
 * whose kernel controller is CTRL: VF 1 gets 4 queue resources (admin + 3
 * I/O queues) and 1 interrupt resource, goes online, is bound to vfio-pci;
 * its PCI address is written to OUT. */
static int sriov_setup(const char *ctrl, const char *out)
{
    char why[300] = "", vf[64] = "";
    int rc = homi_nvme_sriov_release_primary(ctrl, why, sizeof why);
    if (rc) {
        fprintf(stderr, "FAIL releasing the primary's flexible resources: %s (%s)\n",
                homi_strerror(rc), why);
        return 1;
    }
    rc = homi_nvme_sriov_vf_prepare(ctrl, 1, 4, 1, vf, sizeof vf, why, sizeof why);
    if (rc) {
        fprintf(stderr, "FAIL preparing VF 1: %s (%s)\n", homi_strerror(rc), why);
        return 1;
    }
    printf("VF 1 of %s: %s, online, bound to vfio-pci\n", ctrl, vf);
    FILE *f = fopen(out, "w");
    if (!f || fprintf(f, "%s\n", vf) < 0 || fclose(f)) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && !strcmp(argv[1], "--sriov")) return sriov_setup(argv[2], argv[3]);
    if (argc != 4) {
        fprintf(stderr, "usage: vm_vfio BDF SECS DIR | vm_vfio --sriov CTRL OUTFILE\n");
        return 2;
    }
    bdf = argv[1];
    secs = atof(argv[2]);
    dir = argv[3];
    t_seed_from_env(20261125);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (access("/dev/vfio/vfio", F_OK) != 0) {
        printf("SKIP: no /dev/vfio/vfio (vfio modules not loaded)\n");
        return 77;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (open_owner()) return 1;
    check_isolation();
    make_files();
    homi_nvme_client *c = NULL;
    REQUIRE(homi_nvme_client_open(own, HOMI_NVME_QID_ANY, &c) == 0, "client");
    verify_file(c, "frag", 60);
    verify_file(c, "other", 30);
    verify_file(c, "sparse", 60);
    verify_file(c, "prealloc", 40);
    verify_file(c, "small", 20);
    check_refusals(c);
    check_registered(c);
    homi_nvme_client_close(c);
    t_bail_if_many();
    concurrency();
    struct homi_nvme_stats s = stats();
    printf("totals: %llu reads accepted, %llu refused, %llu commands built, %llu completed, %llu "
           "errors, %llu rejected; NVMe %llu B (direct %llu B), kernel %llu B, holes %llu B; admin "
           "commands %llu\n",
           (unsigned long long)s.reads, (unsigned long long)s.refused,
           (unsigned long long)s.cmds_built, (unsigned long long)s.cmds_completed,
           (unsigned long long)s.cmd_errors, (unsigned long long)s.cmds_rejected,
           (unsigned long long)s.bytes_nvme, (unsigned long long)s.bytes_direct,
           (unsigned long long)s.bytes_kernel, (unsigned long long)s.bytes_zero,
           (unsigned long long)s.admin_cmds);
    homi_nvme_owner_close(own); /* shutdown, then bring-up again */
    own = NULL;
    REQUIRE(open_owner() == 0, "controller did not come back after shutdown");
    REQUIRE(homi_nvme_client_open(own, HOMI_NVME_QID_ANY, &c) == 0, "client");
    verify_file(c, "frag", 10);
    homi_nvme_owner_close(own); /* closes the client too */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("vm_vfio %s: %.1f s\n", dir,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return t_finish("vm_vfio");
}
