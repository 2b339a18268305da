#!/usr/bin/env bash
# Benchmarks: generation and scoring throughput on the reference shape, then tokenizer
# encode throughput. Figures go to stdout with the setting they were measured in.
set -euo pipefail
BUILD=${1:-build}
CAI="$BUILD/cai"
FIXTURES="$(cd "$(dirname "$0")/.." && pwd)/../shared/fixtures"

echo "== cai bench generate (embedding 288, 6 layers, 6 heads, ffn 768, vocab 32000, F32, random weights)"
"$CAI" bench generate
echo
echo "== cai bench tokenize"
if [ -d "$FIXTURES/tokenizer" ]; then
  "$CAI" bench tokenize "$FIXTURES"/tokenizer/ggml-vocab-{gpt-2,starcoder,falcon,llama-spm,phi-3}.gguf
else
  "$CAI" bench tokenize
fi
