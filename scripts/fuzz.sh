#!/usr/bin/env bash
# make fuzz: builds the libFuzzer programs of fuzz/ (one per parser) with Debian's clang,
# AddressSanitizer and UBSan in a folder of their own, and runs each for FUZZ_SECONDS
# (default 60) from its seeds and kept inputs, JOBS targets at a time. What the fuzzer finds
# goes to <build>/corpus/<target>/, not into the repository. An input that crashes, hangs or leaks is
# saved under <build>/crashes/<target>/ and the run fails: once fixed, keep it in
# fuzz/crashes/<target>/, where make test replays it. FUZZ_TARGETS="gguf safetensors" runs
# some targets only.
set -euo pipefail

BUILD=${1:-build-fuzz}
JOBS=${JOBS:-2}
EACH=${FUZZ_SECONDS:-60}

bash scripts/install-deps.sh clang libclang-rt-dev
cmake -S . -B "$BUILD" -DCAI_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$JOBS"

targets=${FUZZ_TARGETS:-$(cd fuzz/targets && ls ./*.cpp | sed 's|^\./||; s|\.cpp$||')}
mkdir -p "$BUILD/logs"

# One target's run; its exit status lands in <log>.rc.
run_target() {
  local t=$1 log="$BUILD/logs/$1.log" rc=0
  mkdir -p "$BUILD/corpus/$t" "$BUILD/crashes/$t"
  local dirs=("$BUILD/corpus/$t" "fuzz/corpus/$t")
  [ -d "fuzz/crashes/$t" ] && dirs+=("fuzz/crashes/$t")
  # The parsers' own output (warnings on stderr) is closed; reports still reach the log.
  "$BUILD/fuzz/fuzz_$t" -max_total_time="$EACH" -timeout=10 -rss_limit_mb=2048 \
    -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$t/" "${dirs[@]}" \
    >"$log" 2>&1 || rc=$?
  echo "$rc" >"$log.rc"
}

# JOBS targets at a time (each libFuzzer process uses one core).
echo "fuzzing $(wc -w <<<"$targets") targets for ${EACH}s each, $JOBS at a time" >&2
running=0
for t in $targets; do
  rm -f "$BUILD/logs/$t.log.rc"
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

status=0
printf '%-24s %12s %8s %7s %7s  %s\n' target executions exec/s cov ft result
for t in $targets; do
  log="$BUILD/logs/$t.log"
  rc=$(cat "$log.rc" 2>/dev/null || echo "?")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  if [ "$rc" = 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc): $log, inputs in $BUILD/crashes/$t/"
    status=1
  fi
  printf '%-24s %12s %8s %7s %7s  %s\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" \
    "$result"
done
exit $status
