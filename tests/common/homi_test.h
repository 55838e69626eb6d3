/* homi_test.h - tiny helpers shared by the HOMI test programs: failure
 * accounting, a seeded PRNG, temporary directories and reference reads.
 *
 * Everything here is static (inline) so that each test is one translation
 * unit and -Wmissing-prototypes stays quiet. */
#ifndef HOMI_TEST_H
#define HOMI_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "homi.h"

/* ------------------------------------------------------------ failures */

static int t_failures;
static const char *t_context = ""; /* printed with every failure */

#define T_FAIL(...)                                                                                \
    do {                                                                                           \
        t_failures++;                                                                              \
        fprintf(stderr, "FAIL %s:%d [%s]: ", __FILE__, __LINE__, t_context);                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
    } while (0)

/* CHECK: record a failure and go on.  REQUIRE: record it and stop. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            T_FAIL("check `%s` failed: ", #cond);                                                  \
            fprintf(stderr, "    ");                                                               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            T_FAIL("required `%s` failed: ", #cond);                                               \
            fprintf(stderr, "    ");                                                               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Check a homi call returning an int status: expected exact value. */
#define CHECK_RC(expr, want)                                                                       \
    do {                                                                                           \
        long long rc_ = (long long)(expr);                                                         \
        long long want_ = (long long)(want);                                                       \
        if (rc_ != want_)                                                                          \
            T_FAIL("`%s` returned %lld (%s), expected %lld (%s)", #expr, rc_,                      \
                   homi_strerror((int)rc_), want_, homi_strerror((int)want_));                     \
    } while (0)

/* Stop after too many failures: the rest would only be noise. */
static inline void t_bail_if_many(void)
{
    if (t_failures >= 25) {
        fprintf(stderr, "too many failures (%d), stopping\n", t_failures);
        exit(1);
    }
}

static inline int t_finish(const char *name)
{
    if (t_failures) {
        fprintf(stderr, "%s: %d failure(s)\n", name, t_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

/* ------------------------------------------------------------ PRNG */

/* xoshiro-free, dependency-free splitmix64: deterministic for a seed. */
static uint64_t t_rng_state;

static inline uint64_t t_seed_from_env(uint64_t dflt)
{
    const char *s = getenv("HOMI_TEST_SEED");
    uint64_t seed = s && *s ? strtoull(s, NULL, 0) : dflt;
    t_rng_state = seed;
    printf("seed %" PRIu64 " (set HOMI_TEST_SEED to change)\n", seed);
    return seed;
}

static inline uint64_t t_rand(void)
{
    uint64_t z = (t_rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0). */
static inline uint64_t t_below(uint64_t n)
{
    return n ? t_rand() % n : 0;
}

static inline void t_fill_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len >= 8) {
        uint64_t v = t_rand();
        memcpy(p, &v, 8);
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t v = t_rand();
        memcpy(p, &v, len);
    }
}

/* ------------------------------------------------------------ files */

static char t_tmpdir[4096];

static inline int t_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static inline void t_cleanup_tmpdir(void)
{
    if (t_tmpdir[0]) nftw(t_tmpdir, t_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    t_tmpdir[0] = 0;
}

/* Create a private directory under $TMPDIR (or /tmp), removed at exit
 * unless HOMI_TEST_KEEP is set. */
static inline const char *t_make_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(t_tmpdir, sizeof t_tmpdir, "%s/homi-%s-XXXXXX", base, tag);
    if (!mkdtemp(t_tmpdir)) {
        fprintf(stderr, "mkdtemp(%s): %s\n", t_tmpdir, strerror(errno));
        exit(1);
    }
    if (!getenv("HOMI_TEST_KEEP")) atexit(t_cleanup_tmpdir);
    return t_tmpdir;
}

static inline void t_path(char *out, size_t outlen, const char *dir, const char *name)
{
    snprintf(out, outlen, "%s/%s", dir, name);
}

/* Full pwrite or die. */
static inline void t_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;
    while (len) {
        ssize_t w = pwrite(fd, p, len, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "pwrite(%zu @ %lld): %s\n", len, (long long)off, strerror(errno));
            exit(1);
        }
        p += w;
        len -= (size_t)w;
        off += w;
    }
}

/* Reference read through pread(2), looping over short reads until EOF. */
static inline ssize_t t_pread_ref(int fd, void *buf, size_t len, off_t off)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, p + got, len - got, off + (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* homi_pread of len bytes at off equals pread(2) of fd, count and bytes; a
 * and b (len bytes each) are poisoned differently first, so bytes a read
 * left untouched cannot match.  0, or -1 after reporting the first
 * difference. */
static inline int t_verify_range(homi_file *hf, int fd, uint64_t off, size_t len, void *a, void *b)
{
    unsigned char *x = a, *y = b;
    memset(x, 0xa5, len);
    memset(y, 0x5a, len);
    int64_t got = homi_pread(hf, x, len, (int64_t)off);
    ssize_t want = t_pread_ref(fd, y, len, (off_t)off);
    if (got != want) {
        T_FAIL("read %zu at %llu: homi %lld, pread %zd", len, (unsigned long long)off,
               (long long)got, want);
        return -1;
    }
    if (got > 0 && memcmp(x, y, (size_t)got)) {
        size_t i = 0;
        while (x[i] == y[i])
            i++;
        T_FAIL("read %zu at %llu: first difference at +%zu (homi %02x pread %02x)", len,
               (unsigned long long)off, i, x[i], y[i]);
        return -1;
    }
    return 0;
}

/* Index of the first differing byte or -1. */
static inline long long t_first_diff(const void *a, const void *b, size_t len)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < len; i++)
        if (x[i] != y[i]) return (long long)i;
    return -1;
}

static inline int t_all_zero(const void *a, size_t len)
{
    const unsigned char *x = a;
    for (size_t i = 0; i < len; i++)
        if (x[i]) return 0;
    return 1;
}

/* Build a configuration from key/value pairs (NULL-terminated). */
static inline homi_config *t_config(const char *k, ...)
{
    homi_config *cfg = homi_config_new();
    if (!cfg) {
        fprintf(stderr, "homi_config_new failed\n");
        exit(1);
    }
    va_list ap;
    va_start(ap, k);
    while (k) {
        const char *v = va_arg(ap, const char *);
        int rc = homi_config_set(cfg, k, v);
        if (rc) {
            fprintf(stderr, "homi_config_set(%s, %s): %s\n", k, v, homi_strerror(rc));
            exit(1);
        }
        k = va_arg(ap, const char *);
    }
    va_end(ap);
    return cfg;
}

#endif
