/* mpi1_compat.h - forced include for ROMIO 3.2.1's test programs built with
 * Open MPI 4.1 (tests/mpi/romio_tests.sh ompi): they use MPI_LB and MPI_UB,
 * removed in MPI-3.0, which Open MPI's mpi.h hides unless it was configured
 * with --enable-mpi1-compatibility; libmpi still exports them. */
#ifndef HOMI_MPI1_COMPAT_H
#define HOMI_MPI1_COMPAT_H
#include <mpi.h>
#ifndef MPI_LB
extern struct ompi_predefined_datatype_t ompi_mpi_lb, ompi_mpi_ub;
#define MPI_LB OMPI_PREDEFINED_GLOBAL(MPI_Datatype, ompi_mpi_lb)
#define MPI_UB OMPI_PREDEFINED_GLOBAL(MPI_Datatype, ompi_mpi_ub)
#endif
#endif
