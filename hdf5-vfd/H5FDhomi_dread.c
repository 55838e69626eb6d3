/* H5FDhomi_dread.c - H5FD_homi_dread: H5Dread into CUDA device memory,
 * and the dataset checks it shares with H5FD_homi_dwrite,
 * after checking that HDF5 will pass the buffer to the driver untouched
 * (no type conversion, transform, filter, chunk cache, compact/external/
 * virtual storage or fill-value writes).  HDF5 itself runs on the CPU: in
 * those cases it would copy into the buffer with memcpy and crash on a
 * device pointer, so they are refused with the reason instead. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "H5FDhomi_int.h"

#define MAXRANK 32

static int why_set(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return 0;
}

/* 1: open with H5FD_homi (its flags in *flags), 0: another driver. */
static int file_uses_homi(hid_t dset, uint32_t *flags)
{
    hid_t file = H5Iget_file_id(dset);
    if (file < 0) return -1;
    hid_t fapl = H5Fget_access_plist(file);
    H5Fclose(file);
    if (fapl < 0) return -1;
    hid_t drv = H5Pget_driver(fapl);
    int homi = drv >= 0 && drv == H5FD_homi_init();
    H5FD_homi_config_t cfg;
    if (homi && H5Pget_fapl_homi(fapl, &cfg) < 0) homi = -1;
    if (homi > 0) *flags = cfg.flags;
    H5Pclose(fapl);
    return homi;
}

/* Are all chunks in the selection's bounding box allocated?  1 yes, 0 no
 * (first missing chunk in *missing), -1 error. */
static int chunks_allocated(hid_t dset, hid_t fspace, int rank, const hsize_t *chunk,
                            hsize_t *missing)
{
#if H5_VERSION_GE(1, 10, 5)
    hsize_t lo[MAXRANK], hi[MAXRANK], c[MAXRANK];
    hssize_t npoints = H5Sget_select_npoints(fspace);
    if (npoints < 0) return -1;
    if (npoints == 0) return 1;
    if (H5Sget_select_bounds(fspace, lo, hi) < 0) return -1;
    for (int d = 0; d < rank; d++)
        c[d] = lo[d] / chunk[d] * chunk[d];
    for (;;) {
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        if (H5Dget_chunk_info_by_coord(dset, c, &mask, &addr, &size) < 0) return -1;
        if (addr == HADDR_UNDEF) {
            memcpy(missing, c, (size_t)rank * sizeof *c);
            return 0;
        }
        int d = rank - 1;
        for (; d >= 0; d--) {
            c[d] += chunk[d];
            if (c[d] <= hi[d]) break;
            c[d] = lo[d] / chunk[d] * chunk[d];
        }
        if (d < 0) return 1;
    }
#else
    (void)dset;
    (void)fspace;
    (void)rank;
    (void)chunk;
    (void)missing;
    return 0; /* no per-chunk query before 1.10.5: treat as holes */
#endif
}

static void fmt_coord(char *out, size_t outlen, int rank, const hsize_t *c)
{
    size_t n = 0;
    out[0] = 0;
    for (int d = 0; d < rank && n < outlen; d++)
        n +=
            (size_t)snprintf(out + n, outlen - n, "%s%llu", d ? "," : "", (unsigned long long)c[d]);
}

/* The checks, for H5FD_homi_dread and (write != 0) H5FD_homi_dwrite
 * (H5FDhomi_dwrite.c); ids opened here are closed on every return. */
htri_t homi_h5_dset_check(hid_t dset, hid_t mem_type, hid_t file_space, hid_t dxpl, int write,
                          char *why, size_t whylen)
{
    const char *verb = write ? "write from" : "read into";
    htri_t ret = -1;
    hid_t dtype = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dapl = H5I_INVALID_HID;
    hid_t fspace = H5I_INVALID_HID;

    uint32_t flags = 0;
    int homi = file_uses_homi(dset, &flags);
    if (homi < 0) goto out;
    if (!homi) {
        ret = why_set(why, whylen,
                      "the file is not open with H5FD_homi (H5Pset_fapl_homi): other drivers "
                      "cannot %s device memory",
                      verb);
        goto out;
    }
    if (flags & H5FD_HOMI_DATA_SIEVE) {
        ret = why_set(why, whylen,
                      "the file is open with H5FD_HOMI_DATA_SIEVE: HDF5 copies contiguous data "
                      "through its host sieve buffer");
        goto out;
    }
    if ((dtype = H5Dget_type(dset)) < 0) goto out;
    htri_t eq = H5Tequal(dtype, mem_type);
    if (eq < 0) goto out;
    if (!eq) {
        ret = why_set(why, whylen,
                      "the memory type differs from the dataset's type: HDF5 would convert on the "
                      "CPU (read with the dataset's own type, H5Dget_type)");
        goto out;
    }
    if (H5Tdetect_class(dtype, H5T_VLEN) > 0 || H5Tis_variable_str(dtype) > 0 ||
        H5Tdetect_class(dtype, H5T_REFERENCE) > 0) {
        ret = why_set(why, whylen,
                      "variable-length or reference data: HDF5 builds it in host memory");
        goto out;
    }
    if (dxpl != H5P_DEFAULT) {
        ssize_t n = -1;
        /* "no transform set" is an error in some versions: keep it quiet */
        H5E_BEGIN_TRY
        {
            n = H5Pget_data_transform(dxpl, NULL, 0);
        }
        H5E_END_TRY;
        if (n > 0) {
            ret = why_set(why, whylen, "the transfer property list has a data transform");
            goto out;
        }
    }
    if ((dcpl = H5Dget_create_plist(dset)) < 0) goto out;
    H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED) {
        ret = why_set(why, whylen,
                      "%s layout: HDF5 copies the data itself (only contiguous and chunked "
                      "datasets can %s device memory)",
                      layout == H5D_COMPACT   ? "compact"
                      : layout == H5D_VIRTUAL ? "virtual"
                                              : "this",
                      verb);
        goto out;
    }
    int next = H5Pget_external_count(dcpl);
    if (next != 0) {
        ret = next < 0 ? -1 : why_set(why, whylen, "the dataset is stored in external files");
        goto out;
    }
    int nf = H5Pget_nfilters(dcpl);
    if (nf < 0) goto out;
    if (nf > 0) {
        char name[64] = "?";
        unsigned fl, cd[8];
        size_t ncd = 8;
        H5Pget_filter2(dcpl, 0, &fl, &ncd, cd, sizeof name, name, NULL);
        ret = why_set(why, whylen,
                      "the dataset has %d filter(s) (first: %s): HDF5 decodes chunks on the CPU",
                      nf, name);
        goto out;
    }
    H5D_fill_time_t ft;
    if (H5Pget_fill_time(dcpl, &ft) < 0) goto out;
    H5D_space_status_t status;
    if (H5Dget_space_status(dset, &status) < 0) goto out;

    if (layout == H5D_CONTIGUOUS) {
        /* a write allocates the storage and writes any fill values from
         * HDF5's own buffer: the user's buffer only goes to the driver */
        if (!write && status == H5D_SPACE_STATUS_NOT_ALLOCATED && ft != H5D_FILL_TIME_NEVER) {
            ret = why_set(why, whylen,
                          "the dataset's storage is not allocated: HDF5 would write fill values "
                          "with the CPU");
            goto out;
        }
        ret = 1;
        goto out;
    }

    /* chunked */
    hsize_t chunk[MAXRANK];
    int rank = H5Pget_chunk(dcpl, MAXRANK, chunk);
    if (rank <= 0) goto out;
    size_t esize = H5Tget_size(dtype);
    if (!esize) goto out;
    hsize_t cbytes = esize;
    for (int d = 0; d < rank; d++)
        cbytes *= chunk[d];
    if ((dapl = H5Dget_access_plist(dset)) < 0) goto out;
    size_t nslots, nbytes;
    double w0;
    if (H5Pget_chunk_cache(dapl, &nslots, &nbytes, &w0) < 0) goto out;
    if (cbytes <= nbytes) {
        ret = why_set(why, whylen,
                      "chunks of %llu bytes fit the dataset's chunk cache (%zu bytes): HDF5 "
                      "would copy through it (open the file with H5Pset_fapl_homi without "
                      "H5FD_HOMI_KEEP_CHUNK_CACHE, or the dataset with "
                      "H5Pset_chunk_cache(dapl, nslots, 0, w0))",
                      (unsigned long long)cbytes, nbytes);
        goto out;
    }
    if (status != H5D_SPACE_STATUS_ALLOCATED && ft != H5D_FILL_TIME_NEVER) {
        if (file_space == H5S_ALL) {
            if ((fspace = H5Dget_space(dset)) < 0) goto out;
        } else if ((fspace = H5Scopy(file_space)) < 0) {
            goto out;
        }
        hsize_t missing[MAXRANK];
        int ok = chunks_allocated(dset, fspace, rank, chunk, missing);
        if (ok < 0) goto out;
        if (!ok) {
            char c[256] = "?";
            if (H5_VERSION_GE(1, 10, 5)) fmt_coord(c, sizeof c, rank, missing);
            ret = why_set(why, whylen,
                          write ? "the chunk at (%s) in the selection is not allocated: HDF5 "
                                  "would build it from fill values and the buffer in host memory "
                                  "(allocate early, H5Pset_alloc_time H5D_ALLOC_TIME_EARLY, or "
                                  "set the fill time to H5D_FILL_TIME_NEVER)"
                                : "the chunk at (%s) in the selection is not allocated: HDF5 "
                                  "would write fill values with the CPU (write it, allocate "
                                  "early, or set the fill time to H5D_FILL_TIME_NEVER)",
                          c);
            goto out;
        }
    }
    ret = 1;
out:
    if (fspace >= 0) H5Sclose(fspace);
    if (dapl >= 0) H5Pclose(dapl);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (dtype >= 0) H5Tclose(dtype);
    return ret;
}

/* Bytes of the caller's buffer: the memory space's extent (the file
 * space's, or the dataset's, for H5S_ALL) times the element size; 0 when
 * it cannot be told (then nothing is deferred). */
static size_t buffer_span(hid_t dset, hid_t mem_type, hid_t mem_space, hid_t file_space)
{
    hid_t sp = mem_space != H5S_ALL ? mem_space : file_space;
    hid_t own = H5I_INVALID_HID;
    if (sp == H5S_ALL && (sp = own = H5Dget_space(dset)) < 0) return 0;
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    size_t esize = H5Tget_size(mem_type);
    if (own >= 0) H5Sclose(own);
    if (np <= 0 || !esize || (uint64_t)np > SIZE_MAX / esize) return 0;
    return (size_t)np * esize;
}

htri_t H5FD_homi_dread_check(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id,
                             hid_t file_space_id, hid_t dxpl_id, char *why, size_t whylen)
{
    (void)mem_space_id;
    if (why && whylen) why[0] = 0;
    htri_t r = homi_h5_dset_check(dset_id, mem_type_id, file_space_id, dxpl_id, 0, why, whylen);
    if (r < 0) HOMI_H5_ERR(H5E_DATASET, H5E_CANTGET, "cannot inspect the dataset");
    return r;
}

herr_t H5FD_homi_dread(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id, hid_t file_space_id,
                       hid_t dxpl_id, void *buf)
{
    if (!buf) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "NULL buffer");
        return -1;
    }
    if (homi_h5_is_device(buf)) {
        char why[512];
        htri_t ok = H5FD_homi_dread_check(dset_id, mem_type_id, mem_space_id, file_space_id,
                                          dxpl_id, why, sizeof why);
        if (ok < 0) return -1;
        if (!ok) {
            HOMI_H5_ERR(H5E_DATASET, H5E_READERROR, "cannot read into CUDA device memory: %s", why);
            return -1;
        }
    }
    if (!homi_h5_is_device(buf))
        return H5Dread(dset_id, mem_type_id, mem_space_id, file_space_id, dxpl_id, buf);
    /* device destination: selections the driver maps itself are read in
     * one scattered read (H5FDhomi_sel.c) */
    int fast =
        homi_h5_sel_read(dset_id, mem_type_id, mem_space_id, file_space_id, buf, HOMI_MEM_DEVICE);
    if (fast) return fast < 0 ? -1 : 0;
    /* otherwise the pieces HDF5 hands down for buf are recorded
     * and read together (homi_read_pieces) before this returns */
    homi_h5_defer_begin(buf, buffer_span(dset_id, mem_type_id, mem_space_id, file_space_id),
                        HOMI_MEM_DEVICE);
    herr_t r = H5Dread(dset_id, mem_type_id, mem_space_id, file_space_id, dxpl_id, buf);
    herr_t w = homi_h5_defer_end(); /* always: no read may outlive the call */
    return r < 0 || w < 0 ? -1 : 0;
}
