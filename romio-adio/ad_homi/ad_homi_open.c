/* ad_homi_open.c - open, collective open, close and hints (SetInfo) of
 * the HOMI ROMIO driver.  Every homi_* hint is either a libhomi engine key
 * (checked by homi_config_set) or one of the driver's collective keys;
 * anything else starting with homi_ is an error, never ignored. */
#include <fcntl.h>
#include <unistd.h>

#include "ad_homi.h"
#include "adioi.h"

/* Apply one homi_* hint to fs; returns an MPI error code. */
static int apply_hint(ADIOI_HOMI_fs *fs, const char *key, const char *val)
{
    static char myname[] = "ADIOI_HOMI_SETINFO";
    char why[96];
    int r = homi_coll_hint_set(&fs->copts, key, val, why, sizeof why);
    if (r < 0)
        return ADIOI_HOMI_Err(myname, __LINE__, MPI_ERR_INFO_VALUE, "(hint %s=\"%s\": %s)", key,
                              val, why);
    if (r == 0) {
        int rc = homi_config_set(fs->cfg, key, val);
        if (rc == HOMI_EHINT)
            return ADIOI_HOMI_Err(myname, __LINE__, MPI_ERR_INFO_KEY,
                                  "(unknown HOMI hint \"%s\"; see docs/hints.md)", key);
        if (rc)
            return ADIOI_HOMI_Err(myname, __LINE__, MPI_ERR_INFO_VALUE,
                                  "(hint %s=\"%s\": %s; see docs/hints.md)", key, val,
                                  homi_strerror(rc));
    }
    return MPI_SUCCESS;
}

static ADIOI_HOMI_fs *fs_new(int *error_code)
{
    static char myname[] = "ADIOI_HOMI_SETINFO";
    ADIOI_HOMI_fs *fs = ADIOI_Calloc(1, sizeof *fs);
    fs->cfg = homi_config_new();
    homi_coll_opts_default(&fs->copts);
    *error_code = MPI_SUCCESS;
    if (!fs->cfg) {
        ADIOI_Free(fs);
        *error_code = ADIOI_HOMI_Err(myname, __LINE__, MPI_ERR_NO_MEM, "(homi_config_new)");
        return NULL;
    }
    /* HOMI_* environment first, hints override it */
    int rc = homi_config_load_env(fs->cfg);
    if (rc) {
        *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, rc, "HOMI_* environment");
        homi_config_free(fs->cfg);
        ADIOI_Free(fs);
        return NULL;
    }
    return fs;
}

static void fs_free(ADIOI_HOMI_fs *fs)
{
    if (!fs) return;
    homi_config_free(fs->cfg);
    ADIOI_Free(fs);
}

/* Parse every homi_* key of info into fs. */
static int parse_info(ADIOI_HOMI_fs *fs, MPI_Info info)
{
    int nkeys = 0, err = MPI_SUCCESS;
    if (info == MPI_INFO_NULL) return MPI_SUCCESS;
    MPI_Info_get_nkeys(info, &nkeys);
    for (int i = 0; i < nkeys && err == MPI_SUCCESS; i++) {
        char key[MPI_MAX_INFO_KEY + 1], val[MPI_MAX_INFO_VAL + 1];
        int flag = 0;
        MPI_Info_get_nthkey(info, i, key);
        if (strncmp(key, "homi_", 5)) continue;
        ADIOI_Info_get(info, key, MPI_MAX_INFO_VAL, val, &flag);
        if (flag) err = apply_hint(fs, key, val);
    }
    return err;
}

/* Make the effective values visible through MPI_File_get_info. */
static void report_info(ADIO_File fd, ADIOI_HOMI_fs *fs)
{
    char val[MPI_MAX_INFO_VAL + 1];
    const char *k;
    ADIOI_Info_set(fd->info, "homi", "enable");
    for (unsigned i = 0; (k = homi_config_key(i)); i++)
        if (homi_config_get(fs->cfg, k, val, sizeof val) == HOMI_OK)
            ADIOI_Info_set(fd->info, k, val);
    for (unsigned i = 0; (k = homi_coll_hint_key(i)); i++)
        if (homi_coll_hint_get(&fs->copts, k, val, sizeof val) == 0)
            ADIOI_Info_set(fd->info, k, val);
}

/* Collective options from ROMIO's standard hints. */
static void coll_from_hints(ADIO_File fd, ADIOI_HOMI_fs *fs)
{
    fs->copts.cb_buffer_size = fd->hints->cb_buffer_size;
    fs->copts.cb_read = fd->hints->cb_read == ADIOI_HINT_ENABLE    ? HOMI_COLL_ENABLE
                        : fd->hints->cb_read == ADIOI_HINT_DISABLE ? HOMI_COLL_DISABLE
                                                                   : HOMI_COLL_AUTO;
    fs->copts.cb_write = fd->hints->cb_write == ADIOI_HINT_ENABLE    ? HOMI_COLL_ENABLE
                         : fd->hints->cb_write == ADIOI_HINT_DISABLE ? HOMI_COLL_DISABLE
                                                                     : HOMI_COLL_AUTO;
    fs->copts.cb_nodes = fs->cb_nodes_set ? fs->cb_nodes_user : 0;
}

void ADIOI_HOMI_SetInfo(ADIO_File fd, MPI_Info users_info, int *error_code)
{
    static char myname[] = "ADIOI_HOMI_SETINFO";
    ADIOI_GEN_SetInfo(fd, users_info, error_code);
    if (*error_code != MPI_SUCCESS) return;
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    int fresh = !fs;
    if (fresh && !(fs = fs_new(error_code))) return;
    *error_code = parse_info(fs, users_info);
    if (*error_code != MPI_SUCCESS) goto bad;
    if (users_info != MPI_INFO_NULL) {
        int flag = 0;
        char val[MPI_MAX_INFO_VAL + 1];
        ADIOI_Info_get(users_info, "cb_nodes", MPI_MAX_INFO_VAL, val, &flag);
        if (flag) { /* ROMIO has checked it already; its own copy is capped by cb_config_list */
            fs->cb_nodes_set = 1;
            fs->cb_nodes_user = atoi(val) > 0 ? atoi(val) : fd->hints->cb_nodes;
        }
    }
    if (fd->hints->cb_buffer_size < 4096 || fd->hints->cb_buffer_size > (1 << 30)) {
        *error_code = ADIOI_HOMI_Err(myname, __LINE__, MPI_ERR_INFO_VALUE,
                                     "(hint cb_buffer_size=%d: HOMI needs 4096..1073741824)",
                                     fd->hints->cb_buffer_size);
        goto bad;
    }
    coll_from_hints(fd, fs);
    if (fs->coll && homi_coll_set_opts(fs->coll, &fs->copts)) {
        *error_code =
            ADIOI_HOMI_Err(myname, __LINE__, MPI_ERR_INFO_VALUE, "(collective hints out of range)");
        return;
    }
    fd->fs_ptr = fs;
    report_info(fd, fs);
    return;
bad:
    /* at open, ADIO_Open ignores SetInfo's error: keep it for Open */
    if (fresh) {
        fs->hint_err = *error_code;
        fd->fs_ptr = fs;
    }
}

/* Engines outlive the files that use them: homi_engine_acquire keeps an
 * idle engine warm (rings, pinned staging pool, CUDA streams) so that the
 * next MPI_File_open's first read does not pay for them.  MPI_Finalize
 * destroys the idle ones: it deletes MPI_COMM_SELF's attributes first. */
static int flush_engines(MPI_Comm comm, int keyval, void *attr, void *extra)
{
    (void)comm;
    (void)keyval;
    (void)attr;
    (void)extra;
    homi_engine_cache_flush();
    return MPI_SUCCESS;
}

static void flush_at_finalize(void)
{
    static int registered;
    int kv;
    if (registered) return;
    if (MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, flush_engines, &kv, NULL) == MPI_SUCCESS &&
        MPI_Comm_set_attr(MPI_COMM_SELF, kv, NULL) == MPI_SUCCESS)
        registered = 1;
}

void ADIOI_HOMI_Open(ADIO_File fd, int *error_code)
{
    static char myname[] = "ADIOI_HOMI_OPEN";
    int perm, amode = 0;
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    if (!fs) { /* reopened after a close (create step): hints are in fd->info */
        if (!(fs = fs_new(error_code))) return;
        *error_code = parse_info(fs, fd->info);
        if (*error_code != MPI_SUCCESS) {
            fs_free(fs);
            return;
        }
        coll_from_hints(fd, fs);
        fd->fs_ptr = fs;
    }
    if (fs->hint_err) {
        *error_code = fs->hint_err;
        return;
    }
    if (fd->perm == ADIO_PERM_NULL) {
        int old_mask = umask(022);
        umask(old_mask);
        perm = old_mask ^ 0666;
    } else
        perm = fd->perm;
    if (fd->access_mode & ADIO_CREATE) amode |= O_CREAT;
    if (fd->access_mode & ADIO_RDONLY) amode |= O_RDONLY;
    if (fd->access_mode & ADIO_WRONLY) amode |= O_WRONLY;
    if (fd->access_mode & ADIO_RDWR) amode |= O_RDWR;
    if (fd->access_mode & ADIO_EXCL) amode |= O_EXCL;
    fd->fd_direct = -1;
    fd->fd_sys = open(fd->filename, amode, perm);
    if (fd->fd_sys == -1) {
        *error_code = ADIOI_Err_create_code(myname, fd->filename, errno);
        return;
    }
    if (fd->access_mode & ADIO_APPEND)
        fd->fp_ind = fd->fp_sys_posn = lseek(fd->fd_sys, 0, SEEK_END);

    flush_at_finalize();
    int rc = homi_engine_acquire(fs->cfg, &fs->eng);
    if (!rc) {
        unsigned flags = (fd->access_mode & (ADIO_RDWR | ADIO_WRONLY)) ? HOMI_RDWR : HOMI_RDONLY;
        rc = homi_open(fs->eng, fd->filename, flags, &fs->file);
        fs->writable = !rc && flags == HOMI_RDWR;
        if (rc == HOMI_EACCES && flags == HOMI_RDWR && (fd->access_mode & ADIO_WRONLY))
            rc = homi_open(fs->eng, fd->filename, HOMI_RDONLY, &fs->file);
    }
    if (rc) {
        *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, rc, fd->filename);
        homi_engine_release(fs->eng);
        fs->eng = NULL;
        fs->file = NULL;
        close(fd->fd_sys);
        fd->fd_sys = -1;
        return;
    }
    *error_code = MPI_SUCCESS;
}

void ADIOI_HOMI_OpenColl(ADIO_File fd, int rank, int access_mode, int *error_code)
{
    static char myname[] = "ADIOI_HOMI_OPENCOLL";
    /* every rank needs its own handle to read (and to aggregate) */
    fd->hints->deferred_open = 0;
    ADIOI_GEN_OpenColl(fd, rank, access_mode, error_code);
    ADIOI_HOMI_fs *fs0 = fd->fs_ptr;
    if (*error_code != MPI_SUCCESS && fs0 && !fs0->file) {
        fs_free(fs0); /* nothing open: ADIO_Open will not call Close */
        fd->fs_ptr = NULL;
    }
    int ok = *error_code == MPI_SUCCESS, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, fd->comm);
    if (!all) {
        if (ok) {
            int e;
            ADIOI_HOMI_Close(fd, &e);
            *error_code = ADIOI_HOMI_Err(myname, __LINE__, MPI_ERR_IO,
                                         "(HOMI open of %s failed on another rank)", fd->filename);
        }
        return;
    }
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    int rc = homi_coll_create(fd->comm, fs->file, &fs->copts, &fs->coll);
    if (rc) {
        int e;
        *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, rc, "collective read setup");
        ADIOI_HOMI_Close(fd, &e);
        return;
    }
    if (fs->cb_nodes_set) { /* report the aggregators HOMI uses, not ROMIO's capped copy */
        int np;
        char val[32];
        MPI_Comm_size(fd->comm, &np);
        snprintf(val, sizeof val, "%d", fs->cb_nodes_user < np ? fs->cb_nodes_user : np);
        ADIOI_Info_set(fd->info, "cb_nodes", val);
    }
}

void ADIOI_HOMI_Close(ADIO_File fd, int *error_code)
{
    static char myname[] = "ADIOI_HOMI_CLOSE";
    ADIOI_HOMI_fs *fs = fd->fs_ptr;
    *error_code = MPI_SUCCESS;
    if (fs) {
        if (fs->coll) homi_coll_free(fs->coll);
        if (fs->file) {
            int rc = homi_close(fs->file);
            if (rc) *error_code = ADIOI_HOMI_Err_homi(myname, __LINE__, rc, "close");
        }
        homi_coll_wbounce_free(&fs->wbounce);
        homi_engine_release(fs->eng); /* stays warm for the next open */
        fs->coll = NULL;
        fs->file = NULL;
        fs->eng = NULL;
        /* the create step of ADIOI_GEN_OpenColl closes and reopens before
         * the file is open: keep the parsed hints for the reopen */
        if (fd->is_open) {
            fs_free(fs);
            fd->fs_ptr = NULL;
        }
    }
    if (fd->fd_sys != -1 && close(fd->fd_sys) == -1 && *error_code == MPI_SUCCESS)
        *error_code = ADIOI_Err_create_code(myname, fd->filename, errno);
    fd->fd_sys = -1;
}
