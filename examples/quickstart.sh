#!/usr/bin/env bash
# The README's first command runs this: a small training run committed with ckv,
# inspected, and checked out byte for byte. Work happens in a temporary folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work" && cd "$work"
python "$here/make_checkpoints.py" runs/x --steps 100 --every 20
ckv init
for d in runs/x/step-*; do
  ckv commit "$d" -m "checkpoint $(basename "$d")"
done
ckv log --oneline
ckv log --sparsity
ckv show step-40 --tensors
ckv checkout step-20 -o restored/step-20
cmp restored/step-20/model.safetensors runs/x/step-0020/model.safetensors
echo "step-20 checked out byte-identical into $work/restored/step-20"
ckv status
du -sh .ckv   # the whole repository
