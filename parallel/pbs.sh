#!/bin/bash
# PBS/Torque template for `pyglass run`. Copy, edit the #PBS lines and DECK, then: qsub pbs.sh
# PBS sends SIGTERM before SIGKILL when a job hits its walltime (kill_delay, often 30-60 s): pyglass
# writes a checkpoint on SIGTERM. Resubmit with the same DECK/OUT to continue (--restart is added
# when the checkpoint exists).
#PBS -N pyglass
#PBS -l select=1:ncpus=4:mpiprocs=4
#PBS -l walltime=24:00:00
#PBS -j oe

set -euo pipefail
cd "${PBS_O_WORKDIR:-.}"
DECK=${DECK:-inputs/quickstart.toml}
OUT=${OUT:-out/run.h5}
CKPT=${OUT%.h5}.ckpt.h5
PYGLASS=${PYGLASS:-.venv/bin/pyglass}
NP=$(wc -l < "${PBS_NODEFILE:-/dev/null}" 2>/dev/null || echo 1)
[ "$NP" -ge 1 ] || NP=1

export OMP_NUM_THREADS=1
RESTART=()
[ -f "$CKPT" ] && RESTART=(--restart "$CKPT")

mpirun -n "$NP" "$PYGLASS" run "$DECK" -o "$OUT" "${RESTART[@]}"

"$PYGLASS" info "$OUT" | grep -q "status: complete" || echo "run not complete: qsub again to continue from $CKPT"
