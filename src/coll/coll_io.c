/* coll_io.c - the I/O half of the collective engine: reading or writing
 * an aggregator's window (the extents inside it) through libhomi, the pool
 * of threads that reads (or writes) a window's parts at once (and the next
 * window while this one is handed out or filled), and the independent
 * (one-rank) read of a segment list (libhomi's scattered read,
 * homi_read_pieces). */
#include <stdlib.h>

#include "coll_int.h"

int coll_read_window(homi_file *f, const struct coll_ext *E, size_t ne, size_t e0, int64_t ws,
                     int64_t we, char *win)
{
    for (size_t i = e0; i < ne && E[i].off < we; i++) {
        int64_t a = E[i].off > ws ? E[i].off : ws;
        int64_t b = E[i].off + E[i].len;
        if (b > we) b = we;
        if (b <= a) continue;
        int64_t got = homi_pread_ex(f, win + (a - ws), (size_t)(b - a), a, NULL);
        if (got < 0) return (int)got;
        if (got != b - a) return HOMI_EIO; /* the file shrank under us */
    }
    return HOMI_OK;
}

int coll_write_window(homi_file *f, const struct coll_ext *E, size_t ne, size_t e0, int64_t ws,
                      int64_t we, const char *win)
{
    for (size_t i = e0; i < ne && E[i].off < we; i++) {
        int64_t a = E[i].off > ws ? E[i].off : ws;
        int64_t b = E[i].off + E[i].len;
        if (b > we) b = we;
        while (a < b) {
            int64_t put = homi_pwrite(f, win + (a - ws), (size_t)(b - a), a);
            if (put < 0) return (int)put;
            if (put == 0) return HOMI_EIO;
            a += put;
        }
    }
    return HOMI_OK;
}

struct coll_part {
    size_t e0;
    int64_t ws, we;
    char *dst;
};

/* One window's parts. */
struct coll_batch {
    const struct coll_ext *E;
    size_t ne;
    struct coll_part part[COLL_MAX_STREAMS];
    int nparts, next, pending, rc;
    int write; /* the parts are written from the window, not read into it */
};

struct coll_readers {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pthread_t th[COLL_MAX_STREAMS];
    int nth, stop;
    homi_file *file;
    /* batches in start order: ticket t lives in b[t % COLL_BATCHES];
     * tickets [waited, started) are in progress */
    struct coll_batch b[COLL_BATCHES];
    unsigned started, waited;
};

/* Take the next part of batch t and read (write) it (caller holds mu;
 * returns with mu held); 0 when no part of t was left. */
static int read_one(struct coll_readers *r, unsigned t)
{
    struct coll_batch *bt = &r->b[t % COLL_BATCHES];
    if (bt->next >= bt->nparts) return 0;
    struct coll_part p = bt->part[bt->next++];
    pthread_mutex_unlock(&r->mu);
    int rc = bt->write ? coll_write_window(r->file, bt->E, bt->ne, p.e0, p.ws, p.we, p.dst)
                       : coll_read_window(r->file, bt->E, bt->ne, p.e0, p.ws, p.we, p.dst);
    pthread_mutex_lock(&r->mu);
    if (rc && !bt->rc) bt->rc = rc;
    if (--bt->pending == 0) pthread_cond_broadcast(&r->done);
    return 1;
}

static void *reader_main(void *arg)
{
    struct coll_readers *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        int did = 0; /* the oldest batch with parts left first */
        for (unsigned t = r->waited; t != r->started && !did; t++)
            did = read_one(r, t);
        if (!did) pthread_cond_wait(&r->work, &r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int coll_readers_new(int nthreads, homi_file *f, struct coll_readers **out)
{
    struct coll_readers *r = calloc(1, sizeof *r);
    if (!r) return HOMI_ENOMEM;
    r->file = f;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->done, NULL);
    if (nthreads > COLL_MAX_STREAMS) nthreads = COLL_MAX_STREAMS;
    while (r->nth < nthreads && pthread_create(&r->th[r->nth], NULL, reader_main, r) == 0)
        r->nth++; /* fewer threads (even none) still work: the waiter reads */
    *out = r;
    return HOMI_OK;
}

void coll_readers_free(struct coll_readers *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    unsigned left = r->started - r->waited;
    pthread_mutex_unlock(&r->mu);
    if (left) { /* a caller error: never left behind by run_rounds */
        homi_log(HOMI_COLL_LOG_ERROR, "homi_coll: internal error: %u window read(s) not waited for",
                 left);
        while (left--)
            coll_readers_wait(r, r->waited);
    }
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->nth; i++)
        pthread_join(r->th[i], NULL);
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->done);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Parts are cut at multiples of this (and are at least this long). */
#define PART_MIN (1 << 20)

int coll_readers_start(struct coll_readers *r, const struct coll_ext *E, size_t ne, size_t e0,
                       int64_t ws, int64_t we, char *win, int nparts, int *parts, unsigned *ticket)
{
    return coll_pool_start(r, 0, E, ne, e0, ws, we, win, nparts, parts, ticket);
}

int coll_pool_start(struct coll_readers *r, int write, const struct coll_ext *E, size_t ne,
                    size_t e0, int64_t ws, int64_t we, char *win, int nparts, int *parts,
                    unsigned *ticket)
{
    if (nparts < 1) nparts = 1;
    if (nparts > COLL_MAX_STREAMS) nparts = COLL_MAX_STREAMS;
    int64_t span = we - ws;
    int64_t step = (span + nparts - 1) / nparts;
    step = (step + PART_MIN - 1) / PART_MIN * PART_MIN;
    pthread_mutex_lock(&r->mu);
    if (r->started - r->waited >= COLL_BATCHES) {
        pthread_mutex_unlock(&r->mu);
        return HOMI_EBUSY;
    }
    unsigned t = r->started;
    struct coll_batch *bt = &r->b[t % COLL_BATCHES];
    bt->E = E;
    bt->ne = ne;
    bt->write = write;
    bt->nparts = 0;
    bt->next = 0;
    bt->rc = HOMI_OK;
    for (int64_t a = ws; a < we || bt->nparts == 0; a += step) {
        int64_t b = we - a < step ? we : a + step;
        /* first extent that ends after a */
        while (e0 < ne && E[e0].off + E[e0].len <= a)
            e0++;
        bt->part[bt->nparts++] = (struct coll_part){e0, a, b, win + (a - ws)};
        if (b >= we) break;
    }
    bt->pending = bt->nparts;
    if (parts) *parts = bt->nparts;
    r->started = t + 1;
    *ticket = t;
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->mu);
    return HOMI_OK;
}

int coll_readers_wait(struct coll_readers *r, unsigned t)
{
    pthread_mutex_lock(&r->mu);
    if (t != r->waited || t == r->started) {
        pthread_mutex_unlock(&r->mu);
        return HOMI_EINVAL;
    }
    struct coll_batch *bt = &r->b[t % COLL_BATCHES];
    while (read_one(r, t)) {}
    while (bt->pending)
        pthread_cond_wait(&r->done, &r->mu);
    int rc = bt->rc;
    bt->nparts = bt->next = 0;
    r->waited = t + 1;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int homi_coll_read_indep(homi_file *file, const homi_coll_opts *opts, void *buf,
                         const homi_coll_seg *segs, size_t nsegs, int64_t *bytes)
{
    (void)opts; /* sieving is libhomi's (homi_pieces_direct, homi_pieces_gap) */
    int64_t eof = homi_file_size(file);
    if (eof < 0) return (int)eof;
    int64_t total = 0;
    if (bytes) *bytes = 0;
    if (!nsegs) return HOMI_OK;
    struct coll_req *r = malloc(nsegs * sizeof *r);
    homi_piece *p = malloc(nsegs * sizeof *p);
    int rc = (!r || !p) ? HOMI_ENOMEM : HOMI_OK;
    long n = rc ? 0 : coll_clip(segs, nsegs, eof, r, &total);
    if (n < 0) rc = HOMI_EINVAL;
    if (!rc && n) {
        int64_t hi = 0;
        for (long i = 0; i < n; i++)
            if (r[i].mem_off + r[i].len > hi) hi = r[i].mem_off + r[i].len;
        int dev = -1, kind = homi_mem_kind_of(buf, (size_t)hi, &dev);
        if (kind < 0) rc = kind;
        for (long i = 0; !rc && i < n; i++)
            p[i] = (homi_piece){r[i].off, (size_t)r[i].len, (char *)buf + r[i].mem_off};
        /* one scattered read: sieve windows for small pieces (scattered on
         * the GPU for device memory), large pieces straight in */
        int64_t got =
            rc ? 0
               : homi_read_pieces(file, p, (size_t)n,
                                  kind == HOMI_MEM_DEVICE ? HOMI_MEM_DEVICE : HOMI_MEM_HOST, 0);
        if (!rc && got < 0) rc = (int)got;
        if (!rc && got != total) rc = HOMI_EIO; /* the file shrank under us */
    }
    free(r);
    free(p);
    if (!rc && bytes) *bytes = total;
    return rc;
}
