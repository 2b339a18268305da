#!/usr/bin/env bash
# Kill anywhere: SIGKILLs `cai loop` at random moments of a small run, resumes it each time, and
# checks that the finished run equals an uninterrupted one.
#
#   scripts/kill-anywhere.sh [--cai build/cai] [--kills 20] [--rounds 2] [--epochs 3]
#                            [--seed S] [--dir DIR] [--world DIR --base DIR] [--keep] [--threads N]
#
# The run: a tiny world and base model (made here with `cai world generate` and `cai pretrain`
# unless --world and --base are given), then `rounds` rounds of Phase 1, Phase 2, SFT, DPO, a
# reward model and RLOO, each round evaluated (SFT, DPO and the reward model train `epochs`
# passes: 33 steps at 3, past their checkpoint at step 25; RLOO 12 steps, a checkpoint every 5).
# First an uninterrupted reference run (its time T sets the kill delays), then the killed run:
# started, SIGKILLed after a random delay drawn from S + [0.05 s, 2 (T - S) / kills], where S is
# the start-up every attempt pays (timed by resuming a copy of the finished reference), started again, and so
# on until `kills` kills have landed; then run to the end. Should a run finish before all its kills, the remaining kills go to a new run in
# a fresh folder (every killed run is compared).
#
# What is compared, file by file, with the run folder's own path replaced by the reference's:
#   byte for byte  every file of the run (models, checkpoints, optimiser moments, datasets,
#                  labels, reference log-prob caches, evaluations, quality, summary) except:
#   metrics.jsonl  the same lines without tokens_per_s / samples_per_s (throughputs, timings);
#   stages.json, round.json  the same keys and texts with numbers blanked (stage seconds);
#   checkpoint/state.json, *.settings.json  without options_hash / settings_hash (they hash
#                  model paths, which name the run folder; the paths themselves are compared);
#   manifest.json, report.html  not compared: they record when the run started and each
#                  resume, and the stage timings (the report's figures come from the files
#                  compared above).
# The file lists must match too: nothing missing, nothing extra (no temporary left behind).
# Exit status 0 when every killed run equals the reference.
set -euo pipefail

CAI=build/cai
KILLS=20
ROUNDS=2
EPOCHS=3
SEED=""
DIR=""
WORLD=""
BASE=""
KEEP=0
THREADS=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cai) CAI=$2; shift 2 ;;
    --kills) KILLS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --world) WORLD=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --threads) THREADS=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "kill-anywhere: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x "$CAI" ]] || { echo "kill-anywhere: $CAI is not an executable (build first, or --cai)" >&2; exit 2; }
CAI=$(cd "$(dirname "$CAI")" && pwd)/$(basename "$CAI")
[[ -n "$SEED" ]] || SEED=$(( $(date +%s) % 100000 ))
RANDOM=$SEED
if [[ -z "$DIR" ]]; then
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/kill-anywhere.XXXXXX")
  [[ $KEEP == 1 ]] || trap 'rm -rf "$DIR"' EXIT
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
echo "kill-anywhere: $KILLS kills, $ROUNDS round(s), seed $SEED, in $DIR"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

if [[ -z "$WORLD" || -z "$BASE" ]]; then
  WORLD=$DIR/world BASE=$DIR/base
  "$CAI" world generate --seed 5 --out "$WORLD" --services 4 --items 4 --train 12 --eval 4 \
    --test 4 --conversations 40 --critiques 12 --comparisons 12 --document-repeats 1 >/dev/null
  "$CAI" pretrain --world "$WORLD" --out "$BASE" --vocab 300 --hidden 32 --layers 2 --heads 2 \
    --ffn 64 --context 1024 --seq-len 64 --batch 4 --max-steps 3 --seed 1 >/dev/null 2>&1
fi

CONFIG=$DIR/loop.yaml
cat >"$CONFIG" <<EOF
name: kill-anywhere
out: $DIR/reference
base_model: $BASE
world: $WORLD
rounds: $ROUNDS
seed: 3
quality: {metric: oracle, split: eval, max_tokens: 8}
critique_revise: {rounds: 1, few_shot: false, max_tokens: 8, skip_when_ok: false, temperature: 1.0}
label: {min_confidence: 0.0}
sft: {epochs: $EPOCHS, token_budget: 160, max_length: 256}
dpo: {epochs: $EPOCHS, token_budget: 320, max_length: 256}
rl:
  enabled: true
  steps: 12
  prompts_per_rollout: 2
  samples_per_prompt: 2
  max_new_tokens: 8
  rm: {epochs: $EPOCHS, token_budget: 320, max_length: 256, min_accuracy: 0}
eval: {max_tokens: 8, task_limit: 2, critiques: false}
EOF

# Runs `cai loop` to the end in folder $1 (log $2) and prints its seconds; stops the script
# with the log when it fails ($3 names the run).
timed_loop() {
  local t0 t1
  t0=$(now)
  "$CAI" loop -q --threads "$THREADS" --config "$CONFIG" --out "$1" >"$2" 2>&1 || {
    cat "$2" >&2
    echo "kill-anywhere: $3 failed" >&2
    exit 1
  }
  t1=$(now)
  secs "$t0" "$t1"
}

# The reference: uninterrupted.
T=$(timed_loop "$DIR/reference" "$DIR/reference.log" "the reference run")
# What every attempt spends before it reaches a stage (loading the program, the config, the
# world and the models, skipping what is done): a copy of the finished reference, resumed, does
# only that. The kills are drawn after it, else with many kills of a short run every kill can
# land in start-up and no stage is ever interrupted.
cp -r "$DIR/reference" "$DIR/startup-probe"
rm "$DIR/startup-probe/manifest.json"  # it names the reference's folder
S=$(timed_loop "$DIR/startup-probe" "$DIR/startup-probe.log" "resuming the finished reference")
rm -rf "$DIR/startup-probe"
echo "kill-anywhere: reference run $T s, of which start-up $S s"
START_MS=$(awk -v s="$S" 'BEGIN { printf "%d", 1000 * s }')
MAX_MS=$(awk -v t="$T" -v s="$S" -v k="$KILLS" \
  'BEGIN { m = 2000 * (t - s) / k; if (m < 100) m = 100; printf "%d", m }')

# Normalised copies of the files that record timings (see the header).
normalise() {
  case "$(basename "$1")" in
    metrics.jsonl) sed -E 's/"(tokens|samples)_per_s":[^,}]*,?//' "$1" ;;
    stages.json | round.json) sed -E 's/^( *"[^"]+": )[-0-9.eE+]+(,?)$/\1N\2/' "$1" ;;
    state.json) sed -E 's/"options_hash": "[0-9a-f]*"/"options_hash": ""/' "$1" ;;
    *.settings.json) sed -E 's/"settings_hash": "[0-9a-f]*"/"settings_hash": ""/' "$1" ;;
    *) cat "$1" ;;
  esac
}

# Compares run $1 with the reference; prints the differences; returns non-zero on any.
compare() {
  local run=$1 bad=0 f
  diff <(cd "$DIR/reference" && find . -type f ! -name manifest.json ! -name report.html | sort) \
    <(cd "$run" && find . -type f ! -name manifest.json ! -name report.html | sort) >"$run.files.diff" || {
    echo "kill-anywhere: $run: the file lists differ:" >&2
    cat "$run.files.diff" >&2
    bad=1
  }
  local same=0
  while IFS= read -r f; do
    [[ -f "$run/$f" ]] || continue
    if ! cmp -s <(normalise "$DIR/reference/$f") \
      <(normalise "$run/$f" | sed "s#$run#$DIR/reference#g"); then
      echo "kill-anywhere: $run: $f differs" >&2
      bad=1
    else
      same=$((same + 1))
    fi
  done < <(cd "$DIR/reference" && find . -type f ! -name manifest.json ! -name report.html | sort)
  echo "kill-anywhere: $run: $same files equal to the reference"
  return $bad
}

# The killed runs.
landed=0 attempt=0 runs=0 status=0
while [[ $landed -lt $KILLS ]]; do
  runs=$((runs + 1))
  run=$DIR/killed-$runs
  [[ $runs -le $((10 * KILLS + 10)) ]] || {
    echo "kill-anywhere: $((runs - 1)) runs finished before their kills; the machine's speed" \
      "changes too much to place kills (kept in $DIR)" >&2
    trap - EXIT
    exit 1
  }
  fresh=1
  while :; do
    attempt=$((attempt + 1))
    delay_ms=$(( START_MS + 50 + (RANDOM * 32768 + RANDOM) % MAX_MS ))
    t0=$(now)
    "$CAI" loop --threads "$THREADS" --config "$CONFIG" --out "$run" >"$run.attempt-$attempt.log" 2>&1 &
    pid=$!
    # Until the delay is over or the run has ended, whichever is first (so a run that ends
    # first is timed).
    deadline=$(( $(date +%s%3N) + delay_ms ))
    while kill -0 "$pid" 2>/dev/null && [[ $(date +%s%3N) -lt $deadline ]]; do sleep 0.01; done
    ended=$(now)
    kill -9 "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    if [[ $rc == 137 ]]; then  # killed (a run that ended first exits 0, or 1 on an error)
      landed=$((landed + 1))
      # The stage it was in: the last one the loop announced.
      at=$(grep -a 'cai loop: .* \.\.\.$' "$run.attempt-$attempt.log" | tail -n1 | sed 's/^cai loop: //; s/ \.\.\.$//' || true)
      printf 'kill-anywhere: kill %2d after %5.2f s, during %s\n' "$landed" \
        "$(awk -v m="$delay_ms" 'BEGIN { print m / 1000 }')" "${at:-start-up}"
      [[ $landed -lt $KILLS ]] || break
    else
      [[ $rc == 0 ]] || { cat "$run.attempt-$attempt.log" >&2; echo "kill-anywhere: $run failed" >&2; exit 1; }
      echo "kill-anywhere: $run finished before the next kill; the remaining kills go to a new run"
      if [[ $fresh == 1 ]]; then
        # A whole run took D s where the reference took T (the machine was busier then): the
        # delays shrink with it, so the next kills land within a run.
        D=$(secs "$t0" "$ended")
        read -r START_MS MAX_MS < <(awk -v d="$D" -v t="$T" -v s="$START_MS" -v m="$MAX_MS" \
          'BEGIN { f = d / t; if (f > 1) f = 1; m *= f; if (m < 100) m = 100; printf "%d %d\n", s * f, m }')
        echo "kill-anywhere: a whole run took $D s (the reference $T s): delays scaled to match"
        T=$D
      fi
      break
    fi
    fresh=0
  done
  # To the end.
  "$CAI" loop -q --threads "$THREADS" --config "$CONFIG" --out "$run" >"$run.final.log" 2>&1 || {
    cat "$run.final.log" >&2
    echo "kill-anywhere: the resumed run $run failed" >&2
    exit 1
  }
  compare "$run" || status=1
done

if [[ $status == 0 ]]; then
  echo "kill-anywhere: PASS: $landed kills over $runs run(s); every run equals the reference"
else
  echo "kill-anywhere: FAIL: a killed run differs from the reference (kept in $DIR)" >&2
  trap - EXIT
fi
exit $status
