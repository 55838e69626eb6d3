/* coll_state.c - a communicator's collective I/O state (homi_coll): its
 * options, the grouping of ranks into nodes, and what it keeps between
 * calls (windows, IPC mappings, reader and writer threads, UCX). */
#include <stdio.h>
#include <stdlib.h>

#include "coll_int.h"
#include "coll_ucx.h"

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
    o->indep_min = 1 << 20;
}

/* Node id = lowest rank of the node's shared-memory communicator. */
static int real_nodes(homi_coll *c)
{
    MPI_Comm shm;
    if (MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &shm))
        return HOMI_EIO;
    int id = c->rank, low;
    int rc = coll_mpi_rc(MPI_Allreduce(&id, &low, 1, MPI_INT, MPI_MIN, shm));
    MPI_Comm_free(&shm);
    if (!rc) rc = coll_mpi_rc(MPI_Allgather(&low, 1, MPI_INT, c->rnode, 1, MPI_INT, c->comm));
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
           o->cb_write >= 0 && o->cb_write <= 2 && o->net <= 2 && o->read_streams >= 1 &&
           o->read_streams <= COLL_MAX_STREAMS && o->indep_min >= 0 &&
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
    coll_readers_free(c->writers);
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

int coll_pool_get(homi_coll *c, int write)
{
    struct coll_readers **pool = write ? &c->writers : &c->readers;
    int *have = write ? &c->writers_n : &c->readers_n;
    int want = c->nwin > 1 ? c->o.read_streams : c->o.read_streams - 1;
    if (*pool && *have != want) {
        coll_readers_free(*pool);
        *pool = NULL;
    }
    if (*pool) return HOMI_OK;
    *have = want;
    return coll_readers_new(want, c->file, pool);
}

void coll_indep_done(homi_coll *c, double t0, int write, int64_t bytes)
{
    c->info.total_s = coll_now_s() - t0;
    const char *trace = getenv("HOMI_COLL_TRACE");
    if (!trace || !*trace || *trace == '0') return;
    fprintf(stderr, "homi_coll: rank %d: %sindependent, %.3f s, %lld bytes: %s\n", c->rank,
            write ? "write: " : "", c->info.total_s, (long long)bytes,
            c->info.indep_why ? c->info.indep_why : "?");
}

void coll_trace(const homi_coll *c, int write, int nrounds)
{
    const char *trace = getenv("HOMI_COLL_TRACE");
    if (!trace || !*trace || *trace == '0') return;
    const homi_coll_info *i = &c->info;
    char net[96] = ""; /* reads: the route between nodes */
    if (!write)
        snprintf(net, sizeof net, " ucx %llu; net %s", (unsigned long long)i->ucx_bytes,
                 i->net_ucx ? (i->ucx_cuda ? "ucx (cuda)" : "ucx (host memory)") : "mpi");
    fprintf(stderr,
            "homi_coll: rank %d%s: %s%d rounds, %.3f s = plan %.3f + setup %.3f + %s wait %.3f + "
            "copies %.3f + MPI %.3f; bytes ipc %llu mpi %llu self %llu%s; %llu window parts %s\n",
            c->rank, i->is_aggr ? " (aggregator)" : "", write ? "write: " : "", nrounds, i->total_s,
            i->plan_s, i->setup_s, write ? "write" : "read", i->wait_s, i->copy_s, i->comm_s,
            (unsigned long long)i->ipc_bytes, (unsigned long long)i->mpi_bytes,
            (unsigned long long)i->self_bytes, net, (unsigned long long)i->read_parts,
            write ? "written" : "read");
}
