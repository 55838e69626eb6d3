/* test_gpu_write.c - writes whose source is CUDA device memory, checked
 * byte for byte against the same writes made with pwrite(2) from host
 * memory on a reference file: homi_pwrite (detected), homi_pwrite_ex
 * (declared), HOMI_IO_WRITE batches, homi_write_from_stream (ordered after
 * and before other work on the stream); random and unaligned offsets,
 * lengths and device pointers, pieces crossing staging slots, holes,
 * extending the file, overwrites; buffered and O_DIRECT; pinned host
 * sources; reads right behind device writes in flight; statistics; a freed
 * device buffer (an error, the file undamaged).  Exits 77 without a GPU. */
#include <cuda_runtime_api.h>

#include "homi_test.h"

#define K 1024ull
#define M (1024ull * 1024ull)

#define CUDA_OK(x)                                                                                 \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        REQUIRE(e_ == cudaSuccess, "%s: %s", #x, cudaGetErrorString(e_));                          \
    } while (0)

static void compare_files(int ref, const char *path, const char *what)
{
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0, "open %s", path);
    struct stat a, b;
    REQUIRE(fstat(ref, &a) == 0 && fstat(fd, &b) == 0, "fstat");
    CHECK(a.st_size == b.st_size, "%s: size %lld, reference %lld", what, (long long)b.st_size,
          (long long)a.st_size);
    size_t n = 8 * M;
    char *x = malloc(n), *y = malloc(n);
    REQUIRE(x && y, "malloc");
    for (off_t o = 0; o < a.st_size; o += (off_t)n) {
        ssize_t r1 = t_pread_ref(ref, x, n, o), r2 = t_pread_ref(fd, y, n, o);
        long long d = r1 == r2 ? t_first_diff(x, y, (size_t)r1) : 0;
        if (d >= 0) {
            T_FAIL("%s: first wrong byte at file offset %lld", what, (long long)o + d);
            break;
        }
    }
    free(x);
    free(y);
    close(fd);
}

static void run(const char *mode, const char *direct, const char *dir)
{
    t_context = mode;
    homi_config *cfg = t_config("homi_direct", direct, "homi_chunk_size", "256K",
                                "homi_staging_size", "1M", "homi_staging_buffers", "6", NULL);
    homi_engine *eng = NULL;
    REQUIRE(homi_engine_create(cfg, &eng) == HOMI_OK, "engine");
    homi_config_free(cfg);
    char path[4200], rpath[4200];
    t_path(path, sizeof path, dir, "homi");
    t_path(rpath, sizeof rpath, dir, "ref");
    int ref = open(rpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(ref >= 0, "open ref");
    homi_file *f = NULL;
    REQUIRE(homi_open(eng, path, HOMI_RDWR | HOMI_CREATE | HOMI_TRUNC, &f) == HOMI_OK, "open");

    const size_t pool = 16 * M;
    char *host = malloc(pool), *dev = NULL, *pinned = NULL;
    REQUIRE(host, "malloc");
    CUDA_OK(cudaMalloc((void **)&dev, pool + 4096));
    CUDA_OK(cudaHostAlloc((void **)&pinned, pool, cudaHostAllocDefault));
    t_fill_random(host, pool);
    CUDA_OK(cudaMemcpy(dev, host, pool, cudaMemcpyHostToDevice));
    memcpy(pinned, host, pool);
    cudaStream_t s;
    CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

    uint64_t fsize = 0, staged = 0, written = 0;
    for (int it = 0; it < 160; it++) {
        uint64_t len, off, src;
        switch (t_below(4)) {
        case 0: len = 1 + t_below(5000); break;
        case 1: len = (1 + t_below(1024)) * 4096; break; /* up to 4 MiB: many slots */
        default: len = 1 + t_below(3 * M); break;
        }
        switch (t_below(4)) {
        case 0: off = fsize; break;
        case 1: off = fsize + t_below(3 * M); break; /* a hole before it */
        case 2: off = t_below(fsize + 1) / 4096 * 4096; break;
        default: off = t_below(fsize + 1); break;
        }
        src = t_below(pool - len + 1);
        if (t_below(2)) src = src / 4096 * 4096;
        int entry = (int)t_below(5);
        int64_t r = -999;
        if (entry == 0) {
            r = homi_pwrite(f, dev + src, len, (int64_t)off);
        } else if (entry == 1) {
            homi_read_opts o = {.mem = HOMI_MEM_DEVICE};
            r = homi_pwrite_ex(f, dev + src, len, (int64_t)off, &o);
        } else if (entry == 2) {
            homi_io io = {.file = f,
                          .buf = dev + src,
                          .len = len,
                          .offset = (int64_t)off,
                          .user_data = 7,
                          .opts = {.flags = HOMI_IO_WRITE}};
            CHECK_RC(homi_submit(eng, &io, 1), 1);
            /* a read issued now, overlapping the write in flight, sees it */
            char *back = malloc(len);
            REQUIRE(back, "malloc");
            CHECK(homi_pread(f, back, len, (int64_t)off) == (int64_t)len &&
                      t_first_diff(back, host + src, len) < 0,
                  "read behind a device write in flight (off %llu len %llu)",
                  (unsigned long long)off, (unsigned long long)len);
            free(back);
            homi_completion c;
            REQUIRE(homi_wait(eng, &c, 1, 1, 30000) == 1, "wait");
            CHECK(c.user_data == 7 && c.path_mask == (1u << HOMI_PATH_KERNEL), "completion");
            r = c.result;
        } else if (entry == 3) {
            /* stream-ordered: the bytes are put in dev by the stream just
             * before the write, and overwritten just after it */
            int64_t res = -999;
            char *tmp = NULL;
            CUDA_OK(cudaMalloc((void **)&tmp, len));
            CUDA_OK(cudaMemsetAsync(tmp, 0x11, len, s));
            CUDA_OK(cudaMemcpyAsync(tmp, dev + src, len, cudaMemcpyDeviceToDevice, s));
            CHECK_RC(homi_write_from_stream(f, tmp, len, (int64_t)off, s, &res), HOMI_OK);
            CUDA_OK(cudaMemsetAsync(tmp, 0x22, len, s));
            CUDA_OK(cudaStreamSynchronize(s));
            CUDA_OK(cudaFree(tmp));
            r = res;
        } else {
            r = homi_pwrite(f, pinned + src, len, (int64_t)off); /* pinned host source */
        }
        CHECK(r == (int64_t)len, "entry %d: write(off %llu, len %llu, src +%llu) = %lld (%s)",
              entry, (unsigned long long)off, (unsigned long long)len, (unsigned long long)src,
              (long long)r, r < 0 ? homi_strerror((int)r) : "bytes");
        t_pwrite_all(ref, host + src, len, (off_t)off);
        if (off + len > fsize) fsize = off + len;
        written += len;
        if (entry != 4) staged += len;
        if (it % 40 == 39) compare_files(ref, path, "periodic");
        t_bail_if_many();
    }
    CHECK_RC(homi_fsync(f, 0), HOMI_OK);
    compare_files(ref, path, "whole file");
    homi_stats st;
    homi_file_stats(f, &st);
    homi_stats_print(&st, 0, stdout);
    CHECK(st.write_bytes == written, "write_bytes %llu want %llu",
          (unsigned long long)st.write_bytes, (unsigned long long)written);
    CHECK(st.write_path[HOMI_PATH_KERNEL].bytes == written, "kernel path wrote %llu",
          (unsigned long long)st.write_path[HOMI_PATH_KERNEL].bytes);
    CHECK(st.staged_write_bytes == staged, "staged_write_bytes %llu want %llu",
          (unsigned long long)st.staged_write_bytes, (unsigned long long)staged);

    /* a freed device buffer: an error, nothing written */
    t_context = "freed buffer";
    char *gone = NULL;
    CUDA_OK(cudaMalloc((void **)&gone, 4 * M));
    CUDA_OK(cudaFree(gone));
    int64_t r = homi_pwrite(f, gone, 4 * M, 0);
    printf("  %s: write from a freed device buffer -> %lld (%s)\n", mode, (long long)r,
           homi_strerror((int)r));
    CHECK(r < 0, "write from a freed device buffer returned %lld", (long long)r);
    homi_read_opts od = {.mem = HOMI_MEM_DEVICE};
    r = homi_pwrite_ex(f, gone, 4 * M, 0, &od);
    CHECK(r < 0, "declared device write from a freed buffer returned %lld", (long long)r);
    compare_files(ref, path, "after the freed-buffer writes");
    /* the engine still works */
    CHECK(homi_pwrite(f, dev, 3 * M + 1, 5) == (int64_t)(3 * M + 1), "write after the errors");
    t_pwrite_all(ref, host, 3 * M + 1, 5);
    compare_files(ref, path, "after recovery");

    CUDA_OK(cudaStreamDestroy(s));
    CUDA_OK(cudaFree(dev));
    CUDA_OK(cudaFreeHost(pinned));
    free(host);
    homi_close(f);
    homi_engine_destroy(eng);
    close(ref);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0 || !homi_cuda_available()) {
        printf("SKIP: no CUDA device (%s)\n", e ? cudaGetErrorString(e) : "0 devices");
        return 77;
    }
    struct cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    printf("test_gpu_write: %s, %d device(s)\n", p.name, n);
    t_seed_from_env(0x22);
    const char *dir = t_make_tmpdir("gpuw");
    run("buffered", "off", dir);
    run("direct", "on", dir);
    return t_finish("test_gpu_write");
}
