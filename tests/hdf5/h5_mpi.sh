#!/usr/bin/env bash
# h5_mpi.sh - run test_h5_mpi on 4 Open MPI ranks (oversubscribed: CI has 2
# cores; --allow-run-as-root: CI runs as root).
#   h5_mpi.sh PATH/TO/test_h5_mpi [NP]
set -euo pipefail
command -v mpirun >/dev/null || { echo "mpirun not found (scripts/install-deps.sh installs openmpi-bin)"; exit 1; }
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader
export HOMI_THREADS=${HOMI_THREADS:-1}   # 4 ranks on 2 cores: one worker each
exec mpirun --oversubscribe --allow-run-as-root -np "${2:-4}" "$1"
