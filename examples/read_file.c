/* read_file.c - the smallest useful HOMI program: read a file into memory
 * with synchronous reads, then again with a batch of asynchronous reads,
 * and print which path served how many bytes.
 *   usage: read_file FILE [BLOCK_BYTES]      (hints from HOMI_* variables) */
#include <homi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [BLOCK_BYTES]\n", argv[0]);
        return 2;
    }
    size_t block = argc > 2 ? strtoull(argv[2], NULL, 0) : (4u << 20);
    if (!block) block = 4u << 20;
    homi_engine *eng;
    homi_file *f;
    int rc = homi_engine_create(NULL, &eng); /* defaults + HOMI_* environment */
    if (rc) {
        fprintf(stderr, "engine: %s\n", homi_strerror(rc));
        return 1;
    }
    if ((rc = homi_open(eng, argv[1], HOMI_RDONLY, &f))) {
        fprintf(stderr, "%s: %s\n", argv[1], homi_strerror(rc));
        homi_engine_destroy(eng);
        return 1;
    }
    int64_t size = homi_file_size(f);
    char *buf = malloc(size > 0 ? (size_t)size : 1);
    if (!buf) return 1;

    /* 1. synchronous, pread-style */
    for (int64_t off = 0; off < size; off += (int64_t)block) {
        int64_t n = homi_pread(f, buf + off, block, off);
        if (n < 0) {
            fprintf(stderr, "read at %lld: %s\n", (long long)off, homi_strerror((int)n));
            return 1;
        }
    }

    /* 2. asynchronous: submit every block at once, then collect */
    unsigned nreq = (unsigned)((size + (int64_t)block - 1) / (int64_t)block);
    homi_io *ios = calloc(nreq ? nreq : 1, sizeof *ios);
    homi_completion *cqe = calloc(nreq ? nreq : 1, sizeof *cqe);
    for (unsigned i = 0; i < nreq; i++) {
        ios[i].file = f;
        ios[i].buf = buf + (size_t)i * block;
        ios[i].len = block;
        ios[i].offset = (int64_t)i * (int64_t)block;
        ios[i].user_data = i;
    }
    if ((rc = homi_submit(eng, ios, nreq)) < 0) {
        fprintf(stderr, "submit: %s\n", homi_strerror(rc));
        return 1;
    }
    int got = homi_wait(eng, cqe, nreq, nreq, -1);
    for (int i = 0; i < got; i++)
        if (cqe[i].result < 0)
            fprintf(stderr, "block %llu: %s\n", (unsigned long long)cqe[i].user_data,
                    homi_strerror((int)cqe[i].result));

    homi_stats st;
    homi_file_stats(f, &st);
    printf("%s: %lld bytes, read twice\n", argv[1], (long long)size);
    homi_stats_print(&st, 0, stdout);
    free(ios);
    free(cqe);
    free(buf);
    homi_close(f);
    homi_engine_destroy(eng);
    return 0;
}
