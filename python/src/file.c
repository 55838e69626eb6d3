/* file.c - homi._homi.File: an open libhomi file and its reads into any
 * destination homi_dest accepts: synchronous (GIL released), asynchronous
 * (a Future) and stream-ordered; per-file hints and statistics. */
#include <string.h>

#include "homi_py.h"

static int check_open(HomiFile *f)
{
    if (f->hf && f->engine->eng) return 0; /* not while its engine is being closed */
    PyErr_SetString(PyExc_ValueError, "I/O operation on closed homi.File");
    return -1;
}

void homi_file_close_handle(HomiFile *f)
{
    homi_file *hf = f->hf;
    if (!hf) return;
    f->hf = NULL;
    if (f->prev)
        f->prev->next = f->next;
    else if (f->engine && f->engine->files == f)
        f->engine->files = f->next;
    if (f->next) f->next->prev = f->prev;
    f->next = f->prev = NULL;
    HomiEngine *e = f->engine; /* kept alive by f */
    e->busy++;                 /* the engine is not destroyed before homi_close */
    homi_wait_idle(&f->busy);  /* reads of other threads on hf end first */
    Py_BEGIN_ALLOW_THREADS;
    homi_close(hf);
    Py_END_ALLOW_THREADS;
    e->busy--;
}

static int file_init(HomiFile *f, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"engine", "path", NULL};
    HomiEngine *e;
    PyObject *path;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O&:File", kwl, &HomiEngine_Type, &e,
                                     PyUnicode_FSConverter, &path))
        return -1;
    if (f->hf || homi_engine_check(e)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "File already open");
        Py_DECREF(path);
        return -1;
    }
    homi_file *hf = NULL;
    const char *p = PyBytes_AS_STRING(path);
    int rc;
    homi_engine *eng = e->eng;
    e->busy++;
    Py_BEGIN_ALLOW_THREADS;
    rc = homi_open(eng, p, HOMI_RDONLY, &hf);
    Py_END_ALLOW_THREADS;
    if (!rc && homi_engine_check(e)) { /* closed by another thread meanwhile */
        Py_BEGIN_ALLOW_THREADS;
        homi_close(hf);
        Py_END_ALLOW_THREADS;
        e->busy--;
        Py_DECREF(path);
        return -1;
    }
    e->busy--;
    if (rc) {
        homi_raise(rc, p);
        Py_DECREF(path);
        return -1;
    }
    f->hf = hf;
    Py_XSETREF(f->engine, (HomiEngine *)Py_NewRef(e));
    Py_XSETREF(f->name, PyUnicode_DecodeFSDefault(p));
    Py_DECREF(path);
    f->next = e->files;
    if (e->files) e->files->prev = f;
    e->files = f;
    return 0;
}

static void file_dealloc(HomiFile *f)
{
    if (f->weakreflist) PyObject_ClearWeakRefs((PyObject *)f);
    homi_file_close_handle(f);
    Py_CLEAR(f->engine);
    Py_CLEAR(f->name);
    Py_TYPE(f)->tp_free((PyObject *)f);
}

/* Common argument handling of the read methods: the destination, the
 * offset (>= 0) and the byte count (size, at most the destination's). */
struct rd {
    homi_dest d;
    long long off;
    size_t len;
};

static int rd_parse(HomiFile *f, PyObject *buf, long long off, PyObject *size, struct rd *r)
{
    if (check_open(f)) return -1;
    if (off < 0) {
        PyErr_Format(PyExc_ValueError, "offset must be >= 0, got %lld", off);
        return -1;
    }
    long long want = -1;
    if (size && size != Py_None) {
        want = PyLong_AsLongLong(size);
        if (want == -1 && PyErr_Occurred()) return -1;
        if (want < 0) {
            PyErr_Format(PyExc_ValueError, "size must be >= 0 or None, got %lld", want);
            return -1;
        }
    }
    if (homi_dest_acquire(buf, &r->d) < 0) return -1;
    r->off = off;
    r->len = r->d.len;
    if (want >= 0) {
        if ((unsigned long long)want > r->d.len) {
            homi_dest_release(&r->d);
            PyErr_Format(PyExc_ValueError, "size %lld is larger than the destination (%zu bytes)",
                         want, r->d.len);
            return -1;
        }
        r->len = (size_t)want;
    }
    return 0;
}

static PyObject *file_pread(HomiFile *f, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"buf", "offset", "size", NULL};
    PyObject *buf, *size = NULL;
    long long off = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|LO:pread", kwl, &buf, &off, &size)) return NULL;
    struct rd r;
    if (rd_parse(f, buf, off, size, &r)) return NULL;
    int64_t n = 0;
    if (r.len) {
        homi_read_opts o = {.mem = r.d.mem};
        homi_file *hf = f->hf;
        HomiEngine *e = f->engine;
        f->busy++; /* closing f or its engine waits for the read */
        e->busy++;
        Py_BEGIN_ALLOW_THREADS;
        n = homi_dest_sync(&r.d, (void *)(uintptr_t)-1);
        if (n == 0) n = homi_pread_ex(hf, r.d.ptr, r.len, r.off, &o);
        Py_END_ALLOW_THREADS;
        f->busy--;
        e->busy--;
    }
    homi_dest_release(&r.d);
    if (n < 0) return homi_raise(n, "pread");
    return PyLong_FromLongLong(n);
}

static PyObject *file_pread_async(HomiFile *f, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"buf", "offset", "size", NULL};
    PyObject *buf, *size = NULL;
    long long off = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|LO:pread_async", kwl, &buf, &off, &size))
        return NULL;
    struct rd r;
    if (rd_parse(f, buf, off, size, &r)) return NULL;
    HomiFuture *fut = homi_future_new(f);
    if (!fut) {
        homi_dest_release(&r.d);
        return NULL;
    }
    fut->dest = r.d;
    fut->has_dest = 1;
    if (!r.len) { /* nothing to read: complete at once */
        homi_dest_release(&fut->dest);
        fut->has_dest = 0;
        fut->done = 1;
        return (PyObject *)fut;
    }
    homi_io io = {.file = f->hf,
                  .buf = r.d.ptr,
                  .len = r.len,
                  .offset = r.off,
                  .user_data = (uint64_t)(uintptr_t)fut,
                  .opts = {.mem = r.d.mem}};
    Py_INCREF(fut); /* owned by the request until its completion is collected */
    HomiEngine *e = f->engine;
    homi_engine *eng = e->eng;
    int rc;
    f->busy++; /* closing f or its engine waits for the submission */
    e->busy++;
    Py_BEGIN_ALLOW_THREADS;
    rc = homi_dest_sync(&r.d, (void *)(uintptr_t)-1);
    if (rc == 0) rc = homi_submit(eng, &io, 1);
    Py_END_ALLOW_THREADS;
    f->busy--;
    e->busy--;
    if (rc < 0) {
        Py_DECREF(fut);
        Py_DECREF(fut);
        return homi_raise(rc, "pread_async");
    }
    return (PyObject *)fut;
}

/* A CUDA stream as a pointer: None (legacy default stream), an int, an
 * object with __cuda_stream__ (returns (version, handle)), a torch stream
 * (.cuda_stream) or a CuPy stream (.ptr). */
static int stream_ptr(PyObject *s, void **out)
{
    PyObject *v = NULL;
    *out = NULL;
    if (s == Py_None) return 0;
    if (PyLong_Check(s)) {
        v = Py_NewRef(s);
    } else if (PyObject_HasAttrString(s, "__cuda_stream__")) {
        PyObject *t = PyObject_CallMethod(s, "__cuda_stream__", NULL);
        if (!t) return -1;
        if (PyTuple_Check(t) && PyTuple_GET_SIZE(t) == 2) v = Py_NewRef(PyTuple_GET_ITEM(t, 1));
        Py_DECREF(t);
    } else if (PyObject_HasAttrString(s, "cuda_stream")) {
        v = PyObject_GetAttrString(s, "cuda_stream");
    } else if (PyObject_HasAttrString(s, "ptr")) {
        v = PyObject_GetAttrString(s, "ptr");
    }
    if (!v || !PyLong_Check(v)) {
        Py_XDECREF(v);
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError,
                         "stream must be None, an int, a CuPy or a PyTorch stream, not %.80s",
                         Py_TYPE(s)->tp_name);
        return -1;
    }
    *out = PyLong_AsVoidPtr(v);
    Py_DECREF(v);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *file_read_to_stream(HomiFile *f, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"buf", "offset", "stream", "size", NULL};
    PyObject *buf, *stream = Py_None, *size = NULL;
    long long off = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|LOO:read_to_stream", kwl, &buf, &off, &stream,
                                     &size))
        return NULL;
    void *sp;
    if (stream_ptr(stream, &sp)) return NULL;
    struct rd r;
    if (rd_parse(f, buf, off, size, &r)) return NULL;
    HomiFuture *fut = homi_future_new(f);
    if (!fut) {
        homi_dest_release(&r.d);
        return NULL;
    }
    fut->dest = r.d;
    fut->has_dest = 1;
    fut->stream = 1;
    fut->slot = PyMem_RawMalloc(sizeof *fut->slot);
    if (!fut->slot) {
        Py_DECREF(fut);
        return PyErr_NoMemory();
    }
    *fut->slot = INT64_MIN; /* libhomi writes the result once the stream gets there */
    int rc;
    Py_BEGIN_ALLOW_THREADS; /* work of another producer stream must not be overtaken */
    rc = homi_dest_sync(&fut->dest, sp);
    Py_END_ALLOW_THREADS;
    if (!rc && check_open(f)) { /* closed by another thread meanwhile */
        Py_DECREF(fut);
        return NULL;
    }
    if (!rc) rc = homi_read_to_stream(f->hf, r.d.ptr, r.len, r.off, sp, fut->slot);
    if (rc) {
        Py_DECREF(fut);
        return homi_raise(rc, "read_to_stream");
    }
    /* the engine keeps it (and its destination) until the result is in */
    if (PyList_Append(f->engine->streams, (PyObject *)fut) < 0)
        return NULL; /* out of memory: leak fut rather than free a slot libhomi will write */
    return (PyObject *)fut;
}

static PyObject *file_close(HomiFile *f, PyObject *unused)
{
    homi_file_close_handle(f);
    Py_RETURN_NONE;
}

static PyObject *file_enter(HomiFile *f, PyObject *unused)
{
    if (check_open(f)) return NULL;
    return Py_NewRef(f);
}

static PyObject *file_exit(HomiFile *f, PyObject *args)
{
    homi_file_close_handle(f);
    Py_RETURN_FALSE;
}

static PyObject *file_stats(HomiFile *f, PyObject *unused)
{
    if (check_open(f)) return NULL;
    homi_stats st;
    int rc = homi_file_stats(f->hf, &st);
    if (rc) return homi_raise(rc, "homi_file_stats");
    return homi_stats_dict(&st);
}

static PyObject *file_set_path(HomiFile *f, PyObject *arg)
{
    if (check_open(f)) return NULL;
    const char *v = PyUnicode_AsUTF8(arg);
    if (!v) return NULL;
    int rc = homi_file_set_hint(f->hf, "homi_path", v);
    if (rc) return homi_raise(rc, "homi_path");
    Py_RETURN_NONE;
}

static PyObject *file_path_status(HomiFile *f, PyObject *arg)
{
    if (check_open(f)) return NULL;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name) return NULL;
    int p = -1;
    for (int i = 0; i < HOMI_PATH_COUNT; i++)
        if (HOMI_PATH_IS_IO(i) && !strcmp(name, homi_path_name(i))) p = i;
    if (p < 0) return PyErr_Format(PyExc_ValueError, "unknown path '%s'", name);
    char why[256] = "";
    int rc = homi_file_path_status(f->hf, p, why, sizeof why);
    if (rc < 0) return homi_raise(rc, "homi_file_path_status");
    return Py_BuildValue("(Os)", rc ? Py_True : Py_False, why);
}

static PyObject *file_get_size(HomiFile *f, void *unused)
{
    if (check_open(f)) return NULL;
    int64_t n = homi_file_size(f->hf);
    if (n < 0) return homi_raise(n, "homi_file_size");
    return PyLong_FromLongLong(n);
}

static PyObject *file_get_closed(HomiFile *f, void *unused)
{
    return PyBool_FromLong(f->hf == NULL);
}

static PyObject *file_get_name(HomiFile *f, void *unused)
{
    return Py_NewRef(f->name ? f->name : Py_None);
}

static PyObject *file_get_engine(HomiFile *f, void *unused)
{
    return Py_NewRef(f->engine ? (PyObject *)f->engine : Py_None);
}

static PyMethodDef file_methods[] = {
    {"pread", (PyCFunction)(void (*)(void))file_pread, METH_VARARGS | METH_KEYWORDS,
     "pread(buf, offset=0, size=None) -> int: read into buf (host buffer, "
     "__cuda_array_interface__ or DLPack); bytes read, short only at end of file."},
    {"pread_async", (PyCFunction)(void (*)(void))file_pread_async, METH_VARARGS | METH_KEYWORDS,
     "pread_async(buf, offset=0, size=None) -> Future: queue the read and return at once."},
    {"read_to_stream", (PyCFunction)(void (*)(void))file_read_to_stream,
     METH_VARARGS | METH_KEYWORDS,
     "read_to_stream(buf, offset=0, stream=None, size=None) -> Future: stream-ordered read "
     "into device memory; work queued on stream afterwards sees the bytes."},
    {"close", (PyCFunction)file_close, METH_NOARGS, "Close the file (waits for its reads)."},
    {"__enter__", (PyCFunction)file_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)file_exit, METH_VARARGS, NULL},
    {"stats", (PyCFunction)file_stats, METH_NOARGS, "Per-file statistics as a dict."},
    {"set_path", (PyCFunction)file_set_path, METH_O,
     "set_path('auto'|'kernel'|'passthru'|'device'|'cufile'): per-file homi_path hint."},
    {"path_status", (PyCFunction)file_path_status, METH_O,
     "path_status(name) -> (usable, why): can this file be read on that path?"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef file_getset[] = {
    {"size", (getter)file_get_size, NULL, "Current file size in bytes.", NULL},
    {"closed", (getter)file_get_closed, NULL, "True once closed.", NULL},
    {"name", (getter)file_get_name, NULL, "The path the file was opened with.", NULL},
    {"engine", (getter)file_get_engine, NULL, "The Engine the file belongs to.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject HomiFile_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "homi._homi.File",
    .tp_basicsize = sizeof(HomiFile),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "File(engine, path): a file opened read-only through a HOMI engine.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)file_init,
    .tp_dealloc = (destructor)file_dealloc,
    .tp_methods = file_methods,
    .tp_getset = file_getset,
    .tp_weaklistoffset = offsetof(HomiFile, weakreflist),
};
