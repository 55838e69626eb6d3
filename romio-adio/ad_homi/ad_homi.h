/* ad_homi.h - the HOMI ROMIO driver: per-file state and the entry points
 * of ADIO_HOMI_operations.  The driver is thin glue: reads go to libhomi
 * (src/core) and the collective engine (src/coll); ROMIO's generic code
 * never sees a device buffer. */
#ifndef AD_HOMI_H_INCLUDED
#define AD_HOMI_H_INCLUDED

#include "adio.h"
#include "homi.h"
#include "homi_coll.h"

/* Per-file state (fd->fs_ptr). */
typedef struct ADIOI_HOMI_fs {
    homi_config *cfg;          /* engine hints (homi_* keys known to libhomi)  */
    homi_engine *eng;          /* shared engine (homi_engine_acquire)          */
    homi_file *file;           /* libhomi handle of fd->filename               */
    int writable;              /* file was opened HOMI_RDWR                    */
    homi_coll_wbounce wbounce; /* short pieces of writes gathered here    */
    homi_coll *coll;           /* collective-read state (collective open only) */
    homi_coll_opts copts;      /* collective hints                            */
    int cb_nodes_set;          /* cb_nodes given by the user                   */
    int cb_nodes_user;         /* its value (ROMIO caps its own copy at one
                                  aggregator per host: cb_config_list)         */
    int hint_err;              /* MPI error of a bad hint at open (ADIO_Open
                                * drops SetInfo's error: Open returns it)      */
} ADIOI_HOMI_fs;

void ADIOI_HOMI_Open(ADIO_File fd, int *error_code);
void ADIOI_HOMI_OpenColl(ADIO_File fd, int rank, int access_mode, int *error_code);
void ADIOI_HOMI_Close(ADIO_File fd, int *error_code);
void ADIOI_HOMI_SetInfo(ADIO_File fd, MPI_Info users_info, int *error_code);
void ADIOI_HOMI_ReadContig(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                           int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                           int *error_code);
void ADIOI_HOMI_ReadStrided(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                            int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                            int *error_code);
void ADIOI_HOMI_ReadStridedColl(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                                int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                                int *error_code);
void ADIOI_HOMI_IreadContig(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                            int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                            int *error_code);
void ADIOI_HOMI_IreadStrided(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                             int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                             int *error_code);
void ADIOI_HOMI_IreadStridedColl(ADIO_File fd, void *buf, int count, MPI_Datatype datatype,
                                 int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                                 int *error_code);
void ADIOI_HOMI_WriteContig(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                            int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                            int *error_code);
void ADIOI_HOMI_WriteStrided(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                             int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                             int *error_code);
void ADIOI_HOMI_WriteStridedColl(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                                 int file_ptr_type, ADIO_Offset offset, ADIO_Status *status,
                                 int *error_code);
void ADIOI_HOMI_IwriteContig(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                             int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                             int *error_code);
void ADIOI_HOMI_IwriteStrided(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                              int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                              int *error_code);
void ADIOI_HOMI_IwriteStridedColl(ADIO_File fd, const void *buf, int count, MPI_Datatype datatype,
                                  int file_ptr_type, ADIO_Offset offset, ADIO_Request *request,
                                  int *error_code);
int ADIOI_HOMI_Feature(ADIO_File fd, int flag);

/* Called by MPI_File_open (patched open.c): the hint homi=enable selects
 * this driver.  Bad values of the hint give MPI_ERR_INFO_VALUE. */
void ADIOI_HOMI_SelectByHint(MPI_Info info, int *file_system, ADIOI_Fns **ops, int *error_code);

/* An MPI error code with a HOMI message; cls is an MPI error class. */
int ADIOI_HOMI_Err(const char *where, int line, int cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* MPI error for a negative homi_err. */
int ADIOI_HOMI_Err_homi(const char *where, int line, int homi_rc, const char *what);

/* Flatten (count x datatype into buf) against fd's file view at offset
 * (etypes from the view start, or the individual file pointer) into
 * segments; *end gets the file offset after the last byte requested. */
int ADIOI_HOMI_Flatten(ADIO_File fd, int count, MPI_Datatype datatype, int file_ptr_type,
                       ADIO_Offset offset, homi_coll_seg **segs, size_t *nsegs, ADIO_Offset *end,
                       char **base);

#endif /* AD_HOMI_H_INCLUDED */
