"""The commit path: file plans → objects → manifests → commit → one index transaction.

Write order (DESIGN.md): every object is written (tmp → fsync → rename) before
the index transaction that names it; that transaction holds the commit's rows
and its ref updates together. A failure before it removes the objects this
call wrote, so bad input or a full disk leaves the repository as it was; a
kill -9 leaves at worst unreferenced files, which fsck reports and gc removes.

Each tensor is stored as a delta against the same-named tensor (same dtype
and shape) of the parent commit, or of the commit the branch derives from
(``CommitRequest.base``, the fork point), whichever gives the smaller frame,
when a delta codec wins on size and the base's chain is shorter than
``max_chain_depth``; otherwise whole. A tensor identical to either is stored
once (content addressing).
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._parallel import MAX_INFLIGHT_BYTES, ordered_map
from .adapters import FilePlan, SourceSegment
from .bases import BaseSource
from .cache import BitsCache
from .codecs import Codec, get_codec
from .codecs.frame import KIND_COMMIT, KIND_MANIFEST
from .config import Config
from .errors import CkvError, ConflictError
from .format import DTYPES, DType
from .ids import blob_id, stream_id, tensor_id
from .index import Index
from .index import queries as q
from .objects import Commit, Manifest, Segment
from .objects.tensor import (FULL_TRIAL_BYTES, Encoded, choose_codec, encode_blob, encode_tensor, encode_with, sample,
                             tensor_bits)
from .odb import ObjectDB, object_row
from .refs import HEADS, TAGS
from .results import CommitResult
from .store import ObjectStore

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class _Stored:
    segment: Segment
    new_bytes: int                       # frame bytes written by this commit (0 if reused)
    codec: str
    base_id: str | None
    changed: int | None


@dataclass(frozen=True)
class CommitRequest:
    plans: Sequence[FilePlan]
    parent: str | None
    branch: str
    message: str
    author: str
    time: float
    step: int | None
    tag: str | None
    source: str | None
    metadata: dict[str, Any]
    allow_empty: bool = False
    base: str | None = None              # the commit this one derives from (fork point); its tensors are bases too


@dataclass(frozen=True)
class _Base:
    oid: str
    depth: int
    path: str
    source: BaseSource


class _Tensors:
    """An earlier commit's tensors as delta bases: same path and name first, then same name; same dtype+shape."""

    def __init__(self, by_key: dict[tuple[str, str], _Base], sig: dict[str, str], source: BaseSource) -> None:
        self.by_key, self.sig, self.source = by_key, sig, source
        self.by_name: dict[str, list[_Base]] = {}
        for (_, name), b in by_key.items():
            self.by_name.setdefault(name, []).append(b)

    def find(self, path: str, seg: SourceSegment) -> _Base | None:
        want = f"{seg.dtype}{json.dumps(list(seg.shape or ()))}"
        exact = self.by_key.get((path, seg.name or ""))
        options = ([exact] if exact else []) + self.by_name.get(seg.name or "", [])
        return next((b for b in options if self.sig.get(b.oid) == want), None)


class CommitWriter:
    def __init__(self, store: ObjectStore, index: Index, config: Config, cache: BitsCache | None = None) -> None:
        self.store, self.index, self.config = store, index, config
        self.odb = ObjectDB(store, cache)
        self.cache = cache
        self.remember = False  # keep what is committed in the cache (set for commits from memory)
        self.candidates: list[Codec] = [get_codec({"id": c, "level": config.zstd_level})
                                        for c in config.candidates]
        self.blob_codec = get_codec({"id": "raw", "level": config.zstd_level})
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, Any]] = {}
        self._written: list[str] = []
        self._sources: list[BaseSource] = []
        self.parent_tree: dict[str, str] = {}  # path → manifest id of the parent commit

    # -- objects -------------------------------------------------------------------------------
    def _known(self, oid: str) -> dict[str, Any] | None:
        with self._lock:
            if oid in self._rows:
                return self._rows[oid]
        with self.index.read() as conn:
            row = q.object_row(conn, oid)
        return row._asdict() if row is not None else None

    def _put(self, oid: str, frame: bytes, row: dict[str, Any]) -> int:
        with self._lock:
            if oid in self._rows:        # a twin tensor in this same commit got there first
                return 0
            self._rows[oid] = row
        self.store.put(oid, frame, replace=True)
        with self._lock:
            self._written.append(oid)
        return len(frame)

    def _store_blob(self, seg: SourceSegment) -> _Stored:
        oid = blob_id(seg.data)
        ref = Segment("blob", oid, seg.length)
        if self._known(oid) is not None:
            return _Stored(ref, 0, "reused", None, None)
        enc = encode_blob(seg.data, oid, self.blob_codec)
        n = self._put(oid, enc.frame, object_row(oid, "blob", enc.codec, None, 0, None, seg.length,
                                                 len(enc.frame)))
        return _Stored(ref, n, enc.codec, None, None)

    def _store_tensor(self, seg: SourceSegment, parent: _Base | None, fork: _Base | None) -> _Stored:
        assert seg.dtype is not None and seg.shape is not None
        dtype = DTYPES[seg.dtype]
        oid = tensor_id(seg.dtype, seg.shape, seg.data)
        ref = Segment("tensor", oid, seg.length, seg.name, seg.dtype, seg.shape)
        if parent is not None and parent.oid == oid:
            return _Stored(ref, 0, "reused", None, 0)
        known = self._known(oid)
        bits = tensor_bits(seg.data, seg.dtype)
        options: list[tuple[_Base, np.ndarray]] = []
        changed = None
        for b in (parent, fork):
            if b is None or (b is fork and parent is not None and fork.oid == parent.oid):
                continue
            if b is fork and known is not None:
                break  # stored already: only the changed count (against the parent) is still wanted
            base_bits = b.source.bits(b.oid, b.path, seg.name or "")
            if b is parent:
                changed = int(np.count_nonzero(bits != base_bits))
            if b.depth + 1 <= self.config.max_chain_depth:
                options.append((b, base_bits))
        if self.remember and self.cache is not None:
            # the next commit from memory has no parent files to read its bases from
            self.cache.put(oid, bits, copy=True)
        if known is not None:
            return _Stored(ref, 0, "reused", None, changed)
        enc, used = self._encode(bits, dtype, seg.shape, oid, options)
        depth = used.depth + 1 if enc.base_id is not None and used is not None else 0
        n = self._put(oid, enc.frame, object_row(oid, "tensor", enc.codec, enc.base_id, depth, seg.dtype,
                                                 seg.length, len(enc.frame)))
        return _Stored(ref, n, enc.codec, enc.base_id, changed)

    def _encode(self, bits: np.ndarray, dtype: DType, shape: tuple[int, ...], oid: str,
                options: list[tuple[_Base, np.ndarray]]) -> tuple[Encoded, _Base | None]:
        """Encode against whichever base gives the smaller frame (judged on a sample when large)."""
        if not options:
            return encode_tensor(bits, dtype, shape, oid, None, self.candidates), None
        if len(options) > 1 and bits.nbytes <= FULL_TRIAL_BYTES:
            encs = [(encode_tensor(bits, dtype, shape, oid, (b.oid, bb), self.candidates), b) for b, bb in options]
            return min(encs, key=lambda e: len(e[0].frame))
        if len(options) > 1:
            def trial(opt: tuple[_Base, np.ndarray]) -> int:
                sb, sbase = sample(bits, opt[1])
                codec, payload = choose_codec(sb, dtype, sbase, self.candidates)
                return len(payload) if payload is not None else len(encode_with(codec, sb, dtype, sbase, None))
            options = [min(options, key=trial)]
        b, bb = options[0]
        return encode_tensor(bits, dtype, shape, oid, (b.oid, bb), self.candidates), b

    def _put_meta(self, data: bytes, kind: int, kind_name: str) -> tuple[str, int]:
        """Store a manifest or commit (``data`` is its canonical JSON, already UTF-8)."""
        oid = blob_id(data)
        if self._known(oid) is not None:
            return oid, 0
        enc = encode_blob(data, oid, self.blob_codec, kind=kind)
        return oid, self._put(oid, enc.frame, object_row(oid, kind_name, enc.codec, None, 0, None, len(data),
                                                         len(enc.frame)))

    # -- the commit ----------------------------------------------------------------------------
    def _tensors_of(self, cid: str | None) -> tuple["_Tensors", dict[str, str]]:
        """The tensors of commit ``cid`` that can be delta bases, and its tree (path → manifest id)."""
        if cid is None:
            return _Tensors({}, {}, BaseSource(self.odb, None, {})), {}
        with self.index.read() as conn:
            stats = q.tensor_stat_rows(conn, cid)
            depths = {r.id: r.depth for r in q.object_rows(conn, [s.object_id for s in stats]).values()}
            row = q.commit_row(conn, cid)
        tree = self.odb.read_commit(cid).tree if row is not None else {}
        source = BaseSource(self.odb, row.source if row is not None else None,
                            {p: self.odb.read_manifest(m) for p, m in tree.items()})
        self._sources.append(source)
        # a tensor whose object row is missing (a damaged index) is never used as a base
        by_key = {(s.path, s.name): _Base(s.object_id, depths[s.object_id], s.path, source) for s in stats
                  if s.object_id in depths}
        return _Tensors(by_key, {s.object_id: f"{s.dtype}{s.shape}" for s in stats}, source), tree

    def commit(self, req: CommitRequest, progress: Progress | None = None) -> CommitResult:
        self.remember = req.source is None
        try:
            return self._commit(req, progress)
        except BaseException:
            self._discard()
            raise
        finally:
            for source in self._sources:
                source.close()

    def _discard(self) -> None:
        for oid in self._written:
            try:
                self.store.delete(oid)
            except CkvError:
                pass  # best effort: an unreferenced object is harmless and gc removes it

    def _commit(self, req: CommitRequest, progress: Progress | None) -> CommitResult:
        parent, self.parent_tree = self._tensors_of(req.parent)
        fork = self._tensors_of(req.base)[0] if req.base not in (None, req.parent) else None

        jobs = [(plan.path, seg) for plan in req.plans for seg in plan.segments]
        total = sum(seg.length for _, seg in jobs)
        done = 0

        def work(job: tuple[str, SourceSegment]) -> _Stored:
            path, seg = job
            if seg.kind == "tensor":
                return self._store_tensor(seg, parent.find(path, seg), fork.find(path, seg) if fork else None)
            return self._store_blob(seg)

        results: list[_Stored] = []
        for (path, seg), res in zip(jobs, ordered_map(work, jobs, self.config.workers, size=lambda j: j[1].length,
                                                      max_inflight=MAX_INFLIGHT_BYTES)):
            results.append(res)
            done += seg.length
            if progress:
                progress(done, total)
        return self._finish(req, results)

    def _finish(self, req: CommitRequest, results: list[_Stored]) -> CommitResult:
        tree: dict[str, str] = {}
        trees, stats = [], []
        new_bytes, it = 0, iter(results)
        mix: dict[str, int] = {}
        changed_sum = numel_sum = 0
        for plan in req.plans:
            stored = [next(it) for _ in plan.segments]
            man = Manifest(plan.format, plan.size, stream_id(s.data for s in plan.segments), plan.mode,
                           tuple(s.segment for s in stored))
            mid, n = self._put_meta(man.encode(), KIND_MANIFEST, "manifest")
            tree[plan.path] = mid
            new_bytes += n + sum(s.new_bytes for s in stored)
            trees.append({"path": plan.path, "manifest_id": mid, "format": plan.format, "size": plan.size})
            for s in stored:
                if s.segment.kind != "tensor":
                    continue
                seg = s.segment
                numel = seg.length // DTYPES[seg.dtype or "U8"].itemsize
                mix[s.codec] = mix.get(s.codec, 0) + 1
                if s.changed is not None:
                    changed_sum += s.changed
                    numel_sum += numel
                stats.append({"path": plan.path, "name": seg.name, "object_id": seg.id, "dtype": seg.dtype,
                              "shape": json.dumps(list(seg.shape or ())), "raw_size": seg.length,
                              "stored_size": s.new_bytes, "codec": s.codec, "base_id": s.base_id,
                              "changed": s.changed, "numel": numel})
        if req.parent is not None and not req.allow_empty:
            if self.parent_tree == tree:
                raise ConflictError(f"nothing to commit: the files are identical to commit {req.parent[:12]}"
                                    " (use --allow-empty to commit anyway)")
        commit = Commit(tree=tree, parents=(req.parent,) if req.parent else (), message=req.message,
                        author=req.author, time=req.time, step=req.step, source=req.source,
                        metadata=req.metadata)
        cid, n = self._put_meta(commit.encode(), KIND_COMMIT, "commit")
        new_bytes += n
        raw = sum(p.size for p in req.plans)
        frac = changed_sum / numel_sum if numel_sum else None
        self.store.sync()  # write order: objects durable before the index names them
        with self.index.begin() as conn:
            if q.commit_row(conn, cid) is not None:
                raise ConflictError(f"commit {cid[:12]} already exists")
            q.insert_objects(conn, list(self._rows.values()))
            q.insert_commit(conn, {"id": cid, "parents": json.dumps(list(commit.parents)),
                                   "message": req.message, "author": req.author, "time": req.time,
                                   "step": req.step, "source": req.source, "raw_bytes": raw,
                                   "stored_bytes": new_bytes, "n_tensors": len(stats),
                                   "changed_fraction": frac, "codec_mix": json.dumps(mix, sort_keys=True),
                                   "metadata": json.dumps(req.metadata, sort_keys=True)},
                            [dict(t, commit_id=cid) for t in trees], [dict(s, commit_id=cid) for s in stats])
            tip = q.get_ref(conn, HEADS + req.branch)
            if (tip.target if tip else None) != req.parent and tip is not None:
                raise ConflictError(f"branch {req.branch} moved during the commit; try again")
            q.write_ref(conn, HEADS + req.branch, cid, f"commit: {req.message.splitlines()[0] if req.message else ''}")
            if req.tag:
                if q.get_ref(conn, TAGS + req.tag) is not None:
                    raise ConflictError(f"tag {req.tag} already exists")
                q.write_ref(conn, TAGS + req.tag, cid, "tag")
        self._written.clear()  # committed: nothing to discard any more
        return CommitResult(id=cid, tag=req.tag, branch=req.branch, step=req.step, parents=commit.parents,
                            raw_bytes=raw, stored_bytes=new_bytes, n_files=len(req.plans),
                            n_tensors=len(stats), changed_fraction=frac, codec_mix=mix)

