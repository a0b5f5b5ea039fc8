#!/bin/bash
# SLURM template for `pyglass run`. Copy, edit the #SBATCH lines and DECK, then: sbatch slurm.sh
# The job asks SLURM for SIGTERM two minutes before the time limit (--signal); pyglass then writes a
# checkpoint and exits cleanly, and the script resubmits itself with --restart until the run is
# complete (the output file's /h5md/provenance status says "complete").
#SBATCH --job-name=pyglass
#SBATCH --nodes=1
#SBATCH --ntasks=4                 # MPI ranks (domains x replicas, see run.ranks_per_replica)
#SBATCH --cpus-per-task=1
#SBATCH --time=24:00:00
#SBATCH --signal=B:TERM@120        # SIGTERM to the batch shell 120 s before the limit
#SBATCH --output=pyglass-%j.log

set -euo pipefail
DECK=${DECK:-inputs/quickstart.toml}
OUT=${OUT:-out/run.h5}
CKPT=${OUT%.h5}.ckpt.h5
PYGLASS=${PYGLASS:-.venv/bin/pyglass}

export OMP_NUM_THREADS=1
RESTART=()
[ -f "$CKPT" ] && RESTART=(--restart "$CKPT")

# forward SIGTERM to the ranks; srun starts them (or use: mpirun -n "$SLURM_NTASKS")
srun --kill-on-bad-exit=1 "$PYGLASS" run "$DECK" -o "$OUT" "${RESTART[@]}" &
PID=$!
trap 'kill -TERM $PID' TERM
wait $PID || status=$?      # returns when the job ends or the trap fires
wait $PID || status=$?      # after a SIGTERM: let the ranks write their checkpoint
trap - TERM

if ! "$PYGLASS" info "$OUT" | grep -q "status: complete"; then
    echo "run not complete: resubmitting from $CKPT"
    sbatch --export=ALL,DECK="$DECK",OUT="$OUT" "$0"
fi
exit ${status:-0}
