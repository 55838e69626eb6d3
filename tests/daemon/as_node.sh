#!/bin/sh
# as_node.sh PROG ARGS... - runs PROG as if on node simnodeK, K = the MPI
# rank / 2 (Open MPI's, MPICH's or PMIx's rank variable): HOMI_NODE_NAME
# names the node to libhomi and to the homid it starts, so one machine
# stands for several nodes of a job (homi_run_e2e.sh, case 6).
r=${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-${PMIX_RANK:-0}}}
HOMI_NODE_NAME=simnode$((r / 2))
export HOMI_NODE_NAME
exec "$@"
