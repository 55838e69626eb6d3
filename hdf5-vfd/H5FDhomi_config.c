/* H5FDhomi_config.c - configuration of H5FD_homi: the config struct and its
 * hints text (the keys of docs/hints.md), H5Pset_fapl_homi /
 * H5Pget_fapl_homi, error entries on the HDF5 error stack, and the cache of
 * HOMI engines shared by files opened with the same configuration. */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "H5FDhomi_int.h"

/* ------------------------------------------------------------ errors */

static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;
static hid_t g_err_class = H5I_INVALID_HID;

void homi_h5_err(const char *func, int line, hid_t maj, hid_t min, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_err_lock);
    if (g_err_class == H5I_INVALID_HID)
        g_err_class = H5Eregister_class("HOMI", "libhomi (H5FD_homi)", homi_version());
    hid_t cls = g_err_class;
    pthread_mutex_unlock(&g_err_lock);
    if (cls < 0) {
        fprintf(stderr, "H5FD_homi: %s: %s\n", func, msg);
        return;
    }
    H5Epush2(H5E_DEFAULT, __FILE__, func, (unsigned)line, cls, maj, min, "%s", msg);
}

void homi_h5_err_term(void)
{
    pthread_mutex_lock(&g_err_lock);
    if (g_err_class != H5I_INVALID_HID) H5Eunregister_class(g_err_class);
    g_err_class = H5I_INVALID_HID;
    pthread_mutex_unlock(&g_err_lock);
}

/* ------------------------------------------------------------ hints text */

static int is_sep(int c)
{
    return c == ',' || c == ';' || isspace((unsigned char)c);
}

/* Apply the hints text to c.  0 or a negative homi_err (bad: the pair). */
static int apply_hints(homi_config *c, const char *hints, char *bad, size_t badlen)
{
    const char *p = hints;
    size_t n = strnlen(hints, H5FD_HOMI_HINTS_MAX);
    if (n >= H5FD_HOMI_HINTS_MAX) {
        if (bad) snprintf(bad, badlen, "hints text is not NUL-terminated");
        return HOMI_EINVAL;
    }
    while (*p) {
        while (*p && is_sep(*p))
            p++;
        if (!*p) break;
        const char *s = p;
        while (*p && !is_sep(*p))
            p++;
        char pair[H5FD_HOMI_HINTS_MAX];
        size_t len = (size_t)(p - s);
        memcpy(pair, s, len);
        pair[len] = 0;
        char *eq = strchr(pair, '=');
        if (!eq || eq == pair) {
            if (bad) snprintf(bad, badlen, "\"%s\" is not key=value", pair);
            return HOMI_EHINT;
        }
        *eq = 0;
        int rc = homi_config_set(c, pair, eq + 1);
        if (rc) {
            if (bad) {
                const char *help = homi_config_help(pair);
                snprintf(bad, badlen, "hint %s=%s: %s%s%s", pair, eq + 1, homi_strerror(rc),
                         help ? "; " : "", help ? help : "");
            }
            return rc;
        }
    }
    return HOMI_OK;
}

int homi_h5_config_build(const H5FD_homi_config_t *cfg, homi_config **out, char *bad, size_t badlen)
{
    homi_config *c = homi_config_new();
    if (!c) return HOMI_ENOMEM;
    int rc = HOMI_OK;
    if (!(cfg->flags & H5FD_HOMI_NO_ENV)) {
        rc = homi_config_load_env(c);
        if (rc && bad)
            snprintf(bad, badlen, "a HOMI_* environment variable: %s", homi_strerror(rc));
    }
    if (!rc) rc = apply_hints(c, cfg->hints, bad, badlen);
    if (rc) {
        homi_config_free(c);
        return rc;
    }
    *out = c;
    return HOMI_OK;
}

int homi_h5_config_check(const H5FD_homi_config_t *cfg)
{
    if (!cfg) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "NULL configuration");
        return -1;
    }
    if (cfg->version != H5FD_HOMI_CONFIG_VERSION) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE,
                    "H5FD_homi_config_t version %u, this library knows %u (call "
                    "H5FD_homi_config_init first)",
                    (unsigned)cfg->version, (unsigned)H5FD_HOMI_CONFIG_VERSION);
        return -1;
    }
    if (cfg->flags & ~(H5FD_HOMI_NO_ENV | H5FD_HOMI_KEEP_CHUNK_CACHE | H5FD_HOMI_DATA_SIEVE)) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "unknown H5FD_homi_config_t flags 0x%x",
                    (unsigned)cfg->flags);
        return -1;
    }
    /* check the hints alone: the environment is applied (and checked) when
     * a file is opened */
    homi_config *c = homi_config_new();
    if (!c) {
        HOMI_H5_ERR(H5E_RESOURCE, H5E_NOSPACE, "out of memory");
        return -1;
    }
    char bad[512] = "";
    int rc = apply_hints(c, cfg->hints, bad, sizeof bad);
    homi_config_free(c);
    if (rc) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "bad HOMI configuration: %s", bad);
        return -1;
    }
    return 0;
}

herr_t H5FD_homi_config_init(H5FD_homi_config_t *cfg)
{
    if (!cfg) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "NULL configuration");
        return -1;
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->version = H5FD_HOMI_CONFIG_VERSION;
    return 0;
}

herr_t H5FD_homi_config_set(H5FD_homi_config_t *cfg, const char *key, const char *value)
{
    if (!cfg || !key || !value) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "NULL configuration, key or value");
        return -1;
    }
    if (cfg->version != H5FD_HOMI_CONFIG_VERSION) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE,
                    "configuration not initialised (call H5FD_homi_config_init)");
        return -1;
    }
    for (const char *s = key; *s; s++)
        if (is_sep(*s) || *s == '=') {
            HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "hint key \"%s\" contains a separator", key);
            return -1;
        }
    for (const char *s = value; *s; s++)
        if (is_sep(*s)) {
            HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "hint %s: value \"%s\" contains a separator", key,
                        value);
            return -1;
        }
    homi_config *c = homi_config_new();
    if (!c) {
        HOMI_H5_ERR(H5E_RESOURCE, H5E_NOSPACE, "out of memory");
        return -1;
    }
    int rc = homi_config_set(c, key, value);
    homi_config_free(c);
    if (rc) {
        const char *help = homi_config_help(key);
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "hint %s=%s: %s%s%s", key, value, homi_strerror(rc),
                    help ? "; " : "", help ? help : "");
        return -1;
    }
    size_t used = strnlen(cfg->hints, sizeof cfg->hints);
    if (used >= sizeof cfg->hints) used = 0; /* not terminated: start over */
    int n = snprintf(cfg->hints + used, sizeof cfg->hints - used, "%s%s=%s", used ? "," : "", key,
                     value);
    if (n < 0 || (size_t)n >= sizeof cfg->hints - used) {
        cfg->hints[used] = 0;
        HOMI_H5_ERR(H5E_ARGS, H5E_NOSPACE, "hints text full (%d bytes) adding %s=%s",
                    H5FD_HOMI_HINTS_MAX, key, value);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ fapl */

herr_t H5Pset_fapl_homi(hid_t fapl_id, const H5FD_homi_config_t *cfg)
{
    H5FD_homi_config_t dflt;
    if (!cfg) {
        H5FD_homi_config_init(&dflt);
        cfg = &dflt;
    }
    htri_t isa = H5Pisa_class(fapl_id, H5P_FILE_ACCESS);
    if (isa <= 0) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADTYPE, "not a file access property list");
        return -1;
    }
    if (homi_h5_config_check(cfg) < 0) return -1;
    hid_t drv = H5FD_homi_init();
    if (drv < 0) return -1;
    if (H5Pset_driver(fapl_id, drv, cfg) < 0) {
        HOMI_H5_ERR(H5E_PLIST, H5E_CANTSET, "cannot set the HOMI driver on the property list");
        return -1;
    }
    if (!(cfg->flags & H5FD_HOMI_KEEP_CHUNK_CACHE)) {
        int mdc;
        size_t nslots, nbytes;
        double w0;
        if (H5Pget_cache(fapl_id, &mdc, &nslots, &nbytes, &w0) < 0 ||
            H5Pset_cache(fapl_id, mdc, nslots, 0, w0) < 0) {
            HOMI_H5_ERR(H5E_PLIST, H5E_CANTSET, "cannot turn off the raw-data chunk cache");
            return -1;
        }
    }
    return 0;
}

herr_t H5Pget_fapl_homi(hid_t fapl_id, H5FD_homi_config_t *cfg_out)
{
    if (!cfg_out) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "NULL output configuration");
        return -1;
    }
    hid_t drv = H5FD_homi_init();
    if (drv < 0) return -1;
    if (H5Pget_driver(fapl_id) != drv) {
        HOMI_H5_ERR(H5E_PLIST, H5E_BADVALUE, "the property list does not use the HOMI driver");
        return -1;
    }
    const H5FD_homi_config_t *c = H5Pget_driver_info(fapl_id);
    if (c)
        *cfg_out = *c;
    else
        H5FD_homi_config_init(cfg_out);
    return 0;
}

/* ------------------------------------------------------------ engines */

/* Engines are shared by every file opened with the same configuration and
 * stay warm while idle (homi_engine_acquire, src/core/engine_cache.c):
 * the next open does not pay for threads, rings and pinned staging buffers
 * again.  The driver's terminate (H5close / H5FDunregister) destroys the
 * idle ones. */
homi_engine *homi_h5_engine_get(const H5FD_homi_config_t *cfg)
{
    homi_config *c = NULL;
    char bad[512] = "";
    int rc = homi_h5_config_build(cfg, &c, bad, sizeof bad);
    if (rc) {
        HOMI_H5_ERR(H5E_VFL, H5E_BADVALUE, "bad HOMI configuration: %s", bad);
        return NULL;
    }
    homi_engine *eng = NULL;
    rc = homi_engine_acquire(c, &eng);
    homi_config_free(c);
    if (rc) {
        HOMI_H5_ERR(H5E_VFL, H5E_CANTINIT, "homi_engine_acquire: %s", homi_strerror(rc));
        return NULL;
    }
    return eng;
}
