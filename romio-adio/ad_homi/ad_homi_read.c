/* ad_homi_read.c - reads of the HOMI ROMIO driver: the (buffer type x
 * file view) flattener, contiguous, strided and collective reads, and the
 * nonblocking forms.  Buffers may be CUDA device memory: bytes only move
 * through libhomi and the collective engine, never through ROMIO code. */
#include "ad_homi.h"
#include "adioi.h"
#include "coll_view.h"

/* ------------------------------------------------------------ flattening */

/* The walker of the file view (src/coll/coll_view.c, shared with the
 * PMPI layer) started where this access starts: the individual file
 * pointer (an absolute position) or an explicit offset in etypes. */
static int walk_start(ADIO_File fd, int file_ptr_type, ADIO_Offset offset, homi_view_walk *w)
{
    int contig;
    ADIOI_Datatype_iscontig(fd->filetype, &contig);
    if (contig) {
        homi_view_contig(w, file_ptr_type == ADIO_INDIVIDUAL ? fd->fp_ind
                                                             : fd->disp + fd->etype_size * offset);
        return 0;
    }
    MPI_Aint lb, ext;
    MPI_Count ft_size;
    MPI_Type_get_extent(fd->filetype, &lb, &ext);
    MPI_Type_size_x(fd->filetype, &ft_size);
    if (ft_size == 0) return -1;
    ADIOI_Flatlist_node *flat = ADIOI_Flatten_and_find(fd->filetype);
    if (homi_view_init(w, flat->indices, flat->blocklens, flat->count, fd->disp, ext)) return -1;
    if (file_ptr_type == ADIO_INDIVIDUAL) {
        homi_view_seek_abs(w, fd->fp_ind, lb);
        return 0;
    }
    return homi_view_seek_etypes(w, offset, fd->etype_size, ft_size);
}

/* ROMIO 3.2.1 (Open MPI 4.1) caches flattened types in a list keyed by the
 * handle and never drops a user type's entry when the type is freed; a new
 * type that reuses the handle would find the stale entry.  Its own generic
 * code deletes a memory type's entry after use: so does this driver.
 * (MPICH 4.0 keeps the flattened form as a type attribute.) */
static void forget_flat(ADIOI_Flatlist_node *mflat, MPI_Datatype datatype)
{
#ifdef HOMI_ROMIO_321
    if (mflat) ADIOI_Delete_flattened(datatype);
#else
    (void)mflat;
    (void)datatype;
#endif
}

int ADIOI_HOMI_Flatten(ADIO_File fd, int count, MPI_Datatype datatype, int file_ptr_type,
                       ADIO_Offset offset, homi_coll_seg **segs, size_t *nsegs, ADIO_Offset *end,
                       char **base)
{
    MPI_Count tsize;
    MPI_Aint lb, ext;
    int bcontig;
    homi_view_walk w;
    MPI_Type_size_x(datatype, &tsize);
    MPI_Type_get_extent(datatype, &lb, &ext);
    ADIOI_Datatype_iscontig(datatype, &bcontig);
    *segs = NULL;
    *nsegs = 0;
    *end = file_ptr_type == ADIO_INDIVIDUAL ? fd->fp_ind : fd->disp + fd->etype_size * offset;
    if (tsize == 0 || count == 0) return 0;
    if (walk_start(fd, file_ptr_type, offset, &w)) return -1;

    /* memory blocks */
    ADIOI_Flatlist_node *mflat = bcontig ? NULL : ADIOI_Flatten_and_find(datatype);
    MPI_Count mcount = bcontig ? 1 : mflat->count;
    ADIO_Offset mmin = 0;
    if (mflat)
        for (MPI_Count j = 0; j < mcount; j++)
            if (mflat->blocklens[j] && mflat->indices[j] < mmin) mmin = mflat->indices[j];
    size_t cap = 64, n = 0;
    homi_coll_seg *s = malloc(cap * sizeof *s);
    if (!s) return -1;
    for (int i = 0; i < (bcontig ? 1 : count); i++)
        for (MPI_Count j = 0; j < mcount; j++) {
            ADIO_Offset moff = bcontig ? 0 : (ADIO_Offset)i * ext + mflat->indices[j] - mmin;
            ADIO_Offset mlen = bcontig ? (ADIO_Offset)tsize * count : mflat->blocklens[j];
            while (mlen > 0) {
                ADIO_Offset foff, got = homi_view_take(&w, mlen, &foff);
                if (n && s[n - 1].file_off + s[n - 1].len == foff &&
                    s[n - 1].mem_off + s[n - 1].len == moff) {
                    s[n - 1].len += got;
                } else {
                    if (n == cap) {
                        homi_coll_seg *t = realloc(s, 2 * cap * sizeof *s);
                        if (!t) {
                            free(s);
                            forget_flat(mflat, datatype);
                            return -1;
                        }
                        s = t;
                        cap *= 2;
                    }
                    s[n].file_off = foff;
                    s[n].len = got;
                    s[n].mem_off = moff;
                    n++;
                }
                moff += got;
                mlen -= got;
                *end = foff + got;
            }
        }
    forget_flat(mflat, datatype);
    *segs = s;
    *nsegs = n;
    *base += mmin;
    return 0;
}

/* ------------------------------------------------------------ reads */

static void set_status(ADIO_Status *status, MPI_Datatype datatype, ADIO_Offset bytes)
{
#ifdef HAVE_STATUS_SET_BYTES
    if (status) MPIR_Status_set_bytes(status, datatype, bytes);
#endif
}

void ADIOI_HOMI_ReadContig(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                           int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                           int *error_code)
{
    static char myname[] = "ADIOI_HOMI_READCONTIG";
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    MPI_Count tsize;
    MPI_Type_size_x(datatype, &tsize);
    ADIO_Offset len = (ADIO_Offset)tsize * count;
    ADIO_Offset off = file_ptr_type == ADIO_INDIVIDUAL ? fd->fp_ind : offset;
    int64_t got = len ? homi_pread_ex(fs->file, buf, (size_t)len, off, NULL) : 0;
    if (got < 0) {
        *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, (int)got, "read");
        return;
    }
    if (file_ptr_type == ADIO_INDIVIDUAL) fd->fp_ind = off + got;
    fd->fp_sys_posn = -1;
    set_status(status, datatype, got);
    *error_code = MPI_SUCCESS;
}

/* Independent (two_phase = 0) or collective read of a flattened request. */
static void read_flat(ADIO_File fd, void *buf, int count, MPI_Datatype datatype, int file_ptr_type,
                      ADIO_Offset offset, ADIO_Status *status, int *error_code, int collective,
                      const char *myname)
{
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    homi_coll_seg *segs;
    size_t n;
    ADIO_Offset end;
    char *base = buf;
    int64_t got = 0;
    int rc = ADIOI_HOMI_Flatten(fd, count, datatype, file_ptr_type, offset, &segs, &n, &end, &base)
                 ? HOMI_EINVAL
                 : HOMI_OK;
    /* atomic mode: the accessed range is locked (exclusive, as ROMIO's own
     * strided reads do) and reads are independent */
    ADIO_Offset lo = 0, hi = 0;
    int lock = fd->atomicity && ADIO_Feature(fd, ADIO_LOCKS) && !rc && n;
    if (lock) {
        lo = segs[0].file_off;
        for (size_t i = 0; i < n; i++) {
            if (segs[i].file_off < lo) lo = segs[i].file_off;
            if (segs[i].file_off + segs[i].len > hi) hi = segs[i].file_off + segs[i].len;
        }
        ADIOI_WRITE_LOCK(fd, lo, SEEK_SET, hi - lo);
    }
    if (collective && fd->atomicity) {
        int bad;
        MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, fd->comm);
        rc = bad ? bad : homi_coll_read_indep(fs->file, &fs->copts, base, segs, n, &got);
    } else if (collective) {
        /* every rank takes part even after a local error */
        int bad;
        MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, fd->comm);
        if (!bad)
            rc = homi_coll_read(fs->coll, base, segs, n, &got);
        else
            rc = bad;
    } else if (!rc) {
        rc = homi_coll_read_indep(fs->file, &fs->copts, base, segs, n, &got);
    }
    if (lock) ADIOI_UNLOCK(fd, lo, SEEK_SET, hi - lo);
    free(segs);
    if (rc) {
        *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, rc,
                                          collective ? "collective read" : "strided read");
        return;
    }
    if (file_ptr_type == ADIO_INDIVIDUAL) fd->fp_ind = end;
    fd->fp_sys_posn = -1;
    set_status(status, datatype, got);
    *error_code = MPI_SUCCESS;
}

void ADIOI_HOMI_ReadStrided(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                            int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                            int *error_code)
{
    static char myname[] = "ADIOI_HOMI_READSTRIDED";
    read_flat(fd, buf, count, datatype, file_ptr_type, offset, status, error_code, 0, myname);
}

void ADIOI_HOMI_ReadStridedColl(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                                int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                                int *error_code)
{
    static char myname[] = "ADIOI_HOMI_READSTRIDEDCOLL";
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    if (!fs->coll) { /* opened without a collective open: cannot happen in MPI-IO */
        *error_code = ADIOI_HOMI_Err(myname, __LINE__, MPI_ERR_INTERN, "(no collective state)");
        return;
    }
    read_flat(fd, buf, count, datatype, file_ptr_type, offset, status, error_code, 1, myname);
}

/* ------------------------------------------------------------ nonblocking */

/* The read runs to completion in the call; the request is born complete
 * (like ROMIO's own ADIOI_FAKE_* routines). */
static void complete(ADIO_File fd, MPI_Datatype datatype, ADIO_Status *st, int *error_code,
                     ADIO_Request *request)
{
    MPI_Offset nbytes = 0;
    if (*error_code == MPI_SUCCESS) {
        MPI_Count tsize;
        int cnt = 0;
        MPI_Type_size_x(datatype, &tsize);
        MPI_Get_count(st, datatype, &cnt);
        nbytes = (MPI_Offset)cnt * tsize;
    }
    MPIO_Completed_request_create(&fd, nbytes, error_code, request);
}

void ADIOI_HOMI_IreadContig(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                            int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                            int *error_code)
{
    ADIO_Status st;
    ADIOI_HOMI_ReadContig(fd, buf, count, datatype, file_ptr_type, offset, &st, error_code);
    complete(fd, datatype, &st, error_code, request);
}

void ADIOI_HOMI_IreadStrided(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                             int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                             int *error_code)
{
    ADIO_Status st;
    ADIOI_HOMI_ReadStrided(fd, buf, count, datatype, file_ptr_type, offset, &st, error_code);
    complete(fd, datatype, &st, error_code, request);
}

void ADIOI_HOMI_IreadStridedColl(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                                 int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                                 int *error_code)
{
    ADIO_Status st;
    ADIOI_HOMI_ReadStridedColl(fd, buf, count, datatype, file_ptr_type, offset, &st, error_code);
    complete(fd, datatype, &st, error_code, request);
}
