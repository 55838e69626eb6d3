/* memkind.c - destination memory detection (cudaPointerGetAttributes), a
 * cheap accessibility probe for host buffers in CUDA processes, where a
 * freed device pointer must give an error, not a crash, and the one
 * mapping of CUDA errors to homi_err codes (homi_cuda_err). */
#include "mem/memkind.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"

#ifdef HOMI_HAVE_CUDA
#include <cuda_runtime_api.h>

static int usable;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void probe(void)
{
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    usable = err == cudaSuccess && n > 0;
    if (!usable) cudaGetLastError();
    homi_log(HOMI_LOG_INFO, "CUDA: %d device(s)%s%s", usable ? n : 0, err ? ": " : "",
             err ? cudaGetErrorString(err) : "");
}

int homi_cuda_usable(void)
{
    pthread_once(&once, probe);
    return usable;
}

int homi_cuda_err(int err, const char *what)
{
    cudaError_t e = (cudaError_t)err;
    if (e == cudaSuccess) return HOMI_OK;
    homi_log(HOMI_LOG_ERROR, "%s: %s", what, cudaGetErrorString(e));
    cudaGetLastError(); /* clear a non-sticky error for the next call */
    switch (e) {
    case cudaErrorMemoryAllocation: return HOMI_ENOMEM;
    case cudaErrorInvalidValue:
    case cudaErrorInvalidDevicePointer: return HOMI_EINVAL;
    default: return HOMI_ESYS;
    }
}

/* Readable from this process?  process_vm_readv checks page protections
 * without faulting (a PROT_NONE CUDA reservation reads as EFAULT). */
static int host_readable(const void *buf, size_t len)
{
    char b[2];
    struct iovec l[2] = {{&b[0], 1}, {&b[1], 1}};
    struct iovec r[2] = {{(void *)buf, 1}, {(char *)buf + len - 1, 1}};
    return process_vm_readv(getpid(), l, 2, r, 2, 0) == 2;
}
#else
int homi_cuda_usable(void)
{
    return 0;
}
#endif

int homi_mem_resolve(const void *buf, size_t len, homi_mem_kind hint, int *device)
{
    int kind = HOMI_MEM_HOST;
    *device = -1;
#ifdef HOMI_HAVE_CUDA
    if (homi_cuda_usable()) {
        struct cudaPointerAttributes a;
        if (cudaPointerGetAttributes(&a, buf) != cudaSuccess) {
            cudaGetLastError();
        } else if (a.type == cudaMemoryTypeDevice) {
            kind = HOMI_MEM_DEVICE;
            *device = a.device;
        } else if (a.type == cudaMemoryTypeHost) {
            kind = HOMI_MEM_PINNED;
        }
        if (kind != HOMI_MEM_DEVICE && len && !host_readable(buf, len)) {
            homi_log(HOMI_LOG_DEBUG, "buffer %p+%zu is neither device memory nor accessible", buf,
                     len);
            return HOMI_EINVAL;
        }
    } else if (hint == HOMI_MEM_DEVICE) {
        return HOMI_ENOTSUP;
    }
#else
    (void)len;
    if (hint == HOMI_MEM_DEVICE) return HOMI_ENOTSUP; /* built without CUDA */
#endif
    if (hint == HOMI_MEM_DEVICE && kind != HOMI_MEM_DEVICE) return HOMI_EINVAL;
    if (hint == HOMI_MEM_PINNED && kind != HOMI_MEM_PINNED) return HOMI_EINVAL;
    if (hint == HOMI_MEM_HOST && kind == HOMI_MEM_DEVICE) return HOMI_EINVAL;
    return kind;
}
