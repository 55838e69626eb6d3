/* ad_homi_write.c - writes of the HOMI ROMIO driver.  Contiguous writes go
 * through libhomi's kernel path (homi_pwrite, which invalidates the file's
 * extent map); strided and collective writes use ROMIO's generic code,
 * which comes back here for every contiguous piece.  A device buffer is
 * first copied to host memory so generic code never touches it. */
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
    int rc;
    const void *src;
    void *h = host_copy(buf, count, datatype, &src, &rc);
    int64_t put = rc ? rc : len ? homi_pwrite(fs->file, src, (size_t)len, off) : 0;
    free(h);
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

void ADIOI_HOMI_WriteStrided(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                             int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                             int *error_code)
{
    static char myname[] = "ADIOI_HOMI_WRITESTRIDED";
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

void ADIOI_HOMI_WriteStridedColl(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                                 int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                                 int *error_code)
{
    static char myname[] = "ADIOI_HOMI_WRITESTRIDEDCOLL";
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
