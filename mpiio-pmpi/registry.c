/* registry.c - process-wide state of the layer: the files it serves
 * (keyed by the MPI library's MPI_File), whether the MPI library already
 * has ad_homi (then the layer stands aside), and the per-path totals
 * printed at MPI_Finalize with HOMI_MPIIO_STATS=1. */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static lyr_file *files;
static homi_stats totals;
static int engine_used;

lyr_file *lyr_lookup(MPI_File fh)
{
    if (fh == MPI_FILE_NULL) return NULL;
    pthread_mutex_lock(&reg_lock);
    lyr_file *f = files;
    while (f && f->fh != fh)
        f = f->next;
    pthread_mutex_unlock(&reg_lock);
    return f;
}

void lyr_register(lyr_file *f)
{
    pthread_mutex_lock(&reg_lock);
    f->next = files;
    files = f;
    pthread_mutex_unlock(&reg_lock);
}

void lyr_unregister(lyr_file *f)
{
    pthread_mutex_lock(&reg_lock);
    for (lyr_file **p = &files; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    pthread_mutex_unlock(&reg_lock);
}

/* dl_iterate_phdr: does a loaded object define ADIO_HOMI_operations?  (Open
 * MPI loads its io/romio321 plugin with local symbols: RTLD_DEFAULT does
 * not see it.) */
static int find_adhomi(struct dl_phdr_info *pi, size_t sz, void *arg)
{
    (void)sz;
    const char *n = pi->dlpi_name;
    if (!n || !*n || strstr(n, "libhomi_mpiio")) return 0;
    void *h = dlopen(n, RTLD_LAZY | RTLD_NOLOAD);
    if (h) {
        if (dlsym(h, "ADIO_HOMI_operations")) *(int *)arg = 1;
        dlclose(h);
    }
    return *(int *)arg;
}

int lyr_adhomi_present(void)
{
    static int known, present;
    pthread_mutex_lock(&reg_lock);
    if (!known) {
        present = dlsym(RTLD_DEFAULT, "ADIO_HOMI_operations") != NULL;
        if (!present) dl_iterate_phdr(find_adhomi, &present);
        known = 1;
        const char *v = getenv("HOMI_MPIIO_VERBOSE");
        if (present && v && *v == '1')
            fprintf(stderr, "homi_mpiio: the MPI library contains ad_homi: the PMPI layer "
                            "stands aside\n");
    }
    pthread_mutex_unlock(&reg_lock);
    return present;
}

void lyr_stats_add(const homi_stats *s)
{
    pthread_mutex_lock(&reg_lock);
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        totals.path[p].bytes += s->path[p].bytes;
        totals.path[p].requests += s->path[p].requests;
        totals.path[p].ns += s->path[p].ns;
    }
    for (int r = 0; r < HOMI_FB_COUNT; r++)
        totals.fallbacks[r] += s->fallbacks[r];
    totals.reads += s->reads;
    totals.read_bytes += s->read_bytes;
    totals.errors += s->errors;
    totals.map_builds += s->map_builds;
    totals.writes += s->writes;
    totals.write_bytes += s->write_bytes;
    totals.staged_write_bytes += s->staged_write_bytes;
    totals.staged_bytes += s->staged_bytes;
    totals.nvme_cmds += s->nvme_cmds;
    totals.daemon_bytes += s->daemon_bytes;
    pthread_mutex_unlock(&reg_lock);
}

/* HOMI_MPIIO_STATS=1: one line per rank and path that served bytes. */
void lyr_stats_report(void)
{
    const char *v = getenv("HOMI_MPIIO_STATS");
    if (!v || *v != '1') return;
    int rank = 0;
    PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
    pthread_mutex_lock(&reg_lock);
    uint64_t all = 0;
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        all += totals.path[p].bytes;
        if (totals.path[p].bytes)
            fprintf(stderr, "homi_mpiio: rank %d path %s bytes %llu requests %llu\n", rank,
                    homi_path_name(p), (unsigned long long)totals.path[p].bytes,
                    (unsigned long long)totals.path[p].requests);
    }
    fprintf(stderr, "homi_mpiio: rank %d served %llu bytes (%llu reads, %llu staged to GPU)\n",
            rank, (unsigned long long)all, (unsigned long long)totals.reads,
            (unsigned long long)totals.staged_bytes);
    if (totals.writes)
        fprintf(stderr,
                "homi_mpiio: rank %d wrote %llu bytes (%llu writes, %llu staged from GPU)\n", rank,
                (unsigned long long)totals.write_bytes, (unsigned long long)totals.writes,
                (unsigned long long)totals.staged_write_bytes);
    pthread_mutex_unlock(&reg_lock);
}

void lyr_mark_engine_used(void)
{
    pthread_mutex_lock(&reg_lock);
    engine_used = 1;
    pthread_mutex_unlock(&reg_lock);
}

int lyr_engine_used(void)
{
    pthread_mutex_lock(&reg_lock);
    int u = engine_used;
    pthread_mutex_unlock(&reg_lock);
    return u;
}
