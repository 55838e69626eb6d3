/* delegated.h - what the delegated path (delegated.c) offers besides its
 * path vtable: the counters of the controller it owns, for homid's
 * statistics and homi-info, and the queue pairs homid grants to one client
 * alone. */
#ifndef HOMI_PATHS_DELEGATED_H
#define HOMI_PATHS_DELEGATED_H

struct homi_engine;
struct homi_fh;
struct homi_nvme_stats;
struct homi_dgrant;

/* The owner's counters (commands built, bytes from the queues, through the
 * file system and of holes...): HOMI_OK, or HOMI_ENOTSUP when the engine
 * has no delegated path. */
int homi_delegated_stats(struct homi_engine *eng, struct homi_nvme_stats *out);

/* Reserve want queue pairs for one holder alone (all or none): HOMI_OK with
 * *out; HOMI_EBUSY when fewer are free, HOMI_EINVAL when the controller
 * has fewer, HOMI_ENOTSUP without the path; the reason in why.  Chunks of
 * files bound to the grant use only its queue pairs; no other file's do. */
int homi_delegated_grant(struct homi_engine *eng, unsigned want, struct homi_dgrant **out,
                         char *why, size_t whylen);
/* Give the queue pairs back to the shared pool (no file bound to g may
 * have a read in flight or be read again).  g may be NULL. */
void homi_delegated_ungrant(struct homi_engine *eng, struct homi_dgrant *g);
unsigned homi_delegated_grant_size(const struct homi_dgrant *g);
/* Read f (just opened, nothing in flight) only on g's queue pairs. */
void homi_delegated_bind(struct homi_fh *f, struct homi_dgrant *g);
/* Queue pairs of the controller and how many are granted. */
int homi_delegated_inventory(struct homi_engine *eng, unsigned *total, unsigned *granted);

#endif
