/* inbox.h - the plumbing the io_uring worker paths share (kernel.c,
 * passthru.c): a worker's inbox, which submitters fill with chunks and
 * wake through an eventfd; the read of that eventfd kept queued on the
 * worker's ring; one submit-and-wait turn of the ring with its completions
 * handed on; and the round-robin spreading of a batch over the workers. */
#ifndef HOMI_PATHS_INBOX_H
#define HOMI_PATHS_INBOX_H

#include <liburing.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct homi_chunk;

struct homi_inbox {
    pthread_mutex_t lock; /* protects head, tail and wake_due */
    struct homi_chunk *head, *tail;
    int wake_due;     /* efd written since the worker last took the inbox */
    int efd;          /* written by a push: wakes the worker */
    uint64_t efd_val; /* where the ring reads it            */
    int armed;        /* a read of efd is queued on the ring */
};

/* Initialise the lock (efd = -1); cannot fail. */
void homi_inbox_prepare(struct homi_inbox *b);
/* Create the eventfd: 0 or -errno. */
int homi_inbox_open(struct homi_inbox *b);
/* Close the eventfd (if open) and destroy the lock. */
void homi_inbox_fini(struct homi_inbox *b);
void homi_inbox_wake(struct homi_inbox *b);
/* Take every queued chunk: the first, and the last in *tail (tail may be
 * NULL); NULL when empty. */
struct homi_chunk *homi_inbox_take(struct homi_inbox *b, struct homi_chunk **tail);
int homi_inbox_empty(struct homi_inbox *b);
/* Take the first queued chunk when pred(chunk, arg) says so (the worker
 * has not taken it yet); NULL otherwise.  The rest stay queued, in order. */
struct homi_chunk *homi_inbox_take_first(struct homi_inbox *b,
                                         int (*pred)(const struct homi_chunk *c, void *arg),
                                         void *arg);
/* Put c back at the front (a chunk taken with homi_inbox_take_first and
 * not served); the worker's wake-up, if one is due, still comes. */
void homi_inbox_put_back(struct homi_inbox *b, struct homi_chunk *c);

/* Spread chunks[0..n) over nw workers, chunk i to worker (start + i) % nw,
 * each worker's share in order and with at most one wake-up (none when one
 * is already due: the worker takes its whole inbox when it wakes, so a
 * burst of submissions costs one eventfd write per worker, not one per
 * submission); sets every chunk's
 * t0 (now) and next.  box(state, k) is worker k's inbox. */
void homi_inbox_spread(struct homi_chunk **chunks, size_t n, unsigned nw, unsigned start,
                       struct homi_inbox *(*box)(void *state, unsigned k), void *state);

/* One turn of a worker's ring: queue the read of the inbox's eventfd if
 * none is (sqe128: the ring has 128-byte SQEs, zeroed first), submit, wait
 * for wait_nr completions, and hand every other completion to on_cqe(w,
 * its user data, its result).  who names the path in error logs. */
void homi_inbox_ring_turn(struct homi_inbox *b, struct io_uring *ring, unsigned wait_nr, int sqe128,
                          const char *who, void (*on_cqe)(void *w, void *data, int res), void *w);

#endif
