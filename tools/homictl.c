/* homictl.c - an operator's view of a running homid: sends one command over
 * homid's socket and prints the reply (list clients, users, jobs, limits and
 * free resources; change weights and limits; drop a client; drain; stop).
 * The commands themselves are homid's (src/daemon/admin.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/homid_client.h"
#include "cplane/homid_proto.h"
#include "homi.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: homictl [--socket PATH] COMMAND...\n"
            "  ping                  is homid there (version, node, mode)\n"
            "  list                  clients (pid, uid, job, slots, files, weight, bytes in\n"
            "                        flight, requests, refusals, bytes), users, jobs, limits,\n"
            "                        free resources (others' clients: root or homid's uid only)\n"
            "  weight PID W          share of the in-flight budget of one client (1-1000)\n"
            "  weight uid UID W      of every client of a user, now and later\n"
            "  limit KEY VALUE       user-clients N, user-shm MiB, job-shm MiB, node-shm MiB,\n"
            "                        inflight MiB, client-timeout S (0: no limit)\n"
            "  drop PID              close a client now; everything it held is reclaimed\n"
            "  drain                 no new clients; homid exits after the last one\n"
            "  stop                  as SIGTERM\n"
            "Socket: --socket, else $HOMI_SOCKET, else $HOMI_RUNTIME_DIR/homid.sock, else\n"
            "/run/homi/homid.sock (the node service).  Exit status: 0 done, 1 refused or\n"
            "failed (the reason is printed), 2 usage, 3 no homid answers.\n");
}

int main(int argc, char **argv)
{
    const char *sock = NULL;
    int i = 1;
    if (i < argc && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (i + 1 < argc && !strcmp(argv[i], "--socket")) {
        sock = argv[i + 1];
        i += 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    char cmd[HOMID_PAYLOAD_MAX + 1] = "";
    for (size_t len = 0; i < argc; i++) {
        int n = snprintf(cmd + len, sizeof cmd - len, "%s%s", len ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof cmd - len) {
            fprintf(stderr, "homictl: command too long\n");
            return 2;
        }
        len += (size_t)n;
    }
    /* the socket as libhomi finds it ("%h": this node's name), else the
     * node service's */
    char path[108];
    if (sock) {
        if (homi_expand_node(sock, path, sizeof path)) snprintf(path, sizeof path, "%s", sock);
    } else if (!homi_client_socket_path(path, sizeof path)) {
        snprintf(path, sizeof path, "/run/homi/homid.sock");
    }
    int fd = homid_connect(path);
    if (fd < 0) {
        fprintf(stderr, "homictl: no homid answers at %s: %m\n", path);
        return 3;
    }
    if (homid_send(fd, HOMID_ADMIN, 1, cmd, (uint32_t)strlen(cmd), NULL, 0)) {
        fprintf(stderr, "homictl: send to %s failed\n", path);
        return 3;
    }
    char buf[HOMID_RECV_CAP];
    int fds[HOMID_MAX_FDS];
    unsigned nfds = 0;
    long n = homid_recv(fd, buf, sizeof buf, fds, &nfds, 30000);
    struct homid_msg m;
    char why[200];
    if (n <= 0 || homid_parse(buf, (size_t)n, nfds, &m, why, sizeof why)) {
        fprintf(stderr, "homictl: no usable reply from %s (%s)\n", path,
                n <= 0 ? (n ? homi_strerror((int)n) : "connection closed") : why);
        return 3;
    }
    if (m.h.type == HOMID_ERROR) {
        fprintf(stderr, "homictl: %s: %s\n", cmd, m.u.error.text);
        return 1;
    }
    if (m.h.type != HOMID_ADMIN_OK) {
        fprintf(stderr, "homictl: unexpected reply type %u\n", m.h.type);
        return 3;
    }
    struct stat st;
    uint64_t len = m.u.admin_ok.len;
    if (fstat(fds[0], &st) || (uint64_t)st.st_size < len) {
        fprintf(stderr, "homictl: reply of bad size\n");
        return 3;
    }
    if (len) {
        char *t = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fds[0], 0);
        if (t == MAP_FAILED) {
            fprintf(stderr, "homictl: mmap reply: %m\n");
            return 3;
        }
        fwrite(t, 1, len, stdout);
        munmap(t, len);
    }
    close(fds[0]);
    close(fd);
    return 0;
}
