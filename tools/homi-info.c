/* homi-info - prints what HOMI knows: its paths (available or why not), NVMe
 * namespaces, and for each FILE the backing device, O_DIRECT alignment,
 * the extent map with each range's class and the path a read of it would
 * take, and why.  The report itself is homi_info_print (src/core/info.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "homi.h"

static void usage(FILE *o)
{
    fprintf(o, "usage: homi-info [--sync] [--max N] [--hints] FILE...\n"
               "  --sync    write dirty data back before mapping (FIEMAP_FLAG_SYNC)\n"
               "  --max N   print at most N extents per file (default 64, 0 = all)\n"
               "  --hints   list every configuration key with its current value\n"
               "Configuration comes from HOMI_* environment variables (see docs/hints.md).\n");
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
    homi_info_print(eng, NULL, hints ? HOMI_INFO_HINTS : 0, 0, stdout);
    int bad = 0;
    for (int i = optind; i < argc; i++) {
        rc = homi_info_print(eng, argv[i], sync ? HOMI_INFO_SYNC : 0, max, stdout);
        if (rc) {
            fprintf(stderr, "homi-info: %s: %s\n", argv[i],
                    rc == HOMI_ENOTREG || rc == HOMI_EISDIR ? "not a regular file"
                                                            : strerror(errno));
            bad = 1;
        }
    }
    if (optind == argc && !hints) printf("\n(no FILE given: homi-info --help)\n");
    homi_engine_destroy(eng);
    return bad;
}
