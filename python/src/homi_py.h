/* homi_py.h - declarations shared by the files of the homi CPython extension
 * (homi._homi): the object layouts of Engine, File and Future, the
 * destination-buffer record, and the helpers each file exports. */
#ifndef HOMI_PY_H
#define HOMI_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <stdint.h>

#include "homi.h"

struct DLManagedTensor;

/* A destination of a read: host memory (buffer protocol, DLPack CPU) or
 * CUDA device memory (__cuda_array_interface__, DLPack CUDA), held until
 * the read is over. */
typedef struct homi_dest {
    void *ptr;
    size_t len;
    homi_mem_kind mem; /* HOMI_MEM_HOST/AUTO for host memory, DEVICE for GPU */
    int has_view;
    Py_buffer view;                       /* buffer protocol export (has_view)       */
    PyObject *owner;                      /* object kept alive (array, capsule)      */
    struct DLManagedTensor *dlm;          /* consumed DLPack tensor, deleted at end  */
    struct DLManagedTensorVersioned *dlv; /* the same, DLPack 1.x capsule */
    int sync;                             /* the producer's stream must be drained first */
    void *stream;                         /* that stream (NULL: legacy default stream)   */
} homi_dest;

/* Fill d from obj; -1 with a Python exception set (TypeError for a
 * read-only or unsupported object, ValueError for a non-contiguous one). */
int homi_dest_acquire(PyObject *obj, homi_dest *d);
/* Give back what homi_dest_acquire took (GIL held). */
void homi_dest_release(homi_dest *d);
/* Wait for the producer's stream of a device destination (CUDA array
 * interface v3 "stream", legacy default stream for older versions and
 * DLPack), unless it is skip; called without the GIL.  HOMI_OK or a
 * negative homi_err (HOMI_ENOTSUP, no CUDA, counts as done). */
int homi_dest_sync(const homi_dest *d, void *skip);

typedef struct HomiFile HomiFile;

typedef struct HomiEngine {
    PyObject_HEAD homi_engine *eng; /* NULL once closed                   */
    homi_config *cfg;
    PyThread_type_lock collect; /* one thread collects completions at a time */
    HomiFile *files;            /* open File objects (borrowed), closed with the engine */
    PyObject *streams;          /* list of stream-ordered Futures not yet seen done */
    PyObject *weakreflist;
    /* Threads inside libhomi calls on eng or its files with the GIL released
     * (changed with the GIL held): close() waits for them before it destroys
     * eng, which must not race with them (it frees the files too). */
    int busy;
    unsigned long closer; /* thread running close() (0: none) */
} HomiEngine;

struct HomiFile {
    PyObject_HEAD HomiEngine *engine; /* strong reference                  */
    homi_file *hf;                    /* NULL once closed                  */
    PyObject *name;
    HomiFile *next, *prev; /* in engine->files while open */
    PyObject *weakreflist;
    int busy; /* reads on hf in progress with the GIL released: closing waits */
};

typedef struct HomiFuture {
    PyObject_HEAD HomiEngine *engine;
    HomiFile *file;
    homi_dest dest;
    int64_t *slot; /* stream-ordered read: libhomi writes the result here */
    int64_t result;
    int done;   /* set (collect lock held) when result is final */
    int stream; /* 1: homi_read_to_stream, 0: homi_submit */
    int has_dest;
    uint32_t path_mask;
} HomiFuture;

extern PyTypeObject HomiEngine_Type;
extern PyTypeObject HomiFile_Type;
extern PyTypeObject HomiFuture_Type;

/* errors.c */
extern PyObject *HomiError;
int homi_errors_init(PyObject *module);
/* Raise the exception for a negative homi_err value; returns NULL. */
PyObject *homi_raise(int64_t err, const char *what);
/* The same exception as a new object, not raised (NULL on failure). */
PyObject *homi_error_new(int64_t err, const char *what);

/* stats.c */
PyObject *homi_stats_dict(const homi_stats *s);

/* engine.c: collect completions for up to timeout_ms (0: poll, -1: block
 * until at least one) and complete their Futures.  -1 with an exception
 * set when interrupted by a signal. */
int homi_engine_collect(HomiEngine *e, int timeout_ms);
/* Wait until f is done or timeout_s (< 0: forever) passes; 1 done, 0
 * timed out, -1 with an exception set. */
int homi_engine_wait_future(HomiEngine *e, HomiFuture *f, double timeout_s);
/* Check that e is open; 0 or -1 with ValueError set. */
int homi_engine_check(HomiEngine *e);
/* Wait (GIL released meanwhile) until *busy, a count changed with the GIL
 * held, drops to 0. */
void homi_wait_idle(const int *busy);

/* future.c */
HomiFuture *homi_future_new(HomiFile *file);
/* Stream-ordered future: is libhomi's result in yet?  Finishes it if so. */
int homi_future_stream_poll(HomiFuture *f);

/* file.c: close f's libhomi handle (GIL released while waiting). */
void homi_file_close_handle(HomiFile *f);

#endif /* HOMI_PY_H */
