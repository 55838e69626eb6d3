/* bench_gpu.c - `homi-bench --gpu`: file -> GPU memory through HOMI, against
 * ceilings and baselines measured in the same run (issue 3, item 7).
 *
 *   homi-bench --gpu [options] [FILE...]
 *
 * Ceilings (what the machine can do, measured in the same run):
 *   h2d-pinned     cudaMemcpyAsync of a 256 MiB pinned buffer to the GPU
 *   pagecache-pin  cached mode: --threads threads pread the page-cache
 *                  resident file in request-size pieces into pinned memory
 *   odirect-pin    direct mode: the same with O_DIRECT (cold file)
 * Baselines:
 *   naive          pread into a pageable buffer + cudaMemcpy, one thread
 *   cufile         cuFileRead (libcufile, dlopen'ed, default configuration)
 * HOMI:
 *   homi           homi_pread of request-size pieces into device memory
 *   homi-async     homi_submit/homi_wait keeping --window requests in flight
 *
 * Every destination in device memory is one cudaMalloc'd buffer of the file
 * size, so each request lands at its own offset.  Direct mode drops the
 * file's page cache before every timed run of every method; cached mode
 * keeps it resident.  See bench/README.md ("GPU benchmark").
 *
 * Exit status: 0 ok, 1 I/O or verification error, 2 usage, 77 no CUDA device.
 */
#include "bench_gpu.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime_api.h>

#include "bench_util.h"
#include "homi.h"
#include "paths/cufile_abi.h"

#define MAX_LIST 16
#define MAX_FILES 16
#define MAX_ITERS 100u
#define H2D_SIZE (256ull << 20)
#define H2D_COPIES 8
#define H2D_REPS 5
#define VERIFY_PIECE (16ull << 20)
#define CREATE_PIECE (16ull << 20)
#define PREREAD_BLOCK (16ull << 20)
#define DEFAULT_WINDOW 8u
#define GOAL_CEIL_CACHED 0.90
#define GOAL_CUFILE 2.0
#define GOAL_NAIVE 3.0
#define GOAL_CEIL_DIRECT 0.95

/* ------------------------------------------------------------ model */

enum mode { MODE_CACHED, MODE_DIRECT, MODE_COUNT };
static const char *const mode_name[MODE_COUNT] = {"cached", "direct"};

enum method { MT_CEIL, MT_NAIVE, MT_CUFILE, MT_HOMI, MT_HOMI_ASYNC, MT_COUNT };
static const char *const ceil_name[MODE_COUNT] = {"pagecache-pin", "odirect-pin"};
static const char *const method_label[MT_COUNT] = {"ceiling", "naive", "cufile", "homi",
                                                   "homi-async"};

static const char *method_name(int mode, int m)
{
    return m == MT_CEIL ? ceil_name[mode] : method_label[m];
}

struct result {
    int valid;   /* at least one run */
    int na;      /* not available (cuFile missing / refused): row says n/a */
    int partial; /* some run stopped at --run-cap */
    unsigned n;
    double gbps[MAX_ITERS];
    double bytes_sum, secs_sum;
    double max_resident; /* direct: worst residency after a drop, [0,1] */
    homi_stats st;       /* HOMI: summed per-file stats of the timed runs */
    char note[512];
};

struct row {
    int file, mode, method;
    uint64_t block;
    struct result r;
};

struct gfile {
    char path[PATH_MAX];
    uint64_t size;
    int fd; /* control descriptor: drop cache, mincore, verify */
    char fstype[64], fsdev[1200];
    int cufile_na;
    char cufile_why[256];
};

struct options {
    uint64_t sizes[MAX_LIST];
    unsigned nsizes;
    int sizes_given;
    const char *dir;
    uint64_t blocks[MAX_LIST];
    unsigned nblocks;
    uint64_t dblocks[MAX_LIST];
    unsigned ndblocks;
    int dblocks_given;
    unsigned iters, diters;
    int diters_given;
    uint64_t dmin;
    int modes[MODE_COUNT];
    unsigned threads;
    int device;
    int verify;
    const char *csv;
    struct hints hints;
    unsigned window;
    double run_cap;
    char *files[MAX_FILES];
    unsigned nfiles;
};

struct cufile_api {
    int ok;
    char why[512];
    char lib[PATH_MAX];
    int gds;
    void *h;
    cufile_error (*driver_open)(void);
    cufile_error (*driver_close)(void);
    cufile_error (*handle_register)(void **, cufile_descr *);
    void (*handle_deregister)(void *);
    ssize_t (*read)(void *, void *, size_t, off_t, off_t);
};

struct pool;

struct ctx {
    struct options o;
    struct gfile files[MAX_FILES];
    unsigned nfiles;
    struct row *rows;
    unsigned nrows, caprows;
    char *dbuf; /* device buffer, max file size */
    uint64_t dsize;
    char *pinned;    /* threads x region pinned host memory (ceilings, verify) */
    size_t region;   /* per thread */
    char **hostbuf;  /* per thread, VERIFY_PIECE pageable (verify, create) */
    char *naive_buf; /* pageable, max block */
    uint64_t max_block;
    struct pool *pool;
    homi_engine *eng[MODE_COUNT];
    struct cufile_api cf;
    double h2d_best, h2d_mean;
    unsigned run_no, run_total;
    struct machine mach;
    char cpu[256], gpu[256];
    FILE *csv;
};

/* ------------------------------------------------------------ helpers */

static void cuda_check(cudaError_t e, const char *what)
{
    if (e != cudaSuccess) die("%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

/* "64K,1M" -> sizes; each in [lo, hi] */
static void parse_size_list(const char *opt, const char *arg, uint64_t lo, uint64_t hi,
                            uint64_t *out, unsigned *n)
{
    char *s = strdup(arg), *save = NULL;
    if (!s) die("out of memory");
    *n = 0;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (parse_size(t, &v) || v < lo || v > hi)
            usage_error("%s: '%s' is not a size in %" PRIu64 "..%" PRIu64
                        " bytes (K/M/G/T suffixes, e.g. 64K,1M,8G)",
                        opt, t, lo, hi);
        for (unsigned i = 0; i < *n; i++)
            if (out[i] == v) usage_error("%s: '%s' is listed twice", opt, t);
        if (*n >= MAX_LIST) usage_error("%s: at most %d entries", opt, MAX_LIST);
        out[(*n)++] = v;
    }
    free(s);
    if (!*n) usage_error("%s: empty list", opt);
}

/* 1073741824 -> "1G", 65536 -> "64K", 1000 -> "1000" */
static void fmt_short(uint64_t b, char *out, size_t n)
{
    static const char u[] = "KMGT";
    int i = -1;
    while (i < 3 && b && b % 1024 == 0) {
        b /= 1024;
        i++;
    }
    if (i < 0)
        snprintf(out, n, "%" PRIu64, b);
    else
        snprintf(out, n, "%" PRIu64 "%c", b, u[i]);
}

/* ALIGNed and touched now: no timed run pays for first-touch faults */
static void *xalloc_zeroed(size_t n)
{
    void *p = xalloc_aligned(n, 0);
    memset(p, 0, n);
    return p;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ------------------------------------------------------------ thread pool */

typedef void (*job_fn)(void *arg, unsigned tid);

struct pool {
    pthread_t *th;
    unsigned n;
    int device;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;
    unsigned running;
    int quit;
    job_fn fn;
    void *arg;
};

struct worker_arg {
    struct pool *p;
    unsigned tid;
};

static void *worker(void *a)
{
    struct worker_arg *wa = a;
    struct pool *p = wa->p;
    unsigned tid = wa->tid;
    free(wa);
    cudaSetDevice(p->device); /* verify copies device -> host on this thread */
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        job_fn fn = p->fn;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        fn(arg, tid);
        pthread_mutex_lock(&p->mu);
        if (--p->running == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static struct pool *pool_new(unsigned n, int device)
{
    struct pool *p = calloc(1, sizeof *p);
    if (!p || !(p->th = calloc(n, sizeof *p->th))) die("out of memory");
    p->n = n;
    p->device = device;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (unsigned i = 0; i < n; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (!wa) die("out of memory");
        wa->p = p;
        wa->tid = i;
        int rc = pthread_create(&p->th[i], NULL, worker, wa);
        if (rc) die("pthread_create: %s", strerror(rc));
    }
    return p;
}

/* Run fn(arg, tid) on every thread of the pool; returns when all are done. */
static void pool_run(struct pool *p, job_fn fn, void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->running = p->n;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    while (p->running)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void pool_free(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->th[i], NULL);
    free(p->th);
    free(p);
}

/* first error of a parallel job */
struct job_err {
    pthread_mutex_t mu;
    int err;
    uint64_t off;
    char what[64];
};

static void job_err_set(struct job_err *e, int err, uint64_t off, const char *what)
{
    pthread_mutex_lock(&e->mu);
    if (!e->err) {
        e->err = err;
        e->off = off;
        snprintf(e->what, sizeof e->what, "%s", what);
    }
    pthread_mutex_unlock(&e->mu);
}

/* ------------------------------------------------------------ machine */

/* host, date, kernel; and the CPU model from /proc/cpuinfo */
static void gpu_machine_info(struct ctx *c)
{
    machine_info(&c->mach);
    snprintf(c->cpu, sizeof c->cpu, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) != 0) continue;
            char *colon = strchr(line, ':');
            if (!colon) continue;
            colon++;
            while (*colon == ' ' || *colon == '\t')
                colon++;
            colon[strcspn(colon, "\n")] = 0;
            snprintf(c->cpu, sizeof c->cpu, "%s", colon);
            break;
        }
        fclose(f);
    }
}

/* ------------------------------------------------------------ parallel reads */

/* --threads threads take --block pieces of the file in order (a shared
 * counter) and pread them into their own pinned region, cycling through it
 * so that small requests do not stay in the CPU caches. */
struct readjob {
    struct ctx *c;
    int fd;
    uint64_t fsize, block;
    int direct;
    atomic_uint_fast64_t next;
    atomic_uint_fast64_t bytes;
    struct job_err e;
};

static void read_job(void *arg, unsigned tid)
{
    struct readjob *j = arg;
    char *base = j->c->pinned + (size_t)tid * j->c->region;
    uint64_t nslots = j->c->region / j->block;
    if (nslots == 0) nslots = 1;
    uint64_t slot = 0, mine = 0;
    uint64_t nblk = (j->fsize + j->block - 1) / j->block;
    for (;;) {
        uint64_t b = atomic_fetch_add(&j->next, 1);
        if (b >= nblk) break;
        uint64_t off = b * j->block;
        size_t want = (size_t)min_u64(j->block, j->fsize - off);
        if (j->direct) want = (want + ALIGN - 1) / ALIGN * ALIGN; /* short at EOF */
        char *dst = base + (slot++ % nslots) * j->block;
        size_t got = 0;
        while (got < want) {
            ssize_t r = pread(j->fd, dst + got, want - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                job_err_set(&j->e, errno, off + got, "pread");
                return;
            }
            if (r == 0) break;
            got += (size_t)r;
            if (j->direct) break; /* O_DIRECT: a short read means EOF */
        }
        mine += got;
    }
    atomic_fetch_add(&j->bytes, mine);
}

/* One parallel pass over the file; returns the bytes read. */
static uint64_t parallel_read(struct ctx *c, const struct gfile *g, uint64_t block, int direct)
{
    int fd = open(g->path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
    if (fd < 0) die("open %s%s: %s", g->path, direct ? " with O_DIRECT" : "", strerror(errno));
    struct readjob j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.fd = fd;
    j.fsize = g->size;
    j.block = block;
    j.direct = direct;
    pthread_mutex_init(&j.e.mu, NULL);
    atomic_init(&j.next, 0);
    atomic_init(&j.bytes, 0);
    pool_run(c->pool, read_job, &j);
    close(fd);
    if (j.e.err)
        die("%s %s at offset %" PRIu64 "%s: %s", j.e.what, g->path, j.e.off,
            direct ? " (O_DIRECT)" : "", strerror(j.e.err));
    pthread_mutex_destroy(&j.e.mu);
    return atomic_load(&j.bytes);
}

/* ------------------------------------------------------------ data files */

struct createjob {
    int fd;
    uint64_t size, seed;
    char **buf;
    atomic_uint_fast64_t next;
    struct job_err e;
};

static void create_job(void *arg, unsigned tid)
{
    struct createjob *j = arg;
    char *b = j->buf[tid];
    uint64_t npiece = (j->size + CREATE_PIECE - 1) / CREATE_PIECE;
    for (;;) {
        uint64_t p = atomic_fetch_add(&j->next, 1);
        if (p >= npiece) break;
        struct rng rng; /* a generator per piece: pieces are written in any order */
        rng_seed(&rng, j->seed ^ (p * 0x9e3779b97f4a7c15ull));
        uint64_t off = p * CREATE_PIECE;
        size_t n = (size_t)min_u64(CREATE_PIECE, j->size - off);
        rng_fill(&rng, b, n);
        size_t w = 0;
        while (w < n) {
            ssize_t r = pwrite(j->fd, b + w, n - w, (off_t)(off + w));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                job_err_set(&j->e, errno, off + w, "write");
                return;
            }
            w += (size_t)r;
        }
    }
}

/* Write size bytes of random data to path on --threads threads (see
 * create_begin). */
static void create_file(struct ctx *c, const char *path, uint64_t size)
{
    char tmp[PATH_MAX + 32];
    int fd = create_begin(path, size, tmp, sizeof tmp);
    char sz[32];
    fmt_bytes(size, sz, sizeof sz);
    progress_line("creating %s (%s of random data, %u threads)", path, sz, c->pool->n);
    struct createjob j;
    memset(&j, 0, sizeof j);
    j.fd = fd;
    j.size = size;
    j.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ size;
    j.buf = c->hostbuf;
    atomic_init(&j.next, 0);
    pthread_mutex_init(&j.e.mu, NULL);
    double t0 = now_s();
    pool_run(c->pool, create_job, &j);
    if (j.e.err) {
        unlink(tmp);
        die("%s %s at offset %" PRIu64 ": %s", j.e.what, tmp, j.e.off, strerror(j.e.err));
    }
    create_sync(fd, tmp);
    create_commit(fd, tmp, path, size, t0);
}

static void open_gfile(struct gfile *g)
{
    g->fd = open_input(g->path, &g->size);
    struct mount_info m;
    if (find_mount(g->path, &m) == 0) {
        snprintf(g->fstype, sizeof g->fstype, "%s", m.type);
        snprintf(g->fsdev, sizeof g->fsdev, "%.127s on %s, dev %u:%u", m.src, m.dir, m.major,
                 m.minor);
    } else {
        snprintf(g->fstype, sizeof g->fstype, "unknown");
        snprintf(g->fsdev, sizeof g->fsdev, "?");
    }
}

/* The files of the run: FILE arguments as they are, then one file per
 * --sizes entry under --dir (created when missing or of another size). */
static void prepare_files(struct ctx *c)
{
    for (unsigned i = 0; i < c->o.nfiles; i++) {
        struct gfile *g = &c->files[c->nfiles++];
        snprintf(g->path, sizeof g->path, "%s", c->o.files[i]);
        open_gfile(g);
    }
    if (c->o.nfiles && !c->o.sizes_given) return;
    for (unsigned i = 0; i < c->o.nsizes; i++) {
        if (c->nfiles >= MAX_FILES) usage_error("too many files (max %d)", MAX_FILES);
        struct gfile *g = &c->files[c->nfiles++];
        char s[32];
        fmt_short(c->o.sizes[i], s, sizeof s);
        snprintf(g->path, sizeof g->path, "%s/homi-gpu-%s.dat", c->o.dir, s);
        struct stat st;
        int exists = existing_file(g->path, &st);
        if (!exists || (uint64_t)st.st_size != c->o.sizes[i])
            create_file(c, g->path, c->o.sizes[i]);
        else
            note("reusing %s (%" PRIu64 " bytes)", g->path, c->o.sizes[i]);
        open_gfile(g);
    }
}

/* ------------------------------------------------------------ cuFile */

static const char *cf_errname(int e)
{
    switch (e) {
    case 5001: return "driver not initialized";
    case 5007: return "platform not supported";
    case 5008: return "IO not supported";
    case 5009: return "device not supported";
    case 5010: return "nvidia-fs driver error";
    case 5011: return "CUDA driver error";
    case 5018: return "invalid file type";
    case 5019: return "invalid file open flag";
    case 5020: return "O_DIRECT not set";
    case 5022: return "invalid value";
    case 5025: return "permission denied";
    case 5026: return "driver already open";
    case 5028: return "handle already registered";
    case 5030: return "internal error";
    default: return "see cufile.log";
    }
}

/* dlopen libcufile ($HOMI_CUFILE_LIB, libcufile.so, libcufile.so.0) and open
 * the driver.  Failure is not an error: the cufile rows say n/a and why. */
static void cufile_init(struct cufile_api *cf)
{
    const char *env = getenv("HOMI_CUFILE_LIB");
    const char *names[] = {env, "libcufile.so", "libcufile.so.0"};
    char first[256] = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !cf->h; i++) {
        if (!names[i] || !*names[i]) continue;
        cf->h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!cf->h && !*first) snprintf(first, sizeof first, "%s", dlerror());
    }
    if (!cf->h) {
        if (env && *env)
            snprintf(cf->why, sizeof cf->why, "cannot load HOMI_CUFILE_LIB (%s)", first);
        else
            snprintf(cf->why, sizeof cf->why,
                     "libcufile not found (%s; set HOMI_CUFILE_LIB to its path)", first);
        return;
    }
    struct link_map *lm = NULL;
    if (dlinfo(cf->h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name)
        snprintf(cf->lib, sizeof cf->lib, "%s", lm->l_name);
    *(void **)&cf->driver_open = dlsym(cf->h, "cuFileDriverOpen");
    *(void **)&cf->driver_close = dlsym(cf->h, "cuFileDriverClose_v2");
    if (!cf->driver_close) *(void **)&cf->driver_close = dlsym(cf->h, "cuFileDriverClose");
    *(void **)&cf->handle_register = dlsym(cf->h, "cuFileHandleRegister");
    *(void **)&cf->handle_deregister = dlsym(cf->h, "cuFileHandleDeregister");
    *(void **)&cf->read = dlsym(cf->h, "cuFileRead");
    if (!cf->driver_open || !cf->driver_close || !cf->handle_register || !cf->handle_deregister ||
        !cf->read) {
        snprintf(cf->why, sizeof cf->why, "%.400s lacks the cuFile symbols", cf->lib);
        return;
    }
    cufile_error e = cf->driver_open();
    if (e.err && e.err != CU_FILE_DRIVER_ALREADY_OPEN) {
        snprintf(cf->why, sizeof cf->why, "cuFileDriverOpen failed: error %d (%s), CUDA %d", e.err,
                 cf_errname(e.err), e.cu_err);
        return;
    }
    cf->gds = access("/proc/driver/nvidia-fs/version", F_OK) == 0;
    cf->ok = 1;
}

static const char *cufile_path_name(const struct cufile_api *cf)
{
    return cf->gds ? "cufile-gds" : "cufile-compat";
}

/* ------------------------------------------------------------ results */

static struct row *row_get(struct ctx *c, int file, int mode, uint64_t block, int method)
{
    for (unsigned i = 0; i < c->nrows; i++) {
        struct row *r = &c->rows[i];
        if (r->file == file && r->mode == mode && r->block == block && r->method == method)
            return r;
    }
    if (c->nrows == c->caprows) {
        c->caprows = c->caprows ? 2 * c->caprows : 64;
        c->rows = realloc(c->rows, c->caprows * sizeof *c->rows);
        if (!c->rows) die("out of memory");
    }
    struct row *r = &c->rows[c->nrows++];
    memset(r, 0, sizeof *r);
    r->file = file;
    r->mode = mode;
    r->block = block;
    r->method = method;
    return r;
}

static const struct row *row_find(const struct ctx *c, int file, int mode, uint64_t block,
                                  int method)
{
    for (unsigned i = 0; i < c->nrows; i++) {
        const struct row *r = &c->rows[i];
        if (r->file == file && r->mode == mode && r->block == block && r->method == method)
            return r;
    }
    return NULL;
}

static double best_gbps(const struct result *r)
{
    double b = 0;
    if (!r->valid || r->na) return 0;
    for (unsigned i = 0; i < r->n; i++)
        if (r->gbps[i] > b) b = r->gbps[i];
    return b;
}

static double mean_gbps(const struct result *r)
{
    if (!r->valid || r->na || r->secs_sum <= 0) return 0;
    return r->bytes_sum / r->secs_sum / 1e9;
}

/* "kernel", "kernel 97.0%+hole 3.0%", with " fb:reason=N" for fallbacks */
static void homi_path_str(const homi_stats *s, char *out, size_t n)
{
    uint64_t total = 0;
    int used = 0;
    for (int p = 0; p < HOMI_PATH_COUNT; p++)
        if (s->path[p].bytes) {
            total += s->path[p].bytes;
            used++;
        }
    size_t k = 0;
    out[0] = 0;
    if (!total) k += (size_t)snprintf(out, n, "(no bytes in homi_file_stats)");
    for (int p = 0; p < HOMI_PATH_COUNT && total && k < n; p++) {
        if (!s->path[p].bytes) continue;
        if (used == 1)
            k += (size_t)snprintf(out + k, n - k, "%s", homi_path_name(p));
        else
            k += (size_t)snprintf(out + k, n - k, "%s%s %.1f%%", k ? "+" : "", homi_path_name(p),
                                  100.0 * (double)s->path[p].bytes / (double)total);
    }
    for (int i = 0; i < HOMI_FB_COUNT && k < n; i++)
        if (s->fallbacks[i])
            k += (size_t)snprintf(out + k, n - k, " fb:%s=%" PRIu64, homi_fallback_name(i),
                                  s->fallbacks[i]);
}

static void row_path(const struct ctx *c, const struct row *r, char *out, size_t n)
{
    switch (r->method) {
    case MT_CEIL: snprintf(out, n, "%s", r->mode == MODE_CACHED ? "pagecache" : "o_direct"); break;
    case MT_NAIVE: snprintf(out, n, "pread+cudaMemcpy"); break;
    case MT_CUFILE:
        if (r->r.na)
            snprintf(out, n, "n/a: %s", r->r.note);
        else
            snprintf(out, n, "%s", cufile_path_name(&c->cf));
        break;
    default: homi_path_str(&r->r.st, out, n); break;
    }
}

/* ------------------------------------------------------------ methods */

struct run_out {
    uint64_t bytes;
    double secs;
    int partial;
};

static void run_ceiling(struct ctx *c, const struct gfile *g, int m, uint64_t block,
                        struct run_out *out)
{
    double t0 = now_s();
    out->bytes = parallel_read(c, g, block, m == MODE_DIRECT);
    out->secs = now_s() - t0;
}

static int capped(const struct ctx *c, double t0)
{
    return c->o.run_cap > 0 && now_s() - t0 > c->o.run_cap;
}

static void run_naive(struct ctx *c, const struct gfile *g, uint64_t block, struct run_out *out)
{
    double t0 = now_s();
    int fd = open(g->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open %s: %s", g->path, strerror(errno));
    uint64_t off = 0;
    while (off < g->size) {
        size_t want = (size_t)min_u64(block, g->size - off);
        ssize_t r = pread(fd, c->naive_buf, want, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("pread %s at offset %" PRIu64 ": %s", g->path, off, strerror(errno));
        if (r == 0) break;
        cuda_check(cudaMemcpy(c->dbuf + off, c->naive_buf, (size_t)r, cudaMemcpyHostToDevice),
                   "cudaMemcpy (naive)");
        off += (uint64_t)r;
        if (off < g->size && capped(c, t0)) {
            out->partial = 1;
            break;
        }
    }
    close(fd);
    out->bytes = off;
    out->secs = now_s() - t0;
}

/* Returns 0, or -1 with why filled (the row becomes n/a). */
static int run_cufile(struct ctx *c, const struct gfile *g, uint64_t block, struct run_out *out,
                      char *why, size_t whylen)
{
    struct cufile_api *cf = &c->cf;
    double t0 = now_s();
    int fd = open(g->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "open with O_DIRECT: %s", strerror(errno));
        return -1;
    }
    cufile_descr d;
    memset(&d, 0, sizeof d);
    d.type = CU_FILE_HANDLE_TYPE_OPAQUE_FD;
    d.handle.fd = fd;
    void *h = NULL;
    cufile_error e = cf->handle_register(&h, &d);
    if (e.err) {
        snprintf(why, whylen, "cuFileHandleRegister: error %d (%s)", e.err, cf_errname(e.err));
        close(fd);
        return -1;
    }
    uint64_t off = 0;
    int rc = 0;
    while (off < g->size) {
        size_t want = (size_t)min_u64(block, g->size - off);
        ssize_t r = cf->read(h, c->dbuf, want, (off_t)off, (off_t)off);
        if (r < 0) {
            if (r == -1)
                snprintf(why, whylen, "cuFileRead at %" PRIu64 ": %s", off, strerror(errno));
            else
                snprintf(why, whylen, "cuFileRead at %" PRIu64 ": error %d (%s)", off, (int)-r,
                         cf_errname((int)-r));
            rc = -1;
            break;
        }
        if (r == 0) break;
        off += (uint64_t)r;
        if (off < g->size && capped(c, t0)) {
            out->partial = 1;
            break;
        }
    }
    cf->handle_deregister(h);
    close(fd);
    out->bytes = off;
    out->secs = now_s() - t0;
    return rc;
}

static void homi_finish(homi_file *f, homi_stats *st)
{
    int rc = homi_file_stats(f, st);
    if (rc) die_homi("homi_file_stats", rc);
    rc = homi_close(f);
    if (rc) die_homi("homi_close", rc);
}

static void run_homi(struct ctx *c, homi_engine *eng, const struct gfile *g, uint64_t block,
                     struct run_out *out, homi_stats *st)
{
    double t0 = now_s();
    homi_file *f = homi_open_or_die(eng, g->path);
    uint64_t off = 0;
    while (off < g->size) {
        size_t want = (size_t)min_u64(block, g->size - off);
        int64_t r = homi_pread(f, c->dbuf + off, want, (int64_t)off);
        if (r < 0) die_homi_at("homi_pread (device memory)", off, r);
        if ((uint64_t)r != want)
            die("homi_pread at offset %" PRIu64 ": %" PRId64 " bytes instead of %zu", off, r, want);
        off += (uint64_t)r;
    }
    homi_finish(f, st);
    out->bytes = off;
    out->secs = now_s() - t0;
}

static void run_homi_async(struct ctx *c, homi_engine *eng, const struct gfile *g, uint64_t block,
                           struct run_out *out, homi_stats *st)
{
    double t0 = now_s();
    homi_file *f = homi_open_or_die(eng, g->path);
    unsigned w = c->o.window;
    homi_io *io = calloc(w, sizeof *io);
    homi_completion *cq = calloc(w, sizeof *cq);
    if (!io || !cq) die("out of memory");
    uint64_t nblk = (g->size + block - 1) / block, next = 0, done = 0, bytes = 0;
    unsigned inflight = 0;
    while (done < nblk) {
        unsigned k = 0;
        while (inflight + k < w && next < nblk) {
            uint64_t off = next * block;
            io_prep(&io[k++], f, c->dbuf + off, (size_t)min_u64(block, g->size - off), off, next);
            next++;
        }
        if (k) {
            if (submit_or_die(eng, io, k, inflight))
                inflight += k;
            else
                next -= k; /* engine full: retry after a completion */
        }
        int n = wait_or_die(eng, cq, w, inflight);
        for (int i = 0; i < n; i++) {
            uint64_t blk = cq[i].user_data;
            if (blk >= nblk) die("homi_wait returned unknown user_data %" PRIu64, blk);
            uint64_t off = blk * block;
            size_t want = (size_t)min_u64(block, g->size - off);
            if (cq[i].result < 0) die_homi_at("async read (device memory)", off, cq[i].result);
            if ((uint64_t)cq[i].result != want)
                die("async read at offset %" PRIu64 ": %" PRId64 " bytes instead of %zu", off,
                    cq[i].result, want);
            bytes += want;
            done++;
            inflight--;
        }
    }
    free(io);
    free(cq);
    homi_finish(f, st);
    out->bytes = bytes;
    out->secs = now_s() - t0;
}

/* ------------------------------------------------------------ verify */

struct verifyjob {
    struct ctx *c;
    const struct gfile *g;
    atomic_uint_fast64_t next;
    pthread_mutex_t mu;
    uint64_t bad_off; /* first differing byte, UINT64_MAX if none */
    unsigned char bad_got, bad_want;
    struct job_err e;
};

static void verify_job(void *arg, unsigned tid)
{
    struct verifyjob *j = arg;
    const struct gfile *g = j->g;
    char *dev = j->c->pinned + (size_t)tid * j->c->region; /* region >= VERIFY_PIECE */
    char *ref = j->c->hostbuf[tid];
    uint64_t npiece = (g->size + VERIFY_PIECE - 1) / VERIFY_PIECE;
    for (;;) {
        uint64_t p = atomic_fetch_add(&j->next, 1);
        if (p >= npiece) break;
        uint64_t off = p * VERIFY_PIECE;
        size_t len = (size_t)min_u64(VERIFY_PIECE, g->size - off);
        cudaError_t ce = cudaMemcpy(dev, j->c->dbuf + off, len, cudaMemcpyDeviceToHost);
        if (ce != cudaSuccess) {
            job_err_set(&j->e, -(int)ce, off, "cudaMemcpy device->host");
            return;
        }
        size_t got = 0;
        while (got < len) {
            ssize_t r = pread(g->fd, ref + got, len - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                job_err_set(&j->e, r < 0 ? errno : EIO, off + got, "pread");
                return;
            }
            got += (size_t)r;
        }
        if (memcmp(dev, ref, len) == 0) continue;
        size_t i = 0;
        while (dev[i] == ref[i])
            i++;
        pthread_mutex_lock(&j->mu);
        if (off + i < j->bad_off) {
            j->bad_off = off + i;
            j->bad_got = (unsigned char)dev[i];
            j->bad_want = (unsigned char)ref[i];
        }
        pthread_mutex_unlock(&j->mu);
    }
}

/* The device buffer must hold the file: copy it back, compare with pread. */
static void verify_device(struct ctx *c, const struct gfile *g, int m, uint64_t block, int method)
{
    double t0 = now_s();
    struct verifyjob j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.g = g;
    j.bad_off = UINT64_MAX;
    atomic_init(&j.next, 0);
    pthread_mutex_init(&j.mu, NULL);
    pthread_mutex_init(&j.e.mu, NULL);
    pool_run(c->pool, verify_job, &j);
    char bl[32], sz[32];
    fmt_short(block, bl, sizeof bl);
    fmt_bytes(g->size, sz, sizeof sz);
    if (j.e.err) {
        if (j.e.err < 0)
            die("verify: %s at offset %" PRIu64 ": %s", j.e.what, j.e.off,
                cudaGetErrorString((cudaError_t)-j.e.err));
        die("verify: %s %s at offset %" PRIu64 ": %s", j.e.what, g->path, j.e.off,
            strerror(j.e.err));
    }
    if (j.bad_off != UINT64_MAX)
        die("verification FAILED: %s, %s mode, %s, request %s: first differing byte at file "
            "offset %" PRIu64 " (GPU 0x%02x, file 0x%02x)",
            method_label[method], mode_name[m], g->path, bl, j.bad_off, j.bad_got, j.bad_want);
    progress_line("    verify %s %s %s %s: OK, %s on the GPU identical to the file (%.1f s)",
                  mode_name[m], sz, bl, method_label[method], sz, now_s() - t0);
}

/* ------------------------------------------------------------ the run */

static void h2d_ceiling(struct ctx *c)
{
    void *hp = NULL;
    cuda_check(cudaHostAlloc(&hp, H2D_SIZE, cudaHostAllocPortable), "cudaHostAlloc(256 MiB)");
    memset(hp, 0x33, H2D_SIZE);
    cudaStream_t s;
    cuda_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    cuda_check(cudaMemcpyAsync(c->dbuf, hp, H2D_SIZE, cudaMemcpyHostToDevice, s),
               "cudaMemcpyAsync");
    cuda_check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    double best = 0, sum_b = 0, sum_t = 0;
    for (int rep = 0; rep < H2D_REPS; rep++) {
        double t0 = now_s();
        for (int k = 0; k < H2D_COPIES; k++)
            cuda_check(cudaMemcpyAsync(c->dbuf, hp, H2D_SIZE, cudaMemcpyHostToDevice, s),
                       "cudaMemcpyAsync");
        cuda_check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
        double dt = now_s() - t0, b = (double)H2D_SIZE * H2D_COPIES;
        if (b / dt / 1e9 > best) best = b / dt / 1e9;
        sum_b += b;
        sum_t += dt;
    }
    cudaStreamDestroy(s);
    cudaFreeHost(hp);
    c->h2d_best = best;
    c->h2d_mean = sum_b / sum_t / 1e9;
    progress_line("h2d-pinned ceiling: %.2f GB/s best, %.2f GB/s mean (%d x %d copies of 256 MiB)",
                  best, c->h2d_mean, H2D_REPS, H2D_COPIES);
}

/* Untimed first use of every path, so no timed run pays for one-time set-up
 * (HOMI's staging buffers and streams, the runtime's pageable-copy buffers,
 * cuFile's bounce buffers). */
static void warm_up(struct ctx *c)
{
    const struct gfile *g = &c->files[0];
    size_t n = (size_t)min_u64(PREREAD_BLOCK, g->size);
    for (int m = 0; m < MODE_COUNT; m++) {
        if (!c->eng[m]) continue;
        homi_file *f = homi_open_or_die(c->eng[m], g->path);
        int64_t r = homi_pread(f, c->dbuf, n, 0);
        if (r < 0) die_homi("homi_pread (device memory, warm-up)", r);
        homi_stats st;
        homi_finish(f, &st);
    }
    ssize_t r = pread(g->fd, c->naive_buf, (size_t)min_u64(n, c->max_block), 0);
    if (r > 0)
        cuda_check(cudaMemcpy(c->dbuf, c->naive_buf, (size_t)r, cudaMemcpyHostToDevice),
                   "cudaMemcpy");
    if (c->cf.ok) {
        int fd = open(g->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
        if (fd >= 0) {
            cufile_descr d;
            memset(&d, 0, sizeof d);
            d.type = CU_FILE_HANDLE_TYPE_OPAQUE_FD;
            d.handle.fd = fd;
            void *h = NULL;
            cufile_error e = c->cf.handle_register(&h, &d);
            if (!e.err) {
                c->cf.read(h, c->dbuf, (size_t)min_u64(1u << 20, g->size), 0, 0);
                c->cf.handle_deregister(h);
            }
            close(fd);
        }
    }
    cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

struct group {
    int file, mode;
    const uint64_t *blocks;
    unsigned nblocks, iters;
};

static void group_for(const struct ctx *c, int file, int m, struct group *gr)
{
    gr->file = file;
    gr->mode = m;
    gr->blocks = c->o.blocks;
    gr->nblocks = c->o.nblocks;
    gr->iters = c->o.iters;
    if (m == MODE_DIRECT && c->files[file].size >= c->o.dmin) {
        if (c->o.dblocks_given) {
            gr->blocks = c->o.dblocks;
            gr->nblocks = c->o.ndblocks;
        }
        if (c->o.diters_given) gr->iters = c->o.diters;
    }
}

static void ensure_resident(struct ctx *c, const struct gfile *g)
{
    double r = resident_fraction(g->fd, g->size);
    if (r >= 0.99) {
        note("[cached] %s: page cache holds %.1f%% of the file", g->path, 100 * r);
        return;
    }
    double t0 = now_s();
    parallel_read(c, g, PREREAD_BLOCK, 0);
    r = resident_fraction(g->fd, g->size);
    note("[cached] %s: pre-read in %.1f s; page cache holds %.1f%% of the file", g->path,
         now_s() - t0, r < 0 ? -1.0 : 100 * r);
    warn_if_uncached(r, g->path);
}

static void run_group(struct ctx *c, const struct group *gr)
{
    const struct gfile *g = &c->files[gr->file];
    int m = gr->mode;
    char sz[32];
    fmt_short(g->size, sz, sizeof sz);
    for (unsigned b = 0; b < gr->nblocks; b++) {
        uint64_t block = gr->blocks[b];
        char bl[32];
        fmt_short(block, bl, sizeof bl);
        if (m == MODE_CACHED) ensure_resident(c, g);
        int verified[MT_COUNT] = {0};
        /* methods interleave per iteration, so drift hits all of them alike */
        for (unsigned it = 0; it < gr->iters; it++) {
            for (int k = 0; k < MT_COUNT; k++) {
                struct row *row = row_get(c, gr->file, m, block, k);
                struct result *r = &row->r;
                c->run_no++;
                if (k == MT_CUFILE && (!c->cf.ok || c->files[gr->file].cufile_na)) {
                    r->na = 1;
                    snprintf(r->note, sizeof r->note, "%s",
                             !c->cf.ok ? c->cf.why : c->files[gr->file].cufile_why);
                    continue;
                }
                int verify_now =
                    c->o.verify && (k == MT_HOMI || k == MT_HOMI_ASYNC) && !verified[k];
                if (verify_now) { /* poison the buffer, so stale bytes cannot pass */
                    cuda_check(cudaMemset(c->dbuf, 0x5a, (size_t)g->size), "cudaMemset");
                    cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
                }
                double res = -1;
                if (m == MODE_DIRECT) {
                    res = drop_cache(g->fd, g->path, g->size);
                    if (res > r->max_resident) r->max_resident = res;
                }
                struct run_out o;
                memset(&o, 0, sizeof o);
                homi_stats st;
                memset(&st, 0, sizeof st);
                switch (k) {
                case MT_CEIL: run_ceiling(c, g, m, block, &o); break;
                case MT_NAIVE: run_naive(c, g, block, &o); break;
                case MT_CUFILE: {
                    char why[256];
                    if (run_cufile(c, g, block, &o, why, sizeof why)) {
                        struct gfile *gw = &c->files[gr->file];
                        gw->cufile_na = 1;
                        snprintf(gw->cufile_why, sizeof gw->cufile_why, "%s", why);
                        r->na = 1;
                        snprintf(r->note, sizeof r->note, "%s", why);
                        progress_line("[%3u/%3u] %s %s %s cufile: n/a: %s", c->run_no, c->run_total,
                                      mode_name[m], sz, bl, why);
                        continue;
                    }
                    break;
                }
                case MT_HOMI: run_homi(c, c->eng[m], g, block, &o, &st); break;
                case MT_HOMI_ASYNC: run_homi_async(c, c->eng[m], g, block, &o, &st); break;
                default: break;
                }
                if (!o.partial && o.bytes != g->size)
                    die("%s read %" PRIu64 " of %" PRIu64 " bytes of %s (file changed?)",
                        method_name(m, k), o.bytes, g->size, g->path);
                double gbps = (double)o.bytes / o.secs / 1e9;
                r->valid = 1;
                r->gbps[r->n++] = gbps;
                r->bytes_sum += (double)o.bytes;
                r->secs_sum += o.secs;
                if (o.partial) r->partial = 1;
                stats_add(&r->st, &st);
                char path[256] = "", extra[64] = "";
                if (k == MT_HOMI || k == MT_HOMI_ASYNC) homi_path_str(&st, path, sizeof path);
                if (o.partial)
                    snprintf(extra, sizeof extra, " [stopped at --run-cap: %.0f%% read]",
                             100.0 * (double)o.bytes / (double)g->size);
                if (m == MODE_DIRECT)
                    progress_line("[%3u/%3u] direct %s %s %-13s iter %u/%u: %7.2f GB/s %7.3f s  "
                                  "(resident after drop %.2f%%)%s%s%s",
                                  c->run_no, c->run_total, sz, bl, method_name(m, k), it + 1,
                                  gr->iters, gbps, o.secs, res < 0 ? -1.0 : 100 * res,
                                  *path ? " " : "", path, extra);
                else
                    progress_line(
                        "[%3u/%3u] cached %s %s %-13s iter %u/%u: %7.2f GB/s %7.3f s%s%s%s",
                        c->run_no, c->run_total, sz, bl, method_name(m, k), it + 1, gr->iters, gbps,
                        o.secs, *path ? "  " : "", path, extra);
                if (verify_now) {
                    verify_device(c, g, m, block, k);
                    verified[k] = 1;
                }
            }
        }
    }
}

/* ------------------------------------------------------------ report */

static double ceiling_for(const struct ctx *c, const struct row *r)
{
    const struct row *ce = row_find(c, r->file, r->mode, r->block, MT_CEIL);
    double v = ce ? best_gbps(&ce->r) : 0;
    if (v <= 0) return 0;
    return c->h2d_best > 0 && c->h2d_best < v ? c->h2d_best : v;
}

static void ratio_str(double num, double den, char *out, size_t n)
{
    if (num > 0 && den > 0)
        snprintf(out, n, "%.2fx", num / den);
    else
        snprintf(out, n, "-");
}

static void print_table(const struct ctx *c)
{
    int fw = 5, bw = 5; /* widths of the file and request columns */
    for (unsigned i = 0; i < c->nrows; i++) {
        char s[32];
        fmt_short(c->files[c->rows[i].file].size, s, sizeof s);
        if ((int)strlen(s) > fw) fw = (int)strlen(s);
        fmt_short(c->rows[i].block, s, sizeof s);
        if ((int)strlen(s) > bw) bw = (int)strlen(s);
    }
    printf("\n%-6s %-*s %-*s %-13s %9s %9s %7s %8s %9s  %s\n", "mode", fw, "file", bw, "req",
           "method", "GB/s best", "GB/s mean", "vs ceil", "vs naive", "vs cufile", "path");
    printf("%-6s %-*s %-*s %-13s %9.2f %9.2f %7s %8s %9s  %s\n", "any", fw, "-", bw, "256M",
           "h2d-pinned", c->h2d_best, c->h2d_mean, "-", "-", "-", "cudaMemcpyAsync pinned->device");
    for (unsigned i = 0; i < c->nrows; i++) {
        const struct row *r = &c->rows[i];
        char sz[32], bl[32], path[640], rc[32], rn[32], rf[32];
        fmt_short(c->files[r->file].size, sz, sizeof sz);
        fmt_short(r->block, bl, sizeof bl);
        row_path(c, r, path, sizeof path);
        if (r->r.na || !r->r.valid) {
            printf("%-6s %-*s %-*s %-13s %9s %9s %7s %8s %9s  %s\n", mode_name[r->mode], fw, sz, bw,
                   bl, method_name(r->mode, r->method), "n/a", "n/a", "-", "-", "-", path);
            continue;
        }
        double best = best_gbps(&r->r);
        const struct row *nv = row_find(c, r->file, r->mode, r->block, MT_NAIVE);
        const struct row *cf = row_find(c, r->file, r->mode, r->block, MT_CUFILE);
        ratio_str(best, ceiling_for(c, r), rc, sizeof rc);
        ratio_str(best, nv ? best_gbps(&nv->r) : 0, rn, sizeof rn);
        ratio_str(best, cf ? best_gbps(&cf->r) : 0, rf, sizeof rf);
        printf("%-6s %-*s %-*s %-13s %8.2f%s %9.2f %7s %8s %9s  %s\n", mode_name[r->mode], fw, sz,
               bw, bl, method_name(r->mode, r->method), best, r->r.partial ? "*" : " ",
               mean_gbps(&r->r), rc, rn, rf, path);
    }
    printf("(GB = 1e9 bytes; best/mean over the timed runs, each including open/close; vs ceil = "
           "best GB/s over\n"
           " min(h2d-pinned, the mode's host ceiling at the same request size); vs naive / vs "
           "cufile = best GB/s\n"
           " over theirs at the same file, mode and request size; * = a run stopped at "
           "--run-cap)\n");
}

struct best {
    double gbps;
    int method;
    uint64_t block;
};

static struct best best_of(const struct ctx *c, int file, int m, int lo, int hi)
{
    struct best b = {0, -1, 0};
    for (unsigned i = 0; i < c->nrows; i++) {
        const struct row *r = &c->rows[i];
        if (r->file != file || r->mode != m || r->method < lo || r->method > hi) continue;
        double v = best_gbps(&r->r);
        if (v > b.gbps) {
            b.gbps = v;
            b.method = r->method;
            b.block = r->block;
        }
    }
    return b;
}

static const char *pass(double ratio, double goal)
{
    return ratio >= goal ? "PASS" : "FAIL";
}

static void print_goals(const struct ctx *c)
{
    printf("\nacceptance (issue 3 states it for 8 GiB files; best HOMI method and request size "
           "against the best of each\nceiling and baseline over the request sizes):\n");
    for (unsigned fi = 0; fi < c->nfiles; fi++) {
        char sz[32];
        fmt_bytes(c->files[fi].size, sz, sizeof sz);
        for (int m = 0; m < MODE_COUNT; m++) {
            struct best h = best_of(c, (int)fi, m, MT_HOMI, MT_HOMI_ASYNC);
            if (h.method < 0) continue;
            char hb[32];
            fmt_short(h.block, hb, sizeof hb);
            struct best ce = best_of(c, (int)fi, m, MT_CEIL, MT_CEIL);
            char cb[32];
            fmt_short(ce.block, cb, sizeof cb);
            if (m == MODE_CACHED) {
                double lim = ce.gbps < c->h2d_best ? ce.gbps : c->h2d_best;
                double r1 = lim > 0 ? h.gbps / lim : 0;
                printf("goal cached %s: HOMI %.2f GB/s (%s @%s) >= %.2fx min(h2d %.2f, page cache "
                       "%.2f @%s) = %.2f GB/s: %.2fx %s\n",
                       sz, h.gbps, method_label[h.method], hb, GOAL_CEIL_CACHED, c->h2d_best,
                       ce.gbps, cb, GOAL_CEIL_CACHED * lim, r1, pass(r1, GOAL_CEIL_CACHED));
                struct best cf = best_of(c, (int)fi, m, MT_CUFILE, MT_CUFILE);
                if (cf.method < 0) {
                    printf("goal cached %s: HOMI >= %.0fx cufile: n/a (cufile %s)\n", sz,
                           GOAL_CUFILE,
                           !c->cf.ok                ? c->cf.why
                           : c->files[fi].cufile_na ? c->files[fi].cufile_why
                                                    : "not run");
                } else {
                    char fb[32];
                    fmt_short(cf.block, fb, sizeof fb);
                    double r2 = h.gbps / cf.gbps;
                    printf("goal cached %s: HOMI %.2f GB/s >= %.0fx cufile %.2f GB/s (@%s, %s): "
                           "%.2fx %s\n",
                           sz, h.gbps, GOAL_CUFILE, cf.gbps, fb, cufile_path_name(&c->cf), r2,
                           pass(r2, GOAL_CUFILE));
                }
                struct best nv = best_of(c, (int)fi, m, MT_NAIVE, MT_NAIVE);
                if (nv.method >= 0) {
                    char nb[32];
                    fmt_short(nv.block, nb, sizeof nb);
                    double r3 = h.gbps / nv.gbps;
                    printf("goal cached %s: HOMI %.2f GB/s >= %.0fx naive %.2f GB/s (@%s): %.2fx "
                           "%s\n",
                           sz, h.gbps, GOAL_NAIVE, nv.gbps, nb, r3, pass(r3, GOAL_NAIVE));
                }
            } else {
                double r1 = ce.gbps > 0 ? h.gbps / ce.gbps : 0;
                printf("goal direct %s: HOMI %.2f GB/s (%s @%s) >= %.2fx O_DIRECT-into-pinned %.2f "
                       "GB/s (@%s): %.2fx %s\n",
                       sz, h.gbps, method_label[h.method], hb, GOAL_CEIL_DIRECT, ce.gbps, cb, r1,
                       pass(r1, GOAL_CEIL_DIRECT));
            }
        }
    }
    double worst = 0;
    int any = 0;
    for (unsigned i = 0; i < c->nrows; i++)
        if (c->rows[i].mode == MODE_DIRECT) {
            any = 1;
            if (c->rows[i].r.max_resident > worst) worst = c->rows[i].r.max_resident;
        }
    if (any) {
        printf("direct mode: page cache dropped before every timed run; worst residency after a "
               "drop %.2f%%\n",
               100 * worst);
        if (worst > 0.01)
            warnx_("up to %.1f%% of a file stayed resident after dropping its cache (mapped or "
                   "locked elsewhere?): direct-mode numbers are optimistic",
                   100 * worst);
    }
}

static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_csv_row(const struct ctx *c, const char *mode, uint64_t fsize, uint64_t block,
                          const char *method, double best, double mean, double rc, double rn,
                          double rf, const char *path, unsigned n, int partial, double ceiling,
                          double resident, const char *file, const char *fs, const char *why)
{
    FILE *f = c->csv;
    fprintf(f, "%s,%" PRIu64 ",%" PRIu64 ",%s,", mode, fsize, block, method);
    if (best > 0)
        fprintf(f, "%.4f,%.4f,", best, mean);
    else
        fprintf(f, ",,");
    if (rc > 0) fprintf(f, "%.4f", rc);
    fputc(',', f);
    if (rn > 0) fprintf(f, "%.4f", rn);
    fputc(',', f);
    if (rf > 0) fprintf(f, "%.4f", rf);
    fputc(',', f);
    csv_field(f, path);
    fprintf(f, ",%u,%d,", n, partial);
    if (ceiling > 0) fprintf(f, "%.4f", ceiling);
    fputc(',', f);
    if (resident >= 0) fprintf(f, "%.4f", 100 * resident);
    fputc(',', f);
    csv_field(f, c->mach.host);
    fputc(',', f);
    csv_field(f, c->mach.date);
    fputc(',', f);
    csv_field(f, c->gpu);
    fputc(',', f);
    csv_field(f, file);
    fputc(',', f);
    csv_field(f, fs);
    fprintf(f, ",%s,%u,%u,", homi_version(), c->o.threads, c->o.window);
    csv_field(f, c->eng[MODE_CACHED]   ? homi_cufile_status(c->eng[MODE_CACHED])
                 : c->eng[MODE_DIRECT] ? homi_cufile_status(c->eng[MODE_DIRECT])
                                       : "");
    fputc(',', f);
    csv_field(f, why);
    fputc('\n', f);
}

static void write_csv(struct ctx *c)
{
    FILE *f = c->csv;
    if (csv_is_new(f))
        fprintf(f, "mode,file_size,block,method,gbps_best,gbps_mean,ratio_vs_ceiling,"
                   "ratio_vs_naive,ratio_vs_cufile,path,iters,partial,ceiling_gbps,"
                   "resident_pct_after_drop,host,date,gpu,file,fs,homi_version,threads,window,"
                   "homi_cufile_status,note\n");
    write_csv_row(c, "any", 0, H2D_SIZE, "h2d-pinned", c->h2d_best, c->h2d_mean, 0, 0, 0,
                  "cudaMemcpyAsync pinned->device", H2D_REPS, 0, 0, -1, "", "", "");
    for (unsigned i = 0; i < c->nrows; i++) {
        const struct row *r = &c->rows[i];
        const struct gfile *g = &c->files[r->file];
        char path[640], fs[1300];
        row_path(c, r, path, sizeof path);
        if (r->r.na) snprintf(path, sizeof path, "n/a");
        snprintf(fs, sizeof fs, "%s (%s)", g->fstype, g->fsdev);
        double best = best_gbps(&r->r);
        const struct row *nv = row_find(c, r->file, r->mode, r->block, MT_NAIVE);
        const struct row *cf = row_find(c, r->file, r->mode, r->block, MT_CUFILE);
        double lim = ceiling_for(c, r);
        double nb = nv ? best_gbps(&nv->r) : 0, fb = cf ? best_gbps(&cf->r) : 0;
        write_csv_row(c, mode_name[r->mode], g->size, r->block, method_name(r->mode, r->method),
                      best, mean_gbps(&r->r), lim > 0 && best > 0 ? best / lim : 0,
                      nb > 0 && best > 0 ? best / nb : 0, fb > 0 && best > 0 ? best / fb : 0, path,
                      r->r.n, r->r.partial, lim, r->mode == MODE_DIRECT ? r->r.max_resident : -1,
                      g->path, fs, r->r.na ? r->r.note : "");
    }
    csv_close(f, c->o.csv);
    c->csv = NULL;
}

static void print_homi_summary(const struct ctx *c)
{
    if (bench_quiet) return;
    for (int m = 0; m < MODE_COUNT; m++) {
        if (!c->eng[m]) continue;
        homi_stats s;
        if (homi_engine_stats(c->eng[m], &s)) continue;
        printf("\nHOMI engine summary, %s mode (every HOMI read of the run, the untimed warm-up "
               "included):\n",
               mode_name[m]);
        fflush(stdout);
        homi_stats_print(&s, 0, stdout);
        fflush(stdout);
    }
}

/* ------------------------------------------------------------ options */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: homi-bench --gpu [options] [FILE...]\n"
        "File -> GPU memory: HOMI against ceilings and baselines measured in the same run.\n"
        "Without FILE: one file per --sizes entry under --dir (created with random data when\n"
        "missing or of another size, reused otherwise).  FILEs are read as they are.\n"
        "\n"
        "  --sizes LIST      sizes of the files to create/reuse, e.g. 1G,8G (default 1G,8G;\n"
        "                    with FILE arguments only when given)\n"
        "  --dir DIR         where those files live: DIR/homi-gpu-<SIZE>.dat (default /var/tmp)\n"
        "  --blocks LIST     request sizes (default 64K,1M,16M,64M)\n"
        "  --modes LIST      cached,direct or one of them (default both; run in that order)\n"
        "                      cached: file resident in the page cache, HOMI homi_direct=off\n"
        "                      direct: cache dropped before every timed run of every method,\n"
        "                              HOMI homi_direct=on\n"
        "  --iters N         timed runs per method, interleaved; best and mean (default 2)\n"
        "  --direct-blocks LIST  request sizes for direct mode on large files (default --blocks)\n"
        "  --direct-iters N  timed runs per method in direct mode on large files (default "
        "--iters)\n"
        "  --direct-min-size SIZE  files of at least SIZE are 'large' for the two options\n"
        "                    above (default 0: every file)\n"
        "  --run-cap SEC     stop a naive or cufile run after SEC seconds and rate it by the\n"
        "                    bytes read so far, marked '*' (default 0: no cap; ceilings and\n"
        "                    HOMI always read the whole file)\n"
        "  --threads N       host threads of the ceilings, file creation and verification\n"
        "                    (default: online CPUs)\n"
        "  --device N        CUDA device (default 0)\n"
        "  --window N        requests in flight for homi-async (default %u)\n"
        "  --verify          after the first run of homi and of homi-async per file, mode and\n"
        "                    request size, copy the GPU buffer back and compare it with the\n"
        "                    file (pread); exit 1 on a mismatch (default on)\n"
        "  --no-verify       skip that\n"
        "  --hint KEY=VAL    HOMI hint (homi_config_set), repeatable; homi_direct is set by\n"
        "                    the mode\n"
        "  --csv FILE        also append CSV rows to FILE (header when the file is new)\n"
        "  --quiet           table, goals and errors only (no progress on stderr)\n"
        "  --help            this text\n"
        "\n"
        "Methods: ceilings h2d-pinned (cudaMemcpyAsync of 256 MiB pinned), pagecache-pin and\n"
        "odirect-pin (--threads preads into pinned memory); baselines naive (pread into a\n"
        "pageable buffer + cudaMemcpy) and cufile (cuFileRead; libcufile from\n"
        "$HOMI_CUFILE_LIB, libcufile.so or libcufile.so.0; n/a when missing or refused);\n"
        "HOMI homi (homi_pread) and homi-async (homi_submit/homi_wait).\n"
        "HOMI_* environment variables are applied first; --hint overrides them.\n"
        "Exit status: 0 ok, 1 I/O or verification error, 2 bad usage, 77 no CUDA device.\n",
        DEFAULT_WINDOW);
}

static void parse_args(struct ctx *c, int argc, char **argv)
{
    struct options *o = &c->o;
    enum {
        O_SIZES = 256,
        O_DIR,
        O_BLOCKS,
        O_MODES,
        O_ITERS,
        O_DBLOCKS,
        O_DITERS,
        O_DMIN,
        O_RUNCAP,
        O_THREADS,
        O_DEVICE,
        O_WINDOW,
        O_VERIFY,
        O_NOVERIFY,
        O_HINT,
        O_CSV,
        O_QUIET,
        O_HELP
    };
    static const struct option lo[] = {{"sizes", required_argument, 0, O_SIZES},
                                       {"dir", required_argument, 0, O_DIR},
                                       {"blocks", required_argument, 0, O_BLOCKS},
                                       {"modes", required_argument, 0, O_MODES},
                                       {"iters", required_argument, 0, O_ITERS},
                                       {"direct-blocks", required_argument, 0, O_DBLOCKS},
                                       {"direct-iters", required_argument, 0, O_DITERS},
                                       {"direct-min-size", required_argument, 0, O_DMIN},
                                       {"run-cap", required_argument, 0, O_RUNCAP},
                                       {"threads", required_argument, 0, O_THREADS},
                                       {"device", required_argument, 0, O_DEVICE},
                                       {"window", required_argument, 0, O_WINDOW},
                                       {"verify", no_argument, 0, O_VERIFY},
                                       {"no-verify", no_argument, 0, O_NOVERIFY},
                                       {"hint", required_argument, 0, O_HINT},
                                       {"csv", required_argument, 0, O_CSV},
                                       {"quiet", no_argument, 0, O_QUIET},
                                       {"help", no_argument, 0, O_HELP},
                                       {0, 0, 0, 0}};
    o->sizes[0] = 1ull << 30;
    o->sizes[1] = 8ull << 30;
    o->nsizes = 2;
    o->dir = "/var/tmp";
    static const uint64_t defblocks[] = {64ull << 10, 1ull << 20, 16ull << 20, 64ull << 20};
    for (unsigned i = 0; i < 4; i++)
        o->blocks[i] = defblocks[i];
    o->nblocks = 4;
    o->iters = 2;
    o->modes[MODE_CACHED] = o->modes[MODE_DIRECT] = 1;
    long np = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = np > 0 ? (unsigned)(np > 1024 ? 1024 : np) : 1;
    o->verify = 1;
    o->window = DEFAULT_WINDOW;
    unsigned dev = 0;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (ch) {
        case O_SIZES:
            parse_size_list("--sizes", optarg, 1, 1ull << 40, o->sizes, &o->nsizes);
            o->sizes_given = 1;
            break;
        case O_DIR:
            if (!*optarg) usage_error("--dir: empty");
            o->dir = optarg;
            break;
        case O_BLOCKS:
            parse_size_list("--blocks", optarg, 1, 1ull << 30, o->blocks, &o->nblocks);
            break;
        case O_DBLOCKS:
            parse_size_list("--direct-blocks", optarg, 1, 1ull << 30, o->dblocks, &o->ndblocks);
            o->dblocks_given = 1;
            break;
        case O_MODES: {
            char *s = strdup(optarg), *save = NULL;
            if (!s) die("out of memory");
            o->modes[MODE_CACHED] = o->modes[MODE_DIRECT] = 0;
            for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (strcmp(t, "cached") == 0)
                    o->modes[MODE_CACHED] = 1;
                else if (strcmp(t, "direct") == 0)
                    o->modes[MODE_DIRECT] = 1;
                else
                    usage_error("--modes: '%s' is not cached or direct", t);
            }
            free(s);
            if (!o->modes[MODE_CACHED] && !o->modes[MODE_DIRECT])
                usage_error("--modes: empty list");
            break;
        }
        case O_ITERS:
            if (parse_uint(optarg, 1, MAX_ITERS, &o->iters))
                usage_error("--iters: '%s' is not an integer in 1..%u", optarg, MAX_ITERS);
            break;
        case O_DITERS:
            if (parse_uint(optarg, 1, MAX_ITERS, &o->diters))
                usage_error("--direct-iters: '%s' is not an integer in 1..%u", optarg, MAX_ITERS);
            o->diters_given = 1;
            break;
        case O_DMIN:
            if (parse_size(optarg, &o->dmin))
                usage_error("--direct-min-size: '%s' is not a size (e.g. 8G)", optarg);
            break;
        case O_RUNCAP: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(v >= 0) || v > 1e6)
                usage_error("--run-cap: '%s' is not a number of seconds >= 0", optarg);
            o->run_cap = v;
            break;
        }
        case O_THREADS:
            if (parse_uint(optarg, 1, 1024, &o->threads))
                usage_error("--threads: '%s' is not an integer in 1..1024", optarg);
            break;
        case O_DEVICE:
            if (parse_uint(optarg, 0, 1023, &dev))
                usage_error("--device: '%s' is not a device number", optarg);
            o->device = (int)dev;
            break;
        case O_WINDOW:
            if (parse_uint(optarg, 1, 1024, &o->window))
                usage_error("--window: '%s' is not an integer in 1..1024", optarg);
            break;
        case O_VERIFY: o->verify = 1; break;
        case O_NOVERIFY: o->verify = 0; break;
        case O_HINT: hint_arg(&o->hints, optarg, "the mode"); break;
        case O_CSV: o->csv = optarg; break;
        case O_QUIET: bench_quiet = 1; break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default: bad_option(ch, argv);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->nfiles >= MAX_FILES) usage_error("too many files (max %d)", MAX_FILES);
        o->files[o->nfiles++] = argv[i];
    }
    if (o->modes[MODE_DIRECT]) { /* O_DIRECT needs aligned lengths */
        const uint64_t *bl = o->blocks;
        unsigned n = o->nblocks;
        for (int pass_ = 0; pass_ < 2; pass_++) {
            for (unsigned i = 0; i < n; i++)
                if (bl[i] % ALIGN)
                    usage_error("%s: %" PRIu64 " is not a multiple of %u, which O_DIRECT "
                                "(direct mode) needs",
                                pass_ ? "--direct-blocks" : "--blocks", bl[i], ALIGN);
            bl = o->dblocks;
            n = o->ndblocks;
        }
    }
    hints_check(&o->hints, NULL); /* a typo in a hint is a usage error */
}

/* ------------------------------------------------------------ main */

static void print_header(struct ctx *c, const struct cudaDeviceProp *p, int ndev)
{
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    printf("machine: host %s, nproc %ld, memory %.1f GiB, cpu %s, kernel %s, date %s\n",
           c->mach.host, sysconf(_SC_NPROCESSORS_ONLN), mem_gib(), c->cpu, c->mach.kernel,
           c->mach.date);
    printf("gpu: device %d of %d: %s, %.1f GiB, cc %d.%d, PCI %04x:%02x:%02x, CUDA driver %d.%d, "
           "runtime %d.%d\n",
           c->o.device, ndev, p->name, (double)p->totalGlobalMem / (double)(1ull << 30), p->major,
           p->minor, (unsigned)p->pciDomainID, (unsigned)p->pciBusID, (unsigned)p->pciDeviceID,
           drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10);
    printf("homi: version %s", homi_version());
    for (int m = 0; m < MODE_COUNT; m++)
        if (c->eng[m])
            printf(", %s engine (homi_direct=%s) homi_cufile_status=%s", mode_name[m],
                   m == MODE_DIRECT ? "on" : "off", homi_cufile_status(c->eng[m]));
    for (unsigned i = 0; i < c->o.hints.n; i++)
        printf("%s%s=%s", i ? " " : "; hints ", c->o.hints.key[i], c->o.hints.val[i]);
    printf("\n");
    if (c->cf.ok)
        printf("cufile baseline: %s, %s mode (/proc/driver/nvidia-fs/version %s), log %s\n",
               *c->cf.lib ? c->cf.lib : "libcufile", c->cf.gds ? "GDS" : "compat",
               c->cf.gds ? "present" : "absent",
               getenv("CUFILE_LOGFILE_PATH") ? getenv("CUFILE_LOGFILE_PATH") : "cufile.log");
    else
        printf("cufile baseline: n/a: %s\n", c->cf.why);
    for (unsigned i = 0; i < c->nfiles; i++) {
        char sz[32];
        fmt_bytes(c->files[i].size, sz, sizeof sz);
        printf("file: %s, %s (%" PRIu64 " bytes), fs %s (%s)\n", c->files[i].path, sz,
               c->files[i].size, c->files[i].fstype, c->files[i].fsdev);
    }
    printf("run: modes");
    for (int m = 0; m < MODE_COUNT; m++)
        if (c->o.modes[m]) printf(" %s", mode_name[m]);
    printf(", iters %u, threads %u, homi-async window %u, verify %s\n", c->o.iters, c->o.threads,
           c->o.window, c->o.verify ? "on" : "off");
    if (c->o.dblocks_given || c->o.diters_given) {
        char dm[32];
        fmt_short(c->o.dmin, dm, sizeof dm);
        printf("run: direct mode on files >= %s:", dm);
        if (c->o.dblocks_given) {
            printf(" requests");
            for (unsigned i = 0; i < c->o.ndblocks; i++) {
                char b[32];
                fmt_short(c->o.dblocks[i], b, sizeof b);
                printf("%s%s", i ? "," : " ", b);
            }
        }
        if (c->o.diters_given) printf(" iters %u", c->o.diters);
        printf("\n");
    }
    if (c->o.run_cap > 0) printf("run: naive and cufile runs stop after %g s\n", c->o.run_cap);
    fflush(stdout);
}

int homi_bench_gpu_main(int argc, char **argv)
{
    static struct ctx c; /* zero-initialised */
    bench_prog = "homi-bench --gpu";
    /* drop every "--gpu" before "--" (it selected this mode) */
    char **av = calloc((size_t)argc + 1, sizeof *av);
    if (!av) die("out of memory");
    int ac = 0, dashdash = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !dashdash && strcmp(argv[i], "--gpu") == 0) continue;
        if (strcmp(argv[i], "--") == 0) dashdash = 1;
        av[ac++] = argv[i];
    }
    av[ac] = NULL;
    parse_args(&c, ac, av);

    /* a GPU first: creating 9 GiB of files on a machine without one is no use */
    int ndev = 0;
    cudaError_t ce = cudaGetDeviceCount(&ndev);
    if (ce != cudaSuccess || ndev == 0) {
        fflush(stdout);
        fprintf(stderr, "%s: no CUDA device: %s\n", bench_prog,
                ce != cudaSuccess ? cudaGetErrorString(ce) : "cudaGetDeviceCount found 0 devices");
        return 77;
    }
    if (c.o.device >= ndev)
        usage_error("--device %d: this machine has %d CUDA device%s", c.o.device, ndev,
                    ndev == 1 ? "" : "s");
    cuda_check(cudaSetDevice(c.o.device), "cudaSetDevice");
    struct cudaDeviceProp prop;
    cuda_check(cudaGetDeviceProperties(&prop, c.o.device), "cudaGetDeviceProperties");
    snprintf(c.gpu, sizeof c.gpu, "%s", prop.name);
    c.csv = csv_open(c.o.csv);
    /* cuFile writes cufile.log into the working directory unless told */
    setenv("CUFILE_LOGFILE_PATH", "/tmp/homi-bench-cufile.log", 0);
    gpu_machine_info(&c);

    /* host buffers and the thread pool (also used to create the files) */
    c.pool = pool_new(c.o.threads, c.o.device);
    c.hostbuf = calloc(c.o.threads, sizeof *c.hostbuf);
    if (!c.hostbuf) die("out of memory");
    for (unsigned i = 0; i < c.o.threads; i++)
        c.hostbuf[i] = xalloc_zeroed(VERIFY_PIECE);
    prepare_files(&c);
    for (unsigned i = 0; i < c.o.nblocks; i++)
        if (c.o.blocks[i] > c.max_block) c.max_block = c.o.blocks[i];
    for (unsigned i = 0; i < c.o.ndblocks; i++)
        if (c.o.dblocks[i] > c.max_block) c.max_block = c.o.dblocks[i];
    uint64_t maxf = 0;
    for (unsigned i = 0; i < c.nfiles; i++)
        if (c.files[i].size > maxf) maxf = c.files[i].size;

    /* device buffer: the largest file (each request lands at its offset) */
    c.dsize = (maxf + ALIGN - 1) / ALIGN * ALIGN;
    if (c.dsize < H2D_SIZE) c.dsize = H2D_SIZE;
    void *dp = NULL;
    ce = cudaMalloc(&dp, (size_t)c.dsize);
    if (ce != cudaSuccess)
        die("cudaMalloc of %" PRIu64 " bytes (the largest file) on %s: %s", c.dsize, c.gpu,
            cudaGetErrorString(ce));
    c.dbuf = dp;
    cuda_check(cudaMemset(c.dbuf, 0, (size_t)c.dsize), "cudaMemset");
    /* pinned regions for the ceilings and verification: per thread at least
     * one request and 16 MiB, up to 64 MiB while the total stays <= 4 GiB */
    uint64_t region = (4ull << 30) / c.o.threads;
    if (region > (64ull << 20)) region = 64ull << 20;
    if (region < VERIFY_PIECE) region = VERIFY_PIECE;
    if (region < c.max_block) region = c.max_block;
    region = (region + (2u << 20) - 1) / (2u << 20) * (2u << 20);
    c.region = (size_t)region;
    void *pp = NULL;
    ce = cudaHostAlloc(&pp, c.region * c.o.threads, cudaHostAllocPortable);
    if (ce != cudaSuccess)
        die("cudaHostAlloc of %u x %zu bytes: %s", c.o.threads, c.region, cudaGetErrorString(ce));
    c.pinned = pp;
    memset(c.pinned, 0, c.region * c.o.threads);
    c.naive_buf = xalloc_zeroed((size_t)c.max_block);

    /* engines live for the whole run: cuFile's driver is opened by them
     * (homi_cufile) before the baseline opens it, and closed after */
    for (int m = 0; m < MODE_COUNT; m++) {
        if (!c.o.modes[m]) continue;
        homi_config *cfg = bench_config(&c.o.hints, "--hint", m == MODE_DIRECT, "--modes");
        int rc = homi_engine_create(cfg, &c.eng[m]);
        homi_config_free(cfg);
        if (rc) die("homi_engine_create (%s mode): %s", mode_name[m], homi_strerror(rc));
    }
    cufile_init(&c.cf);
    if (!c.cf.ok) progress_line("cufile baseline unavailable: %s (rows marked n/a)", c.cf.why);
    if (!bench_quiet) print_header(&c, &prop, ndev);

    struct group groups[MAX_FILES * MODE_COUNT];
    unsigned ng = 0;
    for (int m = 0; m < MODE_COUNT; m++) /* all cached runs first, then all direct runs */
        for (unsigned f = 0; f < c.nfiles; f++)
            if (c.o.modes[m]) {
                group_for(&c, (int)f, m, &groups[ng]);
                c.run_total += groups[ng].nblocks * groups[ng].iters * MT_COUNT;
                ng++;
            }
    progress_line("warming up (untimed first use of HOMI, cudaMemcpy and cuFile)");
    warm_up(&c);
    h2d_ceiling(&c);
    for (unsigned i = 0; i < ng; i++)
        run_group(&c, &groups[i]);

    print_table(&c);
    print_goals(&c);
    print_homi_summary(&c);
    if (c.csv) write_csv(&c);

    for (int m = 0; m < MODE_COUNT; m++)
        if (c.eng[m]) homi_engine_destroy(c.eng[m]);
    if (c.cf.ok) c.cf.driver_close();
    pool_free(c.pool);
    for (unsigned i = 0; i < c.o.threads; i++)
        free(c.hostbuf[i]);
    free(c.hostbuf);
    free(c.naive_buf);
    cudaFreeHost(c.pinned);
    cudaFree(c.dbuf);
    for (unsigned i = 0; i < c.nfiles; i++)
        close(c.files[i].fd);
    free(c.rows);
    free(av);
    return 0;
}
