/* stats.h - lock-free statistics accumulators (per engine and per file). */
#ifndef HOMI_CORE_STATS_H
#define HOMI_CORE_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "homi.h"

struct homi_stats_acc {
    _Atomic uint64_t bytes[HOMI_PATH_COUNT];
    _Atomic uint64_t reqs[HOMI_PATH_COUNT];
    _Atomic uint64_t ns[HOMI_PATH_COUNT];
    _Atomic uint64_t fb[HOMI_FB_COUNT];
    _Atomic uint64_t reads, read_bytes, errors, map_builds, staged_bytes, nvme_cmds;
    _Atomic uint64_t daemon_bytes;
    /* writes */
    _Atomic uint64_t wbytes[HOMI_PATH_COUNT];
    _Atomic uint64_t wreqs[HOMI_PATH_COUNT];
    _Atomic uint64_t wns[HOMI_PATH_COUNT];
    _Atomic uint64_t writes, write_bytes, staged_write_bytes, syncs;
};

void homi_stats_path(struct homi_stats_acc *a, int path, uint64_t bytes, uint64_t ns);
void homi_stats_write_path(struct homi_stats_acc *a, int path, uint64_t bytes, uint64_t ns);
void homi_stats_fallback(struct homi_stats_acc *a, int reason);
void homi_stats_snapshot(const struct homi_stats_acc *a, homi_stats *out);

#endif
