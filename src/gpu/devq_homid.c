/* devq_homid.c - the client's side of a GPU device queue served by homid
 * (cplane/homid_devq.h): the region in a memfd, registered for the GPU;
 * the device-side parts (completions, state, counters) as for an in-process
 * queue; the queue created, files exported and revoked through homid; and
 * the pump thread, woken by homid's eventfd, that copies bulk chunks into
 * their device destinations, posts those completions and copies the
 * completion array to the GPU.  When homid is lost the queue stops (GPU
 * waits return HOMI_EBUSY): the requests are homid's to serve. */
#include "gpu/devq_homid.h"

#ifdef HOMI_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client/homid_client.h"
#include "core/engine.h"
#include "core/log.h"
#include "cplane/homid_devq.h"
#include "gpu/devq_gpu.h"
#include "mem/memkind.h"

#define cuda_rc(e, what) homi_cuda_err((e), "devq (homid): " what)

struct homi_devq_remote {
    homi_engine *eng;
    struct homi_client *cl;
    int device;
    uint32_t queue;
    struct homid_dq_hdr lay;
    char *base;
    int memfd, efd, registered;
    struct homi_devq_gpu g; /* device view, completions, state (devq_gpu.c) */
    struct homid_dq_pump pump;
    pthread_t th;
    int th_ok;
    atomic_int stop, lost;
    _Atomic uint64_t flushes;
};

/* ---------------------------------------------------------------- pump */

static int copy_chunk(void *arg, void *dst, const void *src, size_t len)
{
    struct homi_devq_remote *r = arg;
    struct cudaPointerAttributes a;
    /* large requests land in device memory of this queue's GPU, as in-process */
    if (cudaPointerGetAttributes(&a, dst) != cudaSuccess || a.type != cudaMemoryTypeDevice ||
        a.device != r->device) {
        cudaGetLastError();
        return HOMI_EINVAL;
    }
    return cuda_rc(cudaMemcpyAsync(dst, src, len, cudaMemcpyHostToDevice, r->g.stream),
                   "chunk copy");
}

static int sync_copies(void *arg)
{
    struct homi_devq_remote *r = arg;
    return cuda_rc(cudaStreamSynchronize(r->g.stream), "chunk copies");
}

static void *pump_main(void *arg)
{
    struct homi_devq_remote *r = arg;
    struct homid_dq_hdr *h = (struct homid_dq_hdr *)r->base;
    const homi_devq_cpl *cpl = (const homi_devq_cpl *)(r->base + r->lay.cpl_off);
    cudaSetDevice(r->device);
    while (!atomic_load(&r->stop)) {
        struct pollfd p = {r->efd, POLLIN, 0};
        int n = poll(&p, 1, 100);
        if (n > 0) {
            uint64_t v;
            (void)!read(r->efd, &v, sizeof v);
        }
        if (homi_client_lost(r->cl)) { /* nobody serves the ring any more */
            if (!atomic_exchange(&r->lost, 1)) {
                homi_log(HOMI_LOG_WARN, "devq (homid): homid lost: GPU queue stopped");
                homi_devq_gpu_stop(&r->g);
            }
            continue;
        }
        if (n <= 0 && !atomic_load(&h->kick)) continue;
        atomic_store(&h->kick, 0); /* before looking: a later post wakes us again */
        homid_dq_pump_run(&r->pump);
        homi_devq_gpu_flush(&r->g, cpl, r->lay.slots);
        atomic_fetch_add(&r->flushes, 1);
    }
    return NULL;
}

/* ---------------------------------------------------------------- API */

static void remote_free(struct homi_devq_remote *r)
{
    if (r->th_ok) {
        atomic_store(&r->stop, 1);
        pthread_join(r->th, NULL);
    }
    if (r->queue && !homi_client_lost(r->cl))
        homi_client_devq_op(r->cl, HOMID_DQ_DESTROY, r->queue, 0, 0, NULL);
    homid_dq_pump_free(&r->pump);
    homi_devq_gpu_free(&r->g);
    if (r->registered) cudaHostUnregister(r->base);
    if (r->base) munmap(r->base, r->lay.size);
    if (r->memfd >= 0) close(r->memfd);
    if (r->efd >= 0) close(r->efd);
    free(r);
}

int homi_devq_remote_create(homi_engine *eng, int device, const homi_devq_config *c,
                            struct homi_devq_remote **out)
{
    struct homi_engine *e = (struct homi_engine *)eng;
    *out = NULL;
    if (!e->client || homi_client_lost(e->client) || !e->cfg.devq_daemon) return HOMI_ENOTSUP;
    struct homi_devq_remote *r = calloc(1, sizeof *r);
    if (!r) return HOMI_ENOMEM;
    r->eng = eng;
    r->cl = e->client;
    r->device = device;
    r->memfd = r->efd = -1;
    char why[160];
    /* bulk chunks: the engine's staging size, 8 of them */
    uint32_t cs = (uint32_t)(e->cfg.staging_size < HOMID_DQ_CHUNK_MAX ? e->cfg.staging_size
                                                                      : HOMID_DQ_CHUNK_MAX);
    cs = cs < HOMID_DQ_CHUNK_MIN ? HOMID_DQ_CHUNK_MIN : cs & ~4095u;
    int rc = homid_dq_layout(c->slots, c->inline_max, 8, cs, &r->lay, why, sizeof why);
    if (rc) {
        homi_log(HOMI_LOG_WARN, "devq (homid): %s", why);
        remote_free(r);
        return rc;
    }
    r->memfd = memfd_create("homi-devq", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->memfd < 0 || r->efd < 0 || ftruncate(r->memfd, (off_t)r->lay.size) ||
        fcntl(r->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
        homi_log(HOMI_LOG_WARN, "devq (homid): region: %s", strerror(errno));
        remote_free(r);
        return HOMI_ESYS;
    }
    void *m = mmap(NULL, r->lay.size, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
    if (m == MAP_FAILED) {
        remote_free(r);
        return HOMI_ESYS;
    }
    r->base = m;
    homi_devq_req *req = (homi_devq_req *)(r->base + r->lay.req_off);
    for (unsigned i = 0; i < c->slots; i++)
        req[i].seq = 2 * i;
    memcpy(r->base, &r->lay, sizeof r->lay);
    rc = cuda_rc(cudaSetDevice(device), "cudaSetDevice");
    if (!rc)
        rc = cuda_rc(cudaHostRegister(r->base, r->lay.size,
                                      cudaHostRegisterMapped | cudaHostRegisterPortable),
                     "cudaHostRegister(region)");
    r->registered = !rc;
    void *dreq = NULL, *ddata = NULL;
    if (!rc) rc = cuda_rc(cudaHostGetDevicePointer(&dreq, req, 0), "cudaHostGetDevicePointer");
    if (!rc)
        rc = cuda_rc(cudaHostGetDevicePointer(&ddata, r->base + r->lay.data_off, 0),
                     "cudaHostGetDevicePointer");
    if (!rc) rc = homi_devq_gpu_init(&r->g, c, dreq, ddata, "devq (homid): device memory");
    if (!rc) rc = homid_dq_pump_init(&r->pump, &r->lay, r->base);
    if (rc) {
        remote_free(r);
        return rc;
    }
    r->pump.copy = copy_chunk;
    r->pump.sync = sync_copies;
    r->pump.arg = r;
    struct homid_devq_create p = {c->slots,          c->inline_max, r->lay.chunks,
                                  r->lay.chunk_size, c->threads,    0,
                                  c->max_request,    r->lay.size};
    unsigned threads = 0;
    rc = homi_client_devq_create(r->cl, &p, r->memfd, r->efd, &r->queue, &threads);
    if (!rc) {
        if (pthread_create(&r->th, NULL, pump_main, r))
            rc = HOMI_ESYS;
        else
            r->th_ok = 1;
    }
    if (rc) {
        remote_free(r);
        return rc;
    }
    homi_log(HOMI_LOG_INFO,
             "devq: GPU %d, %u slots, %u B inline, served by homid (queue %u, %u threads)", device,
             c->slots, c->inline_max, r->queue, threads);
    *out = r;
    return HOMI_OK;
}

homi_devq_dev *homi_devq_remote_device(struct homi_devq_remote *r)
{
    return r->g.d_view;
}

int homi_devq_remote_export(struct homi_devq_remote *r, homi_file *f, homi_dev_file *cap)
{
    struct homi_fh *fh = homi_file_lookup(f);
    if (!fh) return HOMI_EBADF;
    if (fh->eng != (struct homi_engine *)r->eng) return HOMI_EINVAL;
    uint32_t id = homi_client_file_id(r->cl, fh);
    if (!id) {
        homi_log(HOMI_LOG_WARN, "devq (homid): %s is not served by homid: cannot be exported",
                 fh->path);
        return HOMI_ENOTSUP;
    }
    uint64_t c = 0;
    int rc = homi_client_devq_op(r->cl, HOMID_DQ_EXPORT, r->queue, id, 0, &c);
    if (!rc) *cap = c;
    return rc;
}

int homi_devq_remote_revoke(struct homi_devq_remote *r, homi_dev_file cap)
{
    return homi_client_devq_op(r->cl, HOMID_DQ_REVOKE, r->queue, 0, cap, NULL);
}

int homi_devq_remote_pause(struct homi_devq_remote *r, int pause)
{
    return homi_client_devq_op(r->cl, HOMID_DQ_PAUSE, r->queue, 0, pause ? 1 : 0, NULL);
}

int homi_devq_remote_stats(struct homi_devq_remote *r, homi_devq_stats *o)
{
    struct homid_dq_hdr *h = (struct homid_dq_hdr *)r->base;
    o->requests = atomic_load(&h->requests);
    o->bytes = atomic_load(&h->bytes);
    o->errors = atomic_load(&h->errors);
    o->inline_reqs = atomic_load(&h->inline_reqs);
    o->direct_reqs = atomic_load(&h->bulk_reqs);
    o->batches = atomic_load(&h->batches);
    o->max_batch = atomic_load(&h->max_batch);
    o->torn = atomic_load(&h->torn);
    return HOMI_OK;
}

void homi_devq_remote_destroy(struct homi_devq_remote *r)
{
    if (!r) return;
    homi_devq_gpu_stop(&r->g); /* GPU waits end with HOMI_EBUSY */
    remote_free(r);
}
#else
typedef int homi_devq_homid_unused; /* CUDA builds only */
#endif
