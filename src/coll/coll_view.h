/* coll_view.h - the file-view walker shared by the MPI-IO front-ends
 * (ad_homi and libhomi_mpiio): a view is a displacement and a filetype,
 * flattened into byte blocks relative to the type's origin and tiled by its
 * extent; the walker starts at an offset in etypes or at an absolute file
 * position (an individual file pointer) and hands out the view's bytes in
 * file order, block by block. */
#ifndef HOMI_COLL_VIEW_H
#define HOMI_COLL_VIEW_H

#include <mpi.h>

typedef struct homi_view_walk {
    const MPI_Offset *off, *len; /* the filetype's blocks (bytes from its origin) */
    MPI_Offset n;                /* number of blocks                             */
    MPI_Offset disp, ext;        /* view displacement, filetype extent           */
    MPI_Offset tile, j;          /* current filetype instance and block          */
    MPI_Offset pos;              /* file offset of the next byte                 */
    MPI_Offset left;             /* bytes left in the block; < 0: contiguous     */
} homi_view_walk;

/* A contiguous view (or filetype): bytes from file offset pos on. */
void homi_view_contig(homi_view_walk *w, MPI_Offset pos);

/* A view of n blocks (off[j], len[j]) tiled every ext bytes from disp;
 * then seek with one of the two below.  -1 when no block has bytes. */
int homi_view_init(homi_view_walk *w, const MPI_Offset *off, const MPI_Offset *len, MPI_Offset n,
                   MPI_Offset disp, MPI_Offset ext);

/* Seek to offset etypes from the start of the view (etype_size bytes each;
 * size: the filetype's size in bytes).  -1 when the offset is not inside
 * the view's data (cannot happen for a filetype of that size). */
int homi_view_seek_etypes(homi_view_walk *w, MPI_Offset offset, MPI_Offset etype_size,
                          MPI_Offset size);

/* Seek to absolute file position fpos (an individual file pointer, which
 * points into a block or at the end of one); lb is the filetype's lower
 * bound: tile k holds data in [lb, lb + ext) + k * ext from disp. */
void homi_view_seek_abs(homi_view_walk *w, MPI_Offset fpos, MPI_Offset lb);

/* Take up to want bytes of the view: returns how many (> 0), *off where. */
MPI_Offset homi_view_take(homi_view_walk *w, MPI_Offset want, MPI_Offset *off);

#endif
