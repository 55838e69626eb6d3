/* gpu_read_streams.c - how fast one process reads a file into GPU memory
 * with several reads in flight, issued two ways:
 *
 *   sync-threads  T threads, each one synchronous homi_pread_ex of a block
 *                 at a time (block-cyclic over the file): what the
 *                 collective engine's reader pool does with read_streams = T
 *   async         homi_submit / homi_wait keeping T requests of one block in
 *                 flight from one thread (the engine's own service threads)
 *
 * Both read the whole file into one cudaMalloc'd buffer; each run is
 * verified against pread (copied back).  Prints a table and CSV lines
 * ("csv,method,threads,block,bytes,seconds,gib_per_s").
 *
 * usage: gpu_read_streams FILE [--block SIZE_MIB] [--iters K] [--streams 1,2,4,8]
 *                         [--no-gpu]
 * (--no-gpu: pinned host memory instead of a GPU buffer, a smoke run for
 * machines without a GPU).  The file should be in the page cache (warm) or
 * dropped (cold) by the caller. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "homi.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, int64_t rc)
{
    fprintf(stderr, "gpu_read_streams: %s: %s\n", what, rc < 0 ? homi_strerror((int)rc) : "failed");
    exit(1);
}

struct job {
    homi_file *f;
    char *dst;
    int64_t size, block;
    int id, n;
    int64_t err;
};

static void *sync_main(void *arg)
{
    struct job *j = arg;
    for (int64_t off = (int64_t)j->id * j->block; off < j->size; off += (int64_t)j->n * j->block) {
        size_t len = (size_t)(j->size - off < j->block ? j->size - off : j->block);
        int64_t r = homi_pread_ex(j->f, j->dst + off, len, off, NULL);
        if (r != (int64_t)len) {
            j->err = r < 0 ? r : -1;
            break;
        }
    }
    return NULL;
}

static void run_sync(homi_file *f, char *dst, int64_t size, int64_t block, int n)
{
    pthread_t th[64];
    struct job jb[64];
    for (int i = 0; i < n; i++) {
        jb[i] = (struct job){f, dst, size, block, i, n, 0};
        if (pthread_create(&th[i], NULL, sync_main, &jb[i])) die("pthread_create", -1);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (jb[i].err) die("homi_pread_ex", jb[i].err);
    }
}

static void run_async(homi_engine *e, homi_file *f, char *dst, int64_t size, int64_t block, int n)
{
    int64_t next = 0, done = 0, nblk = (size + block - 1) / block;
    unsigned inflight = 0;
    homi_completion cq[64];
    while (done < nblk) {
        while (inflight < (unsigned)n && next < nblk) {
            int64_t off = next * block;
            homi_io io = {.file = f,
                          .buf = dst + off,
                          .len = (size_t)(size - off < block ? size - off : block),
                          .offset = off,
                          .user_data = (uint64_t)next};
            int rc = homi_submit(e, &io, 1);
            if (rc != 1) die("homi_submit", rc);
            next++;
            inflight++;
        }
        int got = homi_wait(e, cq, 1, 64, -1);
        if (got < 0) die("homi_wait", got);
        for (int i = 0; i < got; i++) {
            if (cq[i].result < 0) die("async read", cq[i].result);
            done++;
            inflight--;
        }
    }
}

static void verify(const char *path, const char *dst, int64_t size, int gpu)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("open for verify", -1);
    size_t chunk = 64 << 20;
    char *a = malloc(chunk), *b = malloc(chunk);
    for (int64_t off = 0; off < size; off += (int64_t)chunk) {
        size_t len = (size_t)(size - off < (int64_t)chunk ? size - off : (int64_t)chunk);
        if (pread(fd, a, len, off) != (ssize_t)len) die("pread for verify", -1);
        if (gpu) {
            void *d = b;
            const void *s = dst + off;
            if (homi_mem_copyv(1, &d, &s, &len, -1)) die("copy back", -1);
        } else {
            memcpy(b, dst + off, len);
        }
        if (memcmp(a, b, len)) die("data differs from pread", -1);
    }
    free(a);
    free(b);
    close(fd);
}

int main(int argc, char **argv)
{
    const char *path = NULL, *streams = "1,2,4,8";
    int64_t block = 64 << 20;
    int iters = 3, gpu = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--block") && i + 1 < argc)
            block = atoll(argv[++i]) << 20;
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc)
            streams = argv[++i];
        else if (!strcmp(argv[i], "--no-gpu"))
            gpu = 0;
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: gpu_read_streams FILE [--block MIB] [--iters K] "
                            "[--streams 1,2,4,8] [--no-gpu]\n");
            return 2;
        }
    }
    if (!path || block <= 0 || iters < 1) {
        fprintf(stderr, "gpu_read_streams: a FILE, --block >= 1 and --iters >= 1 are needed\n");
        return 2;
    }
    struct stat sb;
    if (stat(path, &sb) || sb.st_size == 0) die("stat FILE (must exist, not empty)", -1);
    int64_t size = sb.st_size;
    homi_engine *e;
    homi_file *f;
    int rc = homi_engine_create(NULL, &e);
    if (rc) die("homi_engine_create", rc);
    rc = homi_open(e, path, HOMI_RDONLY, &f);
    if (rc) die("homi_open", rc);
    char *dst;
    rc = homi_mem_alloc(gpu ? HOMI_MEM_DEVICE : HOMI_MEM_PINNED, gpu ? 0 : -1, (size_t)size,
                        (void **)&dst);
    if (rc) die("homi_mem_alloc", rc);
    printf("# %s: %.2f GiB into %s, blocks of %lld MiB, best of %d\n", path,
           (double)size / (1 << 30), gpu ? "GPU memory" : "pinned host memory",
           (long long)(block >> 20), iters);
    printf("%-13s %7s %10s\n", "method", "streams", "GiB/s");
    char list[256];
    snprintf(list, sizeof list, "%s", streams);
    for (char *sv = NULL, *tok = strtok_r(list, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
        int n = atoi(tok);
        if (n < 1 || n > 64) die("--streams: each 1..64", -1);
        for (int m = 0; m < 2; m++) {
            double best = 1e30;
            for (int it = 0; it < iters; it++) {
                double t = now();
                if (m == 0)
                    run_sync(f, dst, size, block, n);
                else
                    run_async(e, f, dst, size, block, n);
                t = now() - t;
                if (t < best) best = t;
                if (it == 0) verify(path, dst, size, gpu);
            }
            const char *name = m == 0 ? "sync-threads" : "async";
            double g = (double)size / (1 << 30) / best;
            printf("%-13s %7d %10.2f\n", name, n, g);
            printf("csv,%s,%d,%lld,%lld,%.4f,%.3f\n", name, n, (long long)block, (long long)size,
                   best, g);
        }
    }
    homi_mem_free(gpu ? HOMI_MEM_DEVICE : HOMI_MEM_PINNED, dst);
    homi_close(f);
    homi_engine_destroy(e);
    return 0;
}
