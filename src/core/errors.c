/* errors.c - homi_strerror and errno -> homi_err mapping. */
#include "core/errors.h"

#include <errno.h>

#include "homi.h"

const char *homi_strerror(int err)
{
    switch (err) {
    case HOMI_OK: return "success";
    case HOMI_EINVAL: return "invalid argument";
    case HOMI_ENOMEM: return "out of memory";
    case HOMI_EIO: return "I/O error";
    case HOMI_EBADF: return "bad or closed file handle, or file not open for this operation";
    case HOMI_ENOENT: return "no such file";
    case HOMI_EISDIR: return "is a directory";
    case HOMI_EACCES: return "permission denied";
    case HOMI_ERANGE: return "offset or length out of range";
    case HOMI_EHINT: return "unknown configuration key (hint)";
    case HOMI_EHINTVAL: return "invalid value for configuration key (hint)";
    case HOMI_ENOTSUP: return "not supported";
    case HOMI_ESYS: return "system error";
    case HOMI_EBUSY: return "resource busy or exhausted";
    case HOMI_ETIMEDOUT: return "timed out";
    case HOMI_ENOTREG: return "not a regular file";
    case HOMI_ENOSPC: return "no space left on the file system";
    default: return "unknown HOMI error";
    }
}

int homi_err_from_errno(int e)
{
    switch (e) {
    case 0: return HOMI_OK;
    case EINVAL: return HOMI_EINVAL;
    case ENOMEM: return HOMI_ENOMEM;
    case EIO: return HOMI_EIO;
    case EBADF: return HOMI_EBADF;
    case ENOENT:
    case ENOTDIR: return HOMI_ENOENT;
    case EISDIR: return HOMI_EISDIR;
    case EACCES:
    case EPERM:
    case EROFS: return HOMI_EACCES;
    case EFBIG:
    case EOVERFLOW:
    case ERANGE: return HOMI_ERANGE;
    case EOPNOTSUPP: return HOMI_ENOTSUP;
    case EMFILE:
    case ENFILE:
    case EBUSY:
    case EAGAIN: return HOMI_EBUSY;
    case ETIMEDOUT: return HOMI_ETIMEDOUT;
    case ENOSPC:
    case EDQUOT: return HOMI_ENOSPC;
    default: return HOMI_ESYS;
    }
}
