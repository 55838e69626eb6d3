/* coll_copy.c - moving a window's pieces in memory: placing them into a
 * reader's buffer (coll_copy_pieces), gathering them into one contiguous
 * send buffer for the MPI and UCX routes (coll_gather_pieces); for writes
 * the other way round (coll_put_pieces, coll_scatter_pieces); and the
 * cached buffers those routes reuse from round to round (coll_buf).
 * Host-to-host copies are memcpy; a device on either side makes the whole
 * list one homi_mem_copyv batch. */
#include <stdlib.h>

#include "coll_int.h"

/* A list of copies: done at once (host) or collected for homi_mem_copyv. */
struct copies {
    void **d;
    const void **s;
    size_t *l;
    size_t n;
    int host;
};

static int copies_begin(struct copies *c, size_t max, int host)
{
    *c = (struct copies){.host = host};
    if (host || !max) return HOMI_OK;
    c->d = malloc(max * sizeof *c->d);
    c->s = malloc(max * sizeof *c->s);
    c->l = malloc(max * sizeof *c->l);
    if (c->d && c->s && c->l) return HOMI_OK;
    free(c->d);
    free(c->s);
    free(c->l);
    return HOMI_ENOMEM;
}

static void copies_add(struct copies *c, void *d, const void *s, size_t l)
{
    if (c->host) {
        memcpy(d, s, l);
        return;
    }
    c->d[c->n] = d;
    c->s[c->n] = s;
    c->l[c->n++] = l;
}

static int copies_end(struct copies *c, int device)
{
    int rc = HOMI_OK;
    if (c->n) rc = homi_mem_copyv((unsigned)c->n, c->d, c->s, c->l, device);
    free(c->d);
    free(c->s);
    free(c->l);
    return rc;
}

static int host_only(int a_kind, int b_kind)
{
    return a_kind != HOMI_MEM_DEVICE && b_kind != HOMI_MEM_DEVICE;
}

int coll_copy_pieces(const struct coll_req *r, const struct coll_piece *p, size_t np,
                     const char *src_base, int src_packed, char *dst, int dst_kind, int src_kind,
                     int device)
{
    struct copies cp;
    int rc = copies_begin(&cp, np, host_only(dst_kind, src_kind));
    if (rc) return rc;
    int64_t pos = 0;
    for (size_t i = 0; i < np; i++) {
        copies_add(&cp, dst + r[p[i].req].mem_off + p[i].inner,
                   src_base + (src_packed ? pos : p[i].buf_off), (size_t)p[i].len);
        pos += p[i].len;
    }
    return copies_end(&cp, device);
}

int64_t coll_gather_pieces(const struct coll_piece *out, const int64_t *poff, const int64_t *bytes,
                           int nranks, const char *src, int src_kind, char *dst, int dst_kind,
                           int device)
{
    size_t npc = 0;
    for (int r = 0; r < nranks; r++)
        if (bytes[r]) npc += (size_t)(poff[r + 1] - poff[r]);
    struct copies cp;
    int rc = copies_begin(&cp, npc, host_only(dst_kind, src_kind));
    if (rc) return rc;
    int64_t pos = 0;
    for (int r = 0; r < nranks; r++) {
        if (!bytes[r]) continue;
        for (int64_t k = poff[r]; k < poff[r + 1]; k++) {
            copies_add(&cp, dst + pos, src + out[k].buf_off, (size_t)out[k].len);
            pos += out[k].len;
        }
    }
    rc = copies_end(&cp, device);
    return rc ? rc : pos;
}

int coll_put_pieces(const struct coll_req *r, const struct coll_piece *p, size_t np,
                    const char *buf, int buf_kind, char *dst, int dst_packed, int dst_kind,
                    int device)
{
    struct copies cp;
    int rc = copies_begin(&cp, np, host_only(dst_kind, buf_kind));
    if (rc) return rc;
    int64_t pos = 0;
    for (size_t i = 0; i < np; i++) {
        copies_add(&cp, dst + (dst_packed ? pos : p[i].buf_off),
                   buf + r[p[i].req].mem_off + p[i].inner, (size_t)p[i].len);
        pos += p[i].len;
    }
    return copies_end(&cp, device);
}

int coll_scatter_pieces(const struct coll_piece *out, const int64_t *poff, const int64_t *bytes,
                        int nranks, const char *src, char *win, int win_kind, int device)
{
    size_t npc = 0;
    for (int r = 0; r < nranks; r++)
        if (bytes[r]) npc += (size_t)(poff[r + 1] - poff[r]);
    struct copies cp;
    int rc = copies_begin(&cp, npc, host_only(win_kind, HOMI_MEM_PINNED));
    if (rc) return rc;
    int64_t pos = 0;
    for (int r = 0; r < nranks; r++) {
        if (!bytes[r]) continue;
        for (int64_t k = poff[r]; k < poff[r + 1]; k++) {
            copies_add(&cp, win + out[k].buf_off, src + pos, (size_t)out[k].len);
            pos += out[k].len;
        }
    }
    return copies_end(&cp, device);
}

int coll_buf_ensure(struct coll_buf *b, size_t want, int kind, int dev)
{
    if (b->p && b->cap >= want && b->kind == kind && b->dev == dev) return HOMI_OK;
    coll_buf_free(b);
    int rc = homi_mem_alloc((homi_mem_kind)kind, dev, want ? want : 1, (void **)&b->p);
    if (rc) {
        b->p = NULL;
        return rc;
    }
    b->cap = want;
    b->kind = kind;
    b->dev = dev;
    return HOMI_OK;
}

void coll_buf_free(struct coll_buf *b)
{
    if (b->p) homi_mem_free((homi_mem_kind)b->kind, b->p);
    b->p = NULL;
    b->cap = 0;
}
