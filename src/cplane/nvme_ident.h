/* nvme_ident.h - identity of an NVMe namespace for the passthrough path:
 * namespace id, LBA format, capacity and the largest transfer one command
 * may carry (MDTS from Identify Controller, capped by the kernel queue's
 * limits), read through libnvme on the generic char device. */
#ifndef HOMI_CPLANE_NVME_IDENT_H
#define HOMI_CPLANE_NVME_IDENT_H

#include <stddef.h>
#include <stdint.h>

struct homi_nvme_ident {
    unsigned nsid;
    unsigned lba;        /* bytes per LBA (in-use format)                 */
    uint64_t ns_bytes;   /* namespace capacity                            */
    uint32_t mdts_bytes; /* controller limit, 0 = none reported           */
    uint32_t max_cmd;    /* bytes per command HOMI uses (multiple of lba) */
    int from_identify;   /* 1: Identify commands answered; 0: sysfs only  */
};

/* Identify the namespace open on fd (a /dev/ngXnY descriptor) whose block
 * device is /sys/block/<disk>.  Returns 0, or -1 with the reason in why. */
int homi_nvme_identify(int fd, const char *disk, struct homi_nvme_ident *out, char *why,
                       size_t whylen);

#endif
