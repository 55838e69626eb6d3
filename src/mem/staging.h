/* staging.h - reads into CUDA device memory through a ring of pinned
 * bounce buffers: storage reads into slot k+1.. while slot k is copied to
 * the GPU with cudaMemcpyAsync; plus the asynchronous and stream-ordered
 * forms; and writes from device memory the other way round.  Builds
 * without CUDA return HOMI_ENOTSUP. */
#ifndef HOMI_MEM_STAGING_H
#define HOMI_MEM_STAGING_H

#include <stddef.h>
#include <stdint.h>

struct homi_fh;
struct homi_engine;

/* Synchronous: bytes read (short only at EOF) or a negative homi_err. */
int64_t homi_staging_read(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                          int path);
/* Asynchronous: completes on the engine's completion queue. */
int homi_staging_submit(struct homi_fh *f, void *dst, size_t len, int64_t off, int device, int path,
                        uint64_t user_data);
/* Stream-ordered: work queued on stream after this call sees the data;
 * *result (host memory) holds the byte count or error once the stream has
 * reached this point. */
int homi_staging_stream(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                        void *stream, int64_t *result);
/* Asynchronous with a callback: cb(arg, bytes or error, path mask) runs on
 * a service thread once the bytes are on the GPU. */
int homi_staging_submit_cb(struct homi_fh *f, void *dst, size_t len, int64_t off, int device,
                           int path, void (*cb)(void *arg, int64_t result, unsigned mask),
                           void *arg);
/* Borrow one pinned slot of the engine's pool (created on first use): its
 * index, with *mem and *size describing it; HOMI_EBUSY when none is free
 * and !block; or another negative homi_err.  Give it back with
 * homi_staging_slot_put. */
int homi_staging_slot_get(struct homi_engine *e, int block, char **mem, size_t *size);
void homi_staging_slot_put(struct homi_engine *e, int slot);
void homi_staging_destroy(struct homi_engine *e);

/* Writes from device memory (staging_write.c): device -> pinned slots ->
 * kernel-path writes.  The result is the written prefix (homi.h). */
struct homi_wrange;
int64_t homi_staging_write(struct homi_fh *f, const void *src, size_t len, int64_t off, int device);
/* Asynchronous: completes on the engine's queue and then ends wr.  On an
 * error return nothing was queued and the caller still owns wr. */
int homi_staging_write_submit(struct homi_fh *f, const void *src, size_t len, int64_t off,
                              int device, struct homi_wrange *wr, uint64_t user_data);
/* Stream-ordered: starts when stream reaches it, holds the stream until the
 * bytes are in the file, *result then set; device < 0: host source. */
int homi_staging_write_stream(struct homi_fh *f, const void *src, size_t len, int64_t off,
                              int device, struct homi_wrange *wr, void *stream, int64_t *result);
/* Allocate the pinned pool and the streams of device now (callers that
 * must not allocate while a kernel runs, e.g. device-initiated queues). */
int homi_staging_prepare(struct homi_engine *e, int device);

#endif
