/* homid_autostart.c - a job's homid started on demand on a node where none
 * answers: when HOMI_HOMID_AUTOSTART names the homid binary (homi-run sets
 * it for jobs on several nodes), the first process of the node to find no
 * homid at its socket starts one, detached, in the socket's runtime
 * directory (made 0700), with --idle-exit so it goes when the job's clients
 * are gone; the node's other processes wait for it (a lock file beside the
 * runtime directory).  Log, statistics and pid file go beside it too. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/homid_client.h"
#include "core/clock.h"
#include "core/log.h"
#include "cplane/homid_proto.h"
#include "homi.h"

static int answers(const char *sock)
{
    int fd = homid_connect(sock);
    if (fd >= 0) close(fd);
    return fd >= 0;
}

/* mkdir -p with mode 0700 for what it creates */
static int mkdirs(const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0700) && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
}

static void start_detached(const char *bin, const char *run, const char *base, unsigned idle)
{
    pid_t c = fork();
    if (c < 0) return;
    if (c > 0) {
        waitpid(c, NULL, 0); /* the intermediate child exits at once */
        return;
    }
    setsid();
    if (fork() != 0) _exit(0);
    /* the daemon: none of the parent's descriptors (MPI's sockets), no
     * preloaded MPI-IO layer */
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
    }
    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536) maxfd = 65536;
    for (int fd = 3; fd < maxfd; fd++)
        close(fd);
    unsetenv("LD_PRELOAD");
    char log[PATH_MAX + 16], stats[PATH_MAX + 16], pid[PATH_MAX + 16], idl[16];
    snprintf(log, sizeof log, "%s/homid.log", base);
    snprintf(stats, sizeof stats, "%s/homid.stats", base);
    snprintf(pid, sizeof pid, "%s/homid.pid", base);
    snprintf(idl, sizeof idl, "%u", idle);
    execl(bin, bin, "--runtime-dir", run, "--log", log, "--stats", stats, "--pidfile", pid,
          "--idle-exit", idl, (char *)NULL);
    _exit(127);
}

int homi_client_autostart(const char *sock, char *why, size_t whylen)
{
    const char *bin = getenv("HOMI_HOMID_AUTOSTART");
    if (!bin || !*bin) return HOMI_ENOENT;
    char run[PATH_MAX], base[PATH_MAX];
    snprintf(run, sizeof run, "%s", sock);
    char *sl = strrchr(run, '/');
    if (!sl || sl == run) {
        snprintf(why, whylen, "autostart: socket %s has no runtime directory", sock);
        return HOMI_EINVAL;
    }
    *sl = 0;
    snprintf(base, sizeof base, "%s", run);
    sl = strrchr(base, '/');
    if (sl && sl != base) *sl = 0;
    if (mkdirs(base)) {
        snprintf(why, whylen, "autostart: mkdir %s: %s", base, strerror(errno));
        return HOMI_ESYS;
    }
    char lockp[PATH_MAX + 32];
    snprintf(lockp, sizeof lockp, "%s/homid-autostart.lock", base);
    int lk = open(lockp, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (lk < 0) {
        snprintf(why, whylen, "autostart: %s: %s", lockp, strerror(errno));
        return HOMI_ESYS;
    }
    uint64_t t0 = homi_now_ns();
    int locked = 0;
    while (!(locked = flock(lk, LOCK_EX | LOCK_NB) == 0) && homi_now_ns() - t0 < 15000000000ull)
        poll(NULL, 0, 20);
    int rc = HOMI_OK;
    if (!answers(sock)) { /* the first on the node: start it */
        const char *idle_s = getenv("HOMI_HOMID_IDLE_EXIT");
        unsigned idle = idle_s && *idle_s ? (unsigned)strtoul(idle_s, NULL, 10) : 10;
        homi_log(HOMI_LOG_INFO, "no homid at %s: starting %s for this node", sock, bin);
        start_detached(bin, run, base, idle ? idle : 10);
        uint64_t t1 = homi_now_ns();
        while (!answers(sock) && homi_now_ns() - t1 < 10000000000ull)
            poll(NULL, 0, 20);
        if (!answers(sock)) {
            snprintf(why, whylen,
                     "autostart: %s did not answer at %s within 10 s (log %s/homid.log)", bin, sock,
                     base);
            rc = HOMI_ETIMEDOUT;
        }
    }
    if (locked) flock(lk, LOCK_UN);
    close(lk);
    return rc;
}
