/* memapi.c - the public memory helpers (homi_mem_*, homi_ipc_*): kind
 * detection, allocation, batched copies between memory kinds and CUDA IPC,
 * so that front-ends need not link the CUDA runtime themselves. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "homi.h"
#include "mem/memkind.h"

#ifdef HOMI_HAVE_CUDA
#include <cuda_runtime_api.h>

/* Helpers switch the calling thread's current device only while they
 * work: the caller's device is restored before they return. */
static int cur_device(void)
{
    int d = -1;
    if (cudaGetDevice(&d) != cudaSuccess) {
        cudaGetLastError();
        return -1;
    }
    return d;
}

static void restore_device(int d)
{
    if (d >= 0) cudaSetDevice(d);
}

/* One copy stream per device and thread (created on first use). */
#define MAX_DEV 64
static _Thread_local cudaStream_t streams[MAX_DEV];

static int stream_for(int device, cudaStream_t *s)
{
    if (device < 0 && homi_cuda_err(cudaGetDevice(&device), "cudaGetDevice")) return HOMI_EIO;
    if (device >= MAX_DEV) return HOMI_EINVAL;
    int rc = homi_cuda_err(cudaSetDevice(device), "cudaSetDevice");
    if (rc) return rc;
    if (!streams[device]) {
        rc = homi_cuda_err(cudaStreamCreateWithFlags(&streams[device], cudaStreamNonBlocking),
                           "cudaStreamCreate");
        if (rc) return rc;
    }
    *s = streams[device];
    return HOMI_OK;
}
#endif

int homi_mem_kind_of(const void *buf, size_t len, int *device)
{
    int dev = -1;
    if (!buf || !device) return HOMI_EINVAL;
    int k = homi_mem_resolve(buf, len, HOMI_MEM_AUTO, &dev);
    *device = dev;
    return k;
}

int homi_mem_alloc(homi_mem_kind kind, int device, size_t len, void **out)
{
    if (!out || !len) return HOMI_EINVAL;
    *out = NULL;
    switch (kind) {
    case HOMI_MEM_HOST: *out = malloc(len); return *out ? HOMI_OK : HOMI_ENOMEM;
    case HOMI_MEM_PINNED:
#ifdef HOMI_HAVE_CUDA
        if (homi_cuda_usable())
            return homi_cuda_err(cudaHostAlloc(out, len, cudaHostAllocPortable), "cudaHostAlloc");
#endif
        *out = malloc(len);
        return *out ? HOMI_OK : HOMI_ENOMEM;
    case HOMI_MEM_DEVICE:
#ifdef HOMI_HAVE_CUDA
        if (!homi_cuda_usable()) return HOMI_ENOTSUP;
        int prev = cur_device(), rc = HOMI_OK;
        if (device >= 0) rc = homi_cuda_err(cudaSetDevice(device), "cudaSetDevice");
        if (!rc) rc = homi_cuda_err(cudaMalloc(out, len), "cudaMalloc");
        restore_device(prev);
        return rc;
#else
        return HOMI_ENOTSUP;
#endif
    default: return HOMI_EINVAL;
    }
}

void homi_mem_free(homi_mem_kind kind, void *p)
{
    if (!p) return;
#ifdef HOMI_HAVE_CUDA
    if (kind == HOMI_MEM_DEVICE) {
        homi_cuda_err(cudaFree(p), "cudaFree");
        return;
    }
    if (kind == HOMI_MEM_PINNED && homi_cuda_usable()) {
        homi_cuda_err(cudaFreeHost(p), "cudaFreeHost");
        return;
    }
#endif
    free(p);
}

#ifdef HOMI_HAVE_CUDA
/* Pitches above this are copied piece by piece (cudaMemcpy2D's limit). */
#define MAX_PITCH ((ptrdiff_t)1 << 30)

/* copy_kernel.cu: rows copied by the SMs of the stream's GPU. */
cudaError_t homi_copy_rows_sm(void *d, size_t dp, const void *s, size_t sp, size_t w, size_t rows,
                              cudaStream_t st);

/* HOMI_D2D_COPY: "engine" (default: cudaMemcpy on the copy engines) or
 * "sm" (device-to-device runs on one GPU are copied by a kernel; verified
 * on an H200, no reliable speed-up for the collective read measured). */
static int d2d_by_sm(void)
{
    static atomic_int v = -1;
    int x = atomic_load(&v);
    if (x >= 0) return x;
    const char *e = getenv("HOMI_D2D_COPY");
    x = 0;
    if (e && !strcmp(e, "sm"))
        x = 1;
    else if (e && *e && strcmp(e, "engine"))
        homi_log(HOMI_LOG_ERROR,
                 "environment HOMI_D2D_COPY=\"%s\": expected engine or sm; using engine", e);
    atomic_store(&v, x);
    return x;
}

/* Memory of GPU dev (cudaMalloc'd there, or mapped there by CUDA IPC). */
static int on_gpu(const void *p, int dev)
{
    struct cudaPointerAttributes at;
    if (cudaPointerGetAttributes(&at, p) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return at.type == cudaMemoryTypeDevice && at.device == dev;
}

/* rows rows of w bytes, row r from s + r * sp to d + r * dp, on stream st
 * of GPU dev: by the SMs when both sides are that GPU's memory, else by
 * the copy engines. */
static int copy_rows(void *d, size_t dp, const void *s, size_t sp, size_t w, size_t rows, int dev,
                     cudaStream_t st)
{
    if (d2d_by_sm() && on_gpu(d, dev) && on_gpu(s, dev))
        return homi_cuda_err(homi_copy_rows_sm(d, dp, s, sp, w, rows, st), "device copy kernel");
    if (rows == 1)
        return homi_cuda_err(cudaMemcpyAsync(d, s, w, cudaMemcpyDefault, st), "cudaMemcpyAsync");
    return homi_cuda_err(cudaMemcpy2DAsync(d, dp, s, sp, w, rows, cudaMemcpyDefault, st),
                         "cudaMemcpy2DAsync");
}

/* Issue the pieces from *i on as few copies as possible and advance *i:
 * a run of pieces that continue each other (next source byte, next
 * destination byte) is one copy; a run of equal-length pieces with constant
 * source and destination strides is one cudaMemcpy2DAsync (a subarray's
 * rows); anything else one cudaMemcpyAsync. */
static int copy_run(unsigned n, void *const *dst, const void *const *src, const size_t *len,
                    unsigned *i, int dev, cudaStream_t s)
{
    unsigned a = *i, j = a + 1;
    char *d0 = dst[a];
    const char *s0 = src[a];
    size_t l = len[a];
    if (!l) {
        *i = j;
        return HOMI_OK;
    }
    while (j < n && (char *)dst[j] == d0 + l && (const char *)src[j] == s0 + l)
        l += len[j++];
    if (j == a + 1 && j < n && len[j] == l) {
        ptrdiff_t dp = (char *)dst[j] - d0, sp = (const char *)src[j] - s0;
        if (dp >= (ptrdiff_t)l && sp >= (ptrdiff_t)l && dp <= MAX_PITCH && sp <= MAX_PITCH) {
            while (j < n && len[j] == l && (char *)dst[j] - (char *)dst[j - 1] == dp &&
                   (const char *)src[j] - (const char *)src[j - 1] == sp)
                j++;
            *i = j;
            return copy_rows(d0, (size_t)dp, s0, (size_t)sp, l, j - a, dev, s);
        }
    }
    *i = j;
    return copy_rows(d0, l, s0, l, l, 1, dev, s);
}
#endif

int homi_mem_copyv(unsigned n, void *const *dst, const void *const *src, const size_t *len,
                   int device)
{
    if (n && (!dst || !src || !len)) return HOMI_EINVAL;
#ifdef HOMI_HAVE_CUDA
    if (homi_cuda_usable()) {
        cudaStream_t s;
        int prev = cur_device();
        int rc = stream_for(device, &s);
        if (rc) {
            restore_device(prev);
            return rc;
        }
        int dev = cur_device(); /* the stream's */
        for (unsigned i = 0; i < n && !rc;)
            rc = copy_run(n, dst, src, len, &i, dev, s);
        int rs = homi_cuda_err(cudaStreamSynchronize(s), "cudaStreamSynchronize");
        restore_device(prev);
        return rc ? rc : rs;
    }
#else
    (void)device;
#endif
    for (unsigned i = 0; i < n; i++)
        if (len[i]) memcpy(dst[i], src[i], len[i]);
    return HOMI_OK;
}

int homi_ipc_export(void *dev_base, homi_ipc_handle *out)
{
    if (!dev_base || !out) return HOMI_EINVAL;
#ifdef HOMI_HAVE_CUDA
    if (!homi_cuda_usable()) return HOMI_ENOTSUP;
    _Static_assert(sizeof(cudaIpcMemHandle_t) == sizeof out->bytes, "cudaIpcMemHandle_t size");
    cudaIpcMemHandle_t h;
    int rc = homi_cuda_err(cudaIpcGetMemHandle(&h, dev_base), "cudaIpcGetMemHandle");
    if (!rc) memcpy(out->bytes, &h, sizeof h);
    return rc;
#else
    return HOMI_ENOTSUP;
#endif
}

int homi_ipc_open(const homi_ipc_handle *hd, int device, void **out)
{
    if (!hd || !out) return HOMI_EINVAL;
    *out = NULL;
#ifdef HOMI_HAVE_CUDA
    if (!homi_cuda_usable()) return HOMI_ENOTSUP;
    cudaIpcMemHandle_t h;
    memcpy(&h, hd->bytes, sizeof h);
    if (device >= 0) {
        int rc = homi_cuda_err(cudaSetDevice(device), "cudaSetDevice");
        if (rc) return rc;
    }
    return homi_cuda_err(cudaIpcOpenMemHandle(out, h, cudaIpcMemLazyEnablePeerAccess),
                         "cudaIpcOpenMemHandle");
#else
    (void)device;
    return HOMI_ENOTSUP;
#endif
}

int homi_ipc_close(void *mapped)
{
    if (!mapped) return HOMI_EINVAL;
#ifdef HOMI_HAVE_CUDA
    return homi_cuda_err(cudaIpcCloseMemHandle(mapped), "cudaIpcCloseMemHandle");
#else
    return HOMI_ENOTSUP;
#endif
}

int homi_ipc_peer_ok(int device, int peer)
{
    if (device < 0 || peer < 0) return 0;
    if (device == peer) return 1;
#ifdef HOMI_HAVE_CUDA
    if (!homi_cuda_usable()) return 0;
    int ok = 0;
    if (cudaDeviceCanAccessPeer(&ok, device, peer) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return ok != 0;
#else
    return 0;
#endif
}

int homi_cuda_stream_sync(void *cuda_stream, int device)
{
#ifdef HOMI_HAVE_CUDA
    if (!homi_cuda_usable()) return HOMI_ENOTSUP;
    int prev = -1;
    if (device >= 0 && cudaGetDevice(&prev) == cudaSuccess && prev != device)
        cudaSetDevice(device);
    else
        prev = -1;
    int rc =
        homi_cuda_err(cudaStreamSynchronize((cudaStream_t)cuda_stream), "cudaStreamSynchronize");
    if (prev >= 0) cudaSetDevice(prev);
    return rc;
#else
    (void)cuda_stream;
    (void)device;
    return HOMI_ENOTSUP;
#endif
}
