// gpu_initiated_gather.cu - GPU threads gather records of a file by index:
// the embedding / feature lookup pattern.  Each thread of the kernel reads
// record idx[i] (RECORD bytes at idx[i] * RECORD) straight from the file
// into row i of a device table with homi_dev_read_warp(), so lanes asking
// for consecutive records share one request.  The host only opens the file
// and exports it to the queue; it never sees which records are read.
//
//   gpu_initiated_gather FILE [NUM_LOOKUPS] [RECORD_BYTES]
#include <cuda_runtime.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "homi.h"
#include "homi_cuda.h"

__global__ void gather(homi_devq_dev *q, homi_dev_file f, const uint64_t *idx, unsigned n,
                       unsigned record, uint8_t *table, int64_t *status)
{
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int64_t r =
        homi_dev_read_warp(q, f, table + (size_t)i * record, record, (int64_t)(idx[i] * record));
    status[i] = r;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [NUM_LOOKUPS] [RECORD_BYTES]\n", argv[0]);
        return 2;
    }
    unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 1u << 20;
    unsigned record = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 0) : 4096;
    homi_engine *eng;
    homi_file *f;
    int rc = homi_engine_create(NULL, &eng);
    if (!rc) rc = homi_open(eng, argv[1], HOMI_RDONLY, &f);
    if (rc) {
        fprintf(stderr, "%s: %s\n", argv[1], homi_strerror(rc));
        return 1;
    }
    uint64_t nrec = (uint64_t)homi_file_size(f) / record;
    if (!nrec) {
        fprintf(stderr, "%s: smaller than one record\n", argv[1]);
        return 1;
    }
    homi_devq *q;
    homi_dev_file cap;
    if ((rc = homi_devq_create(eng, 0, NULL, &q)) || (rc = homi_devq_export(q, f, &cap))) {
        fprintf(stderr, "device queue: %s\n", homi_strerror(rc));
        return 1;
    }
    /* random record indices, with runs of consecutive ones */
    uint64_t *idx = (uint64_t *)malloc(n * sizeof *idx), s = 12345;
    for (unsigned i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        idx[i] = (i % 8 && i) ? (idx[i - 1] + 1) % nrec : (s >> 17) % nrec;
    }
    uint64_t *d_idx;
    uint8_t *d_table;
    int64_t *d_status;
    cudaMalloc(&d_idx, n * sizeof *idx);
    cudaMalloc(&d_table, (size_t)n * record);
    cudaMalloc(&d_status, n * sizeof(int64_t));
    cudaMemcpy(d_idx, idx, n * sizeof *idx, cudaMemcpyHostToDevice);
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    cudaEventRecord(a);
    gather<<<(n + 255) / 256, 256>>>(homi_devq_device(q), cap, d_idx, n, record, d_table, d_status);
    cudaEventRecord(b);
    cudaError_t e = cudaEventSynchronize(b);
    if (e != cudaSuccess) {
        fprintf(stderr, "kernel: %s\n", cudaGetErrorString(e));
        return 1;
    }
    float ms;
    cudaEventElapsedTime(&ms, a, b);
    /* check a sample against plain reads */
    int fd = open(argv[1], O_RDONLY);
    uint8_t *want = (uint8_t *)malloc(record), *got = (uint8_t *)malloc(record);
    int64_t st;
    unsigned bad = 0, errors = 0;
    for (unsigned k = 0; k < 1000 && k < n; k++) {
        unsigned i = (unsigned)(((uint64_t)k * 2654435761u) % n);
        cudaMemcpy(&st, d_status + i, sizeof st, cudaMemcpyDeviceToHost);
        if (st != (int64_t)record) {
            errors++;
            continue;
        }
        cudaMemcpy(got, d_table + (size_t)i * record, record, cudaMemcpyDeviceToHost);
        if (pread(fd, want, record, (off_t)(idx[i] * record)) != (ssize_t)record ||
            memcmp(want, got, record))
            bad++;
    }
    homi_devq_stats qs;
    homi_devq_stats_get(q, &qs);
    printf("%u lookups of %u B in %.2f ms: %.0f lookups/s, %.2f GB/s; %llu queue requests "
           "(%.1f lookups per request); sample of 1000: %u wrong, %u errors\n",
           n, record, ms, n / (ms / 1e3), (double)n * record / (ms / 1e3) / 1e9,
           (unsigned long long)qs.requests, (double)n / (double)qs.requests, bad, errors);
    homi_devq_destroy(q);
    homi_close(f);
    homi_engine_destroy(eng);
    return bad || errors ? 1 : 0;
}
