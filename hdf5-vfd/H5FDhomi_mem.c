/* H5FDhomi_mem.c - what kind of memory a buffer handed to the driver is
 * (cudaPointerGetAttributes in CUDA builds, never guessed), and zero-fill
 * of host or device memory for reads past the end of the file. */
#include <string.h>

#include "H5FDhomi_int.h"

#ifdef HOMI_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <pthread.h>

static int g_usable;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void probe(void)
{
    int n = 0;
    g_usable = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    if (!g_usable) (void)cudaGetLastError();
}

/* Managed memory is host-accessible: HDF5 may touch it, so it counts as
 * host memory here. */
int homi_h5_is_device(const void *p)
{
    if (!p) return 0;
    pthread_once(&g_once, probe);
    if (!g_usable) return 0;
    struct cudaPointerAttributes a;
    cudaError_t e = cudaPointerGetAttributes(&a, p);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* no driver / no device: host memory */
        return 0;
    }
    return a.type == cudaMemoryTypeDevice;
}

int homi_h5_zero(void *p, size_t n)
{
    if (!n) return 0;
    if (homi_h5_is_device(p)) return cudaMemset(p, 0, n) == cudaSuccess ? 0 : -1;
    memset(p, 0, n);
    return 0;
}

#else

int homi_h5_is_device(const void *p)
{
    (void)p;
    return 0;
}

int homi_h5_zero(void *p, size_t n)
{
    memset(p, 0, n);
    return 0;
}

#endif
