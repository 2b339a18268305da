#!/usr/bin/env bash
# The demo: the most complete real path cai has today, end to end on this machine.
# The synthetic telehealth world is generated (knowledge base, prompt splits, corpus,
# constitution), its constitution is checked, a BPE tokenizer is trained on its corpus, a small
# Llama-shaped model is created with random weights for it, and the model is inspected, sampled
# from in a batch, used to score text, exported to GGUF and reloaded; greedy generations from
# the safetensors directory and from the GGUF file must agree. (Random weights produce
# gibberish: the point is that every stage runs for real. Pretraining on the world comes next.)
set -euo pipefail
BUILD=${1:-build}
CAI="$(pwd)/$BUILD/cai"
OUT=runs/demo
mkdir -p "$OUT"

step() { printf '\n== %s\n' "$*"; }

step "generate the synthetic telehealth world (seed 1)"
"$CAI" world generate --seed 1 --out "$OUT/world"
ls "$OUT/world" "$OUT/world/prompts"

step "check the world's constitution"
"$CAI" constitution check "$OUT/world/constitution.yaml"

step "train a byte-level BPE tokenizer on the world's corpus"
"$CAI" tokenizer train --input "$OUT/world/corpus/pretrain.txt" \
  --vocab-size 1024 --special '<|endoftext|>' --out "$OUT/tokenizer.json"

step "create a small random Llama-shaped model (GQA, tied embeddings)"
"$CAI" model init --tokenizer "$OUT/tokenizer.json" --hidden 128 --layers 4 --heads 4 \
  --kv-heads 2 --ffn 352 --context 512 --tie-embeddings --seed 1 --out "$OUT/random-model"
"$CAI" model info "$OUT/random-model"

step "batched sampling (temperature 0.8, top-p 0.95, seed 7)"
"$CAI" generate "$OUT/random-model" --input examples/prompts.jsonl --output "$OUT/samples.jsonl" \
  --max-tokens 24 --temperature 0.8 --top-p 0.95 --seed 7 --chat-template human-assistant
head -c 600 "$OUT/samples.jsonl"; echo

step "score a text under teacher forcing"
"$CAI" score "$OUT/random-model" --text "The clinic opens at 8am on weekdays." > "$OUT/score.json"
head -c 400 "$OUT/score.json"; echo

step "export to GGUF (F32) and reload"
"$CAI" model convert "$OUT/random-model" "$OUT/random-model.gguf"
"$CAI" model info "$OUT/random-model.gguf"

step "greedy generations from the directory and from the GGUF file agree"
for m in random-model random-model.gguf; do
  "$CAI" generate "$OUT/$m" --input examples/prompts.jsonl --output "$OUT/greedy-$m.jsonl" \
    --max-tokens 16 --temperature 0 --chat-template human-assistant
done
if cmp -s "$OUT/greedy-random-model.jsonl" "$OUT/greedy-random-model.gguf.jsonl"; then
  echo "identical: $(wc -l < "$OUT/greedy-random-model.jsonl") generations"
else
  echo "MISMATCH between safetensors and GGUF generations" >&2
  exit 1
fi
echo
echo "demo artifacts are in $OUT/"
