/* coll_read.c - the two-phase collective read (homi_coll_read): node
 * grouping, aggregator choice, request exchange, rounds of window reads
 * and redistribution (CUDA IPC inside a node, UCX or MPI through host
 * memory otherwise: coll_ucx.c), and the collective error agreement. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "coll_int.h"
#include "coll_ucx.h"

/* Devices whose IPC reachability is cached (others are asked each time). */
#define PEER_DEVS 32

struct homi_coll {
    MPI_Comm comm;
    int rank, size;
    int *vnode; /* virtual node of each rank (grouping for aggregators/IPC) */
    int *rnode; /* real node (shared-memory domain) of each rank          */
    int nnodes; /* virtual nodes                                          */
    homi_file *file;
    homi_coll_opts o;
    char *win[2];  /* aggregator windows: round r uses win[r % nwin] */
    int nwin;      /* 2: the next window is read while this one is handed out */
    int win_alloc; /* windows allocated (aggregators) */
    int win_kind, win_dev;
    size_t win_cap;
    unsigned win_gen;
    struct coll_buf mirror; /* pinned host copy of a device window */
    void **peer_map;        /* IPC mappings of other ranks' windows, 2 per rank */
    unsigned *peer_gen;
    struct coll_readers *readers;              /* aggregators: threads reading window parts */
    int readers_n;                             /* threads in readers */
    signed char peer_ok[PEER_DEVS][PEER_DEVS]; /* homi_ipc_peer_ok(a, b); -1: not asked */
    homi_coll_info info;
    struct coll_ucx *ucx; /* UCX route, started at the first read needing it */
    int ucx_tried;        /* started (ucx) or failed (ucx_why) on every rank */
    char ucx_why[256];
};

/* What every rank tells the others at the start of a read. */
struct rank_info {
    int64_t lo, hi; /* file range it reads (lo == hi: nothing) */
    int32_t kind, device;
};

/* What an aggregator publishes for IPC. */
struct win_pub {
    homi_ipc_handle h[2];
    uint32_t gen;
    int32_t nwin; /* 0: nothing published */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int mpi_fail(int mrc)
{
    return mrc == MPI_SUCCESS ? HOMI_OK : HOMI_EIO;
}

void homi_coll_opts_default(homi_coll_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cb_buffer_size = 16 << 20;
    o->cb_read = HOMI_COLL_AUTO;
    o->ipc = HOMI_COLL_AUTO;
    o->sieve_gap = 64 << 10;
    o->gpu_buffer_size = 64 << 20;
    o->overlap = HOMI_COLL_AUTO;
    o->read_streams = 4;
}

/* Node id = lowest rank of the node's shared-memory communicator. */
static int real_nodes(homi_coll *c)
{
    MPI_Comm shm;
    if (MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &shm))
        return HOMI_EIO;
    int id = c->rank, low;
    int rc = mpi_fail(MPI_Allreduce(&id, &low, 1, MPI_INT, MPI_MIN, shm));
    MPI_Comm_free(&shm);
    if (!rc) rc = mpi_fail(MPI_Allgather(&low, 1, MPI_INT, c->rnode, 1, MPI_INT, c->comm));
    return rc;
}

static int opts_ok(const homi_coll_opts *o);

static int count_nodes(const homi_coll *c)
{
    int n = 0;
    for (int i = 0; i < c->size; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = c->vnode[j] == c->vnode[i];
        n += !seen;
    }
    return n;
}

int homi_coll_create(MPI_Comm comm, homi_file *file, const homi_coll_opts *opts, homi_coll **out)
{
    if (!file || !out) return HOMI_EINVAL;
    homi_coll *c = calloc(1, sizeof *c);
    if (!c) return HOMI_ENOMEM;
    if (opts)
        c->o = *opts;
    else
        homi_coll_opts_default(&c->o);
    int rc = HOMI_OK;
    if (!opts_ok(&c->o)) rc = HOMI_EHINTVAL;
    c->file = file;
    memset(c->peer_ok, -1, sizeof c->peer_ok);
    if (MPI_Comm_dup(comm, &c->comm)) {
        free(c);
        return HOMI_EIO;
    }
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    c->vnode = calloc((size_t)c->size, sizeof *c->vnode);
    c->rnode = calloc((size_t)c->size, sizeof *c->rnode);
    c->peer_map = calloc(2 * (size_t)c->size, sizeof *c->peer_map);
    c->peer_gen = calloc((size_t)c->size, sizeof *c->peer_gen);
    if (!rc && (!c->vnode || !c->rnode || !c->peer_map || !c->peer_gen)) rc = HOMI_ENOMEM;
    int r2 = real_nodes(c); /* collective: always called */
    if (!rc) rc = r2;
    if (!rc) {
        for (int i = 0; i < c->size; i++)
            c->vnode[i] = c->o.node_size > 0 ? i / c->o.node_size : c->rnode[i];
        c->nnodes = count_nodes(c);
    }
    /* agree on the outcome */
    int any;
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MIN, c->comm);
    if (any) {
        homi_coll_free(c);
        return any;
    }
    *out = c;
    return HOMI_OK;
}

static int opts_ok(const homi_coll_opts *o)
{
    return o->cb_buffer_size >= 4096 && o->cb_buffer_size <= (1ll << 30) && o->cb_nodes >= 0 &&
           o->node_size >= 0 && o->sieve_gap >= 0 && o->cb_read >= 0 && o->cb_read <= 2 &&
           o->ipc >= 0 && o->ipc <= 2 && o->overlap >= 0 && o->overlap <= 2 && o->net >= 0 &&
           o->net <= 2 && o->read_streams >= 1 && o->read_streams <= COLL_MAX_STREAMS &&
           (o->gpu_buffer_size == 0 ||
            (o->gpu_buffer_size >= 4096 && o->gpu_buffer_size <= (1ll << 30)));
}

int homi_coll_set_opts(homi_coll *c, const homi_coll_opts *opts)
{
    if (!opts || !opts_ok(opts)) return HOMI_EHINTVAL;
    int regroup = opts->node_size != c->o.node_size;
    c->o = *opts;
    if (regroup)
        for (int i = 0; i < c->size; i++)
            c->vnode[i] = c->o.node_size > 0 ? i / c->o.node_size : c->rnode[i];
    c->nnodes = count_nodes(c);
    return HOMI_OK;
}

void homi_coll_free(homi_coll *c)
{
    if (!c) return;
    coll_readers_free(c->readers);
    if (c->peer_map)
        for (int i = 0; i < 2 * c->size; i++)
            if (c->peer_map[i]) homi_ipc_close(c->peer_map[i]);
    for (int i = 0; i < 2; i++)
        if (c->win[i]) homi_mem_free(c->win_kind, c->win[i]);
    coll_buf_free(&c->mirror);
    coll_ucx_close(c->ucx); /* collective, like MPI_Comm_free */
    free(c->vnode);
    free(c->rnode);
    free(c->peer_map);
    free(c->peer_gen);
    MPI_Comm_free(&c->comm);
    free(c);
}

void homi_coll_last_info(const homi_coll *c, homi_coll_info *out)
{
    *out = c->info;
}

static int pick_aggregators(const homi_coll *c, const struct rank_info *ri, int *aggr)
{
    int n = 0;
    if (c->o.cb_nodes == 0) {
        for (int i = 0; i < c->size; i++) {
            int first = 1;
            for (int j = 0; j < i && first; j++)
                if (c->vnode[j] == c->vnode[i] &&
                    (ri[i].kind != HOMI_MEM_DEVICE ||
                     (ri[j].kind == HOMI_MEM_DEVICE && ri[j].device == ri[i].device)))
                    first = 0;
            if (first) aggr[n++] = i;
        }
        return n;
    }
    int want = c->o.cb_nodes < c->size ? c->o.cb_nodes : c->size;
    /* local rank k of every node, k = 0, 1, ... */
    for (int k = 0; n < want; k++) {
        int added = 0;
        for (int i = 0; i < c->size && n < want; i++) {
            int local = 0;
            for (int j = 0; j < i; j++)
                local += c->vnode[j] == c->vnode[i];
            if (local == k) {
                aggr[n++] = i;
                added = 1;
            }
        }
        if (!added) break;
    }
    return n;
}

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Aggregators: cb_nodes of them taken round-robin over the nodes; by
 * default one per node and GPU (the lowest rank of each (node, device)).
 * Returned in increasing rank order: requests and pieces are laid out in
 * aggregator order and exchanged with rank-ordered MPI_Alltoallv. */
static int choose_aggregators(const homi_coll *c, const struct rank_info *ri, int *aggr)
{
    int n = pick_aggregators(c, ri, aggr);
    qsort(aggr, (size_t)n, sizeof *aggr, cmp_int);
    return n;
}

/* Exchange with alltoallv where counts are int64 (checked to fit an int). */
static int xchg(int prior, const void *sb, const int64_t *sc, void *rb, const int64_t *rcv,
                MPI_Comm comm, int n)
{
    int *a = malloc(4 * (size_t)n * sizeof *a);
    if (!a) return HOMI_ENOMEM;
    int *scnt = a, *sdis = a + n, *rcnt = a + 2 * n, *rdis = a + 3 * n;
    int64_t so = 0, ro = 0;
    int rc = prior;
    for (int i = 0; i < n; i++) {
        if (!rc && (sc[i] > INT_MAX || rcv[i] > INT_MAX || so > INT_MAX || ro > INT_MAX))
            rc = HOMI_ERANGE;
        scnt[i] = (int)sc[i];
        rcnt[i] = (int)rcv[i];
        sdis[i] = (int)so;
        rdis[i] = (int)ro;
        so += sc[i];
        ro += rcv[i];
    }
    /* every rank must take part even after a local error */
    int bad, mrc;
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, comm);
    if (bad) {
        free(a);
        return bad;
    }
    mrc = MPI_Alltoallv(sb, scnt, sdis, MPI_BYTE, rb, rcnt, rdis, MPI_BYTE, comm);
    free(a);
    return mpi_fail(mrc);
}

/* State of one read on one rank. */
struct read_ctx {
    homi_coll *c;
    char *buf;
    int kind, dev;
    struct rank_info *ri;
    int *aggr, naggr, my_aggr; /* my_aggr: index in aggr or -1 */
    /* my requests, grouped by aggregator, sorted within each */
    struct coll_req *req;
    int64_t *req_cnt, *req_start; /* per aggregator index */
    /* aggregator side: requests received from each rank */
    struct coll_req *in;
    int64_t *in_cnt, *in_start; /* per rank */
    size_t *in_cursor;
    struct coll_ext *E;
    size_t ne;
    int ipc_any;      /* some pair uses IPC */
    int64_t win_size; /* my window (aggregators): GPU or host size */
    int ucx_on;       /* UCX carries the pairs of the net option (pair_ucx) */
};

/* Can a buffer on device a be mapped on device b (cached per pair)? */
static int peer_ok(homi_coll *c, int b, int a)
{
    if (a < 0 || b < 0 || a >= PEER_DEVS || b >= PEER_DEVS) return homi_ipc_peer_ok(b, a);
    if (c->peer_ok[b][a] < 0) c->peer_ok[b][a] = (signed char)(homi_ipc_peer_ok(b, a) != 0);
    return c->peer_ok[b][a];
}

/* Does aggregator a (a rank) hand data to rank r through IPC? */
static int pair_ipc(const struct read_ctx *x, int a, int r)
{
    homi_coll *c = x->c;
    return a != r && c->o.ipc != HOMI_COLL_DISABLE && x->ri[a].kind == HOMI_MEM_DEVICE &&
           x->ri[r].kind == HOMI_MEM_DEVICE && c->vnode[a] == c->vnode[r] &&
           c->rnode[a] == c->rnode[r] && peer_ok(c, x->ri[r].device, x->ri[a].device);
}

/* Does aggregator a hand data to rank r through UCX (see HOMI_COLL_NET_*)? */
static int pair_ucx(const struct read_ctx *x, int a, int r)
{
    const homi_coll *c = x->c;
    if (!x->ucx_on || a == r || pair_ipc(x, a, r)) return 0;
    if (c->o.net == HOMI_COLL_NET_UCX) return 1;
    return x->ri[a].kind == HOMI_MEM_DEVICE && x->ri[r].kind == HOMI_MEM_DEVICE &&
           (c->vnode[a] != c->vnode[r] || c->rnode[a] != c->rnode[r]);
}

/* Start UCX when the net option may use it (the same answer on every
 * rank: it depends on gathered facts only); sets x->ucx_on.  HOMI_ENOTSUP
 * on every rank when net is UCX and UCX cannot start. */
static int ucx_route(struct read_ctx *x)
{
    homi_coll *c = x->c;
    int want = c->o.net == HOMI_COLL_NET_UCX;
    for (int a = 0; a < c->size && c->o.net == HOMI_COLL_NET_AUTO && !want; a++)
        for (int r = 0; r < c->size && !want; r++)
            want = x->ri[a].kind == HOMI_MEM_DEVICE && x->ri[r].kind == HOMI_MEM_DEVICE &&
                   (c->vnode[a] != c->vnode[r] || c->rnode[a] != c->rnode[r]);
    if (!want) return HOMI_OK;
    if (!c->ucx_tried) {
        c->ucx_tried = 1;
        coll_ucx_open(c->comm, &c->ucx, c->ucx_why, sizeof c->ucx_why);
        if (c->ucx && c->rank == 0)
            homi_log(HOMI_COLL_LOG_INFO, "homi_coll: %s%s", coll_ucx_desc(c->ucx),
                     coll_ucx_cuda(c->ucx) || c->o.net == HOMI_COLL_NET_UCX
                         ? ""
                         : ": not used (homi_coll_net=auto needs CUDA memory), MPI between nodes");
        else if (!c->ucx && c->rank == 0 && c->o.net == HOMI_COLL_NET_AUTO)
            homi_log(HOMI_COLL_LOG_INFO, "homi_coll: UCX not usable, MPI between nodes: %s",
                     c->ucx_why);
    }
    if (!c->ucx && c->o.net == HOMI_COLL_NET_UCX) {
        if (c->rank == 0)
            homi_log(HOMI_COLL_LOG_ERROR, "homi_coll: homi_coll_net=ucx but UCX is not usable: %s",
                     c->ucx_why);
        return HOMI_ENOTSUP;
    }
    x->ucx_on = c->ucx && (c->o.net == HOMI_COLL_NET_UCX || coll_ucx_cuda(c->ucx));
    return HOMI_OK;
}

static int split_requests(struct read_ctx *x, struct coll_req *mine, long n)
{
    const homi_coll *c = x->c;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < c->size; i++)
        if (x->ri[i].hi > x->ri[i].lo) {
            if (x->ri[i].lo < lo) lo = x->ri[i].lo;
            if (x->ri[i].hi > hi) hi = x->ri[i].hi;
        }
    struct coll_domains d;
    coll_domains_make(&d, lo, hi, x->naggr);
    /* count pieces per domain, then place them */
    int64_t total = 0;
    for (long i = 0; i < n; i++) {
        int a = coll_domain_of(&d, mine[i].off),
            b = coll_domain_of(&d, mine[i].off + mine[i].len - 1);
        x->req_cnt[a]++;
        for (int k = a + 1; k <= b; k++)
            x->req_cnt[k]++;
        total += b - a + 1;
    }
    x->req = malloc((size_t)(total ? total : 1) * sizeof *x->req);
    int64_t *fill = calloc((size_t)x->naggr, sizeof *fill);
    if (!x->req || !fill) {
        free(fill);
        return HOMI_ENOMEM;
    }
    for (int a = 0, s = 0; a < x->naggr; a++) {
        x->req_start[a] = s;
        s += (int)x->req_cnt[a];
    }
    for (long i = 0; i < n; i++) {
        int64_t off = mine[i].off, end = mine[i].off + mine[i].len, mem = mine[i].mem_off;
        while (off < end) {
            int a = coll_domain_of(&d, off);
            int64_t de = coll_domain_end(&d, a);
            int64_t e = end < de ? end : de;
            struct coll_req *q = &x->req[x->req_start[a] + fill[a]++];
            q->off = off;
            q->len = e - off;
            q->mem_off = mem;
            mem += e - off;
            off = e;
        }
    }
    free(fill);
    for (int a = 0; a < x->naggr; a++)
        coll_sort(&x->req[x->req_start[a]], (size_t)x->req_cnt[a]);
    return HOMI_OK;
}

/* Send my requests (off, len) to the aggregators; aggregators keep them. */
static int exchange_requests(struct read_ctx *x, int prior)
{
    homi_coll *c = x->c;
    int P = c->size;
    int64_t *sc = calloc((size_t)P, sizeof *sc), *rcn = calloc((size_t)P, sizeof *rcn);
    int64_t *pairs = NULL;
    int rc = (!sc || !rcn) ? HOMI_ENOMEM : prior;
    int64_t nreq = 0;
    for (int a = 0; a < x->naggr; a++)
        nreq += x->req_cnt[a];
    if (!rc) {
        pairs = malloc((size_t)(nreq ? nreq : 1) * 2 * sizeof *pairs);
        if (!pairs) rc = HOMI_ENOMEM;
    }
    if (!rc) {
        for (int a = 0; a < x->naggr; a++)
            sc[x->aggr[a]] = x->req_cnt[a];
        /* the requests are grouped in aggregator order, and aggr[] is in
         * increasing rank order: grouped order is rank order */
        for (int64_t i = 0; i < nreq; i++) {
            pairs[2 * i] = x->req[i].off;
            pairs[2 * i + 1] = x->req[i].len;
        }
    }
    int bad;
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    if (bad) {
        free(sc);
        free(rcn);
        free(pairs);
        return bad;
    }
    rc = mpi_fail(MPI_Alltoall(sc, 1, MPI_INT64_T, rcn, 1, MPI_INT64_T, c->comm));
    int64_t nin = 0;
    for (int i = 0; i < P; i++) {
        x->in_start[i] = nin;
        x->in_cnt[i] = rcn[i];
        nin += rcn[i];
    }
    int64_t *inpairs = malloc((size_t)(nin ? nin : 1) * 2 * sizeof *inpairs);
    x->in = malloc((size_t)(nin ? nin : 1) * sizeof *x->in);
    x->E = malloc((size_t)(nin ? nin : 1) * sizeof *x->E);
    if (!inpairs || !x->in || !x->E) rc = HOMI_ENOMEM;
    for (int i = 0; i < P; i++) {
        sc[i] *= 16;
        rcn[i] *= 16;
    }
    rc = xchg(rc, pairs, sc, inpairs, rcn, c->comm, P);
    if (!rc) {
        for (int64_t i = 0; i < nin; i++) {
            x->in[i].off = inpairs[2 * i];
            x->in[i].len = inpairs[2 * i + 1];
            x->in[i].mem_off = 0;
        }
        /* union of all requests of my domain */
        struct coll_req *all = malloc((size_t)(nin ? nin : 1) * sizeof *all);
        if (!all)
            rc = HOMI_ENOMEM;
        else {
            memcpy(all, x->in, (size_t)nin * sizeof *all);
            coll_sort(all, (size_t)nin);
            x->ne = coll_merge(all, (size_t)nin, c->o.sieve_gap, x->E);
            free(all);
        }
    }
    free(inpairs);
    free(sc);
    free(rcn);
    free(pairs);
    return rc;
}

/* IPC: aggregators publish their window, peers map it (cached). */
static int publish_windows(struct read_ctx *x)
{
    homi_coll *c = x->c;
    struct win_pub me = {0}, *all = calloc((size_t)c->size, sizeof *all);
    int rc = all ? HOMI_OK : HOMI_ENOMEM;
    if (!rc && x->my_aggr >= 0 && c->win_kind == HOMI_MEM_DEVICE) {
        for (int w = 0; w < c->nwin && !rc; w++)
            rc = homi_ipc_export(c->win[w], &me.h[w]);
        me.gen = c->win_gen;
        me.nwin = rc == HOMI_OK ? c->nwin : 0;
    }
    int r2 = mpi_fail(MPI_Allgather(&me, sizeof me, MPI_BYTE, all, sizeof me, MPI_BYTE, c->comm));
    if (!rc) rc = r2;
    for (int a = 0; !rc && a < x->naggr; a++) {
        int ar = x->aggr[a];
        if (!pair_ipc(x, ar, c->rank) || !x->req_cnt[a]) continue;
        if (all[ar].nwin != c->nwin) { /* nwin is the same on every rank */
            rc = HOMI_EIO;
            break;
        }
        if (c->peer_map[2 * ar] && c->peer_gen[ar] == all[ar].gen) continue;
        for (int w = 0; w < 2; w++) {
            if (c->peer_map[2 * ar + w]) homi_ipc_close(c->peer_map[2 * ar + w]);
            c->peer_map[2 * ar + w] = NULL;
        }
        for (int w = 0; w < all[ar].nwin && !rc; w++)
            rc = homi_ipc_open(&all[ar].h[w], x->dev, &c->peer_map[2 * ar + w]);
        c->peer_gen[ar] = all[ar].gen;
    }
    free(all);
    return rc;
}

/* A window being read by the reader threads, in the order started. */
struct queued {
    unsigned ticket;
    int64_t ws, we;
};

/* Start reading the next window of my domain into buf and queue it at
 * q[*nq]; 1 when one was started, 0 when none is left or on an error
 * (then *rc, when still HOMI_OK, gets it). */
static int start_window(struct read_ctx *x, struct coll_win_it *it, char *buf, struct queued *q,
                        int *nq, int *rc)
{
    homi_coll *c = x->c;
    struct queued *w = &q[*nq];
    size_t e0;
    if (!coll_win_next(it, x->E, x->ne, x->win_size, &w->ws, &w->we, &e0)) return 0;
    int parts = 0;
    int r = coll_readers_start(c->readers, x->E, x->ne, e0, w->ws, w->we, buf, c->o.read_streams,
                               &parts, &w->ticket);
    if (r) {
        if (!*rc) *rc = r;
        return 0;
    }
    c->info.read_parts += (uint64_t)parts;
    (*nq)++;
    return 1;
}

static int run_rounds(struct read_ctx *x, int nrounds)
{
    homi_coll *c = x->c;
    int P = c->size, rc = HOMI_OK;
    int64_t cb = x->win_size;
    int64_t *cnt = calloc(6 * (size_t)P, sizeof *cnt);
    size_t *my_cursor = calloc((size_t)P, sizeof *my_cursor);
    int64_t nin = 0, nreq = 0;
    for (int i = 0; i < P; i++)
        nin += x->in_cnt[i];
    for (int a = 0; a < x->naggr; a++)
        nreq += x->req_cnt[a];
    struct coll_piece *out = malloc((size_t)(nin + 1) * sizeof *out);
    struct coll_piece *inp = malloc((size_t)(nreq + 1) * sizeof *inp);
    struct coll_buf sdata = {.kind = HOMI_MEM_PINNED, .dev = -1}, rdata = sdata;
    if (!cnt || !my_cursor || !out || !inp) rc = HOMI_ENOMEM;
    int64_t *smeta = cnt, *sdat = cnt + P, *rmeta = cnt + 2 * P, *rdat = cnt + 3 * P;
    int64_t *usnd = cnt + 4 * P, *urcv = cnt + 5 * P; /* UCX bytes to / from each rank */
    struct coll_win_it it;
    coll_win_begin(&it, x->E, x->ne);
    int64_t *poff = calloc((size_t)P + 1, sizeof *poff); /* piece start per rank in out */
    int64_t *s2 = malloc(4 * (size_t)P * sizeof *s2), *rr = s2 ? s2 + 2 * P : NULL;
    if (!poff || !s2) rc = HOMI_ENOMEM;
    int bad;
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    if (bad) nrounds = 0; /* every rank skips the rounds */
    rc = bad;
    /* aggregators: windows are read by the reader threads (read_streams
     * parts at once); window k goes into buffer k % nwin and is handed out
     * in round k.  A window is started as soon as its buffer is free (after
     * the round that last used it), so with two buffers the next window is
     * read while this one is handed out, and queued behind it so that no
     * reader idles */
    struct queued q[2];
    int nq = 0, more = 0;
    if (!rc && x->my_aggr >= 0 && nrounds) {
        int want = c->nwin > 1 ? c->o.read_streams : c->o.read_streams - 1;
        if (c->readers && c->readers_n != want) {
            coll_readers_free(c->readers);
            c->readers = NULL;
        }
        if (!c->readers) {
            rc = coll_readers_new(want, c->file, &c->readers);
            c->readers_n = want;
        }
        more = !rc;
        for (int w = 0; w < c->nwin && more; w++) /* fill every buffer */
            more = start_window(x, &it, c->win[w], q, &nq, &rc);
    }

    for (int round = 0; round < nrounds; round++) {
        int64_t ws = 0, we = 0;
        int have = 0;
        char *win = c->win[round % c->nwin];
        memset(cnt, 0, 6 * (size_t)P * sizeof *cnt);
        size_t nout = 0;
        double t = now_s();
        if (x->my_aggr >= 0 && nq) {
            int r2 = coll_readers_wait(c->readers, q[0].ticket);
            if (!rc) rc = r2;
            have = !rc;
            ws = q[0].ws;
            we = q[0].we;
            q[0] = q[1];
            nq--;
        }
        c->info.wait_s += now_s() - t;
        t = now_s();
        if (!rc && x->my_aggr >= 0) {
            for (int r = 0; r < P && have; r++) {
                poff[r] = (int64_t)nout;
                size_t np = coll_pieces(&x->in[x->in_start[r]], (size_t)x->in_cnt[r],
                                        &x->in_cursor[r], ws, we, out + nout);
                nout += np;
                smeta[r] = (int64_t)(np * sizeof *out);
                int64_t *to = pair_ucx(x, c->rank, r) ? &usnd[r] : &sdat[r];
                if (!pair_ipc(x, c->rank, r) && r != c->rank)
                    for (size_t k = nout - np; k < nout; k++)
                        *to += out[k].len;
            }
            poff[P] = (int64_t)nout;
        }
        /* pack MPI data (from a host copy of a device window) */
        int64_t stotal = 0;
        for (int r = 0; r < P; r++)
            stotal += sdat[r];
        if (!rc && stotal) rc = coll_buf_ensure(&sdata, (size_t)stotal, HOMI_MEM_PINNED, -1);
        if (!rc && stotal) {
            const char *src = win;
            if (c->win_kind == HOMI_MEM_DEVICE) { /* one copy, then host gathers */
                rc = coll_buf_ensure(&c->mirror, (size_t)cb, HOMI_MEM_PINNED, -1);
                void *d = c->mirror.p;
                const void *s = win;
                size_t l = (size_t)(we - ws);
                if (!rc) rc = homi_mem_copyv(1, &d, &s, &l, c->win_dev);
                src = c->mirror.p;
            }
            int64_t got = rc ? 0
                             : coll_gather_pieces(out, poff, sdat, P, src, HOMI_MEM_PINNED, sdata.p,
                                                  HOMI_MEM_PINNED, -1);
            if (got < 0)
                rc = (int)got;
            else if (!rc && got != stotal)
                rc = HOMI_EIO;
        }
        c->info.copy_s += now_s() - t;
        t = now_s();
        /* counts: metadata and data bytes from each aggregator */
        for (int r = 0; r < P; r++) {
            s2[2 * r] = smeta[r];
            s2[2 * r + 1] = sdat[r] + usnd[r];
        }
        int mrc = MPI_Alltoall(s2, 2, MPI_INT64_T, rr, 2, MPI_INT64_T, c->comm);
        if (!rc) rc = mpi_fail(mrc);
        for (int r = 0; r < P; r++) {
            rmeta[r] = rr[2 * r];
            rdat[r] = rr[2 * r + 1];
            if (pair_ucx(x, r, c->rank)) { /* UCX bytes stay out of the MPI exchange */
                urcv[r] = rdat[r];
                rdat[r] = 0;
            }
        }
        int64_t mtotal = 0, dtotal = 0;
        for (int r = 0; r < P; r++) {
            mtotal += rmeta[r];
            dtotal += rdat[r];
        }
        if ((size_t)mtotal > (size_t)(nreq + 1) * sizeof *inp) rc = HOMI_EIO;
        rc = xchg(rc, out, smeta, inp, rmeta, c->comm, P);
        if (!rc && dtotal) rc = coll_buf_ensure(&rdata, (size_t)dtotal, HOMI_MEM_PINNED, -1);
        rc = xchg(rc, sdata.p, sdat, rdata.p, rdat, c->comm, P);
        char *udata = NULL;
        int ukind = HOMI_MEM_PINNED;
        if (x->ucx_on && !rc) { /* rc is agreed here (xchg) */
            struct coll_ucx_xfer ux = {.win = win,
                                       .win_kind = c->win_kind,
                                       .win_dev = c->win_dev,
                                       .out = out,
                                       .poff = poff,
                                       .sbytes = usnd,
                                       .rbytes = urcv,
                                       .buf_kind = x->kind,
                                       .buf_dev = x->dev,
                                       .round = round};
            rc = coll_ucx_exchange(c->ucx, &ux, &udata, &ukind);
        }
        c->info.comm_s += now_s() - t;
        t = now_s();
        /* place what came in, aggregator by aggregator */
        int64_t mpos = 0, dpos = 0, upos = 0;
        for (int a = 0; a < x->naggr && !rc; a++) {
            int ar = x->aggr[a];
            size_t np = (size_t)(rmeta[ar] / (int64_t)sizeof *inp);
            const struct coll_piece *p = inp + mpos / (int64_t)sizeof *inp;
            const struct coll_req *rq = &x->req[x->req_start[a]];
            mpos += rmeta[ar];
            if (!np) continue;
            if (ar == c->rank) {
                rc = coll_copy_pieces(rq, p, np, win, 0, x->buf, x->kind, c->win_kind, x->dev);
                for (size_t k = 0; k < np; k++)
                    c->info.self_bytes += (uint64_t)p[k].len;
            } else if (pair_ipc(x, ar, c->rank)) {
                rc = coll_copy_pieces(rq, p, np, c->peer_map[2 * ar + round % c->nwin], 0, x->buf,
                                      x->kind, HOMI_MEM_DEVICE, x->dev);
                for (size_t k = 0; k < np; k++)
                    c->info.ipc_bytes += (uint64_t)p[k].len;
            } else if (pair_ucx(x, ar, c->rank)) {
                rc = coll_copy_pieces(rq, p, np, udata + upos, 1, x->buf, x->kind, ukind, x->dev);
                c->info.ucx_bytes += (uint64_t)urcv[ar];
                upos += urcv[ar];
            } else {
                rc = coll_copy_pieces(rq, p, np, rdata.p + dpos, 1, x->buf, x->kind,
                                      HOMI_MEM_PINNED, x->dev);
                c->info.mpi_bytes += (uint64_t)rdat[ar];
                dpos += rdat[ar];
            }
        }
        c->info.copy_s += now_s() - t;
        t = now_s();
        /* peers must be done with my window before I overwrite it (the
         * window of round r + 1 was last read by peers in round r - 1) */
        if (x->ipc_any) MPI_Barrier(c->comm);
        c->info.comm_s += now_s() - t;
        /* this round's buffer is free: the window after the queued ones */
        if (x->my_aggr >= 0 && more && !rc) more = start_window(x, &it, win, q, &nq, &rc);
    }
    for (int i = 0; i < nq; i++) /* after an error: wait for the readers */
        coll_readers_wait(c->readers, q[i].ticket);
    coll_buf_free(&sdata);
    coll_buf_free(&rdata);
    free(poff);
    free(s2);
    free(cnt);
    free(my_cursor);
    free(out);
    free(inp);
    return rc;
}

int homi_coll_read(homi_coll *c, void *buf, const homi_coll_seg *segs, size_t nsegs, int64_t *bytes)
{
    int P = c->size, rc = HOMI_OK;
    struct read_ctx x = {.c = c, .buf = buf, .kind = HOMI_MEM_HOST, .dev = -1, .my_aggr = -1};
    memset(&c->info, 0, sizeof c->info);
    c->info.nodes = c->nnodes;
    double t0 = now_s();
    if (bytes) *bytes = 0;

    /* end of file: one view for all ranks */
    int64_t eof = c->rank == 0 ? homi_file_size(c->file) : 0;
    MPI_Bcast(&eof, 1, MPI_INT64_T, 0, c->comm);
    if (eof < 0) return (int)eof;

    struct coll_req *mine = malloc((nsegs ? nsegs : 1) * sizeof *mine);
    int64_t total = 0;
    long n = 0;
    if (!mine)
        rc = HOMI_ENOMEM;
    else if ((n = coll_clip(segs, nsegs, eof, mine, &total)) < 0)
        rc = HOMI_EINVAL;
    struct rank_info me = {.lo = 0, .hi = 0, .kind = HOMI_MEM_HOST, .device = -1};
    if (!rc && n) {
        int64_t mhi = 0;
        me.lo = INT64_MAX;
        for (long i = 0; i < n; i++) {
            if (mine[i].off < me.lo) me.lo = mine[i].off;
            if (mine[i].off + mine[i].len > me.hi) me.hi = mine[i].off + mine[i].len;
            if (mine[i].mem_off + mine[i].len > mhi) mhi = mine[i].mem_off + mine[i].len;
        }
        if (!buf)
            rc = HOMI_EINVAL;
        else {
            int k = homi_mem_kind_of(buf, (size_t)mhi, &x.dev);
            if (k < 0)
                rc = k;
            else
                me.kind = k;
            me.device = x.dev;
        }
        x.kind = me.kind;
    }
    x.ri = calloc((size_t)P, sizeof *x.ri);
    int r1 =
        x.ri ? mpi_fail(MPI_Allgather(&me, sizeof me, MPI_BYTE, x.ri, sizeof me, MPI_BYTE, c->comm))
             : HOMI_ENOMEM;
    if (!rc) rc = r1;
    int bad;
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    if (bad) {
        free(mine);
        free(x.ri);
        return bad;
    }

    /* independent reads when asked to, or when no two ranks' ranges meet */
    int interleaved = 0;
    for (int i = 0; i < P && !interleaved; i++)
        for (int j = i + 1; j < P && !interleaved; j++)
            if (x.ri[i].hi > x.ri[i].lo && x.ri[j].hi > x.ri[j].lo && x.ri[i].lo < x.ri[j].hi &&
                x.ri[j].lo < x.ri[i].hi)
                interleaved = 1;
    if (c->o.cb_read == HOMI_COLL_DISABLE || (c->o.cb_read == HOMI_COLL_AUTO && !interleaved)) {
        free(mine);
        free(x.ri);
        rc = homi_coll_read_indep(c->file, &c->o, buf, segs, nsegs, bytes);
        MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
        return bad;
    }

    x.aggr = malloc((size_t)P * sizeof *x.aggr);
    x.req_cnt = calloc((size_t)P, sizeof *x.req_cnt);
    x.req_start = calloc((size_t)P, sizeof *x.req_start);
    x.in_cnt = calloc((size_t)P, sizeof *x.in_cnt);
    x.in_start = calloc((size_t)P, sizeof *x.in_start);
    x.in_cursor = calloc((size_t)P, sizeof *x.in_cursor);
    if (!x.aggr || !x.req_cnt || !x.req_start || !x.in_cnt || !x.in_start || !x.in_cursor)
        rc = HOMI_ENOMEM;
    if (!rc) {
        x.naggr = choose_aggregators(c, x.ri, x.aggr);
        for (int a = 0; a < x.naggr; a++)
            if (x.aggr[a] == c->rank) x.my_aggr = a;
        rc = split_requests(&x, mine, n);
    }
    /* (errors before the exchange are agreed on inside it) */
    rc = exchange_requests(&x, rc);
    int e = ucx_route(&x); /* collective when UCX starts */
    if (!rc) rc = e;
    coll_ucx_next_read(c->ucx);
    c->info.net_ucx = x.ucx_on;
    c->info.ucx_cuda = x.ucx_on && coll_ucx_cuda(c->ucx);
    double t1 = now_s();
    c->info.plan_s = t1 - t0;

    /* aggregator window: GPU memory when my own buffer is on a GPU (each
     * aggregator sizes its own window: receivers are told piece by piece) */
    int wk = x.kind == HOMI_MEM_DEVICE ? HOMI_MEM_DEVICE : HOMI_MEM_PINNED;
    x.win_size =
        wk == HOMI_MEM_DEVICE && c->o.gpu_buffer_size ? c->o.gpu_buffer_size : c->o.cb_buffer_size;
    c->nwin = c->o.overlap == HOMI_COLL_DISABLE ? 1 : 2; /* the same on every rank */
    if (!rc && x.my_aggr >= 0) {
        size_t want = (size_t)x.win_size;
        if (!c->win[0] || c->win_kind != wk || c->win_cap < want || c->win_dev != x.dev ||
            c->win_alloc != c->nwin) {
            for (int w = 0; w < 2; w++) {
                if (c->win[w]) homi_mem_free(c->win_kind, c->win[w]);
                c->win[w] = NULL;
            }
            c->win_cap = 0;
            c->win_alloc = c->nwin;
            for (int w = 0; w < c->nwin && !rc; w++)
                rc = homi_mem_alloc((homi_mem_kind)wk, x.dev, want, (void **)&c->win[w]);
            if (!rc) {
                c->win_kind = wk;
                c->win_cap = want;
                c->win_dev = x.dev;
                c->win_gen++;
            }
        }
        c->info.is_aggr = 1;
        c->info.window_device = wk == HOMI_MEM_DEVICE;
    }
    for (int a = 0; a < x.naggr; a++)
        for (int r = 0; r < P; r++)
            if (pair_ipc(&x, x.aggr[a], r)) x.ipc_any = 1;
    if (x.ipc_any) {
        e = publish_windows(&x);
        if (!rc) rc = e;
    }
    int mine_rounds = x.my_aggr >= 0 ? coll_win_count(x.E, x.ne, x.win_size) : 0;
    int nrounds = 0;
    MPI_Allreduce(&mine_rounds, &nrounds, 1, MPI_INT, MPI_MAX, c->comm);
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    c->info.setup_s = now_s() - t1;
    if (!bad) {
        rc = run_rounds(&x, nrounds);
        MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    }
    c->info.naggr = x.naggr;
    c->info.rounds = nrounds;
    c->info.total_s = now_s() - t0;
    const char *trace = getenv("HOMI_COLL_TRACE");
    if (trace && *trace && *trace != '0')
        fprintf(stderr,
                "homi_coll: rank %d%s: %d rounds, %.3f s = plan %.3f + setup %.3f + read wait "
                "%.3f + copies %.3f + MPI %.3f; bytes ipc %llu mpi %llu self %llu ucx %llu; "
                "net %s; %llu window parts read\n",
                c->rank, c->info.is_aggr ? " (aggregator)" : "", nrounds, c->info.total_s,
                c->info.plan_s, c->info.setup_s, c->info.wait_s, c->info.copy_s, c->info.comm_s,
                (unsigned long long)c->info.ipc_bytes, (unsigned long long)c->info.mpi_bytes,
                (unsigned long long)c->info.self_bytes, (unsigned long long)c->info.ucx_bytes,
                c->info.net_ucx ? (c->info.ucx_cuda ? "ucx (cuda)" : "ucx (host memory)") : "mpi",
                (unsigned long long)c->info.read_parts);
    if (!bad && bytes) *bytes = total;
    free(mine);
    free(x.ri);
    free(x.aggr);
    free(x.req);
    free(x.req_cnt);
    free(x.req_start);
    free(x.in);
    free(x.in_cnt);
    free(x.in_start);
    free(x.in_cursor);
    free(x.E);
    return bad;
}
