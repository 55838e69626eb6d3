/* config.h - the engine configuration: one table of keys shared by the
 * environment (HOMI_*), key/value hints (MPI-IO, HDF5) and the API. */
#ifndef HOMI_CORE_CONFIG_H
#define HOMI_CORE_CONFIG_H

#include <stdint.h>

#define HOMI_PCI_LEN 16 /* "DDDD:BB:DD.F" and its NUL */

struct homi_config {
    int path;                /* HOMI_PATH_AUTO or a homi_path_id      */
    unsigned threads;        /* 0: one per online CPU (max 16)         */
    unsigned queue_depth;    /* per worker ring                        */
    uint64_t chunk_size;     /* split size of large reads, bytes       */
    int direct;              /* O_DIRECT reads                         */
    unsigned bounce_buffers; /* per worker, chunk_size each            */
    int hole_skip;           /* serve holes as zeros without I/O       */
    uint64_t min_hole;       /* smaller holes are read, not skipped    */
    unsigned max_files;      /* open files per engine                  */
    int log_level;
    int fixed_files; /* register files with the rings          */
    int inline_sync;
    int sync_help;               /* a waiting synchronous caller serves queued chunks itself */
    int sync_split;              /* sync GPU reads of <= 1 staging slot in 4 pieces */
    char delegate[HOMI_PCI_LEN]; /* delegated controller's PCI address, "" none */
    uint64_t staging_size;       /* pinned staging slot, bytes          */
    unsigned staging_buffers;    /* pinned staging slots per engine     */
    int cufile_enable;           /* 0 off, 1 auto, 2 on                 */
    int devq_daemon;             /* device queues via homid: 0 off, 1 auto, 2 on */
    unsigned passthru_threads;   /* passthrough worker rings            */
    unsigned passthru_qd;        /* NVMe commands in flight per ring    */
    uint64_t passthru_min;       /* auto: smallest read sent to passthru */
    int daemon;                  /* use homid when HOMI_SOCKET names one */
    unsigned daemon_timeout;     /* seconds without progress: homid lost */
    unsigned daemon_retry;       /* seconds after a loss before reconnecting */
    unsigned daemon_slots;       /* shared-memory data slots per client  */
    unsigned deleg_qpairs;       /* delegated queue pairs asked of homid  */
    unsigned vf_queues;          /* homid --delegate-vf: VF I/O queue pairs */
    unsigned vf_interrupts;      /* homid --delegate-vf: VF interrupts     */
    uint64_t pieces_direct;      /* scattered reads: direct from this size */
    uint64_t pieces_gap;         /* scattered reads: largest window gap    */
                                 /* single-chunk sync reads on the caller */
};

/* The built-in defaults plus the HOMI_* environment into *out: HOMI_OK, or
 * the first bad variable's error (logged; *out then holds the rest). */
int homi_config_defaults_env(struct homi_config *out);
/* 1 when a and b hold the same value for every key. */
int homi_config_same(const struct homi_config *a, const struct homi_config *b);

/* Parse a size with optional K/M/G/T suffix (binary).  0 or -1. */
int homi_parse_size(const char *s, uint64_t *out);
/* Parse auto|kernel|passthru|device|cufile|delegated.  0 or -1. */
int homi_parse_path(const char *s, int *out);
/* Parse a PCI address DDDD:BB:DD.F (or none/"") into out[HOMI_PCI_LEN].
 * 0 or -1. */
int homi_parse_pci(const char *s, char *out);
/* Parse on/off/true/false/1/0/yes/no.  0 or -1. */
int homi_parse_bool(const char *s, int *out);

#endif
