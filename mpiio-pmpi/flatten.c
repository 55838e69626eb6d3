/* flatten.c - the layer's datatype flattener: any MPI datatype as byte
 * blocks in type-map order, read with MPI_Type_get_envelope and
 * MPI_Type_get_contents (every constructor: contiguous, vector, hvector,
 * indexed, hindexed, indexed_block, hindexed_block, struct, subarray,
 * darray, resized, dup, nested).  The result is kept as an attribute of the
 * datatype and freed with it. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

/* growing block list; adjacent blocks merge */
struct blist {
    int64_t n, cap;
    MPI_Offset *off, *len;
    int oom;
};

static void add(struct blist *b, int64_t off, int64_t len)
{
    if (len <= 0 || b->oom) return;
    if (b->n && b->off[b->n - 1] + b->len[b->n - 1] == off) {
        b->len[b->n - 1] += len;
        return;
    }
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 16;
        MPI_Offset *o = realloc(b->off, (size_t)cap * sizeof *o);
        if (o) b->off = o;
        MPI_Offset *l = o ? realloc(b->len, (size_t)cap * sizeof *l) : NULL;
        if (!l) {
            b->oom = 1;
            return;
        }
        b->len = l;
        b->cap = cap;
    }
    b->off[b->n] = off;
    b->len[b->n] = len;
    b->n++;
}

/* n copies of child c (extent step bytes apart) starting at base */
static void add_rep(struct blist *b, const lyr_flat *c, int64_t base, int64_t n, int64_t step)
{
    if (n <= 0) return;
    if (c->n == 1 && c->len[0] == step) { /* dense child: one block */
        add(b, base + c->off[0], n * step);
        return;
    }
    for (int64_t i = 0; i < n && !b->oom; i++)
        for (int64_t j = 0; j < c->n; j++)
            add(b, base + i * step + c->off[j], c->len[j]);
}

/* the C layout of MPI_SHORT_INT */
struct short_int {
    short s;
    int i;
};

static int is_named(MPI_Datatype t)
{
    int ni, na, nd, comb;
    PMPI_Type_get_envelope(t, &ni, &na, &nd, &comb);
    return comb == MPI_COMBINER_NAMED;
}

static lyr_flat *flatten(MPI_Datatype t);

/* child of a constructor: flattened, and freed if the MPI library handed us
 * a new handle */
static lyr_flat *child(MPI_Datatype c)
{
    lyr_flat *f = lyr_flat_get(c);
    if (!is_named(c)) PMPI_Type_free(&c);
    return f;
}

/* global indices this process owns along one darray dimension */
static int64_t darray_dim(int g, int distrib, int darg, int psize, int coord, int64_t *idx)
{
    int64_t n = 0;
    if (distrib == MPI_DISTRIBUTE_NONE) {
        for (int i = 0; i < g; i++)
            idx[n++] = i;
    } else if (distrib == MPI_DISTRIBUTE_BLOCK) {
        int64_t b = darg == MPI_DISTRIBUTE_DFLT_DARG ? (g + psize - 1) / psize : darg;
        for (int64_t i = coord * b; i < (coord + 1) * b && i < g; i++)
            idx[n++] = i;
    } else { /* CYCLIC */
        int64_t b = darg == MPI_DISTRIBUTE_DFLT_DARG ? 1 : darg;
        for (int64_t k = coord * b; k < g; k += (int64_t)psize * b)
            for (int64_t i = k; i < k + b && i < g; i++)
                idx[n++] = i;
    }
    return n;
}

/* elements (of extent oext) at the given per-dimension index lists of an
 * array of sizes gs[], in order (C: last dimension fastest) */
static void array_elems(struct blist *b, const lyr_flat *c, int nd, const int *gs, int64_t **idx,
                        const int64_t *cnt, int order_c)
{
    int64_t stride[32], pos[32];
    int64_t s = c->ext;
    for (int k = 0; k < nd; k++) { /* dimension d in storage order, fastest first */
        int d = order_c ? nd - 1 - k : k;
        stride[d] = s;
        s *= gs[d];
    }
    for (int d = 0; d < nd; d++) {
        if (!cnt[d]) return;
        pos[d] = 0;
    }
    int fast = order_c ? nd - 1 : 0;
    for (;;) {
        int64_t off = 0;
        for (int d = 0; d < nd; d++)
            if (d != fast) off += idx[d][pos[d]] * stride[d];
        /* the fastest dimension: runs of consecutive indices */
        for (int64_t i = 0; i < cnt[fast] && !b->oom;) {
            int64_t j = i + 1;
            while (j < cnt[fast] && idx[fast][j] == idx[fast][j - 1] + 1)
                j++;
            add_rep(b, c, off + idx[fast][i] * stride[fast], j - i, c->ext);
            i = j;
        }
        int k = 1;
        for (; k < nd; k++) {
            int d = order_c ? nd - 1 - k : k;
            if (++pos[d] < cnt[d]) break;
            pos[d] = 0;
        }
        if (k == nd) return;
    }
}

static int subarray(struct blist *b, const int *ints, const lyr_flat *c)
{
    int nd = ints[0];
    const int *gs = ints + 1, *ss = ints + 1 + nd, *st = ints + 1 + 2 * nd;
    int order_c = ints[1 + 3 * nd] == MPI_ORDER_C;
    if (nd < 1 || nd > 32) return -1;
    int64_t *idx[32], cnt[32];
    int rc = 0;
    for (int d = 0; d < nd; d++) {
        idx[d] = malloc(((size_t)ss[d] + 1) * sizeof(int64_t));
        if (!idx[d]) rc = -1;
        cnt[d] = ss[d];
        for (int i = 0; idx[d] && i < ss[d]; i++)
            idx[d][i] = st[d] + i;
    }
    if (!rc) array_elems(b, c, nd, gs, idx, cnt, order_c);
    for (int d = 0; d < nd; d++)
        free(idx[d]);
    return rc;
}

static int darray(struct blist *b, const int *ints, const lyr_flat *c)
{
    int size = ints[0], rank = ints[1], nd = ints[2];
    const int *gs = ints + 3, *dist = ints + 3 + nd, *darg = ints + 3 + 2 * nd,
              *ps = ints + 3 + 3 * nd;
    int order_c = ints[3 + 4 * nd] == MPI_ORDER_C;
    (void)size;
    if (nd < 1 || nd > 32) return -1;
    int64_t *idx[32], cnt[32];
    int coords[32], r = rank, rc = 0;
    for (int d = nd - 1; d >= 0; d--) { /* process grid: row-major */
        coords[d] = r % ps[d];
        r /= ps[d];
    }
    for (int d = 0; d < nd; d++) {
        idx[d] = malloc(((size_t)gs[d] + 1) * sizeof(int64_t));
        if (!idx[d]) {
            rc = -1;
            cnt[d] = 0;
            continue;
        }
        cnt[d] = darray_dim(gs[d], dist[d], darg[d], ps[d], coords[d], idx[d]);
    }
    if (!rc) array_elems(b, c, nd, gs, idx, cnt, order_c);
    for (int d = 0; d < nd; d++)
        free(idx[d]);
    return rc;
}

/* blocks of a constructor with its contents */
static int build(struct blist *b, int comb, const int *ints, const MPI_Aint *aints,
                 lyr_flat *const *kids)
{
    const lyr_flat *c = kids[0];
    switch (comb) {
    case MPI_COMBINER_DUP:
    case MPI_COMBINER_RESIZED: add_rep(b, c, 0, 1, c->ext); return 0;
    case MPI_COMBINER_CONTIGUOUS: add_rep(b, c, 0, ints[0], c->ext); return 0;
    case MPI_COMBINER_VECTOR:
    case MPI_COMBINER_HVECTOR: {
        int64_t stride = comb == MPI_COMBINER_VECTOR ? (int64_t)ints[2] * c->ext : aints[0];
        for (int i = 0; i < ints[0] && !b->oom; i++)
            add_rep(b, c, i * stride, ints[1], c->ext);
        return 0;
    }
    case MPI_COMBINER_INDEXED:
    case MPI_COMBINER_HINDEXED: {
        int n = ints[0];
        for (int i = 0; i < n && !b->oom; i++) {
            int64_t d = comb == MPI_COMBINER_INDEXED ? (int64_t)ints[1 + n + i] * c->ext : aints[i];
            add_rep(b, c, d, ints[1 + i], c->ext);
        }
        return 0;
    }
    case MPI_COMBINER_INDEXED_BLOCK:
    case MPI_COMBINER_HINDEXED_BLOCK: {
        int n = ints[0];
        for (int i = 0; i < n && !b->oom; i++) {
            int64_t d =
                comb == MPI_COMBINER_INDEXED_BLOCK ? (int64_t)ints[2 + i] * c->ext : aints[i];
            add_rep(b, c, d, ints[1], c->ext);
        }
        return 0;
    }
    case MPI_COMBINER_STRUCT: {
        int n = ints[0];
        for (int i = 0; i < n && !b->oom; i++)
            add_rep(b, kids[i], aints[i], ints[1 + i], kids[i]->ext);
        return 0;
    }
    case MPI_COMBINER_SUBARRAY: return subarray(b, ints, c);
    case MPI_COMBINER_DARRAY: return darray(b, ints, c);
    default: return -1;
    }
}

static lyr_flat *flat_new(struct blist *b, MPI_Datatype t)
{
    lyr_flat *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    MPI_Aint lb, ext;
    MPI_Count size;
    PMPI_Type_get_extent(t, &lb, &ext);
    PMPI_Type_size_x(t, &size);
    atomic_init(&f->ref, 1);
    f->n = b->n;
    f->off = b->off;
    f->len = b->len;
    f->lb = lb;
    f->ext = ext;
    f->size = size;
    return f;
}

static lyr_flat *flatten(MPI_Datatype t)
{
    int ni, na, nd, comb;
    struct blist b = {0};
    PMPI_Type_get_envelope(t, &ni, &na, &nd, &comb);
    if (comb == MPI_COMBINER_NAMED || comb == MPI_COMBINER_F90_REAL ||
        comb == MPI_COMBINER_F90_COMPLEX || comb == MPI_COMBINER_F90_INTEGER) {
        int size;
        PMPI_Type_size(t, &size);
        if (t == MPI_SHORT_INT) { /* short, pad, int */
            add(&b, 0, sizeof(short));
            add(&b, offsetof(struct short_int, i), sizeof(int));
        } else {
            add(&b, 0, size);
        }
        if (b.oom) goto fail;
        return flat_new(&b, t);
    }
    int *ints = malloc(((size_t)ni + 1) * sizeof *ints);
    MPI_Aint *aints = malloc(((size_t)na + 1) * sizeof *aints);
    MPI_Datatype *types = malloc(((size_t)nd + 1) * sizeof *types);
    lyr_flat **kids = calloc((size_t)nd + 1, sizeof *kids);
    int rc = -1;
    if (ints && aints && types && kids) {
        PMPI_Type_get_contents(t, ni, na, nd, ints, aints, types);
        rc = 0;
        for (int i = 0; i < nd; i++)
            if (!(kids[i] = child(types[i]))) rc = -1;
        if (!rc && nd) rc = build(&b, comb, ints, aints, kids);
    }
    for (int i = 0; kids && i < nd; i++)
        lyr_flat_put(kids[i]);
    free(ints);
    free(aints);
    free(types);
    free(kids);
    if (rc || b.oom) goto fail;
    return flat_new(&b, t);
fail:
    free(b.off);
    free(b.len);
    return NULL;
}

void lyr_flat_put(lyr_flat *f)
{
    if (!f || atomic_fetch_sub(&f->ref, 1) != 1) return;
    free(f->off);
    free(f->len);
    free(f);
}

int lyr_flat_dense(const lyr_flat *f)
{
    return f->n == 1 && f->len[0] == f->ext && f->off[0] == f->lb;
}

/* ------------------------------------------------------------ cache */

static int keyval = MPI_KEYVAL_INVALID;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int drop_attr(MPI_Datatype t, int kv, void *val, void *extra)
{
    (void)t;
    (void)kv;
    (void)extra;
    lyr_flat_put(val);
    return MPI_SUCCESS;
}

/* cached flattened form of t, with a reference taken; NULL if none */
static lyr_flat *cached(MPI_Datatype t)
{
    void *val = NULL;
    int flag = 0;
    PMPI_Type_get_attr(t, keyval, &val, &flag);
    if (!flag || !val) return NULL;
    lyr_flat *f = val;
    atomic_fetch_add(&f->ref, 1);
    return f;
}

lyr_flat *lyr_flat_get(MPI_Datatype t)
{
    if (is_named(t)) return flatten(t); /* predefined: cheap, no attribute */
    pthread_mutex_lock(&cache_lock);
    if (keyval == MPI_KEYVAL_INVALID)
        PMPI_Type_create_keyval(MPI_TYPE_NULL_COPY_FN, drop_attr, &keyval, NULL);
    lyr_flat *f = cached(t);
    pthread_mutex_unlock(&cache_lock);
    if (f) return f;
    lyr_flat *mine = flatten(t); /* unlocked: flattens (and caches) children */
    if (!mine) return NULL;
    pthread_mutex_lock(&cache_lock);
    if ((f = cached(t))) { /* another thread was first */
        lyr_flat_put(mine);
    } else {
        f = mine;
        atomic_fetch_add(&f->ref, 1); /* one for the attribute */
        if (PMPI_Type_set_attr(t, keyval, f) != MPI_SUCCESS) atomic_fetch_sub(&f->ref, 1);
    }
    pthread_mutex_unlock(&cache_lock);
    return f;
}
