/* dest.c - turns the Python object a read goes into (buffer protocol,
 * __cuda_array_interface__, DLPack) into a pointer, a length and a memory
 * kind, refusing read-only, non-contiguous and object-typed destinations. */
#include <string.h>

#include "dlpack.h"
#include "homi_py.h"

/* Are strides (in bytes) those of a C-contiguous array of this shape? */
static int c_contiguous(int ndim, const int64_t *shape, const int64_t *strides, int64_t itemsize)
{
    int64_t want = itemsize;
    for (int i = ndim - 1; i >= 0; i--) {
        if (shape[i] == 0) return 1; /* empty: any strides */
        if (shape[i] != 1 && strides[i] != want) return 0;
        want *= shape[i];
    }
    return 1;
}

static int from_buffer(PyObject *obj, homi_dest *d)
{
    if (PyObject_GetBuffer(obj, &d->view, PyBUF_RECORDS_RO) < 0) return -1;
    d->has_view = 1;
    if (d->view.readonly) {
        PyErr_Format(PyExc_TypeError, "destination %.80s is read-only", Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (!PyBuffer_IsContiguous(&d->view, 'C')) {
        PyErr_SetString(PyExc_ValueError,
                        "destination is not C-contiguous (pass a contiguous array or a copy)");
        return -1;
    }
    if (d->view.format && strchr(d->view.format, 'O')) {
        PyErr_SetString(PyExc_TypeError, "destination holds Python objects (dtype object)");
        return -1;
    }
    d->ptr = d->view.buf;
    d->len = (size_t)d->view.len;
    d->mem = HOMI_MEM_AUTO;
    return 0;
}

static int64_t seq_int(PyObject *seq, Py_ssize_t i, int *bad)
{
    PyObject *v = PySequence_GetItem(seq, i);
    if (!v) {
        *bad = 1;
        return 0;
    }
    long long x = PyLong_AsLongLong(v);
    Py_DECREF(v);
    if (x == -1 && PyErr_Occurred()) *bad = 1;
    return x;
}

/* __cuda_array_interface__ (versions 0-3): shape, typestr, data, strides. */
static int from_cai(PyObject *obj, PyObject *cai, homi_dest *d)
{
    if (!PyDict_Check(cai)) {
        PyErr_SetString(PyExc_TypeError, "__cuda_array_interface__ is not a dict");
        return -1;
    }
    PyObject *shape = PyDict_GetItemString(cai, "shape");
    PyObject *typestr = PyDict_GetItemString(cai, "typestr");
    PyObject *data = PyDict_GetItemString(cai, "data");
    PyObject *strides = PyDict_GetItemString(cai, "strides");
    PyObject *mask = PyDict_GetItemString(cai, "mask");
    if (!shape || !typestr || !data || !PyTuple_Check(shape) || !PyUnicode_Check(typestr) ||
        !PyTuple_Check(data) || PyTuple_GET_SIZE(data) != 2) {
        PyErr_SetString(PyExc_TypeError, "malformed __cuda_array_interface__");
        return -1;
    }
    if (mask && mask != Py_None) {
        PyErr_SetString(PyExc_TypeError, "masked arrays are not supported as destinations");
        return -1;
    }
    const char *ts = PyUnicode_AsUTF8(typestr);
    if (!ts) return -1;
    if (strlen(ts) < 3 || ts[1] == 'O') {
        PyErr_Format(PyExc_TypeError, "unsupported destination type '%s'", ts);
        return -1;
    }
    int64_t itemsize = atoll(ts + 2);
    if (itemsize <= 0) {
        PyErr_Format(PyExc_TypeError, "unsupported destination type '%s'", ts);
        return -1;
    }
    if (PyObject_IsTrue(PyTuple_GET_ITEM(data, 1))) {
        PyErr_Format(PyExc_TypeError, "destination %.80s is read-only", Py_TYPE(obj)->tp_name);
        return -1;
    }
    int ndim = (int)PyTuple_GET_SIZE(shape), bad = 0;
    if (ndim > 64) {
        PyErr_SetString(PyExc_ValueError, "too many dimensions");
        return -1;
    }
    int64_t sh[64], st[64], n = itemsize;
    for (int i = 0; i < ndim; i++) {
        sh[i] = seq_int(shape, i, &bad);
        n *= sh[i];
    }
    if (strides && strides != Py_None) {
        if (!PyTuple_Check(strides) || PyTuple_GET_SIZE(strides) != ndim) {
            PyErr_SetString(PyExc_TypeError, "malformed strides in __cuda_array_interface__");
            return -1;
        }
        for (int i = 0; i < ndim; i++)
            st[i] = seq_int(strides, i, &bad);
        if (!bad && !c_contiguous(ndim, sh, st, itemsize)) {
            PyErr_SetString(PyExc_ValueError,
                            "destination is not C-contiguous (pass a contiguous array or a copy)");
            return -1;
        }
    }
    /* v3 "stream": None = no synchronisation needed, else the stream the
     * producer works on; before v3 the legacy default stream is assumed */
    PyObject *stream = PyDict_GetItemString(cai, "stream");
    d->sync = stream != Py_None;
    if (stream && stream != Py_None) {
        if (!PyLong_Check(stream)) {
            PyErr_SetString(PyExc_TypeError, "malformed stream in __cuda_array_interface__");
            return -1;
        }
        d->stream = PyLong_AsVoidPtr(stream);
    }
    uintptr_t ptr = (uintptr_t)PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(data, 0));
    if (bad || PyErr_Occurred()) return -1;
    d->ptr = (void *)ptr;
    d->len = (size_t)(n < 0 ? 0 : n);
    d->mem = HOMI_MEM_DEVICE;
    d->owner = Py_NewRef(obj);
    return 0;
}

static void dlpack_drop(homi_dest *d)
{
    if (!d->dlm && !d->dlv) return;
        /* a deleter may run Python code (a producer's refcounts): keep a
         * pending exception out of its way */
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
#endif
    if (d->dlm && d->dlm->deleter) d->dlm->deleter(d->dlm);
    if (d->dlv && d->dlv->deleter) d->dlv->deleter(d->dlv);
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(type, value, tb);
#endif
    d->dlm = NULL;
    d->dlv = NULL;
}

/* A "dltensor" (DLPack 0.x) or "dltensor_versioned" (1.x) capsule: consumed
 * (renamed "used_..."); its tensor is deleted when the read is over. */
static int from_capsule(PyObject *cap, homi_dest *d)
{
    if (PyCapsule_IsValid(cap, "used_dltensor") ||
        PyCapsule_IsValid(cap, "used_dltensor_versioned")) {
        PyErr_SetString(PyExc_ValueError, "DLPack capsule was already consumed");
        return -1;
    }
    const DLTensor *t;
    if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
        DLManagedTensorVersioned *v = PyCapsule_GetPointer(cap, "dltensor_versioned");
        if (!v) return -1;
        if (v->version.major != 1) {
            PyErr_Format(PyExc_TypeError, "DLPack version %u.%u is not supported (1.x is)",
                         (unsigned)v->version.major, (unsigned)v->version.minor);
            return -1;
        }
        if (PyCapsule_SetName(cap, "used_dltensor_versioned") < 0) return -1;
        d->dlv = v;
        d->owner = Py_NewRef(cap);
        if (v->flags & DLPACK_FLAG_READ_ONLY) {
            PyErr_SetString(PyExc_TypeError, "destination DLPack tensor is read-only");
            return -1;
        }
        t = &v->dl_tensor;
    } else if (PyCapsule_IsValid(cap, "dltensor")) {
        DLManagedTensor *m = PyCapsule_GetPointer(cap, "dltensor");
        if (!m || PyCapsule_SetName(cap, "used_dltensor") < 0) return -1;
        d->dlm = m;
        d->owner = Py_NewRef(cap);
        t = &m->dl_tensor;
    } else {
        PyErr_SetString(PyExc_TypeError,
                        "capsule is not a DLPack tensor (\"dltensor\" or \"dltensor_versioned\")");
        return -1;
    }
    switch (t->device.device_type) {
    case kDLCPU:
    case kDLCUDAHost: d->mem = HOMI_MEM_AUTO; break;
    case kDLCUDA: /* exported for the legacy default stream (stream=None) */
        d->mem = HOMI_MEM_DEVICE;
        d->sync = 1;
        break;
    case kDLCUDAManaged:
        d->mem = HOMI_MEM_AUTO;
        d->sync = 1;
        break;
    default:
        PyErr_Format(PyExc_TypeError, "DLPack device type %d is not host or CUDA memory",
                     (int)t->device.device_type);
        return -1;
    }
    if (t->dtype.code == kDLOpaqueHandle || t->ndim < 0 || t->ndim > 64) {
        PyErr_SetString(PyExc_TypeError, "unsupported DLPack tensor type");
        return -1;
    }
    int64_t itemsize = ((int64_t)t->dtype.bits * t->dtype.lanes + 7) / 8, n = itemsize;
    int64_t st[64];
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    if (t->strides) {
        for (int i = 0; i < t->ndim; i++)
            st[i] = t->strides[i] * itemsize;
        if (!c_contiguous(t->ndim, t->shape, st, itemsize)) {
            PyErr_SetString(PyExc_ValueError,
                            "destination is not C-contiguous (pass a contiguous array or a copy)");
            return -1;
        }
    }
    d->ptr = (char *)t->data + t->byte_offset;
    d->len = (size_t)(n < 0 ? 0 : n);
    return 0;
}

int homi_dest_acquire(PyObject *obj, homi_dest *d)
{
    memset(d, 0, sizeof *d);
    int rc;
    if (PyCapsule_CheckExact(obj)) {
        rc = from_capsule(obj, d);
        goto out;
    }
    /* device arrays first: CuPy also has a buffer slot, which refuses */
    PyObject *cai = PyObject_GetAttrString(obj, "__cuda_array_interface__");
    if (cai) {
        rc = from_cai(obj, cai, d);
        Py_DECREF(cai);
        goto out;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
    PyErr_Clear();
    if (PyObject_CheckBuffer(obj)) {
        rc = from_buffer(obj, d);
        goto out;
    }
    /* ask for a DLPack 1.x capsule (read-only flag, version); producers
     * that predate max_version raise TypeError: ask again without it */
    PyObject *meth = PyObject_GetAttrString(obj, "__dlpack__"), *cap = NULL;
    if (meth) {
        PyObject *kw = Py_BuildValue("{s:(ii)}", "max_version", 1, 0);
        PyObject *noargs = PyTuple_New(0);
        cap = kw && noargs ? PyObject_Call(meth, noargs, kw) : NULL;
        Py_XDECREF(noargs);
        Py_XDECREF(kw);
        if (!cap && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            cap = PyObject_CallNoArgs(meth);
        }
        Py_DECREF(meth);
    }
    if (!cap) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "cannot read into %.80s: it exposes neither a writable buffer, "
                     "__cuda_array_interface__ nor __dlpack__",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    rc = from_capsule(cap, d);
    Py_DECREF(cap);
    if (rc == 0) Py_SETREF(d->owner, Py_NewRef(obj)); /* keep the producer alive too */
out:
    if (rc < 0) homi_dest_release(d);
    return rc;
}

void homi_dest_release(homi_dest *d)
{
    if (d->has_view) PyBuffer_Release(&d->view);
    d->has_view = 0;
    dlpack_drop(d);
    Py_CLEAR(d->owner);
}

int homi_dest_sync(const homi_dest *d, void *skip)
{
    if (!d->sync || !d->len) return HOMI_OK;
    uintptr_t s = (uintptr_t)d->stream, k = (uintptr_t)skip;
    if (s == k || (s <= 1 && k <= 1)) return HOMI_OK; /* 0 and 1: both the legacy stream */
    int device = -1;
    /* the legacy and per-thread default streams are per device */
    if (s <= 2 && homi_mem_kind_of(d->ptr, d->len, &device) != HOMI_MEM_DEVICE) device = -1;
    int rc = homi_cuda_stream_sync(d->stream, device);
    return rc == HOMI_ENOTSUP ? HOMI_OK : rc;
}
