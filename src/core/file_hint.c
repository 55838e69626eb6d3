/* file_hint.c - per-file hints (homi_file_set_hint) and whether a file can
 * be read on a given path (homi_file_path_status). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/engine.h"

int homi_file_set_hint(homi_file *handle, const char *key, const char *value)
{
    struct homi_fh *f = homi_file_lookup(handle);
    if (!f) return HOMI_EBADF;
    if (!key || !value) return HOMI_EINVAL;
    if (strcasecmp(key, "homi_path") != 0) return HOMI_EHINT;
    int p;
    if (homi_parse_path(value, &p)) return HOMI_EHINTVAL;
    f->path_pref = p;
    return HOMI_OK;
}

int homi_file_path_status(homi_file *handle, int path, char *why, size_t whylen)
{
    struct homi_fh *f = homi_file_lookup(handle);
    if (!f) return HOMI_EBADF;
    if (!HOMI_PATH_IS_IO(path)) return HOMI_EINVAL;
    char dummy[8];
    if (!why || !whylen) {
        why = dummy;
        whylen = sizeof dummy;
    }
    const struct homi_path_inst *pi = &f->eng->paths[path];
    if (!pi->ok) {
        snprintf(why, whylen, "%s", pi->why);
        return 0;
    }
    if (pi->ops->file_status) return pi->ops->file_status(pi->state, f, why, whylen);
    why[0] = 0;
    return 1;
}
