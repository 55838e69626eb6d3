/* devq_gpu.h - the device-memory side of a device queue, shared by the
 * in-process queue (devq.c) and the homid-served one (devq_homid.c): the
 * device view kernels take, the completion array GPU threads poll, the
 * queue's state and abandoned-ticket marks, and the stream that copies the
 * host's completions there.  CUDA builds only. */
#ifndef HOMI_GPU_DEVQ_GPU_H
#define HOMI_GPU_DEVQ_GPU_H

#ifdef HOMI_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "homi_cuda.h"

struct homi_devq_gpu {
    homi_devq_dev view;    /* what d_view holds */
    homi_devq_dev *d_view; /* the pointer kernels take */
    homi_devq_cpl *d_cpl;
    uint32_t *d_state;
    unsigned long long *d_orphan;
    cudaStream_t stream; /* non-blocking: copies run beside the kernels */
};

/* Allocate and fill it for queue config c whose request ring and inline
 * data the GPU sees at dreq and ddata (on the current device).  0 or a
 * homi_err (what was allocated is freed by homi_devq_gpu_free). */
int homi_devq_gpu_init(struct homi_devq_gpu *g, const homi_devq_config *c, void *dreq, void *ddata,
                       const char *who);
/* Copy the host's completion array (slots entries) to the GPU and wait. */
int homi_devq_gpu_flush(struct homi_devq_gpu *g, const homi_devq_cpl *cpl, uint32_t slots);
/* Mark the queue stopped: GPU waits end with HOMI_EBUSY. */
void homi_devq_gpu_stop(struct homi_devq_gpu *g);
void homi_devq_gpu_free(struct homi_devq_gpu *g);
#endif

#endif
