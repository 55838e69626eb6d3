/* H5FDhomi_dwrite.c - H5FD_homi_dwrite: H5Dwrite from CUDA device memory
 * (issue 22), after the checks H5FD_homi_dread makes (homi_h5_dset_check
 * with write rules: HDF5 must hand the buffer to the driver untouched);
 * while it runs, the pieces HDF5 writes from device memory are submitted
 * asynchronously (HOMI_IO_WRITE requests: the engine's staging pipeline in
 * the device -> file direction, several in flight) and waited for before
 * it returns. */
#include <stdlib.h>
#include <string.h>

#include "H5FDhomi_int.h"

struct wpending {
    homi_engine *eng;
    size_t size;
    int done;
};

static struct {
    int active;
    struct wpending *p;
    size_t n, cap;
} wdefer;

int homi_h5_dwrite_defer(H5FD_homi_t *f, haddr_t addr, size_t size, const void *buf)
{
    if (!wdefer.active || !homi_h5_is_device(buf)) return 0; /* not deferred */
    if (wdefer.n == wdefer.cap) {
        size_t nc = wdefer.cap ? 2 * wdefer.cap : 64;
        struct wpending *np = realloc(wdefer.p, nc * sizeof *np);
        if (!np) return 0; /* write it now instead */
        wdefer.p = np;
        wdefer.cap = nc;
    }
    homi_io io;
    memset(&io, 0, sizeof io);
    io.file = f->hf;
    io.buf = (void *)(uintptr_t)buf;
    io.len = size;
    io.offset = (int64_t)addr;
    io.user_data = wdefer.n;
    io.opts.mem = HOMI_MEM_DEVICE;
    io.opts.flags = HOMI_IO_WRITE;
    if (homi_submit(f->eng, &io, 1) != 1) return 0;
    wdefer.p[wdefer.n++] = (struct wpending){f->eng, size, 0};
    return 1;
}

/* Wait for every deferred write; 0, or -1 with an error on the stack. */
static herr_t wdefer_end(void)
{
    herr_t rc = 0;
    wdefer.active = 0;
    for (size_t done = 0; done < wdefer.n;) {
        homi_engine *e = NULL;
        for (size_t i = 0; i < wdefer.n && !e; i++)
            if (!wdefer.p[i].done) e = wdefer.p[i].eng;
        if (!e) break;
        homi_completion c;
        int w = homi_wait(e, &c, 1, 1, -1);
        if (w != 1 || c.user_data >= wdefer.n) {
            HOMI_H5_ERR(H5E_IO, H5E_WRITEERROR, "waiting for deferred device writes: %s",
                        homi_strerror(w < 0 ? w : HOMI_EIO));
            return -1;
        }
        struct wpending *p = &wdefer.p[c.user_data];
        if (c.result != (int64_t)p->size) {
            HOMI_H5_ERR(H5E_IO, H5E_WRITEERROR,
                        "deferred write of %zu bytes from device memory: %s", p->size,
                        c.result < 0 ? homi_strerror((int)c.result) : "short write");
            rc = -1;
        }
        p->done = 1;
        done++;
    }
    wdefer.n = 0;
    return rc;
}

htri_t H5FD_homi_dwrite_check(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id,
                              hid_t file_space_id, hid_t dxpl_id, char *why, size_t whylen)
{
    (void)mem_space_id;
    if (why && whylen) why[0] = 0;
    htri_t r = homi_h5_dset_check(dset_id, mem_type_id, file_space_id, dxpl_id, 1, why, whylen);
    if (r < 0) HOMI_H5_ERR(H5E_DATASET, H5E_CANTGET, "cannot inspect the dataset");
    return r;
}

herr_t H5FD_homi_dwrite(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id, hid_t file_space_id,
                        hid_t dxpl_id, const void *buf)
{
    if (!buf) {
        HOMI_H5_ERR(H5E_ARGS, H5E_BADVALUE, "NULL buffer");
        return -1;
    }
    if (!homi_h5_is_device(buf))
        return H5Dwrite(dset_id, mem_type_id, mem_space_id, file_space_id, dxpl_id, buf);
    char why[512];
    htri_t ok = H5FD_homi_dwrite_check(dset_id, mem_type_id, mem_space_id, file_space_id, dxpl_id,
                                       why, sizeof why);
    if (ok < 0) return -1;
    if (!ok) {
        HOMI_H5_ERR(H5E_DATASET, H5E_WRITEERROR, "cannot write from CUDA device memory: %s", why);
        return -1;
    }
    wdefer.active = 1;
    wdefer.n = 0;
    herr_t r = H5Dwrite(dset_id, mem_type_id, mem_space_id, file_space_id, dxpl_id, buf);
    herr_t w = wdefer_end(); /* always: no write may outlive the call */
    return r < 0 || w < 0 ? -1 : 0;
}
