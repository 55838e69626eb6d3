/* coll_gpu_bench.c - collective read of a 3-D float32 array (each rank one
 * subarray of a 3-D process grid) into GPU memory, one method per run:
 *
 *   homi : MPI_File_read_all with the hint homi=enable straight into a
 *          cudaMalloc'd buffer (MPICH + ad_homi)
 *   host : MPI_File_read_all into pinned host memory with the MPI library's
 *          own driver, then cudaMemcpy to the GPU (system Open MPI, or
 *          MPICH's stock ufs driver)
 *
 * Prints one table line and one CSV line (prefix "csv,") per timed run and
 * verifies every element of every rank's buffer against the file's
 * formula (value of element i = (float)(hash(i) & 0xffffff)).
 *
 * usage: coll_gpu_bench --file PATH --mode homi|host [--create] [--n NZ,NY,NX]
 *                       [--iters K] [--label TEXT] [--hints k=v,...] [--no-gpu]
 *                       [--warm] [--gpus N]
 * Cold (default): every rank drops the file from the page cache
 * (posix_fadvise DONTNEED) before each timed run.  --warm: the file is
 * read once (not timed) and left in the page cache.  --gpus N: rank r's
 * buffer is on GPU r % N (default: every rank on the current GPU). */
#include <fcntl.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "homi.h"

static uint32_t val(uint64_t i)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ull;
    z ^= z >> 29;
    return (uint32_t)(z & 0xffffff);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *m)
{
    fprintf(stderr, "coll_gpu_bench: %s\n", m);
    MPI_Abort(MPI_COMM_WORLD, 2);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, P;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    const char *file = NULL, *mode = "homi", *label = "", *hints = "";
    int create = 0, iters = 1, nogpu = 0, warm = 0, ngpus = 0;
    int gs[3] = {2048, 1024, 1024}; /* 8 GiB of float32 */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--label") && i + 1 < argc)
            label = argv[++i];
        else if (!strcmp(argv[i], "--hints") && i + 1 < argc)
            hints = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--create"))
            create = 1;
        else if (!strcmp(argv[i], "--no-gpu"))
            nogpu = 1;
        else if (!strcmp(argv[i], "--warm"))
            warm = 1;
        else if (!strcmp(argv[i], "--gpus") && i + 1 < argc)
            ngpus = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d,%d", &gs[0], &gs[1], &gs[2]) != 3) die("--n NZ,NY,NX");
        } else
            die("bad argument (see the comment at the top of coll_gpu_bench.c)");
    }
    if (!file) die("--file is required");
    int homi = !strcmp(mode, "homi");
    if (!homi && strcmp(mode, "host")) die("--mode homi|host");
    int gpu = !nogpu && homi_cuda_available();
    if (!nogpu && !gpu) die("no usable GPU (use --no-gpu for a host-only smoke run)");
    uint64_t total = (uint64_t)gs[0] * gs[1] * gs[2];
    int dev = ngpus > 0 ? rank % ngpus : -1;

    if (create) { /* every rank writes a slice of the file with pwrite */
        int fd = open(file, O_CREAT | O_WRONLY, 0644);
        if (fd < 0) die("create");
        uint64_t per = (total + P - 1) / P, lo = per * rank,
                 hi = lo + per > total ? total : lo + per;
        size_t chunk = 1 << 22;
        uint32_t *b = malloc(chunk * 4);
        for (uint64_t i = lo; i < hi; i += chunk) {
            size_t n = hi - i < chunk ? hi - i : chunk;
            for (size_t k = 0; k < n; k++) {
                float f = (float)val(i + k);
                memcpy(&b[k], &f, 4);
            }
            if (pwrite(fd, b, n * 4, (off_t)(i * 4)) != (ssize_t)(n * 4)) die("pwrite");
        }
        free(b);
        fsync(fd);
        close(fd);
        MPI_Barrier(MPI_COMM_WORLD);
    }

    int dims[3] = {0, 0, 0}, c[3], ss[3], st[3];
    MPI_Dims_create(P, 3, dims);
    c[0] = rank / (dims[1] * dims[2]);
    c[1] = (rank / dims[2]) % dims[1];
    c[2] = rank % dims[2];
    for (int d = 0; d < 3; d++) {
        ss[d] = gs[d] / dims[d];
        st[d] = c[d] * ss[d];
        if (c[d] == dims[d] - 1) ss[d] = gs[d] - st[d];
    }
    MPI_Datatype ft;
    MPI_Type_create_subarray(3, gs, ss, st, MPI_ORDER_C, MPI_FLOAT, &ft);
    MPI_Type_commit(&ft);
    uint64_t n = (uint64_t)ss[0] * ss[1] * ss[2];
    size_t bytes = n * 4;
    /* more than one MPI count of floats (e.g. one rank reading 8 GiB): the
     * buffer is described in planes of the subarray instead */
    MPI_Datatype mt = MPI_FLOAT;
    int mcount = (int)n;
    if (n > (uint64_t)INT32_MAX) {
        if ((uint64_t)ss[1] * ss[2] > (uint64_t)INT32_MAX) die("subarray plane too large");
        MPI_Type_contiguous(ss[1] * ss[2], MPI_FLOAT, &mt);
        MPI_Type_commit(&mt);
        mcount = ss[0];
    }

    void *dbuf = NULL, *host = NULL;
    if (gpu && homi_mem_alloc(HOMI_MEM_DEVICE, dev, bytes, &dbuf)) die("cudaMalloc");
    if (homi_mem_alloc(gpu ? HOMI_MEM_PINNED : HOMI_MEM_HOST, -1, bytes, &host)) die("host alloc");

    MPI_Info info;
    MPI_Info_create(&info);
    if (homi) MPI_Info_set(info, "homi", "enable");
    char hcopy[1024];
    snprintf(hcopy, sizeof hcopy, "%s", hints);
    for (char *save, *kv = strtok_r(hcopy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) die("--hints k=v,...");
        *eq = 0;
        MPI_Info_set(info, kv, eq + 1);
    }
    if (rank == 0)
        printf("# %s: %d ranks, grid %dx%dx%d, array %dx%dx%d float32 (%.2f GiB), %s, %s cache, "
               "%s\n",
               mode, P, dims[0], dims[1], dims[2], gs[0], gs[1], gs[2], total * 4.0 / (1 << 30),
               gpu ? "GPU destination" : "host destination (smoke run)", warm ? "warm" : "cold",
               ngpus > 0 ? "ranks spread over GPUs" : "one GPU");
    if (warm) { /* read the file once into the page cache (every rank a slice) */
        int fd = open(file, O_RDONLY);
        if (fd < 0) die("open for warm-up");
        uint64_t fsz = total * 4, per = (fsz + P - 1) / P, lo = per * rank;
        uint64_t hi = lo + per > fsz ? fsz : lo + per;
        size_t chunk = 16 << 20;
        char *b = malloc(chunk);
        if (!b) die("malloc");
        for (uint64_t o = lo; o < hi; o += chunk)
            if (pread(fd, b, chunk, (off_t)o) < 0) die("warm-up pread");
        free(b);
        close(fd);
        MPI_Barrier(MPI_COMM_WORLD);
    }
    for (int it = 0; it < iters; it++) {
        /* cold: drop the file from the page cache */
        int fd = warm ? -1 : open(file, O_RDONLY);
        if (fd >= 0) {
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
        MPI_File fh;
        MPI_Barrier(MPI_COMM_WORLD);
        double to = now();
        if (MPI_File_open(MPI_COMM_WORLD, file, MPI_MODE_RDONLY, info, &fh)) die("MPI_File_open");
        double topen = now() - to;
        MPI_File_set_view(fh, 0, MPI_FLOAT, ft, "native", MPI_INFO_NULL);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now();
        MPI_Status stt;
        int err;
        if (homi)
            err = MPI_File_read_all(fh, gpu ? dbuf : host, mcount, mt, &stt);
        else {
            err = MPI_File_read_all(fh, host, mcount, mt, &stt);
            if (!err && gpu) {
                const void *s = host;
                if (homi_mem_copyv(1, &dbuf, &s, &bytes, dev)) die("cudaMemcpy");
            }
        }
        if (err) die("MPI_File_read_all failed");
        MPI_Barrier(MPI_COMM_WORLD);
        double t = now() - t0;
        to = now();
        MPI_File_close(&fh);
        MPI_Barrier(MPI_COMM_WORLD);
        topen += now() - to; /* open + close: not in the read time */
        /* verify on the host (not timed) */
        if (gpu) {
            const void *s = dbuf;
            if (homi_mem_copyv(1, &host, &s, &bytes, dev)) die("copy back");
        }
        uint64_t bad = 0, k = 0;
        const float *h = host;
        for (int z = 0; z < ss[0]; z++)
            for (int y = 0; y < ss[1]; y++)
                for (int x = 0; x < ss[2]; x++, k++) {
                    uint64_t g = ((uint64_t)(st[0] + z) * gs[1] + (st[1] + y)) * gs[2] + st[2] + x;
                    bad += h[k] != (float)val(g);
                }
        uint64_t allbad = 0;
        MPI_Reduce(&bad, &allbad, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            double gib = total * 4.0 / (1 << 30);
            const char *cache = warm ? "warm" : "cold";
            int g = ngpus > 0 ? (ngpus < P ? ngpus : P) : 1;
            printf("%-6s %-4s gpus %d %-44s ranks %d  %.2f GiB  %.3f s  %.2f GiB/s  %s  "
                   "(open+close %.3f s)\n",
                   mode, cache, g, label, P, gib, t, gib / t, allbad ? "WRONG DATA" : "verified",
                   topen);
            printf("csv,%s,%s,%d,%s,%d,%.0f,%.4f,%.3f,%s,%.4f\n", mode, cache, g, label, P,
                   total * 4.0, t, gib / t, allbad ? "wrong" : "verified", topen);
            fflush(stdout);
        }
        if (allbad) MPI_Abort(MPI_COMM_WORLD, 3);
    }
    MPI_Info_free(&info);
    MPI_Type_free(&ft);
    if (mt != MPI_FLOAT) MPI_Type_free(&mt);
    if (dbuf) homi_mem_free(HOMI_MEM_DEVICE, dbuf);
    homi_mem_free(gpu ? HOMI_MEM_PINNED : HOMI_MEM_HOST, host);
    MPI_Finalize();
    return 0;
}
