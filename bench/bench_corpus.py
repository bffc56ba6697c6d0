#!/usr/bin/env python
"""Benchmark ckv against per-file and delta compressors on a checkpoint corpus.

The corpus is the output of ``/work/shared/corpus/make_corpus.py`` (see
``bench/README.md``)::

    CORPUS/bf16/step-0020/model.safetensors ...
    CORPUS/fp32/step-0020/{model.safetensors,optimizer.pt,trainer_state.json} ...

For every series (``bf16``, ``fp32``) and every scope

* ``weights``: only the ``*.safetensors`` files of each checkpoint,
* ``dir``:     every file of each checkpoint directory (skipped when it holds
               exactly the same files as ``weights``),

it measures, in one run and on the same machine:

* ``ckv``          one ``repo.commit(dir)`` per checkpoint in step order, then
                   ``repo.checkout(commit, out=fresh_dir)`` of every commit,
                   each checkout verified byte-identical (a mismatch fails the run);
* ``zstd-3``       python-zstandard level 3, each file independently;
* ``zipnn``        ZipNN (byte input, dtype of the series), each file independently;
* ``zipnn-delta``  ZipNN ``delta_compressed_type="byte"`` (file i XOR file i-1,
                   then ZipNN), first checkpoint compressed alone;
* ``z4ai-delta``   ``z4ai.compress_delta`` (file i XOR file i-1, then the z4ai
                   codec), first checkpoint compressed with ``z4ai.compress``;
* ``H0(xor)``      order-0 Shannon entropy of the byte planes of the XOR of
                   consecutive checkpoints: the ratio an ideal order-0 coder per
                   byte plane would get on the deltas (a reference, not a tool).

Usage::

    python bench/bench_corpus.py CORPUS_DIR [--series bf16 fp32] [--work DIR]
        [--skip z4ai ...] [--threads 2] [--json OUT]

MB = 1e6 bytes; times are wall clock (time.perf_counter) around the codec /
API calls only.  All files are read into memory before any competitor is timed.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import re
import shutil
import struct
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# run from a source checkout without `pip install -e .`: make the repo root importable
# (appended, so an installed ckvcs still wins)
sys.path.append(str(Path(__file__).resolve().parent.parent))

MB = 1e6
STEP_RE = re.compile(r"^step-(\d+)$")
TOOLS = ("ckv", "zstd", "zipnn", "zipnn-delta", "z4ai", "entropy")
# tool key -> label printed in the table
TOOL_LABEL = {
    "ckv": "ckv",
    "zstd": "zstd-3",
    "zipnn": "zipnn",
    "zipnn-delta": "zipnn-delta",
    "z4ai": "z4ai-delta",
    "entropy": "H0(xor) bound",
}
# element type -> (byte width, ZipNN bytearray_dtype, z4ai dtype code)
DTYPES = {
    "bf16": (2, "bfloat16", "bf16"),
    "fp16": (2, "float16", "fp16"),
    "fp32": (4, "float32", "fp32"),
}
ST_DTYPE = {"BF16": "bf16", "F16": "fp16", "F32": "fp32"}


# --------------------------------------------------------------------------- data


@dataclass
class Checkpoint:
    name: str  # "step-0020"
    step: int  # 20
    path: Path
    files: dict[str, bytes]  # relative posix path -> content


@dataclass
class Row:
    series: str
    scope: str
    tool: str
    n_ckpt: int = 0
    n_files: int = 0
    raw_bytes: int = 0
    stored_bytes: int | None = None
    ratio: float | None = None
    delta_raw_bytes: int | None = None  # checkpoints 2..N
    delta_stored_bytes: int | None = None
    delta_ratio: float | None = None
    comp_s: float | None = None
    decomp_s: float | None = None
    comp_mbs: float | None = None
    decomp_mbs: float | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    extra: dict = field(default_factory=dict)

    def finish(self) -> "Row":
        if self.stored_bytes:
            self.ratio = self.raw_bytes / self.stored_bytes
        if self.delta_stored_bytes:
            self.delta_ratio = self.delta_raw_bytes / self.delta_stored_bytes
        if self.comp_s:
            self.comp_mbs = self.raw_bytes / MB / self.comp_s
        if self.decomp_s:
            self.decomp_mbs = self.raw_bytes / MB / self.decomp_s
        return self


def load_series(root: Path) -> list[Checkpoint]:
    ckpts = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and STEP_RE.match(p.name)):
        files = {}
        for f in sorted(p for p in d.rglob("*") if p.is_file()):
            files[f.relative_to(d).as_posix()] = f.read_bytes()
        ckpts.append(Checkpoint(d.name, int(STEP_RE.match(d.name).group(1)), d, files))
    ckpts.sort(key=lambda c: c.step)
    return ckpts


def safetensors_data_start(buf: bytes) -> int | None:
    """Offset of the tensor data section of a safetensors file, else None."""
    if len(buf) < 10:
        return None
    (n,) = struct.unpack_from("<Q", buf, 0)
    if 8 + n > len(buf) or buf[8:9] != b"{":
        return None
    return 8 + n


def safetensors_dtypes(buf: bytes) -> set[str]:
    start = safetensors_data_start(buf)
    if start is None:
        return set()
    hdr = json.loads(buf[8:start])
    return {v["dtype"] for k, v in hdr.items() if k != "__metadata__"}


def series_dtype(series: str, ckpts: list[Checkpoint]) -> str:
    """Element type of the series: from the safetensors headers, else the name."""
    found = set()
    for rel, buf in ckpts[0].files.items():
        if rel.endswith(".safetensors"):
            found |= safetensors_dtypes(buf)
    mapped = {ST_DTYPE.get(d) for d in found}
    if len(mapped) == 1 and None not in mapped:
        return mapped.pop()
    if series in DTYPES:
        return series
    raise SystemExit(f"cannot tell the element type of series {series!r} (safetensors dtypes {found})")


def scope_files(ckpt: Checkpoint, scope: str) -> list[str]:
    if scope == "weights":
        return [r for r in ckpt.files if r.endswith(".safetensors")]
    return list(ckpt.files)


def items_for(ckpts: list[Checkpoint], scope: str):
    """[(ckpt index, rel, data, prev data or None)], prev = same file in ckpt i-1."""
    out = []
    for i, c in enumerate(ckpts):
        for rel in scope_files(c, scope):
            prev = ckpts[i - 1].files.get(rel) if i > 0 else None
            out.append((i, rel, c.files[rel], prev))
    return out


def fingerprint(ckpts: list[Checkpoint]):
    """Cheap digest of every input buffer, to catch codecs that mutate their input."""
    try:
        import xxhash

        h = lambda b: xxhash.xxh3_64_intdigest(b)  # noqa: E731
    except ImportError:  # pragma: no cover
        import zlib

        h = zlib.crc32
    return {(c.name, r): h(b) for c in ckpts for r, b in c.files.items()}


# --------------------------------------------------------------------------- codecs


def bench_codec(row: Row, items, compress, decompress, *, delta: bool, prepare=None, repeat: int = 1):
    """Time compress/decompress of every item; verify the round trip.

    compress(data_or_prepared, prev_or_None) -> blob
    decompress(blob, prev_reconstructed_or_None) -> bytes-like
    For delta codecs prev is the same file of the previous checkpoint when it
    exists and has the same length, else None (the file is stored standalone).
    Each pass is run `repeat` times; the fastest total is kept.
    """
    tc = td = math.inf
    for _ in range(max(1, repeat)):
        blobs, t, standalone = [], 0.0, 0
        for i, rel, data, prev in items:
            ref = prev if (delta and prev is not None and len(prev) == len(data)) else None
            if delta and i > 0 and ref is None:
                standalone += 1
            arg = prepare(data) if prepare else data  # outside the timer
            t0 = time.perf_counter()
            blob = compress(arg, ref)
            t += time.perf_counter() - t0
            del arg
            blobs.append((blob, ref is not None))
        tc = min(tc, t)
    for _ in range(max(1, repeat)):
        t, last = 0.0, {}
        for (i, rel, data, prev), (blob, is_delta) in zip(items, blobs):
            ref = last.get(rel) if is_delta else None
            t0 = time.perf_counter()
            out = decompress(blob, ref)
            t += time.perf_counter() - t0
            if len(out) != len(data) or out != data:
                raise RuntimeError(f"round trip mismatch on {row.series}/{i}/{rel}")
            del out
            last[rel] = data if delta else None  # == the decoded output, checked above
        td = min(td, t)
    row.n_files = len(items)
    row.raw_bytes = sum(len(it[2]) for it in items)
    row.stored_bytes = sum(len(b) for b, _ in blobs)
    if delta:
        row.delta_raw_bytes = sum(len(it[2]) for it in items if it[0] > 0)
        row.delta_stored_bytes = sum(len(b) for it, (b, _) in zip(items, blobs) if it[0] > 0)
        if standalone:
            row.notes.append(f"{standalone} file(s) with no same-length predecessor stored standalone")
    row.comp_s, row.decomp_s = tc, td
    return row


def warm_up(fn, *args):
    try:
        fn(*args)
    except Exception:
        pass


def run_zstd(row, items, dt, threads, repeat=1):
    import zstandard

    zt = threads if threads > 1 else 0  # python-zstandard: 0 = single-threaded
    cctx = zstandard.ZstdCompressor(level=3, threads=zt)
    dctx = zstandard.ZstdDecompressor()
    warm_up(lambda: dctx.decompress(cctx.compress(bytes(1 << 20))))
    row.notes.append(f"level 3, compress threads={max(threads, 1)}, decompress 1 thread, zstandard {zstandard.__version__}")
    return bench_codec(row, items, lambda d, _r: cctx.compress(d), lambda b, _r: dctx.decompress(b), delta=False, repeat=repeat)


def _zipnn(dt, threads, delta):
    from zipnn import ZipNN

    kw = dict(input_format="byte", bytearray_dtype=DTYPES[dt][1], threads=threads)
    if delta:
        kw["delta_compressed_type"] = "byte"
    return ZipNN(**kw)


ZIPNN_MUTATION_NOTE = "input copied to a bytearray outside the timer (ZipNN rewrites its input buffer in place)"


def run_zipnn(row, items, dt, threads, repeat=1):
    import zipnn  # noqa: F401

    z = _zipnn(dt, threads, False)
    warm_up(lambda: z.decompress(z.compress(bytearray(1 << 20))))
    row.notes.append(f"threads={threads}, dtype={DTYPES[dt][1]}; {ZIPNN_MUTATION_NOTE}")
    return bench_codec(
        row, items, lambda d, _r: z.compress(d), lambda b, _r: z.decompress(b), delta=False, prepare=bytearray,
        repeat=repeat,
    )


def run_zipnn_delta(row, items, dt, threads, repeat=1):
    z = _zipnn(dt, threads, False)
    zd = _zipnn(dt, threads, True)

    def comp(d, ref):
        return zd.compress(d, delta_second_data=ref) if ref is not None else z.compress(d)

    def decomp(b, ref):
        return zd.decompress(b, delta_second_data=ref) if ref is not None else z.decompress(b)

    warm_up(lambda: zd.decompress(zd.compress(bytes(1 << 20), delta_second_data=bytes(1 << 20)), delta_second_data=bytes(1 << 20)))
    row.notes.append(
        f"threads={threads}; ZipNN(delta_compressed_type='byte').compress(cur, delta_second_data=prev) = "
        "ZipNN of (cur XOR prev); first ckpt: plain ZipNN"
    )
    row.notes.append(ZIPNN_MUTATION_NOTE)
    return bench_codec(row, items, comp, decomp, delta=True, prepare=bytearray, repeat=repeat)


def run_z4ai(row, items, dt, threads, repeat=1):
    import z4ai

    code = DTYPES[dt][2]

    def comp(d, ref):
        if ref is None:
            return z4ai.compress(d, dtype=code, threads=threads)
        return z4ai.compress_delta(d, ref, dtype=code, threads=threads)

    def decomp(b, ref):
        return z4ai.decompress(b) if ref is None else z4ai.decompress_delta(b, ref)

    warm_up(lambda: decomp(comp(bytes(1 << 20), bytes(1 << 20)), bytes(1 << 20)))
    row.notes.append(
        f"z4ai {z4ai.__version__}, threads={threads}; z4ai.compress_delta(cur, prev, dtype={code!r}) = "
        "z4ai codec of (cur XOR prev); first ckpt: z4ai.compress"
    )
    return bench_codec(row, items, comp, decomp, delta=True, repeat=repeat)


def plane_entropy(row, items, dt):
    """Order-0 entropy of each byte plane of XOR(ckpt i, ckpt i-1), i = 2..N."""
    width = DTYPES[dt][0]
    counts = np.zeros((width, 256), dtype=np.int64)
    chunk = (16 << 20) // width * width
    covered, skipped = 0, 0
    for i, rel, data, prev in items:
        if i == 0:
            continue
        if prev is None or len(prev) != len(data):
            skipped += 1
            continue
        start = safetensors_data_start(data) if rel.endswith(".safetensors") else 0
        start = start or 0
        a = np.frombuffer(data, dtype=np.uint8, offset=start)
        b = np.frombuffer(prev, dtype=np.uint8, offset=start)
        n = len(a) // width * width
        for s in range(0, n, chunk):
            x = np.bitwise_xor(a[s : min(s + chunk, n)], b[s : min(s + chunk, n)]).reshape(-1, width)
            for k in range(width):
                counts[k] += np.bincount(x[:, k], minlength=256)
        covered += n
    tot = counts.sum(axis=1, keepdims=True)
    p = counts / np.maximum(tot, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log2(p), 0.0)).sum(axis=1)  # bits per byte, per plane
    row.n_files = sum(1 for it in items if it[0] > 0) - skipped
    row.raw_bytes = covered
    row.delta_raw_bytes = covered
    row.delta_stored_bytes = int(math.ceil(float((h * tot[:, 0]).sum()) / 8))
    per_ratio = ["inf" if v == 0 else f"{8 / v:.2f}" for v in h]
    row.extra = {"plane_bits_per_byte": [float(v) for v in h], "plane_ratio": [8 / v if v else None for v in h]}
    row.notes.append(
        f"planes LSB..MSB of {dt} elements (safetensors: data section only); "
        f"bits/byte {' '.join(f'{v:.3f}' for v in h)}; order-0 ratio per plane {' '.join(per_ratio)}"
    )
    if skipped:
        row.notes.append(f"{skipped} file(s) with no same-length predecessor left out")
    return row


# --------------------------------------------------------------------------- ckv


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def read_tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def stage_scope(ckpts, scope, work: Path, series: str) -> list[Path]:
    """Directories to commit: the checkpoint dirs themselves for the full-dir scope,
    else a staging copy (hard links when possible) holding only the scope's files."""
    if all(set(scope_files(c, scope)) == set(c.files) for c in ckpts):
        return [c.path for c in ckpts]
    dirs = []
    for c in ckpts:
        d = work / f"stage-{series}-{scope}" / c.name
        for rel in scope_files(c, scope):
            dst = d / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(c.path / rel, dst)
            except OSError:
                shutil.copyfile(c.path / rel, dst)
        dirs.append(d)
    return dirs


def _ckv_commit_all(ckvcs, repo_dir: Path, ckpts, src_dirs):
    repo_dir.mkdir(parents=True)
    repo = ckvcs.Repo.init(str(repo_dir))
    results, tc = [], 0.0
    for c, src in zip(ckpts, src_dirs):
        for f in src.rglob("*"):  # warm the page cache, outside the timer
            if f.is_file():
                f.read_bytes()
        t0 = time.perf_counter()
        res = repo.commit(str(src), step=c.step)
        tc += time.perf_counter() - t0
        results.append(res)
    return repo, results, tc


_CKV_WARM: set[str] = set()


def ckv_warm_up(ckvcs, work: Path, dt: str):
    """Commit and check out two tiny checkpoints of this dtype in a throwaway repo,
    so one-time costs (numba JIT, imports, pools) are not charged to the timed run."""
    if dt in _CKV_WARM:
        return
    import torch
    from safetensors.torch import save_file

    tdt = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dt]
    base = work / f"ckv-warmup-{dt}"
    g = torch.Generator().manual_seed(0)
    w = torch.randn(256, 1024, generator=g)
    try:
        repo = ckvcs.Repo.init(str(base / "repo"))
        for k, step in enumerate((1, 2)):
            d = base / "src" / f"step-{step:04d}"
            d.mkdir(parents=True)
            w = w + 1e-3 * torch.randn(256, 1024, generator=g)
            save_file({"w": w.to(tdt)}, str(d / "model.safetensors"))
            torch.save({"state": {0: {"exp_avg": w.clone()}}}, d / "optimizer.pt")
            (d / "trainer_state.json").write_text(json.dumps({"step": step}))
            res = repo.commit(str(d), step=step)
            repo.checkout(res.id, out=str(base / "out" / str(k)))
        if hasattr(repo, "close"):
            repo.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    _CKV_WARM.add(dt)


def run_ckv(row, ckpts, scope, work: Path, series: str, repeat: int = 1, dt: str | None = None):
    import ckvcs

    if dt:
        ckv_warm_up(ckvcs, work, dt)
    src_dirs = stage_scope(ckpts, scope, work, series)
    repo_dir = work / f"ckv-{series}-{scope}"
    # extra repeats: commit the whole series into a fresh repository each time, keep the fastest
    tc = math.inf
    for r in range(1, max(1, repeat)):
        scratch = work / f"ckv-{series}-{scope}-rep{r}"
        repo, _, t = _ckv_commit_all(ckvcs, scratch, ckpts, src_dirs)
        tc = min(tc, t)
        if hasattr(repo, "close"):
            repo.close()
        shutil.rmtree(scratch)
    repo, results, t = _ckv_commit_all(ckvcs, repo_dir, ckpts, src_dirs)
    tc = min(tc, t)
    commit_log = []
    for c, res in zip(ckpts, results):
        log = {"dir": c.name, "id": str(res.id), "tag": res.tag, "raw_bytes": res.raw_bytes, "stored_bytes": res.stored_bytes}
        for k in ("changed_fraction", "codec_mix"):  # optional extras, if the result carries them
            if hasattr(res, k):
                log[k] = getattr(res, k)
        commit_log.append(log)
    repo.close()  # measure the repository at rest (SQLite folds its WAL back in on close)
    store = dir_bytes(repo_dir / ".ckv")
    expected = [{r: c.files[r] for r in scope_files(c, scope)} for c in ckpts]
    raw = [sum(len(b) for b in e.values()) for e in expected]
    for log, r in zip(commit_log, raw):
        if log["raw_bytes"] != r:
            row.notes.append(f"commit {log['dir']} reports raw_bytes={log['raw_bytes']} != {r} on disk")
            break
    tags_ok = all(res.tag == f"step-{c.step}" for res, c in zip(results, ckpts))
    td, failures = math.inf, []
    for rep in range(max(1, repeat)):
        # every pass checks out as a new process would: an empty decoded-tensor cache (the series
        # fits in it, so a second pass through one Repo would measure cache hits, not decoding)
        repo = ckvcs.Repo.open(str(repo_dir))
        t = 0.0
        for c, res, exp in zip(ckpts, results, expected):
            out = work / f"out-{series}-{scope}" / c.name
            out.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            repo.checkout(res.id, out=str(out))
            t += time.perf_counter() - t0
            if rep == 0:
                got = read_tree(out)  # verification, outside the timer
                if got.keys() != exp.keys():
                    failures.append(
                        f"{c.name}: files differ: missing {sorted(exp.keys() - got.keys())}, "
                        f"extra {sorted(got.keys() - exp.keys())}"
                    )
                else:
                    bad = [r for r in exp if got[r] != exp[r]]
                    if bad:
                        failures.append(f"{c.name}: content differs in {bad}")
                del got
            shutil.rmtree(out)
        td = min(td, t)
        if hasattr(repo, "close"):
            repo.close()
    row.n_files = sum(len(e) for e in expected)
    row.raw_bytes = sum(raw)
    row.stored_bytes = store
    row.delta_raw_bytes = sum(raw[1:])
    row.delta_stored_bytes = sum(int(r.stored_bytes) for r in results[1:])
    row.comp_s, row.decomp_s = tc, td
    row.extra = {"commits": commit_log, "first_commit_stored_bytes": int(results[0].stored_bytes)}
    row.notes.append(
        "ratio = raw / size of .ckv/; delta = raw(2..N) / stored_bytes(2..N); "
        "comp = commit MB/s, decomp = checkout MB/s (after a warm-up commit/checkout in a scratch repo)"
    )
    overhead = store - sum(int(r.stored_bytes) for r in results)
    row.notes.append(
        f"first commit stored {int(results[0].stored_bytes) / MB:.1f} MB; "
        f".ckv/ size minus sum of stored_bytes (index, refs, config) = {overhead / MB:.2f} MB"
    )
    if not tags_ok:
        row.notes.append("tags: " + ", ".join(str(r.tag) for r in results))
    if failures:
        row.error = "CHECKOUT NOT BYTE-IDENTICAL: " + "; ".join(failures)
    else:
        row.notes.append(f"all {len(results)} checkouts verified byte-identical")
    return row


# --------------------------------------------------------------------------- output


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_table(rows: list[Row], file=sys.stdout):
    cols = [
        ("series", lambda r: r.series, "<"),
        ("scope", lambda r: r.scope, "<"),
        ("tool", lambda r: TOOL_LABEL.get(r.tool, r.tool) + (" FAILED" if r.error else ""), "<"),
        ("ckpts", lambda r: str(r.n_ckpt), ">"),
        ("files", lambda r: str(r.n_files), ">"),
        ("raw MB", lambda r: fmt(r.raw_bytes / MB if r.raw_bytes else None, ".1f"), ">"),
        ("stored MB", lambda r: fmt(r.stored_bytes / MB if r.stored_bytes else None, ".1f"), ">"),
        ("ratio", lambda r: fmt(r.ratio, ".2f"), ">"),
        ("delta ratio", lambda r: fmt(r.delta_ratio, ".2f"), ">"),
        ("comp MB/s", lambda r: fmt(r.comp_mbs, ".1f"), ">"),
        ("decomp MB/s", lambda r: fmt(r.decomp_mbs, ".1f"), ">"),
    ]
    cells = [[c[0] for c in cols]]
    for r in rows:
        if r.error and r.raw_bytes == 0:
            cells.append([r.series, r.scope, TOOL_LABEL.get(r.tool, r.tool) + " FAILED"] + ["-"] * (len(cols) - 3))
            continue
        cells.append([c[1](r) for c in cols])
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    sep = "  "
    line = lambda row: sep.join(  # noqa: E731
        (x.ljust(w) if c[2] == "<" else x.rjust(w)) for x, w, c in zip(row, widths, cols)
    )
    print(line(cells[0]), file=file)
    print(sep.join("-" * w for w in widths), file=file)
    prev = None
    for r, row in zip(rows, cells[1:]):
        if prev is not None and (r.series, r.scope) != prev:
            print(file=file)
        prev = (r.series, r.scope)
        print(line(row), file=file)
    print(file=file)
    print("notes:", file=file)
    for r in rows:
        tag = f"  [{r.series}/{r.scope}/{TOOL_LABEL.get(r.tool, r.tool)}]"
        for n in r.notes:
            print(f"{tag} {n}", file=file)
        if r.error:
            print(f"{tag} ERROR: {r.error}", file=file)


LEGEND = """\
columns: raw MB = input bytes (1 MB = 1e6 B); stored MB = compressed output (ckv: size of .ckv/);
  ratio = raw / stored over the whole series; delta ratio = raw / stored over checkpoints 2..N only
  (delta tools and ckv: what each later checkpoint costs given the previous one; H0 row: ideal
  order-0 coder per byte plane on the XOR deltas); comp/decomp MB/s = raw MB / summed wall time
  of the calls (ckv: commit / checkout)."""


# --------------------------------------------------------------------------- main


def versions():
    v = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}
    for mod in ("numpy", "zstandard", "zipnn", "z4ai", "ckvcs"):
        try:
            m = __import__(mod)
            v[mod] = getattr(m, "__version__", None)
            if v[mod] is None:
                from importlib.metadata import version

                v[mod] = version(mod)
        except Exception as e:  # noqa: BLE001
            v[mod] = f"unavailable ({type(e).__name__}: {e})"
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--series", nargs="+", default=["bf16", "fp32"])
    ap.add_argument("--scopes", nargs="+", default=["weights", "dir"], choices=["weights", "dir"])
    ap.add_argument("--work", type=Path, default=None, help="parent dir for scratch files (default: system temp)")
    ap.add_argument("--keep-work", action="store_true", help="do not delete the scratch dir")
    ap.add_argument("--skip", nargs="*", default=[], choices=TOOLS, help="tools to leave out")
    ap.add_argument("--threads", type=int, default=2, help="threads for zstd/ZipNN/z4ai (ckv uses 2 cores too)")
    ap.add_argument("--repeat", type=int, default=1, help="time every tool N times, keep the fastest (default 1)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    a = ap.parse_args(argv)

    skip = set(a.skip)
    ckv_skip_reason = None
    if "ckv" not in skip:
        try:
            import ckvcs

            ckvcs.Repo  # noqa: B018
        except Exception as e:  # noqa: BLE001
            ckv_skip_reason = f"import ckvcs / ckvcs.Repo failed: {type(e).__name__}: {e}"
            skip.add("ckv")
            print(f"ckv SKIPPED: {ckv_skip_reason}", file=sys.stderr)

    if a.work:
        a.work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ckv-bench-", dir=a.work))
    meta = {"corpus": str(a.corpus.resolve()), "threads": a.threads, "repeat": a.repeat, "versions": versions(), "skipped": sorted(skip)}
    if ckv_skip_reason:
        meta["ckv_skipped"] = ckv_skip_reason
    print(f"# bench_corpus: {meta['corpus']}  threads={a.threads}  repeat={a.repeat} (best of)")
    print("# " + "  ".join(f"{k}={v}" for k, v in meta["versions"].items()))
    rows: list[Row] = []
    ckv_failed = False
    try:
        for series in a.series:
            root = a.corpus / series
            if not root.is_dir():
                print(f"series {series}: {root} not found, skipped", file=sys.stderr)
                continue
            t0 = time.perf_counter()
            ckpts = load_series(root)
            if not ckpts:
                print(f"series {series}: no step-* dirs under {root}", file=sys.stderr)
                continue
            dt = series_dtype(series, ckpts)
            print(
                f"# {series}: {len(ckpts)} checkpoints {ckpts[0].name}..{ckpts[-1].name}, dtype {dt}, "
                f"{sum(len(b) for c in ckpts for b in c.files.values()) / MB:.1f} MB read in {time.perf_counter() - t0:.1f}s",
                flush=True,
            )
            fp = fingerprint(ckpts)
            seen_scopes = {}
            for scope in a.scopes:
                key = tuple(tuple(scope_files(c, scope)) for c in ckpts)
                if not any(key):
                    print(f"# {series}/{scope}: no files, skipped")
                    continue
                if key in seen_scopes:
                    print(f"# {series}/{scope}: same files as {series}/{seen_scopes[key]}, rows not repeated")
                    continue
                seen_scopes[key] = scope
                items = items_for(ckpts, scope)
                for tool in TOOLS:
                    if tool in skip:
                        continue
                    row = Row(series, scope, tool, n_ckpt=len(ckpts))
                    print(f"# running {series}/{scope}/{TOOL_LABEL[tool]} ...", flush=True)
                    t1 = time.perf_counter()
                    try:
                        if tool == "ckv":
                            run_ckv(row, ckpts, scope, work, series, a.repeat, dt)
                        elif tool == "zstd":
                            run_zstd(row, items, dt, a.threads, a.repeat)
                        elif tool == "zipnn":
                            run_zipnn(row, items, dt, a.threads, a.repeat)
                        elif tool == "zipnn-delta":
                            run_zipnn_delta(row, items, dt, a.threads, a.repeat)
                        elif tool == "z4ai":
                            run_z4ai(row, items, dt, a.threads, a.repeat)
                        elif tool == "entropy":
                            plane_entropy(row, items, dt)
                    except Exception as e:  # noqa: BLE001
                        row.error = f"{type(e).__name__}: {e}"
                        print(f"# {series}/{scope}/{TOOL_LABEL[tool]} FAILED: {row.error}", file=sys.stderr)
                        traceback.print_exc(file=sys.stderr)
                    row.finish()
                    if tool == "ckv" and row.error:
                        ckv_failed = True
                        print(f"\n!!! ckv {series}/{scope}: {row.error}\n", file=sys.stderr, flush=True)
                    if fingerprint(ckpts) != fp:
                        raise SystemExit(f"{TOOL_LABEL[tool]} modified its input buffers; results invalid")
                    print(f"#   done in {time.perf_counter() - t1:.1f}s", flush=True)
                    rows.append(row)
                    gc.collect()
            del ckpts
            items = None
            gc.collect()
    finally:
        if a.keep_work:
            print(f"# scratch kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print_table(rows)
    if ckv_skip_reason:
        print(f"\nckv rows SKIPPED: {ckv_skip_reason}")
    print()
    print(LEGEND)
    if a.json:
        a.json.write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2))
        print(f"\n# JSON written to {a.json}")
    if ckv_failed:
        print("\nFAILED: at least one ckv checkout was not byte-identical to its source", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
