/* watch.h - change notification for open files (inotify), so that extent
 * maps are invalidated when a file is written, truncated or preallocated.
 * inotify events are queued synchronously by the writing syscall, so a
 * drain before planning a read sees every completed write. */
#ifndef HOMI_CPLANE_WATCH_H
#define HOMI_CPLANE_WATCH_H

#include <stdint.h>

struct homi_watcher;
struct homi_watch;

int homi_watcher_create(struct homi_watcher **out); /* 0 or -errno */
void homi_watcher_destroy(struct homi_watcher *w);
/* Watch the file open on fd; NULL if inotify refuses (then callers rely on
 * stat comparison alone). */
struct homi_watch *homi_watch_add(struct homi_watcher *w, int fd);
void homi_watch_release(struct homi_watcher *w, struct homi_watch *h);
/* Drain pending events and return the change counter of h. */
uint64_t homi_watch_changes(struct homi_watcher *w, struct homi_watch *h);

#endif
