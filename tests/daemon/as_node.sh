#!/bin/sh
# as_node.sh [--ranks-per-node N] PROG ARGS... - runs PROG as if on node
# simnodeK, K = the MPI rank / N (default 2; Open MPI's, MPICH's or PMIx's
# rank variable): HOMI_NODE_NAME names the node to libhomi and to the homid
# it starts, so one machine stands for several nodes of a job
# (homi_run_e2e.sh, cases 6 and 8; case 8 starts homi-node-daemon through it
# with --ranks-per-node 1, one per simulated node).
n=2
if [ "${1:-}" = --ranks-per-node ]; then
  n=$2
  shift 2
fi
r=${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-${PMIX_RANK:-0}}}
HOMI_NODE_NAME=simnode$((r / n))
export HOMI_NODE_NAME
exec "$@"
