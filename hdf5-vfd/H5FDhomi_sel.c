/* H5FDhomi_sel.c - the selection fast path of H5FD_homi_dread.  For a
 * contiguous or chunked dataset whose file selection is "all", a
 * hyperslab (regular or a union of boxes) or a point list, read into a
 * memory space that is H5S_ALL or an "all" selection, the driver maps the
 * selection to (file address, length, device address) pieces itself: rows
 * of the selection in HDF5's order (row-major for hyperslabs, as listed for
 * points), split at chunk boundaries, chunk addresses from
 * H5Dget_chunk_info_by_coord.  The pieces go to homi_read_pieces in
 * batches, so HDF5's per-piece driver calls (and its per-chunk selection
 * projections) are skipped; pieces at constant strides become 2-D pieces
 * (homi_read_pieces2d), so a strided selection costs per row of blocks.  Anything else (other
 * memory selections, a chunk that is not allocated or not stored whole) is left to H5Dread. */
#include <stdlib.h>
#include <string.h>

#include "H5FDhomi_int.h"

#define MAXRANK 32
#define BATCH ((size_t)1 << 20) /* pieces handed to homi_read_pieces at once */
#define MAX_CHUNKS ((uint64_t)1 << 24)

/* One row segment of the file selection: elements [start, start + len) of
 * the last dimension in row `row` (row-major index over the other
 * dimensions). */
struct seg {
    uint64_t row, start, len;
};

struct map {
    hid_t dset;
    int rank;
    hsize_t dims[MAXRANK];
    size_t esize;
    int chunked;
    haddr_t base; /* contiguous: the data's address */
    hsize_t chunk[MAXRANK], nch[MAXRANK];
    uint64_t chunk_bytes;
    haddr_t *caddr; /* chunked: address + 1 per chunk, 0 = not looked up */
    int mem_linear; /* 1: memory offset = element's linear index (H5S_ALL) */
    uint64_t mem_next;
    char *buf;
    homi_mem_kind mem;
    H5FD_homi_t *file;
    homi_piece2d *p;
    size_t n;
    int refuse; /* a chunk the fast path cannot read: leave it to H5Dread */
};

static int by_row(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int flush(struct map *m)
{
    if (!m->n) return 0;
    int64_t r = homi_read_pieces2d(m->file->hf, m->p, m->n, m->mem, HOMI_PIECES_ZERO_EOF);
    size_t n = m->n;
    m->n = 0;
    if (r < 0) {
        HOMI_H5_ERR(H5E_IO, H5E_READERROR, "reading %zu pieces of %s: %s", n, m->file->name,
                    homi_strerror((int)r));
        return -1;
    }
    return 0;
}

/* Add len bytes at file address addr for memory offset moff: extends the
 * last piece when it continues it, or when the two form (or continue) a
 * constant stride in the file and in memory (a 2-D piece). */
static int add_piece(struct map *m, haddr_t addr, uint64_t len, uint64_t moff)
{
    char *dst = m->buf + moff;
    if (m->n) {
        homi_piece2d *q = &m->p[m->n - 1];
        uint64_t qa = (uint64_t)q->offset;
        char *qd = q->buf;
        if (q->count == 1 && qa + q->len == addr && qd + q->len == dst) {
            q->len += len;
            return 0;
        }
        if (q->len == len && q->count == 1 && addr > qa && dst >= qd + len) {
            q->fstride = addr - qa;
            q->mstride = (uint64_t)(dst - qd);
            q->count = 2;
            return 0;
        }
        if (q->len == len && q->count > 1 && addr == qa + q->count * q->fstride &&
            dst == qd + q->count * q->mstride) {
            q->count++;
            return 0;
        }
    }
    if (m->n == BATCH && flush(m) < 0) return -1;
    m->p[m->n++] = (homi_piece2d){.offset = (int64_t)addr, .len = len, .count = 1, .buf = dst};
    return 0;
}

/* Address of the chunk holding coordinates c (chunk origin), or
 * HADDR_UNDEF with m->refuse set when the fast path cannot read it. */
static haddr_t chunk_addr(struct map *m, const hsize_t *c)
{
    uint64_t idx = 0;
    hsize_t origin[MAXRANK];
    for (int d = 0; d < m->rank; d++) {
        idx = idx * m->nch[d] + c[d] / m->chunk[d];
        origin[d] = c[d] / m->chunk[d] * m->chunk[d];
    }
    if (m->caddr[idx]) return m->caddr[idx] - 1;
#if H5_VERSION_GE(1, 10, 5)
    unsigned mask = 0;
    haddr_t a = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(m->dset, origin, &mask, &a, &size) < 0 || a == HADDR_UNDEF ||
        size != m->chunk_bytes || mask) {
        H5Eclear2(H5E_DEFAULT);
        m->refuse = 1;
        return HADDR_UNDEF;
    }
    m->caddr[idx] = a + 1;
    return a;
#else
    (void)origin;
    m->refuse = 1;
    return HADDR_UNDEF;
#endif
}

/* Pieces of one row segment. */
static int emit(struct map *m, const struct seg *s)
{
    hsize_t c[MAXRANK];
    uint64_t r = s->row;
    for (int d = m->rank - 2; d >= 0; d--) {
        c[d] = r % m->dims[d];
        r /= m->dims[d];
    }
    uint64_t lin = s->row * m->dims[m->rank - 1] + s->start; /* element index */
    uint64_t moff = m->mem_linear ? lin * m->esize : m->mem_next * m->esize;
    m->mem_next += s->len;
    if (!m->chunked) return add_piece(m, m->base + lin * m->esize, s->len * m->esize, moff);
    const int L = m->rank - 1;
    for (uint64_t e = s->start, end = s->start + s->len; e < end;) {
        c[L] = e;
        uint64_t cend = (e / m->chunk[L] + 1) * m->chunk[L];
        uint64_t n = (cend < end ? cend : end) - e;
        haddr_t a = chunk_addr(m, c);
        if (a == HADDR_UNDEF) return 0;
        uint64_t in = 0; /* element index inside the chunk (stored whole) */
        for (int d = 0; d < m->rank; d++)
            in = in * m->chunk[d] + c[d] % m->chunk[d];
        if (add_piece(m, a + in * m->esize, n * m->esize, moff) < 0) return -1;
        moff += n * m->esize;
        e += n;
    }
    return 0;
}

/* Contiguous layout: count blocks of block elements at stride in the last
 * dimension of one row, as one 2-D piece. */
static int row_piece(struct map *m, uint64_t row, uint64_t start, uint64_t stride, uint64_t block,
                     uint64_t count)
{
    const uint64_t es = m->esize;
    uint64_t lin = row * m->dims[m->rank - 1] + start;
    uint64_t moff = m->mem_linear ? lin * es : m->mem_next * es;
    m->mem_next += block * count;
    if (m->n == BATCH && flush(m) < 0) return -1;
    m->p[m->n++] = (homi_piece2d){.offset = (int64_t)(m->base + lin * es),
                                  .len = block * es,
                                  .count = count,
                                  .fstride = stride * es,
                                  .buf = m->buf + moff,
                                  .mstride = (m->mem_linear ? stride : block) * es};
    return 0;
}

/* 1 when the selection has no offset (H5Soffset_simple): its bounding box,
 * which counts the offset, starts at lo, the lowest coordinates of the
 * selection as listed (which do not). */
static int no_offset(hid_t fs, int rank, const hsize_t *lo)
{
    hsize_t blo[MAXRANK], bhi[MAXRANK];
    if (H5Sget_select_bounds(fs, blo, bhi) < 0) return 0;
    return memcmp(blo, lo, (size_t)rank * sizeof *lo) == 0;
}

/* The row segments of a regular hyperslab, generated in row-major order
 * and emitted one by one (no list). */
static int each_regular(struct map *m, hid_t fs)
{
    const int R = m->rank, L = R - 1;
    hsize_t start[MAXRANK], stride[MAXRANK], count[MAXRANK], block[MAXRANK];
    if (H5Sget_regular_hyperslab(fs, start, stride, count, block) < 0) return 0;
    if (!no_offset(fs, R, start)) return 0;
    uint64_t rows = 1;
    for (int d = 0; d < L; d++)
        rows *= count[d] * block[d];
    hsize_t ci[MAXRANK] = {0}, bi[MAXRANK] = {0}; /* block index, offset in block */
    for (uint64_t r = 0; r < rows && !m->refuse; r++) {
        uint64_t row = 0;
        for (int d = 0; d < L; d++)
            row = row * m->dims[d] + start[d] + ci[d] * stride[d] + bi[d];
        if (!m->chunked && count[L] > 1) {
            /* contiguous: the row's blocks are one 2-D piece */
            if (row_piece(m, row, start[L], stride[L], block[L], count[L]) < 0) return -1;
        } else {
            for (hsize_t i = 0; i < count[L] && !m->refuse; i++) {
                struct seg sg = {row, start[L] + i * stride[L], block[L]};
                if (emit(m, &sg) < 0) return -1;
            }
        }
        for (int d = L - 1; d >= 0; d--) { /* next row, row-major */
            if (++bi[d] < block[d]) break;
            bi[d] = 0;
            if (++ci[d] < count[d]) break;
            ci[d] = 0;
        }
    }
    return 1;
}

/* Row segments of the file selection, in HDF5's order; NULL with *n = 0
 * for an empty selection; *ok = 0 when the selection is not handled. */
static struct seg *segments(struct map *m, hid_t fs, size_t *n, int *ok)
{
    *n = 0;
    *ok = 1;
    const int R = m->rank, L = R - 1;
    uint64_t rows = 1;
    for (int d = 0; d < L; d++)
        rows *= m->dims[d];
    H5S_sel_type t = fs == H5S_ALL ? H5S_SEL_ALL : H5Sget_select_type(fs);
    struct seg *s = NULL;
    if (t == H5S_SEL_NONE) return NULL;
    if (t == H5S_SEL_ALL) {
        s = malloc(rows * sizeof *s);
        if (!s) goto no;
        for (uint64_t r = 0; r < rows; r++)
            s[r] = (struct seg){r, 0, m->dims[L]};
        *n = rows;
        return s;
    }
    if (t == H5S_SEL_POINTS) {
        hssize_t np = H5Sget_select_elem_npoints(fs);
        if (np < 0) goto no;
        hsize_t *pt = malloc((size_t)np * (size_t)R * sizeof *pt);
        s = malloc((size_t)np * sizeof *s);
        if (!pt || !s || H5Sget_select_elem_pointlist(fs, 0, (hsize_t)np, pt) < 0) {
            free(pt);
            goto no;
        }
        hsize_t lo[MAXRANK];
        for (int d = 0; d < R; d++)
            lo[d] = HSIZE_UNDEF;
        for (hssize_t i = 0; i < np; i++)
            for (int d = 0; d < R; d++)
                if (pt[(size_t)i * (size_t)R + (size_t)d] < lo[d])
                    lo[d] = pt[(size_t)i * (size_t)R + (size_t)d];
        if (np && !no_offset(fs, R, lo)) {
            free(pt);
            goto no;
        }
        for (hssize_t i = 0; i < np; i++) {
            const hsize_t *c = pt + (size_t)i * (size_t)R;
            uint64_t row = 0;
            for (int d = 0; d < L; d++)
                row = row * m->dims[d] + c[d];
            s[i] = (struct seg){row, c[L], 1};
        }
        free(pt);
        *n = (size_t)np;
        return s;
    }
    if (t != H5S_SEL_HYPERSLABS) goto no;
    hssize_t nb = H5Sget_select_hyper_nblocks(fs);
    if (nb < 0) goto no;
    hsize_t *bl = malloc((size_t)nb * 2 * (size_t)R * sizeof *bl);
    if (!bl || H5Sget_select_hyper_blocklist(fs, 0, (hsize_t)nb, bl) < 0) {
        free(bl);
        goto no;
    }
    hsize_t low[MAXRANK];
    for (int d = 0; d < R; d++)
        low[d] = HSIZE_UNDEF;
    for (hssize_t b = 0; b < nb; b++)
        for (int d = 0; d < R; d++)
            if (bl[(size_t)b * 2 * (size_t)R + (size_t)d] < low[d])
                low[d] = bl[(size_t)b * 2 * (size_t)R + (size_t)d];
    if (nb && !no_offset(fs, R, low)) {
        free(bl);
        goto no;
    }
    size_t cap = 0, k = 0;
    for (hssize_t b = 0; b < nb; b++) {
        const hsize_t *lo = bl + (size_t)b * 2 * (size_t)R, *hi = lo + R;
        uint64_t brows = 1;
        for (int d = 0; d < L; d++)
            brows *= hi[d] - lo[d] + 1;
        if (k + brows > cap) {
            size_t nc = cap ? cap : 1024;
            while (nc < k + brows)
                nc *= 2;
            struct seg *ns = realloc(s, nc * sizeof *ns);
            if (!ns) {
                free(bl);
                goto no;
            }
            s = ns;
            cap = nc;
        }
        hsize_t c[MAXRANK];
        memcpy(c, lo, (size_t)R * sizeof *c);
        for (uint64_t i = 0; i < brows; i++) {
            uint64_t row = 0;
            for (int d = 0; d < L; d++)
                row = row * m->dims[d] + c[d];
            s[k++] = (struct seg){row, lo[L], hi[L] - lo[L] + 1};
            for (int d = L - 1; d >= 0; d--) { /* next row of the block */
                if (++c[d] <= hi[d]) break;
                c[d] = lo[d];
            }
        }
    }
    free(bl);
    /* blocks interleave in row-major order when they share rows */
    int sorted = 1;
    for (size_t i = 1; i < k && sorted; i++)
        sorted = by_row(&s[i - 1], &s[i]) < 0;
    if (!sorted) qsort(s, k, sizeof *s, by_row);
    *n = k;
    return s;
no:
    free(s);
    *ok = 0;
    return NULL;
}

/* The driver's file for dset, or NULL. */
static H5FD_homi_t *file_of(hid_t dset)
{
    hid_t file = H5Iget_file_id(dset);
    if (file < 0) return NULL;
    H5FD_homi_t *f = homi_h5_file_of(file);
    H5Fclose(file);
    return f;
}

/* Fill in the layout part of m; 1 handled, 0 not. */
static int layout(struct map *m)
{
    hid_t dcpl = H5Dget_create_plist(m->dset);
    if (dcpl < 0) return 0;
    H5D_layout_t lay = H5Pget_layout(dcpl);
    int ok = 0;
    if (lay == H5D_CONTIGUOUS) {
        m->base = H5Dget_offset(m->dset);
        ok = m->base != HADDR_UNDEF;
    } else if (lay == H5D_CHUNKED && H5Pget_chunk(dcpl, MAXRANK, m->chunk) == m->rank) {
        uint64_t total = 1;
        m->chunk_bytes = m->esize;
        ok = 1;
        for (int d = 0; d < m->rank && ok; d++) {
            m->nch[d] = (m->dims[d] + m->chunk[d] - 1) / m->chunk[d];
            total *= m->nch[d] ? m->nch[d] : 1;
            m->chunk_bytes *= m->chunk[d];
            ok = total <= MAX_CHUNKS;
        }
        m->chunked = 1;
        if (ok) ok = (m->caddr = calloc(total, sizeof *m->caddr)) != NULL;
    }
    H5Pclose(dcpl);
    return ok;
}

int homi_h5_sel_read(hid_t dset, hid_t mem_type, hid_t mem_space, hid_t file_space, void *buf,
                     homi_mem_kind mem)
{
    struct map m = {.dset = dset, .buf = buf, .mem = mem};
    if (!(m.file = file_of(dset))) return 0;
    hid_t dsp = H5Dget_space(dset);
    if (dsp < 0) return 0;
    m.rank = H5Sget_simple_extent_ndims(dsp);
    int ok = m.rank >= 1 && m.rank <= MAXRANK && H5Sget_simple_extent_dims(dsp, m.dims, NULL) >= 0;
    hssize_t total = H5Sget_simple_extent_npoints(dsp);
    H5Sclose(dsp);
    m.esize = H5Tget_size(mem_type);
    if (!ok || !m.esize || total < 0) return 0;
    /* the file space's extent must be the dataset's (HDF5 checks the rest) */
    if (file_space != H5S_ALL) {
        hsize_t fd[MAXRANK];
        if (H5Sget_simple_extent_ndims(file_space) != m.rank ||
            H5Sget_simple_extent_dims(file_space, fd, NULL) < 0 ||
            memcmp(fd, m.dims, (size_t)m.rank * sizeof *fd))
            return 0;
    }
    hssize_t nsel = file_space == H5S_ALL ? total : H5Sget_select_npoints(file_space);
    if (nsel < 0) return 0;
    if (mem_space == H5S_ALL) {
        m.mem_linear = 1;
    } else if (H5Sget_select_type(mem_space) != H5S_SEL_ALL ||
               H5Sget_select_npoints(mem_space) != nsel) {
        return 0;
    }
    if (!layout(&m)) {
        free(m.caddr);
        return 0;
    }
    m.p = malloc(BATCH * sizeof *m.p);
    if (!m.p) {
        free(m.caddr);
        return 0;
    }
    int rc;
    struct seg *s = NULL;
    if (file_space != H5S_ALL && H5Sget_select_type(file_space) == H5S_SEL_HYPERSLABS &&
        H5Sis_regular_hyperslab(file_space) > 0) {
        rc = each_regular(&m, file_space);
    } else {
        size_t nseg;
        s = segments(&m, file_space, &nseg, &ok);
        rc = ok ? 1 : 0;
        for (size_t i = 0; rc == 1 && i < nseg && !m.refuse; i++)
            if (emit(&m, &s[i]) < 0) rc = -1;
    }
    if (rc == 1 && m.refuse) rc = 0; /* H5Dread reads it all again */
    if (rc == 1 && flush(&m) < 0) rc = -1;
    free(m.p);
    free(s);
    free(m.caddr);
    return rc;
}
