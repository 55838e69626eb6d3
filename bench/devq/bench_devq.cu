// bench_devq.cu - random 4 KiB reads issued by GPU threads (device-
// initiated path, homi_cuda.h) against the same reads issued by host
// threads with io_uring (HOMI's kernel path, homi_submit) into pinned
// memory, each batch then copied to the GPU with cudaMemcpyAsync.  Same
// file, same engine settings, same number of host threads (service threads
// = issuing threads, and the same kernel-path worker count); page-cache
// resident and cold (O_DIRECT, caches dropped) data.  Prints a table and CSV.
//
//   homi-bench-devq [--file PATH] [--size GiB] [--reads N] [--host-threads H]
//                   [--gpu-threads G] [--mode cached|cold|both] [--csv FILE]
//                   [--slots N]   (the GPU queue's slots, default 16384)
#include <cuda_runtime.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "homi.h"
#include "homi_cuda.h"

#define REC 4096u
#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_));                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

__host__ __device__ static inline uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* record index of read i (both sides read the same sequence) */
__host__ __device__ static inline uint64_t rec_of(uint64_t i, uint64_t nrec, uint64_t seed)
{
    return mix(i ^ seed) % nrec;
}

__global__ void k_gather(homi_devq_dev *q, homi_dev_file f, uint8_t *out, uint64_t nreads,
                         uint64_t nrec, uint64_t seed, unsigned long long *errors, uint64_t *last)
{
    uint64_t g = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    uint64_t G = (uint64_t)gridDim.x * blockDim.x;
    uint8_t *dst = out + g * REC;
    for (uint64_t i = g; i < nreads; i += G) {
        uint64_t r = rec_of(i, nrec, seed);
        int64_t got = homi_dev_read(q, f, dst, REC, (int64_t)(r * REC));
        if (got != REC) atomicAdd(errors, 1ull);
        last[g] = r;
    }
}

struct hctx {
    homi_engine *eng;
    homi_file *f;
    uint8_t *pinned, *dev;
    uint64_t first, n, nrec, seed;
    int err;
};

static void *host_issue(void *arg)
{
    struct hctx *x = (struct hctx *)arg;
    const uint64_t B = 256;
    homi_io io[256];
    homi_completion c[256];
    cudaStream_t s;
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    for (uint64_t i = x->first; i < x->first + x->n; i += B) {
        unsigned k = (unsigned)(x->first + x->n - i < B ? x->first + x->n - i : B);
        for (unsigned j = 0; j < k; j++) {
            uint64_t r = rec_of(i + j, x->nrec, x->seed);
            io[j] = (homi_io){x->f, x->pinned + (size_t)j * REC, REC, (int64_t)(r * REC),
                              j,    {HOMI_MEM_PINNED, 0, 0}};
        }
        if (homi_submit(x->eng, io, k) != (int)k) x->err++;
        unsigned got = 0;
        while (got < k) {
            int w = homi_wait(x->eng, c + got, 1, k - got, 10000);
            if (w <= 0) {
                x->err++;
                break;
            }
            got += (unsigned)w;
        }
        for (unsigned j = 0; j < got; j++)
            if (c[j].result != REC) x->err++;
        cudaMemcpyAsync(x->dev, x->pinned, (size_t)k * REC, cudaMemcpyHostToDevice, s);
        cudaStreamSynchronize(s);
    }
    cudaStreamDestroy(s);
    return NULL;
}

static void drop_cache(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    int d = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (d >= 0) {
        if (write(d, "1", 1) < 0) {}
        close(d);
    }
}

static homi_engine *engine(int direct, unsigned threads)
{
    homi_config *c = homi_config_new();
    char t[16];
    snprintf(t, sizeof t, "%u", threads);
    homi_config_set(c, "homi_threads", t);
    homi_config_set(c, "homi_direct", direct ? "on" : "off");
    homi_config_set(c, "homi_queue_depth", "128");
    homi_engine *e;
    if (homi_engine_create(c, &e)) {
        fprintf(stderr, "engine\n");
        exit(1);
    }
    homi_config_free(c);
    return e;
}

int main(int argc, char **argv)
{
    const char *path = "/var/tmp/homi-devq-bench.dat", *csv = NULL, *mode = "both";
    uint64_t gib = 4, nreads = 1u << 20;
    unsigned H = 4, G = 65536, slots = 16384;
    static struct option o[] = {
        {"file", 1, 0, 'f'},         {"size", 1, 0, 's'},        {"reads", 1, 0, 'n'},
        {"host-threads", 1, 0, 'h'}, {"gpu-threads", 1, 0, 'g'}, {"mode", 1, 0, 'm'},
        {"csv", 1, 0, 'c'},          {"slots", 1, 0, 'q'},       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
        switch (ch) {
        case 'f': path = optarg; break;
        case 's': gib = strtoull(optarg, NULL, 0); break;
        case 'n': nreads = strtoull(optarg, NULL, 0); break;
        case 'h': H = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'g': G = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'm': mode = optarg; break;
        case 'c': csv = optarg; break;
        case 'q': slots = (unsigned)strtoul(optarg, NULL, 0); break;
        default: fprintf(stderr, "see the comment at the top of bench_devq.cu\n"); return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!H || !G || !nreads || !gib || !slots || (slots & (slots - 1)) ||
        (strcmp(mode, "cached") && strcmp(mode, "cold") && strcmp(mode, "both"))) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || !ndev) {
        printf("SKIP: no CUDA GPU\n");
        return 77;
    }
    const uint64_t size = gib << 30, nrec = size / REC;
    struct stat st;
    if (stat(path, &st) || (uint64_t)st.st_size != size) {
        printf("creating %s (%llu GiB)\n", path, (unsigned long long)gib);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        uint64_t *b = (uint64_t *)malloc(64 << 20);
        for (uint64_t o2 = 0; o2 < size; o2 += 64 << 20) {
            for (size_t k = 0; k < (64u << 20) / 8; k++)
                b[k] = mix(o2 / 8 + k);
            if (pwrite(fd, b, 64 << 20, (off_t)o2) != 64 << 20) {
                perror("pwrite");
                return 1;
            }
        }
        fsync(fd);
        close(fd);
        free(b);
    }
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    char host[64] = "";
    gethostname(host, sizeof host);
    printf("GPU %s, host %s, %ld CPUs; file %llu GiB; %llu random %u B reads; %u host threads "
           "(service = issuing), %u GPU threads\n",
           prop.name, host, sysconf(_SC_NPROCESSORS_ONLN), (unsigned long long)gib,
           (unsigned long long)nreads, REC, H, G);
    FILE *cf = csv ? fopen(csv, "w") : NULL;
    if (cf) fprintf(cf, "data,method,reads,seconds,iops,gbps,errors\n");
    printf("\n%-7s %-34s %10s %9s %12s %8s %7s\n", "data", "method", "reads", "seconds", "IOPS",
           "GB/s", "errors");
    uint8_t *dout, *dhost;
    uint64_t *dlast;
    unsigned long long *derr;
    CK(cudaMalloc(&dout, (size_t)G * REC));
    CK(cudaMalloc(&dhost, (size_t)H * 256 * REC));
    CK(cudaMalloc(&dlast, G * sizeof(uint64_t)));
    CK(cudaMalloc(&derr, sizeof *derr));
    uint8_t *pinned;
    CK(cudaHostAlloc(&pinned, (size_t)H * 256 * REC, cudaHostAllocPortable));
    double ratio[2] = {0, 0};
    for (int cold = 0; cold < 2; cold++) {
        if ((cold && !strcmp(mode, "cached")) || (!cold && !strcmp(mode, "cold"))) continue;
        const char *data = cold ? "cold" : "cached";
        if (!cold) { /* warm the page cache */
            int fd = open(path, O_RDONLY);
            uint8_t *b = (uint8_t *)malloc(16 << 20);
            while (read(fd, b, 16 << 20) > 0) {}
            free(b);
            close(fd);
        }
        double iops[2];
        for (int m = 0; m < 2; m++) {
            homi_engine *e = engine(cold, H);
            homi_file *f;
            if (homi_open(e, path, HOMI_RDONLY, &f)) return 1;
            if (cold) drop_cache(path);
            uint64_t seed = 1000 + cold * 10 + m;
            double t0, t;
            unsigned long long errs = 0;
            const char *name;
            if (m == 0) {
                name = "GPU-initiated (homi_dev_read)";
                homi_devq_config qc = {};
                qc.threads = H;
                qc.slots = slots;
                qc.inline_max = 16384;
                homi_devq *q;
                homi_dev_file cap;
                if (homi_devq_create(e, 0, &qc, &q) || homi_devq_export(q, f, &cap)) return 1;
                /* served by homid when this process is its client (homi_devq_daemon) */
                if (homi_devq_pause(q, 0) == HOMI_ENOTSUP)
                    name = "GPU-initiated, queue served by homid";
                CK(cudaMemset(derr, 0, sizeof *derr));
                t0 = now_s();
                k_gather<<<G / 256, 256>>>(homi_devq_device(q), cap, dout, nreads, nrec, seed, derr,
                                           dlast);
                CK(cudaDeviceSynchronize());
                t = now_s() - t0;
                CK(cudaMemcpy(&errs, derr, sizeof errs, cudaMemcpyDeviceToHost));
                /* check the last record each thread read */
                uint64_t *last = (uint64_t *)malloc(G * sizeof *last);
                uint8_t *row = (uint8_t *)malloc(REC), *want = (uint8_t *)malloc(REC);
                CK(cudaMemcpy(last, dlast, G * sizeof *last, cudaMemcpyDeviceToHost));
                int fd = open(path, O_RDONLY);
                for (unsigned g = 0; g < G && g < nreads; g += G / 512 + 1) {
                    CK(cudaMemcpy(row, dout + (size_t)g * REC, REC, cudaMemcpyDeviceToHost));
                    if (pread(fd, want, REC, (off_t)(last[g] * REC)) != REC ||
                        memcmp(row, want, REC))
                        errs++;
                }
                close(fd);
                free(last);
                free(row);
                free(want);
                homi_devq_destroy(q);
            } else {
                name = "host io_uring -> pinned -> cudaMemcpy";
                pthread_t th[64];
                struct hctx x[64];
                uint64_t per = nreads / H;
                t0 = now_s();
                for (unsigned h = 0; h < H; h++) {
                    x[h] = (struct hctx){e,
                                         f,
                                         pinned + (size_t)h * 256 * REC,
                                         dhost + (size_t)h * 256 * REC,
                                         h * per,
                                         h == H - 1 ? nreads - h * per : per,
                                         nrec,
                                         seed,
                                         0};
                    pthread_create(&th[h], NULL, host_issue, &x[h]);
                }
                for (unsigned h = 0; h < H; h++) {
                    pthread_join(th[h], NULL);
                    errs += (unsigned long long)x[h].err;
                }
                t = now_s() - t0;
            }
            iops[m] = nreads / t;
            printf("%-7s %-34s %10llu %9.3f %12.0f %8.2f %7llu\n", data, name,
                   (unsigned long long)nreads, t, iops[m], iops[m] * REC / 1e9, errs);
            if (cf)
                fprintf(cf, "%s,%s,%llu,%.4f,%.0f,%.3f,%llu\n", data, name,
                        (unsigned long long)nreads, t, iops[m], iops[m] * REC / 1e9, errs);
            homi_close(f);
            homi_engine_destroy(e);
        }
        ratio[cold] = iops[0] / iops[1];
        printf("%-7s GPU-initiated / host-issued IOPS: %.2fx (target >= 0.8x)\n", data,
               ratio[cold]);
    }
    if (cf) fclose(cf);
    return 0;
}
