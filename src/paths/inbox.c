/* inbox.c - a worker's inbox and ring turn, shared by the io_uring worker
 * paths (see inbox.h). */
#include "paths/inbox.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"

#define EFD_TAG ((void *)1) /* user data of the eventfd read */

void homi_inbox_prepare(struct homi_inbox *b)
{
    pthread_mutex_init(&b->lock, NULL);
    b->head = b->tail = NULL;
    b->efd = -1;
    b->armed = 0;
    b->wake_due = 0;
}

int homi_inbox_open(struct homi_inbox *b)
{
    b->efd = eventfd(0, EFD_CLOEXEC);
    return b->efd < 0 ? -errno : 0;
}

void homi_inbox_fini(struct homi_inbox *b)
{
    if (b->efd >= 0) close(b->efd);
    b->efd = -1;
    pthread_mutex_destroy(&b->lock);
}

void homi_inbox_wake(struct homi_inbox *b)
{
    uint64_t one = 1;
    ssize_t r = write(b->efd, &one, sizeof one);
    (void)r;
}

struct homi_chunk *homi_inbox_take(struct homi_inbox *b, struct homi_chunk **tail)
{
    pthread_mutex_lock(&b->lock);
    struct homi_chunk *h = b->head;
    if (tail) *tail = b->tail;
    b->head = b->tail = NULL;
    b->wake_due = 0; /* chunks pushed from now on need a new wake-up */
    pthread_mutex_unlock(&b->lock);
    return h;
}

struct homi_chunk *homi_inbox_take_first(struct homi_inbox *b,
                                         int (*pred)(const struct homi_chunk *c, void *arg),
                                         void *arg)
{
    pthread_mutex_lock(&b->lock);
    struct homi_chunk *c = b->head;
    if (c && pred(c, arg)) {
        b->head = c->next;
        if (!b->head) b->tail = NULL;
        c->next = NULL;
    } else {
        c = NULL;
    }
    pthread_mutex_unlock(&b->lock);
    return c;
}

void homi_inbox_put_back(struct homi_inbox *b, struct homi_chunk *c)
{
    pthread_mutex_lock(&b->lock);
    c->next = b->head;
    b->head = c;
    if (!b->tail) b->tail = c;
    int wake = !b->wake_due;
    b->wake_due = 1;
    pthread_mutex_unlock(&b->lock);
    if (wake) homi_inbox_wake(b);
}

int homi_inbox_empty(struct homi_inbox *b)
{
    pthread_mutex_lock(&b->lock);
    int empty = !b->head;
    pthread_mutex_unlock(&b->lock);
    return empty;
}

void homi_inbox_spread(struct homi_chunk **chunks, size_t n, unsigned nw, unsigned start,
                       struct homi_inbox *(*box)(void *state, unsigned k), void *state)
{
    uint64_t now = homi_now_ns();
    for (unsigned k = 0; k < nw && k < n; k++) {
        struct homi_inbox *b = box(state, (start + k) % nw);
        struct homi_chunk *head = NULL, *tail = NULL;
        for (size_t i = k; i < n; i += nw) {
            struct homi_chunk *c = chunks[i];
            c->t0 = now;
            c->next = NULL;
            if (tail)
                tail->next = c;
            else
                head = c;
            tail = c;
        }
        pthread_mutex_lock(&b->lock);
        if (b->tail)
            b->tail->next = head;
        else
            b->head = head;
        b->tail = tail;
        int wake = !b->wake_due;
        b->wake_due = 1;
        pthread_mutex_unlock(&b->lock);
        if (wake) homi_inbox_wake(b);
    }
}

void homi_inbox_ring_turn(struct homi_inbox *b, struct io_uring *ring, unsigned wait_nr, int sqe128,
                          const char *who, void (*on_cqe)(void *w, void *data, int res), void *w)
{
    if (!b->armed) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        if (!sqe) {
            io_uring_submit(ring);
            sqe = io_uring_get_sqe(ring);
        }
        if (sqe) {
            if (sqe128) memset(sqe, 0, 128);
            io_uring_prep_read(sqe, b->efd, &b->efd_val, sizeof b->efd_val, 0);
            io_uring_sqe_set_data(sqe, EFD_TAG);
            b->armed = 1;
        }
    }
    int rc = io_uring_submit_and_wait(ring, wait_nr);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        homi_log(HOMI_LOG_ERROR, "%s: io_uring_submit_and_wait: %s", who, strerror(-rc));
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(ring, head, cqe)
    {
        void *d = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        seen++;
        if (d == EFD_TAG)
            b->armed = 0;
        else
            on_cqe(w, d, res);
    }
    io_uring_cq_advance(ring, seen);
}
