/* coll_read.c - the two-phase collective read (homi_coll_read): rounds
 * of window reads by the aggregators (their reader threads) and
 * redistribution (CUDA IPC inside a node, UCX or MPI through host memory
 * otherwise: coll_ucx.c), and the collective error agreement.  The steps
 * before the rounds are coll_xchg.c's. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "coll_int.h"
#include "coll_ucx.h"

/* A window being read by the reader threads, in the order started. */
struct queued {
    unsigned ticket;
    int64_t ws, we;
};

/* Start reading the next window of my domain into buf and queue it at
 * q[*nq]; 1 when one was started, 0 when none is left or on an error
 * (then *rc, when still HOMI_OK, gets it). */
static int start_window(struct coll_ctx *x, struct coll_win_it *it, char *buf, struct queued *q,
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

static int run_rounds(struct coll_ctx *x, int nrounds)
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
        rc = coll_pool_get(c, 0);
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
        double t = coll_now_s();
        if (x->my_aggr >= 0 && nq) {
            int r2 = coll_readers_wait(c->readers, q[0].ticket);
            if (!rc) rc = r2;
            have = !rc;
            ws = q[0].ws;
            we = q[0].we;
            q[0] = q[1];
            nq--;
        }
        c->info.wait_s += coll_now_s() - t;
        t = coll_now_s();
        if (!rc && x->my_aggr >= 0) {
            for (int r = 0; r < P && have; r++) {
                poff[r] = (int64_t)nout;
                size_t np = coll_pieces(&x->in[x->in_start[r]], (size_t)x->in_cnt[r],
                                        &x->in_cursor[r], ws, we, out + nout);
                nout += np;
                smeta[r] = (int64_t)(np * sizeof *out);
                int64_t *to = coll_pair_ucx(x, c->rank, r) ? &usnd[r] : &sdat[r];
                if (!coll_pair_ipc(x, c->rank, r) && r != c->rank)
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
        c->info.copy_s += coll_now_s() - t;
        t = coll_now_s();
        /* counts: metadata and data bytes from each aggregator */
        for (int r = 0; r < P; r++) {
            s2[2 * r] = smeta[r];
            s2[2 * r + 1] = sdat[r] + usnd[r];
        }
        int mrc = MPI_Alltoall(s2, 2, MPI_INT64_T, rr, 2, MPI_INT64_T, c->comm);
        if (!rc) rc = coll_mpi_rc(mrc);
        for (int r = 0; r < P; r++) {
            rmeta[r] = rr[2 * r];
            rdat[r] = rr[2 * r + 1];
            if (coll_pair_ucx(x, r, c->rank)) { /* UCX bytes stay out of the MPI exchange */
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
        rc = coll_xchg(rc, out, smeta, inp, rmeta, c->comm, P);
        if (!rc && dtotal) rc = coll_buf_ensure(&rdata, (size_t)dtotal, HOMI_MEM_PINNED, -1);
        rc = coll_xchg(rc, sdata.p, sdat, rdata.p, rdat, c->comm, P);
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
        c->info.comm_s += coll_now_s() - t;
        t = coll_now_s();
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
            } else if (coll_pair_ipc(x, ar, c->rank)) {
                rc = coll_copy_pieces(rq, p, np, c->peer_map[2 * ar + round % c->nwin], 0, x->buf,
                                      x->kind, HOMI_MEM_DEVICE, x->dev);
                for (size_t k = 0; k < np; k++)
                    c->info.ipc_bytes += (uint64_t)p[k].len;
            } else if (coll_pair_ucx(x, ar, c->rank)) {
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
        c->info.copy_s += coll_now_s() - t;
        t = coll_now_s();
        /* peers must be done with my window before I overwrite it (the
         * window of round r + 1 was last read by peers in round r - 1) */
        if (x->ipc_any) MPI_Barrier(c->comm);
        c->info.comm_s += coll_now_s() - t;
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
    int rc = HOMI_OK;
    struct coll_ctx x = {.c = c, .buf = buf, .kind = HOMI_MEM_HOST, .dev = -1, .my_aggr = -1};
    memset(&c->info, 0, sizeof c->info);
    c->info.nodes = c->nnodes;
    x.t0 = coll_now_s();
    if (bytes) *bytes = 0;

    /* end of file: one view for all ranks */
    int64_t eof = c->rank == 0 ? homi_file_size(c->file) : 0;
    MPI_Bcast(&eof, 1, MPI_INT64_T, 0, c->comm);
    if (eof < 0) return (int)eof;

    struct coll_req *mine;
    long n;
    int64_t total;
    int two_phase;
    int bad = coll_begin(&x, segs, nsegs, eof, c->o.cb_read, c->o.indep_min, &mine, &n, &total,
                         &two_phase);
    if (bad) return bad;

    /* independent reads when asked to, when no two ranks' ranges meet, or
     * when every rank's pieces are long (indep_min) */
    if (!two_phase) {
        free(mine);
        coll_ctx_free(&x);
        int64_t got = 0;
        rc = homi_coll_read_indep(c->file, &c->o, buf, segs, nsegs, &got);
        MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
        if (bytes) *bytes = got;
        coll_indep_done(c, x.t0, 0, got);
        return bad;
    }

    int nrounds = 0;
    bad = coll_setup(&x, mine, n, c->o.sieve_gap, 1, &nrounds);
    if (!bad) {
        rc = run_rounds(&x, nrounds);
        MPI_Allreduce(&rc, &bad, 1, MPI_INT, MPI_MIN, c->comm);
    }
    c->info.total_s = coll_now_s() - x.t0;
    coll_trace(c, 0, nrounds);
    if (!bad && bytes) *bytes = total;
    free(mine);
    coll_ctx_free(&x);
    return bad;
}
