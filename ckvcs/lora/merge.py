"""Merging LoRA adapters into their base commit, written out as a model directory.

``merge_adapters`` writes every file of the base commit to ``out``; in the
safetensors files, each tensor an adapter targets is replaced by
``W + Σ weight_i · scaling_i · B_i @ A_i`` (one adapter with weight 1 is
``checkout --merge``; several are a blend, task arithmetic). The safetensors
header is the base's own (same names, dtypes, shapes, offsets and
``__metadata__``), so the result loads wherever the base loads.

Everything that can be refused is checked before a byte is written: the
adapters are read and their config checked, every module is matched to a base
tensor of a mergeable dtype and a fitting shape, and no file in ``out`` would
be overwritten (unless ``force``). Then the base is streamed tensor by tensor:
at most the tensors in flight (bounded by bytes, on both cores) are in memory,
never the whole checkpoint. Unchanged files are rebuilt and checked against
their manifest hash, as in ``checkout``.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from .._parallel import MAX_INFLIGHT_BYTES, ordered_map
from ..errors import BadInputError, ConflictError, CorruptObjectError
from ..ids import stream_id
from ..index import Index
from ..index import queries as q
from ..objects import Manifest, Segment
from ..reader import Reader, safe_relpath
from ..refs import resolve
from ..store._atomic import storage_error, write_atomic
from .config import ADAPTER_CONFIG, WEIGHT_FILES, LoraConfig
from .delta import MERGEABLE_DTYPES, delta, merge, pair_keys, target_name, update_shape

if TYPE_CHECKING:
    import torch

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Adapter:
    ref: str
    commit: str
    weight: float
    config: LoraConfig
    tensors: dict[str, "torch.Tensor"] = field(repr=False)
    recorded_base: str | None          # the base commit its commit metadata names


@dataclass(frozen=True)
class MergeResult:
    base: str
    adapters: tuple[dict[str, Any], ...]   # ref, commit, weight, recorded_base
    out: str
    written: tuple[str, ...]
    merged_tensors: int
    bytes_written: int

    def provenance(self) -> dict[str, Any]:
        """The commit metadata of a committed blend: what it was made from, and how."""
        return {"base": self.base, "rule": "W + sum(weight * scaling * B @ A)",
                "adapters": [{k: a[k] for k in ("ref", "commit", "weight")} for a in self.adapters]}


def _file_bytes(reader: Reader, man: Manifest, where: str) -> bytes:
    data = b"".join(bytes(c) for c in reader.chunks(man))
    if stream_id([data]) != man.hash:
        raise CorruptObjectError(man.hash, f"rebuilt {where} does not match its manifest hash")
    return data


def load_adapter(reader: Reader, index: Index, ref: str, weight: float) -> Adapter:
    import torch

    from ..torch_io import to_tensor

    with index.read() as conn:
        cid = resolve(conn, ref)
        meta = json.loads(q.commit_row(conn, cid).metadata or "{}")
    mans = reader.manifests(cid)
    weights = [w for w in WEIGHT_FILES if w in mans]
    if ADAPTER_CONFIG not in mans or not weights:
        raise BadInputError(ref, f"not a PEFT adapter commit (no {ADAPTER_CONFIG} with {' or '.join(WEIGHT_FILES)}"
                                 " at the root of its tree)")
    cfg = LoraConfig.parse(_file_bytes(reader, mans[ADAPTER_CONFIG], ADAPTER_CONFIG), ref)
    if (why := cfg.unsupported()) is not None:
        raise BadInputError(ref, f"cannot merge this adapter: {why} is not supported")
    man = mans[weights[0]]
    if weights[0].endswith(".safetensors"):
        tensors = {s.name or "": to_tensor(reader.tensor_bits(s), s.dtype or "", s.shape or ()) for s in man.tensors()}
    else:
        try:
            tensors = torch.load(io.BytesIO(_file_bytes(reader, man, weights[0])), map_location="cpu",
                                 weights_only=True)
        except Exception as e:  # torch raises many types for a bad pickle; all mean "not loadable"
            raise BadInputError(ref, f"{weights[0]} cannot be loaded: {e}") from None
        if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
            raise BadInputError(ref, f"{weights[0]} does not hold a dict of tensors")
    peft = meta.get("peft") if isinstance(meta.get("peft"), dict) else {}
    return Adapter(ref, cid, weight, cfg, tensors, peft.get("base"))


@dataclass
class _Target:
    seg: Segment
    parts: list[tuple[Adapter, str, str, float, bool]] = field(default_factory=list)  # adapter, A, B, scaling, T


def _plan(reader: Reader, base: str, adapters: Sequence[Adapter]) -> tuple[dict[str, Manifest],
                                                                           dict[tuple[str, str], _Target]]:
    mans = reader.manifests(base)
    names: dict[str, tuple[str, Segment]] = {}
    for path, man in sorted(mans.items()):
        if man.format == "safetensors":
            for seg in man.tensors():
                names.setdefault(seg.name or "", (path, seg))
    targets: dict[tuple[str, str], _Target] = {}
    for ad in adapters:
        for pair in pair_keys(ad.tensors, ad.ref):
            name = target_name(pair.module, names, ad.ref)
            path, seg = names[name]
            if seg.dtype not in MERGEABLE_DTYPES:
                raise BadInputError(ad.ref, f"base tensor {name} is {seg.dtype}; only floating tensors can be merged")
            transpose = pair.embedding or ad.config.fan_in_fan_out
            shape = update_shape(ad.tensors[pair.a], ad.tensors[pair.b], transpose, ad.ref)
            if shape != tuple(seg.shape or ()):
                raise BadInputError(ad.ref, f"update of {pair.module} has shape {shape}, base tensor {name} "
                                            f"{tuple(seg.shape or ())}" + ("" if transpose else
                                                                            " (is fan_in_fan_out set right?)"))
            r, _ = ad.config.rank_alpha(pair.module)
            if ad.tensors[pair.a].shape[0] != r:
                raise BadInputError(ad.ref, f"{pair.module} has rank {ad.tensors[pair.a].shape[0]}, config says {r}")
            targets.setdefault((path, name), _Target(seg)).parts.append(
                (ad, pair.a, pair.b, ad.config.scaling(pair.module), transpose))
    return mans, targets


def _merged_bytes(reader: Reader, t: _Target) -> memoryview:
    import torch

    from ..torch_io import tensor_bytes, to_tensor

    seg = t.seg
    base = to_tensor(reader.tensor_bits(seg), seg.dtype or "", seg.shape or ())
    compute = torch.float64 if seg.dtype == "F64" else torch.float32
    updates = [delta(ad.tensors[a], ad.tensors[b], s, tr, compute) for ad, a, b, s, tr in t.parts]
    return tensor_bytes(merge(base, updates, [ad.weight for ad, *_ in t.parts]))


def merge_adapters(reader: Reader, index: Index, base_ref: str | None, adapters: Sequence[tuple[str, float]],
                   out: Path, *, force: bool = False, progress: Progress | None = None) -> MergeResult:
    if not adapters:
        raise BadInputError("merge", "no adapter given")
    loaded = [load_adapter(reader, index, ref, w) for ref, w in adapters]
    if base_ref is not None:
        with index.read() as conn:
            base = resolve(conn, base_ref)
    else:
        recorded = {a.recorded_base for a in loaded}
        if None in recorded or len(recorded) != 1:
            raise BadInputError(loaded[0].ref, "the adapter commit records no base commit (or the adapters "
                                               "record different ones); pass --base REF")
        base = recorded.pop()  # type: ignore[assignment]
    mans, targets = _plan(reader, base, loaded)
    if out.exists() and not out.is_dir():
        raise BadInputError(str(out), "merge target exists and is not a directory")
    clash = [p for p in sorted(mans) if (out / safe_relpath(p)).exists()]
    if clash and not force:
        raise ConflictError(f"{out} already holds {', '.join(clash[:5])}" + (" …" if len(clash) > 5 else "")
                            + " (use --force to overwrite)")
    total = sum(m.size for m in mans.values())
    done = 0

    def segment(job: tuple[tuple[str, str], Segment]) -> memoryview:
        t = targets.get(job[0])
        return _merged_bytes(reader, t) if t is not None else reader.segment_bytes(job[1])

    for path, man in sorted(mans.items()):
        target = out / safe_relpath(path)
        h = xxhash.xxh3_128()
        touched = any(k[0] == path for k in targets)

        def stream(path: str = path, man: Manifest = man) -> Iterator[memoryview]:
            nonlocal done
            jobs = [((path, s.name or ""), s) for s in man.segments]
            for chunk in ordered_map(segment, jobs, reader.config.workers, size=lambda j: j[1].length,
                                     max_inflight=MAX_INFLIGHT_BYTES):
                h.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
                yield chunk

        def check(man: Manifest = man, path: str = path, touched: bool = touched) -> None:
            if not touched and h.hexdigest() != man.hash:
                raise CorruptObjectError(man.hash, f"rebuilt {path} does not match its manifest hash")

        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise storage_error(target.parent, e) from e
        write_atomic(target, stream(), target.parent, mode=man.mode, before_rename=check)
    return MergeResult(base, tuple({"ref": a.ref, "commit": a.commit, "weight": a.weight,
                                    "recorded_base": a.recorded_base} for a in loaded), str(out),
                       tuple(sorted(mans)), len(targets), total)


@dataclass(frozen=True)
class BlendResult:
    merge: MergeResult
    commit: Any                       # CommitResult when --commit-to was given, else None
