/* sriov.c - the control plane's part of delegating an SR-IOV virtual
 * function (homi_nvme.h): Virtualization Management commands sent through
 * the kernel's admin queue of the physical function (NVME_IOCTL_ADMIN_CMD
 * on /dev/nvmeX, CAP_SYS_ADMIN), which give a secondary controller its
 * queue (VQ) and interrupt (VI) resources and bring it online; the sysfs
 * steps that create the VF without a driver and bind it to vfio-pci. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/nvme_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "nvme/vfio_dev.h"

#include "core/log.h"
#include "homi.h"
#include "homi_nvme.h"

#define ADM_IDENTIFY 0x06
#define ADM_VIRT_MGMT 0x1c
#define CNS_CTRL 0x01
#define CNS_PRIMARY_CAPS 0x14
#define CNS_SECONDARY_LIST 0x15
#define ACT_PRIMARY_FLEX 0x1
#define ACT_SEC_OFFLINE 0x7
#define ACT_SEC_ASSIGN 0x8
#define ACT_SEC_ONLINE 0x9
#define RT_VQ 0
#define RT_VI 1

static int admin(int fd, unsigned opc, uint32_t cdw10, uint32_t cdw11, void *data, uint32_t len,
                 uint32_t *result)
{
    struct nvme_admin_cmd c;
    memset(&c, 0, sizeof c);
    c.opcode = (uint8_t)opc;
    c.cdw10 = cdw10;
    c.cdw11 = cdw11;
    c.addr = (uint64_t)(uintptr_t)data;
    c.data_len = len;
    c.timeout_ms = 10000;
    int rc = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c);
    if (result) *result = c.result;
    return rc < 0 ? -errno : rc; /* > 0: NVMe status */
}

static int sys_write(const char *path, const char *val)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = write(fd, val, strlen(val));
    int e = n < 0 ? -errno : 0;
    close(fd);
    return e;
}

static int sys_read(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    char *r = fgets(buf, (int)len, f);
    fclose(f);
    if (!r) return -EIO;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

static int open_ctrl(const char *ctrl, char *why, size_t wl)
{
    char p[128];
    snprintf(p, sizeof p, "/dev/%s", ctrl);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) snprintf(why, wl, "%s: %s", p, strerror(errno));
    return fd;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t le32(const uint8_t *p)
{
    return p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int wait_live(const char *ctrl)
{
    char p[128], st[64];
    snprintf(p, sizeof p, "/sys/class/nvme/%s/state", ctrl);
    for (int i = 0; i < 3000; i++) {
        if (sys_read(p, st, sizeof st) == 0 && strcmp(st, "live") == 0) return 0;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* Open ctrl's character device (*fd) and a zeroed 4 KiB page for its
 * admin data (*page, aligned for the ioctl); HOMI_OK or the error, with
 * nothing left open. */
static int open_with_page(const char *ctrl, char *why, size_t wl, int *fd, uint8_t **page)
{
    *fd = open_ctrl(ctrl, why, wl);
    if (*fd < 0) return HOMI_ENOENT;
    *page = aligned_alloc(4096, 4096);
    if (!*page) {
        close(*fd);
        return HOMI_ENOMEM;
    }
    memset(*page, 0, 4096);
    return HOMI_OK;
}

int homi_nvme_sriov_release_primary(const char *ctrl, char *why, size_t wl)
{
    int fd;
    uint8_t *d;
    int rc = open_with_page(ctrl, why, wl, &fd, &d);
    if (rc) return rc;
    rc = admin(fd, ADM_IDENTIFY, CNS_CTRL, 0, d, 4096, NULL);
    uint16_t cntlid = le16(d + 78);
    /* (OACS bit 7 advertises Virtualization Management, but QEMU 7.2 does
     * not set it: the commands are tried and their status reported) */
    if (!rc)
        rc = admin(fd, ADM_IDENTIFY, CNS_PRIMARY_CAPS | ((uint32_t)cntlid << 16), 0, d, 4096, NULL);
    if (!rc)
        homi_log(HOMI_LOG_INFO,
                 "%s: primary controller %u: VQ flexible %u (allocated to primary %u), private %u; "
                 "VI flexible %u (allocated to primary %u), private %u",
                 ctrl, cntlid, le32(d + 8), le16(d + 16), le16(d + 18), le32(d + 32), le16(d + 40),
                 le16(d + 42));
    /* already released (a second homid start): no reset of the kernel's controller */
    if (!rc && !le16(d + 16) && !le16(d + 40)) {
        free(d);
        close(fd);
        return 0;
    }
    /* no flexible resources for the primary: they go to secondaries */
    if (!rc)
        rc = admin(fd, ADM_VIRT_MGMT, ACT_PRIMARY_FLEX | (RT_VQ << 8) | ((uint32_t)cntlid << 16), 0,
                   NULL, 0, NULL);
    if (!rc)
        rc = admin(fd, ADM_VIRT_MGMT, ACT_PRIMARY_FLEX | (RT_VI << 8) | ((uint32_t)cntlid << 16), 0,
                   NULL, 0, NULL);
    free(d);
    close(fd);
    if (rc) {
        if (!why[0]) snprintf(why, wl, "%s: primary flexible allocation failed (%d)", ctrl, rc);
        return rc == -EACCES || rc == -EPERM ? HOMI_EACCES : HOMI_EIO;
    }
    /* the allocation takes effect at the primary's next reset: the kernel
     * resets it and re-creates its (fewer) queues; mounts stay */
    char p[128];
    snprintf(p, sizeof p, "/sys/class/nvme/%s/reset_controller", ctrl);
    if (sys_write(p, "1") || wait_live(ctrl)) {
        snprintf(why, wl, "%s: controller reset failed", ctrl);
        return HOMI_EIO;
    }
    return 0;
}

int homi_nvme_sriov_vf_prepare(const char *ctrl, unsigned vfn, unsigned nvq, unsigned nvi,
                               char *bdf, size_t bdflen, char *why, size_t wl)
{
    if (!vfn || nvq < 2 || !nvi) {
        snprintf(why, wl, "VF number from 1, at least 2 VQ (admin + 1 I/O) and 1 VI");
        return HOMI_EINVAL;
    }
    char p[PATH_MAX], pf[NAME_MAX + 1], vf[NAME_MAX + 1], drv[NAME_MAX + 1], v[32];
    snprintf(p, sizeof p, "/sys/class/nvme/%s/device", ctrl);
    if (homi_sysfs_link_name(p, pf, sizeof pf)) {
        snprintf(why, wl, "%s: no such controller", ctrl);
        return HOMI_ENOENT;
    }
    int fd;
    uint8_t *d;
    int rc = open_with_page(ctrl, why, wl, &fd, &d);
    if (rc) return rc;
    rc = HOMI_EIO;
    if (admin(fd, ADM_IDENTIFY, CNS_CTRL, 0, d, 4096, NULL)) {
        snprintf(why, wl, "%s: Identify Controller failed", ctrl);
        goto out;
    }
    uint16_t pcid = le16(d + 78);
    /* 1. the VF exists, without a driver probing it */
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/sriov_numvfs", pf);
    if (sys_read(p, v, sizeof v)) {
        snprintf(why, wl, "%s (%s) has no SR-IOV capability", ctrl, pf);
        goto out;
    }
    if ((unsigned)atoi(v) < vfn) {
        char q[PATH_MAX];
        snprintf(q, sizeof q, "/sys/bus/pci/devices/%s/sriov_drivers_autoprobe", pf);
        sys_write(q, "0");
        if (atoi(v)) sys_write(p, "0");
        snprintf(v, sizeof v, "%u", vfn);
        int e = sys_write(p, v);
        if (e) {
            snprintf(why, wl, "%s: enabling %u VF(s): %s", pf, vfn, strerror(-e));
            goto out;
        }
    }
    /* 2. its secondary controller: offline, resources, online */
    memset(d, 0, 4096);
    if (admin(fd, ADM_IDENTIFY, CNS_SECONDARY_LIST | ((uint32_t)0 << 16), 0, d, 4096, NULL)) {
        snprintf(why, wl, "%s: Identify (secondary controller list) failed", ctrl);
        goto out;
    }
    unsigned count = d[0];
    int scid = -1;
    for (unsigned i = 0; i < count && i < 127; i++) {
        const uint8_t *e = d + 32 + 32 * i;
        if (le16(e + 2) == pcid && le16(e + 8) == vfn) scid = le16(e);
    }
    if (scid < 0) {
        snprintf(why, wl, "%s: no secondary controller for VF %u", ctrl, vfn);
        goto out;
    }
    int st;
    if ((st = admin(fd, ADM_VIRT_MGMT, ACT_SEC_OFFLINE | ((uint32_t)scid << 16), 0, NULL, 0,
                    NULL)) ||
        (st = admin(fd, ADM_VIRT_MGMT, ACT_SEC_ASSIGN | (RT_VQ << 8) | ((uint32_t)scid << 16), nvq,
                    NULL, 0, NULL)) ||
        (st = admin(fd, ADM_VIRT_MGMT, ACT_SEC_ASSIGN | (RT_VI << 8) | ((uint32_t)scid << 16), nvi,
                    NULL, 0, NULL)) ||
        (st =
             admin(fd, ADM_VIRT_MGMT, ACT_SEC_ONLINE | ((uint32_t)scid << 16), 0, NULL, 0, NULL))) {
        snprintf(why, wl,
                 "%s: Virtualization Management for secondary controller %d failed (%s %d): "
                 "free flexible resources? (homi_nvme_sriov_release_primary)",
                 ctrl, scid, st > 0 ? "status" : "errno", st > 0 ? st : -st);
        goto out;
    }
    homi_log(HOMI_LOG_INFO, "%s: VF %u = secondary controller %d online with %u VQ, %u VI", ctrl,
             vfn, scid, nvq, nvi);
    /* 3. the VF's PCI address, bound to vfio-pci */
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/virtfn%u", pf, vfn - 1);
    if (homi_sysfs_link_name(p, vf, sizeof vf)) {
        snprintf(why, wl, "%s: VF %u not present", pf, vfn);
        goto out;
    }
    snprintf(bdf, bdflen, "%s", vf);
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/driver/unbind", vf);
    if (access(p, F_OK) == 0) sys_write(p, vf);
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/driver_override", vf);
    sys_write(p, "vfio-pci");
    sys_write("/sys/bus/pci/drivers_probe", vf);
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/driver", vf);
    if (homi_sysfs_link_name(p, drv, sizeof drv) || strcmp(drv, "vfio-pci") != 0) {
        snprintf(why, wl, "%s: could not bind to vfio-pci (module loaded?)", vf);
        goto out;
    }
    rc = 0;
out:
    free(d);
    close(fd);
    return rc;
}
