/* devq_homid.h - a GPU device queue served by homid (the client's side;
 * devq.c dispatches to it when the engine is homid's client and the
 * homi_devq_daemon hint allows it).  Same device view and GPU protocol as
 * an in-process queue (homi_cuda.h); homid takes the requests, checks and
 * reads them; this process keeps only a pump thread that copies bulk
 * chunks into device memory and the completions to the GPU. */
#ifndef HOMI_GPU_DEVQ_HOMID_H
#define HOMI_GPU_DEVQ_HOMID_H

#include "homi_cuda.h"

struct homi_devq_remote;

/* HOMI_OK, or HOMI_ENOTSUP when homid does not serve this engine (the
 * caller then creates an in-process queue), or another error. */
int homi_devq_remote_create(homi_engine *eng, int device, const homi_devq_config *cfg,
                            struct homi_devq_remote **out);
homi_devq_dev *homi_devq_remote_device(struct homi_devq_remote *r);
int homi_devq_remote_export(struct homi_devq_remote *r, homi_file *f, homi_dev_file *cap);
int homi_devq_remote_revoke(struct homi_devq_remote *r, homi_dev_file cap);
int homi_devq_remote_stats(struct homi_devq_remote *r, homi_devq_stats *out);
int homi_devq_remote_pause(struct homi_devq_remote *r, int pause);
void homi_devq_remote_destroy(struct homi_devq_remote *r);

#endif
