// copy_kernel.cu - device-to-device copies done by the GPU's SMs instead of
// its copy engines.  homi_mem_copyv sends here the runs whose source and
// destination are both device memory of the stream's GPU (cudaMalloc'd or
// mapped by CUDA IPC), so that they do not queue on the copy engines behind
// the host-to-device copies of the staging pipeline (a collective read
// moves a window's pieces between ranks while the next window is staged
// in).  Opt-in, HOMI_D2D_COPY=sm (memapi.c): verified on an H200, it gave
// no reliable speed-up there (bench/results/2026-12-01-coll-gpu-h200-*).
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

// Copy rows rows of w bytes (a multiple of sizeof(T); d, s, dp and sp
// aligned to it): row r from s + r * sp to d + r * dp.
template <typename T>
__global__ void copy_rows(char *d, size_t dp, const char *s, size_t sp, size_t w, size_t rows)
{
    const size_t wn = w / sizeof(T);
    const size_t step = (size_t)gridDim.x * blockDim.x;
    for (size_t r = blockIdx.y; r < rows; r += gridDim.y) {
        T *dr = reinterpret_cast<T *>(d + r * dp);
        const T *sr = reinterpret_cast<const T *>(s + r * sp);
        for (size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x; c < wn; c += step)
            dr[c] = sr[c];
    }
}

// Blocks in flight per launch (a few per SM on current GPUs): enough to
// keep HBM busy, few enough that other processes' work is not starved.
#define MAX_BLOCKS 4096
#define THREADS 256

extern "C" cudaError_t homi_copy_rows_sm(void *d, size_t dp, const void *s, size_t sp, size_t w,
                                         size_t rows, cudaStream_t st)
{
    if (!w || !rows) return cudaSuccess;
    uintptr_t a = (uintptr_t)d | (uintptr_t)s | (uintptr_t)w;
    if (rows > 1) a |= (uintptr_t)dp | (uintptr_t)sp;
    const size_t v = a % 16 == 0 ? 16 : a % 8 == 0 ? 8 : a % 4 == 0 ? 4 : 1;
    size_t bx = (w / v + THREADS - 1) / THREADS;
    if (bx > MAX_BLOCKS) bx = MAX_BLOCKS;
    size_t by = MAX_BLOCKS / bx;
    if (by > rows) by = rows;
    if (by > 65535) by = 65535;
    if (by < 1) by = 1;
    dim3 grid((unsigned)bx, (unsigned)by);
    char *dc = static_cast<char *>(d);
    const char *sc = static_cast<const char *>(s);
    switch (v) {
    case 16: copy_rows<uint4><<<grid, THREADS, 0, st>>>(dc, dp, sc, sp, w, rows); break;
    case 8: copy_rows<uint2><<<grid, THREADS, 0, st>>>(dc, dp, sc, sp, w, rows); break;
    case 4: copy_rows<unsigned><<<grid, THREADS, 0, st>>>(dc, dp, sc, sp, w, rows); break;
    default: copy_rows<unsigned char><<<grid, THREADS, 0, st>>>(dc, dp, sc, sp, w, rows); break;
    }
    return cudaGetLastError();
}
