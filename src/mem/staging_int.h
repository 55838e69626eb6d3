/* staging_int.h - the pinned staging pool and its service threads, shared
 * by the read direction (staging.c) and the write direction
 * (staging_write.c).  CUDA builds only. */
#ifndef HOMI_MEM_STAGING_INT_H
#define HOMI_MEM_STAGING_INT_H

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>

struct homi_fh;
struct homi_engine;
struct homi_wrange;

#define MAX_GPUS 64
#define NSTREAMS 2
#define NASYNC 4 /* service threads for asynchronous device requests */

struct sdev {
    int ready;
    cudaStream_t s[NSTREAMS];
    cudaEvent_t *ev; /* one per slot */
};

struct job {
    struct homi_fh *f;
    void *dst; /* reads: destination; writes: source */
    size_t len;
    int64_t off;
    int device, path;
    uint64_t user_data;
    int64_t *result; /* stream-ordered: where to write the result */
    void (*cb)(void *arg, int64_t result, unsigned mask); /* callback jobs */
    void *cb_arg;
    sem_t done; /* stream-ordered: posted when the data is on the GPU / in the file */
    int stream_mode;
    int write;              /* staging_write.c */
    struct homi_wrange *wr; /* write: its in-flight entry, ended by the job */
    struct homi_staging *st;
    struct job *next;
};

struct homi_staging {
    struct homi_engine *eng;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *mem;
    size_t slot_size;
    unsigned nslots;
    unsigned *free;
    unsigned nfree;
    struct sdev dev[MAX_GPUS];
    /* service threads: NASYNC for homi_submit jobs, one for stream-ordered
     * reads (which must run in the order they were queued), one for
     * stream-ordered writes (queued when their stream reaches them) */
    pthread_t th[NASYNC + 2];
    int nth, stop;
    struct jobq {
        struct job *h, *t;
    } q[3];
    pthread_cond_t qcond;
};

/* The engine's pool, created on first use (NULL with *rc set on failure). */
struct homi_staging *homi_stg_get(struct homi_engine *e, int *rc);
/* Streams and per-slot events of device (and cudaSetDevice(device)). */
int homi_stg_dev_ready(struct homi_staging *st, int device);
/* A free slot; -1 when none and !block. */
int homi_stg_acquire(struct homi_staging *st, int block);
void homi_stg_release(struct homi_staging *st, unsigned slot);
/* Start the service threads still missing (caller holds st->lock). */
int homi_stg_start_service(struct homi_staging *st);
/* Run a write job on a service thread: ends j->wr; bytes or error. */
int64_t homi_stg_write_job(struct homi_staging *st, struct job *j);

#endif
