/* errors.c - MPI error codes of the layer, so that MPI_Error_class gives
 * the class the standard names and MPI_Error_string names the hint or the
 * call: in MPICH-derived libraries (libmpich ABI: MPICH, Cray MPICH, Intel
 * MPI) an error code made by MPIR_Err_create_code, as ROMIO makes its own;
 * elsewhere (Open MPI) each distinct (class, text) becomes a dynamic error
 * code of that class carrying the text.  Errors reach the file's error
 * handler. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "layer.h"

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int cls, code;
    char text[MPI_MAX_ERROR_STRING];
} cache[128];
static int ncache;

int lyr_err(int cls, const char *fmt, ...)
{
    char text[MPI_MAX_ERROR_STRING];
    int n = snprintf(text, sizeof text, "HOMI MPI-IO layer: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
    va_end(ap);
    /* MPICH: int MPIR_Err_create_code(lastcode, fatal, fcname, line, class,
     * generic_msg, specific_msg, ...) */
    typedef int (*create_fn)(int, int, const char *, int, int, const char *, const char *, ...);
    static create_fn create;
    static int looked;
    pthread_mutex_lock(&err_lock);
    if (!looked) {
        void *sym = dlsym(RTLD_DEFAULT, "MPIR_Err_create_code");
        memcpy(&create, &sym, sizeof create);
        looked = 1;
    }
    pthread_mutex_unlock(&err_lock);
    if (create) return create(MPI_SUCCESS, 0, "homi_mpiio", __LINE__, cls, "**io", "**io %s", text);
    int code = cls;
    pthread_mutex_lock(&err_lock);
    for (int i = 0; i < ncache; i++)
        if (cache[i].cls == cls && !strcmp(cache[i].text, text)) {
            code = cache[i].code;
            goto out;
        }
    if (PMPI_Add_error_code(cls, &code) != MPI_SUCCESS) {
        code = cls;
        goto out;
    }
    if (PMPI_Add_error_string(code, text) != MPI_SUCCESS) {
        code = cls;
        goto out;
    }
    if (ncache < (int)(sizeof cache / sizeof cache[0])) {
        cache[ncache].cls = cls;
        cache[ncache].code = code;
        memcpy(cache[ncache].text, text, sizeof text);
        ncache++;
    }
out:
    pthread_mutex_unlock(&err_lock);
    return code;
}

int lyr_err_homi(int rc, const char *what)
{
    int cls = MPI_ERR_IO;
    switch (rc) {
    case HOMI_ENOENT: cls = MPI_ERR_NO_SUCH_FILE; break;
    case HOMI_EACCES: cls = MPI_ERR_ACCESS; break;
    case HOMI_ENOMEM: cls = MPI_ERR_NO_MEM; break;
    case HOMI_EINVAL: cls = MPI_ERR_ARG; break;
    case HOMI_ENOTSUP: cls = MPI_ERR_UNSUPPORTED_OPERATION; break;
    case HOMI_EHINT: cls = MPI_ERR_INFO_KEY; break;
    case HOMI_EHINTVAL: cls = MPI_ERR_INFO_VALUE; break;
    case HOMI_ENOSPC: cls = MPI_ERR_NO_SPACE; break;
    default: break;
    }
    return lyr_err(cls, "%s: %s", what, homi_strerror(rc));
}

int lyr_fail(MPI_File fh, int err)
{
    if (err == MPI_SUCCESS) return err;
    if (fh == MPI_FILE_NULL) { /* Open MPI refuses MPI_FILE_NULL in call_errhandler */
        MPI_Errhandler eh = MPI_ERRHANDLER_NULL;
        PMPI_File_get_errhandler(MPI_FILE_NULL, &eh);
        int ret = eh == MPI_ERRORS_RETURN;
        if (eh != MPI_ERRHANDLER_NULL) PMPI_Errhandler_free(&eh);
        if (ret) return err;
    }
    PMPI_File_call_errhandler(fh, err);
    return err;
}

void lyr_status_bytes(MPI_Status *st, int64_t bytes)
{
    if (st == MPI_STATUS_IGNORE) return;
    PMPI_Status_set_elements_x(st, MPI_BYTE, bytes);
    PMPI_Status_set_cancelled(st, 0);
}
