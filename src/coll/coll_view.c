/* coll_view.c - the file-view walker shared by ad_homi and libhomi_mpiio
 * (coll_view.h): seeks by etype offset or absolute position, then hands
 * out the view's bytes block by block, tile after tile. */
#include "coll_view.h"

#include <string.h>

void homi_view_contig(homi_view_walk *w, MPI_Offset pos)
{
    memset(w, 0, sizeof *w);
    w->pos = pos;
    w->left = -1;
}

int homi_view_init(homi_view_walk *w, const MPI_Offset *off, const MPI_Offset *len, MPI_Offset n,
                   MPI_Offset disp, MPI_Offset ext)
{
    memset(w, 0, sizeof *w);
    w->off = off;
    w->len = len;
    w->n = n;
    w->disp = disp;
    w->ext = ext;
    for (MPI_Offset j = 0; j < n; j++)
        if (len[j]) return 0;
    return -1;
}

static void next_block(homi_view_walk *w)
{
    do {
        if (++w->j >= w->n) {
            w->j = 0;
            w->tile++;
        }
    } while (w->len[w->j] == 0);
    w->pos = w->disp + w->tile * w->ext + w->off[w->j];
    w->left = w->len[w->j];
}

int homi_view_seek_etypes(homi_view_walk *w, MPI_Offset offset, MPI_Offset etype_size,
                          MPI_Offset size)
{
    MPI_Offset per_tile = size / etype_size;
    if (per_tile <= 0) return -1;
    w->tile = offset / per_tile;
    MPI_Offset inner = (offset % per_tile) * etype_size, sum = 0;
    for (w->j = 0; w->j < w->n; w->j++) {
        MPI_Offset l = w->len[w->j];
        if (l && sum + l > inner) {
            w->pos = w->disp + w->tile * w->ext + w->off[w->j] + (inner - sum);
            w->left = l - (inner - sum);
            return 0;
        }
        sum += l;
    }
    return -1;
}

void homi_view_seek_abs(homi_view_walk *w, MPI_Offset fpos, MPI_Offset lb)
{
    /* a type whose data starts at lb > 0 (an indexed type whose first
     * block is not at 0) has data of tile 0 beyond ext: count from lb */
    MPI_Offset rel = fpos - w->disp;
    w->tile = rel > lb && w->ext > 0 ? (rel - lb) / w->ext : 0;
    MPI_Offset r = rel - w->tile * w->ext;
    for (w->j = 0; w->j < w->n; w->j++) {
        MPI_Offset b = w->off[w->j], l = w->len[w->j];
        if (l && b + l > r) {
            MPI_Offset s = r > b ? r : b;
            w->pos = w->disp + w->tile * w->ext + s;
            w->left = b + l - s;
            return;
        }
    }
    w->j = w->n - 1; /* past the last block of this tile */
    next_block(w);
}

MPI_Offset homi_view_take(homi_view_walk *w, MPI_Offset want, MPI_Offset *off)
{
    if (w->left == 0) next_block(w);
    *off = w->pos;
    MPI_Offset n = w->left < 0 || want < w->left ? want : w->left;
    w->pos += n;
    if (w->left > 0) w->left -= n;
    return n;
}
