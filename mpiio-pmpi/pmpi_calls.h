/* pmpi_calls.h - the MPI library's own read/write calls by family and
 * access kind (pmpi_calls.c). */
#ifndef HOMI_MPIIO_PMPI_CALLS_H
#define HOMI_MPIIO_PMPI_CALLS_H

#include <mpi.h>

/* access kinds: individual pointer, explicit offset, their collective
 * forms, shared pointer, ordered */
enum { LYR_INDIV, LYR_AT, LYR_ALL, LYR_AT_ALL, LYR_SHARED, LYR_ORDERED };

int lyr_pmpi_read(MPI_File fh, int op, MPI_Offset off, void *buf, MPI_Count cnt, MPI_Datatype t,
                  MPI_Status *st);
int lyr_pmpi_iread(MPI_File fh, int op, MPI_Offset off, void *buf, MPI_Count cnt, MPI_Datatype t,
                   MPI_Request *rq);
int lyr_pmpi_write(MPI_File fh, int op, MPI_Offset off, const void *buf, MPI_Count cnt,
                   MPI_Datatype t, MPI_Status *st);
int lyr_pmpi_iwrite(MPI_File fh, int op, MPI_Offset off, const void *buf, MPI_Count cnt,
                    MPI_Datatype t, MPI_Request *rq);
/* split collectives: op LYR_ALL, LYR_AT_ALL or LYR_ORDERED */
int lyr_pmpi_begin(MPI_File fh, int op, int write, MPI_Offset off, void *buf, MPI_Count cnt,
                   MPI_Datatype t);
int lyr_pmpi_end(MPI_File fh, int op, int write, void *buf, MPI_Status *st);

#endif
