/* deleg_int.h - private state of the delegation role (deleg.c: owner,
 * clients, files; deleg_read.c: the read engine) and its counters. */
#ifndef HOMI_NVME_DELEG_INT_H
#define HOMI_NVME_DELEG_INT_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cplane/extmap.h"
#include "cplane/watch.h"
#include "homi_nvme.h"
#include "nvme/nvme_ctrl.h"
#include "paths/passthru_plan.h"

#define MAX_QUEUES 64u
#define MAX_REGS 64u

enum {
    ST_READS,
    ST_REFUSED,
    ST_CMDS_BUILT,
    ST_CMDS_REJECTED,
    ST_CMDS_COMPLETED,
    ST_CMD_ERRORS,
    ST_BYTES_NVME,
    ST_BYTES_KERNEL,
    ST_BYTES_ZERO,
    ST_FB_UNSAFE,
    ST_FB_CHANGED,
    ST_MAP_BUILDS,
    ST_QID_REFUSED,
    ST_BYTES_DIRECT,
    ST_COUNT
};

struct homi_nvme_owner {
    struct homi_nvme_ctrl ctrl;
    struct homi_watcher *watcher;
    pthread_mutex_t lock; /* clients, qused */
    unsigned nq, depth, max_xfer;
    unsigned char qused[MAX_QUEUES + 1];
    struct homi_nvme_client *clients;
    atomic_ullong st[ST_COUNT];
    struct homi_deleg_reg { /* registered destinations (lock) */
        char *va;           /* page-aligned start */
        size_t size;
        char *user; /* what the caller passed */
        uint64_t iova;
    } regs[MAX_REGS];
    unsigned nregs;
};

struct homi_nvme_client {
    struct homi_nvme_owner *o;
    struct homi_nvme_client *next;
    struct homi_nvme_file *files;
    uint16_t qid;
    struct homi_nvq q;
    struct homi_dma sqm, cqm, slots;
    unsigned nslots;
    int *slot_piece;   /* piece index of the command in each slot, -1 free */
    char *slot_direct; /* 1: the command writes into the registered destination */
    int *free_slots;
    unsigned nfree;
    int dead; /* a command timed out: its slot may still be written */
};

struct homi_nvme_file {
    struct homi_nvme_client *c;
    struct homi_nvme_file *next;
    int fd;
    uint32_t nsid;
    struct homi_pt_geom g;
    struct homi_extmap map;
    int map_valid;
    struct stat st;
    uint64_t seen;
    struct homi_watch *w;
};

static inline void homi_deleg_count(struct homi_nvme_owner *o, int k, uint64_t v)
{
    atomic_fetch_add(&o->st[k], v);
}

#endif
