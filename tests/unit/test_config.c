/* test_config.c - configuration keys, values, environment, error texts.
 *
 * Contract (homi.h): homi_config_set returns HOMI_EHINT for an unknown key
 * and HOMI_EHINTVAL for a bad value, leaving the configuration unchanged;
 * homi_config_get prints the current value; homi_config_key enumerates the
 * keys; homi_config_load_env applies HOMI_<KEY> variables; homi_strerror
 * never returns NULL. */
#include <limits.h>
#include <strings.h>

#include "homi_test.h"

struct pair {
    const char *in, *out; /* value to set, text homi_config_get must give */
};

struct keyspec {
    const char *key;
    int required; /* named by the brief/DESIGN: must exist */
    struct pair good[8];
    const char *bad[12];
};

/* Values per key.  Output of sizes is in bytes, booleans as on/off. */
static const struct keyspec specs[] = {
    {"homi_path",
     1,
     {{"auto", "auto"},
      {"kernel", "kernel"},
      {"passthru", "passthru"},
      {"device", "device"},
      {"cufile", "cufile"},
      {"delegated", "delegated"}},
     {"nowhere", "", "kernel2", " ", "-1", "hole"}},
    {"homi_threads",
     1,
     {{"3", "3"}, {"0", "0"}, {"16", "16"}},
     {"abc", "-1", "", "3x", "1.5", "99999999999999999999999"}},
    {"homi_queue_depth", 0, {{"1", "1"}, {"64", "64"}}, {"0", "abc", "-4", ""}},
    {"homi_chunk_size",
     1,
     {{"64K", "65536"},
      {"1M", "1048576"},
      {"1G", "1073741824"},
      {"4096", "4096"},
      {"256K", "262144"}},
     {"0", "abc", "-64K", "64Q", "", "1000", "5000", "99999999999999999999G", "1M1"}},
    {"homi_direct",
     1,
     {{"on", "on"}, {"off", "off"}, {"1", "on"}, {"0", "off"}, {"true", "on"}, {"false", "off"}},
     {"maybe", "2", "", "onn", "-1"}},
    {"homi_bounce_buffers", 0, {{"8", "8"}, {"1", "1"}}, {"0", "x", "-2"}},
    {"homi_hole_skip", 0, {{"off", "off"}, {"on", "on"}}, {"perhaps", ""}},
    {"homi_min_hole",
     0,
     {{"0", "0"}, {"1M", "1048576"}, {"64K", "65536"}, {"1G", "1073741824"}},
     {"-1", "abc", "12Q", ""}},
    {"homi_max_files", 0, {{"16", "16"}, {"1", "1"}}, {"0", "abc", ""}},
    {"homi_log_level",
     0,
     {{"error", "error"}, {"warn", "warn"}, {"info", "info"}, {"debug", "debug"}},
     {"loud", "", "7x"}},
    {"homi_fixed_files", 0, {{"off", "off"}, {"on", "on"}}, {"sometimes", ""}},
    {"homi_delegate",
     0,
     {{"0000:00:05.0", "0000:00:05.0"}, {"0000:3b:00.1", "0000:3b:00.1"}, {"none", "none"}},
     {"00:05.0", "0000:00:05", "0000:00:05.0x", "000g:00:05.0", "0000-00-05.0"}},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static const struct keyspec *spec_for(const char *key)
{
    for (size_t i = 0; i < NSPECS; i++)
        if (strcmp(specs[i].key, key) == 0) return &specs[i];
    return NULL;
}

static void get_or_fail(const homi_config *cfg, const char *key, char *buf, size_t len)
{
    int rc = homi_config_get(cfg, key, buf, len);
    if (rc) {
        T_FAIL("homi_config_get(%s) = %d (%s)", key, rc, homi_strerror(rc));
        snprintf(buf, len, "<error>");
    }
}

/* Values compare equal as text (case-insensitive) or as sizes. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'K':
    case 'k':
        shift = 10;
        end++;
        break;
    case 'M':
    case 'm':
        shift = 20;
        end++;
        break;
    case 'G':
    case 'g':
        shift = 30;
        end++;
        break;
    case 'T':
    case 't':
        shift = 40;
        end++;
        break;
    default: break;
    }
    if (*end) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int same_value(const char *a, const char *b)
{
    uint64_t x, y;
    if (strcasecmp(a, b) == 0) return 1;
    return parse_size(a, &x) == 0 && parse_size(b, &y) == 0 && x == y;
}

/* ---------------------------------------------------------------- keys */

static unsigned test_enumeration(void)
{
    t_context = "enumeration";
    unsigned n = 0;
    while (homi_config_key(n)) {
        const char *k = homi_config_key(n);
        CHECK(strncmp(k, "homi_", 5) == 0, "key %u \"%s\" lacks the homi_ prefix", n, k);
        for (unsigned j = 0; j < n; j++)
            CHECK(strcmp(homi_config_key(j), k) != 0, "key \"%s\" listed twice", k);
        const char *h = homi_config_help(k);
        CHECK(h && *h, "homi_config_help(%s) is NULL/empty", k);
        n++;
        REQUIRE(n < 1000, "homi_config_key never returns NULL");
    }
    CHECK(n > 0, "no configuration keys");
    CHECK(homi_config_key(n) == NULL && homi_config_key(n + 1) == NULL &&
              homi_config_key(UINT_MAX) == NULL,
          "homi_config_key past the end must be NULL");
    CHECK(homi_config_help("homi_no_such_key") == NULL, "help of unknown key must be NULL");
    for (size_t i = 0; i < NSPECS; i++) {
        if (!specs[i].required) continue;
        int found = 0;
        for (unsigned j = 0; j < n; j++)
            found |= strcmp(homi_config_key(j), specs[i].key) == 0;
        CHECK(found, "documented key %s is not enumerated", specs[i].key);
    }
    printf("enumeration: %u keys\n", n);
    return n;
}

/* Every key's help text names its default as "(default X)": the value a
 * new configuration reports must be X. */
static void test_defaults(unsigned nkeys)
{
    t_context = "defaults";
    homi_config *cfg = homi_config_new();
    REQUIRE(cfg, "homi_config_new returned NULL");
    for (unsigned i = 0; i < nkeys; i++) {
        const char *k = homi_config_key(i);
        char val[128];
        get_or_fail(cfg, k, val, sizeof val);
        const char *h = homi_config_help(k);
        const char *d = h ? strstr(h, "(default ") : NULL;
        if (!d) {
            printf("  %-22s = %-10s (help names no default)\n", k, val);
            continue;
        }
        d += strlen("(default ");
        char want[64];
        size_t j = 0;
        while (d[j] && d[j] != ')' && d[j] != ' ' && d[j] != ',' && j < sizeof want - 1) {
            want[j] = d[j];
            j++;
        }
        want[j] = 0;
        CHECK(same_value(val, want), "%s: default is \"%s\" but its help says \"%s\"", k, val,
              want);
        printf("  %-22s = %-10s (documented default %s)\n", k, val, want);
    }
    /* Defaults that the API/DESIGN rely on. */
    char v[64];
    get_or_fail(cfg, "homi_path", v, sizeof v);
    CHECK(strcmp(v, "auto") == 0, "homi_path default \"%s\", want auto", v);
    get_or_fail(cfg, "homi_direct", v, sizeof v);
    CHECK(strcmp(v, "off") == 0, "homi_direct default \"%s\", want off", v);
    homi_config_free(cfg);
}

static void test_set_get(unsigned nkeys)
{
    homi_config *cfg = homi_config_new();
    REQUIRE(cfg, "homi_config_new returned NULL");
    char before[128], after[128];

    /* Round trip for every key: setting the value get reports is OK. */
    t_context = "round trip";
    for (unsigned i = 0; i < nkeys; i++) {
        const char *k = homi_config_key(i);
        get_or_fail(cfg, k, before, sizeof before);
        CHECK_RC(homi_config_set(cfg, k, before), HOMI_OK);
        get_or_fail(cfg, k, after, sizeof after);
        CHECK(strcmp(before, after) == 0, "%s: set(get()) changed \"%s\" to \"%s\"", k, before,
              after);
        if (!spec_for(k)) printf("  note: key %s has no specific value table in this test\n", k);
    }

    for (size_t s = 0; s < NSPECS; s++) {
        const struct keyspec *sp = &specs[s];
        t_context = sp->key;
        if (!homi_config_help(sp->key)) {
            if (sp->required) T_FAIL("key %s unknown", sp->key);
            continue;
        }
        for (size_t g = 0; g < 8 && sp->good[g].in; g++) {
            int rc = homi_config_set(cfg, sp->key, sp->good[g].in);
            CHECK(rc == HOMI_OK, "set %s=\"%s\" returned %d (%s)", sp->key, sp->good[g].in, rc,
                  homi_strerror(rc));
            get_or_fail(cfg, sp->key, after, sizeof after);
            CHECK(strcmp(after, sp->good[g].out) == 0,
                  "set %s=\"%s\": get gives \"%s\", want \"%s\"", sp->key, sp->good[g].in, after,
                  sp->good[g].out);
        }
        /* Leave a known non-default value, then try bad values. */
        if (sp->good[0].in) homi_config_set(cfg, sp->key, sp->good[0].in);
        for (size_t b = 0; b < 12 && sp->bad[b]; b++) {
            get_or_fail(cfg, sp->key, before, sizeof before);
            int rc = homi_config_set(cfg, sp->key, sp->bad[b]);
            CHECK(rc == HOMI_EHINTVAL, "set %s=\"%s\" returned %d (%s), want HOMI_EHINTVAL",
                  sp->key, sp->bad[b], rc, homi_strerror(rc));
            get_or_fail(cfg, sp->key, after, sizeof after);
            CHECK(strcmp(before, after) == 0, "bad %s=\"%s\" changed the value \"%s\" -> \"%s\"",
                  sp->key, sp->bad[b], before, after);
        }
        /* NULL value: an error of some kind, value unchanged. */
        get_or_fail(cfg, sp->key, before, sizeof before);
        int rc = homi_config_set(cfg, sp->key, NULL);
        CHECK(rc < 0, "set %s=NULL returned %d", sp->key, rc);
        get_or_fail(cfg, sp->key, after, sizeof after);
        CHECK(strcmp(before, after) == 0, "NULL value changed %s", sp->key);
    }

    t_context = "unknown keys";
    const char *unknown[] = {"homi_nonexistent", "", "threads", "homi_", "homi_threads_x",
                             "HOMI_THREADS=3"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK_RC(homi_config_set(cfg, unknown[i], "1"), HOMI_EHINT);
        CHECK_RC(homi_config_get(cfg, unknown[i], after, sizeof after), HOMI_EHINT);
    }
    CHECK(homi_config_set(cfg, NULL, "1") < 0, "NULL key must fail");
    CHECK(homi_config_set(NULL, "homi_threads", "1") < 0, "NULL config must fail");
    CHECK(homi_config_get(NULL, "homi_threads", after, sizeof after) < 0, "get on NULL config");

    /* A too-small output buffer must not be overrun (ASan checks). */
    t_context = "small buffer";
    homi_config_set(cfg, "homi_chunk_size", "1G");
    char *tiny = malloc(3);
    REQUIRE(tiny, "malloc");
    int rc = homi_config_get(cfg, "homi_chunk_size", tiny, 3);
    if (rc == HOMI_OK)
        CHECK(memchr(tiny, 0, 3) != NULL, "small buffer not NUL-terminated");
    else
        printf("  get into a 3-byte buffer: %d (%s)\n", rc, homi_strerror(rc));
    free(tiny);

    homi_config_free(cfg);
}

/* ---------------------------------------------------------------- env */

static void clear_env(unsigned nkeys)
{
    for (unsigned i = 0; i < nkeys; i++) {
        char name[128];
        const char *k = homi_config_key(i);
        size_t j = 0;
        for (; k[j] && j < sizeof name - 1; j++)
            name[j] = (char)((k[j] >= 'a' && k[j] <= 'z') ? k[j] - 'a' + 'A' : k[j]);
        name[j] = 0;
        unsetenv(name);
    }
}

static void test_env(unsigned nkeys)
{
    char v[128];
    clear_env(nkeys);
    t_context = "env";

    homi_config *cfg = homi_config_new();
    REQUIRE(cfg, "homi_config_new");
    setenv("HOMI_THREADS", "3", 1);
    setenv("HOMI_CHUNK_SIZE", "64K", 1);
    setenv("HOMI_DIRECT", "on", 1);
    setenv("HOMI_NOT_A_REAL_KEY", "whatever", 1); /* not a key: ignored */
    CHECK_RC(homi_config_load_env(cfg), HOMI_OK);
    get_or_fail(cfg, "homi_threads", v, sizeof v);
    CHECK(strcmp(v, "3") == 0, "HOMI_THREADS=3 gave homi_threads=%s", v);
    get_or_fail(cfg, "homi_chunk_size", v, sizeof v);
    CHECK(strcmp(v, "65536") == 0, "HOMI_CHUNK_SIZE=64K gave %s", v);
    get_or_fail(cfg, "homi_direct", v, sizeof v);
    CHECK(strcmp(v, "on") == 0, "HOMI_DIRECT=on gave %s", v);
    /* keys not in the environment keep their values */
    get_or_fail(cfg, "homi_path", v, sizeof v);
    CHECK(strcmp(v, "auto") == 0, "homi_path changed to %s by unrelated env", v);
    homi_config_free(cfg);

    /* Bad environment value: an error, and named in the log. */
    t_context = "env bad value";
    cfg = homi_config_new();
    REQUIRE(cfg, "homi_config_new");
    clear_env(nkeys);
    setenv("HOMI_THREADS", "banana", 1);
    int rc = homi_config_load_env(cfg);
    CHECK(rc == HOMI_EHINTVAL, "HOMI_THREADS=banana: load_env returned %d (%s), want HOMI_EHINTVAL",
          rc, homi_strerror(rc));
    get_or_fail(cfg, "homi_threads", v, sizeof v);
    CHECK(strcmp(v, "0") == 0 || strcmp(v, "banana") != 0, "bad env applied: %s", v);
    clear_env(nkeys);
    setenv("HOMI_CHUNK_SIZE", "12Q", 1);
    rc = homi_config_load_env(cfg);
    CHECK(rc < 0, "HOMI_CHUNK_SIZE=12Q accepted (%d)", rc);
    clear_env(nkeys);
    CHECK_RC(homi_config_load_env(cfg), HOMI_OK);
    CHECK(homi_config_load_env(NULL) < 0, "load_env(NULL) must fail");
    homi_config_free(cfg);
    unsetenv("HOMI_NOT_A_REAL_KEY");
}

/* ---------------------------------------------------------------- texts */

static void test_texts(void)
{
    t_context = "strerror";
    const char *seen[32];
    int codes[] = {HOMI_OK,       HOMI_EINVAL,  HOMI_ENOMEM, HOMI_EIO,    HOMI_EBADF,
                   HOMI_ENOENT,   HOMI_EISDIR,  HOMI_EACCES, HOMI_ERANGE, HOMI_EHINT,
                   HOMI_EHINTVAL, HOMI_ENOTSUP, HOMI_ESYS,   HOMI_EBUSY,  HOMI_ETIMEDOUT,
                   HOMI_ENOTREG,  HOMI_ENOSPC};
    size_t nc = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < nc; i++) {
        const char *s = homi_strerror(codes[i]);
        CHECK(s && *s, "homi_strerror(%d) NULL or empty", codes[i]);
        seen[i] = s ? s : "";
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(seen[i], seen[j]) != 0, "homi_strerror(%d) == homi_strerror(%d) = \"%s\"",
                  codes[i], codes[j], seen[i]);
    }
    int odd[] = {-17, -100, 1, 5, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        const char *s = homi_strerror(odd[i]);
        CHECK(s != NULL, "homi_strerror(%d) is NULL", odd[i]);
        for (size_t j = 1; s && j < nc; j++)
            CHECK(strcmp(s, seen[j]) != 0, "unknown code %d described as known \"%s\"", odd[i], s);
    }

    t_context = "path/fallback names";
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        const char *s = homi_path_name(p);
        CHECK(s && *s, "homi_path_name(%d) NULL/empty", p);
        for (int q = 0; s && q < p; q++)
            CHECK(!homi_path_name(q) || strcmp(s, homi_path_name(q)) != 0,
                  "paths %d and %d share the name %s", p, q, s);
    }
    for (int r = 0; r < HOMI_FB_COUNT; r++) {
        const char *s = homi_fallback_name(r);
        CHECK(s && *s, "homi_fallback_name(%d) NULL/empty", r);
        for (int q = 0; s && q < r; q++)
            CHECK(!homi_fallback_name(q) || strcmp(s, homi_fallback_name(q)) != 0,
                  "fallbacks %d and %d share the name %s", r, q, s);
    }

    t_context = "version";
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", HOMI_VERSION_MAJOR, HOMI_VERSION_MINOR,
             HOMI_VERSION_PATCH);
    const char *v = homi_version();
    CHECK(v && strcmp(v, want) == 0, "homi_version() = \"%s\", header says %s", v ? v : "(null)",
          want);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    unsigned n = test_enumeration();
    test_defaults(n);
    test_set_get(n);
    test_env(n);
    test_texts();
    return t_finish("test_config");
}
