/* memkind.h - where a destination buffer lives (pageable host, pinned host,
 * CUDA device memory), detected with cudaPointerGetAttributes in CUDA
 * builds, never guessed; and how CUDA errors become homi_err codes. */
#ifndef HOMI_MEM_MEMKIND_H
#define HOMI_MEM_MEMKIND_H

#include <stddef.h>

#include "homi.h"

/* Resolve the kind of [buf, buf+len) against the caller's hint.  Returns
 * HOMI_MEM_HOST, HOMI_MEM_PINNED or HOMI_MEM_DEVICE (then *device is the
 * CUDA ordinal), or a negative homi_err: HOMI_ENOTSUP for device memory in
 * a build or on a machine without CUDA, HOMI_EINVAL when the hint
 * contradicts what the buffer is, or the buffer is not accessible. */
int homi_mem_resolve(const void *buf, size_t len, homi_mem_kind hint, int *device);

/* 1 when this build has CUDA and at least one device is usable. */
int homi_cuda_usable(void);

/* CUDA builds: map a cudaError_t to a homi_err (HOMI_OK for cudaSuccess;
 * out of memory HOMI_ENOMEM, bad value or pointer HOMI_EINVAL, anything
 * else HOMI_ESYS), logging "<what>: <CUDA's message>" on failure. */
int homi_cuda_err(int err, const char *what);

#endif
