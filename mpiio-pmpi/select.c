/* select.c - which files the layer serves, as the ROMIO driver selects
 * them: the hint homi=enable, the homi: file-name prefix, and for programs
 * that pass no hints HOMI_MPIIO=enable (every file) or
 * HOMI_MPIIO_PATHS=/dir1:/dir2 (files under those directories). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "layer.h"

static int yes(const char *v)
{
    return !strcasecmp(v, "enable") || !strcasecmp(v, "true") || !strcmp(v, "1");
}

static int no(const char *v)
{
    return !strcasecmp(v, "disable") || !strcasecmp(v, "false") || !strcmp(v, "0");
}

/* is path (absolute or relative to the working directory) under dir? */
static int under(const char *path, const char *dir, size_t dlen)
{
    char abs[4096];
    if (path[0] != '/') {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd)) return 0;
        snprintf(abs, sizeof abs, "%s/%s", cwd, path);
        path = abs;
    }
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    if (dlen == 1 && dir[0] == '/') return 1;
    return !strncmp(path, dir, dlen) && path[dlen] == '/';
}

static int env_selects(const char *path)
{
    const char *all = getenv("HOMI_MPIIO");
    if (all && yes(all)) return 1;
    const char *dirs = getenv("HOMI_MPIIO_PATHS");
    while (dirs && *dirs) {
        const char *colon = strchr(dirs, ':');
        size_t len = colon ? (size_t)(colon - dirs) : strlen(dirs);
        if (len && under(path, dirs, len)) return 1;
        dirs = colon ? colon + 1 : NULL;
    }
    return 0;
}

int lyr_selected(const char *name, MPI_Info info, const char **stripped, int *err)
{
    *stripped = name;
    *err = MPI_SUCCESS;
    int sel = 0;
    if (!strncmp(name, "homi:", 5)) {
        *stripped = name + 5;
        sel = LYR_SEL_ASKED;
    }
    if (info != MPI_INFO_NULL) {
        char v[MPI_MAX_INFO_VAL + 1];
        int flag = 0;
        PMPI_Info_get(info, "homi", MPI_MAX_INFO_VAL, v, &flag);
        if (flag) {
            if (yes(v)) return LYR_SEL_ASKED;
            if (no(v)) return sel; /* the prefix still selects, as in ROMIO */
            *err = lyr_err(MPI_ERR_INFO_VALUE, "hint homi=\"%s\": expected enable or disable", v);
            return LYR_SEL_ASKED;
        }
    }
    if (sel) return LYR_SEL_ASKED;
    return env_selects(lyr_plain_path(*stripped)) ? LYR_SEL_ENV : 0;
}

const char *lyr_plain_path(const char *name)
{
    const char *c = strchr(name, ':');
    const char *slash = strchr(name, '/');
    if (!c || c - name < 2 || (slash && slash < c)) return name;
    for (const char *p = name; p < c; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_')) return name;
    return c + 1;
}
