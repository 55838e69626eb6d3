/* delegated.h - what the delegated path (delegated.c) offers besides its
 * path vtable: the counters of the controller it owns, for homid's
 * statistics and homi-info. */
#ifndef HOMI_PATHS_DELEGATED_H
#define HOMI_PATHS_DELEGATED_H

struct homi_engine;
struct homi_nvme_stats;

/* The owner's counters (commands built, bytes from the queues, through the
 * file system and of holes...): HOMI_OK, or HOMI_ENOTSUP when the engine
 * has no delegated path. */
int homi_delegated_stats(struct homi_engine *eng, struct homi_nvme_stats *out);

#endif
