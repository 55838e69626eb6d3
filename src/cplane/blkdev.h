/* blkdev.h - what block device backs a file, and whether its blocks can be
 * addressed as LBAs on an NVMe namespace (sysfs + libnvme). */
#ifndef HOMI_CPLANE_BLKDEV_H
#define HOMI_CPLANE_BLKDEV_H

#include <stdint.h>
#include <sys/types.h>

enum homi_blk_kind {
    HOMI_BLK_NONE = 0, /* no block device (tmpfs, network fs...) */
    HOMI_BLK_NVME,
    HOMI_BLK_LOOP,
    HOMI_BLK_DM,
    HOMI_BLK_MD,
    HOMI_BLK_OTHER,
};

struct homi_blkdev {
    unsigned major, minor;
    int kind;      /* enum homi_blk_kind                        */
    char name[64]; /* e.g. nvme0n1p2, loop3, vda                 */
    char disk[64]; /* whole disk: nvme0n1, loop3, vda            */
    int is_partition;
    uint64_t part_start;    /* partition start on the disk, bytes         */
    unsigned logical_block; /* bytes                                      */
    char fstype[32];        /* from /proc/self/mountinfo, "" if unknown   */
    /* NVMe only */
    unsigned nsid;
    char ctrl[32]; /* nvme0                                      */
    char model[64];
    char generic[64]; /* /dev/ngXnY                                 */
    /* loop only */
    char backing[256];
    /* Why raw LBA translation is (not) possible; "" when it is. */
    char why_not[160];
};

/* Describe the block device behind fd.  Returns 0 or -errno. */
int homi_blkdev_from_fd(int fd, struct homi_blkdev *out);
const char *homi_blk_kind_name(int kind);

/* One NVMe namespace found by libnvme. */
struct homi_nvme_ns {
    char ctrl[32];
    char model[64];
    char serial[32];
    char ns[32];
    unsigned nsid;
    unsigned lba_size;
    uint64_t lba_count;
};
/* Enumerate NVMe namespaces; calls cb for each.  Returns the count or
 * -errno. */
int homi_nvme_scan(void (*cb)(const struct homi_nvme_ns *ns, void *arg), void *arg);

#endif
