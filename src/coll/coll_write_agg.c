/* coll_write_agg.c - the two-phase collective write (homi_coll_write):
 * every rank's pieces gather into the aggregators' windows (GPU memory
 * when the aggregator's buffer is on a GPU: CUDA IPC from the ranks of its
 * node, straight from their device buffers; MPI through pinned host
 * memory otherwise), then each aggregator writes what its window holds
 * from there through libhomi (device memory through the staging
 * pipeline), by its writer threads while the next window fills.  An
 * aggregator's extents are the exact union of the pieces written into its
 * file domain, so the bytes between pieces (holes of a view) keep the
 * file's bytes: no read-modify-write.  The steps before the rounds are
 * coll_xchg.c's; when no two ranks' ranges meet, each rank writes its own
 * pieces (homi_coll_write_segs). */
#include <stdio.h>
#include <stdlib.h>

#include "coll_int.h"

/* A window being written by the writer threads. */
struct wqueued {
    unsigned ticket;
    int round;
};

/* The rounds.  *sentp (the caller frees it) gets, per round k, the bytes
 * this rank gave to it; *bad_round the first round that failed here (an
 * exchange, a copy or an aggregator's window write), nrounds when none
 * did. */
static int write_rounds(struct coll_ctx *x, int nrounds, int64_t **sentp, int *bad_round)
{
    homi_coll *c = x->c;
    int P = c->size, rc = HOMI_OK;
    *bad_round = nrounds;
    int64_t *cnt = calloc(4 * (size_t)P, sizeof *cnt);
    int64_t nin = 0, nreq = 0;
    for (int i = 0; i < P; i++)
        nin += x->in_cnt[i];
    for (int a = 0; a < x->naggr; a++)
        nreq += x->req_cnt[a];
    struct coll_piece *out = malloc((size_t)(nin + 1) * sizeof *out);
    struct coll_piece *inp = malloc((size_t)(nreq + 1) * sizeof *inp);
    int64_t *poff = calloc((size_t)P + 1, sizeof *poff);
    int64_t *sent = *sentp = calloc((size_t)(nrounds ? nrounds : 1), sizeof *sent);
    struct coll_buf sdata = {.kind = HOMI_MEM_PINNED, .dev = -1}, rdata = sdata;
    if (!cnt || !out || !inp || !poff || !sent) rc = HOMI_ENOMEM;
    int64_t *smeta = cnt, *rmeta = cnt + P, *sdat = cnt + 2 * P, *rdat = cnt + 3 * P;
    struct coll_win_it it;
    coll_win_begin(&it, x->E, x->ne);
    if (!rc && x->my_aggr >= 0 && nrounds) rc = coll_pool_get(c, 1);
    int bad;
    MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    if (bad) {
        *bad_round = 0;
        nrounds = 0;
    }
    rc = bad;
    struct wqueued q[2];
    int nq = 0;

    /* Every rank runs the same collective calls in every round; a local
     * error is carried into the next round's exchange (coll_xchg agrees on
     * it) and the round's last MPI_Allreduce ends the rounds everywhere. */
    for (int round = 0; round < nrounds; round++) {
        char *win = c->win[round % c->nwin];
        int64_t ws = 0, we = 0;
        size_t e0 = 0, nout = 0;
        memset(cnt, 0, 4 * (size_t)P * sizeof *cnt);
        double t = coll_now_s();
        /* aggregators: this buffer's last write must be over */
        if (x->my_aggr >= 0 && nq == c->nwin) {
            int r2 = coll_readers_wait(c->writers, q[0].ticket);
            if (r2 && *bad_round > q[0].round) *bad_round = q[0].round;
            if (!rc) rc = r2;
            q[0] = q[1];
            nq--;
        }
        c->info.wait_s += coll_now_s() - t;
        t = coll_now_s();
        int have =
            !rc && x->my_aggr >= 0 && coll_win_next(&it, x->E, x->ne, x->win_size, &ws, &we, &e0);
        for (int r = 0; r < P; r++) {
            poff[r] = (int64_t)nout;
            if (!have) continue;
            size_t np = coll_pieces(&x->in[x->in_start[r]], (size_t)x->in_cnt[r], &x->in_cursor[r],
                                    ws, we, out + nout);
            nout += np;
            smeta[r] = (int64_t)(np * sizeof *out);
        }
        poff[P] = (int64_t)nout;
        /* the pieces each rank gives to this round (meta: aggregator -> rank) */
        int mrc = MPI_Alltoall(smeta, 1, MPI_INT64_T, rmeta, 1, MPI_INT64_T, c->comm);
        if (!rc) rc = coll_mpi_rc(mrc);
        int64_t mtotal = 0;
        for (int r = 0; r < P; r++)
            mtotal += rmeta[r];
        if (!rc && (size_t)mtotal > (size_t)(nreq + 1) * sizeof *inp) rc = HOMI_EIO;
        rc = coll_xchg(rc, out, smeta, inp, rmeta, c->comm, P);
        c->info.comm_s += coll_now_s() - t;
        t = coll_now_s();
        /* rank side: my pieces into the aggregators' windows (mine and IPC
         * peers' directly), the rest packed for MPI in aggregator order */
        int64_t mpos = 0, stotal = 0;
        for (int a = 0; a < x->naggr && !rc; a++) {
            int ar = x->aggr[a];
            size_t np = (size_t)(rmeta[ar] / (int64_t)sizeof *inp);
            const struct coll_piece *p = inp + mpos / (int64_t)sizeof *inp;
            mpos += rmeta[ar];
            for (size_t k = 0; k < np; k++)
                sent[round] += p[k].len;
            if (np && ar != c->rank && !coll_pair_ipc(x, ar, c->rank))
                for (size_t k = 0; k < np; k++)
                    sdat[ar] += p[k].len;
            stotal += sdat[ar];
        }
        if (!rc && stotal) rc = coll_buf_ensure(&sdata, (size_t)stotal, HOMI_MEM_PINNED, -1);
        mpos = 0;
        int64_t spos = 0;
        for (int a = 0; a < x->naggr && !rc; a++) {
            int ar = x->aggr[a];
            size_t np = (size_t)(rmeta[ar] / (int64_t)sizeof *inp);
            const struct coll_piece *p = inp + mpos / (int64_t)sizeof *inp;
            const struct coll_req *rq = &x->req[x->req_start[a]];
            mpos += rmeta[ar];
            if (!np) continue;
            if (ar == c->rank) {
                rc = coll_put_pieces(rq, p, np, x->buf, x->kind, win, 0, c->win_kind, x->dev);
                for (size_t k = 0; k < np; k++)
                    c->info.self_bytes += (uint64_t)p[k].len;
            } else if (coll_pair_ipc(x, ar, c->rank)) {
                rc = coll_put_pieces(rq, p, np, x->buf, x->kind,
                                     c->peer_map[2 * ar + round % c->nwin], 0, HOMI_MEM_DEVICE,
                                     x->dev);
                for (size_t k = 0; k < np; k++)
                    c->info.ipc_bytes += (uint64_t)p[k].len;
            } else {
                rc = coll_put_pieces(rq, p, np, x->buf, x->kind, sdata.p + spos, 1, HOMI_MEM_PINNED,
                                     x->dev);
                spos += sdat[ar];
                c->info.mpi_bytes += (uint64_t)sdat[ar];
            }
        }
        c->info.copy_s += coll_now_s() - t;
        t = coll_now_s();
        /* packed bytes: rank -> aggregator */
        mrc = MPI_Alltoall(sdat, 1, MPI_INT64_T, rdat, 1, MPI_INT64_T, c->comm);
        if (!rc) rc = coll_mpi_rc(mrc);
        int64_t dtotal = 0;
        for (int r = 0; r < P; r++)
            dtotal += rdat[r];
        if (!rc && dtotal) rc = coll_buf_ensure(&rdata, (size_t)dtotal, HOMI_MEM_PINNED, -1);
        rc = coll_xchg(rc, sdata.p, sdat, rdata.p, rdat, c->comm, P);
        c->info.comm_s += coll_now_s() - t;
        t = coll_now_s();
        if (!rc && dtotal)
            rc = coll_scatter_pieces(out, poff, rdat, P, rdata.p, win, c->win_kind, c->win_dev);
        c->info.copy_s += coll_now_s() - t;
        t = coll_now_s();
        /* the peers' IPC copies are over (homi_mem_copyv returns when they
         * are): the window is complete; and agree on this round */
        int r2 = rc;
        MPI_Allreduce(&r2, &rc, 1, MPI_INT, MPI_MIN, c->comm);
        c->info.comm_s += coll_now_s() - t;
        if (rc) {
            if (*bad_round > round) *bad_round = round;
            break;
        }
        if (have) {
            int parts = 0;
            int r3 = coll_pool_start(c->writers, 1, x->E, x->ne, e0, ws, we, win, c->o.read_streams,
                                     &parts, &q[nq].ticket);
            if (r3) {
                rc = r3; /* agreed on in the next round's exchange, or below */
                if (*bad_round > round) *bad_round = round;
            } else {
                q[nq++].round = round;
                c->info.read_parts += (uint64_t)parts;
            }
            if (c->nwin == 1 && nq) { /* one window: written before the next round */
                double tw = coll_now_s();
                int r4 = coll_readers_wait(c->writers, q[0].ticket);
                if (r4 && *bad_round > round) *bad_round = round;
                if (!rc) rc = r4;
                nq = 0;
                c->info.wait_s += coll_now_s() - tw;
            }
        }
        /* a local error now is agreed on by the next round's exchange;
         * the last round's by the caller */
    }
    double t = coll_now_s();
    for (int i = 0; i < nq; i++) { /* the last windows' writes */
        int r2 = coll_readers_wait(c->writers, q[i].ticket);
        if (r2 && *bad_round > q[i].round) *bad_round = q[i].round;
        if (!rc) rc = r2;
    }
    c->info.wait_s += coll_now_s() - t;
    coll_buf_free(&sdata);
    coll_buf_free(&rdata);
    free(cnt);
    free(out);
    free(inp);
    free(poff);
    return rc;
}

int homi_coll_write(homi_coll *c, const void *buf, const homi_coll_seg *segs, size_t nsegs,
                    homi_coll_wbounce *wb, int64_t *bytes)
{
    int rc = HOMI_OK;
    struct coll_ctx x = {.c = c, .buf = (char *)(uintptr_t)buf, .my_aggr = -1};
    memset(&c->info, 0, sizeof c->info);
    c->info.nodes = c->nnodes;
    x.t0 = coll_now_s();
    if (bytes) *bytes = 0;

    struct coll_req *mine;
    long n;
    int64_t total;
    int two_phase;
    int bad =
        coll_begin(&x, segs, nsegs, INT64_MAX, c->o.cb_write, 0, &mine, &n, &total, &two_phase);
    if (bad) return bad;

    /* each rank its own pieces when asked to, or when no two ranks'
     * ranges meet (nothing to combine) */
    if (!two_phase) {
        free(mine);
        coll_ctx_free(&x);
        int64_t put = 0;
        rc = homi_coll_write_segs(c->file, buf, segs, nsegs, wb, &put);
        MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
        if (bytes) *bytes = put;
        coll_indep_done(c, x.t0, 1, put);
        return bad;
    }

    /* extents merged across no gap: holes are never written */
    int nrounds = 0, bad_round = 0;
    int64_t *sent = NULL;
    bad = coll_setup(&x, mine, n, 0, 0, &nrounds);
    if (!bad) {
        rc = write_rounds(&x, nrounds, &sent, &bad_round);
        MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    }
    int64_t put = total;
    if (bad) { /* my bytes of the rounds before the first one that failed anywhere */
        int all_first = bad_round;
        MPI_Allreduce(&bad_round, &all_first, 1, MPI_INT, MPI_MIN, c->comm);
        put = 0;
        for (int k = 0; sent && k < all_first; k++)
            put += sent[k];
    }
    if (bytes) *bytes = put;
    c->info.total_s = coll_now_s() - x.t0;
    coll_trace(c, 1, nrounds);
    free(sent);
    free(mine);
    coll_ctx_free(&x);
    return bad;
}
