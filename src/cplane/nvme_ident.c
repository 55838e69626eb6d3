/* nvme_ident.c - namespace identity for the passthrough path: libnvme's
 * Identify Namespace / Identify Controller on the generic char device,
 * with the kernel queue limits from sysfs (nvme_ident.h). */
#include "cplane/nvme_ident.h"

#include <endian.h>
#include <errno.h>
#include <libnvme.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t sysfs_u64(const char *disk, const char *attr, uint64_t dflt)
{
    char p[256], b[64];
    snprintf(p, sizeof p, "/sys/block/%s/%s", disk, attr);
    FILE *f = fopen(p, "re");
    if (!f) return dflt;
    char *r = fgets(b, sizeof b, f);
    fclose(f);
    return r ? strtoull(b, NULL, 10) : dflt;
}

int homi_nvme_identify(int fd, const char *disk, struct homi_nvme_ident *o, char *why,
                       size_t whylen)
{
    memset(o, 0, sizeof *o);
    __u32 nsid = 0;
    if (nvme_get_nsid(fd, &nsid) || !nsid) {
        snprintf(why, whylen, "NVME_IOCTL_ID on %s failed: %s", disk, strerror(errno));
        return -1;
    }
    o->nsid = nsid;
    /* Identify needs CAP_SYS_ADMIN; without it the kernel's view (sysfs)
     * of the same fields is used. */
    struct nvme_id_ns ns;
    struct nvme_id_ctrl ctrl;
    if (nvme_identify_ns(fd, nsid, &ns) == 0) {
        unsigned fmt = (ns.flbas & 0xf) | ((ns.flbas >> 1) & 0x30);
        if (fmt > ns.nlbaf || ns.lbaf[fmt].ds < 9 || ns.lbaf[fmt].ds > 12) {
            snprintf(why, whylen, "%s: unsupported LBA format %u (2^%u bytes)", disk, fmt,
                     fmt <= ns.nlbaf ? ns.lbaf[fmt].ds : 0);
            return -1;
        }
        if (ns.lbaf[fmt].ms && (ns.flbas & 0x10)) {
            snprintf(why, whylen, "%s: extended-LBA metadata format not supported", disk);
            return -1;
        }
        o->lba = 1u << ns.lbaf[fmt].ds;
        o->ns_bytes = le64toh(ns.nsze) * o->lba;
        o->from_identify = 1;
        if (nvme_identify_ctrl(fd, &ctrl) == 0 && ctrl.mdts)
            o->mdts_bytes = ctrl.mdts >= 20 ? 1u << 31 : (4096u << ctrl.mdts); /* MPSMIN 4K */
    } else {
        o->lba = (unsigned)sysfs_u64(disk, "queue/logical_block_size", 0);
        o->ns_bytes = sysfs_u64(disk, "size", 0) * 512;
        if (o->lba < 512 || o->lba > 4096 || (o->lba & (o->lba - 1))) {
            snprintf(why, whylen, "%s: unsupported LBA size %u", disk, o->lba);
            return -1;
        }
    }
    /* the kernel refuses passthrough commands above its queue limits:
     * max_hw_sectors, and max_segments pages of a non-contiguous buffer */
    uint64_t lim = sysfs_u64(disk, "queue/max_hw_sectors_kb", 128) * 1024;
    uint64_t segs = sysfs_u64(disk, "queue/max_segments", 33);
    if (segs > 1 && (segs - 1) * 4096 < lim) lim = (segs - 1) * 4096;
    if (o->mdts_bytes && o->mdts_bytes < lim) lim = o->mdts_bytes;
    if (lim > (1u << 30)) lim = 1u << 30;
    lim = lim / o->lba * o->lba;
    if (!lim) {
        snprintf(why, whylen, "%s: transfer limit below one LBA", disk);
        return -1;
    }
    o->max_cmd = (uint32_t)lim;
    return 0;
}
