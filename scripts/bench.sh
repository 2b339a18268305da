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
