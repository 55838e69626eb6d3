/* module.c - the homi._homi module: its types, exceptions, version and the
 * module-level functions (cuda_available, info, path names). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "homi_py.h"

static PyObject *m_cuda_available(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(homi_cuda_available());
}

static PyObject *m_strerror(PyObject *self, PyObject *arg)
{
    int code = PyLong_AsLong(arg);
    if (code == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(homi_strerror(code));
}

/* info(engine, path, sync, max_extents, hints) -> str: homi_info_print's
 * report (engine None: a temporary engine from the HOMI_* environment). */
static PyObject *m_info(PyObject *self, PyObject *args)
{
    PyObject *eobj, *pobj, *path = NULL;
    int sync = 0, hints = 0;
    Py_ssize_t max = 64;
    if (!PyArg_ParseTuple(args, "OO|pnp:info", &eobj, &pobj, &sync, &max, &hints)) return NULL;
    if (max < 0) return PyErr_Format(PyExc_ValueError, "max_extents must be >= 0");
    homi_engine *eng = NULL, *own = NULL;
    int rc = 0;
    if (eobj != Py_None) {
        if (!PyObject_TypeCheck(eobj, &HomiEngine_Type))
            return PyErr_Format(PyExc_TypeError, "engine must be a homi.Engine or None");
        if (homi_engine_check((HomiEngine *)eobj)) return NULL;
        eng = ((HomiEngine *)eobj)->eng;
    }
    if (pobj != Py_None && !PyUnicode_FSConverter(pobj, &path)) return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&text, &len);
    if (!o) {
        Py_XDECREF(path);
        return PyErr_NoMemory();
    }
    const char *p = path ? PyBytes_AS_STRING(path) : NULL;
    HomiEngine *e = eobj != Py_None ? (HomiEngine *)eobj : NULL;
    if (e) e->busy++; /* closing it waits for homi_info_print */
    Py_BEGIN_ALLOW_THREADS;
    if (!eng) rc = homi_engine_create(NULL, &own);
    if (!rc) {
        if (!eng) eng = own;
        homi_info_print(eng, NULL, hints ? HOMI_INFO_HINTS : 0, 0, o);
        if (p) rc = homi_info_print(eng, p, sync ? HOMI_INFO_SYNC : 0, (size_t)max, o);
    }
    if (own) homi_engine_destroy(own);
    fclose(o);
    Py_END_ALLOW_THREADS;
    if (e) e->busy--;
    PyObject *res = NULL;
    if (rc)
        homi_raise(rc, p ? p : "homi_engine_create");
    else
        res = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
    free(text);
    Py_XDECREF(path);
    return res;
}

static PyMethodDef module_methods[] = {
    {"info", m_info, METH_VARARGS,
     "info(engine, path, sync=False, max_extents=64, hints=False) -> str: the homi-info report."},
    {"cuda_available", m_cuda_available, METH_NOARGS,
     "True when libhomi was built with CUDA and a GPU is usable."},
    {"strerror", m_strerror, METH_O, "Text of a homi_err code."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "homi._homi",
    .m_doc = "C extension of the homi package (use the homi package, not this module).",
    .m_size = -1,
    .m_methods = module_methods,
};

static int add_type(PyObject *m, PyTypeObject *t, const char *name)
{
    if (PyType_Ready(t) < 0) return -1;
    return PyModule_AddObjectRef(m, name, (PyObject *)t);
}

static int add_names(PyObject *m, const char *attr, const char *(*fn)(int), int n)
{
    PyObject *t = PyTuple_New(n);
    if (!t) return -1;
    for (int i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(fn(i));
        if (!s) {
            Py_DECREF(t);
            return -1;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    int rc = PyModule_AddObjectRef(m, attr, t);
    Py_DECREF(t);
    return rc;
}

PyMODINIT_FUNC PyInit__homi(void); /* the module entry point */

PyMODINIT_FUNC PyInit__homi(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    if (add_type(m, &HomiEngine_Type, "Engine") || add_type(m, &HomiFile_Type, "File") ||
        add_type(m, &HomiFuture_Type, "Future") || homi_errors_init(m) ||
        PyModule_AddStringConstant(m, "libhomi_version", homi_version()) ||
        add_names(m, "PATHS", homi_path_name, HOMI_PATH_COUNT) ||
        add_names(m, "FALLBACKS", homi_fallback_name, HOMI_FB_COUNT)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
