/* homid.c - the HOMI control-plane daemon (thin main: options, limits and
 * configuration; the server is src/daemon/): the node service for every
 * local user (--node, systemd units in packaging/), or a job's own daemon
 * that homi-run starts; see docs/homid.md. */
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
    fprintf(f, "usage: homid (--runtime-dir DIR | --socket PATH | --node) [options]\n"
               "  --runtime-dir DIR  per-job directory (created 0700); socket DIR/homid.sock\n"
               "  --socket PATH      listen on PATH instead\n"
               "  --node             the node service: every local user is served (directory\n"
               "                     0755, socket 0666; default directory /run/homi); a socket\n"
               "                     handed over by systemd (LISTEN_FDS) is used when present\n"
               "  --user-clients N   clients per uid (default 64 with --node, else none)\n"
               "  --user-shm MiB     shared-region memory per uid (default 4096 with --node)\n"
               "  --job-shm MiB      per job (default none)\n"
               "  --node-shm MiB     all clients (default a quarter of the memory, <= 32768)\n"
               "  --inflight MiB     request bytes in flight, shared by weight (default 64 with\n"
               "                     --node, else none)\n"
               "  --client-timeout S a client leaving completions unread S s is dropped (120)\n"
               "  --gpu-queues N     GPU device queues homid serves for all clients (default 32;\n"
               "                     0: none)   --user-gpu-queues N  per uid (default 8; 0: no\n"
               "                     limit)\n"
               "  --user-qpairs N    delegated queue pairs a uid's clients may hold for\n"
               "                     themselves (default 0: no limit but the controller's)\n"
               "  --job-qpairs N     per job (default 0: no limit)\n"
               "  --idle-exit S      exit S s after the last client left (or after start when\n"
               "                     none came): a job's homid started on demand on a node\n"
               "  --fast-max KiB     a request up to this size from a client with nothing else\n"
               "                     in flight is read at once on that client's own thread,\n"
               "                     not queued in the engine (default 64; 0: never)\n"
               "  --log FILE         append the log to FILE (default stderr)\n"
               "  --stats FILE       write statistics to FILE on exit\n"
               "  --pidfile FILE     write the pid once clients can connect\n"
               "  --path P           homi_path for requests that leave it to homid\n"
               "                     (auto|kernel|passthru|delegated)\n"
               "  --delegate BDF     own the NVMe controller at PCI address BDF (bound to\n"
               "                     vfio-pci) and serve the delegated path through its queue\n"
               "                     pairs (homi_delegate; run as root or as the user that\n"
               "                     owns its /dev/vfio group)\n"
               "  --delegate-vf CTRL[:VF]  make SR-IOV virtual function VF (default 1) of the\n"
               "                     PF whose kernel controller is CTRL (nvme0) with\n"
               "                     homi_vf_queues I/O queue pairs (3) and homi_vf_interrupts\n"
               "                     (1), bind it to vfio-pci and own it as --delegate (root)\n"
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
    static const struct option lo[] = {{"runtime-dir", 1, 0, 'd'},  {"socket", 1, 0, 's'},
                                       {"log", 1, 0, 'l'},          {"stats", 1, 0, 'S'},
                                       {"pidfile", 1, 0, 'p'},      {"path", 1, 0, 'P'},
                                       {"hints", 1, 0, 'H'},        {"max-clients", 1, 0, 'c'},
                                       {"max-files", 1, 0, 'f'},    {"node", 0, 0, 'N'},
                                       {"fast-max", 1, 0, 'F'},     {"idle-exit", 1, 0, 'X'},
                                       {"user-clients", 1, 0, 'u'}, {"user-shm", 1, 0, 'U'},
                                       {"job-shm", 1, 0, 'J'},      {"node-shm", 1, 0, 'M'},
                                       {"inflight", 1, 0, 'I'},     {"client-timeout", 1, 0, 'T'},
                                       {"delegate", 1, 0, 'D'},     {"delegate-vf", 1, 0, 'V'},
                                       {"gpu-queues", 1, 0, 'G'},   {"user-gpu-queues", 1, 0, 'g'},
                                       {"user-qpairs", 1, 0, 'q'},  {"job-qpairs", 1, 0, 'j'},
                                       {"help", 0, 0, 'h'},         {0, 0, 0, 0}};
    struct homid_opts o = {.max_clients = 256, .max_files = 1024, .fast_max = 64u << 10};
    const char *path = NULL, *hints = NULL, *delegate = NULL, *vf = NULL;
    long long lim[10] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}; /* u U J M I T G g q j */
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'd': o.runtime_dir = optarg; break;
        case 's': o.socket = optarg; break;
        case 'l': o.log = optarg; break;
        case 'S': o.stats = optarg; break;
        case 'p': o.pidfile = optarg; break;
        case 'P': path = optarg; break;
        case 'D': delegate = optarg; break;
        case 'V': vf = optarg; break;
        case 'H': hints = optarg; break;
        case 'c': o.max_clients = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'f': o.max_files = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'N': o.node = 1; break;
        case 'X': {
            char *e;
            unsigned long v = strtoul(optarg, &e, 10);
            if (*e || !*optarg || v > 86400) {
                fprintf(stderr, "homid: --idle-exit %s: expected 0 to 86400 (s)\n", optarg);
                bad = 1;
            }
            o.idle_exit = (unsigned)v;
            break;
        }
        case 'F': {
            char *e;
            unsigned long v = strtoul(optarg, &e, 10);
            if (*e || v > (HOMID_SLOT_MAX >> 10)) {
                fprintf(stderr, "homid: --fast-max %s: expected 0 to %u (KiB)\n", optarg,
                        HOMID_SLOT_MAX >> 10);
                bad = 1;
            }
            o.fast_max = (unsigned)(v << 10);
            break;
        }
        case 'u':
        case 'U':
        case 'J':
        case 'M':
        case 'I':
        case 'T':
        case 'G':
        case 'g':
        case 'q':
        case 'j': {
            char *e;
            long long v = strtoll(optarg, &e, 10);
            if (*e || v < 0 || v > (1ll << 40)) {
                fprintf(stderr, "homid: %s: expected a number >= 0\n", optarg);
                bad = 1;
            }
            lim[strchr("uUJMITGgqj", c) - "uUJMITGgqj"] = v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (o.node && !o.runtime_dir && !o.socket) o.runtime_dir = "/run/homi";
    if (bad || optind != argc || (!o.runtime_dir && !o.socket) || !o.max_clients || !o.max_files ||
        o.max_files > 65535) {
        usage(stderr);
        return 2;
    }
    /* limits: a shared node's defaults, or none for a job's own daemon */
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    uint64_t mem = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : (8ull << 30);
    uint64_t node_shm = mem / 4 < (32ull << 30) ? mem / 4 : (32ull << 30);
    o.lim = (struct homid_limits){.user_clients = o.node ? 64 : 0,
                                  .user_shm = o.node ? 4096ull << 20 : 0,
                                  .job_shm = 0,
                                  .node_shm = node_shm,
                                  .inflight = o.node ? 64ull << 20 : 0,
                                  .client_timeout = 120,
                                  .gpu_queues = 32,
                                  .user_gpu_queues = 8};
    if (lim[0] >= 0) o.lim.user_clients = (unsigned)lim[0];
    if (lim[1] >= 0) o.lim.user_shm = (uint64_t)lim[1] << 20;
    if (lim[2] >= 0) o.lim.job_shm = (uint64_t)lim[2] << 20;
    if (lim[3] >= 0) o.lim.node_shm = (uint64_t)lim[3] << 20;
    if (lim[4] >= 0) o.lim.inflight = (uint64_t)lim[4] << 20;
    if (lim[5] >= 0) o.lim.client_timeout = (unsigned)lim[5];
    if (lim[6] >= 0) o.lim.gpu_queues = (unsigned)lim[6];
    if (lim[7] >= 0) o.lim.user_gpu_queues = (unsigned)lim[7];
    if (lim[8] >= 0) o.lim.user_qpairs = (unsigned)lim[8];
    if (lim[9] >= 0) o.lim.job_qpairs = (unsigned)lim[9];
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
    if (delegate && homi_config_set(cfg, "homi_delegate", delegate)) {
        fprintf(stderr, "homid: --delegate %s: expected a PCI address such as 0000:00:05.0\n",
                delegate);
        return 2;
    }
    if (path && homi_config_set(cfg, "homi_path", path)) {
        fprintf(stderr, "homid: --path %s: expected auto, kernel, passthru or delegated\n", path);
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
    if (vf) {
        char why[300] = "";
        if (delegate) {
            fprintf(stderr, "homid: --delegate and --delegate-vf: one controller only\n");
            return 2;
        }
        int vrc = homid_vf_setup(cfg, vf, why, sizeof why);
        if (vrc) {
            fprintf(stderr, "homid: --delegate-vf %s: %s (%s)\n", vf, homi_strerror(vrc), why);
            return 1;
        }
    }
    o.cfg = cfg;
    int rc = homid_run(&o);
    homi_config_free(cfg);
    return rc;
}
