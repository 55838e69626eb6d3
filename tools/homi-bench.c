/* homi-bench - read one file through HOMI and through plain-POSIX baselines
 * in the same run, and print a table (optionally CSV).
 *
 *   homi-bench [options] [FILE]
 *
 * Methods (see bench/README.md for what each one measures):
 *   pread       plain buffered pread(2) loop, one thread, --block per call
 *   dd-direct   O_DIRECT pread(2) loop into a 4K-aligned buffer, one thread
 *               (what `dd iflag=direct bs=BLOCK` does); direct mode only
 *   homi        homi_pread() of --block sized requests, one after another
 *   homi-async  homi_submit()/homi_wait() keeping --window requests in flight
 *
 * Modes:
 *   cached      the file is page-cache resident (read once before timing);
 *               HOMI runs with homi_direct=off
 *   direct      before EVERY timed run of every method the file's cache is
 *               dropped (fdatasync + posix_fadvise(POSIX_FADV_DONTNEED));
 *               HOMI runs with homi_direct=on
 *
 * With no FILE this is the demo: /var/tmp/homi-sample.dat (1 GiB) is created
 * when missing, read back through HOMI, verified against pread, and the
 * per-path byte counts of the engine are printed.
 *
 * Exit status: 0 success, 1 I/O or verification error, 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "homi.h"
#ifdef HOMI_BENCH_GPU
#include "bench_gpu.h"
#endif

#define DEFAULT_FILE "/var/tmp/homi-sample.dat"
#define DEFAULT_SIZE (1ull << 30)
#define DEFAULT_BLOCK (16ull << 20)
#define DEFAULT_ITERS 3u
#define DEFAULT_WINDOW 8u
#define GOAL_RATIO 0.95
#define MAX_ITERS 1000u

/* ------------------------------------------------------------ methods */

enum method { M_PREAD, M_DD_DIRECT, M_HOMI, M_HOMI_ASYNC, M_COUNT };
static const char *const method_name[M_COUNT] = {"pread", "dd-direct", "homi", "homi-async"};
static const int method_baseline[M_COUNT] = {1, 1, 0, 0};

enum mode { MODE_CACHED, MODE_DIRECT, MODE_COUNT };
static const char *const mode_name[MODE_COUNT] = {"cached", "direct"};

/* ------------------------------------------------------------ options */

struct options {
    const char *file;
    int file_given;
    uint64_t size;
    int size_given;
    int create;
    uint64_t block;
    unsigned iters;
    int modes[MODE_COUNT];
    unsigned methods; /* bit per enum method */
    unsigned window;
    unsigned buffers; /* destination buffers the synchronous methods rotate through */
    struct hints hints;
    const char *csv;
    int verify; /* -1: default (on for the demo, off with FILE) */
    int verbose;
};

struct result {
    int valid;
    unsigned n;
    double best_s, sum_s;
    double cpu_s;        /* summed user+sys over the timed runs */
    double t[MAX_ITERS]; /* every run's time, in iteration order */
};

struct ctx {
    struct options o;
    int fd; /* control descriptor: drop cache, mincore, verify */
    uint64_t fsize;
    char *buf;   /* one --block buffer, 4K aligned */
    char *ref;   /* verification reference buffer */
    char **wbuf; /* max(--window, --buffers) destination buffers */
    unsigned nwbuf;
    int progress;        /* stderr is a TTY and not --quiet */
    double max_resident; /* direct mode: worst cache residency after a drop */
    struct result res[MODE_COUNT][M_COUNT];
    homi_stats stats[MODE_COUNT];
    double homi_secs[MODE_COUNT];
    int have_stats[MODE_COUNT];
    FILE *csv; /* --csv, opened before any work so a bad path fails fast */
    struct machine mach;
    char fstype[64], fsdev[1600];
};

/* ------------------------------------------------------------ helpers */

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int use_thp; /* --thp: back the destination buffers with transparent huge pages */

/* ------------------------------------------------------------ progress */

static struct {
    int on;
    char label[96];
    uint64_t total;
    double last;
    int shown;
} prog_state;

static void progress_begin(struct ctx *c, const char *label, uint64_t total)
{
    prog_state.on = c->progress;
    snprintf(prog_state.label, sizeof prog_state.label, "%s", label);
    prog_state.total = total ? total : 1;
    prog_state.last = 0;
    prog_state.shown = 0;
}

static void progress(uint64_t done)
{
    if (!prog_state.on) return;
    double t = now_s();
    if (t - prog_state.last < 0.1 && done < prog_state.total) return;
    prog_state.last = t;
    prog_state.shown = 1;
    fprintf(stderr, "\r%s %5.1f%%", prog_state.label,
            100.0 * (double)done / (double)prog_state.total);
    fflush(stderr);
}

static void progress_end(void)
{
    if (!prog_state.on || !prog_state.shown) return;
    fprintf(stderr, "\r%*s\r", (int)strlen(prog_state.label) + 8, "");
    fflush(stderr);
    prog_state.shown = 0;
}

/* ------------------------------------------------------------ machine */

static const char *fs_magic_name(unsigned long m)
{
    switch (m) {
    case 0xEF53: return "ext2/3/4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x6969: return "nfs";
    case 0x794c7630: return "overlay";
    case 0x2fc12fc1: return "zfs";
    case 0xF2F52010: return "f2fs";
    case 0x0BD00BD0: return "lustre";
    case 0x47504653: return "gpfs";
    case 0x19830326: return "beegfs";
    case 0x65735546: return "fuse";
    case 0x5346544e: return "ntfs";
    case 0x4d44: return "vfat";
    case 0x858458f6: return "ramfs";
    default: return NULL;
    }
}

/* File system type and source device of path: /proc/self/mountinfo by
 * st_dev (exact name such as "ext4"), statfs magic as a fallback. */
static void fs_info(const char *path, char *type, size_t tn, char *dev, size_t dn)
{
    snprintf(type, tn, "unknown");
    snprintf(dev, dn, "?");
    struct mount_info m;
    if (find_mount(path, &m) == 0) {
        snprintf(type, tn, "%s", m.type);
        snprintf(dev, dn, "%s on %s", m.src, m.dir);
        if (strcmp(type, "unknown") != 0) return;
    }
    struct statfs sf;
    if (statfs(path, &sf) == 0) {
        const char *n = fs_magic_name((unsigned long)sf.f_type);
        if (n)
            snprintf(type, tn, "%s", n);
        else
            snprintf(type, tn, "magic 0x%lx", (unsigned long)sf.f_type);
    }
}

/* ------------------------------------------------------------ data set */

/* Write size bytes of random data to path (see create_begin). */
static void create_file(struct ctx *c, const char *path, uint64_t size)
{
    char tmp[PATH_MAX + 32];
    int fd = create_begin(path, size, tmp, sizeof tmp);
    size_t bs = 16u << 20;
    uint64_t *b = xalloc_aligned(bs, use_thp);
    struct rng rng;
    rng_seed(&rng, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    char label[64];
    char sz[32];
    fmt_bytes(size, sz, sizeof sz);
    snprintf(label, sizeof label, "creating %s", sz);
    progress_begin(c, label, size);
    double t0 = now_s();
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off < bs ? (size_t)(size - off) : bs;
        rng_fill(&rng, b, n);
        size_t w = 0;
        while (w < n) {
            ssize_t r = pwrite(fd, (char *)b + w, n - w, (off_t)(off + w));
            if (r < 0) {
                if (errno == EINTR) continue;
                int e = errno;
                unlink(tmp);
                die("write %s: %s", tmp, strerror(e));
            }
            w += (size_t)r;
        }
        off += n;
        progress(off);
    }
    create_sync(fd, tmp);
    progress_end();
    free(b);
    create_commit(fd, tmp, path, size, t0);
}

/* Decide whether to (re)create the file, then open the control fd. */
static void prepare_file(struct ctx *c)
{
    struct stat st;
    int exists = existing_file(c->o.file, &st);
    int make = c->o.create || !exists;
    /* the demo file is ours: recreate it when a different --size is asked */
    if (!make && !c->o.file_given && (uint64_t)st.st_size != c->o.size) make = 1;
    if (make) {
        create_file(c, c->o.file, c->o.size);
    } else if (c->o.size_given && (uint64_t)st.st_size != c->o.size) {
        note("note: %s exists (%" PRIu64 " bytes); --size ignored without --create", c->o.file,
             (uint64_t)st.st_size);
    }
    c->fd = open_input(c->o.file, &c->fsize);
}

/* ------------------------------------------------------------ baselines */

/* Destination of the request at off for the timed synchronous methods:
 * --buffers N rotates through N buffers (default 1: one reused buffer). */
static char *sync_buf(const struct ctx *c, uint64_t off)
{
    return c->wbuf[(off / c->o.block) % c->o.buffers];
}

/* rotate: timed run (destination from sync_buf); else the scratch buffer */
static uint64_t pread_loop(struct ctx *c, int fd, int rotate, int direct, const char *what)
{
    uint64_t off = 0;
    while (off < c->fsize) {
        size_t want = c->fsize - off < c->o.block ? (size_t)(c->fsize - off) : (size_t)c->o.block;
        /* O_DIRECT needs an aligned length: ask for the whole aligned tail
         * (the buffer holds a full block) and take the short count at EOF */
        if (direct) want = (want + ALIGN - 1) / ALIGN * ALIGN;
        ssize_t r = pread(fd, rotate ? sync_buf(c, off) : c->buf, want, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("%s %s at offset %" PRIu64 ": %s", what, c->o.file, off, strerror(errno));
        }
        if (r == 0) break;
        off += (uint64_t)r;
        progress(off);
    }
    return off;
}

static uint64_t run_pread(struct ctx *c)
{
    int fd = open(c->o.file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open %s: %s", c->o.file, strerror(errno));
    uint64_t n = pread_loop(c, fd, 1, 0, "pread");
    close(fd);
    return n;
}

static uint64_t run_dd_direct(struct ctx *c)
{
    int fd = open(c->o.file, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) die("open %s with O_DIRECT: %s", c->o.file, strerror(errno));
    uint64_t n = pread_loop(c, fd, 1, 1, "O_DIRECT pread");
    close(fd);
    return n;
}

/* ------------------------------------------------------------ HOMI */

static uint64_t run_homi(struct ctx *c, homi_engine *eng)
{
    homi_file *f = homi_open_or_die(eng, c->o.file);
    uint64_t off = 0;
    while (off < c->fsize) {
        size_t want = c->fsize - off < c->o.block ? (size_t)(c->fsize - off) : (size_t)c->o.block;
        int64_t r = homi_pread(f, sync_buf(c, off), want, (int64_t)off);
        if (r < 0) die_homi_at("homi_pread", off, r);
        if (r == 0) break;
        off += (uint64_t)r;
        progress(off);
    }
    int rc = homi_close(f);
    if (rc) die_homi("homi_close", rc);
    return off;
}

#define UD_SLOT_BITS 16u

static void fill_io(struct ctx *c, homi_io *io, homi_file *f, unsigned slot, uint64_t blk)
{
    uint64_t off = blk * c->o.block;
    io_prep(io, f, c->wbuf[slot],
            c->fsize - off < c->o.block ? (size_t)(c->fsize - off) : (size_t)c->o.block, off,
            (blk << UD_SLOT_BITS) | slot);
}

/* Keep up to --window requests of --block bytes in flight.  With a verify
 * callback every completed block is also checked before its slot is reused. */
typedef void (*block_check_fn)(struct ctx *c, homi_file *f, uint64_t blk, const char *data,
                               size_t len);

static uint64_t homi_async_loop(struct ctx *c, homi_engine *eng, homi_file *f, block_check_fn check)
{
    uint64_t nblk = (c->fsize + c->o.block - 1) / c->o.block;
    unsigned w = c->o.window;
    homi_io *io = calloc(w, sizeof *io);
    homi_completion *cq = calloc(w, sizeof *cq);
    unsigned *freeslots = calloc(w, sizeof *freeslots);
    if (!io || !cq || !freeslots) die("out of memory");
    unsigned nfree = 0;
    for (unsigned i = 0; i < w; i++)
        freeslots[nfree++] = w - 1 - i;
    uint64_t next = 0, done_blk = 0, bytes = 0;
    unsigned inflight = 0;
    while (done_blk < nblk) {
        unsigned k = 0;
        while (nfree && next < nblk)
            fill_io(c, &io[k++], f, freeslots[--nfree], next++);
        if (k) {
            if (submit_or_die(eng, io, k, inflight)) {
                inflight += k;
            } else { /* engine full: give the slots back */
                for (unsigned i = k; i-- > 0;)
                    freeslots[nfree++] = (unsigned)(io[i].user_data & ((1u << UD_SLOT_BITS) - 1));
                next -= k;
            }
        }
        int n = wait_or_die(eng, cq, w, inflight);
        for (int i = 0; i < n; i++) {
            unsigned slot = (unsigned)(cq[i].user_data & ((1u << UD_SLOT_BITS) - 1));
            uint64_t blk = cq[i].user_data >> UD_SLOT_BITS;
            if (slot >= w || blk >= nblk)
                die("homi_wait returned unknown user_data %" PRIu64, cq[i].user_data);
            uint64_t off = blk * c->o.block;
            size_t want =
                c->fsize - off < c->o.block ? (size_t)(c->fsize - off) : (size_t)c->o.block;
            if (cq[i].result < 0) die_homi_at("async read", off, cq[i].result);
            if ((uint64_t)cq[i].result != want)
                die("async read at offset %" PRIu64 ": %" PRId64
                    " bytes instead of %zu (file changed?)",
                    off, cq[i].result, want);
            if (check) check(c, f, blk, c->wbuf[slot], want);
            bytes += want;
            done_blk++;
            inflight--;
            freeslots[nfree++] = slot;
        }
        progress(bytes);
    }
    free(io);
    free(cq);
    free(freeslots);
    return bytes;
}

static uint64_t run_homi_async(struct ctx *c, homi_engine *eng)
{
    homi_file *f = homi_open_or_die(eng, c->o.file);
    uint64_t n = homi_async_loop(c, eng, f, NULL);
    int rc = homi_close(f);
    if (rc) die_homi("homi_close", rc);
    return n;
}

/* ------------------------------------------------------------ verify */

static void compare_or_die(const char *who, uint64_t off, const char *got, const char *want,
                           size_t len)
{
    if (memcmp(got, want, len) == 0) return;
    size_t i = 0;
    while (i < len && got[i] == want[i])
        i++;
    die("verification FAILED (%s): first differing byte at file offset %" PRIu64
        " (homi 0x%02x, pread 0x%02x)",
        who, off + i, (unsigned char)got[i], (unsigned char)want[i]);
}

/* For each block delivered by the async path: read the reference with
 * pread, compare, then read the same block with homi_pread and compare. */
static void verify_block(struct ctx *c, homi_file *f, uint64_t blk, const char *data, size_t len)
{
    uint64_t off = blk * c->o.block;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(c->fd, c->ref + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("pread %s at offset %" PRIu64 ": %s", c->o.file, off + got, strerror(errno));
        if (r == 0) die("pread %s: unexpected end of file at %" PRIu64, c->o.file, off + got);
        got += (size_t)r;
    }
    compare_or_die("homi-async", off, data, c->ref, len);
    int64_t r = homi_pread(f, c->buf, len, (int64_t)off);
    if (r < 0) die_homi_at("homi_pread", off, r);
    if ((uint64_t)r != len)
        die("homi_pread at offset %" PRIu64 ": %" PRId64 " bytes instead of %zu", off, r, len);
    compare_or_die("homi_pread", off, c->buf, c->ref, len);
}

static void verify(struct ctx *c, homi_engine *eng, enum mode m)
{
    char label[64];
    snprintf(label, sizeof label, "[%s] verifying", mode_name[m]);
    progress_begin(c, label, c->fsize);
    double t0 = now_s();
    homi_file *f = homi_open_or_die(eng, c->o.file);
    uint64_t n = homi_async_loop(c, eng, f, verify_block);
    int rc = homi_close(f);
    if (rc) die_homi("homi_close", rc);
    progress_end();
    if (n != c->fsize) die("verification: read %" PRIu64 " of %" PRIu64 " bytes", n, c->fsize);
    char sz[32];
    fmt_bytes(c->fsize, sz, sizeof sz);
    note("[%s] verify: OK, %s identical to pread through homi_pread and homi_submit (%.1f s)",
         mode_name[m], sz, now_s() - t0);
}

/* ------------------------------------------------------------ engine */

static void print_config(const homi_config *cfg, enum mode m)
{
    if (bench_quiet) return;
    printf("[%s] homi %s config:", mode_name[m], homi_version());
    for (unsigned i = 0;; i++) {
        const char *k = homi_config_key(i);
        if (!k) break;
        char v[64];
        if (homi_config_get(cfg, k, v, sizeof v) == HOMI_OK) printf(" %s=%s", k, v);
    }
    printf("\n");
}

static void stats_sub(homi_stats *d, const homi_stats *a, const homi_stats *b)
{
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        d->path[p].bytes = a->path[p].bytes - b->path[p].bytes;
        d->path[p].requests = a->path[p].requests - b->path[p].requests;
        d->path[p].ns = a->path[p].ns - b->path[p].ns;
    }
    for (int i = 0; i < HOMI_FB_COUNT; i++)
        d->fallbacks[i] = a->fallbacks[i] - b->fallbacks[i];
    d->reads = a->reads - b->reads;
    d->read_bytes = a->read_bytes - b->read_bytes;
    d->errors = a->errors - b->errors;
    d->map_builds = a->map_builds - b->map_builds;
}

/* ------------------------------------------------------------ runner */

static void run_mode(struct ctx *c, enum mode m)
{
    homi_config *cfg = bench_config(&c->o.hints, "hint", m == MODE_DIRECT, "--mode");
    homi_engine *eng = NULL;
    int rc = homi_engine_create(cfg, &eng);
    if (rc) die("homi_engine_create: %s", homi_strerror(rc));
    print_config(cfg, m);
    homi_config_free(cfg);

    if (m == MODE_CACHED) {
        progress_begin(c, "[cached] pre-reading file into the page cache", c->fsize);
        double t0 = now_s();
        pread_loop(c, c->fd, 0, 0, "pread");
        progress_end();
        double r = resident_fraction(c->fd, c->fsize);
        note("[cached] pre-read %.1f s; page cache holds %.1f%% of the file", now_s() - t0,
             r < 0 ? -1.0 : 100 * r);
        warn_if_uncached(r, c->o.file);
    } else {
        c->max_resident = 0;
    }

    int methods[M_COUNT], nm = 0;
    for (int i = 0; i < M_COUNT; i++) {
        if (!(c->o.methods & (1u << i))) continue;
        if (i == M_DD_DIRECT && m == MODE_CACHED)
            continue; /* bypasses the cache: no cached baseline */
        methods[nm++] = i;
    }

    homi_stats s0, s1, acc;
    memset(&acc, 0, sizeof acc);
    double homi_time = 0;
    /* iterations interleave the methods so that drift (thermal, background
     * writeback) does not favour whichever method runs first */
    for (unsigned it = 0; it < c->o.iters; it++) {
        for (int k = 0; k < nm; k++) {
            int meth = methods[k];
            char label[96];
            snprintf(label, sizeof label, "[%s] %-10s iter %u/%u", mode_name[m], method_name[meth],
                     it + 1, c->o.iters);
            if (m == MODE_DIRECT) {
                double r = drop_cache(c->fd, c->o.file, c->fsize);
                if (r > c->max_resident) c->max_resident = r;
            }
            int is_homi = meth == M_HOMI || meth == M_HOMI_ASYNC;
            if (is_homi && (rc = homi_engine_stats(eng, &s0))) die_homi("homi_engine_stats", rc);
            progress_begin(c, label, c->fsize);
            double cpu0 = cpu_s(), t0 = now_s();
            uint64_t n = 0;
            switch (meth) {
            case M_PREAD: n = run_pread(c); break;
            case M_DD_DIRECT: n = run_dd_direct(c); break;
            case M_HOMI: n = run_homi(c, eng); break;
            case M_HOMI_ASYNC: n = run_homi_async(c, eng); break;
            default: break;
            }
            double dt = now_s() - t0, dcpu = cpu_s() - cpu0;
            progress_end();
            if (n != c->fsize)
                die("%s read %" PRIu64 " of %" PRIu64 " bytes (file changed during the run?)",
                    method_name[meth], n, c->fsize);
            if (is_homi) {
                homi_stats d;
                if ((rc = homi_engine_stats(eng, &s1))) die_homi("homi_engine_stats", rc);
                stats_sub(&d, &s1, &s0);
                stats_add(&acc, &d);
                homi_time += dt;
            }
            struct result *r = &c->res[m][meth];
            if (!r->valid || dt < r->best_s) r->best_s = dt;
            r->valid = 1;
            r->t[r->n++] = dt;
            r->sum_s += dt;
            r->cpu_s += dcpu;
            if (c->progress ||
                c->o.verbose) /* logs stay short unless asked: the table says it all */
                fprintf(stderr, "%s: %.2f GB/s (%.2f s, CPU %.2f s)\n", label,
                        (double)c->fsize / dt / 1e9, dt, dcpu);
        }
    }
    c->stats[m] = acc;
    c->homi_secs[m] = homi_time;
    c->have_stats[m] = (c->o.methods & ((1u << M_HOMI) | (1u << M_HOMI_ASYNC))) != 0;

    if (m == MODE_DIRECT && c->max_resident > 0.01)
        warnx_("after dropping the cache up to %.1f%% of the file stayed resident (mapped or "
               "locked by another process?): direct-mode numbers are optimistic",
               100 * c->max_resident);

    if (c->o.verify) verify(c, eng, m);
    homi_engine_destroy(eng);
}

/* ------------------------------------------------------------ report */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double median_gbps(const struct ctx *c, const struct result *r)
{
    double v[MAX_ITERS];
    for (unsigned i = 0; i < r->n; i++)
        v[i] = (double)c->fsize / r->t[i] / 1e9;
    return median(v, r->n);
}

/* Median over iterations of (better baseline's time in that iteration /
 * method time): the runs of one iteration are back to back, so slow drift
 * of a shared machine cancels out.  0 when the mode has no baseline. */
static double paired_ratio(const struct ctx *c, enum mode m, const struct result *r)
{
    double v[MAX_ITERS];
    unsigned n = 0;
    for (unsigned i = 0; i < r->n; i++) {
        double bt = 0;
        for (int b = 0; b < M_COUNT; b++) {
            const struct result *br = &c->res[m][b];
            if (!method_baseline[b] || !br->valid || i >= br->n) continue;
            if (bt == 0 || br->t[i] < bt) bt = br->t[i];
        }
        if (bt > 0) v[n++] = bt / r->t[i];
    }
    return median(v, n);
}

static double best_baseline(const struct ctx *c, enum mode m, int *which)
{
    double best = 0;
    *which = -1;
    for (int i = 0; i < M_COUNT; i++) {
        const struct result *r = &c->res[m][i];
        if (!method_baseline[i] || !r->valid) continue;
        double g = (double)c->fsize / r->best_s / 1e9;
        if (g > best) {
            best = g;
            *which = i;
        }
    }
    return best;
}

static void write_csv(struct ctx *c)
{
    FILE *f = c->csv;
    if (csv_is_new(f))
        fprintf(f,
                "mode,method,gbps_best,gbps_mean,ratio_vs_best_baseline,host,date,file_size,block,"
                "iters,cpu_s_per_gb,file,fs,homi_version,threads,queue_depth,chunk_size,window,"
                "gbps_median,"
                "paired_ratio_median,buffers,thp\n");
    char th[32] = "", qd[32] = "", ch[32] = "";
    homi_config *cfg = homi_config_new();
    if (cfg) {
        if (homi_config_load_env(cfg) == HOMI_OK)
            for (unsigned i = 0; i < c->o.hints.n; i++)
                homi_config_set(cfg, c->o.hints.key[i], c->o.hints.val[i]);
        homi_config_get(cfg, "homi_threads", th, sizeof th);
        homi_config_get(cfg, "homi_queue_depth", qd, sizeof qd);
        homi_config_get(cfg, "homi_chunk_size", ch, sizeof ch);
        homi_config_free(cfg);
    }
    for (int m = 0; m < MODE_COUNT; m++) {
        int wb;
        double base = best_baseline(c, (enum mode)m, &wb);
        for (int i = 0; i < M_COUNT; i++) {
            const struct result *r = &c->res[m][i];
            if (!r->valid) continue;
            double best = (double)c->fsize / r->best_s / 1e9;
            double mean = (double)c->fsize / (r->sum_s / r->n) / 1e9;
            double gb = (double)c->fsize * r->n / 1e9;
            fprintf(f, "%s,%s,%.4f,%.4f,", mode_name[m], method_name[i], best, mean);
            if (base > 0) fprintf(f, "%.4f", best / base);
            fprintf(f, ",%s,%s,%" PRIu64 ",%" PRIu64 ",%u,%.4f,\"%s\",%s,%s,%s,%s,%s,%u,%.4f,",
                    c->mach.host, c->mach.date, c->fsize, c->o.block, r->n, r->cpu_s / gb,
                    c->o.file, c->fstype, homi_version(), th, qd, ch, c->o.window,
                    median_gbps(c, r));
            if (base > 0) fprintf(f, "%.4f", paired_ratio(c, (enum mode)m, r));
            fprintf(f, ",%u,%d\n", c->o.buffers, use_thp);
        }
    }
    csv_close(f, c->o.csv);
}

static void report(struct ctx *c)
{
    char sz[32], bl[32];
    fmt_bytes(c->fsize, sz, sizeof sz);
    fmt_bytes(c->o.block, bl, sizeof bl);
    printf("\nfile %s, %s, block %s, %u iteration%s per method, homi-async window %u", c->o.file,
           sz, bl, c->o.iters, c->o.iters == 1 ? "" : "s", c->o.window);
    if (c->o.buffers > 1) printf(", other methods rotate %u buffers", c->o.buffers);
    printf("\n");
    printf("%-7s %-11s %10s %10s %13s %10s %7s %9s\n", "mode", "method", "GB/s best", "GB/s mean",
           "vs best base", "GB/s med", "paired", "CPU s/GB");
    for (int m = 0; m < MODE_COUNT; m++) {
        if (!c->o.modes[m]) continue;
        int wb;
        double base = best_baseline(c, (enum mode)m, &wb);
        for (int i = 0; i < M_COUNT; i++) {
            const struct result *r = &c->res[m][i];
            if (!r->valid) {
                if (i == M_DD_DIRECT && m == MODE_CACHED && (c->o.methods & (1u << i)))
                    printf("%-7s %-11s %10s %10s %13s %10s %7s %9s\n", mode_name[m], method_name[i],
                           "-", "-", "n/a", "-", "-", "-");
                continue;
            }
            double best = (double)c->fsize / r->best_s / 1e9;
            double mean = (double)c->fsize / (r->sum_s / r->n) / 1e9;
            char ratio[32], paired[32];
            if (base > 0) {
                snprintf(ratio, sizeof ratio, "%s%.2fx", i == wb ? "(base) " : "", best / base);
                snprintf(paired, sizeof paired, "%.2fx", paired_ratio(c, (enum mode)m, r));
            } else {
                snprintf(ratio, sizeof ratio, "-");
                snprintf(paired, sizeof paired, "-");
            }
            printf("%-7s %-11s %10.2f %10.2f %13s %10.2f %7s %9.3f\n", mode_name[m], method_name[i],
                   best, mean, ratio, median_gbps(c, r), paired,
                   r->cpu_s / ((double)c->fsize * r->n / 1e9));
        }
    }
    printf("(GB = 1e9 bytes; mean/med = bytes / mean/median time; vs best base = best GB/s over "
           "the best\n"
           " GB/s of the mode's best baseline; paired = median over iterations of the better "
           "baseline's\n"
           " time in that iteration / method time (run back to back); CPU s/GB = user+sys CPU s "
           "per GB)\n");
    if (c->o.modes[MODE_CACHED] && (c->o.methods & (1u << M_DD_DIRECT)))
        printf("(dd-direct is not run in cached mode: O_DIRECT bypasses the page cache)\n");

    for (int m = 0; m < MODE_COUNT; m++) {
        if (!c->o.modes[m]) continue;
        int wb;
        double base = best_baseline(c, (enum mode)m, &wb);
        if (base <= 0 || (!c->res[m][M_HOMI].valid && !c->res[m][M_HOMI_ASYNC].valid)) continue;
        /* the verdict is the paired ratio: each iteration compares runs made
         * back to back, so a shared disk's drift and one lucky baseline run
         * (a hypervisor cache hit after the drop) do not decide it; the
         * best-run ratio is printed beside it */
        printf("goal (homi >= %.2fx the better baseline, paired run by run; %s, best baseline "
               "%s):",
               GOAL_RATIO, mode_name[m], method_name[wb]);
        for (int i = M_HOMI; i <= M_HOMI_ASYNC; i++) {
            const struct result *r = &c->res[m][i];
            if (!r->valid) continue;
            double ratio = (double)c->fsize / r->best_s / 1e9 / base;
            double pr = paired_ratio(c, (enum mode)m, r);
            printf(" %s %.2fx %s (best runs %.2fx);", method_name[i], pr,
                   pr >= GOAL_RATIO ? "PASS" : "FAIL", ratio);
        }
        printf("\n");
    }
    if (c->o.modes[MODE_DIRECT])
        printf("direct mode: cache dropped before every run; max residency after a drop %.2f%%\n",
               100 * c->max_resident);

    if (!bench_quiet) {
        for (int m = 0; m < MODE_COUNT; m++) {
            if (!c->o.modes[m] || !c->have_stats[m]) continue;
            const homi_stats *s = &c->stats[m];
            printf("\nHOMI per-path summary, %s mode (timed homi + homi-async runs):\n",
                   mode_name[m]);
            for (int p = 0; p < HOMI_PATH_COUNT; p++) {
                if (!s->path[p].bytes && !s->path[p].requests) continue;
                char b[32];
                fmt_bytes(s->path[p].bytes, b, sizeof b);
                printf("  %-9s %12" PRIu64 " bytes (%s) in %" PRIu64
                       " sub-requests, %.1f%% of the bytes\n",
                       homi_path_name(p), s->path[p].bytes, b, s->path[p].requests,
                       s->read_bytes ? 100.0 * (double)s->path[p].bytes / (double)s->read_bytes
                                     : 0.0);
            }
            fflush(stdout);
            homi_stats_print(s, c->homi_secs[m], stdout);
            fflush(stdout);
        }
    }
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] [FILE]\n"
            "Read FILE through HOMI and through plain-POSIX baselines and compare throughput.\n"
            "Without FILE: demo on " DEFAULT_FILE " (1 GiB, created if missing, verified).\n"
            "\n"
            "  --size SIZE      size of the file to create (K/M/G/T suffixes; default 1G);\n"
            "                   used when FILE is missing or with --create\n"
            "  --create         always (re)create FILE with random data\n"
            "  --block SIZE     bytes per read request (default 16M)\n"
            "  --iters N        timed runs per method; best and mean are reported (default 3)\n"
            "  --mode M         cached | direct | both (default both)\n"
            "                     cached: file resident in the page cache, HOMI homi_direct=off\n"
            "                     direct: cache dropped before every run, HOMI homi_direct=on\n"
            "  --threads N      HOMI hint homi_threads (kernel-path worker rings)\n"
            "  --qd N           HOMI hint homi_queue_depth (reads in flight per ring)\n"
            "  --chunk SIZE     HOMI hint homi_chunk_size (split size of large reads)\n"
            "  --hint KEY=VAL   any other HOMI hint (repeatable), e.g. homi_fixed_files=off\n"
            "  --window N       requests in flight for homi-async (default %u)\n"
            "  --buffers N      pread, dd-direct and homi rotate through N destination buffers\n"
            "                   (default 1; --buffers W matches homi-async's memory footprint)\n"
            "  --thp            back the destination buffers with transparent huge pages\n"
            "                   (fewer, larger O_DIRECT requests to the device)\n"
            "  --methods LIST   comma list of pread,dd-direct,homi,homi-async (default all)\n"
            "  --csv FILE       also append CSV rows to FILE (header when the file is new)\n"
            "  --verify         compare HOMI's bytes against pread (default on for the demo)\n"
            "  --no-verify      skip the comparison\n"
            "  --quiet          print only the table and errors\n"
            "  --verbose        print every timed run on stderr (always on a terminal)\n"
            "  --help           this text\n"
            "  --gpu            file -> GPU memory benchmark instead (CUDA builds;\n"
            "                   see homi-bench --gpu --help)\n"
            "\n"
            "HOMI_* environment variables are applied first; command-line hints override them.\n"
            "Exit status: 0 ok, 1 I/O or verification error, 2 bad usage.\n",
            bench_prog, DEFAULT_WINDOW);
}

/* The option a bad value of a hint is reported under. */
static const char *hint_opt(const char *key)
{
    return strcmp(key, "homi_threads") == 0       ? "--threads"
           : strcmp(key, "homi_queue_depth") == 0 ? "--qd"
           : strcmp(key, "homi_chunk_size") == 0  ? "--chunk"
                                                  : "--hint";
}

static void parse_methods(struct options *o, const char *arg)
{
    char *s = strdup(arg), *save = NULL;
    if (!s) die("out of memory");
    o->methods = 0;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i;
        for (i = 0; i < M_COUNT; i++)
            if (strcmp(t, method_name[i]) == 0) break;
        if (i == M_COUNT)
            usage_error("--methods: unknown method '%s' (pread, dd-direct, homi, homi-async)", t);
        o->methods |= 1u << i;
    }
    free(s);
    if (!o->methods) usage_error("--methods: empty list");
}

static void parse_args(struct ctx *c, int argc, char **argv)
{
    struct options *o = &c->o;
    enum {
        O_SIZE = 256,
        O_CREATE,
        O_BLOCK,
        O_ITERS,
        O_MODE,
        O_THREADS,
        O_QD,
        O_CHUNK,
        O_HINT,
        O_WINDOW,
        O_BUFFERS,
        O_THP,
        O_METHODS,
        O_CSV,
        O_VERIFY,
        O_NOVERIFY,
        O_QUIET,
        O_VERBOSE,
        O_HELP
    };
    static const struct option lo[] = {{"size", required_argument, 0, O_SIZE},
                                       {"create", no_argument, 0, O_CREATE},
                                       {"block", required_argument, 0, O_BLOCK},
                                       {"iters", required_argument, 0, O_ITERS},
                                       {"mode", required_argument, 0, O_MODE},
                                       {"threads", required_argument, 0, O_THREADS},
                                       {"qd", required_argument, 0, O_QD},
                                       {"chunk", required_argument, 0, O_CHUNK},
                                       {"hint", required_argument, 0, O_HINT},
                                       {"window", required_argument, 0, O_WINDOW},
                                       {"buffers", required_argument, 0, O_BUFFERS},
                                       {"thp", no_argument, 0, O_THP},
                                       {"methods", required_argument, 0, O_METHODS},
                                       {"csv", required_argument, 0, O_CSV},
                                       {"verify", no_argument, 0, O_VERIFY},
                                       {"no-verify", no_argument, 0, O_NOVERIFY},
                                       {"quiet", no_argument, 0, O_QUIET},
                                       {"verbose", no_argument, 0, O_VERBOSE},
                                       {"help", no_argument, 0, O_HELP},
                                       {0, 0, 0, 0}};
    o->size = DEFAULT_SIZE;
    o->block = DEFAULT_BLOCK;
    o->iters = DEFAULT_ITERS;
    o->modes[MODE_CACHED] = o->modes[MODE_DIRECT] = 1;
    o->methods = (1u << M_COUNT) - 1;
    o->window = DEFAULT_WINDOW;
    o->buffers = 1;
    o->verify = -1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (ch) {
        case O_SIZE:
            if (parse_size(optarg, &o->size) || o->size == 0)
                usage_error("--size: '%s' is not a positive size (e.g. 4G, 512M)", optarg);
            o->size_given = 1;
            break;
        case O_CREATE: o->create = 1; break;
        case O_BLOCK:
            if (parse_size(optarg, &o->block) || o->block == 0)
                usage_error("--block: '%s' is not a positive size (e.g. 16M)", optarg);
            if (o->block > (1ull << 30)) usage_error("--block: %s is larger than 1G", optarg);
            break;
        case O_ITERS:
            if (parse_uint(optarg, 1, MAX_ITERS, &o->iters))
                usage_error("--iters: '%s' is not an integer in 1..1000", optarg);
            break;
        case O_MODE:
            if (strcmp(optarg, "cached") == 0) {
                o->modes[MODE_CACHED] = 1;
                o->modes[MODE_DIRECT] = 0;
            } else if (strcmp(optarg, "direct") == 0) {
                o->modes[MODE_CACHED] = 0;
                o->modes[MODE_DIRECT] = 1;
            } else if (strcmp(optarg, "both") == 0) {
                o->modes[MODE_CACHED] = 1;
                o->modes[MODE_DIRECT] = 1;
            } else
                usage_error("--mode: '%s' is not one of cached, direct, both", optarg);
            break;
        case O_THREADS: hint_add(&o->hints, "homi_threads", optarg); break;
        case O_QD: hint_add(&o->hints, "homi_queue_depth", optarg); break;
        case O_CHUNK: hint_add(&o->hints, "homi_chunk_size", optarg); break;
        case O_HINT: hint_arg(&o->hints, optarg, "--mode"); break;
        case O_WINDOW:
            if (parse_uint(optarg, 1, 4096, &o->window))
                usage_error("--window: '%s' is not an integer in 1..4096", optarg);
            break;
        case O_BUFFERS:
            if (parse_uint(optarg, 1, 4096, &o->buffers))
                usage_error("--buffers: '%s' is not an integer in 1..4096", optarg);
            break;
        case O_THP: use_thp = 1; break;
        case O_METHODS: parse_methods(o, optarg); break;
        case O_CSV: o->csv = optarg; break;
        case O_VERIFY: o->verify = 1; break;
        case O_NOVERIFY: o->verify = 0; break;
        case O_QUIET: bench_quiet = 1; break;
        case O_VERBOSE: o->verbose = 1; break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default: bad_option(ch, argv);
        }
    }
    if (optind < argc - 1) usage_error("only one FILE may be given");
    if (optind == argc - 1) {
        o->file = argv[optind];
        o->file_given = 1;
    } else {
        o->file = DEFAULT_FILE;
    }
    if (o->verify < 0) o->verify = !o->file_given;
    if (o->modes[MODE_DIRECT] && (o->block % ALIGN))
        usage_error("--block: %" PRIu64
                    " is not a multiple of %u, which O_DIRECT (direct mode) needs",
                    o->block, ALIGN);
    uint64_t nb = o->window > o->buffers ? o->window : o->buffers;
    if (nb * o->block > (8ull << 30))
        usage_error("--window/--buffers x --block = %" PRIu64
                    " MiB of buffers; keep it under 8 GiB",
                    nb * o->block >> 20);
    hints_check(&o->hints, hint_opt);
}

/* --gpu anywhere before "--" selects the GPU benchmark (tools/bench_gpu.c). */
static int want_gpu(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "--gpu") == 0) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct ctx c; /* large; zero-initialised */
    if (argc > 0 && argv[0]) {
        const char *s = strrchr(argv[0], '/');
        bench_prog = s ? s + 1 : argv[0];
    }
    if (want_gpu(argc, argv)) {
#ifdef HOMI_BENCH_GPU
        return homi_bench_gpu_main(argc, argv);
#else
        fprintf(stderr, "%s: --gpu: built without CUDA (reconfigure with HOMI_CUDA=ON)\n",
                bench_prog);
        return 2;
#endif
    }
    parse_args(&c, argc, argv);
    c.fd = -1;
    c.csv = csv_open(c.o.csv);
    c.progress = !bench_quiet && isatty(STDERR_FILENO);
    c.buf = xalloc_aligned(c.o.block, use_thp);
    c.ref = xalloc_aligned(c.o.block, use_thp);

    prepare_file(&c);
    machine_info(&c.mach);
    fs_info(c.o.file, c.fstype, sizeof c.fstype, c.fsdev, sizeof c.fsdev);
    if (!bench_quiet) {
        char sz[32];
        fmt_bytes(c.fsize, sz, sizeof sz);
        printf("machine: host %s, nproc %ld, memory %.1f GiB, kernel %s, fs %s (%s), date %s\n",
               c.mach.host, sysconf(_SC_NPROCESSORS_ONLN), mem_gib(), c.mach.kernel, c.fstype,
               c.fsdev, c.mach.date);
        printf("file: %s, %s, block %" PRIu64 ", iters %u, verify %s, buffers %s\n", c.o.file, sz,
               c.o.block, c.o.iters, c.o.verify ? "on" : "off",
               use_thp ? "THP (2 MiB pages)" : "4 KiB pages");
        fflush(stdout);
    }
    c.nwbuf = c.o.window > c.o.buffers ? c.o.window : c.o.buffers;
    c.wbuf = calloc(c.nwbuf, sizeof *c.wbuf);
    if (!c.wbuf) die("out of memory");
    for (unsigned i = 0; i < c.nwbuf; i++)
        c.wbuf[i] = xalloc_aligned(c.o.block, use_thp);
    /* fault every buffer in now, so no timed run pays for first-touch page faults */
    memset(c.buf, 0, c.o.block);
    memset(c.ref, 0, c.o.block);
    for (unsigned i = 0; i < c.nwbuf; i++)
        memset(c.wbuf[i], 0, c.o.block);

    for (int m = 0; m < MODE_COUNT; m++)
        if (c.o.modes[m]) run_mode(&c, (enum mode)m);

    report(&c);
    if (c.o.csv) write_csv(&c);

    for (unsigned i = 0; i < c.nwbuf; i++)
        free(c.wbuf[i]);
    free(c.wbuf);
    free(c.buf);
    free(c.ref);
    close(c.fd);
    return 0;
}
