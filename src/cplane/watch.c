/* watch.c - inotify-based change counters, one inotify instance per engine,
 * one shared, reference-counted watch per inode. */
#include "cplane/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#define MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)

struct homi_watch {
    int wd;
    unsigned refs;
    uint64_t changes;
    struct homi_watch *next;
};

struct homi_watcher {
    int ifd;
    pthread_mutex_t lock;
    struct homi_watch *list;
};

int homi_watcher_create(struct homi_watcher **out)
{
    struct homi_watcher *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->ifd < 0) {
        int e = errno;
        free(w);
        return -e;
    }
    pthread_mutex_init(&w->lock, NULL);
    *out = w;
    return 0;
}

void homi_watcher_destroy(struct homi_watcher *w)
{
    if (!w) return;
    while (w->list) {
        struct homi_watch *h = w->list;
        w->list = h->next;
        free(h);
    }
    close(w->ifd);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static struct homi_watch *find(struct homi_watcher *w, int wd)
{
    for (struct homi_watch *h = w->list; h; h = h->next)
        if (h->wd == wd) return h;
    return NULL;
}

static void drain(struct homi_watcher *w)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(w->ifd, buf, sizeof buf);
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            struct homi_watch *h = find(w, ev->wd);
            if (h) h->changes++;
            if (ev->mask & IN_Q_OVERFLOW) /* lost events: everything changed */
                for (h = w->list; h; h = h->next)
                    h->changes++;
            p += sizeof *ev + ev->len;
        }
    }
}

struct homi_watch *homi_watch_add(struct homi_watcher *w, int fd)
{
    if (!w) return NULL;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    pthread_mutex_lock(&w->lock);
    drain(w);
    struct homi_watch *h = NULL;
    int wd = inotify_add_watch(w->ifd, proc, MASK);
    if (wd >= 0) {
        h = find(w, wd);
        if (h) {
            h->refs++;
        } else if ((h = calloc(1, sizeof *h))) {
            h->wd = wd;
            h->refs = 1;
            h->next = w->list;
            w->list = h;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return h;
}

void homi_watch_release(struct homi_watcher *w, struct homi_watch *h)
{
    if (!w || !h) return;
    pthread_mutex_lock(&w->lock);
    if (--h->refs == 0) {
        inotify_rm_watch(w->ifd, h->wd);
        for (struct homi_watch **pp = &w->list; *pp; pp = &(*pp)->next)
            if (*pp == h) {
                *pp = h->next;
                break;
            }
        free(h);
    }
    pthread_mutex_unlock(&w->lock);
}

uint64_t homi_watch_changes(struct homi_watcher *w, struct homi_watch *h)
{
    if (!w || !h) return 0;
    pthread_mutex_lock(&w->lock);
    drain(w);
    uint64_t c = h->changes;
    pthread_mutex_unlock(&w->lock);
    return c;
}
