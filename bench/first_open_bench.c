/* first_open_bench.c - what the first HOMI read of a process costs, phase by
 * phase (issue 23, item 3), each repetition in a fresh process (the program
 * runs itself again): the CUDA context (the application's own cost, made
 * first by a 1-byte device allocation), homi_engine_create, homi_open, the
 * first read of SIZE bytes into device memory (the engine sets up its
 * pinned staging pool and streams here), a second read of the same size,
 * and homi_close + homi_engine_destroy.  Configurations: the default, and
 * homi_cufile=on (libcufile loaded and every file registered with it, as the
 * default did before cuFile was loaded only where it is used).  Prints a
 * table of medians (ms) and CSV.
 *
 *   first-open-bench FILE [--reps N] [--size BYTES] [--device D]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "homi.h"

#define NPH 6
static const char *phase[NPH] = {"cuda_ctx", "engine", "open", "read1", "read2", "close"};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int child(const char *file, const char *cfgname, size_t size, int dev)
{
    double t[NPH], t0 = now_ms();
    void *d = NULL, *one = NULL;
    if (homi_mem_alloc(HOMI_MEM_DEVICE, dev, 1, &one)) return 2;
    t[0] = now_ms() - t0;
    if (homi_mem_alloc(HOMI_MEM_DEVICE, dev, size, &d)) return 2;
    homi_config *cfg = homi_config_new();
    if (!strcmp(cfgname, "cufile_on")) homi_config_set(cfg, "homi_cufile", "on");
    homi_engine *e;
    t0 = now_ms();
    if (homi_engine_create(cfg, &e)) return 3;
    t[1] = now_ms() - t0;
    homi_file *f;
    t0 = now_ms();
    if (homi_open(e, file, HOMI_RDONLY, &f)) return 4;
    t[2] = now_ms() - t0;
    for (int k = 0; k < 2; k++) {
        t0 = now_ms();
        int64_t got = homi_pread(f, d, size, (int64_t)(k * size));
        t[3 + k] = now_ms() - t0;
        if (got <= 0) return 5;
    }
    t0 = now_ms();
    homi_close(f);
    homi_engine_destroy(e);
    t[5] = now_ms() - t0;
    homi_config_free(cfg);
    printf("csv,%s", cfgname);
    for (int i = 0; i < NPH; i++)
        printf(",%.2f", t[i]);
    printf("\n");
    homi_mem_free(HOMI_MEM_DEVICE, d);
    homi_mem_free(HOMI_MEM_DEVICE, one);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "--child"))
        return child(argv[2], argv[3], strtoull(argv[4], NULL, 10), atoi(argv[5]));
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [--reps N] [--size BYTES] [--device D]\n", argv[0]);
        return 2;
    }
    const char *file = argv[1];
    int reps = 5, dev = 0;
    size_t size = 64u << 20;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--size")) size = strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--device")) dev = atoi(argv[i + 1]);
    }
    const char *cfgs[2] = {"default", "cufile_on"};
    printf("# first-open-bench %s: %d fresh processes per configuration, reads of %zu bytes "
           "into device %d\n",
           file, reps, size, dev);
    printf("mode,config,%s,%s,%s,%s,%s,%s\n", phase[0], phase[1], phase[2], phase[3], phase[4],
           phase[5]);
    double med[2][NPH];
    for (int c = 0; c < 2; c++) {
        double v[NPH][64];
        int n = 0;
        for (int r = 0; r < reps && r < 64; r++) {
            char sz[32], dv[16], cmd[4096];
            snprintf(sz, sizeof sz, "%zu", size);
            snprintf(dv, sizeof dv, "%d", dev);
            snprintf(cmd, sizeof cmd, "'%s' --child '%s' %s %s %s", argv[0], file, cfgs[c], sz, dv);
            FILE *p = popen(cmd, "r");
            char line[512];
            while (p && fgets(line, sizeof line, p)) {
                fputs(line, stdout);
                double x[NPH];
                char name[32];
                if (sscanf(line, "csv,%31[^,],%lf,%lf,%lf,%lf,%lf,%lf", name, &x[0], &x[1], &x[2],
                           &x[3], &x[4], &x[5]) == 7) {
                    for (int i = 0; i < NPH; i++)
                        v[i][n] = x[i];
                    n++;
                }
            }
            if (p && pclose(p)) fprintf(stderr, "run %d of %s failed\n", r, cfgs[c]);
        }
        for (int i = 0; i < NPH; i++) {
            qsort(v[i], (size_t)n, sizeof(double), cmp);
            med[c][i] = n ? v[i][n / 2] : 0;
        }
    }
    printf("\n| config (median ms) | CUDA context | engine create | open | first read | "
           "second read | close + destroy |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int c = 0; c < 2; c++)
        printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", cfgs[c], med[c][0], med[c][1],
               med[c][2], med[c][3], med[c][4], med[c][5]);
    return 0;
}
