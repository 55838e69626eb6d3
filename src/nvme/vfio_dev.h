/* vfio_dev.h - one PCI function handed to user space through vfio-pci:
 * container + group + device descriptors, the type1 IOMMU, BAR0 mapped,
 * bus mastering through the config region, and DMA memory mapped into
 * the device's IOVA space (VFIO_IOMMU_MAP_DMA) with a small IOVA
 * allocator.  Nothing NVMe-specific here. */
#ifndef HOMI_NVME_VFIO_DEV_H
#define HOMI_NVME_VFIO_DEV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct homi_vfio_range {
    uint64_t start, end; /* usable IOVA [start, end] (inclusive end) */
};

struct homi_vfio {
    char bdf[32];
    int container, group, device;
    int group_no;
    volatile void *bar0;
    size_t bar0_size;
    uint64_t cfg_off; /* offset of the config region in the device fd */
    pthread_mutex_t iova_lock;
    struct homi_vfio_range ranges[8];
    unsigned nranges;
    unsigned cur;       /* range the allocator is in */
    uint64_t next_iova; /* bump pointer inside ranges[cur] */
};

/* DMA memory: page-aligned host memory, pinned and mapped at iova. */
struct homi_dma {
    void *va;
    uint64_t iova;
    size_t size;
};

/* The last component of what the symbolic link path points to (in sysfs:
 * a PCI address, a driver or an IOMMU group number) into out; -1 (out
 * empty) when path is not a link. */
int homi_sysfs_link_name(const char *path, char *out, size_t outlen);

/* Open the PCI function bdf ("0000:00:05.0"), which must be bound to
 * vfio-pci.  Returns 0, or a HOMI_E* code with the reason in why. */
int homi_vfio_open(struct homi_vfio *v, const char *bdf, char *why, size_t wl);
void homi_vfio_close(struct homi_vfio *v);
/* Allocate size bytes (rounded up to pages) of zeroed DMA memory. */
int homi_vfio_dma_alloc(struct homi_vfio *v, size_t size, struct homi_dma *out);
void homi_vfio_dma_free(struct homi_vfio *v, struct homi_dma *d);
/* Map the caller's memory [va, va+size) (page aligned) for DMA: pins it
 * and gives it an IOVA.  0 or HOMI_E*. */
int homi_vfio_dma_map(struct homi_vfio *v, void *va, size_t size, uint64_t *iova);
void homi_vfio_dma_unmap(struct homi_vfio *v, uint64_t iova, size_t size);

#endif
