/* ad_homi_write.c - writes of the HOMI ROMIO driver.  Contiguous writes go
 * through libhomi's kernel path (homi_pwrite, which invalidates the file's
 * extent map, and takes device memory through its staging pipeline).
 * Strided and collective writes from device memory (HOMI_MPIIO_WRITES:
 * device, the default; all: every buffer) are flattened against the view
 * and written by src/coll (shared with the PMPI layer): strided ones by
 * homi_coll_write_segs (each rank its own pieces), collective ones by
 * homi_coll_write (two-phase through the aggregators' windows when the
 * ranks' ranges interleave, romio_cb_write); the bytes between pieces are
 * never written.  The
 * rest (host buffers, atomic mode) use ROMIO's generic code, which comes
 * back here for every contiguous piece, with a device buffer first copied
 * to host memory so generic code never touches it. */
#include "ad_homi.h"
#include "adioi.h"

/* Host copy of a device buffer holding count x datatype (NULL: buf is not
 * device memory).  *base is what generic code must use instead of buf. */
static void *host_copy(const void *buf, int count, MPI_Datatype datatype, const void **base,
                       int *rc)
{
    MPI_Aint tlb, text, lb, ext;
    *rc = HOMI_OK;
    *base = buf;
    if (!count) return NULL;
    MPI_Type_get_true_extent(datatype, &tlb, &text);
    MPI_Type_get_extent(datatype, &lb, &ext);
    size_t span = (size_t)(ext * (count - 1) + text);
    int dev = -1, kind = homi_mem_kind_of((const char *)buf + tlb, span, &dev);
    if (kind != HOMI_MEM_DEVICE) {
        *rc = kind < 0 ? kind : HOMI_OK;
        return NULL;
    }
    char *h = malloc(span);
    if (!h) {
        *rc = HOMI_ENOMEM;
        return NULL;
    }
    void *d = h;
    const void *s = (const char *)buf + tlb;
    *rc = homi_mem_copyv(1, &d, &s, &span, dev);
    if (*rc) {
        free(h);
        return NULL;
    }
    *base = h - tlb;
    return h;
}

void ADIOI_HOMI_WriteContig(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                            int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                            int *error_code)
{
    static char myname[] = "ADIOI_HOMI_WRITECONTIG";
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    MPI_Count tsize;
    MPI_Type_size_x(datatype, &tsize);
    ADIO_Offset len = (ADIO_Offset)tsize * count;
    ADIO_Offset off = file_ptr_type == ADIO_INDIVIDUAL ? fd->fp_ind : offset;
    /* device memory too: libhomi stages it (device -> pinned -> io_uring) */
    int64_t put = len ? homi_pwrite(fs->file, buf, (size_t)len, off) : 0;
    if (put < 0) {
        *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, (int)put, "write");
        return;
    }
    if (file_ptr_type == ADIO_INDIVIDUAL) fd->fp_ind = off + put;
    fd->fp_sys_posn = -1;
#ifndef HOMI_ROMIO_321 /* ROMIO 3.2.1 (Open MPI 4.1) does not track dirty writes */
    fd->dirty_write = 1;
#endif
#ifdef HAVE_STATUS_SET_BYTES
    if (status) MPIR_Status_set_bytes(status, datatype, put);
#endif
    *error_code = MPI_SUCCESS;
}

/* Can and should HOMI write this access itself (see the top)? */
static int homi_can(ADIO_File fd)
{
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    return fs->writable && !fd->atomicity && homi_coll_writes_mode() != HOMI_COLL_WRITES_NONE;
}

static int homi_wants(const void *buf, int count, MPI_Datatype datatype)
{
    if (!buf || count <= 0) return 0;
    MPI_Aint tlb, text, lb, ext;
    MPI_Type_get_true_extent(datatype, &tlb, &text);
    MPI_Type_get_extent(datatype, &lb, &ext);
    return homi_coll_write_wanted((const char *)buf + tlb, (size_t)(ext * (count - 1) + text));
}

/* The access flattened and written by homi_coll_write_segs, or (coll:
 * every rank of the file calls this) by homi_coll_write. */
static void write_flat(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                       int file_ptr_type, ADIO_Offset offset, ADIO_Status *status, int *error_code,
                       const char *myname, int coll)
{
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    homi_coll_seg *segs = NULL;
    size_t n = 0;
    ADIO_Offset end = 0;
    char *base = (char *)(uintptr_t)buf;
    int64_t put = 0;
    int rc = ADIOI_HOMI_Flatten(fd, count, datatype, file_ptr_type, offset, &segs, &n, &end, &base)
                 ? HOMI_EINVAL
                 : HOMI_OK;
    if (coll) { /* everyone takes part; a rank in error writes nothing */
        int r2 = homi_coll_write(fs->coll, base, segs, rc ? 0 : n, &fs->wbounce, &put);
        if (!rc) rc = r2;
    } else if (!rc)
        rc = homi_coll_write_segs(fs->file, base, segs, n, &fs->wbounce, &put);
    free(segs);
    fd->fp_sys_posn = -1;
#ifndef HOMI_ROMIO_321
    fd->dirty_write = 1;
#endif
#ifdef HAVE_STATUS_SET_BYTES
    if (status) MPIR_Status_set_bytes(status, datatype, put); /* what reached the file */
#endif
    if (rc) {
        *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, rc, "write");
        return;
    }
    if (file_ptr_type == ADIO_INDIVIDUAL) fd->fp_ind = end;
    *error_code = MPI_SUCCESS;
}

void ADIOI_HOMI_WriteStrided(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                             int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                             int *error_code)
{
    static char myname[] = "ADIOI_HOMI_WRITESTRIDED";
    if (homi_can(fd) && homi_wants(buf, count, datatype)) {
        write_flat(fd, buf, count, datatype, file_ptr_type, offset, status, error_code, myname, 0);
        return;
    }
    int rc;
    const void *src;
    void *h = host_copy(buf, count, datatype, &src, &rc);
    if (rc) {
        *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, rc, "device buffer");
        return;
    }
    ADIOI_GEN_WriteStrided(fd, src, count, datatype, file_ptr_type, offset, status, error_code);
    free(h);
}

/* Collective: HOMI writes when every rank can and one rank wants it (one
 * MPI_Allreduce); then homi_coll_write writes every rank's pieces. */
void ADIOI_HOMI_WriteStridedColl(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                                 int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                                 int *error_code)
{
    static char myname[] = "ADIOI_HOMI_WRITESTRIDEDCOLL";
    int can = homi_can(fd), want = can && homi_wants(buf, count, datatype);
    int v[2] = {can, -want}, all[2] = {0, 0};
    MPI_Allreduce(v, all, 2, MPI_INT, MPI_MIN, fd->comm);
    if (all[0] && all[1]) {
        write_flat(fd, buf, count, datatype, file_ptr_type, offset, status, error_code, myname, 1);
        return;
    }
    int rc, bad;
    const void *src;
    void *h = host_copy(buf, count, datatype, &src, &rc);
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, fd->comm);
    if (bad) {
        free(h);
        *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, bad, "device buffer");
        return;
    }
    ADIOI_GEN_WriteStridedColl(fd, src, count, datatype, file_ptr_type, offset, status, error_code);
    free(h);
}

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

void ADIOI_HOMI_IwriteContig(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                             int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                             int *error_code)
{
    ADIO_Status st;
    ADIOI_HOMI_WriteContig(fd, buf, count, datatype, file_ptr_type, offset, &st, error_code);
    complete(fd, datatype, &st, error_code, request);
}

void ADIOI_HOMI_IwriteStrided(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                              int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                              int *error_code)
{
    ADIO_Status st;
    ADIOI_HOMI_WriteStrided(fd, buf, count, datatype, file_ptr_type, offset, &st, error_code);
    complete(fd, datatype, &st, error_code, request);
}

/* Nonblocking collective write: the blocking one (which copies a device
 * buffer to host before ROMIO's generic code sees it), then a completed
 * request. */
void ADIOI_HOMI_IwriteStridedColl(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                                  int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                                  int *error_code)
{
    ADIO_Status st;
    ADIOI_HOMI_WriteStridedColl(fd, buf, count, datatype, file_ptr_type, offset, &st, error_code);
    complete(fd, datatype, &st, error_code, request);
}
