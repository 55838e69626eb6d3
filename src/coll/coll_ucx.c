/* coll_ucx.c - the UCX (ucp) transport of the collective engine (see
 * coll_ucx.h): run-time loading of libucp, the CUDA memory check,
 * context/worker/endpoint lifetime, worker address exchange over MPI and
 * the per-round packed tagged sends and receives with their progress
 * loop.  Compiled against <ucp/api/ucp.h> when present; without it the
 * route reports "UCX support not compiled in". */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_int.h"
#include "coll_ucx.h"
#include "homi.h"

static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Every rank learns the reason of the lowest failing rank (ok: this rank's
 * outcome).  Returns 1 when every rank is ok. */
static int agree(MPI_Comm comm, int ok, char *why, size_t whylen)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int me = ok ? size : rank, first;
    MPI_Allreduce(&me, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == size) return 1;
    char msg[256];
    if (rank == first) snprintf(msg, sizeof msg, "rank %d: %s", rank, why);
    MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, comm);
    snprintf(why, whylen, "%s", msg);
    return 0;
}

#if defined(__has_include)
#if __has_include(<ucp/api/ucp.h>)
#define HOMI_HAVE_UCX_HEADERS 1
#endif
#endif

#ifndef HOMI_HAVE_UCX_HEADERS

int coll_ucx_open(MPI_Comm comm, struct coll_ucx **out, char *why, size_t whylen)
{
    *out = NULL;
    set_why(why, whylen, "UCX support not compiled in (no <ucp/api/ucp.h> at build time)");
    agree(comm, 0, why, whylen);
    return HOMI_ENOTSUP;
}
int coll_ucx_cuda(const struct coll_ucx *u)
{
    return 0;
}
const char *coll_ucx_desc(const struct coll_ucx *u)
{
    return "UCX support not compiled in";
}
void coll_ucx_close(struct coll_ucx *u) {}
int coll_ucx_exchange(struct coll_ucx *u, const struct coll_ucx_xfer *t, char **recv,
                      int *recv_kind)
{
    return HOMI_ENOTSUP;
}
void coll_ucx_next_read(struct coll_ucx *u) {}

#else /* HOMI_HAVE_UCX_HEADERS */

#include <dlfcn.h>
#include <ucp/api/ucp.h>

/* The libucp functions used, resolved with dlsym. */
#define UCX_FUNCS(X)                                                                               \
    X(ucp_config_read)                                                                             \
    X(ucp_config_release)                                                                          \
    X(ucp_init_version)                                                                            \
    X(ucp_cleanup)                                                                                 \
    X(ucp_context_query)                                                                           \
    X(ucp_get_version_string)                                                                      \
    X(ucp_worker_create)                                                                           \
    X(ucp_worker_destroy)                                                                          \
    X(ucp_worker_get_address)                                                                      \
    X(ucp_worker_release_address)                                                                  \
    X(ucp_worker_progress)                                                                         \
    X(ucp_ep_create)                                                                               \
    X(ucp_ep_close_nbx)                                                                            \
    X(ucp_tag_send_nbx)                                                                            \
    X(ucp_tag_recv_nbx)                                                                            \
    X(ucp_tag_recv_request_test)                                                                   \
    X(ucp_request_check_status)                                                                    \
    X(ucp_request_cancel)                                                                          \
    X(ucp_request_free)                                                                            \
    X(ucs_status_string)

struct ucx_api {
#define X(f) __typeof__(f) *f;
    UCX_FUNCS(X)
#undef X
};

struct coll_ucx {
    void *lib;
    struct ucx_api f;
    MPI_Comm comm;
    int rank, size;
    ucp_context_h ctx;
    ucp_worker_h worker;
    ucp_ep_h *ep; /* per rank, created at the first send to it */
    char *addrs;  /* worker addresses of all ranks */
    int *addr_len, *addr_off;
    int cuda;     /* CUDA memory supported on every rank */
    int broken;   /* a transfer failed: close endpoints by force */
    unsigned seq; /* collective reads so far (tags) */
    char desc[96];
    struct coll_buf sbuf, rbuf; /* packed send / receive data */
    void **req;                 /* outstanding requests of one round */
    ucp_tag_recv_info_t *rinfo;
    size_t *rwant;
};

/* Tag: read sequence (24 bits), round (20 bits), sending rank (20 bits). */
static ucp_tag_t make_tag(unsigned seq, int round, int from)
{
    return ((ucp_tag_t)(seq & 0xffffffu) << 40) | ((ucp_tag_t)((unsigned)round & 0xfffffu) << 20) |
           (ucp_tag_t)((unsigned)from & 0xfffffu);
}

static void teardown(struct coll_ucx *u)
{
    if (u->worker) u->f.ucp_worker_destroy(u->worker);
    if (u->ctx) u->f.ucp_cleanup(u->ctx);
    /* opened RTLD_NODELETE: UCX's memory hooks stay valid after dlclose */
    if (u->lib) dlclose(u->lib);
    coll_buf_free(&u->sbuf);
    coll_buf_free(&u->rbuf);
    free(u->ep);
    free(u->addrs);
    free(u->addr_len);
    free(u->addr_off);
    free(u->req);
    free(u->rinfo);
    free(u->rwant);
    free(u);
}

/* This rank's part of open: library, context, worker.  0 or -1 (why set). */
static int start_local(struct coll_ucx *u, char *why, size_t whylen)
{
    const char *name = getenv("HOMI_UCX_LIB");
    if (!name || !*name) name = "libucp.so.0";
    u->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!u->lib) {
        set_why(why, whylen, "dlopen(%s): %s", name, dlerror());
        return -1;
    }
#define X(fn)                                                                                      \
    *(void **)&u->f.fn = dlsym(u->lib, #fn);                                                       \
    if (!u->f.fn) {                                                                                \
        set_why(why, whylen, "%s: symbol %s not found (UCX older than 1.11?)", name, #fn);         \
        return -1;                                                                                 \
    }
    UCX_FUNCS(X)
#undef X
    ucp_config_t *cfg = NULL;
    ucs_status_t st = u->f.ucp_config_read(NULL, NULL, &cfg);
    if (st != UCS_OK) {
        set_why(why, whylen, "ucp_config_read: %s", u->f.ucs_status_string(st));
        return -1;
    }
    ucp_params_t p = {.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_ESTIMATED_NUM_EPS,
                      .features = UCP_FEATURE_TAG,
                      .estimated_num_eps = (size_t)u->size};
    st = u->f.ucp_init_version(UCP_API_MAJOR, UCP_API_MINOR, &p, cfg, &u->ctx);
    u->f.ucp_config_release(cfg);
    if (st != UCS_OK) {
        u->ctx = NULL;
        set_why(why, whylen, "ucp_init (%s): %s", u->f.ucp_get_version_string(),
                u->f.ucs_status_string(st));
        return -1;
    }
    ucp_context_attr_t attr = {.field_mask = UCP_ATTR_FIELD_MEMORY_TYPES};
    st = u->f.ucp_context_query(u->ctx, &attr);
    if (st != UCS_OK) {
        set_why(why, whylen, "ucp_context_query: %s", u->f.ucs_status_string(st));
        return -1;
    }
    u->cuda = (attr.memory_types & UCS_BIT(UCS_MEMORY_TYPE_CUDA)) != 0;
    ucp_worker_params_t wp = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                              .thread_mode = UCS_THREAD_MODE_SINGLE};
    st = u->f.ucp_worker_create(u->ctx, &wp, &u->worker);
    if (st != UCS_OK) {
        u->worker = NULL;
        set_why(why, whylen, "ucp_worker_create: %s", u->f.ucs_status_string(st));
        return -1;
    }
    return 0;
}

int coll_ucx_open(MPI_Comm comm, struct coll_ucx **out, char *why, size_t whylen)
{
    *out = NULL;
    why[0] = 0;
    struct coll_ucx *u = calloc(1, sizeof *u);
    int ok = u != NULL;
    if (!ok) set_why(why, whylen, "out of memory");
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (ok) {
        u->comm = comm;
        u->rank = rank;
        u->size = size;
        u->sbuf = u->rbuf = (struct coll_buf){.kind = HOMI_MEM_PINNED, .dev = -1};
        u->ep = calloc((size_t)size, sizeof *u->ep);
        u->addr_len = calloc((size_t)size, sizeof *u->addr_len);
        u->addr_off = calloc((size_t)size, sizeof *u->addr_off);
        u->req = calloc(2 * (size_t)size, sizeof *u->req);
        u->rinfo = calloc((size_t)size, sizeof *u->rinfo);
        u->rwant = calloc((size_t)size, sizeof *u->rwant);
        ok = u->ep && u->addr_len && u->addr_off && u->req && u->rinfo && u->rwant;
        if (!ok) set_why(why, whylen, "out of memory");
    }
    if (ok) ok = start_local(u, why, whylen) == 0;
    ucp_address_t *addr = NULL;
    size_t alen = 0;
    if (ok) {
        ucs_status_t st = u->f.ucp_worker_get_address(u->worker, &addr, &alen);
        ok = st == UCS_OK && alen <= (1u << 30);
        if (!ok) set_why(why, whylen, "ucp_worker_get_address: %s", u->f.ucs_status_string(st));
    }
    if (!agree(comm, ok, why, whylen)) {
        if (addr) u->f.ucp_worker_release_address(u->worker, addr);
        if (u) teardown(u);
        return HOMI_ENOTSUP;
    }
    /* worker addresses of all ranks */
    int len = (int)alen, total = 0;
    int mrc = MPI_Allgather(&len, 1, MPI_INT, u->addr_len, 1, MPI_INT, comm);
    for (int i = 0; i < size; i++) {
        u->addr_off[i] = total;
        total += u->addr_len[i];
    }
    u->addrs = malloc((size_t)total + 1);
    ok = mrc == MPI_SUCCESS && u->addrs;
    if (!agree(comm, ok, why, whylen)) {
        u->f.ucp_worker_release_address(u->worker, addr);
        teardown(u);
        return HOMI_ENOTSUP;
    }
    mrc = MPI_Allgatherv(addr, len, MPI_BYTE, u->addrs, u->addr_len, u->addr_off, MPI_BYTE, comm);
    u->f.ucp_worker_release_address(u->worker, addr);
    if (mrc != MPI_SUCCESS) set_why(why, whylen, "MPI_Allgatherv of worker addresses failed");
    int cuda = u->cuda, all_cuda;
    MPI_Allreduce(&cuda, &all_cuda, 1, MPI_INT, MPI_MIN, comm);
    u->cuda = all_cuda;
    if (!agree(comm, mrc == MPI_SUCCESS, why, whylen)) {
        teardown(u);
        return HOMI_ENOTSUP;
    }
    snprintf(u->desc, sizeof u->desc, "UCX %s, CUDA memory: %s", u->f.ucp_get_version_string(),
             u->cuda ? "yes" : "no");
    *out = u;
    return HOMI_OK;
}

int coll_ucx_cuda(const struct coll_ucx *u)
{
    return u && u->cuda;
}

const char *coll_ucx_desc(const struct coll_ucx *u)
{
    return u ? u->desc : "UCX not started";
}

void coll_ucx_next_read(struct coll_ucx *u)
{
    if (u) u->seq++;
}

/* Progress until every request in req[0..n) is finished; frees them.
 * Receives are checked for their length against rwant (map: ridx). */
static int wait_all(struct coll_ucx *u, int n, int nsend)
{
    int rc = HOMI_OK, left = n;
    while (left) {
        if (!u->f.ucp_worker_progress(u->worker)) sched_yield(); /* ranks may share cores */
        left = 0;
        for (int i = 0; i < n; i++) {
            void *q = u->req[i];
            if (!q) continue;
            ucs_status_t st;
            if (i >= nsend)
                st = u->f.ucp_tag_recv_request_test(q, &u->rinfo[i - nsend]);
            else
                st = u->f.ucp_request_check_status(q);
            if (st == UCS_INPROGRESS) {
                left++;
                continue;
            }
            if (st != UCS_OK && !rc) {
                homi_log(HOMI_COLL_LOG_ERROR, "homi_coll: UCX %s failed: %s",
                         i < nsend ? "send" : "receive", u->f.ucs_status_string(st));
                rc = HOMI_EIO;
            }
            u->f.ucp_request_free(q);
            u->req[i] = NULL;
        }
    }
    return rc;
}

/* Pack the pieces for every receiver into u->sbuf (rank order). */
static int pack(struct coll_ucx *u, const struct coll_ucx_xfer *t, int64_t stotal)
{
    int kind = u->cuda && t->win_kind == HOMI_MEM_DEVICE ? HOMI_MEM_DEVICE : HOMI_MEM_PINNED;
    int rc =
        coll_buf_ensure(&u->sbuf, (size_t)stotal, kind, kind == HOMI_MEM_DEVICE ? t->win_dev : -1);
    if (rc) return rc;
    int64_t got = coll_gather_pieces(t->out, t->poff, t->sbytes, u->size, t->win, t->win_kind,
                                     u->sbuf.p, kind, t->win_dev);
    if (got < 0) return (int)got;
    return got == stotal ? HOMI_OK : HOMI_EIO;
}

static ucs_memory_type_t mtype(int kind)
{
    return kind == HOMI_MEM_DEVICE ? UCS_MEMORY_TYPE_CUDA : UCS_MEMORY_TYPE_HOST;
}

int coll_ucx_exchange(struct coll_ucx *u, const struct coll_ucx_xfer *t, char **recv,
                      int *recv_kind)
{
    int64_t stotal = 0, rtotal = 0;
    for (int r = 0; r < u->size; r++) {
        stotal += t->sbytes[r];
        rtotal += t->rbytes[r];
    }
    /* local preparation: buffers and packing; then agree */
    int rc = HOMI_OK;
    if (stotal) rc = pack(u, t, stotal);
    int rk = u->cuda && t->buf_kind == HOMI_MEM_DEVICE ? HOMI_MEM_DEVICE : HOMI_MEM_PINNED;
    if (!rc && rtotal)
        rc = coll_buf_ensure(&u->rbuf, (size_t)rtotal, rk, rk == HOMI_MEM_DEVICE ? t->buf_dev : -1);
    /* endpoints to the ranks I send to (local: wire-up completes in progress) */
    for (int r = 0; r < u->size && !rc; r++) {
        if (!t->sbytes[r] || u->ep[r]) continue;
        ucp_ep_params_t ep = {.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS,
                              .address = (const ucp_address_t *)(u->addrs + u->addr_off[r])};
        ucs_status_t st = u->f.ucp_ep_create(u->worker, &ep, &u->ep[r]);
        if (st != UCS_OK) {
            u->ep[r] = NULL;
            homi_log(HOMI_COLL_LOG_ERROR, "homi_coll: UCX endpoint to rank %d: %s", r,
                     u->f.ucs_status_string(st));
            rc = HOMI_EIO;
        }
    }
    int bad;
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, u->comm);
    if (bad) return bad;
    *recv = u->rbuf.p;
    *recv_kind = u->rbuf.kind;
    if (!stotal && !rtotal) return HOMI_OK;

    /* receives first, then sends */
    int n = 0, nsend = 0;
    size_t pos = 0;
    ucp_request_param_t sp = {.op_attr_mask = UCP_OP_ATTR_FIELD_MEMORY_TYPE,
                              .memory_type = mtype(u->sbuf.kind)};
    for (int r = 0; r < u->size && !rc; r++) {
        if (!t->sbytes[r]) continue;
        void *q = u->f.ucp_tag_send_nbx(u->ep[r], u->sbuf.p + pos, (size_t)t->sbytes[r],
                                        make_tag(u->seq, t->round, u->rank), &sp);
        pos += (size_t)t->sbytes[r];
        if (UCS_PTR_IS_ERR(q)) {
            homi_log(HOMI_COLL_LOG_ERROR, "homi_coll: UCX send to rank %d: %s", r,
                     u->f.ucs_status_string(UCS_PTR_STATUS(q)));
            rc = HOMI_EIO;
        } else {
            u->req[n++] = q;
        }
    }
    nsend = n;
    pos = 0;
    for (int r = 0; r < u->size && !rc; r++) {
        if (!t->rbytes[r]) continue;
        int i = n - nsend;
        u->rwant[i] = (size_t)t->rbytes[r];
        u->rinfo[i].length = 0;
        ucp_request_param_t rp = {.op_attr_mask =
                                      UCP_OP_ATTR_FIELD_MEMORY_TYPE | UCP_OP_ATTR_FIELD_RECV_INFO,
                                  .memory_type = mtype(u->rbuf.kind),
                                  .recv_info.tag_info = &u->rinfo[i]};
        void *q = u->f.ucp_tag_recv_nbx(u->worker, u->rbuf.p + pos, (size_t)t->rbytes[r],
                                        make_tag(u->seq, t->round, r), ~(ucp_tag_t)0, &rp);
        pos += (size_t)t->rbytes[r];
        if (UCS_PTR_IS_ERR(q)) {
            homi_log(HOMI_COLL_LOG_ERROR, "homi_coll: UCX receive from rank %d: %s", r,
                     u->f.ucs_status_string(UCS_PTR_STATUS(q)));
            rc = HOMI_EIO;
        } else {
            u->req[n++] = q; /* NULL: completed at once (rinfo filled) */
        }
    }
    if (rc) {
        /* a request could not be posted: cancel my receives, finish the
         * rest as far as it goes; the caller's agreement reports it */
        for (int i = nsend; i < n; i++)
            if (u->req[i]) u->f.ucp_request_cancel(u->worker, u->req[i]);
        u->broken = 1;
    }
    int r2 = wait_all(u, n, nsend);
    if (!rc) rc = r2;
    for (int i = 0; i < n - nsend && !rc; i++)
        if (u->rinfo[i].length != u->rwant[i]) {
            homi_log(HOMI_COLL_LOG_ERROR, "homi_coll: UCX received %zu bytes, expected %zu",
                     u->rinfo[i].length, u->rwant[i]);
            rc = HOMI_EIO;
        }
    if (rc) u->broken = 1;
    return rc;
}

void coll_ucx_close(struct coll_ucx *u)
{
    if (!u) return;
    /* close my endpoints while every rank keeps progressing, then wait
     * until all ranks are done before the workers go away */
    ucp_request_param_t cp = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                              .flags = u->broken ? UCP_EP_CLOSE_FLAG_FORCE : 0};
    int n = 0;
    for (int r = 0; r < u->size; r++) {
        if (!u->ep[r]) continue;
        void *q = u->f.ucp_ep_close_nbx(u->ep[r], &cp);
        u->ep[r] = NULL;
        if (q && !UCS_PTR_IS_ERR(q)) u->req[n++] = q;
    }
    for (int left = n; left;) {
        u->f.ucp_worker_progress(u->worker);
        left = 0;
        for (int i = 0; i < n; i++) {
            if (!u->req[i]) continue;
            if (u->f.ucp_request_check_status(u->req[i]) == UCS_INPROGRESS) {
                left++;
            } else {
                u->f.ucp_request_free(u->req[i]);
                u->req[i] = NULL;
            }
        }
    }
    MPI_Request b;
    int done = 0;
    MPI_Ibarrier(u->comm, &b);
    while (!done) {
        if (!u->f.ucp_worker_progress(u->worker)) sched_yield();
        MPI_Test(&b, &done, MPI_STATUS_IGNORE);
    }
    teardown(u);
}

#endif /* HOMI_HAVE_UCX_HEADERS */
