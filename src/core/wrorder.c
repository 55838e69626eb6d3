/* wrorder.c - the per-file list of writes in flight and the waits that
 * give one process POSIX ordering between overlapping reads and writes
 * (see wrorder.h and the "writes" section of homi.h). */
#include "core/wrorder.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "core/engine.h"

void homi_wr_init(struct homi_fh *f)
{
    pthread_mutex_init(&f->wr_lock, NULL);
    pthread_cond_init(&f->wr_cond, NULL);
    f->wr_list = NULL;
    f->wr_seq = 0;
    atomic_init(&f->wr_count, 0);
}

void homi_wr_fini(struct homi_fh *f)
{
    pthread_mutex_destroy(&f->wr_lock);
    pthread_cond_destroy(&f->wr_cond);
}

/* Is a write issued before seq and overlapping [off, end) in flight?
 * (caller holds wr_lock) */
static int blocked(const struct homi_fh *f, uint64_t off, uint64_t end, uint64_t seq)
{
    for (const struct homi_wrange *r = f->wr_list; r; r = r->next)
        if (r->seq < seq && r->off < end && off < r->end) return 1;
    return 0;
}

static uint64_t end_of(uint64_t off, uint64_t len)
{
    return len > UINT64_MAX - off ? UINT64_MAX : off + len;
}

struct homi_wrange *homi_wr_begin(struct homi_fh *f, uint64_t off, uint64_t len)
{
    struct homi_wrange *r = malloc(sizeof *r);
    if (!r) return NULL;
    r->off = off;
    r->end = end_of(off, len);
    pthread_mutex_lock(&f->wr_lock);
    r->seq = ++f->wr_seq;
    /* recorded at once (later reads and writes order after it), then
     * waits for the earlier overlapping ones */
    r->next = f->wr_list;
    f->wr_list = r;
    atomic_fetch_add(&f->wr_count, 1);
    while (blocked(f, r->off, r->end, r->seq))
        pthread_cond_wait(&f->wr_cond, &f->wr_lock);
    pthread_mutex_unlock(&f->wr_lock);
    return r;
}

void homi_wr_end(struct homi_fh *f, struct homi_wrange *r)
{
    if (!r) return;
    pthread_mutex_lock(&f->wr_lock);
    for (struct homi_wrange **p = &f->wr_list; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    atomic_fetch_sub(&f->wr_count, 1);
    pthread_cond_broadcast(&f->wr_cond);
    pthread_mutex_unlock(&f->wr_lock);
    free(r);
}

void homi_wr_wait(struct homi_fh *f, uint64_t off, uint64_t len)
{
    if (!atomic_load(&f->wr_count)) return;
    uint64_t end = end_of(off, len);
    pthread_mutex_lock(&f->wr_lock);
    uint64_t seq = f->wr_seq + 1;
    while (blocked(f, off, end, seq))
        pthread_cond_wait(&f->wr_cond, &f->wr_lock);
    pthread_mutex_unlock(&f->wr_lock);
}

/* Is a write issued before seq that starts at or after end in flight?
 * (caller holds wr_lock) */
static int beyond(const struct homi_fh *f, uint64_t end, uint64_t seq)
{
    for (const struct homi_wrange *r = f->wr_list; r; r = r->next)
        if (r->seq < seq && r->off >= end) return 1;
    return 0;
}

void homi_wr_wait_read(struct homi_fh *f, uint64_t off, uint64_t len)
{
    if (!atomic_load(&f->wr_count)) return;
    uint64_t end = end_of(off, len);
    pthread_mutex_lock(&f->wr_lock);
    uint64_t seq = f->wr_seq + 1;
    for (;;) {
        if (!blocked(f, off, end, seq)) {
            /* a write past the read's end moves the end of file over the
             * rest of the read (which then reads as a hole): wait for it
             * unless the file already covers the read */
            struct stat st;
            if (!beyond(f, end, seq) || (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size >= end))
                break;
        }
        pthread_cond_wait(&f->wr_cond, &f->wr_lock);
    }
    pthread_mutex_unlock(&f->wr_lock);
}
