/* H5FDhomi.h - the public header of H5FD_homi, the HOMI virtual file driver
 * for HDF5: HDF5 files read (and written) through a HOMI engine, with
 * dataset reads straight into CUDA device memory where HDF5 passes the
 * user's buffer down to the driver (see docs/hdf5.md).
 *
 *   hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
 *   H5FD_homi_config_t cfg;
 *   H5FD_homi_config_init(&cfg);
 *   H5FD_homi_config_set(&cfg, "homi_staging_size", "16M");   // any docs/hints.md key
 *   H5Pset_fapl_homi(fapl, &cfg);                              // or NULL: defaults + HOMI_* env
 *   hid_t file = H5Fopen("data.h5", H5F_ACC_RDONLY, fapl);
 *   ...
 *   H5FD_homi_dread(dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, device_ptr);
 *
 * Builds against HDF5 1.10, 1.12 and 1.14 (1.14: also a dynamically loaded
 * VFD plugin, HDF5_DRIVER=homi). */
#ifndef H5FDHOMI_H
#define H5FDHOMI_H

#include <hdf5.h>
#include <stdint.h>

#include "homi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The driver id (registers the driver on first use). */
#define H5FD_HOMI (H5FD_homi_init())
/* Driver name, as in HDF5_DRIVER=homi (HDF5 1.14). */
#define H5FD_HOMI_NAME "homi"
/* Driver value for HDF5 1.14's H5FD_class_value_t (from the range 256-511
 * that HDF5 leaves to unregistered drivers). */
#define H5FD_HOMI_VALUE 418

#define H5FD_HOMI_CONFIG_VERSION 1
#define H5FD_HOMI_HINTS_MAX 1024

/* H5FD_homi_config_t.flags */
/* Do not apply HOMI_* environment variables (default: defaults, then the
 * environment, then .hints; the program's hints win). */
#define H5FD_HOMI_NO_ENV 0x1u
/* Keep the file access property list's raw-data chunk cache.  By default
 * H5Pset_fapl_homi sets its size to 0 bytes so that HDF5 reads chunks
 * straight into the caller's buffer (required for device buffers). */
#define H5FD_HOMI_KEEP_CHUNK_CACHE 0x2u
/* Let HDF5 use its data sieve buffer for contiguous datasets: fewer, larger
 * driver reads for small strided selections into host memory, but HDF5
 * then copies through host memory, so H5FD_homi_dread refuses device
 * buffers on such files.  Default off. */
#define H5FD_HOMI_DATA_SIEVE 0x4u

typedef struct H5FD_homi_config_t {
    uint32_t version; /* H5FD_HOMI_CONFIG_VERSION                       */
    uint32_t flags;   /* H5FD_HOMI_* flags above                        */
    /* HOMI hints (docs/hints.md) as "key=value" pairs separated by ',',
     * ';' or white space, NUL-terminated.  Same keys as HOMI_* variables. */
    char hints[H5FD_HOMI_HINTS_MAX];
} H5FD_homi_config_t;

/* Register the driver (idempotent); the id or H5I_INVALID_HID. */
hid_t H5FD_homi_init(void);

/* Fill cfg with the defaults: no hints, environment applied. */
herr_t H5FD_homi_config_init(H5FD_homi_config_t *cfg);
/* Append one hint; fails (with an HDF5 error stack entry naming the key
 * and the reason) for an unknown key, a bad value or a full hints buffer. */
herr_t H5FD_homi_config_set(H5FD_homi_config_t *cfg, const char *key, const char *value);

/* Select the HOMI driver on a file access property list.  cfg NULL means
 * H5FD_homi_config_init's defaults.  Every hint is checked here: a bad
 * configuration fails with a clear error, not at H5Fopen. */
herr_t H5Pset_fapl_homi(hid_t fapl_id, const H5FD_homi_config_t *cfg);
/* The configuration stored in fapl_id (which must use the HOMI driver). */
herr_t H5Pget_fapl_homi(hid_t fapl_id, H5FD_homi_config_t *cfg_out);

/* H5Dread that accepts CUDA device memory.  Host buffers go straight to
 * H5Dread.  For a device buffer it first checks that HDF5 will hand the
 * buffer to the driver untouched:
 *   - the file is open with H5FD_homi, without H5FD_HOMI_DATA_SIEVE;
 *   - mem_type equals the dataset's type (no conversion), which is not
 *     variable-length or a reference; no data transform on dxpl;
 *   - contiguous or chunked layout (not compact, virtual or external);
 *   - no filters;
 *   - chunked: each chunk is larger than the dataset's chunk cache (the
 *     default with H5Pset_fapl_homi: a cache of 0 bytes);
 *   - the storage the selection touches is allocated, or the fill time is
 *     H5D_FILL_TIME_NEVER (HDF5 writes fill values with the CPU).
 * When a check fails it returns a negative value with the reason on the
 * HDF5 error stack, and the buffer is untouched. */
herr_t H5FD_homi_dread(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id, hid_t file_space_id,
                       hid_t dxpl_id, void *buf);
/* The same checks without reading: 1 when a device buffer read is safe,
 * 0 when not (the reason in why, if given), negative on error. */
htri_t H5FD_homi_dread_check(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id,
                             hid_t file_space_id, hid_t dxpl_id, char *why, size_t whylen);

/* H5Dwrite from CUDA device memory (issue 22): buf may be device memory
 * (detected); the checks are H5FD_homi_dread's with two differences: a
 * contiguous dataset's storage need not be allocated (HDF5 writes fill
 * values from its own buffer), and a chunked selection must not touch an
 * unallocated chunk unless the fill time is H5D_FILL_TIME_NEVER (HDF5
 * would build that chunk in host memory; allocate early with
 * H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY)).  The pieces HDF5 hands
 * the driver are written asynchronously through HOMI's staging pipeline,
 * several in flight; the call returns when all are in the file (make them
 * durable with H5Fflush / H5Fclose, or homi_fsync).  Host buffers go to
 * H5Dwrite unchanged.  Files are byte-identical to sec2's. */
herr_t H5FD_homi_dwrite(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id, hid_t file_space_id,
                        hid_t dxpl_id, const void *buf);
htri_t H5FD_homi_dwrite_check(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id,
                              hid_t file_space_id, hid_t dxpl_id, char *why, size_t whylen);

/* Per-path statistics of a file open with H5FD_homi (see homi.h). */
herr_t H5FD_homi_file_stats(hid_t file_id, homi_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* H5FDHOMI_H */
