/* stats.c - per-path counters, fallback reasons, the printed summary. */
#include "core/stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define RLX memory_order_relaxed

void homi_stats_path(struct homi_stats_acc *a, int path, uint64_t bytes, uint64_t ns)
{
    atomic_fetch_add_explicit(&a->bytes[path], bytes, RLX);
    atomic_fetch_add_explicit(&a->reqs[path], 1, RLX);
    atomic_fetch_add_explicit(&a->ns[path], ns, RLX);
}

void homi_stats_write_path(struct homi_stats_acc *a, int path, uint64_t bytes, uint64_t ns)
{
    atomic_fetch_add_explicit(&a->wbytes[path], bytes, RLX);
    atomic_fetch_add_explicit(&a->wreqs[path], 1, RLX);
    atomic_fetch_add_explicit(&a->wns[path], ns, RLX);
}

void homi_stats_fallback(struct homi_stats_acc *a, int reason)
{
    atomic_fetch_add_explicit(&a->fb[reason], 1, RLX);
}

void homi_stats_snapshot(const struct homi_stats_acc *a, homi_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        out->path[p].bytes = atomic_load_explicit(&a->bytes[p], RLX);
        out->path[p].requests = atomic_load_explicit(&a->reqs[p], RLX);
        out->path[p].ns = atomic_load_explicit(&a->ns[p], RLX);
    }
    for (int r = 0; r < HOMI_FB_COUNT; r++)
        out->fallbacks[r] = atomic_load_explicit(&a->fb[r], RLX);
    out->reads = atomic_load_explicit(&a->reads, RLX);
    out->read_bytes = atomic_load_explicit(&a->read_bytes, RLX);
    out->errors = atomic_load_explicit(&a->errors, RLX);
    out->map_builds = atomic_load_explicit(&a->map_builds, RLX);
    out->staged_bytes = atomic_load_explicit(&a->staged_bytes, RLX);
    out->nvme_cmds = atomic_load_explicit(&a->nvme_cmds, RLX);
    out->daemon_bytes = atomic_load_explicit(&a->daemon_bytes, RLX);
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        out->write_path[p].bytes = atomic_load_explicit(&a->wbytes[p], RLX);
        out->write_path[p].requests = atomic_load_explicit(&a->wreqs[p], RLX);
        out->write_path[p].ns = atomic_load_explicit(&a->wns[p], RLX);
    }
    out->writes = atomic_load_explicit(&a->writes, RLX);
    out->write_bytes = atomic_load_explicit(&a->write_bytes, RLX);
    out->staged_write_bytes = atomic_load_explicit(&a->staged_write_bytes, RLX);
    out->syncs = atomic_load_explicit(&a->syncs, RLX);
}

const char *homi_path_name(int path)
{
    static const char *const n[] = {"kernel", "passthru", "device", "cufile", "hole", "delegated"};
    return path >= 0 && path < HOMI_PATH_COUNT ? n[path] : "?";
}

const char *homi_fallback_name(int reason)
{
    static const char *const n[] = {
        "path-unavailable",  "direct-unsupported", "direct-unaligned-bounce",
        "extent-unsafe",     "device-not-nvme",    "extent-map-stale",
        "extent-map-failed", "passthru-error",     "changed-in-flight",
        "daemon-lost",       "queue-busy",
    };
    return reason >= 0 && reason < HOMI_FB_COUNT ? n[reason] : "?";
}

void homi_stats_print(const homi_stats *s, double seconds, void *file)
{
    FILE *f = file ? (FILE *)file : stdout;
    fprintf(f, "  %-9s %16s %12s %10s\n", "path", "bytes", "requests", "GB/s");
    for (int p = 0; p < HOMI_PATH_COUNT; p++) {
        if (!s->path[p].requests) continue;
        char gbs[32] = "-";
        if (seconds > 0)
            snprintf(gbs, sizeof gbs, "%.2f", (double)s->path[p].bytes / seconds / 1e9);
        fprintf(f, "  %-9s %16" PRIu64 " %12" PRIu64 " %10s\n", homi_path_name(p), s->path[p].bytes,
                s->path[p].requests, gbs);
    }
    fprintf(f,
            "  reads %" PRIu64 ", bytes returned %" PRIu64 ", errors %" PRIu64
            ", extent maps built %" PRIu64 "\n",
            s->reads, s->read_bytes, s->errors, s->map_builds);
    if (s->nvme_cmds) fprintf(f, "  NVMe read commands: %" PRIu64 "\n", s->nvme_cmds);
    if (s->daemon_bytes) fprintf(f, "  served by homid: %" PRIu64 " bytes\n", s->daemon_bytes);
    if (s->staged_bytes)
        fprintf(f, "  staged to GPU memory through pinned buffers: %" PRIu64 " bytes\n",
                s->staged_bytes);
    if (s->writes) {
        fprintf(f, "  writes %" PRIu64 ", bytes written %" PRIu64 ", syncs %" PRIu64 "\n",
                s->writes, s->write_bytes, s->syncs);
        for (int p = 0; p < HOMI_PATH_COUNT; p++)
            if (s->write_path[p].requests)
                fprintf(f, "  written by %s: %" PRIu64 " bytes in %" PRIu64 " requests\n",
                        homi_path_name(p), s->write_path[p].bytes, s->write_path[p].requests);
        if (s->staged_write_bytes)
            fprintf(f, "  staged from GPU memory through pinned buffers: %" PRIu64 " bytes\n",
                    s->staged_write_bytes);
    }
    int any = 0;
    for (int r = 0; r < HOMI_FB_COUNT; r++) {
        if (!s->fallbacks[r]) continue;
        fprintf(f, "%s%s=%" PRIu64, any ? ", " : "  fallbacks: ", homi_fallback_name(r),
                s->fallbacks[r]);
        any = 1;
    }
    fprintf(f, "%s\n", any ? "" : "  fallbacks: none");
}
