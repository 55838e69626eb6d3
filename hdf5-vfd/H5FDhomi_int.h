/* H5FDhomi_int.h - internal declarations shared by the files of H5FD_homi:
 * the driver's file structure, HDF5 version switches, error reporting onto
 * the HDF5 error stack, the engine cache and destination-memory helpers. */
#ifndef H5FDHOMI_INT_H
#define H5FDHOMI_INT_H

#include <sys/types.h>

#include "H5FDhomi.h"

/* HDF5 1.14 moved the driver class into H5FDdevelop.h and added a version,
 * a value, vector/selection I/O, del and ctl; 1.10 and 1.12 share one
 * layout.  1.13 (development series) is not supported. */
#if H5_VERSION_GE(1, 14, 0)
#define HOMI_H5_114 1
#include <H5FDdevelop.h>
#include <H5PLextern.h>
#else
#define HOMI_H5_114 0
#endif

/* One open file. */
typedef struct H5FD_homi_t {
    H5FD_t pub;       /* public fields, must be first         */
    int fd;           /* plain descriptor: eof, truncate, lock, handle */
    homi_file *hf;    /* the HOMI file: every read and write  */
    homi_engine *eng; /* shared: homi_h5_engine_get */
    haddr_t eoa;      /* end of allocated region              */
    haddr_t eof;      /* end of file                          */
    dev_t dev;        /* identity, for cmp                    */
    ino_t ino;
    int writable;
    hbool_t ignore_disabled_locks;
    H5FD_homi_config_t cfg;
    int cfg_from_fapl; /* the fapl carried driver info (else defaults) */
    char *name;
} H5FD_homi_t;

/* ---- errors: entries on the HDF5 error stack under the class "HOMI" */
void homi_h5_err(const char *func, int line, hid_t maj, hid_t min, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define HOMI_H5_ERR(maj, min, ...) homi_h5_err(__func__, __LINE__, maj, min, __VA_ARGS__)
void homi_h5_err_term(void);

/* ---- configuration and engines (H5FDhomi_config.c) */
/* Build a homi_config from cfg (defaults, env unless NO_ENV, hints).
 * 0 or a negative homi_err; *bad names the offending hint. */
int homi_h5_config_build(const H5FD_homi_config_t *cfg, homi_config **out, char *bad,
                         size_t badlen);
/* Parse "key=value" hints text; check the version.  0 or -1 with an error
 * pushed onto the HDF5 stack. */
int homi_h5_config_check(const H5FD_homi_config_t *cfg);

/* The shared engine for cfg (homi_engine_acquire), or NULL with an error
 * on the HDF5 stack; give it back with homi_engine_release. */
homi_engine *homi_h5_engine_get(const H5FD_homi_config_t *cfg);

/* ---- destination memory (H5FDhomi_mem.c) */
/* 1 when p is CUDA device memory (not managed), else 0 (always 0 in builds
 * without CUDA). */
int homi_h5_is_device(const void *p);
/* Deferred device reads inside H5FD_homi_dread (H5FDhomi_defer.c): reads
 * into [buf, buf + span) (memory of kind mem: device memory, host memory in
 * tests) are recorded and read together at the end. */
void homi_h5_defer_begin(const void *buf, size_t span, homi_mem_kind mem);
/* Set the most pieces recorded before they are read (0: keep); returns the
 * previous bound (tests use a small one). */
size_t homi_h5_defer_limit(size_t max);
/* 1: recorded; 0: not deferred, read it now; -1: error on the stack. */
int homi_h5_defer_read(H5FD_homi_t *f, haddr_t addr, size_t size, void *buf);
/* Read what is recorded and stop deferring; 0 or -1 (error on the stack). */
herr_t homi_h5_defer_end(void);
/* The selection fast path of H5FD_homi_dread (H5FDhomi_sel.c): 1 when it
 * read the selection into buf (memory of kind mem), 0 when the selection
 * is not one it maps (use H5Dread), -1 on error (on the HDF5 stack).  The
 * caller has checked the dataset (H5FD_homi_dread_check's rules). */
int homi_h5_sel_read(hid_t dset, hid_t mem_type, hid_t mem_space, hid_t file_space, void *buf,
                     homi_mem_kind mem);
/* Zero n bytes at p (host or device); 0 or -1. */
int homi_h5_zero(void *p, size_t n);

/* Can HDF5 hand buf to the driver untouched for this dataset transfer?
 * (H5FDhomi_dread.c; write: H5Dwrite rules.)  1 yes, 0 no (reason in
 * why), -1 error. */
htri_t homi_h5_dset_check(hid_t dset, hid_t mem_type, hid_t file_space, hid_t dxpl, int write,
                          char *why, size_t whylen);
/* Deferred device writes inside H5FD_homi_dwrite (H5FDhomi_dwrite.c):
 * 1 submitted asynchronously, 0 not deferred (write it now). */
int homi_h5_dwrite_defer(H5FD_homi_t *f, haddr_t addr, size_t size, const void *buf);

/* The driver's file of an open file id (open with H5FD_homi), or NULL
 * (H5FDhomi.c). */
H5FD_homi_t *homi_h5_file_of(hid_t file_id);

/* The driver class (H5FDhomi.c). */
extern const H5FD_class_t H5FD_homi_class_g;

#endif
