/* blkdev.c - find the block device behind a file (sysfs), its partition
 * offset and, for NVMe, namespace identity (sysfs + libnvme); decide
 * whether raw LBA translation is possible and say why not. */
#include "cplane/blkdev.h"

#include <errno.h>
#include <libnvme.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

const char *homi_blk_kind_name(int kind)
{
    static const char *const n[] = {"none", "nvme", "loop", "dm", "md", "other"};
    return kind >= 0 && kind <= HOMI_BLK_OTHER ? n[kind] : "?";
}

/* Read the first line of a sysfs file into buf; 0 or -1. */
static int read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    char *r = fgets(buf, (int)len, f);
    fclose(f);
    if (!r) return -1;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

static uint64_t read_u64(const char *path, uint64_t dflt)
{
    char b[64];
    if (read_line(path, b, sizeof b)) return dflt;
    return strtoull(b, NULL, 10);
}

static void find_fstype(unsigned maj, unsigned min, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        unsigned a, b;
        if (sscanf(line, "%*u %*u %u:%u", &a, &b) != 2 || a != maj || b != min) continue;
        char *sep = strstr(line, " - ");
        if (sep && sscanf(sep + 3, "%31s", out) == 1) break;
    }
    fclose(f);
    (void)len;
}

int homi_blkdev_from_fd(int fd, struct homi_blkdev *d)
{
    struct stat st;
    memset(d, 0, sizeof *d);
    if (fstat(fd, &st)) return -errno;
    d->major = major(st.st_dev);
    d->minor = minor(st.st_dev);
    d->logical_block = 512;
    find_fstype(d->major, d->minor, d->fstype, sizeof d->fstype);

    char sys[PATH_MAX], real[PATH_MAX], p[PATH_MAX + 64];
    snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u", d->major, d->minor);
    if (d->major == 0 || !realpath(sys, real)) {
        d->kind = HOMI_BLK_NONE;
        snprintf(d->why_not, sizeof d->why_not,
                 "no block device behind the file system (%s, dev %u:%u)",
                 d->fstype[0] ? d->fstype : "virtual or network", d->major, d->minor);
        return 0;
    }
    const char *base = strrchr(real, '/');
    snprintf(d->name, sizeof d->name, "%s", base ? base + 1 : real);
    snprintf(p, sizeof p, "%s/partition", real);
    if (access(p, F_OK) == 0) {
        d->is_partition = 1;
        snprintf(p, sizeof p, "%s/start", real);
        d->part_start = read_u64(p, 0) * 512;
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", real);
        char *slash = strrchr(parent, '/');
        if (slash) *slash = 0;
        base = strrchr(parent, '/');
        snprintf(d->disk, sizeof d->disk, "%s", base ? base + 1 : parent);
    } else {
        snprintf(d->disk, sizeof d->disk, "%s", d->name);
    }
    snprintf(p, sizeof p, "/sys/block/%s/queue/logical_block_size", d->disk);
    d->logical_block = (unsigned)read_u64(p, 512);

    if (strncmp(d->disk, "nvme", 4) == 0) {
        unsigned c = 0, n = 0;
        d->kind = HOMI_BLK_NVME;
        snprintf(p, sizeof p, "/sys/block/%s/nsid", d->disk);
        d->nsid = (unsigned)read_u64(p, 0);
        if (sscanf(d->disk, "nvme%un%u", &c, &n) == 2) {
            if (!d->nsid) d->nsid = n;
            snprintf(d->ctrl, sizeof d->ctrl, "nvme%u", c);
            snprintf(d->generic, sizeof d->generic, "/dev/ng%un%u", c, n);
        }
        snprintf(p, sizeof p, "/sys/block/%s/device/model", d->disk);
        if (read_line(p, d->model, sizeof d->model) == 0) {
            size_t l = strlen(d->model);
            while (l && d->model[l - 1] == ' ')
                d->model[--l] = 0;
        }
        if (d->generic[0] && access(d->generic, F_OK) != 0)
            snprintf(d->why_not, sizeof d->why_not, "generic char device %s missing", d->generic);
    } else if (strncmp(d->disk, "loop", 4) == 0) {
        d->kind = HOMI_BLK_LOOP;
        snprintf(p, sizeof p, "/sys/block/%s/loop/backing_file", d->disk);
        read_line(p, d->backing, sizeof d->backing);
        snprintf(d->why_not, sizeof d->why_not,
                 "loop device over a file (%.100s): its blocks are not LBAs of a namespace",
                 d->backing[0] ? d->backing : "?");
    } else if (strncmp(d->disk, "dm-", 3) == 0) {
        d->kind = HOMI_BLK_DM;
        snprintf(d->why_not, sizeof d->why_not, "device-mapper (%s): mapping not visible to HOMI",
                 d->disk);
    } else if (strncmp(d->disk, "md", 2) == 0) {
        d->kind = HOMI_BLK_MD;
        snprintf(d->why_not, sizeof d->why_not, "md RAID (%s): striping not visible to HOMI",
                 d->disk);
    } else {
        d->kind = HOMI_BLK_OTHER;
        snprintf(d->why_not, sizeof d->why_not, "%s is not an NVMe namespace", d->disk);
    }
    return 0;
}

static void fill_ns(nvme_ctrl_t c, nvme_ns_t n, struct homi_nvme_ns *o)
{
    memset(o, 0, sizeof *o);
    const char *s;
    if (c && (s = nvme_ctrl_get_name(c))) snprintf(o->ctrl, sizeof o->ctrl, "%s", s);
    if (c && (s = nvme_ctrl_get_model(c))) snprintf(o->model, sizeof o->model, "%s", s);
    if (c && (s = nvme_ctrl_get_serial(c))) snprintf(o->serial, sizeof o->serial, "%s", s);
    if ((s = nvme_ns_get_name(n))) snprintf(o->ns, sizeof o->ns, "%s", s);
    o->nsid = (unsigned)nvme_ns_get_nsid(n);
    o->lba_size = (unsigned)nvme_ns_get_lba_size(n);
    o->lba_count = nvme_ns_get_lba_count(n);
    for (size_t l = strlen(o->model); l && o->model[l - 1] == ' ';)
        o->model[--l] = 0;
}

int homi_nvme_scan(void (*cb)(const struct homi_nvme_ns *ns, void *arg), void *arg)
{
    if (access("/sys/class/nvme", F_OK) != 0) return 0; /* no NVMe driver loaded */
    nvme_root_t r = nvme_scan(NULL);
    if (!r) return -errno;
    int count = 0;
    nvme_host_t h;
    nvme_subsystem_t s;
    nvme_ctrl_t c;
    nvme_ns_t n;
    struct homi_nvme_ns o;
    nvme_for_each_host(r, h) nvme_for_each_subsystem(h, s)
    {
        nvme_ctrl_t first = nvme_subsystem_first_ctrl(s);
        nvme_subsystem_for_each_ns(s, n)
        {
            fill_ns(first, n, &o);
            if (cb) cb(&o, arg);
            count++;
        }
        nvme_subsystem_for_each_ctrl(s, c) nvme_ctrl_for_each_ns(c, n)
        {
            fill_ns(c, n, &o);
            if (cb) cb(&o, arg);
            count++;
        }
    }
    nvme_free_tree(r);
    return count;
}
