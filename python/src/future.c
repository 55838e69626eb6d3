/* future.c - homi._homi.Future: one asynchronous (homi_submit) or
 * stream-ordered (homi_read_to_stream) read; holds its destination until
 * the read is over and turns the result into bytes or an exception. */
#include "homi_py.h"

HomiFuture *homi_future_new(HomiFile *file)
{
    HomiFuture *f = PyObject_New(HomiFuture, &HomiFuture_Type);
    if (!f) return NULL;
    f->engine = (HomiEngine *)Py_NewRef(file->engine);
    f->file = (HomiFile *)Py_NewRef(file);
    f->slot = NULL;
    f->result = 0;
    f->done = f->stream = f->has_dest = 0;
    f->path_mask = 0;
    return f;
}

int homi_future_stream_poll(HomiFuture *f)
{
    if (f->done) return 1;
    int64_t v = __atomic_load_n(f->slot, __ATOMIC_ACQUIRE);
    if (v == INT64_MIN) return 0;
    f->result = v;
    f->done = 1;
    if (f->has_dest) homi_dest_release(&f->dest);
    f->has_dest = 0;
    return 1;
}

static void future_dealloc(HomiFuture *f)
{
    if (f->has_dest) homi_dest_release(&f->dest);
    PyMem_RawFree(f->slot);
    Py_XDECREF(f->engine);
    Py_XDECREF(f->file);
    PyObject_Free(f);
}

static int is_done(HomiFuture *f)
{
    if (f->stream) return homi_future_stream_poll(f);
    if (!f->done && f->engine->eng) homi_engine_collect(f->engine, 0);
    return f->done;
}

static PyObject *future_done(HomiFuture *f, PyObject *unused)
{
    int d = is_done(f);
    if (PyErr_Occurred()) return NULL;
    return PyBool_FromLong(d);
}

/* wait for f; 0 done, -1 exception set (TimeoutError on timeout) */
static int wait_for(HomiFuture *f, PyObject *timeout)
{
    double t = -1;
    if (timeout && timeout != Py_None) {
        t = PyFloat_AsDouble(timeout);
        if (t == -1 && PyErr_Occurred()) return -1;
        if (t < 0) t = 0;
    }
    int rc = homi_engine_wait_future(f->engine, f, t);
    if (rc < 0) return -1;
    if (!rc) {
        PyErr_SetString(PyExc_TimeoutError, "homi read not finished within the timeout");
        return -1;
    }
    return 0;
}

static PyObject *future_result(HomiFuture *f, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:result", kwl, &timeout)) return NULL;
    if (wait_for(f, timeout)) return NULL;
    if (f->result < 0) return homi_raise(f->result, "read");
    return PyLong_FromLongLong(f->result);
}

static PyObject *future_exception(HomiFuture *f, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:exception", kwl, &timeout)) return NULL;
    if (wait_for(f, timeout)) return NULL;
    if (f->result >= 0) Py_RETURN_NONE;
    return homi_error_new(f->result, "read");
}

static PyObject *future_cancel(HomiFuture *f, PyObject *unused)
{
    /* libhomi has no cancellation: a queued read always runs to the end */
    Py_RETURN_FALSE;
}

static PyObject *future_cancelled(HomiFuture *f, PyObject *unused)
{
    Py_RETURN_FALSE;
}

static PyObject *future_get_paths(HomiFuture *f, void *unused)
{
    PyObject *l = PyList_New(0);
    for (int p = 0; l && p < HOMI_PATH_COUNT; p++)
        if (f->path_mask & (1u << p)) {
            PyObject *s = PyUnicode_FromString(homi_path_name(p));
            if (!s || PyList_Append(l, s) < 0) Py_CLEAR(l);
            Py_XDECREF(s);
        }
    return l;
}

static PyObject *future_repr(HomiFuture *f)
{
    if (!f->done)
        return PyUnicode_FromFormat("<homi.Future pending%s>", f->stream ? " (stream)" : "");
    return PyUnicode_FromFormat("<homi.Future done result=%lld>", (long long)f->result);
}

static PyMethodDef future_methods[] = {
    {"done", (PyCFunction)future_done, METH_NOARGS, "True when the read has finished."},
    {"result", (PyCFunction)(void (*)(void))future_result, METH_VARARGS | METH_KEYWORDS,
     "result(timeout=None) -> int: bytes read; raises HomiError if the read failed, "
     "TimeoutError if it did not finish in time."},
    {"exception", (PyCFunction)(void (*)(void))future_exception, METH_VARARGS | METH_KEYWORDS,
     "exception(timeout=None): the HomiError of a failed read, or None."},
    {"cancel", (PyCFunction)future_cancel, METH_NOARGS,
     "Always False: a queued read cannot be cancelled in libhomi."},
    {"cancelled", (PyCFunction)future_cancelled, METH_NOARGS, "Always False."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef future_getset[] = {
    {"paths", (getter)future_get_paths, NULL,
     "Names of the paths that served the read (asynchronous reads, once done).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject HomiFuture_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "homi.Future",
    .tp_basicsize = sizeof(HomiFuture),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The result of File.pread_async or File.read_to_stream.",
    .tp_dealloc = (destructor)future_dealloc,
    .tp_repr = (reprfunc)future_repr,
    .tp_methods = future_methods,
    .tp_getset = future_getset,
};
