/* info.c - the report homi-info prints (homi_info_print): the engine's
 * paths, NVMe namespaces and configuration, and for a file its backing
 * device, O_DIRECT alignment and extent map with the path each range takes
 * and why.  Shared by tools/homi-info and the Python module (homi.info). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/engine.h"
#include "core/errors.h"
#include "cplane/blkdev.h"
#include "cplane/extmap.h"
#include "homi.h"

static void print_ns(const struct homi_nvme_ns *ns, void *arg)
{
    FILE *o = arg;
    fprintf(o, "  %-10s %-8s nsid %-3u %-28s lba %4u B  %" PRIu64 " LBAs\n", ns->ns, ns->ctrl,
            ns->nsid, ns->model, ns->lba_size, ns->lba_count);
}

static void human(uint64_t v, char *buf, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    double d = (double)v;
    while (d >= 1024 && i < 4) {
        d /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", d, u[i]);
}

/* The path a read of extent e would take and why. */
static const char *route(const struct homi_engine *eng, const struct homi_blkdev *bd, int pt_ok,
                         const struct homi_extent *e, char *why, size_t n)
{
    if (e->cls == HOMI_EXT_HOLE) {
        if (!eng->cfg.hole_skip) {
            snprintf(why, n, "hole read through the file system (homi_hole_skip=off)");
            return "kernel";
        }
        if (e->length < eng->cfg.min_hole) {
            snprintf(why, n, "hole smaller than homi_min_hole: read");
            return "kernel";
        }
        snprintf(why, n, "hole: zeros without I/O");
        return "hole";
    }
    if (e->cls != HOMI_EXT_DATA) {
        snprintf(why, n, "%s extent: not safe to read raw", homi_ext_class_name(e->cls));
        return "kernel";
    }
    if (bd->why_not[0]) {
        snprintf(why, n, "%s", bd->why_not);
        return "kernel";
    }
    if (!pt_ok) {
        snprintf(why, n, "passthrough not usable for this file");
        return "kernel";
    }
    snprintf(why, n, "raw NVMe read from LBAs when passthrough is chosen");
    return "passthru";
}

static int info_file(FILE *o, struct homi_engine *eng, const char *path, int sync, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return homi_err_from_errno(errno); /* errno kept for the caller */
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? HOMI_EISDIR : HOMI_ENOTREG;
    }
    char sz[32];
    human((uint64_t)st.st_size, sz, sizeof sz);
    fprintf(o, "\nfile %s\n  size %" PRIu64 " (%s), %" PRIu64 " blocks allocated\n", path,
            (uint64_t)st.st_size, sz, (uint64_t)st.st_blocks * 512);
    struct homi_blkdev bd;
    if (homi_blkdev_from_fd(fd, &bd) == 0) {
        fprintf(o, "  device %u:%u %s (%s)%s fs %s, logical block %u B", bd.major, bd.minor,
                bd.name[0] ? bd.name : "-", homi_blk_kind_name(bd.kind),
                bd.is_partition ? " partition of" : "", bd.fstype[0] ? bd.fstype : "?",
                bd.logical_block);
        if (bd.is_partition)
            fprintf(o, ", partition of %s at byte %" PRIu64, bd.disk, bd.part_start);
        fprintf(o, "\n");
        if (bd.kind == HOMI_BLK_NVME)
            fprintf(o, "  nvme: controller %s, nsid %u, model \"%s\", generic %s\n", bd.ctrl,
                    bd.nsid, bd.model, bd.generic);
        fprintf(o, "  raw LBA translation: %s\n", bd.why_not[0] ? bd.why_not : "possible");
    }
    homi_file *hf = NULL;
    char ptwhy[200] = "";
    int pt_ok = 0;
    if (homi_open(eng, path, HOMI_RDONLY, &hf) == 0) {
        pt_ok = homi_file_path_status(hf, HOMI_PATH_PASSTHRU, ptwhy, sizeof ptwhy) == 1;
        homi_close(hf);
        fprintf(o, "  passthrough: %s%s%s\n", pt_ok ? "usable, " : "not usable: ", ptwhy,
                pt_ok ? (eng->cfg.path == HOMI_PATH_PASSTHRU ? " (homi_path=passthru)"
                         : eng->cfg.path == HOMI_PATH_AUTO
                             ? (eng->cfg.direct ? " (auto: large reads)"
                                                : " (auto picks it only with homi_direct=on)")
                             : " (homi_path selects another path)")
                      : "");
    }
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN)) {
        if (stx.stx_dio_offset_align)
            fprintf(o, "  O_DIRECT: offset alignment %u, memory alignment %u\n",
                    stx.stx_dio_offset_align, stx.stx_dio_mem_align);
        else
            fprintf(o, "  O_DIRECT: not supported by this file system\n");
    }
    struct homi_extmap m = {0};
    int rc = homi_extmap_build(fd, sync, &m);
    close(fd);
    if (rc) {
        fprintf(o, "  extent map: unavailable (%s): every read goes through the kernel path\n",
                strerror(-rc));
        return 0;
    }
    uint64_t by_class[HOMI_EXT_CLASS_COUNT] = {0};
    for (size_t i = 0; i < m.n; i++)
        by_class[m.ext[i].cls] += m.ext[i].length;
    fprintf(o, "  extent map: %zu ranges;", m.n);
    for (int c = 0; c < HOMI_EXT_CLASS_COUNT; c++)
        if (by_class[c]) {
            human(by_class[c], sz, sizeof sz);
            fprintf(o, " %s %s;", homi_ext_class_name(c), sz);
        }
    fprintf(o, "\n  %-14s %-14s %-16s %-11s %-8s %s\n", "offset", "length", "physical", "class",
            "path", "why");
    for (size_t i = 0; i < m.n && (!max || i < max); i++) {
        const struct homi_extent *e = &m.ext[i];
        char why[200], phys[32];
        const char *p = route(eng, &bd, pt_ok, e, why, sizeof why);
        if (e->cls == HOMI_EXT_HOLE)
            snprintf(phys, sizeof phys, "-");
        else
            snprintf(phys, sizeof phys, "%" PRIu64, e->physical + bd.part_start);
        fprintf(o, "  %-14" PRIu64 " %-14" PRIu64 " %-16s %-11s %-8s %s\n", e->logical, e->length,
                phys, homi_ext_class_name(e->cls), p, why);
    }
    if (max && m.n > max) fprintf(o, "  ... %zu more ranges (--max 0 shows all)\n", m.n - max);
    homi_extmap_free(&m);
    return 0;
}

static void info_engine(FILE *o, struct homi_engine *eng, int hints)
{
    fprintf(o, "HOMI %s\npaths:\n", homi_version());
    for (int p = 0; p < HOMI_PATH_COUNT; p++)
        if (HOMI_PATH_IS_IO(p))
            fprintf(o, "  %-9s %s%s\n", homi_path_name(p),
                    eng->paths[p].ok ? "available" : "unavailable: ",
                    eng->paths[p].ok ? "" : eng->paths[p].why);
    fprintf(o, "NVMe namespaces:\n");
    int n = homi_nvme_scan(print_ns, o);
    if (n == 0) fprintf(o, "  none found\n");
    if (n < 0) fprintf(o, "  scan failed: %s\n", strerror(-n));
    if (hints) {
        fprintf(o, "configuration:\n");
        for (unsigned i = 0; homi_config_key(i); i++) {
            char v[64];
            homi_config_get(&eng->cfg, homi_config_key(i), v, sizeof v);
            fprintf(o, "  %-20s %-10s %s\n", homi_config_key(i), v,
                    homi_config_help(homi_config_key(i)));
        }
    }
}

int homi_info_print(homi_engine *eng, const char *path, unsigned flags, size_t max_extents,
                    void *file)
{
    FILE *o = file;
    if (!eng || !o) return HOMI_EINVAL;
    if (!path) {
        info_engine(o, eng, !!(flags & HOMI_INFO_HINTS));
        return HOMI_OK;
    }
    int rc = info_file(o, eng, path, !!(flags & HOMI_INFO_SYNC), max_extents);
    fflush(o);
    return rc;
}
