/* mpi_homi_read.c - an MPI program reading one file through libhomi (the
 * homi-run end-to-end test): every rank reads its block of the file and
 * random unaligned ranges anywhere in it, compares each byte with pread,
 * and the ranks agree on the verdict.  With --expect-daemon every rank
 * must have been served by homid (homi-run names it); --fail
 * makes rank 0 exit with status 3 (a failing job).  --seconds S keeps
 * reading random ranges for S seconds; --expect-restart (homid killed and
 * started again meanwhile): every rank must have counted the loss
 * (daemon-lost fallbacks, reads finished in-process) and been served by
 * homid again in its last second. */
#include <fcntl.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "homi.h"

static uint64_t rng;
static uint64_t next_rand(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long check(homi_file *f, int fd, uint64_t off, size_t len, char *a, char *b)
{
    int64_t got = homi_pread(f, a, len, (int64_t)off);
    size_t want = 0;
    while (want < len) {
        ssize_t r = pread(fd, b + want, len - want, (off_t)(off + want));
        if (r <= 0) break;
        want += (size_t)r;
    }
    if (got != (int64_t)want || memcmp(a, b, want)) {
        fprintf(stderr, "mismatch: %zu bytes at %llu: homi %lld, pread %zu\n", len,
                (unsigned long long)off, (long long)got, want);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int expect_daemon = 0, fail = 0, expect_restart = 0;
    double seconds = 0;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--expect-daemon"))
            expect_daemon = 1;
        else if (!strcmp(argv[i], "--fail"))
            fail = 1;
        else if (!strcmp(argv[i], "--expect-restart"))
            expect_restart = 1;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else
            file = argv[i];
    }
    if (!file) {
        if (!rank)
            fprintf(stderr, "usage: mpi_homi_read [--expect-daemon] [--fail] [--seconds S] "
                            "[--expect-restart] FILE\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    if (fail && rank == 0) {
        fprintf(stderr, "rank 0: failing on purpose (--fail)\n");
        exit(3);
    }
    long bad = 0;
    homi_engine *e;
    homi_file *f;
    int rc = homi_engine_create(NULL, &e);
    if (!rc) rc = homi_open(e, file, HOMI_RDONLY, &f);
    if (rc) {
        fprintf(stderr, "rank %d: %s: %s\n", rank, file, homi_strerror(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int fd = open(file, O_RDONLY);
    uint64_t fsize = (uint64_t)homi_file_size(f);
    uint64_t blk = (fsize + (uint64_t)size - 1) / (uint64_t)size;
    const size_t P = 4u << 20;
    char *a = malloc(P), *b = malloc(P);
    for (uint64_t off = (uint64_t)rank * blk; off < fsize && off < (uint64_t)(rank + 1) * blk;
         off += P) {
        uint64_t end = (uint64_t)(rank + 1) * blk;
        size_t n = end - off < P ? (size_t)(end - off) : P;
        bad += check(f, fd, off, n, a, b);
    }
    rng = 12345u + (uint64_t)rank;
    for (int i = 0; i < 50; i++)
        bad += check(f, fd, next_rand() % (fsize + 4096), (size_t)(next_rand() % P), a, b);
    homi_stats st;
    /* --seconds: random reads until the time is up; what homid served in
     * the last second is kept apart */
    double t0 = now_s();
    uint64_t before_last = 0;
    int sampled = 0;
    while (now_s() - t0 < seconds) {
        if (!sampled && now_s() - t0 >= seconds - 1) {
            homi_engine_stats(e, &st);
            before_last = st.daemon_bytes;
            sampled = 1;
        }
        bad += check(f, fd, next_rand() % (fsize + 4096), (size_t)(next_rand() % P), a, b);
    }
    homi_engine_stats(e, &st);
    if (expect_restart) {
        unsigned long long lost = st.fallbacks[HOMI_FB_DAEMON_LOST],
                           last = st.daemon_bytes - before_last;
        printf("rank %d: %llu reads finished in-process while homid was lost, %llu bytes served "
               "by homid in the last second\n",
               rank, lost, last);
        if (!lost || !last || !sampled) {
            fprintf(stderr, "rank %d: expected a loss (%llu) and homid again at the end (%llu)\n",
                    rank, lost, last);
            bad++;
        }
    }
    if (expect_daemon && (st.daemon_bytes == 0 || st.fallbacks[HOMI_FB_DAEMON_LOST])) {
        fprintf(stderr, "rank %d: homid served %llu bytes, daemon-lost %llu\n", rank,
                (unsigned long long)st.daemon_bytes,
                (unsigned long long)st.fallbacks[HOMI_FB_DAEMON_LOST]);
        bad++;
    }
    unsigned long long mine[2] = {st.read_bytes, st.daemon_bytes}, all[2];
    long allbad = 0;
    MPI_Reduce(mine, all, 2, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Allreduce(&bad, &allbad, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (!rank)
        printf("mpi_homi_read: %d ranks, %llu bytes read, %llu served by homid: %s\n", size, all[0],
               all[1], allbad ? "FAILED" : "all bytes equal to pread");
    homi_close(f);
    homi_engine_destroy(e);
    close(fd);
    free(a);
    free(b);
    MPI_Finalize();
    return allbad ? 1 : 0;
}
