/* homi-info - prints what HOMI knows: its paths (available or why not), NVMe
 * namespaces, and for each FILE the backing device, O_DIRECT alignment,
 * the extent map with each range's class and the path a read of it would
 * take, and why. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/engine.h"
#include "cplane/blkdev.h"
#include "cplane/extmap.h"
#include "homi.h"

static void usage(FILE *o)
{
    fprintf(o, "usage: homi-info [--sync] [--max N] [--hints] FILE...\n"
               "  --sync    write dirty data back before mapping (FIEMAP_FLAG_SYNC)\n"
               "  --max N   print at most N extents per file (default 64, 0 = all)\n"
               "  --hints   list every configuration key with its current value\n"
               "Configuration comes from HOMI_* environment variables (see docs/hints.md).\n");
}

static void print_ns(const struct homi_nvme_ns *ns, void *arg)
{
    (void)arg;
    printf("  %-10s %-8s nsid %-3u %-28s lba %4u B  %" PRIu64 " LBAs\n", ns->ns, ns->ctrl, ns->nsid,
           ns->model, ns->lba_size, ns->lba_count);
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

static int show_file(struct homi_engine *eng, const char *path, int sync, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "homi-info: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "homi-info: %s: not a regular file\n", path);
        close(fd);
        return 1;
    }
    char sz[32];
    human((uint64_t)st.st_size, sz, sizeof sz);
    printf("\nfile %s\n  size %" PRIu64 " (%s), %" PRIu64 " blocks allocated\n", path,
           (uint64_t)st.st_size, sz, (uint64_t)st.st_blocks * 512);
    struct homi_blkdev bd;
    if (homi_blkdev_from_fd(fd, &bd) == 0) {
        printf("  device %u:%u %s (%s)%s fs %s, logical block %u B", bd.major, bd.minor,
               bd.name[0] ? bd.name : "-", homi_blk_kind_name(bd.kind),
               bd.is_partition ? " partition of" : "", bd.fstype[0] ? bd.fstype : "?",
               bd.logical_block);
        if (bd.is_partition) printf(", partition of %s at byte %" PRIu64, bd.disk, bd.part_start);
        printf("\n");
        if (bd.kind == HOMI_BLK_NVME)
            printf("  nvme: controller %s, nsid %u, model \"%s\", generic %s\n", bd.ctrl, bd.nsid,
                   bd.model, bd.generic);
        printf("  raw LBA translation: %s\n", bd.why_not[0] ? bd.why_not : "possible");
    }
    homi_file *hf = NULL;
    char ptwhy[200] = "";
    int pt_ok = 0;
    if (homi_open(eng, path, HOMI_RDONLY, &hf) == 0) {
        pt_ok = homi_file_path_status(hf, HOMI_PATH_PASSTHRU, ptwhy, sizeof ptwhy) == 1;
        homi_close(hf);
        printf("  passthrough: %s%s%s\n", pt_ok ? "usable, " : "not usable: ", ptwhy,
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
            printf("  O_DIRECT: offset alignment %u, memory alignment %u\n",
                   stx.stx_dio_offset_align, stx.stx_dio_mem_align);
        else
            printf("  O_DIRECT: not supported by this file system\n");
    }
    struct homi_extmap m = {0};
    int rc = homi_extmap_build(fd, sync, &m);
    close(fd);
    if (rc) {
        printf("  extent map: unavailable (%s): every read goes through the kernel path\n",
               strerror(-rc));
        return 0;
    }
    uint64_t by_class[HOMI_EXT_CLASS_COUNT] = {0};
    for (size_t i = 0; i < m.n; i++)
        by_class[m.ext[i].cls] += m.ext[i].length;
    printf("  extent map: %zu ranges;", m.n);
    for (int c = 0; c < HOMI_EXT_CLASS_COUNT; c++)
        if (by_class[c]) {
            human(by_class[c], sz, sizeof sz);
            printf(" %s %s;", homi_ext_class_name(c), sz);
        }
    printf("\n  %-14s %-14s %-16s %-11s %-8s %s\n", "offset", "length", "physical", "class", "path",
           "why");
    for (size_t i = 0; i < m.n && (!max || i < max); i++) {
        const struct homi_extent *e = &m.ext[i];
        char why[200], phys[32];
        const char *p = route(eng, &bd, pt_ok, e, why, sizeof why);
        if (e->cls == HOMI_EXT_HOLE)
            snprintf(phys, sizeof phys, "-");
        else
            snprintf(phys, sizeof phys, "%" PRIu64, e->physical + bd.part_start);
        printf("  %-14" PRIu64 " %-14" PRIu64 " %-16s %-11s %-8s %s\n", e->logical, e->length, phys,
               homi_ext_class_name(e->cls), p, why);
    }
    if (max && m.n > max) printf("  ... %zu more ranges (--max 0 shows all)\n", m.n - max);
    homi_extmap_free(&m);
    return 0;
}

int main(int argc, char **argv)
{
    int sync = 0, hints = 0;
    size_t max = 64;
    static const struct option lo[] = {{"sync", no_argument, 0, 's'},
                                       {"max", required_argument, 0, 'm'},
                                       {"hints", no_argument, 0, 'H'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "sm:Hh", lo, NULL)) != -1) {
        switch (c) {
        case 's': sync = 1; break;
        case 'm': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0) {
                fprintf(stderr, "homi-info: --max wants a number >= 0, got '%s'\n", optarg);
                return 2;
            }
            max = (size_t)v;
            break;
        }
        case 'H': hints = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    homi_engine *eng;
    int rc = homi_engine_create(NULL, &eng);
    if (rc) {
        fprintf(stderr, "homi-info: cannot start engine: %s\n", homi_strerror(rc));
        return 1;
    }
    printf("HOMI %s\npaths:\n", homi_version());
    for (int p = 0; p < HOMI_PATH_HOLE; p++)
        printf("  %-9s %s%s\n", homi_path_name(p), eng->paths[p].ok ? "available" : "unavailable: ",
               eng->paths[p].ok ? "" : eng->paths[p].why);
    printf("NVMe namespaces:\n");
    int n = homi_nvme_scan(print_ns, NULL);
    if (n == 0) printf("  none found\n");
    if (n < 0) printf("  scan failed: %s\n", strerror(-n));
    if (hints) {
        printf("configuration:\n");
        homi_config *cfg = homi_config_new();
        if (cfg) {
            *cfg = eng->cfg;
            for (unsigned i = 0; homi_config_key(i); i++) {
                char v[64];
                homi_config_get(cfg, homi_config_key(i), v, sizeof v);
                printf("  %-20s %-10s %s\n", homi_config_key(i), v,
                       homi_config_help(homi_config_key(i)));
            }
            homi_config_free(cfg);
        }
    }
    int bad = 0;
    for (int i = optind; i < argc; i++)
        bad |= show_file(eng, argv[i], sync, max);
    if (optind == argc && !hints) printf("\n(no FILE given: homi-info --help)\n");
    homi_engine_destroy(eng);
    return bad;
}
