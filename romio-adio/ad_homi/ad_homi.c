/* ad_homi.c - the ADIOI_Fns table of the HOMI ROMIO driver, its feature
 * answers, hint-based selection and error helpers. */
#include <stdarg.h>

#include "ad_homi.h"
#include "adioi.h"

struct ADIOI_Fns_struct ADIO_HOMI_operations = {
    ADIOI_HOMI_Open,             /* Open */
    ADIOI_HOMI_OpenColl,         /* OpenColl */
    ADIOI_HOMI_ReadContig,       /* ReadContig */
    ADIOI_HOMI_WriteContig,      /* WriteContig */
    ADIOI_HOMI_ReadStridedColl,  /* ReadStridedColl */
    ADIOI_HOMI_WriteStridedColl, /* WriteStridedColl */
    ADIOI_GEN_SeekIndividual,    /* SeekIndividual */
    ADIOI_GEN_Fcntl,             /* Fcntl */
    ADIOI_HOMI_SetInfo,          /* SetInfo */
    ADIOI_HOMI_ReadStrided,      /* ReadStrided */
    ADIOI_HOMI_WriteStrided,     /* WriteStrided */
    ADIOI_HOMI_Close,            /* Close */
    ADIOI_HOMI_IreadContig,      /* IreadContig */
    ADIOI_HOMI_IwriteContig,     /* IwriteContig */
    ADIOI_GEN_IODone,            /* ReadDone */
    ADIOI_GEN_IODone,            /* WriteDone */
    ADIOI_GEN_IOComplete,        /* ReadComplete */
    ADIOI_GEN_IOComplete,        /* WriteComplete */
    ADIOI_HOMI_IreadStrided,     /* IreadStrided */
    ADIOI_HOMI_IwriteStrided,    /* IwriteStrided */
    ADIOI_GEN_Flush,             /* Flush */
    ADIOI_GEN_Resize,            /* Resize */
    ADIOI_GEN_Delete,            /* Delete */
    ADIOI_HOMI_Feature,          /* Features */
    "HOMI: host-orchestrated multipath reads into host or GPU memory",
    ADIOI_HOMI_IreadStridedColl,  /* IreadStridedColl */
    ADIOI_HOMI_IwriteStridedColl, /* IwriteStridedColl */
#if defined(HOMI_ROMIO_321)       /* ROMIO 3.2.1 (Open MPI 4.1): no SetLock entry */
#elif defined(F_SETLKW64)
    ADIOI_GEN_SetLock /* SetLock */
#else
    ADIOI_GEN_SetLock64 /* SetLock */
#endif
};

int ADIOI_HOMI_Feature(ADIO_File fd, int flag)
{
    switch (flag) {
    case ADIO_LOCKS:
    case ADIO_SHARED_FP:
    case ADIO_ATOMIC_MODE:
    case ADIO_DATA_SIEVING_WRITES: return 1;
    case ADIO_SCALABLE_OPEN: /* every rank opens: reads need a handle */
    case ADIO_UNLINK_AFTER_CLOSE:
    case ADIO_SCALABLE_RESIZE:
    default: return 0;
    }
}

#ifdef HOMI_ROMIO_321
/* Open MPI's ROMIO glue (mpi-io/glue/openmpi) reduces an error code to its
 * class and drops the message.  So that MPI_Error_string still names the
 * bad hint, each distinct (class, message) gets a dynamic MPI error code of
 * that class carrying the text (ROMIO calls are serialized by Open MPI). */
static int homi_err_code(int cls, const char *where, const char *msg)
{
    static struct {
        int cls, code;
        char text[MPI_MAX_ERROR_STRING];
    } cache[64];
    static int n;
    char text[MPI_MAX_ERROR_STRING];
    snprintf(text, sizeof text, "HOMI %s: %s", where, msg);
    for (int i = 0; i < n; i++)
        if (cache[i].cls == cls && !strcmp(cache[i].text, text)) return cache[i].code;
    int code;
    if (MPI_Add_error_code(cls, &code) != MPI_SUCCESS) return cls;
    if (MPI_Add_error_string(code, text) != MPI_SUCCESS) return cls;
    if (n < (int)(sizeof cache / sizeof cache[0])) {
        cache[n].cls = cls;
        cache[n].code = code;
        memcpy(cache[n].text, text, sizeof text);
        n++;
    }
    return code;
}
#endif

int ADIOI_HOMI_Err(const char *where, int line, int cls, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
#ifdef HOMI_ROMIO_321
    (void)line;
    return homi_err_code(cls, where, msg);
#else
    return MPIO_Err_create_code(MPI_SUCCESS, MPIR_ERR_RECOVERABLE, where, line, cls, "**io",
                                "**io %s", msg);
#endif
}

int ADIOI_HOMI_Err_homi(const char *where, int line, int rc, const char *what)
{
    int cls = MPI_ERR_IO;
    switch (rc) {
    case HOMI_ENOENT: cls = MPI_ERR_NO_SUCH_FILE; break;
    case HOMI_EACCES: cls = MPI_ERR_ACCESS; break;
    case HOMI_ENOMEM: cls = MPI_ERR_NO_MEM; break;
    case HOMI_EINVAL: cls = MPI_ERR_BUFFER; break;
    case HOMI_ENOTSUP: cls = MPI_ERR_UNSUPPORTED_OPERATION; break;
    case HOMI_EHINT: cls = MPI_ERR_INFO_KEY; break;
    case HOMI_EHINTVAL: cls = MPI_ERR_INFO_VALUE; break;
    case HOMI_ENOSPC: cls = MPI_ERR_NO_SPACE; break;
    default: break;
    }
    return ADIOI_HOMI_Err(where, line, cls, "(homi: %s: %s)", what, homi_strerror(rc));
}

void ADIOI_HOMI_SelectByHint(MPI_Info info, int *file_system, ADIOI_Fns **ops, int *error_code)
{
    static char myname[] = "ADIOI_HOMI_SELECTBYHINT";
    char value[MPI_MAX_INFO_VAL + 1];
    int flag = 0;
    *error_code = MPI_SUCCESS;
    if (info == MPI_INFO_NULL) return;
    ADIOI_Info_get(info, "homi", MPI_MAX_INFO_VAL, value, &flag);
    if (!flag) return;
    if (!strcasecmp(value, "enable") || !strcasecmp(value, "true") || !strcmp(value, "1")) {
        *file_system = ADIO_HOMI;
        *ops = &ADIO_HOMI_operations;
    } else if (strcasecmp(value, "disable") && strcasecmp(value, "false") && strcmp(value, "0")) {
        *error_code = ADIOI_HOMI_Err(myname, __LINE__, MPI_ERR_INFO_VALUE,
                                     "(hint homi=\"%s\": expected enable or disable)", value);
    }
}
