#!/usr/bin/env bash
# Benchmarks: generation and scoring throughput on the reference shape, then tokenizer
# encode throughput. Figures go to stdout with the setting they were measured in.
set -euo pipefail
BUILD=${1:-build}
CAI="$BUILD/cai"
FIXTURES="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures"

echo "== cai bench generate (embedding 288, 6 layers, 6 heads, ffn 768, vocab 32000, F32, random weights)"
"$CAI" bench generate
echo
# Quantized weights: the two comparison shapes with random weights, F32 and converted by
# `cai model convert` (F16, Q8_0, Q4_0 and llama.cpp's Q4_K_M mix), prompt 128, 128 generated,
# 2 threads.
# The models are made once under $BUILD/bench-models; the same files load in llama.cpp.
MODELS="$BUILD/bench-models"
mkdir -p "$MODELS"
make_models() {  # name tokenizer init-flags...
  local name=$1 tok=$2
  shift 2
  [ -f "$MODELS/$name-f32.gguf" ] ||
    "$CAI" model init --out "$MODELS/$name-f32.gguf" --tokenizer "$tok" --seed 1 "$@"
  for q in f16 q8_0 q4_0 q4_k; do
    [ -f "$MODELS/$name-$q.gguf" ] ||
      "$CAI" model convert "$MODELS/$name-f32.gguf" "$MODELS/$name-$q.gguf" --dtype "$q"
  done
}
make_models d288 "$FIXTURES/tokenizer/ggml-vocab-llama-spm.gguf" \
  --hidden 288 --layers 6 --heads 6 --kv-heads 6 --ffn 768 --context 2048
make_models smollm2-135m "$FIXTURES/tokenizer/ggml-vocab-starcoder.gguf" \
  --hidden 576 --layers 30 --heads 9 --kv-heads 3 --ffn 1536 --context 2048 \
  --rope-theta 100000 --tie-embeddings
echo "== cai bench generate on quantized files (full output in $MODELS/*.bench.txt)"
echo "| model | weights read per step (MB) | batch 1 tok/s | batch 8 | batch 32 |"
echo "|---|---|---|---|---|"
for name in d288 smollm2-135m; do
  for q in f32 f16 q8_0 q4_0 q4_k; do
    "$CAI" bench generate --model "$MODELS/$name-$q.gguf" --threads 2 --batches 1,8,32 \
      >"$MODELS/$name-$q.bench.txt"
    grep '^table:' "$MODELS/$name-$q.bench.txt" | sed "s|^table: $MODELS/|\| |; s|\$| \||"
  done
done
grep -h '^memory bandwidth' "$MODELS/d288-f32.bench.txt" || true
echo
echo "== cai bench tokenize"
if [ -d "$FIXTURES/tokenizer" ]; then
  "$CAI" bench tokenize "$FIXTURES"/tokenizer/ggml-vocab-{gpt-2,starcoder,falcon,llama-spm,phi-3}.gguf
else
  "$CAI" bench tokenize
fi
echo
echo "== cai bench train (the same shape, sequence length 256, SFT and DPO optimiser steps)"
"$CAI" bench train
# The PyTorch reference of the same model and steps (Debian's python3-torch, installed when
# missing like every other dependency).
bash "$(dirname "$0")/install-deps.sh" python3-torch
echo
echo "== bench/train_reference.py (PyTorch, the same threads)"
/usr/bin/python3 "$(dirname "$0")/../bench/train_reference.py" --threads "$(nproc)"
