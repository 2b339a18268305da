#!/usr/bin/env bash
# Data-parallel cost on this machine: all-reduce bandwidth between two ranks over loopback,
# then the time per optimiser step of one process at --token-budget 2B against two ranks at B
# (the same steps), as the median of RUNS runs of each.
#   scripts/bench_dist.sh BUILD MODEL PAIRS.jsonl [RUNS] [STEPS] [B]
# MODEL and PAIRS are a model directory and DPO pairs (for example a loop round's sft/final and
# dpo_data.jsonl).
set -euo pipefail
BUILD=${1:?build directory}
MODEL=${2:?model}
DATA=${3:?preference pairs}
RUNS=${4:-5}
STEPS=${5:-10}
B=${6:-2048}
CAI="$BUILD/cai"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== cai bench dist --nproc 2"
"$CAI" bench dist --nproc 2 --sizes-mb 1,4,16,64,100 --iters 10

# Seconds per step of one run, from the summary line "cai: N steps in S s ...".
step_time() {
  "$CAI" train dpo --model "$MODEL" --data "$DATA" --out "$TMP/run" --max-steps "$STEPS" \
    --quiet "$@" 2>&1 | sed -n 's/^cai: \([0-9]*\) steps in \([0-9.]*\) s.*/\2 \1/p' |
    awk '{ printf "%.4f\n", $1 / $2 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

"$CAI" train dpo --model "$MODEL" --data "$DATA" --out "$TMP/warm" --max-steps 1 --quiet \
  >/dev/null 2>&1  # the reference log-probabilities, cached for every run below
one=$(for _ in $(seq "$RUNS"); do step_time --token-budget $((2 * B)); done | median)
two=$(for _ in $(seq "$RUNS"); do step_time --token-budget "$B" --nproc 2; done | median)
echo
echo "== DPO optimiser step, $STEPS steps, median of $RUNS runs"
echo "1 process,  --token-budget $((2 * B)): $one s/step"
echo "2 ranks,    --token-budget $B each:  $two s/step"
