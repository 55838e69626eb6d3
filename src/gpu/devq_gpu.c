/* devq_gpu.c - a device queue's device-memory side (see devq_gpu.h). */
#include "gpu/devq_gpu.h"

#ifdef HOMI_HAVE_CUDA
#include <string.h>

#include "core/log.h"
#include "mem/memkind.h"

int homi_devq_gpu_init(struct homi_devq_gpu *g, const homi_devq_config *c, void *dreq, void *ddata,
                       const char *who)
{
    memset(g, 0, sizeof *g);
    const size_t cplb = (size_t)c->slots * sizeof(homi_devq_cpl);
    const size_t orb = (size_t)c->slots * sizeof(unsigned long long);
    const uint32_t running = HOMI_DEVQ_RUNNING;
    int rc = homi_cuda_err(cudaMalloc((void **)&g->d_view, sizeof *g->d_view), who);
    if (!rc) rc = homi_cuda_err(cudaMalloc((void **)&g->d_cpl, cplb), who);
    if (!rc) rc = homi_cuda_err(cudaMalloc((void **)&g->d_state, sizeof running), who);
    if (!rc) rc = homi_cuda_err(cudaMalloc((void **)&g->d_orphan, orb), who);
    if (!rc) rc = homi_cuda_err(cudaMemset(g->d_orphan, 0, orb), who);
    if (!rc) rc = homi_cuda_err(cudaMemset(g->d_cpl, 0, cplb), who);
    if (!rc)
        rc = homi_cuda_err(cudaMemcpy(g->d_state, &running, sizeof running, cudaMemcpyHostToDevice),
                           who);
    if (!rc) rc = homi_cuda_err(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking), who);
    if (rc) return rc;
    g->view.slots = c->slots;
    g->view.inline_max = c->inline_max;
    g->view.timeout_ns = (uint64_t)c->timeout_ms * 1000000ull;
    g->view.req = dreq;
    g->view.cpl = g->d_cpl;
    g->view.data = ddata;
    g->view.state = g->d_state;
    g->view.orphan = g->d_orphan;
    return homi_cuda_err(cudaMemcpy(g->d_view, &g->view, sizeof g->view, cudaMemcpyHostToDevice),
                         who);
}

int homi_devq_gpu_flush(struct homi_devq_gpu *g, const homi_devq_cpl *cpl, uint32_t slots)
{
    cudaError_t e = cudaMemcpyAsync(g->d_cpl, cpl, (size_t)slots * sizeof *cpl,
                                    cudaMemcpyHostToDevice, g->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(g->stream);
    if (e != cudaSuccess) {
        homi_log(HOMI_LOG_ERROR, "devq: completion copy: %s", cudaGetErrorString(e));
        return HOMI_ESYS;
    }
    return HOMI_OK;
}

void homi_devq_gpu_stop(struct homi_devq_gpu *g)
{
    static const uint32_t stopped = HOMI_DEVQ_STOPPED;
    if (!g->d_state || !g->stream) return;
    cudaMemcpyAsync(g->d_state, &stopped, sizeof stopped, cudaMemcpyHostToDevice, g->stream);
    cudaStreamSynchronize(g->stream);
}

void homi_devq_gpu_free(struct homi_devq_gpu *g)
{
    if (g->d_view) cudaFree(g->d_view);
    if (g->d_cpl) cudaFree(g->d_cpl);
    if (g->d_state) cudaFree(g->d_state);
    if (g->d_orphan) cudaFree(g->d_orphan);
    if (g->stream) cudaStreamDestroy(g->stream);
    memset(g, 0, sizeof *g);
}
#else
typedef int homi_devq_gpu_unused; /* CUDA builds only */
#endif
