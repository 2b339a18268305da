#!/usr/bin/env bash
# Fails when a module includes a module it must not: the dependencies point one way, from the
# command line down to io (docs/ARCHITECTURE.md draws the same graph). A module may include
# the modules listed after it here, and itself; tests and the CLI are not checked.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

declare -A MAY=(
  [io]=""
  [formats]="io"
  [tokenizer]="formats io"
  [constitution]="io"
  [world]="constitution io"
  [dist]="io"
  [model]="formats tokenizer io"
  [generate]="model tokenizer formats io"
  [train]="dist generate model tokenizer formats io"
  [backend]="generate model tokenizer formats io"
  [serve]="generate model tokenizer formats io"
  [pipeline]="backend train constitution tokenizer io"
  [eval]="pipeline backend train generate model tokenizer formats constitution world io"
  [loop]="eval pipeline backend train generate model tokenizer formats constitution world io"
  [report]="loop eval pipeline world io"
)
status=0
for module in "${!MAY[@]}"; do
  allowed=" $module ${MAY[$module]} "
  while IFS= read -r hit; do
    file=${hit%%:*}
    used=$(sed -E 's|.*#include "cai/([a-z_]+)/.*|\1|' <<<"${hit#*:}")
    if [[ "$allowed" != *" $used "* ]]; then
      echo "check-layers: ${file#$ROOT/}: $module must not include cai/$used/" >&2
      status=1
    fi
  done < <(grep -rHE '#include "cai/[a-z_]+/' "$ROOT/src/$module" "$ROOT/include/cai/$module" \
             2>/dev/null || true)
done
[ $status -eq 0 ] && echo "check-layers: every module includes only the modules below it"
exit $status
