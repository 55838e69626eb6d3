/* engine.c - homi._homi.Engine: a libhomi engine made from hints (plus the
 * HOMI_* environment), its statistics, and the collection of asynchronous
 * completions that finishes Futures (one collecting thread at a time, the
 * GIL released while it waits). */
#include <string.h>
#include <time.h>

#include "homi_py.h"

#define BATCH 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int homi_engine_check(HomiEngine *e)
{
    if (e->eng) return 0;
    PyErr_SetString(PyExc_ValueError, "operation on a closed homi.Engine");
    return -1;
}

/* eng: the engine to collect from (close() passes it after clearing e->eng),
 * NULL for e->eng. */
static int collect(HomiEngine *e, homi_engine *eng, int timeout_ms)
{
    homi_completion c[BATCH];
    HomiFuture *fin[BATCH];
    int n = 0, got;
    if (!eng && !e->eng) return 0;
    Py_BEGIN_ALLOW_THREADS;
    PY_TIMEOUT_T us = timeout_ms < 0 ? -1 : (PY_TIMEOUT_T)timeout_ms * 1000;
    got = PyThread_acquire_lock_timed(e->collect, us, 0) == PY_LOCK_ACQUIRED;
    /* e->eng read under the lock: close() clears it under the lock too */
    if (!eng) eng = got ? e->eng : NULL;
    if (eng && homi_inflight(eng) > 0)
        n = timeout_ms == 0 ? homi_poll(eng, c, BATCH) : homi_wait(eng, c, 1, BATCH, timeout_ms);
    Py_END_ALLOW_THREADS;
    if (!got) return 0;
    if (n < 0) {
        PyThread_release_lock(e->collect);
        homi_raise(n, "homi_wait");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        HomiFuture *f = (HomiFuture *)(uintptr_t)c[i].user_data;
        f->result = c[i].result;
        f->path_mask = c[i].path_mask;
        f->done = 1;
        fin[i] = f;
    }
    PyThread_release_lock(e->collect);
    /* outside the lock: releasing buffers may run arbitrary Python code */
    for (int i = 0; i < n; i++) {
        if (fin[i]->has_dest) homi_dest_release(&fin[i]->dest);
        fin[i]->has_dest = 0;
        Py_DECREF(fin[i]); /* the reference taken at submission */
    }
    return n;
}

int homi_engine_collect(HomiEngine *e, int timeout_ms)
{
    return collect(e, NULL, timeout_ms);
}

static void sleep_nogil(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    Py_BEGIN_ALLOW_THREADS;
    nanosleep(&ts, NULL);
    Py_END_ALLOW_THREADS;
}

void homi_wait_idle(const int *busy)
{
    double nap = 20e-6;
    while (*busy > 0) {
        sleep_nogil(nap);
        if (nap < 1e-3) nap *= 2;
    }
}

int homi_engine_wait_future(HomiEngine *e, HomiFuture *f, double timeout_s)
{
    double end = timeout_s < 0 ? -1 : now_s() + timeout_s, nap = 20e-6;
    for (;;) {
        if (f->stream ? homi_future_stream_poll(f) : f->done) return 1;
        double left = end < 0 ? 1.0 : end - now_s();
        if (left <= 0 && timeout_s != 0) return 0;
        if (f->stream || !e->eng) {
            /* libhomi's stream worker writes the result slot; or close() runs
             * in another thread and collects the completions */
            if (timeout_s == 0) return 0;
            sleep_nogil(nap < left ? nap : left);
            if (nap < 1e-3) nap *= 2;
        } else {
            int ms = timeout_s == 0 ? 0 : left > 0.1 ? 100 : (int)(left * 1000) + 1;
            if (homi_engine_collect(e, ms) < 0) return -1;
            if (timeout_s == 0) return f->done;
        }
        if (PyErr_CheckSignals() < 0) return -1;
    }
}

/* Drop stream-ordered Futures whose result is in; returns how many remain. */
static Py_ssize_t sweep_streams(HomiEngine *e)
{
    Py_ssize_t n = PyList_GET_SIZE(e->streams);
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        HomiFuture *f = (HomiFuture *)PyList_GET_ITEM(e->streams, i);
        if (homi_future_stream_poll(f)) PySequence_DelItem(e->streams, i);
    }
    return PyList_GET_SIZE(e->streams);
}

static int engine_close_impl(HomiEngine *e)
{
    unsigned long me = PyThread_get_thread_ident();
    if (!e->eng) { /* closed, or being closed: by another thread, wait for it */
        while (e->closer && e->closer != me)
            sleep_nogil(1e-3);
        return 0;
    }
    homi_engine *eng = e->eng;
    homi_config *cfg = e->cfg;
    Py_BEGIN_ALLOW_THREADS; /* no other thread is inside homi_wait/poll on eng after this */
    PyThread_acquire_lock(e->collect, WAIT_LOCK);
    Py_END_ALLOW_THREADS;
    if (e->eng != eng) { /* another thread closed it meanwhile */
        PyThread_release_lock(e->collect);
        return engine_close_impl(e);
    }
    /* from here no new read, submission, open or collection starts on eng */
    e->eng = NULL;
    e->cfg = NULL;
    e->closer = me;
    PyThread_release_lock(e->collect);
    /* those under way in other threads (reads, homi_close of a File) end
     * first: homi_engine_destroy frees the files they use */
    homi_wait_idle(&e->busy);
    while (sweep_streams(e) > 0)
        sleep_nogil(1e-3);
    while (homi_inflight(eng) > 0) /* finishes the Futures of every read */
        if (collect(e, eng, 100) < 0) PyErr_Clear();
    while (e->files)
        homi_file_close_handle(e->files);
    Py_BEGIN_ALLOW_THREADS;
    homi_engine_destroy(eng);
    Py_END_ALLOW_THREADS;
    homi_config_free(cfg);
    e->closer = 0;
    return 0;
}

/* hint value as libhomi text: True/False -> on/off, others str() */
static PyObject *hint_text(PyObject *v)
{
    if (PyBool_Check(v)) return PyUnicode_FromString(v == Py_True ? "on" : "off");
    return PyObject_Str(v);
}

static int engine_init(HomiEngine *e, PyObject *args, PyObject *kw)
{
    if (PyTuple_GET_SIZE(args)) {
        PyErr_SetString(PyExc_TypeError, "Engine() takes hints as keyword arguments only");
        return -1;
    }
    if (e->eng) {
        PyErr_SetString(PyExc_RuntimeError, "Engine already initialised");
        return -1;
    }
    homi_config *cfg = homi_config_new();
    if (!cfg) {
        PyErr_NoMemory();
        return -1;
    }
    int use_env = 1, rc;
    PyObject *v, *k;
    if (kw && (v = PyDict_GetItemString(kw, "use_env"))) use_env = PyObject_IsTrue(v);
    if (use_env < 0) goto fail;
    if (use_env && (rc = homi_config_load_env(cfg)) != 0) {
        homi_raise(rc, "HOMI_* environment");
        goto fail;
    }
    Py_ssize_t pos = 0;
    while (kw && PyDict_Next(kw, &pos, &k, &v)) {
        const char *key = PyUnicode_AsUTF8(k);
        if (!key) goto fail;
        if (!strcmp(key, "use_env")) continue;
        char full[128];
        PyOS_snprintf(full, sizeof full, "%s%s", strncmp(key, "homi_", 5) ? "homi_" : "", key);
        PyObject *t = hint_text(v);
        if (!t) goto fail;
        const char *val = PyUnicode_AsUTF8(t);
        rc = val ? homi_config_set(cfg, full, val) : HOMI_EINVAL;
        if (rc) {
            char what[200];
            PyOS_snprintf(what, sizeof what, "hint %s=%.60s", full, val ? val : "?");
            Py_DECREF(t);
            if (!PyErr_Occurred()) homi_raise(rc, what);
            goto fail;
        }
        Py_DECREF(t);
    }
    homi_engine *eng = NULL;
    Py_BEGIN_ALLOW_THREADS;
    rc = homi_engine_create(cfg, &eng);
    Py_END_ALLOW_THREADS;
    if (rc) {
        homi_raise(rc, "homi_engine_create");
        goto fail;
    }
    e->eng = eng;
    e->cfg = cfg;
    return 0;
fail:
    homi_config_free(cfg);
    return -1;
}

static PyObject *engine_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    HomiEngine *e = (HomiEngine *)type->tp_alloc(type, 0);
    if (!e) return NULL;
    e->collect = PyThread_allocate_lock();
    e->streams = PyList_New(0);
    if (!e->collect || !e->streams) {
        Py_DECREF(e);
        return PyErr_NoMemory();
    }
    return (PyObject *)e;
}

static void engine_dealloc(HomiEngine *e)
{
    if (e->weakreflist) PyObject_ClearWeakRefs((PyObject *)e);
    if (e->streams) engine_close_impl(e);
    Py_CLEAR(e->streams);
    if (e->collect) PyThread_free_lock(e->collect);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyObject *engine_close(HomiEngine *e, PyObject *unused)
{
    engine_close_impl(e);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyObject *engine_enter(HomiEngine *e, PyObject *unused)
{
    if (homi_engine_check(e)) return NULL;
    return Py_NewRef(e);
}

static PyObject *engine_exit(HomiEngine *e, PyObject *args)
{
    engine_close_impl(e);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_FALSE;
}

static PyObject *engine_stats(HomiEngine *e, PyObject *unused)
{
    if (homi_engine_check(e)) return NULL;
    sweep_streams(e);
    homi_stats st;
    int rc = homi_engine_stats(e->eng, &st);
    if (rc) return homi_raise(rc, "homi_engine_stats");
    return homi_stats_dict(&st);
}

static PyObject *engine_hint(HomiEngine *e, PyObject *arg)
{
    if (homi_engine_check(e)) return NULL;
    const char *key = PyUnicode_AsUTF8(arg);
    if (!key) return NULL;
    char full[128], buf[256];
    PyOS_snprintf(full, sizeof full, "%s%s", strncmp(key, "homi_", 5) ? "homi_" : "", key);
    int rc = homi_config_get(e->cfg, full, buf, sizeof buf);
    if (rc) return homi_raise(rc, full);
    return PyUnicode_FromString(buf);
}

static PyObject *engine_cufile_status(HomiEngine *e, PyObject *unused)
{
    if (homi_engine_check(e)) return NULL;
    return PyUnicode_FromString(homi_cufile_status(e->eng));
}

static PyObject *engine_inflight(HomiEngine *e, PyObject *unused)
{
    if (homi_engine_check(e)) return NULL;
    return PyLong_FromUnsignedLong(homi_inflight(e->eng) + (unsigned long)sweep_streams(e));
}

static PyObject *engine_poll(HomiEngine *e, PyObject *args)
{
    double timeout = 0;
    if (!PyArg_ParseTuple(args, "|d:poll", &timeout)) return NULL;
    if (homi_engine_check(e)) return NULL;
    int n = homi_engine_collect(e, timeout < 0 ? 100 : (int)(timeout * 1000));
    if (n < 0) return NULL;
    return PyLong_FromLong(n);
}

static PyObject *engine_get_closed(HomiEngine *e, void *unused)
{
    return PyBool_FromLong(e->eng == NULL);
}

static PyMethodDef engine_methods[] = {
    {"close", (PyCFunction)engine_close, METH_NOARGS,
     "Wait for outstanding reads, close every file of the engine, free it."},
    {"__enter__", (PyCFunction)engine_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)engine_exit, METH_VARARGS, NULL},
    {"stats", (PyCFunction)engine_stats, METH_NOARGS,
     "Engine statistics as a dict: bytes/requests/ns per path, fallbacks by name, totals."},
    {"hint", (PyCFunction)engine_hint, METH_O, "Current value of a configuration key as text."},
    {"cufile_status", (PyCFunction)engine_cufile_status, METH_NOARGS,
     "'gds', 'compat' or 'unavailable'."},
    {"inflight", (PyCFunction)engine_inflight, METH_NOARGS,
     "Asynchronous and stream-ordered reads not yet seen complete."},
    {"poll", (PyCFunction)engine_poll, METH_VARARGS,
     "poll(timeout=0): collect finished asynchronous reads (completing their Futures); "
     "returns how many."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef engine_getset[] = {
    {"closed", (getter)engine_get_closed, NULL, "True once close() ran.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject HomiEngine_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "homi._homi.Engine",
    .tp_basicsize = sizeof(HomiEngine),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Engine(*, use_env=True, **hints): a HOMI engine. Hints are configuration keys "
              "with or without the homi_ prefix (threads=4, direct=True); the HOMI_* "
              "environment applies first unless use_env=False.",
    .tp_new = engine_new,
    .tp_init = (initproc)engine_init,
    .tp_dealloc = (destructor)engine_dealloc,
    .tp_methods = engine_methods,
    .tp_getset = engine_getset,
    .tp_weaklistoffset = offsetof(HomiEngine, weakreflist),
};
