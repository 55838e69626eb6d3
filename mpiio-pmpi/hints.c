/* hints.c - the layer's hints: every homi_* key is a libhomi engine key
 * (checked by homi_config_set) or a collective-engine key (parsed by
 * src/coll/coll_hints.c, as for the ROMIO driver),
 * plus ROMIO's cb_buffer_size, cb_nodes, romio_cb_read and romio_cb_write for the
 * collective engine; an unknown homi_* key is MPI_ERR_INFO_KEY, a bad
 * value MPI_ERR_INFO_VALUE naming the hint.  MPI_File_get_info reports the
 * effective values, as ad_homi does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layer.h"

#define BAD(k, v, expect) lyr_err(MPI_ERR_INFO_VALUE, "hint %s=\"%s\": expected %s", k, v, expect)

static int apply(lyr_file *f, const char *k, const char *v)
{
    homi_coll_opts *o = &f->copts;
    int64_t n;
    if (!strcmp(k, "cb_buffer_size")) {
        if (homi_coll_parse_size(v, &n) || n < 4096 || n > (1 << 30))
            return BAD(k, v, "4096..1073741824 (HOMI's collective engine)");
        o->cb_buffer_size = n;
    } else if (!strcmp(k, "cb_nodes")) {
        if (homi_coll_parse_size(v, &n) || n < 1 || n > (1 << 20))
            return BAD(k, v, "a positive rank count");
        o->cb_nodes = (int)n;
        f->cb_nodes_set = 1;
    } else if (!strcmp(k, "romio_cb_read")) {
        if (homi_coll_parse_tristate(v, &o->cb_read))
            return BAD(k, v, "enable, disable or automatic");
    } else if (!strcmp(k, "romio_cb_write")) {
        if (homi_coll_parse_tristate(v, &o->cb_write))
            return BAD(k, v, "enable, disable or automatic");
    } else if (!strncmp(k, "homi_", 5)) {
        char why[96];
        int r = homi_coll_hint_set(o, k, v, why, sizeof why);
        if (r < 0) return lyr_err(MPI_ERR_INFO_VALUE, "hint %s=\"%s\": %s", k, v, why);
        if (r == 0) {
            int rc = homi_config_set(f->cfg, k, v);
            if (rc == HOMI_EHINT)
                return lyr_err(MPI_ERR_INFO_KEY, "unknown HOMI hint \"%s\"; see docs/hints.md", k);
            if (rc)
                return lyr_err(MPI_ERR_INFO_VALUE, "hint %s=\"%s\": %s; see docs/hints.md", k, v,
                               homi_strerror(rc));
        }
    }
    return MPI_SUCCESS;
}

int lyr_hints_apply(lyr_file *f, MPI_Info info)
{
    int nkeys = 0, err = MPI_SUCCESS;
    if (info == MPI_INFO_NULL) return MPI_SUCCESS;
    PMPI_Info_get_nkeys(info, &nkeys);
    for (int i = 0; i < nkeys && err == MPI_SUCCESS; i++) {
        char key[MPI_MAX_INFO_KEY + 1], val[MPI_MAX_INFO_VAL + 1];
        int flag = 0;
        PMPI_Info_get_nthkey(info, i, key);
        PMPI_Info_get(info, key, MPI_MAX_INFO_VAL, val, &flag);
        if (flag) err = apply(f, key, val);
    }
    return err;
}

void lyr_hints_report(const lyr_file *f, MPI_Info info)
{
    char val[MPI_MAX_INFO_VAL + 1];
    const char *k;
    const homi_coll_opts *o = &f->copts;
    PMPI_Info_set(info, "homi", "enable");
    PMPI_Info_set(info, "homi_mpiio", "pmpi"); /* served by this layer */
    for (unsigned i = 0; (k = homi_config_key(i)); i++)
        if (homi_config_get(f->cfg, k, val, sizeof val) == HOMI_OK) PMPI_Info_set(info, k, val);
    snprintf(val, sizeof val, "%lld", (long long)o->cb_buffer_size);
    PMPI_Info_set(info, "cb_buffer_size", val);
    if (f->cb_nodes_set) {
        int np;
        PMPI_Comm_size(f->comm, &np);
        snprintf(val, sizeof val, "%d", o->cb_nodes < np ? o->cb_nodes : np);
        PMPI_Info_set(info, "cb_nodes", val);
    }
    PMPI_Info_set(info, "romio_cb_read", homi_coll_tristate_name(o->cb_read));
    PMPI_Info_set(info, "romio_cb_write", homi_coll_tristate_name(o->cb_write));
    for (unsigned i = 0; (k = homi_coll_hint_key(i)); i++)
        if (homi_coll_hint_get(o, k, val, sizeof val) == 0) PMPI_Info_set(info, k, val);
    /* what HOMI has served on this handle (proof in tests, homi-info) */
    homi_stats s;
    uint64_t bytes = 0;
    if (f->file && homi_file_stats(f->file, &s) == HOMI_OK)
        for (int p = 0; p < HOMI_PATH_COUNT; p++)
            bytes += s.path[p].bytes;
    snprintf(val, sizeof val, "%llu", (unsigned long long)bytes);
    PMPI_Info_set(info, "homi_served_bytes", val);
    bytes = f->wfile && homi_file_stats(f->wfile, &s) == HOMI_OK ? s.write_bytes : 0;
    snprintf(val, sizeof val, "%llu", (unsigned long long)bytes);
    PMPI_Info_set(info, "homi_written_bytes", val);
}
