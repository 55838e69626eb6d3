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
 *                       [--warm] [--gpus N] [--decomp NAME] [--call-bytes SIZE]
 * --decomp (issue 23): how the array is split over the ranks (the file
 * view each rank sets):
 *   subarray3d   one subarray of a 3-D process grid (default)
 *   block2d      the array as NZ*NY rows of NX: one block of a 2-D grid
 *   cyclic2d     the same rows dealt out in blocks of 4 rows, round robin
 *                (MPI_Type_create_darray, MPI_DISTRIBUTE_CYCLIC)
 *   vector64k    the array as 1-D, 64 KiB blocks interleaved across ranks
 *                (MPI_Type_vector)
 *   indexed      1-D blocks of random length (4 KiB - 4 MiB, fixed seed)
 *                dealt out round robin (MPI_Type_indexed)
 * --call-bytes SIZE: read each rank's part in collective calls of SIZE
 * bytes (K/M/G suffixes; default 0: the whole part in one call).
 * Cold (default): every rank drops the file from the page cache
 * (posix_fadvise DONTNEED) before each timed run.  --warm: the file is
 * read once (not timed) and left in the page cache.  --gpus N: rank r's
 * buffer is on GPU r % N (default: every rank on the current GPU).
 * --write (issue 22): a checkpoint instead: each rank's part, filled with
 * the file's formula in its GPU buffer, is written with MPI_File_write_all
 * into a new file (removed first): homi from the device buffer (through
 * libhomi_mpiio or ad_homi), host after a cudaMemcpy to pinned memory;
 * timed without and with MPI_File_sync; every element read back (pread)
 * and checked after each run. */
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

/* The rank's part of the file in view order: runs of elements. */
struct run {
    uint64_t start, len;
};

struct part {
    struct run *r;
    size_t n, cap;
    uint64_t elems;
};

static void part_add(struct part *p, uint64_t start, uint64_t len)
{
    if (!len) return;
    if (p->n && p->r[p->n - 1].start + p->r[p->n - 1].len == start) {
        p->r[p->n - 1].len += len;
    } else {
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 1024;
            p->r = realloc(p->r, p->cap * sizeof *p->r);
            if (!p->r) die("out of memory (run list)");
        }
        p->r[p->n++] = (struct run){start, len};
    }
    p->elems += len;
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* Subarray type of a grid of P ranks over an nd-dimensional array g (C
 * order); its rows (last dimension) are added to pt. */
static void grid_block(int nd, const int *g, int rank, int P, MPI_Datatype *ft, struct part *pt,
                       int *dims)
{
    int c[3], ss[3], st[3];
    for (int k = 0; k < nd; k++)
        dims[k] = 0;
    MPI_Dims_create(P, nd, dims);
    for (int k = nd - 1, r = rank; k >= 0; k--) {
        c[k] = r % dims[k];
        r /= dims[k];
    }
    for (int k = 0; k < nd; k++) {
        ss[k] = g[k] / dims[k];
        st[k] = c[k] * ss[k];
        if (c[k] == dims[k] - 1) ss[k] = g[k] - st[k];
    }
    MPI_Type_create_subarray(nd, g, ss, st, MPI_ORDER_C, MPI_FLOAT, ft);
    uint64_t rows = 1;
    for (int k = 0; k < nd - 1; k++)
        rows *= (uint64_t)ss[k];
    for (uint64_t r = 0; r < rows; r++) {
        uint64_t lin = 0, q = r, idx[3];
        for (int k = nd - 2; k >= 0; k--) {
            idx[k] = q % (uint64_t)ss[k];
            q /= (uint64_t)ss[k];
        }
        for (int k = 0; k < nd - 1; k++)
            lin = lin * (uint64_t)g[k] + (uint64_t)st[k] + idx[k];
        part_add(pt, lin * (uint64_t)g[nd - 1] + (uint64_t)st[nd - 1], (uint64_t)ss[nd - 1]);
    }
}

/* File type of decomposition d for this rank and its run list; desc
 * describes it. */
static void decompose(const char *d, const int gs[3], int rank, int P, MPI_Datatype *ft,
                      struct part *pt, char *desc, size_t dlen)
{
    const uint64_t total = (uint64_t)gs[0] * gs[1] * gs[2];
    const uint64_t R = (uint64_t)gs[0] * gs[1], C = (uint64_t)gs[2];
    int dims[3];
    if (!strcmp(d, "subarray3d")) {
        grid_block(3, gs, rank, P, ft, pt, dims);
        snprintf(desc, dlen, "subarray3d grid %dx%dx%d", dims[0], dims[1], dims[2]);
    } else if (!strcmp(d, "block2d")) {
        if (R > INT32_MAX) die("too many rows for a 2-D view");
        int g2[2] = {(int)R, (int)C};
        grid_block(2, g2, rank, P, ft, pt, dims);
        snprintf(desc, dlen, "block2d grid %dx%d", dims[0], dims[1]);
    } else if (!strcmp(d, "cyclic2d")) {
        if (R > INT32_MAX) die("too many rows for a 2-D view");
        const int B = 4;
        int g2[2] = {(int)R, (int)C};
        int distrib[2] = {MPI_DISTRIBUTE_CYCLIC, MPI_DISTRIBUTE_NONE};
        int dargs[2] = {B, MPI_DISTRIBUTE_DFLT_DARG}, psizes[2] = {P, 1};
        MPI_Type_create_darray(P, rank, 2, g2, distrib, dargs, psizes, MPI_ORDER_C, MPI_FLOAT, ft);
        for (uint64_t r = (uint64_t)rank * B; r < R; r += (uint64_t)B * (uint64_t)P)
            part_add(pt, r * C, (R - r < (uint64_t)B ? R - r : (uint64_t)B) * C);
        snprintf(desc, dlen, "cyclic2d blocks of %d rows of %llu floats", B, (unsigned long long)C);
    } else if (!strcmp(d, "vector64k")) {
        const uint64_t blk = 16384; /* floats: 64 KiB */
        uint64_t nb = total / (blk * (uint64_t)P);
        if (nb > INT32_MAX || !nb) die("vector64k: array too large or too small");
        MPI_Datatype v;
        MPI_Type_vector((int)nb, (int)blk, (int)(blk * (uint64_t)P), MPI_FLOAT, &v);
        /* this rank's first block: a displacement inside the type */
        int bl = 1;
        MPI_Aint disp = (MPI_Aint)((uint64_t)rank * blk * 4);
        MPI_Type_create_hindexed(1, &bl, &disp, v, ft);
        MPI_Type_free(&v);
        for (uint64_t b = 0; b < nb; b++)
            part_add(pt, (b * (uint64_t)P + (uint64_t)rank) * blk, blk);
        snprintf(desc, dlen, "vector64k %llu blocks of 64 KiB per rank", (unsigned long long)nb);
    } else if (!strcmp(d, "indexed")) {
        uint64_t x = 0x2545F4914F6CDD1Dull, at = 0;
        int *len = NULL, *dsp = NULL;
        size_t n = 0, cap = 0;
        for (uint64_t j = 0; at < total; j++) {
            uint64_t l = 1024 + rng_next(&x) % (1048576 - 1024 + 1); /* 4 KiB - 4 MiB */
            if (l > total - at) l = total - at;
            if ((int)(j % (uint64_t)P) == rank) {
                if (at > INT32_MAX) die("indexed: array too large for int displacements");
                if (n == cap) {
                    cap = cap ? 2 * cap : 1024;
                    len = realloc(len, cap * sizeof *len);
                    dsp = realloc(dsp, cap * sizeof *dsp);
                    if (!len || !dsp) die("out of memory");
                }
                len[n] = (int)l;
                dsp[n] = (int)at;
                n++;
                part_add(pt, at, l);
            }
            at += l;
        }
        MPI_Type_indexed((int)n, len, dsp, MPI_FLOAT, ft);
        free(len);
        free(dsp);
        snprintf(desc, dlen, "indexed %zu blocks of 4 KiB-4 MiB per rank", n);
    } else {
        die("--decomp subarray3d|block2d|cyclic2d|vector64k|indexed");
    }
}

static uint64_t parse_size(const char *s)
{
    char *e;
    double v = strtod(s, &e);
    uint64_t m = (*e == 'K' || *e == 'k')   ? 1ull << 10
                 : (*e == 'M' || *e == 'm') ? 1ull << 20
                 : (*e == 'G' || *e == 'g') ? 1ull << 30
                                            : 1;
    return (uint64_t)(v * (double)m);
}

/* --write: the part's values in host (and device) memory */
static void fill(const struct part *pt, void *host, void *dbuf, int dev)
{
    float *h = host;
    uint64_t k = 0;
    for (size_t r = 0; r < pt->n; r++)
        for (uint64_t e = 0; e < pt->r[r].len; e++)
            h[k++] = (float)val(pt->r[r].start + e);
    size_t bytes = k * 4;
    const void *s = host;
    if (dbuf && homi_mem_copyv(1, &dbuf, &s, &bytes, dev)) die("copy to the GPU");
}

/* --write: the file holds the formula at every element of the part */
static uint64_t check_file(const char *file, const struct part *pt)
{
    int fd = open(file, O_RDONLY);
    if (fd < 0) die("open for checking");
    uint64_t bad = 0;
    size_t cap = 1 << 22;
    float *b = malloc(cap * 4);
    for (size_t r = 0; r < pt->n; r++)
        for (uint64_t e = 0; e < pt->r[r].len; e += cap) {
            size_t n = pt->r[r].len - e < cap ? pt->r[r].len - e : cap;
            if (pread(fd, b, n * 4, (off_t)((pt->r[r].start + e) * 4)) != (ssize_t)(n * 4)) {
                bad += n;
                continue;
            }
            for (size_t i = 0; i < n; i++)
                bad += b[i] != (float)val(pt->r[r].start + e + i);
        }
    free(b);
    close(fd);
    return bad;
}

static void checkpoint(const char *file, MPI_Info info, MPI_Datatype ft, MPI_Datatype mt,
                       uint64_t unit, const struct part *pt, void *host, void *dbuf, int dev,
                       int gpu, int homi, uint64_t per_call, uint64_t maxcalls, int iters,
                       const char *mode, const char *label, const char *decomp, int P, int rank)
{
    uint64_t n = pt->elems;
    size_t bytes = n * 4;
    fill(pt, host, gpu ? dbuf : NULL, dev);
    for (int it = 0; it < iters; it++) {
        if (rank == 0) unlink(file);
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_File fh;
        if (MPI_File_open(MPI_COMM_WORLD, file, MPI_MODE_CREATE | MPI_MODE_WRONLY, info, &fh))
            die("MPI_File_open");
        if (MPI_File_set_view(fh, 0, MPI_FLOAT, ft, "native", MPI_INFO_NULL))
            die("MPI_File_set_view");
        if (gpu) memset(host, 0, bytes); /* the host copy is made in the timed part */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now();
        if (!homi && gpu) {
            const void *s = dbuf;
            if (homi_mem_copyv(1, &host, &s, &bytes, dev)) die("cudaMemcpy");
        }
        const char *src = homi && gpu ? dbuf : host;
        int err = MPI_SUCCESS;
        MPI_Status st;
        for (uint64_t k = 0, at = 0; k < maxcalls && !err; k++) {
            uint64_t cnt = at < n ? (n - at < per_call ? n - at : per_call) : 0;
            err = MPI_File_write_all(fh, src + at * 4, (int)(cnt / unit), mt, &st);
            at += cnt;
        }
        if (err) die("MPI_File_write_all failed");
        MPI_Barrier(MPI_COMM_WORLD);
        double t = now() - t0;
        if (MPI_File_sync(fh)) die("MPI_File_sync");
        MPI_Barrier(MPI_COMM_WORLD);
        double ts = now() - t0;
        MPI_File_close(&fh);
        uint64_t bad = check_file(file, pt), allbad = 0;
        MPI_Reduce(&bad, &allbad, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        double all_bytes = 0, mine = (double)bytes;
        MPI_Reduce(&mine, &all_bytes, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            double gib = all_bytes / (1 << 30);
            printf("%-6s write %-44s ranks %d  %.2f GiB  %.3f s  %.2f GiB/s  with sync %.3f s  "
                   "%.2f GiB/s  %s  %s, %llu call(s)\n",
                   mode, label, P, gib, t, gib / t, ts, gib / ts,
                   allbad ? "WRONG DATA" : "verified", decomp, (unsigned long long)maxcalls);
            printf("csv,%s,write,%s,%d,%.0f,%.4f,%.3f,%.4f,%.3f,%s,%s\n", mode, label, P, all_bytes,
                   t, gib / t, ts, gib / ts, allbad ? "wrong" : "verified", decomp);
            fflush(stdout);
        }
        if (allbad) MPI_Abort(MPI_COMM_WORLD, 3);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, P;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    const char *file = NULL, *mode = "homi", *label = "", *hints = "", *decomp = "subarray3d";
    uint64_t call_bytes = 0;
    int create = 0, iters = 1, nogpu = 0, warm = 0, ngpus = 0, wr = 0;
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
        else if (!strcmp(argv[i], "--write"))
            wr = 1;
        else if (!strcmp(argv[i], "--decomp") && i + 1 < argc)
            decomp = argv[++i];
        else if (!strcmp(argv[i], "--call-bytes") && i + 1 < argc)
            call_bytes = parse_size(argv[++i]) / 4 * 4;
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

    MPI_Datatype ft;
    struct part pt = {0};
    char desc[128];
    decompose(decomp, gs, rank, P, &ft, &pt, desc, sizeof desc);
    MPI_Type_commit(&ft);
    uint64_t n = pt.elems;
    size_t bytes = n * 4;
    /* more than one MPI count of floats (e.g. one rank reading 8 GiB): the
     * buffer is described in units of 1 Mi floats */
    MPI_Datatype mt = MPI_FLOAT;
    uint64_t unit = 1;
    if (n > (uint64_t)INT32_MAX && !call_bytes) {
        if (n % (1u << 20)) die("part too large for one call and not a multiple of 4 MiB");
        MPI_Type_contiguous(1 << 20, MPI_FLOAT, &mt);
        MPI_Type_commit(&mt);
        unit = 1u << 20;
    }
    /* calls per read: the same on every rank (collective) */
    uint64_t per_call = call_bytes ? call_bytes / 4 : n ? n : 1;
    uint64_t ncalls = (n + per_call - 1) / per_call, maxcalls = 0;
    MPI_Allreduce(&ncalls, &maxcalls, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (maxcalls == 0) maxcalls = 1;

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
        printf("# %s: %d ranks, %s, array %dx%dx%d float32 (%.2f GiB), calls of %s, %s, %s "
               "cache, %s\n",
               mode, P, desc, gs[0], gs[1], gs[2], total * 4.0 / (1 << 30),
               call_bytes ? "--call-bytes" : "the whole part",
               gpu ? "GPU destination" : "host destination (smoke run)", warm ? "warm" : "cold",
               ngpus > 0 ? "ranks spread over GPUs" : "one GPU");
    if (wr) {
        checkpoint(file, info, ft, mt, unit, &pt, host, dbuf, dev, gpu, homi, per_call, maxcalls,
                   iters, mode, label, decomp, P, rank);
        iters = 0;
    }
    if (warm && !wr) { /* read the file once into the page cache (every rank a slice) */
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
        if (MPI_File_set_view(fh, 0, MPI_FLOAT, ft, "native", MPI_INFO_NULL))
            die("MPI_File_set_view");
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now();
        MPI_Status stt;
        int err = MPI_SUCCESS;
        char *dst = homi && gpu ? dbuf : host;
        for (uint64_t k = 0, at = 0; k < maxcalls && !err; k++) {
            uint64_t cnt = at < n ? (n - at < per_call ? n - at : per_call) : 0;
            err = MPI_File_read_all(fh, dst + at * 4, (int)(cnt / unit), mt, &stt);
            at += cnt;
        }
        if (!err && !homi && gpu) {
            const void *s = host;
            if (homi_mem_copyv(1, &dbuf, &s, &bytes, dev)) die("cudaMemcpy");
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
        for (size_t r = 0; r < pt.n; r++)
            for (uint64_t e = 0; e < pt.r[r].len; e++, k++)
                bad += h[k] != (float)val(pt.r[r].start + e);
        uint64_t allbad = 0;
        MPI_Reduce(&bad, &allbad, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        double all_bytes = 0, mine = (double)bytes;
        MPI_Reduce(&mine, &all_bytes, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            double gib = all_bytes / (1 << 30);
            const char *cache = warm ? "warm" : "cold";
            int g = ngpus > 0 ? (ngpus < P ? ngpus : P) : 1;
            printf("%-6s %-4s gpus %d %-44s ranks %d  %.2f GiB  %.3f s  %.2f GiB/s  %s  "
                   "(open+close %.3f s)  %s, %llu call(s)\n",
                   mode, cache, g, label, P, gib, t, gib / t, allbad ? "WRONG DATA" : "verified",
                   topen, decomp, (unsigned long long)maxcalls);
            printf("csv,%s,%s,%d,%s,%d,%.0f,%.4f,%.3f,%s,%.4f,%s,%llu\n", mode, cache, g, label, P,
                   all_bytes, t, gib / t, allbad ? "wrong" : "verified", topen, decomp,
                   (unsigned long long)call_bytes);
            fflush(stdout);
        }
        if (allbad) MPI_Abort(MPI_COMM_WORLD, 3);
    }
    MPI_Info_free(&info);
    MPI_Type_free(&ft);
    free(pt.r);
    if (mt != MPI_FLOAT) MPI_Type_free(&mt);
    if (dbuf) homi_mem_free(HOMI_MEM_DEVICE, dbuf);
    homi_mem_free(gpu ? HOMI_MEM_PINNED : HOMI_MEM_HOST, host);
    MPI_Finalize();
    return 0;
}
