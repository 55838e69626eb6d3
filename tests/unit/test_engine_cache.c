/* test_engine_cache.c - the process's shared engines (homi_engine_acquire,
 * homi_engine_release, homi_engine_cache_flush; src/core/engine_cache.c)
 * on a real file: equal configurations share one engine, different ones do
 * not; an engine released by its last holder stays cached and still reads
 * correctly (byte for byte against pread) when acquired again; at most
 * HOMI_ENGINE_CACHE_IDLE idle engines are kept, the least recently
 * released destroyed first (HOMI_ENGINE_CACHE_IDLE overrides the number);
 * flush destroys only idle engines; threads
 * acquiring and releasing at once share one engine; bad input and a
 * release of an engine never acquired are refused without harm. */
#include <pthread.h>
#include <time.h>

#include "homi_test.h"

#define FSIZE (3u << 20)

static char g_path[4200];
static unsigned char *g_ref;

/* splitmix64 of the caller's own state: threads read_check at once */
static uint64_t below(uint64_t *s, uint64_t n)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) % n;
}

/* Open, read random ranges (unaligned, crossing the 64K chunk size, at
 * EOF), compare, close. */
static void read_check(homi_engine *e, const char *what)
{
    static pthread_mutex_t seed_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&seed_lock);
    uint64_t rs = t_rand();
    pthread_mutex_unlock(&seed_lock);
    homi_file *f = NULL;
    CHECK_RC(homi_open(e, g_path, HOMI_RDONLY, &f), HOMI_OK);
    if (!f) return;
    static __thread unsigned char buf[256 << 10];
    for (int i = 0; i < 16; i++) {
        uint64_t off = below(&rs, FSIZE + 4096), len = 1 + below(&rs, sizeof buf);
        int64_t want = off >= FSIZE ? 0 : (int64_t)(off + len > FSIZE ? FSIZE - off : len);
        int64_t got = homi_pread(f, buf, len, (int64_t)off);
        CHECK(got == want, "%s: read %llu @ %llu returned %lld, expected %lld", what,
              (unsigned long long)len, (unsigned long long)off, (long long)got, (long long)want);
        if (got > 0) {
            long long d = t_first_diff(buf, g_ref + off, (size_t)got);
            CHECK(d < 0, "%s: read %llu @ %llu differs at byte %lld", what, (unsigned long long)len,
                  (unsigned long long)off, d);
        }
    }
    CHECK_RC(homi_close(f), HOMI_OK);
}

static homi_config *qd_config(unsigned qd)
{
    char v[16];
    snprintf(v, sizeof v, "%u", qd);
    return t_config("homi_threads", "2", "homi_chunk_size", "64K", "homi_queue_depth", v, NULL);
}

static void sharing(void)
{
    homi_config *a1 = qd_config(8), *a2 = qd_config(8), *b = qd_config(9);
    homi_engine *e1 = NULL, *e2 = NULL, *eb = NULL;
    CHECK_RC(homi_engine_acquire(a1, &e1), HOMI_OK);
    CHECK_RC(homi_engine_acquire(a2, &e2), HOMI_OK);
    CHECK_RC(homi_engine_acquire(b, &eb), HOMI_OK);
    CHECK(e1 && e1 == e2, "equal configurations got different engines (%p, %p)", (void *)e1,
          (void *)e2);
    CHECK(eb && eb != e1, "different configurations share an engine");
    read_check(e1, "shared engine");
    read_check(eb, "second engine");
    /* the engine copied the configuration: changing ours changes nothing */
    CHECK_RC(homi_config_set(a1, "homi_queue_depth", "9"), HOMI_OK);
    homi_engine *e3 = NULL;
    CHECK_RC(homi_engine_acquire(a1, &e3), HOMI_OK);
    CHECK(e3 == eb, "a configuration equal to b's did not get b's engine");
    homi_engine_release(e3);

    homi_engine_release(e1);
    CHECK_RC(homi_engine_cache_flush(), 0); /* e1 is still held once, eb too */
    homi_engine_release(e2);
    homi_engine_release(eb);
    /* idle now, but kept: the same engine comes back and still reads */
    homi_engine *again = NULL;
    CHECK_RC(homi_engine_acquire(a2, &again), HOMI_OK);
    CHECK(again == e2, "an idle engine was not reused");
    read_check(again, "reused idle engine");
    homi_engine_release(again);
    CHECK_RC(homi_engine_cache_flush(), 2);
    CHECK_RC(homi_engine_cache_flush(), 0);
    homi_config_free(a1);
    homi_config_free(a2);
    homi_config_free(b);
}

static void eviction(void)
{
    enum { N = HOMI_ENGINE_CACHE_IDLE + 2 };
    homi_config *c[N];
    homi_engine *e[N];
    for (int i = 0; i < N; i++) {
        c[i] = qd_config(16 + (unsigned)i);
        CHECK_RC(homi_engine_acquire(c[i], &e[i]), HOMI_OK);
    }
    for (int i = 0; i < N; i++)
        homi_engine_release(e[i]); /* the first two released go when the 5th and 6th idle */
    for (int i = 2; i < N; i++) {
        homi_engine *x = NULL;
        CHECK_RC(homi_engine_acquire(c[i], &x), HOMI_OK);
        CHECK(x == e[i], "idle engine %d of %d was not kept", i, N);
        read_check(x, "kept idle engine");
        homi_engine_release(x);
    }
    CHECK_RC(homi_engine_cache_flush(), HOMI_ENGINE_CACHE_IDLE);
    for (int i = 0; i < N; i++)
        homi_config_free(c[i]);
}

static void *thread_main(void *arg)
{
    const homi_config *cfg = arg;
    homi_engine *first = NULL;
    for (int i = 0; i < 40; i++) {
        homi_engine *e = NULL;
        int rc = homi_engine_acquire(cfg, &e);
        CHECK(rc == HOMI_OK, "thread acquire: %s", homi_strerror(rc));
        if (rc) break;
        if (!first) first = e;
        /* one engine for all while any thread holds it; it may be
         * destroyed and created anew only if all released it at once,
         * which the held reference in main prevents */
        CHECK(e == first, "threads got different engines");
        if (i % 8 == 0) read_check(e, "threaded acquire");
        homi_engine_release(e);
    }
    return first;
}

static void threads(void)
{
    homi_config *cfg = qd_config(64);
    homi_engine *held = NULL;
    CHECK_RC(homi_engine_acquire(cfg, &held), HOMI_OK);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        REQUIRE(pthread_create(&th[i], NULL, thread_main, cfg) == 0, "pthread_create");
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        pthread_join(th[i], &r);
        CHECK(r == held, "thread %d used engine %p, main holds %p", i, r, (void *)held);
    }
    homi_engine_release(held);
    CHECK_RC(homi_engine_cache_flush(), 1);
    homi_config_free(cfg);
}

/* HOMI_ENGINE_CACHE_IDLE: 0 destroys at the last release; 1 keeps one;
 * a bad value falls back to the default. */
static void env_limit(void)
{
    homi_config *a = qd_config(100), *b = qd_config(101);
    homi_engine *ea = NULL, *eb = NULL;
    setenv("HOMI_ENGINE_CACHE_IDLE", "0", 1);
    CHECK_RC(homi_engine_acquire(a, &ea), HOMI_OK);
    homi_engine_release(ea);
    CHECK_RC(homi_engine_cache_flush(), 0); /* already destroyed */
    setenv("HOMI_ENGINE_CACHE_IDLE", "1", 1);
    CHECK_RC(homi_engine_acquire(a, &ea), HOMI_OK);
    CHECK_RC(homi_engine_acquire(b, &eb), HOMI_OK);
    homi_engine_release(ea);
    homi_engine_release(eb); /* a, released first, goes */
    homi_engine *x = NULL;
    CHECK_RC(homi_engine_acquire(b, &x), HOMI_OK);
    CHECK(x == eb, "the most recently released engine was not kept");
    homi_engine_release(x);
    CHECK_RC(homi_engine_cache_flush(), 1);
    setenv("HOMI_ENGINE_CACHE_IDLE", "many", 1); /* logged; the default applies */
    CHECK_RC(homi_engine_acquire(a, &ea), HOMI_OK);
    CHECK_RC(homi_engine_acquire(b, &eb), HOMI_OK);
    homi_engine_release(ea);
    homi_engine_release(eb);
    CHECK_RC(homi_engine_cache_flush(), 2);
    unsetenv("HOMI_ENGINE_CACHE_IDLE");
    homi_config_free(a);
    homi_config_free(b);
}

static void bad_input(void)
{
    homi_config *cfg = qd_config(8);
    CHECK_RC(homi_engine_acquire(cfg, NULL), HOMI_EINVAL);
    homi_engine_release(NULL); /* no-op */
    /* NULL configuration: defaults plus environment, like
     * homi_engine_create(NULL); a bad variable is reported */
    setenv("HOMI_THREADS", "lots", 1);
    homi_engine *e = (homi_engine *)&e;
    CHECK_RC(homi_engine_acquire(NULL, &e), HOMI_EHINTVAL);
    CHECK(e == NULL, "failed acquire left *out set");
    unsetenv("HOMI_THREADS");
    homi_engine *n1 = NULL, *n2 = NULL;
    homi_config *d = homi_config_new();
    REQUIRE(d && homi_config_load_env(d) == HOMI_OK, "default configuration");
    CHECK_RC(homi_engine_acquire(NULL, &n1), HOMI_OK);
    CHECK_RC(homi_engine_acquire(d, &n2), HOMI_OK);
    CHECK(n1 && n1 == n2, "NULL and the default configuration got different engines");
    homi_engine_release(n1);
    homi_engine_release(n2);
    homi_engine_release(n2); /* once too often: logged, ignored */
    CHECK_RC(homi_engine_cache_flush(), 1);
    /* an engine from homi_engine_create is not the cache's: logged, ignored */
    homi_engine *own = NULL;
    CHECK_RC(homi_engine_create(cfg, &own), HOMI_OK);
    homi_engine_release(own);
    read_check(own, "engine not from the cache");
    homi_engine_destroy(own);
    homi_config_free(d);
    homi_config_free(cfg);
}

int main(void)
{
    t_seed_from_env((uint64_t)time(NULL));
    const char *dir = t_make_tmpdir("engine-cache");
    t_path(g_path, sizeof g_path, dir, "data");
    g_ref = malloc(FSIZE);
    REQUIRE(g_ref, "malloc");
    t_fill_random(g_ref, FSIZE);
    int fd = open(g_path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    REQUIRE(fd >= 0, "create %s", g_path);
    t_pwrite_all(fd, g_ref, FSIZE, 0);
    close(fd);

    CHECK_RC(homi_engine_cache_flush(), 0); /* nothing cached yet */
    sharing();
    eviction();
    threads();
    env_limit();
    bad_input();
    free(g_ref);
    return t_finish("test_engine_cache");
}
