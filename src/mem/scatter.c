/* scatter.c - window buffers and scatter of scattered reads (scatter.h):
 * host windows are malloc'd and scattered with memcpy; device windows are
 * pinned staging slots whose runs are copied to GPU memory by one kernel
 * launch per window (scatter_kernel.cu), the slot returning to the pool
 * when an event recorded after the launch has completed. */
#include "mem/scatter.h"

#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "homi.h"
#include "mem/memkind.h"
#include "mem/staging.h"

#ifdef HOMI_HAVE_CUDA
#include <cuda_runtime_api.h>
cudaError_t homi_scatter_runs_launch(const void *win, const void *runs, size_t nruns,
                                     cudaStream_t st);
#endif

#define HOST_BUFS 4

struct homi_scatter {
    struct homi_engine *e;
    int device; /* -1: host memory */
    uint64_t win_bytes;
    int err;
    char *hbuf[HOST_BUFS];
    int hused[HOST_BUFS];
#ifdef HOMI_HAVE_CUDA
    int prev_device;
    cudaStream_t st;
    unsigned cap, head, n; /* FIFO of slots whose copies are in flight */
    int *slot;
    cudaEvent_t *ev; /* one per FIFO position, created on first use */
#endif
};

/* Row by row, for host windows and for device windows read short: rows
 * (or their parts) past got are missing. */
typedef int (*copy_fn)(struct homi_scatter *s, char *dst, const char *src, uint64_t n);
typedef int (*zero_fn)(struct homi_scatter *s, char *dst, uint64_t n);

static int by_rows(struct homi_scatter *s, const char *buf, const struct homi_pp_group *g,
                   const struct homi_pp_run *runs, uint64_t got, int zero_eof, uint64_t *missing,
                   copy_fn copy, zero_fn zero)
{
    for (size_t i = 0; i < g->nruns; i++) {
        const struct homi_pp_run *r = &runs[g->run0 + i];
        for (uint32_t row = 0; row < r->count; row++) {
            uint64_t src = r->src + (uint64_t)row * r->spitch;
            char *dst = (char *)(uintptr_t)(r->dst + (uint64_t)row * r->dpitch);
            uint64_t valid = got > src ? got - src : 0;
            if (valid > r->len) valid = r->len;
            int rc = valid ? copy(s, dst, buf + src, valid) : HOMI_OK;
            if (!rc && valid < r->len) {
                *missing += r->len - valid;
                if (zero_eof) rc = zero(s, dst + valid, r->len - valid);
            }
            if (rc) return rc;
        }
    }
    return HOMI_OK;
}

static int host_copy(struct homi_scatter *s, char *dst, const char *src, uint64_t n)
{
    (void)s;
    memcpy(dst, src, n);
    return HOMI_OK;
}

static int host_zero(struct homi_scatter *s, char *dst, uint64_t n)
{
    (void)s;
    memset(dst, 0, n);
    return HOMI_OK;
}

#ifdef HOMI_HAVE_CUDA
static int dev_copy(struct homi_scatter *s, char *dst, const char *src, uint64_t n)
{
    return homi_cuda_err(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, s->st),
                         "cudaMemcpyAsync(window row)");
}

static int dev_zero(struct homi_scatter *s, char *dst, uint64_t n)
{
    return homi_cuda_err(cudaMemsetAsync(dst, 0, n, s->st), "cudaMemsetAsync");
}
#endif

int homi_scatter_open(struct homi_engine *e, int device, uint64_t win_bytes,
                      struct homi_scatter **out)
{
    struct homi_scatter *s = calloc(1, sizeof *s);
    if (!s) return HOMI_ENOMEM;
    s->e = e;
    s->device = device;
    s->win_bytes = win_bytes;
    if (device < 0) {
        *out = s;
        return HOMI_OK;
    }
#ifdef HOMI_HAVE_CUDA
    if (2 * win_bytes > e->cfg.staging_size) {
        free(s);
        return HOMI_EINVAL;
    }
    s->prev_device = -1;
    if (cudaGetDevice(&s->prev_device) != cudaSuccess) {
        cudaGetLastError();
        s->prev_device = -1;
    }
    s->cap = e->cfg.staging_buffers;
    s->slot = calloc(s->cap, sizeof *s->slot);
    s->ev = calloc(s->cap, sizeof *s->ev);
    int rc = s->slot && s->ev ? HOMI_OK : HOMI_ENOMEM;
    if (!rc) rc = homi_cuda_err(cudaSetDevice(device), "cudaSetDevice");
    if (!rc)
        rc = homi_cuda_err(cudaStreamCreateWithFlags(&s->st, cudaStreamNonBlocking),
                           "cudaStreamCreate");
    if (rc) {
        if (s->prev_device >= 0) cudaSetDevice(s->prev_device);
        free(s->slot);
        free(s->ev);
        free(s);
        return rc;
    }
    *out = s;
    return HOMI_OK;
#else
    free(s);
    return HOMI_ENOTSUP;
#endif
}

int homi_scatter_get(struct homi_scatter *s, int block, char **buf)
{
    if (s->device < 0) {
        for (int i = 0; i < HOST_BUFS; i++) {
            if (s->hused[i]) continue;
            if (!s->hbuf[i] && !(s->hbuf[i] = malloc(s->win_bytes))) return HOMI_ENOMEM;
            s->hused[i] = 1;
            *buf = s->hbuf[i];
            return i;
        }
        return HOMI_EBUSY; /* the caller holds them all: it never blocks here */
    }
#ifdef HOMI_HAVE_CUDA
    size_t size;
    return homi_staging_slot_get(s->e, block, buf, &size);
#else
    (void)block;
    return HOMI_ENOTSUP;
#endif
}

void homi_scatter_drop(struct homi_scatter *s, int id)
{
    if (s->device < 0) {
        if (id >= 0 && id < HOST_BUFS) s->hused[id] = 0;
        return;
    }
    homi_staging_slot_put(s->e, id);
}

int homi_scatter_put(struct homi_scatter *s, int id, char *buf, const struct homi_pp_group *g,
                     const struct homi_pp_run *runs, uint64_t got, int zero_eof, uint64_t *missing)
{
    if (s->device < 0) {
        int rc = by_rows(s, buf, g, runs, got, zero_eof, missing, host_copy, host_zero);
        homi_scatter_drop(s, id);
        return rc;
    }
#ifdef HOMI_HAVE_CUDA
    int rc;
    if (got >= g->len) {
        /* the runs go after the window in the same pinned slot */
        void *rt = buf + s->win_bytes;
        memcpy(rt, &runs[g->run0], g->nruns * sizeof *runs);
        rc = homi_cuda_err(homi_scatter_runs_launch(buf, rt, g->nruns, s->st), "scatter kernel");
    } else {
        rc = by_rows(s, buf, g, runs, got, zero_eof, missing, dev_copy, dev_zero);
    }
    unsigned pos = (s->head + s->n) % s->cap;
    if (!rc && !s->ev[pos])
        rc = homi_cuda_err(cudaEventCreateWithFlags(&s->ev[pos], cudaEventDisableTiming),
                           "cudaEventCreate");
    if (!rc) rc = homi_cuda_err(cudaEventRecord(s->ev[pos], s->st), "cudaEventRecord");
    if (rc) {
        /* nothing of ours may still read the slot: wait before giving it back */
        cudaStreamSynchronize(s->st);
        cudaGetLastError();
        homi_scatter_drop(s, id);
        return rc;
    }
    s->slot[pos] = id;
    s->n++;
    return HOMI_OK;
#else
    (void)id;
    (void)buf;
    (void)g;
    (void)runs;
    (void)got;
    (void)zero_eof;
    (void)missing;
    return HOMI_ENOTSUP;
#endif
}

int homi_scatter_retire(struct homi_scatter *s)
{
#ifdef HOMI_HAVE_CUDA
    if (s->device < 0 || !s->n) return 0;
    int rc = homi_cuda_err(cudaEventSynchronize(s->ev[s->head]), "scatter copies");
    if (rc && !s->err) s->err = rc;
    homi_staging_slot_put(s->e, s->slot[s->head]);
    s->head = (s->head + 1) % s->cap;
    s->n--;
    return 1;
#else
    (void)s;
    return 0;
#endif
}

int homi_scatter_zero(struct homi_scatter *s, char *dst, uint64_t len)
{
    if (!len) return HOMI_OK;
    if (s->device < 0) return host_zero(s, dst, len);
#ifdef HOMI_HAVE_CUDA
    return dev_zero(s, dst, len);
#else
    return HOMI_ENOTSUP;
#endif
}

int homi_scatter_close(struct homi_scatter *s)
{
    if (!s) return HOMI_OK;
    for (int i = 0; i < HOST_BUFS; i++)
        free(s->hbuf[i]);
#ifdef HOMI_HAVE_CUDA
    if (s->device >= 0) {
        while (homi_scatter_retire(s)) {}
        int rc = homi_cuda_err(cudaStreamSynchronize(s->st), "scatter stream");
        if (rc && !s->err) s->err = rc;
        cudaStreamDestroy(s->st);
        for (unsigned i = 0; i < s->cap; i++)
            if (s->ev[i]) cudaEventDestroy(s->ev[i]);
        free(s->ev);
        free(s->slot);
        if (s->prev_device >= 0) cudaSetDevice(s->prev_device);
    }
#endif
    int err = s->err;
    free(s);
    return err;
}
