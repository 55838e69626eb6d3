/* errors.c - homi_err values as Python exceptions: homi.HomiError (an
 * OSError carrying the homi_err in .code and the fitting errno), and
 * subclasses that are also the matching built-in OSError subclass. */
#include <errno.h>

#include "homi_py.h"

PyObject *HomiError;

static const struct {
    int code;
    int err; /* errno, 0: none fits */
    const char *name;
    PyObject **base; /* built-in subclass to inherit too, or NULL */
} map[] = {
    {HOMI_EINVAL, EINVAL, NULL, NULL},
    {HOMI_ENOMEM, ENOMEM, NULL, NULL},
    {HOMI_EIO, EIO, NULL, NULL},
    {HOMI_EBADF, EBADF, NULL, NULL},
    {HOMI_ENOENT, ENOENT, "FileNotFoundError", &PyExc_FileNotFoundError},
    {HOMI_EISDIR, EISDIR, "IsADirectoryError", &PyExc_IsADirectoryError},
    {HOMI_EACCES, EACCES, "PermissionError", &PyExc_PermissionError},
    {HOMI_ERANGE, ERANGE, NULL, NULL},
    {HOMI_EHINT, 0, NULL, NULL},
    {HOMI_EHINTVAL, 0, NULL, NULL},
    {HOMI_ENOTSUP, ENOTSUP, NULL, NULL},
    {HOMI_ESYS, 0, NULL, NULL},
    {HOMI_EBUSY, EBUSY, NULL, NULL},
    {HOMI_ETIMEDOUT, ETIMEDOUT, "TimeoutError", &PyExc_TimeoutError},
    {HOMI_ENOTREG, 0, NULL, NULL},
};
#define NMAP (sizeof map / sizeof map[0])
static PyObject *sub[NMAP];

int homi_errors_init(PyObject *module)
{
    HomiError = PyErr_NewExceptionWithDoc(
        "homi.HomiError",
        "An error from libhomi: .code is the homi_err value (negative), .errno the "
        "matching errno where one fits (else None).",
        PyExc_OSError, NULL);
    if (!HomiError || PyModule_AddObjectRef(module, "HomiError", HomiError) < 0) return -1;
    for (size_t i = 0; i < NMAP; i++) {
        if (!map[i].name) continue;
        char qual[64];
        PyOS_snprintf(qual, sizeof qual, "homi.%s", map[i].name);
        PyObject *bases = PyTuple_Pack(2, HomiError, *map[i].base);
        if (!bases) return -1;
        sub[i] = PyErr_NewException(qual, bases, NULL);
        Py_DECREF(bases);
        if (!sub[i] || PyModule_AddObjectRef(module, map[i].name, sub[i]) < 0) return -1;
    }
    /* the codes as module constants: homi.EINVAL == -1, ... */
    static const char *const names[] = {"EINVAL",  "ENOMEM", "EIO",    "EBADF",     "ENOENT",
                                        "EISDIR",  "EACCES", "ERANGE", "EHINT",     "EHINTVAL",
                                        "ENOTSUP", "ESYS",   "EBUSY",  "ETIMEDOUT", "ENOTREG"};
    for (size_t i = 0; i < NMAP; i++)
        if (PyModule_AddIntConstant(module, names[i], map[i].code) < 0) return -1;
    return 0;
}

PyObject *homi_error_new(int64_t err, const char *what)
{
    int code = err < INT32_MIN ? HOMI_ESYS : (int)err;
    PyObject *type = HomiError;
    int eno = 0;
    for (size_t i = 0; i < NMAP; i++)
        if (map[i].code == code) {
            eno = map[i].err;
            if (sub[i]) type = sub[i];
        }
    PyObject *msg = what ? PyUnicode_FromFormat("%s: %s", what, homi_strerror(code))
                         : PyUnicode_FromString(homi_strerror(code));
    if (!msg) return NULL;
    PyObject *args = eno ? Py_BuildValue("(iN)", eno, msg) : Py_BuildValue("(ON)", Py_None, msg);
    if (!args) return NULL;
    PyObject *exc = PyObject_Call(type, args, NULL);
    Py_DECREF(args);
    if (!exc) return NULL;
    PyObject *c = PyLong_FromLong(code);
    if (!c || PyObject_SetAttrString(exc, "code", c) < 0) {
        Py_XDECREF(c);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(c);
    return exc;
}

PyObject *homi_raise(int64_t err, const char *what)
{
    PyObject *exc = homi_error_new(err, what);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}
