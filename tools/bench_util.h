/* bench_util.h - what homi-bench's two front-ends share: homi-bench.c (host
 * benchmark) and bench_gpu.c (`homi-bench --gpu`).  It owns the message
 * printers and their exit codes, option-value parsing (sizes through
 * homi_parse_size), HOMI hints, engine configuration and request
 * submission, byte formatting, the machine and file-system description,
 * page-cache residency and dropping, writing random data files, and the
 * CSV file convention. */
#ifndef HOMI_BENCH_UTIL_H
#define HOMI_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "homi.h"

#define ALIGN 4096u  /* O_DIRECT alignment of buffers, offsets and lengths */
#define MAX_HINTS 32 /* --hint and friends, per run */

/* ------------------------------------------------------------ messages */

/* Message prefix: argv[0]'s name, or "homi-bench --gpu" in the GPU mode;
 * usage errors point at "<bench_prog> --help". */
extern const char *bench_prog;
/* --quiet: note() and progress_line() print nothing. */
extern int bench_quiet;

/* "<prog>: MSG" on stderr (stdout flushed first); exit 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* die("WHAT: <homi_strerror(rc)> (rc)") */
void die_homi(const char *what, int64_t rc) __attribute__((noreturn));
/* die_homi("WHAT at offset OFF", rc) */
void die_homi_at(const char *what, uint64_t off, int64_t rc) __attribute__((noreturn));
/* "<prog>: MSG" and "Try '<prog> --help'." on stderr; exit 2. */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* The usage error for what getopt_long returned as ':' (a value is
 * missing) or '?' (unknown option); needs opterr = 0 and ":" leading the
 * short options. */
void bad_option(int ch, char **argv) __attribute__((noreturn));
/* "<prog>: warning: MSG" on stderr (stdout flushed first). */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line on stdout, flushed, unless --quiet. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line on stderr unless --quiet (stdout flushed first): one per event,
 * so that a long run shows it is alive. */
void progress_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------ values */

/* Sizes: homi_parse_size's syntax (decimal, optional K/M/G/T, then an
 * optional "i" and "B"), but the number is read by strtoull as the tools
 * always read it: white space then a sign is taken ("  +4K" is 4096,
 * "  -1" wraps around), a sign as the first character is not.  0 or -1. */
int parse_size(const char *s, uint64_t *out);
/* Decimal integer in [lo, hi], no sign.  0 or -1. */
int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);
/* 1536 -> "1.50 KiB", 1048576 -> "1 MiB", 100 -> "100 B" */
void fmt_bytes(uint64_t b, char *out, size_t n);
/* CLOCK_MONOTONIC in seconds */
double now_s(void);
/* posix_memalign of n bytes (ALIGN), or die; with thp, n of at least 2 MiB
 * is rounded up to 2 MiB pages and madvise(MADV_HUGEPAGE)d. */
void *xalloc_aligned(size_t n, int thp);

/* ------------------------------------------------------------ HOMI */

struct hints {
    const char *key[MAX_HINTS];
    const char *val[MAX_HINTS];
    unsigned n;
};

/* Usage error beyond MAX_HINTS. */
void hint_add(struct hints *h, const char *key, const char *val);
/* --hint KEY=VALUE (arg is split in place); homi_direct is refused with
 * "homi_direct is set by DIRECT_BY (cached: off, direct: on)". */
void hint_arg(struct hints *h, char *arg, const char *direct_by);
/* homi_config_set, or a usage error naming opt (and the key's help). */
void set_hint_or_exit(homi_config *cfg, const char *key, const char *val, const char *opt);
/* Every hint through set_hint_or_exit on a scratch configuration, so a
 * typo is a usage error, not an I/O error; opt_of(key) names the option a
 * bad value is reported under (NULL: "--hint" for all). */
void hints_check(const struct hints *h, const char *(*opt_of)(const char *key));
/* HOMI_* environment (exit 2 when bad), then the hints (reported under
 * hint_opt), then homi_direct on or off (reported under mode_opt). */
homi_config *bench_config(const struct hints *h, const char *hint_opt, int direct,
                          const char *mode_opt);
homi_file *homi_open_or_die(homi_engine *eng, const char *path);
/* A read of len bytes at off into buf; memory kind and path are left to
 * HOMI (the same choice as homi_pread). */
void io_prep(homi_io *io, homi_file *f, void *buf, size_t len, uint64_t off, uint64_t user_data);
/* homi_submit of k requests: 1 when all are queued, 0 when the engine is
 * full (HOMI_EBUSY with requests in flight: submit them again after a
 * completion); dies otherwise. */
int submit_or_die(homi_engine *eng, homi_io *io, unsigned k, unsigned inflight);
/* homi_wait for 1 to max completions within 60 s, or die. */
int wait_or_die(homi_engine *eng, homi_completion *cq, unsigned max, unsigned inflight);
/* d += a */
void stats_add(homi_stats *d, const homi_stats *a);

/* ------------------------------------------------------------ machine */

struct machine {
    char host[256], date[64], kernel[256];
};

/* Host name, local date (ISO 8601) and "sysname release machine". */
void machine_info(struct machine *m);
/* Physical memory in GiB. */
double mem_gib(void);

struct mount_info {
    char type[64], src[512], dir[1024];
    unsigned major, minor;
};

/* The mount that holds path, from /proc/self/mountinfo by st_dev (the last
 * matching line is the visible mount).  0, or -1 when not found. */
int find_mount(const char *path, struct mount_info *m);

/* ------------------------------------------------------------ page cache */

/* Fraction [0,1] of the file's pages resident in the page cache, or -1. */
double resident_fraction(int fd, uint64_t size);
/* Write back, then POSIX_FADV_DONTNEED (die on error); returns the
 * residency afterwards. */
double drop_cache(int fd, const char *path, uint64_t size);
/* Cached mode: warn when less than 99% of path is resident (r from
 * resident_fraction; -1 says nothing). */
void warn_if_uncached(double r, const char *path);

/* ------------------------------------------------------------ data files */

/* 1 when path exists as a regular file, 0 when it does not exist; dies on
 * any other stat error and on a file that is not regular. */
int existing_file(const char *path, struct stat *st);
/* open(O_RDONLY) a regular, non-empty file (die otherwise); *size is its
 * size. */
int open_input(const char *path, uint64_t *size);

/* A random data file is written under PATH.tmp.PID, synced, then renamed,
 * so an interrupted run never leaves a short file under the real name:
 * create_begin (free space check, open; the name into tmp, PATH_MAX + 32
 * bytes), the caller's writes, create_sync, create_commit (close, rename,
 * and the "created" note timed from t0).  Errors unlink tmp and die. */
int create_begin(const char *path, uint64_t size, char *tmp, size_t tn);
void create_sync(int fd, const char *tmp);
void create_commit(int fd, const char *tmp, const char *path, uint64_t size, double t0);

/* xoshiro256** seeded by splitmix64 */
struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
/* n bytes of random data: (n + 7) / 8 whole words, so buf must have room
 * for n rounded up to 8. */
void rng_fill(struct rng *r, void *buf, size_t n);

/* ------------------------------------------------------------ CSV */

/* --csv: fopen(path, "a") or die; NULL when path is NULL. */
FILE *csv_open(const char *path);
/* 1 when nothing has been written to f yet (the header is due). */
int csv_is_new(FILE *f);
/* fclose, or die("write PATH: ..."). */
void csv_close(FILE *f, const char *path);

#endif
