/* coll_xchg.c - the steps collective reads and writes share before their
 * rounds: what every rank accesses, aggregator choice, file domains, the
 * request exchange, the route of each aggregator-rank pair (CUDA IPC, UCX
 * or MPI), the aggregators' windows and their IPC mappings. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "coll_int.h"
#include "coll_ucx.h"

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
int coll_xchg(int prior, const void *sb, const int64_t *sc, void *rb, const int64_t *rcv,
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
    return coll_mpi_rc(mrc);
}

/* Can a buffer on device a be mapped on device b (cached per pair)? */
static int peer_ok(homi_coll *c, int b, int a)
{
    if (a < 0 || b < 0 || a >= PEER_DEVS || b >= PEER_DEVS) return homi_ipc_peer_ok(b, a);
    if (c->peer_ok[b][a] < 0) c->peer_ok[b][a] = (signed char)(homi_ipc_peer_ok(b, a) != 0);
    return c->peer_ok[b][a];
}

/* Does aggregator a (a rank) hand data to rank r through IPC? */
int coll_pair_ipc(const struct coll_ctx *x, int a, int r)
{
    homi_coll *c = x->c;
    return a != r && c->o.ipc != HOMI_COLL_DISABLE && x->ri[a].kind == HOMI_MEM_DEVICE &&
           x->ri[r].kind == HOMI_MEM_DEVICE && c->vnode[a] == c->vnode[r] &&
           c->rnode[a] == c->rnode[r] && peer_ok(c, x->ri[r].device, x->ri[a].device);
}

/* Does aggregator a hand data to rank r through UCX (see HOMI_COLL_NET_*)? */
int coll_pair_ucx(const struct coll_ctx *x, int a, int r)
{
    const homi_coll *c = x->c;
    if (!x->ucx_on || a == r || coll_pair_ipc(x, a, r)) return 0;
    if (c->o.net == HOMI_COLL_NET_UCX) return 1;
    return x->ri[a].kind == HOMI_MEM_DEVICE && x->ri[r].kind == HOMI_MEM_DEVICE &&
           (c->vnode[a] != c->vnode[r] || c->rnode[a] != c->rnode[r]);
}

/* Start UCX when the net option may use it (the same answer on every
 * rank: it depends on gathered facts only); sets x->ucx_on.  HOMI_ENOTSUP
 * on every rank when net is UCX and UCX cannot start. */
int coll_ucx_route(struct coll_ctx *x)
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

static int split_requests(struct coll_ctx *x, struct coll_req *mine, long n)
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
static int exchange_requests(struct coll_ctx *x, int prior, int64_t gap)
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
    rc = coll_mpi_rc(MPI_Alltoall(sc, 1, MPI_INT64_T, rcn, 1, MPI_INT64_T, c->comm));
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
    rc = coll_xchg(rc, pairs, sc, inpairs, rcn, c->comm, P);
    if (!rc) {
        for (int64_t i = 0; i < nin; i++) {
            x->in[i].off = inpairs[2 * i];
            x->in[i].len = inpairs[2 * i + 1];
            x->in[i].mem_off = 0;
        }
        /* union of all requests of my domain: each rank's list is sorted
         * (split_requests), so the lists are merged as they are; sorting
         * them all again took 0.37 s of a 0.64 s read of 2 M pieces */
        long ne = -1;
        if (coll_runs_sorted(x->in, x->in_start, x->in_cnt, P))
            ne = coll_merge_runs(x->in, x->in_start, x->in_cnt, P, gap, x->E);
        struct coll_req *all = ne < 0 ? malloc((size_t)(nin ? nin : 1) * sizeof *all) : NULL;
        if (ne >= 0)
            x->ne = (size_t)ne;
        else if (!all)
            rc = HOMI_ENOMEM;
        else {
            memcpy(all, x->in, (size_t)nin * sizeof *all);
            coll_sort(all, (size_t)nin);
            x->ne = coll_merge(all, (size_t)nin, gap, x->E);
        }
        free(all);
    }
    free(inpairs);
    free(sc);
    free(rcn);
    free(pairs);
    return rc;
}

/* IPC: aggregators publish their window, peers map it (cached). */
static int publish_windows(struct coll_ctx *x)
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
    int r2 =
        coll_mpi_rc(MPI_Allgather(&me, sizeof me, MPI_BYTE, all, sizeof me, MPI_BYTE, c->comm));
    if (!rc) rc = r2;
    for (int a = 0; !rc && a < x->naggr; a++) {
        int ar = x->aggr[a];
        if (!coll_pair_ipc(x, ar, c->rank) || !x->req_cnt[a]) continue;
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

int coll_ranks(struct coll_ctx *x, int prior, const struct coll_req *mine, long n)
{
    homi_coll *c = x->c;
    int rc = prior;
    struct rank_info me = {.lo = 0, .hi = 0, .kind = HOMI_MEM_HOST, .device = -1};
    x->kind = HOMI_MEM_HOST;
    x->dev = -1;
    if (!rc && n) {
        int64_t mhi = 0, sum = 0;
        me.lo = INT64_MAX;
        for (long i = 0; i < n; i++) {
            sum += mine[i].len;
            if (mine[i].off < me.lo) me.lo = mine[i].off;
            if (mine[i].off + mine[i].len > me.hi) me.hi = mine[i].off + mine[i].len;
            if (mine[i].mem_off + mine[i].len > mhi) mhi = mine[i].mem_off + mine[i].len;
        }
        me.mean_len = sum / n;
        if (!x->buf)
            rc = HOMI_EINVAL;
        else {
            int k = homi_mem_kind_of(x->buf, (size_t)mhi, &x->dev);
            if (k < 0)
                rc = k;
            else
                me.kind = k;
            me.device = x->dev;
        }
        x->kind = me.kind;
    }
    x->ri = calloc((size_t)c->size, sizeof *x->ri);
    int r1 = x->ri ? coll_mpi_rc(MPI_Allgather(&me, sizeof me, MPI_BYTE, x->ri, sizeof me, MPI_BYTE,
                                               c->comm))
                   : HOMI_ENOMEM;
    if (!rc) rc = r1;
    int bad;
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    return bad;
}

int coll_interleaved(const struct coll_ctx *x)
{
    const struct rank_info *ri = x->ri;
    for (int i = 0; i < x->c->size; i++)
        for (int j = i + 1; j < x->c->size; j++)
            if (ri[i].hi > ri[i].lo && ri[j].hi > ri[j].lo && ri[i].lo < ri[j].hi &&
                ri[j].lo < ri[i].hi)
                return 1;
    return 0;
}

/* Is every rank's mean piece at least min bytes long (ranks that read
 * nothing do not count)? */
static int all_long(const struct coll_ctx *x, int64_t min)
{
    for (int i = 0; i < x->c->size; i++)
        if (x->ri[i].hi > x->ri[i].lo && x->ri[i].mean_len < min) return 0;
    return 1;
}

int coll_begin(struct coll_ctx *x, const homi_coll_seg *segs, size_t nsegs, int64_t eof, int cb,
               int64_t indep_min, struct coll_req **mine, long *n, int64_t *total, int *two_phase)
{
    int rc = HOMI_OK;
    *total = 0;
    *n = 0;
    *two_phase = 0;
    *mine = malloc((nsegs ? nsegs : 1) * sizeof **mine);
    if (!*mine)
        rc = HOMI_ENOMEM;
    else if ((*n = coll_clip(segs, nsegs, eof, *mine, total)) < 0)
        rc = HOMI_EINVAL;
    int bad = coll_ranks(x, rc, *mine, rc ? 0 : *n);
    if (bad) {
        free(*mine);
        *mine = NULL;
        coll_ctx_free(x);
        return bad;
    }
    homi_coll_info *ci = &x->c->info;
    if (cb == HOMI_COLL_ENABLE)
        *two_phase = 1;
    else if (cb == HOMI_COLL_DISABLE)
        ci->indep_why = "two-phase disabled (romio_cb_read / romio_cb_write)";
    else if (!coll_interleaved(x))
        ci->indep_why = "the ranks' file ranges do not interleave";
    else if (indep_min > 0 && all_long(x, indep_min))
        ci->indep_why = "every rank's pieces average at least homi_coll_indep_min";
    else
        *two_phase = 1;
    return HOMI_OK;
}

/* The aggregator's windows: GPU memory when its own buffer is on a GPU
 * (each aggregator sizes its own window: the other ranks are told piece by
 * piece), kept between calls. */
static int windows(struct coll_ctx *x)
{
    homi_coll *c = x->c;
    int rc = HOMI_OK, wk = x->kind == HOMI_MEM_DEVICE ? HOMI_MEM_DEVICE : HOMI_MEM_PINNED;
    size_t want = (size_t)x->win_size;
    if (!c->win[0] || c->win_kind != wk || c->win_cap < want || c->win_dev != x->dev ||
        c->win_alloc != c->nwin) {
        for (int w = 0; w < 2; w++) {
            if (c->win[w]) homi_mem_free(c->win_kind, c->win[w]);
            c->win[w] = NULL;
        }
        c->win_cap = 0;
        c->win_alloc = c->nwin;
        for (int w = 0; w < c->nwin && !rc; w++)
            rc = homi_mem_alloc((homi_mem_kind)wk, x->dev, want, (void **)&c->win[w]);
        if (!rc) {
            c->win_kind = wk;
            c->win_cap = want;
            c->win_dev = x->dev;
            c->win_gen++;
        }
    }
    c->info.is_aggr = 1;
    c->info.window_device = wk == HOMI_MEM_DEVICE;
    return rc;
}

int coll_setup(struct coll_ctx *x, struct coll_req *mine, long n, int64_t gap, int ucx,
               int *nrounds)
{
    homi_coll *c = x->c;
    int P = c->size, rc = HOMI_OK, bad;
    *nrounds = 0;
    x->my_aggr = -1;
    x->aggr = malloc((size_t)P * sizeof *x->aggr);
    x->req_cnt = calloc((size_t)P, sizeof *x->req_cnt);
    x->req_start = calloc((size_t)P, sizeof *x->req_start);
    x->in_cnt = calloc((size_t)P, sizeof *x->in_cnt);
    x->in_start = calloc((size_t)P, sizeof *x->in_start);
    x->in_cursor = calloc((size_t)P, sizeof *x->in_cursor);
    if (!x->aggr || !x->req_cnt || !x->req_start || !x->in_cnt || !x->in_start || !x->in_cursor)
        rc = HOMI_ENOMEM;
    if (!rc) {
        x->naggr = choose_aggregators(c, x->ri, x->aggr);
        for (int a = 0; a < x->naggr; a++)
            if (x->aggr[a] == c->rank) x->my_aggr = a;
        rc = split_requests(x, mine, n);
    }
    /* (errors before the exchange are agreed on inside it) */
    rc = exchange_requests(x, rc, gap);
    if (ucx) {
        int e = coll_ucx_route(x); /* collective when UCX starts */
        if (!rc) rc = e;
        coll_ucx_next_read(c->ucx);
        c->info.net_ucx = x->ucx_on;
        c->info.ucx_cuda = x->ucx_on && coll_ucx_cuda(c->ucx);
    }
    double t1 = coll_now_s();
    c->info.plan_s = t1 - x->t0;

    x->win_size = x->kind == HOMI_MEM_DEVICE && c->o.gpu_buffer_size ? c->o.gpu_buffer_size
                                                                     : c->o.cb_buffer_size;
    c->nwin = c->o.overlap == HOMI_COLL_DISABLE ? 1 : 2; /* the same on every rank */
    if (!rc && x->my_aggr >= 0) rc = windows(x);
    for (int a = 0; a < x->naggr; a++)
        for (int r = 0; r < P; r++)
            if (coll_pair_ipc(x, x->aggr[a], r)) x->ipc_any = 1;
    if (x->ipc_any) {
        int e = publish_windows(x);
        if (!rc) rc = e;
    }
    int mine_rounds = x->my_aggr >= 0 ? coll_win_count(x->E, x->ne, x->win_size) : 0;
    MPI_Allreduce(&mine_rounds, nrounds, 1, MPI_INT, MPI_MAX, c->comm);
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    c->info.setup_s = coll_now_s() - t1;
    c->info.naggr = x->naggr;
    c->info.rounds = *nrounds;
    return bad;
}

void coll_ctx_free(struct coll_ctx *x)
{
    free(x->ri);
    free(x->aggr);
    free(x->req);
    free(x->req_cnt);
    free(x->req_start);
    free(x->in);
    free(x->in_cnt);
    free(x->in_start);
    free(x->in_cursor);
    free(x->E);
}
