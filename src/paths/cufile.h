/* cufile.h - the cuFile (GPUDirect Storage) path: libcufile is loaded with
 * dlopen at run time, never linked.  Reports whether cuFile runs in true
 * GDS mode (nvidia-fs loaded) or compat mode. */
#ifndef HOMI_PATHS_CUFILE_H
#define HOMI_PATHS_CUFILE_H

#include <stddef.h>
#include <stdint.h>

struct homi_fh;
struct homi_engine;

/* Should a device-destination read of f go to cuFile?  want is the
 * requested path (HOMI_PATH_AUTO or an id).  1 yes, 0 no; a request for
 * cuFile that cannot be honoured is counted as path-unavailable. */
int homi_cufile_choose(struct homi_fh *f, int want);
/* Read into device memory with cuFileRead; bytes or a negative homi_err. */
int64_t homi_cufile_read(struct homi_fh *f, void *dst, size_t len, int64_t off, int device);
/* "gds", "compat", or "unavailable" (with the reason in the path's why). */
const char *homi_cufile_mode(const struct homi_engine *e);

#endif
