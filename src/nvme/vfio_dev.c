/* vfio_dev.c - a PCI function through vfio-pci (vfio_dev.h). */
#include "nvme/vfio_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "homi.h"

#define PG 4096ull

/* The usable IOVA ranges the type1 IOMMU reports (reserved windows such as
 * the MSI range are left out); one default range where it reports none. */
static void iova_ranges(struct homi_vfio *v)
{
    v->nranges = 0;
    size_t sz = 4096;
    struct vfio_iommu_type1_info *info = calloc(1, sz);
    if (info) {
        info->argsz = (uint32_t)sz;
        if (ioctl(v->container, VFIO_IOMMU_GET_INFO, info) == 0 &&
            (info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset && info->argsz <= sz) {
            uint32_t off = info->cap_offset;
            while (off && off + sizeof(struct vfio_info_cap_header) <= sz) {
                struct vfio_info_cap_header *h = (void *)((char *)info + off);
                if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
                    struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;
                    for (uint32_t i = 0; i < r->nr_iovas && v->nranges < 8; i++) {
                        uint64_t s = (r->iova_ranges[i].start + PG - 1) & ~(PG - 1);
                        if (s < (1ull << 20)) s = 1ull << 20; /* keep IOVA 0 unused */
                        if (s >= r->iova_ranges[i].end) continue;
                        v->ranges[v->nranges].start = s;
                        v->ranges[v->nranges].end = r->iova_ranges[i].end;
                        v->nranges++;
                    }
                }
                off = h->next;
            }
        }
        free(info);
    }
    if (!v->nranges) { /* 1 MiB .. 3.5 GiB: below the x86 MSI window */
        v->ranges[0].start = 1ull << 20;
        v->ranges[0].end = 0xdfffffffull;
        v->nranges = 1;
    }
    v->cur = 0;
    v->next_iova = v->ranges[0].start;
}

int homi_sysfs_link_name(const char *path, char *out, size_t outlen)
{
    char link[PATH_MAX];
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (outlen) out[0] = 0;
    if (n < 0) return -1;
    link[n] = 0;
    const char *b = strrchr(link, '/');
    snprintf(out, outlen, "%s", b ? b + 1 : link);
    return 0;
}

int homi_vfio_open(struct homi_vfio *v, const char *bdf, char *why, size_t wl)
{
    memset(v, 0, sizeof *v);
    v->container = v->group = v->device = -1;
    pthread_mutex_init(&v->iova_lock, NULL);
    snprintf(v->bdf, sizeof v->bdf, "%s", bdf);
    char p[PATH_MAX], drv[NAME_MAX + 1], g[NAME_MAX + 1];
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/driver", bdf);
    if (homi_sysfs_link_name(p, drv, sizeof drv)) {
        snprintf(why, wl, "%s: no such PCI function or no driver bound", bdf);
        return HOMI_ENOENT;
    }
    if (strcmp(drv, "vfio-pci") != 0) {
        snprintf(why, wl, "%s is bound to %s, not vfio-pci (see docs/delegation.md)", bdf, drv);
        return HOMI_ENOTSUP;
    }
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/iommu_group", bdf);
    if (homi_sysfs_link_name(p, g, sizeof g)) {
        snprintf(why, wl, "%s has no IOMMU group (IOMMU off? boot with intel_iommu=on)", bdf);
        return HOMI_ENOTSUP;
    }
    v->group_no = atoi(g);

    v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (v->container < 0) {
        snprintf(why, wl, "/dev/vfio/vfio: %s", strerror(errno));
        return errno == EACCES ? HOMI_EACCES : HOMI_ENOTSUP;
    }
    if (ioctl(v->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
        !ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU)) {
        snprintf(why, wl, "vfio: no type1 IOMMU support (load vfio_iommu_type1)");
        homi_vfio_close(v);
        return HOMI_ENOTSUP;
    }
    snprintf(p, sizeof p, "/dev/vfio/%d", v->group_no);
    v->group = open(p, O_RDWR | O_CLOEXEC);
    if (v->group < 0) {
        int e = errno;
        snprintf(why, wl, "%s: %s", p, strerror(e));
        homi_vfio_close(v);
        return e == EACCES ? HOMI_EACCES : e == EBUSY ? HOMI_EBUSY : HOMI_ESYS;
    }
    struct vfio_group_status gs = {.argsz = sizeof gs};
    if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &gs) || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        snprintf(why, wl,
                 "IOMMU group %d is not viable: every device in it must be bound to vfio-pci",
                 v->group_no);
        homi_vfio_close(v);
        return HOMI_EBUSY;
    }
    if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container)) {
        snprintf(why, wl, "VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
        homi_vfio_close(v);
        return HOMI_ESYS;
    }
    int type = ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) ? VFIO_TYPE1v2_IOMMU
                                                                             : VFIO_TYPE1_IOMMU;
    if (ioctl(v->container, VFIO_SET_IOMMU, type)) {
        snprintf(why, wl, "VFIO_SET_IOMMU: %s", strerror(errno));
        homi_vfio_close(v);
        return HOMI_ESYS;
    }
    iova_ranges(v);
    v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
    if (v->device < 0) {
        snprintf(why, wl, "VFIO_GROUP_GET_DEVICE_FD %s: %s", bdf, strerror(errno));
        homi_vfio_close(v);
        return HOMI_ESYS;
    }
    /* start from a clean function (FLR or equivalent) where vfio offers it:
     * whatever a previous owner left in the controller is gone */
    struct vfio_device_info di = {.argsz = sizeof di};
    if (ioctl(v->device, VFIO_DEVICE_GET_INFO, &di) == 0 && (di.flags & VFIO_DEVICE_FLAGS_RESET))
        (void)ioctl(v->device, VFIO_DEVICE_RESET);
    struct vfio_region_info ri = {.argsz = sizeof ri, .index = VFIO_PCI_BAR0_REGION_INDEX};
    if (ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, &ri) ||
        !(ri.flags & VFIO_REGION_INFO_FLAG_MMAP) || ri.size < 0x2000) {
        snprintf(why, wl, "%s: BAR0 cannot be mapped", bdf);
        homi_vfio_close(v);
        return HOMI_ENOTSUP;
    }
    void *bar =
        mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, v->device, (off_t)ri.offset);
    if (bar == MAP_FAILED) {
        snprintf(why, wl, "mmap BAR0: %s", strerror(errno));
        homi_vfio_close(v);
        return HOMI_ESYS;
    }
    v->bar0 = bar;
    v->bar0_size = ri.size;
    struct vfio_region_info ci = {.argsz = sizeof ci, .index = VFIO_PCI_CONFIG_REGION_INDEX};
    if (ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, &ci)) {
        snprintf(why, wl, "%s: no config region", bdf);
        homi_vfio_close(v);
        return HOMI_ESYS;
    }
    v->cfg_off = ci.offset;
    /* memory space + bus master on, legacy interrupts off (we poll) */
    uint16_t cmd = 0;
    if (pread(v->device, &cmd, 2, (off_t)(v->cfg_off + 4)) != 2) {
        snprintf(why, wl, "%s: cannot read the PCI command register", bdf);
        homi_vfio_close(v);
        return HOMI_ESYS;
    }
    cmd |= 0x2 | 0x4 | 0x400;
    if (pwrite(v->device, &cmd, 2, (off_t)(v->cfg_off + 4)) != 2) {
        snprintf(why, wl, "%s: cannot enable bus mastering", bdf);
        homi_vfio_close(v);
        return HOMI_ESYS;
    }
    return 0;
}

void homi_vfio_close(struct homi_vfio *v)
{
    if (v->device >= 0) {
        uint16_t cmd = 0;
        if (pread(v->device, &cmd, 2, (off_t)(v->cfg_off + 4)) == 2) {
            cmd &= (uint16_t)~0x4; /* bus master off */
            if (pwrite(v->device, &cmd, 2, (off_t)(v->cfg_off + 4)) != 2) cmd = 0;
        }
    }
    if (v->bar0) munmap((void *)v->bar0, v->bar0_size);
    v->bar0 = NULL;
    if (v->device >= 0) close(v->device);
    if (v->group >= 0) close(v->group); /* releases the container's IOMMU */
    if (v->container >= 0) close(v->container);
    v->device = v->group = v->container = -1;
    pthread_mutex_destroy(&v->iova_lock);
}

/* Take size bytes of IOVA space (bump allocation; the most recent block is
 * given back on free, others are not reused: the space is >= 2^32). */
static int iova_take(struct homi_vfio *v, size_t size, uint64_t *out)
{
    pthread_mutex_lock(&v->iova_lock);
    while (v->cur < v->nranges) {
        struct homi_vfio_range *r = &v->ranges[v->cur];
        if (v->next_iova >= r->start && v->next_iova + size - 1 <= r->end) {
            *out = v->next_iova;
            v->next_iova += size;
            pthread_mutex_unlock(&v->iova_lock);
            return 0;
        }
        if (++v->cur < v->nranges) v->next_iova = v->ranges[v->cur].start;
    }
    pthread_mutex_unlock(&v->iova_lock);
    return -1;
}

static void iova_give(struct homi_vfio *v, uint64_t iova, size_t size)
{
    pthread_mutex_lock(&v->iova_lock);
    if (iova + size == v->next_iova) v->next_iova = iova;
    pthread_mutex_unlock(&v->iova_lock);
}

int homi_vfio_dma_map(struct homi_vfio *v, void *va, size_t size, uint64_t *iova)
{
    if (((uintptr_t)va | size) & (PG - 1) || !size) return HOMI_EINVAL;
    if (iova_take(v, size, iova)) return HOMI_ENOMEM;
    struct vfio_iommu_type1_dma_map m = {
        .argsz = sizeof m,
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uint64_t)(uintptr_t)va,
        .iova = *iova,
        .size = size,
    };
    if (ioctl(v->container, VFIO_IOMMU_MAP_DMA, &m)) { /* pins the pages */
        int e = errno;
        iova_give(v, *iova, size);
        return e == ENOMEM ? HOMI_ENOMEM : e == EFAULT ? HOMI_EINVAL : HOMI_ESYS;
    }
    return 0;
}

void homi_vfio_dma_unmap(struct homi_vfio *v, uint64_t iova, size_t size)
{
    struct vfio_iommu_type1_dma_unmap u = {.argsz = sizeof u, .iova = iova, .size = size};
    if (ioctl(v->container, VFIO_IOMMU_UNMAP_DMA, &u) == 0) iova_give(v, iova, size);
}

int homi_vfio_dma_alloc(struct homi_vfio *v, size_t size, struct homi_dma *out)
{
    memset(out, 0, sizeof *out);
    size = (size + PG - 1) & ~(size_t)(PG - 1);
    void *va =
        mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (va == MAP_FAILED) return HOMI_ENOMEM;
    uint64_t iova;
    int rc = homi_vfio_dma_map(v, va, size, &iova);
    if (rc) {
        munmap(va, size);
        return rc;
    }
    out->va = va;
    out->iova = iova;
    out->size = size;
    return 0;
}

void homi_vfio_dma_free(struct homi_vfio *v, struct homi_dma *d)
{
    if (!d->va) return;
    homi_vfio_dma_unmap(v, d->iova, d->size);
    munmap(d->va, d->size);
    memset(d, 0, sizeof *d);
}
