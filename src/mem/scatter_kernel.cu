// scatter_kernel.cu - the copy kernel of scattered reads into GPU memory
// (homi_read_pieces): one launch per sieve window moves the window's
// pieces from the pinned window buffer (read directly over the bus: the
// buffer is mapped pinned memory) to their device destinations.  One warp
// copies one run (a 2-D block of at most a few KiB, see pieces_plan.h);
// the run table itself is read from pinned memory too.
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

// Same layout as struct homi_pp_run in src/core/pieces_plan.h.
struct pp_run {
    uint64_t src;
    uint64_t dst;
    uint32_t len, count;
    uint32_t spitch, dpitch;
};
static_assert(sizeof(pp_run) == 32, "pp_run layout");

template <typename T> __device__ void copy_run(const char *win, const pp_run &r, unsigned lane)
{
    const uint32_t w = r.len / sizeof(T);
    const uint64_t total = (uint64_t)w * r.count;
    for (uint64_t u = lane; u < total; u += 32) {
        const uint64_t row = u / w, col = u % w;
        const T *s = reinterpret_cast<const T *>(win + r.src + row * r.spitch) + col;
        T *d = reinterpret_cast<T *>(r.dst + row * r.dpitch) + col;
        *d = *s;
    }
}

__global__ void scatter_runs(const char *win, const pp_run *runs, size_t nruns)
{
    const unsigned lane = threadIdx.x & 31;
    const size_t warps = (size_t)gridDim.x * (blockDim.x / 32);
    for (size_t i = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; i < nruns;
         i += warps) {
        const pp_run r = runs[i];
        uint64_t a = ((uint64_t)(uintptr_t)win + r.src) | r.dst | r.len;
        if (r.count > 1) a |= (uint64_t)r.spitch | r.dpitch;
        if (a % 16 == 0)
            copy_run<uint4>(win, r, lane);
        else if (a % 8 == 0)
            copy_run<uint2>(win, r, lane);
        else if (a % 4 == 0)
            copy_run<unsigned>(win, r, lane);
        else
            copy_run<unsigned char>(win, r, lane);
    }
}

#define THREADS 256
#define MAX_BLOCKS 8192

extern "C" cudaError_t homi_scatter_runs_launch(const void *win, const void *runs, size_t nruns,
                                                cudaStream_t st)
{
    if (!nruns) return cudaSuccess;
    size_t blocks = (nruns + THREADS / 32 - 1) / (THREADS / 32);
    if (blocks > MAX_BLOCKS) blocks = MAX_BLOCKS;
    scatter_runs<<<(unsigned)blocks, THREADS, 0, st>>>(static_cast<const char *>(win),
                                                       static_cast<const pp_run *>(runs), nruns);
    return cudaGetLastError();
}
