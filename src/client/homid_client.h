/* homid_client.h - libhomi's side of the node daemon homid: the connection
 * (handshake, shared region, open/close/stats messages) and the "daemon
 * route" that read.c uses instead of an in-process path for files homid
 * serves.  When homid is lost (socket EOF/error, or no progress for
 * homi_daemon_timeout seconds) every read in flight and every later read
 * is served by the in-process kernel path, counted as daemon-lost. */
#ifndef HOMI_CLIENT_HOMID_CLIENT_H
#define HOMI_CLIENT_HOMID_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct homi_engine;
struct homi_fh;
struct homi_chunk;
struct homi_client;
struct homi_stats;

/* The socket named by HOMI_SOCKET, else HOMI_RUNTIME_DIR/homid.sock, into
 * buf; 0 when neither is set. */
int homi_client_socket_path(char *buf, size_t len);

/* homid_autostart.c: when HOMI_HOMID_AUTOSTART names homid and none answers
 * at sock, the node's first process starts one (detached, --idle-exit) and
 * the others wait for it.  0, HOMI_ENOENT (not asked for) or an error with
 * the reason in why. */
int homi_client_autostart(const char *sock, char *why, size_t whylen);

/* Connect the engine to homid when the environment names one and the
 * homi_daemon hint allows it.  On failure the engine stays in-process
 * (logged, counted as daemon-lost). */
void homi_client_attach(struct homi_engine *e);
/* Report the engine's statistics to homid, disconnect, free. */
void homi_client_detach(struct homi_engine *e);

/* Register an opened file with homid (sets f->dmn_id); failures leave it
 * in-process. */
void homi_client_file_open(struct homi_client *cl, struct homi_fh *f);
void homi_client_file_close(struct homi_client *cl, struct homi_fh *f);

/* 1 when reads of f go to homid; 0 otherwise.  When the file was served by
 * homid that is now lost, counts daemon-lost for it. */
int homi_client_serves(struct homi_client *cl, struct homi_fh *f);

/* The daemon route: queue chunks (c->want is the path asked of homid). */
void homi_client_submit(struct homi_client *cl, struct homi_chunk **chunks, size_t n);

/* GPU device queues served by homid (src/gpu/devq_homid.c): create one
 * over a region (memfd) the caller laid out, with an eventfd homid writes
 * when it posted work; then export/revoke/destroy (homid_dq_op). */
struct homid_devq_create;
int homi_client_devq_create(struct homi_client *cl, const struct homid_devq_create *p, int memfd,
                            int efd, uint32_t *queue, unsigned *threads);
int homi_client_devq_op(struct homi_client *cl, uint32_t op, uint32_t queue, uint32_t file_id,
                        uint64_t cap, uint64_t *cap_out);
/* 1 once homid is lost (or cl is NULL). */
int homi_client_lost(struct homi_client *cl);
/* homid's id of f on the current connection, or 0 when homid does not serve it. */
uint32_t homi_client_file_id(struct homi_client *cl, const struct homi_fh *f);

/* This client's and the node's statistics as homid counts them. */
int homi_client_daemon_stats(struct homi_client *cl, struct homi_stats *mine,
                             struct homi_stats *node);

#endif
