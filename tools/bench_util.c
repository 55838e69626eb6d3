/* bench_util.c - the code homi-bench's front-ends share (homi-bench.c, the
 * host benchmark, and bench_gpu.c, `homi-bench --gpu`): messages and exit
 * codes, option values, HOMI hints and configuration, machine and file
 * system description, page-cache residency and dropping, random data
 * files, CSV files.  See bench_util.h. */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h" /* homi_parse_size */

/* ------------------------------------------------------------ messages */

const char *bench_prog = "homi-bench";
int bench_quiet;

/* "<prog>: TAG" (when tag), MSG; no newline */
static void vmsg(FILE *f, const char *tag, const char *fmt, va_list ap)
{
    if (tag) fprintf(f, "%s: %s", bench_prog, tag);
    vfprintf(f, fmt, ap);
}

void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    vmsg(stderr, "", fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void die_homi(const char *what, int64_t rc)
{
    die("%s: %s (%" PRId64 ")", what, homi_strerror((int)rc), rc);
}

void die_homi_at(const char *what, uint64_t off, int64_t rc)
{
    char w[96];
    snprintf(w, sizeof w, "%s at offset %" PRIu64, what, off);
    die_homi(w, rc);
}

void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(stderr, "", fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", bench_prog);
    exit(2);
}

void bad_option(int ch, char **argv)
{
    if (ch == ':') usage_error("option '%s' needs a value", argv[optind - 1]);
    if (optopt) usage_error("unknown option '-%c'", optopt);
    usage_error("unknown option '%s'", argv[optind - 1]);
}

void warnx_(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    vmsg(stderr, "warning: ", fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void note(const char *fmt, ...)
{
    if (bench_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vmsg(stdout, NULL, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void progress_line(const char *fmt, ...)
{
    if (bench_quiet) return;
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    vmsg(stderr, NULL, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ------------------------------------------------------------ values */

int parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    /* the suffix is homi_parse_size's to judge: "1" + suffix gives its
     * multiplier (no suffix: 1); no valid suffix is longer than "KiB" */
    char unit[8];
    uint64_t mult;
    if (strlen(end) > 3) return -1;
    snprintf(unit, sizeof unit, "1%s", end);
    if (homi_parse_size(unit, &mult) || v > UINT64_MAX / mult) return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) return -1;
    *out = (unsigned)v;
    return 0;
}

void fmt_bytes(uint64_t b, char *out, size_t n)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    unsigned i = 0;
    while (v >= 1024.0 && i < 4) {
        v /= 1024.0;
        i++;
    }
    if (i == 0)
        snprintf(out, n, "%" PRIu64 " B", b);
    else if (v == (double)(uint64_t)v)
        snprintf(out, n, "%.0f %s", v, u[i]);
    else
        snprintf(out, n, "%.2f %s", v, u[i]);
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void *xalloc_aligned(size_t n, int thp)
{
    void *p = NULL;
    size_t huge = 2u << 20;
    thp = thp && n >= huge;
    if (thp) n = (n + huge - 1) / huge * huge;
    int rc = posix_memalign(&p, thp ? huge : ALIGN, n ? n : ALIGN);
    if (rc) die("cannot allocate %zu bytes: %s", n, strerror(rc));
    if (thp && madvise(p, n, MADV_HUGEPAGE)) warnx_("madvise(MADV_HUGEPAGE): %s", strerror(errno));
    return p;
}

/* ------------------------------------------------------------ HOMI */

void hint_add(struct hints *h, const char *key, const char *val)
{
    if (h->n >= MAX_HINTS) usage_error("too many hints (max %d)", MAX_HINTS);
    h->key[h->n] = key;
    h->val[h->n] = val;
    h->n++;
}

void hint_arg(struct hints *h, char *arg, const char *direct_by)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg) usage_error("--hint: expected KEY=VALUE, got '%s'", arg);
    *eq = 0;
    if (strcmp(arg, "homi_direct") == 0)
        usage_error("--hint: homi_direct is set by %s (cached: off, direct: on)", direct_by);
    hint_add(h, arg, eq + 1);
}

void set_hint_or_exit(homi_config *cfg, const char *key, const char *val, const char *opt)
{
    int rc = homi_config_set(cfg, key, val);
    if (rc == HOMI_OK) return;
    const char *help = homi_config_help(key);
    if (rc == HOMI_EHINT) usage_error("%s: unknown HOMI hint '%s'", opt, key);
    usage_error("%s: bad value '%s' for %s: %s%s%s", opt, val, key, homi_strerror(rc),
                help ? " - " : "", help ? help : "");
}

static homi_config *config_new(void)
{
    homi_config *cfg = homi_config_new();
    if (!cfg) die("homi_config_new: %s", homi_strerror(HOMI_ENOMEM));
    return cfg;
}

void hints_check(const struct hints *h, const char *(*opt_of)(const char *key))
{
    homi_config *cfg = config_new();
    for (unsigned i = 0; i < h->n; i++)
        set_hint_or_exit(cfg, h->key[i], h->val[i], opt_of ? opt_of(h->key[i]) : "--hint");
    homi_config_free(cfg);
}

homi_config *bench_config(const struct hints *h, const char *hint_opt, int direct,
                          const char *mode_opt)
{
    homi_config *cfg = config_new();
    int rc = homi_config_load_env(cfg);
    if (rc) {
        fprintf(stderr, "%s: HOMI_* environment: %s\n", bench_prog, homi_strerror(rc));
        exit(2);
    }
    for (unsigned i = 0; i < h->n; i++)
        set_hint_or_exit(cfg, h->key[i], h->val[i], hint_opt);
    set_hint_or_exit(cfg, "homi_direct", direct ? "on" : "off", mode_opt);
    return cfg;
}

homi_file *homi_open_or_die(homi_engine *eng, const char *path)
{
    homi_file *f = NULL;
    int rc = homi_open(eng, path, HOMI_RDONLY, &f);
    if (rc) die("homi_open %s: %s", path, homi_strerror(rc));
    return f;
}

void io_prep(homi_io *io, homi_file *f, void *buf, size_t len, uint64_t off, uint64_t user_data)
{
    memset(io, 0, sizeof *io);
    io->file = f;
    io->buf = buf;
    io->len = len;
    io->offset = (int64_t)off;
    io->user_data = user_data;
    io->opts.mem = HOMI_MEM_AUTO;
    io->opts.path = HOMI_PATH_AUTO;
}

int submit_or_die(homi_engine *eng, homi_io *io, unsigned k, unsigned inflight)
{
    int rc = homi_submit(eng, io, k);
    if (rc == HOMI_EBUSY && inflight > 0) return 0;
    if (rc < 0) die_homi("homi_submit", rc);
    if ((unsigned)rc != k) die("homi_submit queued %d of %u requests", rc, k);
    return 1;
}

int wait_or_die(homi_engine *eng, homi_completion *cq, unsigned max, unsigned inflight)
{
    int n = homi_wait(eng, cq, 1, max, 60000);
    if (n < 0) die_homi("homi_wait", n);
    if (n == 0) die("homi_wait: no completion within 60 s (%u requests in flight)", inflight);
    return n;
}

void stats_add(homi_stats *d, const homi_stats *a)
{
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        d->path[p].bytes += a->path[p].bytes;
        d->path[p].requests += a->path[p].requests;
        d->path[p].ns += a->path[p].ns;
    }
    for (int i = 0; i < HOMI_FB_COUNT; i++)
        d->fallbacks[i] += a->fallbacks[i];
    d->reads += a->reads;
    d->read_bytes += a->read_bytes;
    d->errors += a->errors;
    d->map_builds += a->map_builds;
}

/* ------------------------------------------------------------ machine */

void machine_info(struct machine *m)
{
    if (gethostname(m->host, sizeof m->host)) snprintf(m->host, sizeof m->host, "unknown");
    m->host[sizeof m->host - 1] = 0;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%S%z", &tm);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    else
        snprintf(m->kernel, sizeof m->kernel, "unknown");
}

double mem_gib(void)
{
    return (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (double)(1ull << 30);
}

int find_mount(const char *path, struct mount_info *m)
{
    struct stat st;
    if (stat(path, &st)) return -1;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) return -1;
    int found = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        unsigned maj, mnr;
        char mp[1024];
        if (sscanf(line, "%*s %*s %u:%u %*s %1023s", &maj, &mnr, mp) != 3) continue;
        if (makedev(maj, mnr) != st.st_dev) continue;
        char *sep = strstr(line, " - ");
        if (!sep) continue;
        char t[64], src[512];
        if (sscanf(sep + 3, "%63s %511s", t, src) == 2) { /* keep going: the last one wins */
            snprintf(m->type, sizeof m->type, "%s", t);
            snprintf(m->src, sizeof m->src, "%s", src);
            snprintf(m->dir, sizeof m->dir, "%s", mp);
            m->major = maj;
            m->minor = mnr;
            found = 1;
        }
    }
    fclose(f);
    return found ? 0 : -1;
}

/* ------------------------------------------------------------ page cache */

double resident_fraction(int fd, uint64_t size)
{
    if (size == 0) return 0;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || size > (uint64_t)SIZE_MAX) return -1;
    size_t len = (size_t)size;
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return -1;
    size_t npages = (len + (size_t)pg - 1) / (size_t)pg;
    unsigned char *vec = malloc(npages);
    double r = -1;
    if (vec && mincore(map, len, vec) == 0) {
        size_t in = 0;
        for (size_t i = 0; i < npages; i++)
            in += vec[i] & 1;
        r = (double)in / (double)npages;
    }
    free(vec);
    munmap(map, len);
    return r;
}

double drop_cache(int fd, const char *path, uint64_t size)
{
    if (fdatasync(fd) && errno != EINVAL && errno != EROFS)
        die("fdatasync %s: %s", path, strerror(errno));
    int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (rc) die("posix_fadvise(DONTNEED) %s: %s", path, strerror(rc));
    return resident_fraction(fd, size);
}

void warn_if_uncached(double r, const char *path)
{
    if (r >= 0 && r < 0.99)
        warnx_("only %.1f%% of %s is cached: cached-mode numbers include disk reads "
               "(file larger than free memory?)",
               100 * r, path);
}

/* ------------------------------------------------------------ data files */

int existing_file(const char *path, struct stat *st)
{
    int exists = stat(path, st) == 0;
    if (!exists && errno != ENOENT) die("stat %s: %s", path, strerror(errno));
    if (exists && !S_ISREG(st->st_mode)) die("%s: %s", path, homi_strerror(HOMI_ENOTREG));
    return exists;
}

int open_input(const char *path, uint64_t *size)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open %s: %s", path, strerror(errno));
    if (fstat(fd, &st)) die("fstat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) die("%s: %s", path, homi_strerror(HOMI_ENOTREG));
    *size = (uint64_t)st.st_size;
    if (*size == 0) die("%s is empty: nothing to read", path);
    return fd;
}

int create_begin(const char *path, uint64_t size, char *tmp, size_t tn)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    struct statvfs sv;
    if (statvfs(dir, &sv) == 0) {
        uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
        struct stat st;
        uint64_t reuse = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
        if (avail + reuse < size + (size >> 4))
            die("not enough free space in %s for a %" PRIu64 "-byte file (%" PRIu64 " available)",
                dir, size, avail);
    }
    snprintf(tmp, tn, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("create %s: %s", tmp, strerror(errno));
    return fd;
}

void create_sync(int fd, const char *tmp)
{
    if (fdatasync(fd)) {
        int e = errno;
        unlink(tmp);
        die("fdatasync %s: %s", tmp, strerror(e));
    }
}

void create_commit(int fd, const char *tmp, const char *path, uint64_t size, double t0)
{
    close(fd);
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        die("rename %s -> %s: %s", tmp, path, strerror(e));
    }
    double dt = now_s() - t0;
    char sz[32];
    fmt_bytes(size, sz, sizeof sz);
    note("created %s (%s of random data) in %.1f s, %.2f GB/s", path, sz, dt,
         (double)size / dt / 1e9);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) { /* splitmix64 */
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        r->s[i] = z ^ (z >> 31);
    }
}

void rng_fill(struct rng *r, void *buf, size_t n)
{
    uint64_t *b = buf, s[4] = {r->s[0], r->s[1], r->s[2], r->s[3]};
    for (size_t i = 0; i < (n + 7) / 8; i++) { /* xoshiro256** */
        uint64_t v = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        b[i] = v;
    }
    memcpy(r->s, s, sizeof s);
}

/* ------------------------------------------------------------ CSV */

FILE *csv_open(const char *path)
{
    if (!path) return NULL;
    FILE *f = fopen(path, "a");
    if (!f) die("open %s: %s", path, strerror(errno));
    return f;
}

int csv_is_new(FILE *f)
{
    return fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0;
}

void csv_close(FILE *f, const char *path)
{
    if (fclose(f)) die("write %s: %s", path, strerror(errno));
}
