/* open.c - MPI_File_open and the calls that change what the layer keeps
 * for a file: close, set_view, set_info, get_info, set_atomicity, and
 * MPI_Finalize (flushes the kept engines).  A file HOMI serves is also
 * opened by the MPI library (PMPI_File_open): the application holds the MPI
 * library's handle and everything the layer does not serve stays the MPI
 * library's work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

static void file_free(lyr_file *f)
{
    if (!f) return;
    if (f->wcoll) homi_coll_free(f->wcoll);
    if (f->coll) homi_coll_free(f->coll);
    homi_file *h[2] = {f->file, f->wfile};
    for (int i = 0; i < 2; i++)
        if (h[i]) {
            homi_stats s;
            if (homi_file_stats(h[i], &s) == HOMI_OK) lyr_stats_add(&s);
            homi_close(h[i]);
        }
    homi_coll_wbounce_free(&f->wbounce);
    if (f->eng) homi_engine_release(f->eng);
    if (f->comm != MPI_COMM_NULL) PMPI_Comm_free(&f->comm);
    lyr_flat_put(f->view.ftype);
    homi_config_free(f->cfg);
    pthread_mutex_destroy(&f->lock);
    pthread_mutex_destroy(&f->wlock);
    free(f->path);
    free(f);
}

static lyr_file *file_new(const char *path, int *err)
{
    lyr_file *f = calloc(1, sizeof *f);
    *err = MPI_SUCCESS;
    if (!f || !(f->path = strdup(path)) || !(f->cfg = homi_config_new())) {
        if (f) free(f->path);
        free(f);
        *err = lyr_err(MPI_ERR_NO_MEM, "out of memory opening %s", path);
        return NULL;
    }
    f->comm = MPI_COMM_NULL;
    pthread_mutex_init(&f->lock, NULL);
    pthread_mutex_init(&f->wlock, NULL);
    homi_coll_opts_default(&f->copts);
    f->view.disp = 0;
    f->view.etype_size = 1;
    f->view.ftype = lyr_flat_get(MPI_BYTE);
    f->view.native = 1;
    int rc = homi_config_load_env(f->cfg); /* HOMI_* environment, hints override it */
    if (rc) *err = lyr_err_homi(rc, "HOMI_* environment");
    return f;
}

/* every rank of comm agrees that all succeeded (1) or not (0) */
static int all_ok(MPI_Comm comm, int ok)
{
    int all = 0;
    PMPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    return all;
}

/* HOMI's half of an open: engine, libhomi handle, collective state */
static int homi_side(lyr_file *f, int amode)
{
    if (amode & MPI_MODE_WRONLY) return MPI_SUCCESS; /* nothing to read */
    lyr_mark_engine_used();
    int rc = homi_engine_acquire(f->cfg, &f->eng);
    if (!rc) rc = homi_open(f->eng, f->path, HOMI_RDONLY, &f->file);
    if (!all_ok(f->comm, rc == HOMI_OK))
        return rc ? lyr_err_homi(rc, f->path)
                  : lyr_err(MPI_ERR_IO, "HOMI open of %s failed on another rank", f->path);
    rc = homi_coll_create(f->comm, f->file, &f->copts, &f->coll);
    return rc ? lyr_err_homi(rc, "collective read setup") : MPI_SUCCESS;
}

/* HOMI was selected by the environment only and cannot serve this file:
 * the MPI library serves it alone, and says so once per file (rank 0) */
static void stand_aside(lyr_file *f, int err)
{
    int rank = 0;
    PMPI_Comm_rank(f->comm, &rank);
    if (rank == 0) {
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0;
        PMPI_Error_string(err, msg, &len);
        fprintf(stderr, "homi_mpiio: %s: not served by HOMI, the MPI library serves it (%s)\n",
                f->path, msg);
    }
    file_free(f);
}

int MPI_File_open(MPI_Comm comm, const char *filename, int amode, MPI_Info info, MPI_File *fh)
{
    int init = 0, fin = 0;
    PMPI_Initialized(&init);
    PMPI_Finalized(&fin);
    if (!init || fin) return MPI_ERR_OTHER; /* no MPI: no error handler to call */
    const char *name = filename;
    int err = MPI_SUCCESS;
    int sel = filename && !lyr_adhomi_present() ? lyr_selected(filename, info, &name, &err) : 0;
    if (!sel || (amode & MPI_MODE_SEQUENTIAL)) return PMPI_File_open(comm, name, amode, info, fh);
    lyr_file *f = err ? NULL : file_new(lyr_plain_path(name), &err);
    if (!err) err = lyr_hints_apply(f, info);
    if (!all_ok(comm, err == MPI_SUCCESS)) {
        if (!err) err = lyr_err(MPI_ERR_INFO_VALUE, "bad HOMI hints on another rank (%s)", name);
        file_free(f);
        return lyr_fail(MPI_FILE_NULL, err);
    }
    err = PMPI_File_open(comm, name, amode, info, fh);
    if (err != MPI_SUCCESS) { /* the MPI library has called the handler */
        file_free(f);
        return err;
    }
    f->fh = *fh;
    f->amode = amode;
    PMPI_Comm_dup(comm, &f->comm);
    err = homi_side(f, amode);
    if (err && sel == LYR_SEL_ENV) {
        stand_aside(f, err);
        return MPI_SUCCESS;
    }
    if (err) {
        file_free(f);
        PMPI_File_close(fh);
        return lyr_fail(MPI_FILE_NULL, err);
    }
    lyr_register(f);
    return MPI_SUCCESS;
}

int MPI_File_delete(const char *filename, MPI_Info info)
{
    const char *name = filename;
    if (filename && !strncmp(filename, "homi:", 5) && !lyr_adhomi_present()) name = filename + 5;
    return PMPI_File_delete(name, info);
}

int MPI_File_close(MPI_File *fh)
{
    lyr_file *f = fh ? lyr_lookup(*fh) : NULL;
    if (f) {
        lyr_unregister(f);
        file_free(f);
    }
    return PMPI_File_close(fh);
}

int MPI_File_set_view(MPI_File fh, MPI_Offset disp, MPI_Datatype etype, MPI_Datatype filetype,
                      const char *datarep, MPI_Info info)
{
    lyr_file *f = lyr_lookup(fh);
    if (!f) return PMPI_File_set_view(fh, disp, etype, filetype, datarep, info);
    /* sizes as MPI_Count: a filetype may hold more than 2 GiB (one rank's
     * part of an 8 GiB array), which MPI_Type_size reports as MPI_UNDEFINED */
    MPI_Count esize = 0, fsize = 0;
    int err = MPI_SUCCESS;
    if (etype == MPI_DATATYPE_NULL || filetype == MPI_DATATYPE_NULL)
        err = lyr_err(MPI_ERR_TYPE, "MPI_File_set_view: MPI_DATATYPE_NULL");
    if (!err) {
        PMPI_Type_size_x(etype, &esize);
        PMPI_Type_size_x(filetype, &fsize);
        if (esize <= 0 || fsize < 0 || fsize % esize)
            err = lyr_err(MPI_ERR_ARG,
                          "MPI_File_set_view: filetype of %lld bytes is not made of etypes of %lld",
                          (long long)fsize, (long long)esize);
    }
    if (!err && disp < 0 && disp != MPI_DISPLACEMENT_CURRENT)
        err =
            lyr_err(MPI_ERR_ARG, "MPI_File_set_view: negative displacement %lld", (long long)disp);
    if (!err) err = lyr_hints_apply(f, info);
    if (err) return lyr_fail(fh, err);
    err = PMPI_File_set_view(fh, disp, etype, filetype, datarep, info);
    if (err) return err;
    if (f->coll) homi_coll_set_opts(f->coll, &f->copts);
    if (f->wcoll) homi_coll_set_opts(f->wcoll, &f->copts);
    lyr_flat *ft = disp == MPI_DISPLACEMENT_CURRENT ? NULL : lyr_flat_get(filetype);
    pthread_mutex_lock(&f->lock);
    lyr_flat_put(f->view.ftype);
    f->view.ftype = ft;
    f->view.disp = disp;
    f->view.etype_size = esize;
    f->view.native = datarep && !strcmp(datarep, "native");
    pthread_mutex_unlock(&f->lock);
    return MPI_SUCCESS;
}

int MPI_File_set_info(MPI_File fh, MPI_Info info)
{
    lyr_file *f = lyr_lookup(fh);
    if (!f) return PMPI_File_set_info(fh, info);
    int err = lyr_hints_apply(f, info);
    if (!err && ((f->coll && homi_coll_set_opts(f->coll, &f->copts)) ||
                 (f->wcoll && homi_coll_set_opts(f->wcoll, &f->copts))))
        err = lyr_err(MPI_ERR_INFO_VALUE, "collective hints out of range");
    if (err) return lyr_fail(fh, err);
    return PMPI_File_set_info(fh, info);
}

int MPI_File_get_info(MPI_File fh, MPI_Info *info_used)
{
    int err = PMPI_File_get_info(fh, info_used);
    lyr_file *f = lyr_lookup(fh);
    if (err || !f) return err;
    lyr_hints_report(f, *info_used);
    return MPI_SUCCESS;
}

int MPI_File_set_atomicity(MPI_File fh, int flag)
{
    int err = PMPI_File_set_atomicity(fh, flag);
    lyr_file *f = lyr_lookup(fh);
    if (!err && f) f->atomic = flag != 0; /* atomic mode: the MPI library reads */
    return err;
}

int MPI_Finalize(void)
{
    lyr_stats_report();
    if (lyr_engine_used()) homi_engine_cache_flush();
    return PMPI_Finalize();
}
