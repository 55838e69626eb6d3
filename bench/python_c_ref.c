/* python_c_ref.c - the C API's own figure for bench/python_gpu_bench.py:
 * times homi_pread of a whole file into one buffer of CUDA device memory
 * (homi_mem_alloc, no CUDA headers needed) or host memory, with the same
 * engine configuration (defaults + HOMI_* environment) as the Python module.
 *
 *   python_c_ref FILE BYTES REPEAT device|host cached|cold
 *
 * One 1 MiB warm-up read first; cold drops the file's pages
 * (posix_fadvise DONTNEED) before each timed read.
 * Prints one line per read: "c_api <kind> <mode> <bytes> <seconds> <GB/s>". */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "homi.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void drop_cache(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: python_c_ref FILE BYTES REPEAT device|host cached|cold\n");
        return 2;
    }
    const char *path = argv[1];
    size_t len = strtoull(argv[2], NULL, 10);
    int repeat = atoi(argv[3]);
    int dev = !strcmp(argv[4], "device"), cold = !strcmp(argv[5], "cold");
    homi_mem_kind kind = dev ? HOMI_MEM_DEVICE : HOMI_MEM_HOST;
    homi_engine *eng;
    homi_file *f;
    void *buf;
    int rc = homi_engine_create(NULL, &eng);
    if (!rc) rc = homi_open(eng, path, HOMI_RDONLY, &f);
    if (!rc) rc = homi_mem_alloc(kind, 0, len, &buf);
    if (rc) {
        fprintf(stderr, "python_c_ref: %s\n", homi_strerror(rc));
        return 1;
    }
    /* warm-up (worker rings, pinned staging pool), as the module's engine is
     * warm after its first read */
    if (homi_pread(f, buf, len < (1u << 20) ? len : (1u << 20), 0) < 0) return 1;
    for (int i = 0; i < repeat; i++) {
        if (cold) drop_cache(path);
        double t0 = now();
        int64_t n = homi_pread(f, buf, len, 0);
        double t = now() - t0;
        if (n < 0) {
            fprintf(stderr, "python_c_ref: homi_pread: %s\n", homi_strerror((int)n));
            return 1;
        }
        printf("c_api %s %s %" PRId64 " %.6f %.3f\n", argv[4], argv[5], n, t, (double)n / t / 1e9);
        fflush(stdout);
    }
    homi_mem_free(kind, buf);
    homi_close(f);
    homi_engine_destroy(eng);
    return 0;
}
