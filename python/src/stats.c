/* stats.c - a homi_stats as a Python dict: bytes/requests/ns per path,
 * every fallback counter by its name, and the totals. */
#include "homi_py.h"

static int put_u64(PyObject *d, const char *k, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    if (!o) return -1;
    int rc = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return rc;
}

static int put_obj(PyObject *d, const char *k, PyObject *o)
{
    if (!o) return -1;
    int rc = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return rc;
}

PyObject *homi_stats_dict(const homi_stats *s)
{
    PyObject *d = PyDict_New(), *paths = PyDict_New(), *fb = PyDict_New();
    if (!d || !paths || !fb) goto fail;
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        PyObject *e = PyDict_New();
        if (!e) goto fail;
        if (put_u64(e, "bytes", s->path[p].bytes) || put_u64(e, "requests", s->path[p].requests) ||
            put_u64(e, "ns", s->path[p].ns)) {
            Py_DECREF(e);
            goto fail;
        }
        if (put_obj(paths, homi_path_name(p), e)) goto fail; /* e consumed */
    }
    for (int r = 0; r < HOMI_FB_COUNT; r++)
        if (put_u64(fb, homi_fallback_name(r), s->fallbacks[r])) goto fail;
    if (put_obj(d, "paths", paths)) {
        paths = NULL;
        goto fail;
    }
    paths = NULL;
    if (put_obj(d, "fallbacks", fb)) {
        fb = NULL;
        goto fail;
    }
    fb = NULL;
    if (put_u64(d, "reads", s->reads) || put_u64(d, "read_bytes", s->read_bytes) ||
        put_u64(d, "errors", s->errors) || put_u64(d, "map_builds", s->map_builds) ||
        put_u64(d, "staged_bytes", s->staged_bytes) || put_u64(d, "nvme_cmds", s->nvme_cmds) ||
        put_u64(d, "daemon_bytes", s->daemon_bytes))
        goto fail;
    return d;
fail:
    Py_XDECREF(d);
    Py_XDECREF(paths);
    Py_XDECREF(fb);
    return NULL;
}
