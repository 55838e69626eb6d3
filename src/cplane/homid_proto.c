/* homid_proto.c - homid's wire protocol: parsing and checking every message,
 * request and completion a peer sends (pure functions, fuzzed by
 * tests/fuzz/fuzz_proto.c), the shared-region layout, SEQPACKET send and
 * receive with SCM_RIGHTS, statistics on the wire, and node names. */
#include "cplane/homid_proto.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "homi.h"

_Static_assert(sizeof(struct homid_hdr) == 16, "header is 16 bytes");
_Static_assert(sizeof(struct homid_sqe) == 32, "request entry is 32 bytes");
_Static_assert(sizeof(struct homid_cqe) == 24, "completion entry is 24 bytes");
_Static_assert(sizeof(struct homid_shm_hdr) == 320, "region header layout");
_Static_assert(sizeof(struct homid_stats_ok) <= HOMID_PAYLOAD_MAX, "stats fit a message");

int homid_fail(char *why, size_t whylen, int rc, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* payload size and descriptor count of each message type */
static const struct {
    uint32_t size; /* exact payload size; 0 with var: at least min */
    uint32_t min;
    int var;
    unsigned fds;
} kinds[HOMID_TYPE_MAX + 1] = {
    [HOMID_HELLO] = {0, HOMID_HELLO_MIN, 1, 0},
    [HOMID_HELLO_OK] = {sizeof(struct homid_hello_ok), 0, 0, 3},
    [HOMID_OPEN] = {sizeof(struct homid_open), 0, 0, 1},
    [HOMID_OPEN_OK] = {sizeof(struct homid_open_ok), 0, 0, 0},
    [HOMID_CLOSE] = {sizeof(struct homid_close), 0, 0, 0},
    [HOMID_STATS] = {0, 0, 0, 0},
    [HOMID_STATS_OK] = {sizeof(struct homid_stats_ok), 0, 0, 0},
    [HOMID_REPORT] = {sizeof(struct homid_wire_stats), 0, 0, 0},
    [HOMID_OK] = {0, 0, 0, 0},
    [HOMID_ERROR] = {0, sizeof(int32_t), 1, 0},
    [HOMID_ADMIN] = {0, 1, 1, 0},
    [HOMID_ADMIN_OK] = {sizeof(struct homid_admin_ok), 0, 0, 1},
    [HOMID_DEVQ_CREATE] = {sizeof(struct homid_devq_create), 0, 0, 2},
    [HOMID_DEVQ] = {sizeof(struct homid_devq_op), 0, 0, 0},
    [HOMID_DEVQ_OK] = {sizeof(struct homid_devq_ok), 0, 0, 0},
    [HOMID_QPAIRS] = {sizeof(struct homid_qpairs), 0, 0, 0},
    [HOMID_QPAIRS_OK] = {sizeof(struct homid_qpairs_ok), 0, 0, 0},
};
_Static_assert(offsetof(struct homid_hello, job) == HOMID_HELLO_MIN, "HELLO's fixed part");

int homid_parse(const void *buf, size_t len, unsigned nfds, struct homid_msg *out, char *why,
                size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (!buf || len < sizeof(struct homid_hdr))
        return homid_fail(why, whylen, HOMI_EINVAL, "truncated message (%u bytes, header is %u)",
                          (unsigned)len, (unsigned)sizeof(struct homid_hdr));
    struct homid_hdr h;
    memcpy(&h, buf, sizeof h);
    if (h.magic != HOMID_MAGIC)
        return homid_fail(why, whylen, HOMI_EINVAL, "bad magic 0x%08x", h.magic);
    if (h.type == 0 || h.type > HOMID_TYPE_MAX)
        return homid_fail(why, whylen, HOMI_EINVAL, "unknown message type %u", h.type);
    if (h.type != HOMID_HELLO && h.version != HOMID_VERSION)
        return homid_fail(why, whylen, HOMI_ENOTSUP, "protocol version %u (this side speaks %u)",
                          h.version, HOMID_VERSION);
    if (h.len > HOMID_PAYLOAD_MAX)
        return homid_fail(why, whylen, HOMI_ERANGE, "payload of %u bytes (at most %u)", h.len,
                          HOMID_PAYLOAD_MAX);
    if ((size_t)h.len != len - sizeof h)
        return homid_fail(why, whylen, HOMI_EINVAL, "length field %u but %u payload bytes", h.len,
                          (unsigned)(len - sizeof h));
    if (kinds[h.type].var) {
        uint32_t most =
            h.type == HOMID_HELLO ? (uint32_t)sizeof(struct homid_hello) : HOMID_PAYLOAD_MAX;
        if (h.len < kinds[h.type].min || h.len > most)
            return homid_fail(why, whylen, HOMI_EINVAL, "message type %u: bad payload size %u",
                              h.type, h.len);
    } else if (h.len != kinds[h.type].size) {
        return homid_fail(why, whylen, HOMI_EINVAL, "message type %u: payload of %u bytes", h.type,
                          h.len);
    }
    if (nfds != kinds[h.type].fds)
        return homid_fail(why, whylen, HOMI_EINVAL, "message type %u came with %u descriptors",
                          h.type, nfds);
    out->h = h;
    out->nfds = nfds;
    memcpy(&out->u, (const char *)buf + sizeof h, h.len);
    switch (h.type) {
    case HOMID_HELLO:
        if (out->u.hello.min_version > out->u.hello.max_version)
            return homid_fail(why, whylen, HOMI_EINVAL, "hello: version range %u..%u",
                              out->u.hello.min_version, out->u.hello.max_version);
        out->u.hello.job[HOMID_JOB - 1] = 0;
        for (char *j = out->u.hello.job; *j; j++)
            if (*j < 0x21 || *j > 0x7e) *j = '_'; /* printable in logs and lists */
        break;
    case HOMID_ADMIN:
        out->u.text[h.len] = 0;
        if (strlen(out->u.text) != h.len)
            return homid_fail(why, whylen, HOMI_EINVAL, "admin: command holds a NUL byte");
        break;
    case HOMID_OPEN:
        if (out->u.open.flags || out->u.open.reserved)
            return homid_fail(why, whylen, HOMI_EINVAL, "open: unknown flags 0x%x",
                              out->u.open.flags);
        break;
    case HOMID_DEVQ_CREATE: {
        int rc = homid_dq_create_check(&out->u.dq_create, why, whylen);
        if (rc) return rc;
        break;
    }
    case HOMID_DEVQ:
        if (out->u.dq_op.op < HOMID_DQ_EXPORT || out->u.dq_op.op > HOMID_DQ_PAUSE ||
            out->u.dq_op.reserved)
            return homid_fail(why, whylen, HOMI_EINVAL, "device queue: unknown operation %u",
                              out->u.dq_op.op);
        break;
    case HOMID_QPAIRS:
        if (!out->u.qpairs.want || out->u.qpairs.want > HOMID_QPAIRS_MAX || out->u.qpairs.reserved)
            return homid_fail(why, whylen, HOMI_EINVAL, "queue pairs: %u asked (1 to %u)",
                              out->u.qpairs.want, HOMID_QPAIRS_MAX);
        break;
    case HOMID_HELLO_OK: out->u.hello_ok.node[HOMID_NODE - 1] = 0; break;
    case HOMID_ERROR: {
        size_t tl = h.len - sizeof(int32_t);
        if (tl >= HOMID_ERRTEXT) tl = HOMID_ERRTEXT - 1;
        out->u.error.text[tl] = 0;
        if (out->u.error.code >= 0) out->u.error.code = HOMI_EIO;
        break;
    }
    default: break;
    }
    return 0;
}

/* ---------------------------------------------------------------- region */

static int pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

static uint64_t align4k(uint64_t v)
{
    return (v + 4095) & ~(uint64_t)4095;
}

int homid_shm_layout(uint32_t slots, uint32_t slot_size, struct homid_shm_hdr *out)
{
    if (slots < HOMID_SLOTS_MIN || slots > HOMID_SLOTS_MAX || !pow2(slots)) return HOMI_EINVAL;
    if (slot_size < HOMID_SLOT_MIN || slot_size > HOMID_SLOT_MAX || slot_size % 4096)
        return HOMI_EINVAL;
    if ((uint64_t)slots * slot_size > HOMID_SHM_MAX) return HOMI_ERANGE;
    memset(out, 0, sizeof *out);
    out->magic = HOMID_SHM_MAGIC;
    out->version = HOMID_VERSION;
    out->sq_entries = out->cq_entries = slots;
    out->slots = slots;
    out->slot_size = slot_size;
    out->sq_off = align4k(sizeof *out);
    out->cq_off = align4k(out->sq_off + (uint64_t)slots * sizeof(struct homid_sqe));
    out->data_off = align4k(out->cq_off + (uint64_t)slots * sizeof(struct homid_cqe));
    out->size = out->data_off + (uint64_t)slots * slot_size;
    return 0;
}

int homid_shm_check(const struct homid_shm_hdr *h, uint64_t mapped)
{
    struct homid_shm_hdr want;
    if (h->magic != HOMID_SHM_MAGIC || h->version != HOMID_VERSION) return HOMI_EINVAL;
    if (homid_shm_layout(h->slots, h->slot_size, &want)) return HOMI_EINVAL;
    if (h->sq_entries != want.sq_entries || h->cq_entries != want.cq_entries ||
        h->sq_off != want.sq_off || h->cq_off != want.cq_off || h->data_off != want.data_off ||
        h->size != want.size || h->size > mapped)
        return HOMI_EINVAL;
    return 0;
}

int homid_sqe_check(const struct homid_sqe *e, uint32_t slots, uint32_t slot_size, char *why,
                    size_t whylen)
{
    if (e->slot >= slots)
        return homid_fail(why, whylen, HOMI_EINVAL, "slot %u out of range (%u slots)", e->slot,
                          slots);
    if (e->len == 0 || e->len > slot_size)
        return homid_fail(why, whylen, HOMI_EINVAL, "length %u (a slot holds %u)", e->len,
                          slot_size);
    if (e->offset > (uint64_t)INT64_MAX - e->len)
        return homid_fail(why, whylen, HOMI_ERANGE, "offset + length overflow (length %u)", e->len);
    if (e->path != HOMI_PATH_AUTO && e->path != HOMI_PATH_KERNEL && e->path != HOMI_PATH_PASSTHRU &&
        e->path != HOMI_PATH_DELEGATED)
        return homid_fail(why, whylen, HOMI_EINVAL, "path %d cannot be served by homid", e->path);
    if (e->file_id == 0) return homid_fail(why, whylen, HOMI_EBADF, "file id 0");
    return 0;
}

int homid_cqe_check(const struct homid_cqe *e, uint32_t slots, uint32_t slot_size)
{
    if (e->slot >= slots) return HOMI_EINVAL;
    if (e->result > (int64_t)slot_size) return HOMI_EINVAL;
    if (e->result < 0 && e->result < HOMI_ENOTREG) return HOMI_EINVAL;
    if (e->path_mask >> HOMI_PATH_COUNT) return HOMI_EINVAL;
    return 0;
}

long homid_ring_used(uint32_t head, uint32_t tail, uint32_t n)
{
    uint32_t used = tail - head; /* wraps */
    return used > n ? -1 : (long)used;
}

/* ---------------------------------------------------------------- socket I/O */

int homid_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t l = strlen(path);
    if (l >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, l + 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int homid_send(int sock, uint16_t type, uint32_t seq, const void *payload, uint32_t len,
               const int *fds, unsigned nfds)
{
    if (len > HOMID_PAYLOAD_MAX || nfds > HOMID_MAX_FDS) return HOMI_EINVAL;
    struct homid_hdr h = {HOMID_MAGIC, HOMID_VERSION, type, len, seq};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)(uintptr_t)payload, len}};
    union {
        char buf[CMSG_SPACE(sizeof(int) * HOMID_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    if (nfds) {
        memset(&ctl, 0, sizeof ctl);
        m.msg_control = ctl.buf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (n >= 0) return (size_t)n == sizeof h + len ? 0 : HOMI_EIO;
        if (errno == EINTR) continue;
        return errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN ? HOMI_EIO : HOMI_ESYS;
    }
}

long homid_recv(int sock, void *buf, size_t cap, int *fds, unsigned *nfds, int timeout_ms)
{
    *nfds = 0;
    struct pollfd p = {sock, POLLIN, 0};
    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r > 0) break;
        if (r == 0) return HOMI_ETIMEDOUT;
        if (errno != EINTR) return HOMI_ESYS;
    }
    union {
        char buf[CMSG_SPACE(sizeof(int) * HOMID_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, cap};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof ctl.buf;
    ssize_t n;
    do {
        n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == ECONNRESET ? 0 : HOMI_ESYS;
    unsigned got = 0, extra = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (unsigned i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (got < HOMID_MAX_FDS) {
                fds[got++] = fd;
            } else {
                close(fd);
                extra = 1;
            }
        }
    }
    *nfds = got;
    if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || extra || (size_t)n >= cap) {
        for (unsigned i = 0; i < got; i++)
            close(fds[i]);
        *nfds = 0;
        return HOMI_ERANGE;
    }
    if (n == 0 && !got) return 0;
    return (long)n;
}

/* ---------------------------------------------------------------- statistics */

void homid_stats_to_wire(const struct homi_stats *s, struct homid_wire_stats *w)
{
    memset(w, 0, sizeof *w);
    for (int p = 0; p < HOMI_PATH_COUNT && p < HOMID_W_PATHS; p++) {
        w->bytes[p] = s->path[p].bytes;
        w->reqs[p] = s->path[p].requests;
        w->ns[p] = s->path[p].ns;
    }
    for (int r = 0; r < HOMI_FB_COUNT && r < HOMID_W_FB; r++)
        w->fb[r] = s->fallbacks[r];
    w->reads = s->reads;
    w->read_bytes = s->read_bytes;
    w->errors = s->errors;
    w->map_builds = s->map_builds;
    w->staged_bytes = s->staged_bytes;
    w->nvme_cmds = s->nvme_cmds;
    w->daemon_bytes = s->daemon_bytes;
}

void homid_stats_from_wire(const struct homid_wire_stats *w, struct homi_stats *s)
{
    memset(s, 0, sizeof *s);
    for (int p = 0; p < HOMI_PATH_COUNT && p < HOMID_W_PATHS; p++) {
        s->path[p].bytes = w->bytes[p];
        s->path[p].requests = w->reqs[p];
        s->path[p].ns = w->ns[p];
    }
    for (int r = 0; r < HOMI_FB_COUNT && r < HOMID_W_FB; r++)
        s->fallbacks[r] = w->fb[r];
    s->reads = w->reads;
    s->read_bytes = w->read_bytes;
    s->errors = w->errors;
    s->map_builds = w->map_builds;
    s->staged_bytes = w->staged_bytes;
    s->nvme_cmds = w->nvme_cmds;
    s->daemon_bytes = w->daemon_bytes;
}

void homid_wire_add(struct homid_wire_stats *sum, const struct homid_wire_stats *w)
{
    uint64_t *a = (uint64_t *)sum;
    const uint64_t *b = (const uint64_t *)w;
    for (size_t i = 0; i < sizeof *sum / sizeof(uint64_t); i++)
        a[i] += b[i];
}

/* ---------------------------------------------------------------- node names */

void homi_node_name(char *buf, size_t len)
{
    const char *n = getenv("HOMI_NODE_NAME");
    if (n && *n) {
        snprintf(buf, len, "%s", n);
        return;
    }
    if (gethostname(buf, len - 1)) snprintf(buf, len, "localhost");
    buf[len - 1] = 0;
}

int homi_expand_node(const char *in, char *out, size_t len)
{
    char node[HOMID_NODE];
    size_t o = 0;
    int have = 0;
    for (; *in; in++) {
        if (in[0] == '%' && in[1] == 'h') {
            if (!have) homi_node_name(node, sizeof node);
            have = 1;
            size_t l = strlen(node);
            if (o + l >= len) return -1;
            memcpy(out + o, node, l);
            o += l;
            in++;
            continue;
        }
        if (o + 1 >= len) return -1;
        out[o++] = *in;
    }
    out[o] = 0;
    return 0;
}
