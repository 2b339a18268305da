#!/usr/bin/env bash
# The demo: the whole Constitutional AI loop on the embedded telehealth world.
# 1. the world is generated (knowledge base, prompt splits, pretraining corpus, constitution,
#    capability tasks), deterministically from its seed;
# 2. a tokenizer and a small Llama-shaped base model are pretrained on its corpus (reused when
#    runs/base already holds a model made from the same corpus and settings);
# 3. `cai loop` runs examples/loop/demo.yaml: critique -> revision, AI-feedback labels, SFT
#    and DPO, evaluated with the world's oracle; it probes how deep the alignment goes and
#    prints the before/after table and the alignment tax; `cai report` turns the run into one
#    HTML file.
set -euo pipefail
BUILD=${1:-build}
CAI="$(pwd)/$BUILD/cai"

step() { printf '\n== %s\n' "$*"; }
start=$(date +%s)

step "generate the synthetic telehealth world (seed 0)"
# The hand-written prompts are for evaluation only: none of them may be trained on.
"$CAI" world generate --seed 0 --out runs/world --exclude-prompts examples/world/handwritten.jsonl

step "pretrain the base model on the world's corpus (cached in runs/base)"
"$CAI" pretrain --world runs/world --out runs/base --seed 0

step "the loop: critique -> revision, AI feedback, SFT, DPO, evaluation"
"$CAI" loop --config examples/loop/demo.yaml

step "the HTML report"
"$CAI" report runs/demo

echo
echo "demo finished in $(( $(date +%s) - start )) s; the run is in runs/demo/"
