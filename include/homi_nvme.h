/* homi_nvme.h - hardware-assisted delegation (docs/delegation.md): the
 * control plane takes a whole NVMe controller (a second controller of a
 * multi-controller subsystem, or an SR-IOV virtual function) from the
 * kernel through vfio-pci, while the kernel keeps another controller of
 * the same subsystem and the mounted file system on the shared namespace.
 *
 * Roles:
 *   owner  (homi_nvme_owner)  holds the controller: its registers, its
 *          admin queue, the IOMMU mappings; provisions I/O queue pairs.
 *   client (homi_nvme_client) one I/O queue pair, given by the owner.  A
 *          client reads files: (file, offset, length, destination).  No
 *          entry of this header takes an LBA, an opcode or a raw command,
 *          and no entry gives access to queue 0 (the admin queue): every
 *          command is built by the owner's planner from the file's extent
 *          map and checked against it before it is queued.
 *
 * Single-threaded per client (one queue pair each; open one client per
 * thread).  The owner's functions are thread-safe. */
#ifndef HOMI_NVME_H
#define HOMI_NVME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct homi_nvme_owner homi_nvme_owner;
typedef struct homi_nvme_client homi_nvme_client;
typedef struct homi_nvme_file homi_nvme_file;

/* Owner options; 0 selects the default (or the environment variable). */
struct homi_nvme_opts {
    unsigned queues;     /* I/O queue pairs to provision  (HOMI_NVME_QUEUES, 4)        */
    unsigned depth;      /* entries per I/O queue         (HOMI_NVME_QD, 32)           */
    unsigned max_xfer;   /* bytes per Read command        (HOMI_NVME_MAX_XFER, 128 KiB) */
    unsigned timeout_ms; /* per command / ready change    (HOMI_NVME_TIMEOUT_MS, 10000) */
};

/* Take the controller at PCI address bdf ("0000:00:05.0", bound to
 * vfio-pci): bring it up, identify it and its namespaces, request the I/O
 * queues.  Returns 0 or a HOMI_E* code, with the reason in why. */
int homi_nvme_owner_open(const char *bdf, const struct homi_nvme_opts *opts, homi_nvme_owner **out,
                         char *why, size_t whylen);
/* Close the remaining clients, delete their queues, shut the controller
 * down (CC.SHN) and give the IOMMU mappings back. */
void homi_nvme_owner_close(homi_nvme_owner *o);

struct homi_nvme_info {
    char model[41], serial[21], subnqn[257];
    unsigned cntlid;
    unsigned io_queues; /* provisioned (granted by the controller, capped by opts) */
    unsigned depth;
    unsigned max_xfer;   /* bytes per command actually used */
    uint32_t mdts_bytes; /* controller limit, 0 = none */
    unsigned nns;        /* active namespaces */
};
int homi_nvme_owner_info(homi_nvme_owner *o, struct homi_nvme_info *info);

/* Counters of one owner (all its clients). */
struct homi_nvme_stats {
    uint64_t reads;          /* homi_nvme_read calls that were accepted           */
    uint64_t refused;        /* requests refused before any command was built    */
    uint64_t cmds_built;     /* NVMe Read commands built by the planner           */
    uint64_t cmds_rejected;  /* built but failed homi_pt_check / the queue gate   */
    uint64_t cmds_completed; /* completed with success                            */
    uint64_t cmd_errors;     /* completed with an NVMe error (re-read by kernel)  */
    uint64_t bytes_nvme;     /* user bytes delivered from the delegated queues    */
    uint64_t bytes_kernel;   /* user bytes read through the file system           */
    uint64_t bytes_zero;     /* user bytes of holes (no I/O)                      */
    uint64_t fb_unsafe;      /* ranges on unsafe extents (unwritten, inline...)   */
    uint64_t fb_changed;     /* chunks re-read because the file changed in flight */
    uint64_t map_builds;     /* extent maps built (FIEMAP with sync)              */
    uint64_t admin_cmds;     /* admin commands the owner issued                   */
    uint64_t qid_refused;    /* client opens refused (admin queue, bad/busy qid)  */
    uint64_t bytes_direct;   /* of bytes_nvme: written by the controller straight into a
                                registered destination (no copy)                 */
};
void homi_nvme_stats_get(homi_nvme_owner *o, struct homi_nvme_stats *s);

/* Open a client on I/O queue qid (1..io_queues) or HOMI_NVME_QID_ANY.
 * qid 0 is the admin queue: refused with HOMI_EACCES; a queue in use:
 * HOMI_EBUSY; outside the provisioned range: HOMI_ERANGE. */
#define HOMI_NVME_QID_ANY (-1)
int homi_nvme_client_open(homi_nvme_owner *o, int qid, homi_nvme_client **out);
int homi_nvme_client_qid(const homi_nvme_client *c);
void homi_nvme_client_close(homi_nvme_client *c);

/* Make the file open on fd readable through client c.  The owner checks
 * that the file lives on a namespace of the delegated controller's
 * subsystem (subsystem NQN and NSID), on ext2/3/4 or xfs, and keeps its
 * own watch on it.  fd stays owned by the caller and must stay open. */
int homi_nvme_file_open(homi_nvme_client *c, int fd, homi_nvme_file **out, char *why,
                        size_t whylen);
void homi_nvme_file_close(homi_nvme_file *f);

/* Read len bytes at offset off of the file into host memory dst.  The
 * range must lie inside the file (off + len <= size): otherwise it is
 * refused (HOMI_ERANGE) before any command is built.  Holes read as
 * zeros without I/O; unsafe extents and chunks whose file changed while
 * in flight are read through the file system (counted).  Returns len, or
 * a negative HOMI_E* code. */
int64_t homi_nvme_read(homi_nvme_file *f, void *dst, size_t len, uint64_t off);

/* Register host memory [buf, buf+len) with the delegated controller's
 * IOMMU domain (rounded out to whole pages, pinned until unregistered):
 * whole-LBA pieces of reads whose destination lies inside it (at a
 * 4-byte aligned address) are transferred by the controller straight into
 * it, without the copy out of the queue's DMA buffers (bytes_direct).  It
 * must not be unregistered or unmapped while a read into it is in
 * progress.  At most 64 registrations.  Return 0 or HOMI_E*. */
int homi_nvme_register(homi_nvme_owner *o, void *buf, size_t len);
int homi_nvme_unregister(homi_nvme_owner *o, void *buf);

/* SR-IOV (control plane, root): delegate virtual function vfn (from 1)
 * of the physical function whose kernel controller is ctrl ("nvme0").
 * homi_nvme_sriov_release_primary takes the primary controller's flexible
 * queue/interrupt resources away (Virtualization Management, Primary
 * Flexible Allocation of 0) and resets it through the kernel so that they
 * become free (its mounts stay; it keeps its private resources).
 * homi_nvme_sriov_vf_prepare enables the VF in sysfs with driver
 * autoprobe off, assigns its secondary controller nvq queue resources
 * (admin + nvq-1 I/O queues) and nvi interrupt resources, brings it
 * online, binds the VF to vfio-pci and writes its PCI address to bdf,
 * ready for homi_nvme_owner_open.  Both send their admin commands through
 * the kernel's admin queue of the PF (NVME_IOCTL_ADMIN_CMD).  Return 0 or
 * HOMI_E*, with the reason in why. */
int homi_nvme_sriov_release_primary(const char *ctrl, char *why, size_t whylen);
int homi_nvme_sriov_vf_prepare(const char *ctrl, unsigned vfn, unsigned nvq, unsigned nvi,
                               char *bdf, size_t bdflen, char *why, size_t whylen);

#ifdef __cplusplus
}
#endif
#endif
