/* config.c - configuration keys: defaults, parsing, environment, help.
 * Each key is one row of the table below; docs/hints.md lists the same. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "homi.h"

enum kind { K_PATH, K_UINT, K_SIZE, K_BOOL, K_LOGLEVEL, K_TRI, K_PCI };

struct key {
    const char *name;
    enum kind kind;
    size_t offset;
    uint64_t min, max; /* for K_UINT / K_SIZE */
    const char *help;
};

#define OFF(f) offsetof(struct homi_config, f)
static const struct key keys[] = {
    {"homi_path", K_PATH, OFF(path), 0, 0,
     "I/O path: auto|kernel|passthru|device|cufile|delegated (default auto)"},
    {"homi_threads", K_UINT, OFF(threads), 0, 256,
     "kernel-path worker threads, one io_uring ring each; 0 = one per CPU, max 16 (default 0)"},
    {"homi_queue_depth", K_UINT, OFF(queue_depth), 1, 4096,
     "reads in flight per worker ring (default 32)"},
    {"homi_chunk_size", K_SIZE, OFF(chunk_size), 4096, 1ull << 30,
     "large reads are split into pieces of this size, multiple of 4K (default 1M)"},
    {"homi_direct", K_BOOL, OFF(direct), 0, 0,
     "read with O_DIRECT, bypassing the page cache (default off)"},
    {"homi_bounce_buffers", K_UINT, OFF(bounce_buffers), 1, 1024,
     "registered bounce buffers per worker for unaligned O_DIRECT pieces (default 4)"},
    {"homi_hole_skip", K_BOOL, OFF(hole_skip), 0, 0,
     "serve file holes as zeros without I/O, using the extent map (default on)"},
    {"homi_min_hole", K_SIZE, OFF(min_hole), 0, 1ull << 40,
     "holes smaller than this are read rather than skipped (default 64K)"},
    {"homi_max_files", K_UINT, OFF(max_files), 1, 65536, "open files per engine (default 1024)"},
    {"homi_log_level", K_LOGLEVEL, OFF(log_level), 0, 0, "error|warn|info|debug (default warn)"},
    {"homi_fixed_files", K_BOOL, OFF(fixed_files), 0, 0,
     "register open files with the io_uring rings (default on)"},
    {"homi_staging_size", K_SIZE, OFF(staging_size), 64 << 10, 1ull << 30,
     "pinned staging buffer size for reads into GPU memory, multiple of 4K (default 8M)"},
    {"homi_staging_buffers", K_UINT, OFF(staging_buffers), 2, 1024,
     "pinned staging buffers per engine (default 16)"},
    {"homi_cufile", K_TRI, OFF(cufile_enable), 0, 0,
     "cuFile for GPU destinations: auto (only in true GDS mode) | on | off (default auto)"},
    {"homi_devq_daemon", K_TRI, OFF(devq_daemon), 0, 0,
     "GPU device queues (homi_devq_create) of a process that homid serves: auto (homid serves "
     "the queue when it serves the engine) | on (refuse an in-process queue) | off (in-process; "
     "default auto)"},
    {"homi_inline_sync", K_BOOL, OFF(inline_sync), 0, 0,
     "serve synchronous reads of one chunk on the calling thread's own ring (default on)"},
    {"homi_sync_help", K_BOOL, OFF(sync_help), 0, 0,
     "a synchronous read into GPU memory waiting for a piece reads the piece's chunks that no "
     "kernel-path worker has taken yet on its own thread (default on)"},
    {"homi_sync_split", K_BOOL, OFF(sync_split), 0, 0,
     "a synchronous read into GPU memory of at most one staging buffer is read and copied in 4 "
     "pieces (at least 512 KiB each) so that copies overlap the reading (default on)"},
    {"homi_delegate", K_PCI, OFF(delegate), 0, 0,
     "PCI address (0000:00:05.0) of an NVMe controller bound to vfio-pci whose queue pairs the "
     "delegated path reads through; none: no delegated path (default none)"},
    {"homi_passthru_threads", K_UINT, OFF(passthru_threads), 1, 64,
     "NVMe passthrough worker threads, one SQE128/CQE32 io_uring ring each (default 2)"},
    {"homi_passthru_qd", K_UINT, OFF(passthru_qd), 1, 4096,
     "NVMe commands in flight per passthrough ring (default 128)"},
    {"homi_passthru_min", K_SIZE, OFF(passthru_min), 0, 1ull << 40,
     "homi_path=auto with homi_direct=on: reads of at least this size use passthrough (default "
     "256K)"},
    {"homi_daemon", K_BOOL, OFF(daemon), 0, 0,
     "use the node daemon homid when HOMI_SOCKET (or HOMI_RUNTIME_DIR) names one (default on)"},
    {"homi_daemon_timeout", K_UINT, OFF(daemon_timeout), 1, 86400,
     "seconds homid may leave requests without progress before reads go in-process (default 60)"},
    {"homi_daemon_retry", K_UINT, OFF(daemon_retry), 0, 86400,
     "seconds after losing homid before a read tries to connect again, e.g. to a restarted "
     "homid (default 5, 0: never)"},
    {"homi_daemon_slots", K_UINT, OFF(daemon_slots), 2, 1024,
     "shared-memory data slots (requests in flight) per process on homid, power of two (default "
     "32)"},
    {"homi_delegated_qpairs", K_UINT, OFF(deleg_qpairs), 0, 64,
     "delegated queue pairs this process asks homid for, for its reads alone (default 0, the "
     "shared ones)"},
    {"homi_vf_queues", K_UINT, OFF(vf_queues), 1, 255,
     "homid --delegate-vf: I/O queue pairs given to the SR-IOV virtual function (its VQ "
     "resources: these plus the admin queue) (default 3)"},
    {"homi_vf_interrupts", K_UINT, OFF(vf_interrupts), 1, 255,
     "homid --delegate-vf: interrupt (VI) resources given to the virtual function (default 1)"},
    {"homi_pieces_direct", K_SIZE, OFF(pieces_direct), 1, 1ull << 40,
     "scattered reads (homi_read_pieces, HDF5 selections): pieces of at least this size are read "
     "on their own, smaller ones through sieve windows (default 1M)"},
    {"homi_pieces_gap", K_SIZE, OFF(pieces_gap), 0, 1ull << 30,
     "scattered reads: largest gap between small pieces read as one sieve window (default 64K)"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const path_names[HOMI_PATH_COUNT] = {"kernel", "passthru", "device",
                                                        "cufile", NULL,       "delegated"};

homi_config *homi_config_new(void)
{
    homi_config *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->path = HOMI_PATH_AUTO;
    c->threads = 0;
    c->queue_depth = 32;
    c->chunk_size = 1u << 20;
    c->direct = 0;
    c->bounce_buffers = 4;
    c->hole_skip = 1;
    c->min_hole = 64u << 10;
    c->max_files = 1024;
    c->log_level = HOMI_LOG_WARN;
    c->fixed_files = 1;
    c->inline_sync = 1;
    c->sync_help = 1;
    c->sync_split = 1;
    c->staging_size = 8u << 20;
    c->staging_buffers = 16;
    c->cufile_enable = 1;
    c->devq_daemon = 1;
    c->passthru_threads = 2;
    c->passthru_qd = 128;
    c->passthru_min = 256 << 10;
    c->daemon = 1;
    c->daemon_timeout = 60;
    c->daemon_retry = 5;
    c->daemon_slots = 32;
    c->vf_queues = 3;
    c->vf_interrupts = 1;
    c->pieces_direct = 1u << 20;
    c->pieces_gap = 64u << 10;
    return c;
}

void homi_config_free(homi_config *cfg)
{
    free(cfg);
}

int homi_config_defaults_env(struct homi_config *out)
{
    homi_config *d = homi_config_new();
    if (!d) return HOMI_ENOMEM;
    int rc = homi_config_load_env(d);
    *out = *d;
    homi_config_free(d);
    return rc;
}

int homi_config_same(const struct homi_config *a, const struct homi_config *b)
{
    /* every field is a key of the table: compare them as the text a user
     * would read back, so padding and field widths do not matter */
    for (unsigned i = 0; i < NKEYS; i++) {
        char va[64], vb[64];
        if (homi_config_get(a, keys[i].name, va, sizeof va) ||
            homi_config_get(b, keys[i].name, vb, sizeof vb) || strcmp(va, vb))
            return 0;
    }
    return 1;
}

int homi_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s) return -1;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '-' || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K':
        shift = 10;
        end++;
        break;
    case 'M':
        shift = 20;
        end++;
        break;
    case 'G':
        shift = 30;
        end++;
        break;
    case 'T':
        shift = 40;
        end++;
        break;
    default: break;
    }
    if (shift && (*end == 'i' || *end == 'I')) end++;
    if (shift && (*end == 'b' || *end == 'B')) end++;
    if (*end) return -1;
    if (shift && v > (UINT64_MAX >> shift)) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int homi_parse_bool(const char *s, int *out)
{
    static const char *const t[] = {"1", "on", "true", "yes", "enable", "enabled"};
    static const char *const f[] = {"0", "off", "false", "no", "disable", "disabled"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcasecmp(s, t[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, f[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* A PCI address DDDD:BB:DD.F (hex digits) into out (HOMI_PCI_LEN bytes);
 * "none" or "" clears it. */
int homi_parse_pci(const char *v, char *out)
{
    if (!*v || strcasecmp(v, "none") == 0) {
        out[0] = 0;
        return 0;
    }
    static const char pat[] = "xxxx:xx:xx.x";
    if (strlen(v) != sizeof pat - 1) return -1;
    for (size_t i = 0; pat[i]; i++)
        if (pat[i] == 'x' ? !isxdigit((unsigned char)v[i]) : v[i] != pat[i]) return -1;
    snprintf(out, HOMI_PCI_LEN, "%s", v);
    return 0;
}

int homi_parse_path(const char *v, int *out)
{
    if (!v) return -1;
    if (strcasecmp(v, "auto") == 0) {
        *out = HOMI_PATH_AUTO;
        return 0;
    }
    for (int i = 0; i < HOMI_PATH_COUNT; i++)
        if (path_names[i] && strcasecmp(v, path_names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

static const struct key *find_key(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < NKEYS; i++)
        if (strcasecmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

static int parse_into(const struct key *k, const char *v, void *field)
{
    uint64_t u;
    int b;
    switch (k->kind) {
    case K_PATH: return homi_parse_path(v, (int *)field);
    case K_UINT:
        if (homi_parse_size(v, &u) || u < k->min || u > k->max) return -1;
        *(unsigned *)field = (unsigned)u;
        return 0;
    case K_SIZE:
        if (homi_parse_size(v, &u) || u < k->min || u > k->max) return -1;
        if ((k->offset == OFF(chunk_size) || k->offset == OFF(staging_size)) && (u % 4096))
            return -1;
        *(uint64_t *)field = u;
        return 0;
    case K_BOOL:
        if (homi_parse_bool(v, &b)) return -1;
        *(int *)field = b;
        return 0;
    case K_TRI:
        if (strcasecmp(v, "auto") == 0) {
            *(int *)field = 1;
            return 0;
        }
        if (homi_parse_bool(v, &b)) return -1;
        *(int *)field = b ? 2 : 0;
        return 0;
    case K_LOGLEVEL:
        b = homi_log_level_parse(v);
        if (b < 0) return -1;
        *(int *)field = b;
        return 0;
    case K_PCI: return homi_parse_pci(v, (char *)field);
    }
    return -1;
}

int homi_config_set(homi_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key) return HOMI_EINVAL;
    const struct key *k = find_key(key);
    if (!k) return HOMI_EHINT;
    if (!value) return HOMI_EHINTVAL;
    if (parse_into(k, value, (char *)cfg + k->offset)) return HOMI_EHINTVAL;
    return HOMI_OK;
}

int homi_config_get(const homi_config *cfg, const char *key, char *buf, size_t buflen)
{
    if (!cfg || !key || !buf) return HOMI_EINVAL;
    const struct key *k = find_key(key);
    if (!k) return HOMI_EHINT;
    const void *field = (const char *)cfg + k->offset;
    int n = 0;
    switch (k->kind) {
    case K_PATH: {
        int p = *(const int *)field;
        n = snprintf(buf, buflen, "%s", p < 0 ? "auto" : path_names[p]);
        break;
    }
    case K_UINT: n = snprintf(buf, buflen, "%u", *(const unsigned *)field); break;
    case K_SIZE: n = snprintf(buf, buflen, "%" PRIu64, *(const uint64_t *)field); break;
    case K_BOOL: n = snprintf(buf, buflen, "%s", *(const int *)field ? "on" : "off"); break;
    case K_LOGLEVEL:
        n = snprintf(buf, buflen, "%s", homi_log_level_name(*(const int *)field));
        break;
    case K_TRI: {
        static const char *const t[] = {"off", "auto", "on"};
        n = snprintf(buf, buflen, "%s", t[*(const int *)field]);
        break;
    }
    case K_PCI:
        n = snprintf(buf, buflen, "%s", *(const char *)field ? (const char *)field : "none");
        break;
    }
    if (n < 0 || (size_t)n >= buflen) return HOMI_ERANGE;
    return HOMI_OK;
}

int homi_config_load_env(homi_config *cfg)
{
    if (!cfg) return HOMI_EINVAL;
    for (size_t i = 0; i < NKEYS; i++) {
        char env[64];
        size_t j = 0;
        for (; keys[i].name[j] && j < sizeof env - 1; j++)
            env[j] = (char)toupper((unsigned char)keys[i].name[j]);
        env[j] = 0;
        const char *v = getenv(env);
        if (!v) continue;
        int rc = homi_config_set(cfg, keys[i].name, v);
        if (rc) {
            homi_log(HOMI_LOG_ERROR, "environment %s=\"%s\": %s (%s)", env, v, homi_strerror(rc),
                     keys[i].help);
            return rc;
        }
    }
    return HOMI_OK;
}

const char *homi_config_key(unsigned i)
{
    return i < NKEYS ? keys[i].name : NULL;
}

const char *homi_config_help(const char *key)
{
    const struct key *k = find_key(key);
    return k ? k->help : NULL;
}
