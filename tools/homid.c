/* homid.c - the per-node HOMI control-plane daemon (thin main: options and
 * configuration; the server is src/daemon/).  homi-run starts one per node;
 * see docs/homid.md. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/homid.h"
#include "homi.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: homid (--runtime-dir DIR | --socket PATH) [options]\n"
               "  --runtime-dir DIR  per-job directory (created 0700); socket DIR/homid.sock\n"
               "  --socket PATH      listen on PATH instead\n"
               "  --log FILE         append the log to FILE (default stderr)\n"
               "  --stats FILE       write statistics to FILE on exit\n"
               "  --pidfile FILE     write the pid once clients can connect\n"
               "  --path P           homi_path for requests that leave it to homid\n"
               "                     (auto|kernel|passthru)\n"
               "  --hints FILE       'key value' lines; homi_* keys configure the engine,\n"
               "                     other keys (MPI-IO hints) are ignored\n"
               "  --max-clients N    (default 256)    --max-files N  per client (default 1024)\n"
               "Environment HOMI_* variables configure the engine as for any HOMI program.\n"
               "SIGTERM or SIGINT: finish requests in flight, close clients, write stats, exit.\n");
}

static int load_hints(homi_config *cfg, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "homid: %s: %s\n", file, strerror(errno));
        return -1;
    }
    char line[1024];
    int ln = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        char *k = line;
        while (isspace((unsigned char)*k))
            k++;
        if (!*k || *k == '#') continue;
        char *v = k;
        while (*v && !isspace((unsigned char)*v) && *v != '=')
            v++;
        if (*v) *v++ = 0;
        while (isspace((unsigned char)*v) || *v == '=')
            v++;
        char *e = v + strlen(v);
        while (e > v && isspace((unsigned char)e[-1]))
            *--e = 0;
        if (strncmp(k, "homi_", 5) != 0) continue; /* an MPI-IO hint for ROMIO */
        int r = homi_config_set(cfg, k, v);
        if (r) {
            fprintf(stderr, "homid: %s:%d: %s = \"%s\": %s\n", file, ln, k, v, homi_strerror(r));
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"runtime-dir", 1, 0, 'd'},
                                       {"socket", 1, 0, 's'},
                                       {"log", 1, 0, 'l'},
                                       {"stats", 1, 0, 'S'},
                                       {"pidfile", 1, 0, 'p'},
                                       {"path", 1, 0, 'P'},
                                       {"hints", 1, 0, 'H'},
                                       {"max-clients", 1, 0, 'c'},
                                       {"max-files", 1, 0, 'f'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    struct homid_opts o = {.max_clients = 256, .max_files = 1024};
    const char *path = NULL, *hints = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'd': o.runtime_dir = optarg; break;
        case 's': o.socket = optarg; break;
        case 'l': o.log = optarg; break;
        case 'S': o.stats = optarg; break;
        case 'p': o.pidfile = optarg; break;
        case 'P': path = optarg; break;
        case 'H': hints = optarg; break;
        case 'c': o.max_clients = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'f': o.max_files = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (!o.runtime_dir && !o.socket) || !o.max_clients || !o.max_files ||
        o.max_files > 65535) {
        usage(stderr);
        return 2;
    }
    /* homid is the control plane: it never connects to another one */
    unsetenv("HOMI_SOCKET");
    unsetenv("HOMI_RUNTIME_DIR");
    homi_config *cfg = homi_config_new();
    if (!cfg) return 1;
    homi_config_set(cfg, "homi_log_level", "info");
    /* every client's files are open here: use the descriptor limit's hard value */
    struct rlimit rl;
    unsigned maxf = 16384;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < maxf)
            maxf = rl.rlim_cur / 4 > 64 ? (unsigned)(rl.rlim_cur / 4) : 64;
    }
    char mf[16];
    snprintf(mf, sizeof mf, "%u", maxf);
    homi_config_set(cfg, "homi_max_files", mf);
    homi_config_set(cfg, "homi_daemon", "off");
    if (homi_config_load_env(cfg)) return 2;
    if (hints && load_hints(cfg, hints)) return 2;
    if (path && homi_config_set(cfg, "homi_path", path)) {
        fprintf(stderr, "homid: --path %s: expected auto, kernel or passthru\n", path);
        return 2;
    }
    if (o.log) {
        int fd = open(o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            fprintf(stderr, "homid: log %s: %s\n", o.log, strerror(errno));
            return 1;
        }
        dup2(fd, STDERR_FILENO);
        close(fd);
        setvbuf(stderr, NULL, _IOLBF, 0);
    }
    o.cfg = cfg;
    int rc = homid_run(&o);
    homi_config_free(cfg);
    return rc;
}
