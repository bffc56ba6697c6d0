#!/usr/bin/env bash
# The README's first command runs this: a small training run committed with ckv,
# inspected, checked out byte for byte, repacked and checked. Work happens in a temporary folder.
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
ckv repack      # newest versions whole, older ones as deltas of newer ones, all in one pack file
ckv fsck        # decodes every object and checks its hash
ckv checkout step-100 -o restored/step-100
cmp restored/step-100/model.safetensors runs/x/step-0100/model.safetensors
echo "after repack, step-100 still checks out byte-identical"
du -sh .ckv   # the whole repository
