"""``repack``: re-choose delta bases per tensor lineage and move every object into one new pack.

Plan, then execute (DESIGN.md write order, rule 4):

1. Read the index once: every object row, and the tensor lineages.
2. Per lineage (both cores, one lineage per worker): measure how much nearby
   versions differ, choose each version's base (``repack_plan``), then encode
   each version against it, oldest first. A version whose chosen delta does
   not save ``MIN_SAVING`` of its whole encoding is stored whole; a version
   whose base is unchanged keeps its frame byte for byte. Frames stream into
   the new pack as they are made; every other object (blobs, manifests,
   commits) is copied into it unchanged.
3. The pack is fsynced and renamed into ``packs/``; one index transaction
   points every object row at it and replaces the packs table's rows.
4. Only then are the loose files and the old packs deleted.

A kill before step 3's transaction leaves the old layout in force plus an
unreferenced pack or staging file (fsck warnings, gc removes them); a kill
after it leaves loose copies and old packs nothing names (warnings too).
With ``dry_run`` everything is encoded and counted but nothing is written.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import bindparam, select

from .._parallel import ordered_map
from ..cache import BitsCache
from ..codecs import get_codec
from ..config import Config
from ..format import DTYPES
from ..index import Index
from ..index import packs as packs_q
from ..index.schema import objects
from ..codecs.frame import parse_frame
from ..objects.tensor import FULL_TRIAL_BYTES, encode_tensor, sample
from ..odb import ObjectDB
from ..store.layered import LayeredStore
from ..store.pack import PackWriter
from .repack_plan import Lineage, choose_bases, lineages, similarity

MIN_SAVING = 0.10                 # a delta must be at least 10% smaller than the whole encoding to be kept
WINDOW_BUDGET = 1 << 30           # decoded bytes a lineage may hold for its window
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Rebased:
    id: str
    name: str
    old_base: str | None
    new_base: str | None
    old_size: int
    new_size: int


@dataclass(frozen=True)
class RepackResult:
    dry_run: bool
    window: int
    depth: int
    objects: int
    lineages: int
    loose_before: int
    packs_before: int
    bytes_before: int             # stored bytes of the objects packed, as they were
    bytes_after: int              # their frames in the new pack
    max_depth_before: int
    max_depth_after: int
    rebased: tuple[Rebased, ...]  # objects whose base changed
    pack_id: str | None = None
    pack_size: int = 0


@dataclass(frozen=True)
class _Placed:
    id: str
    codec: str
    base_id: str | None
    offset: int
    length: int


class _Sink:
    """Where frames go: a pack being written, or (dry run) only counted."""

    def __init__(self, writer: PackWriter | None) -> None:
        self.writer = writer
        self.pos = 0
        self.lock = threading.Lock()

    def add(self, oid: str, frame: bytes) -> tuple[int, int]:
        with self.lock:
            if self.writer is not None:
                e = self.writer.add(oid, frame)
                return e.offset, e.length
            self.pos += len(frame)
            return self.pos - len(frame), len(frame)


class _Repacker:
    def __init__(self, store: LayeredStore, config: Config, rows: dict[str, Any], window: int, depth: int,
                 sink: _Sink) -> None:
        self.store, self.rows, self.window, self.depth, self.sink = store, rows, window, depth, sink
        self.candidates = [get_codec({"id": c, "level": config.zstd_level}) for c in config.candidates]
        self.raw = get_codec({"id": "raw", "level": config.zstd_level})
        biggest = max((r.raw_size for r in rows.values() if r.kind == "tensor"), default=0)
        # room for the version being decoded and its old base, for every worker
        self.odb = ObjectDB(store, BitsCache(max(256 << 20, 4 * config.workers * biggest)))

    def copy(self, oid: str) -> _Placed:
        row = self.rows[oid]
        if row.base_id is not None and row.base_id not in self.rows:  # stacked on an object being dropped
            fr = parse_frame(self.store.get(oid), expect_id=oid)
            enc = encode_tensor(self.odb.load_bits(oid), fr.dtype, fr.shape, oid, None, self.candidates)
            off, n = self.sink.add(oid, enc.frame)
            return _Placed(oid, enc.codec, None, off, n)
        off, n = self.sink.add(oid, self.store.get(oid))
        return _Placed(oid, row.codec, row.base_id, off, n)

    def _worth(self, bits: np.ndarray, dtype: Any, frame_len: int) -> bool:
        """Is a delta of ``frame_len`` bytes at least MIN_SAVING smaller than storing ``bits`` whole?"""
        if bits.nbytes <= FULL_TRIAL_BYTES:
            whole = len(self.raw.encode(bits, dtype, None))
        else:
            sb, _ = sample(bits, None)
            whole = len(self.raw.encode(sb, dtype, None)) * bits.size / sb.size
        return frame_len <= (1 - MIN_SAVING) * whole

    def emit(self, lin: Lineage, oid: str, bits: np.ndarray, base: tuple[str, np.ndarray] | None) -> _Placed:
        row = self.rows[oid]
        if row.base_id == (base[0] if base else None):
            return self.copy(oid)
        dtype = DTYPES[lin.dtype]
        enc = encode_tensor(bits, dtype, lin.shape, oid, base, self.candidates)
        if enc.base_id is not None and not self._worth(bits, dtype, len(enc.frame)):
            if row.base_id is None:
                return self.copy(oid)
            enc = encode_tensor(bits, dtype, lin.shape, oid, None, self.candidates)
        off, n = self.sink.add(oid, enc.frame)
        return _Placed(oid, enc.codec, enc.base_id, off, n)

    def lineage(self, lin: Lineage) -> list[_Placed]:
        n = len(lin.versions)
        itemsize = DTYPES[lin.dtype].itemsize
        window = max(1, min(self.window, WINDOW_BUDGET // max(1, lin.numel * itemsize)))
        load = self.odb.load_bits
        if n == 1:
            return [self.emit(lin, lin.versions[0], load(lin.versions[0]), None)]
        base = choose_bases(n, similarity(lin.versions, load, window), window, self.depth)
        waiting: dict[int, list[int]] = {}
        for i, b in enumerate(base):
            if b is not None:
                waiting.setdefault(b, []).append(i)
        held: dict[int, np.ndarray] = {}
        out: dict[int, _Placed] = {}
        for j, oid in enumerate(lin.versions):
            bits = load(oid)
            if base[j] is None:
                out[j] = self.emit(lin, oid, bits, None)
            else:
                held[j] = bits
            for i in waiting.get(j, ()):
                out[i] = self.emit(lin, lin.versions[i], held.pop(i), (oid, bits))
        return [out[i] for i in range(n)]


def _depths(placed: dict[str, _Placed]) -> dict[str, int]:
    d: dict[str, int] = {}
    for oid in placed:
        chain = []
        cur: str | None = oid
        while cur is not None and cur not in d:
            chain.append(cur)
            cur = placed[cur].base_id if cur in placed else None
        below = d.get(cur, -1) if cur is not None else -1
        for c in reversed(chain):
            below = d[c] = below + 1
    return d


def repack(store: LayeredStore, index: Index, config: Config, *, window: int = 10, depth: int | None = None,
           dry_run: bool = False, drop: frozenset[str] = frozenset(),
           extra: Callable[[Any], None] | None = None, progress: Progress | None = None) -> RepackResult:
    """Repack every indexed object except ``drop`` into one new pack; the caller holds the writer lock.

    ``drop`` and ``extra`` are gc's: objects to leave out (what was stacked on them is re-encoded; their
    rows go), and more row changes to make in the same switch transaction.
    """
    depth = config.max_chain_depth if depth is None else depth
    with index.read() as conn:
        rows = {r.id: r for r in conn.execute(select(objects)) if r.id not in drop}
        old_packs = list(packs_q.pack_rows(conn))
        lins = lineages(conn, {i for i, r in rows.items() if r.kind == "tensor"})
    writer = None if dry_run or not rows else PackWriter(store.tmp_dir)
    sink = _Sink(writer)
    rp = _Repacker(store, config, rows, max(1, window), max(0, depth), sink)
    placed: dict[str, _Placed] = {}
    done = 0
    try:
        in_lineage = {v for lin in lins for v in lin.versions}
        for oid in sorted(set(rows) - in_lineage):
            placed[oid] = rp.copy(oid)
        for res in ordered_map(rp.lineage, lins, config.workers, max_inflight=2 * config.workers):
            placed.update((p.id, p) for p in res)
            done += 1
            if progress:
                progress(done, len(lins))
        pack_id, pack_size = writer.finish(store.packs.root) if writer is not None else (None, sink.pos)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    new_depth = _depths(placed)
    names = {v: lin.name for lin in lins for v in lin.versions}
    rebased = tuple(Rebased(oid, names.get(oid, ""), rows[oid].base_id, p.base_id, rows[oid].stored_size,
                            p.length)
                    for oid, p in sorted(placed.items()) if p.base_id != rows[oid].base_id)
    result = RepackResult(dry_run=dry_run, window=window, depth=depth, objects=len(placed), lineages=len(lins),
                          loose_before=sum(r.pack_id is None for r in rows.values()), packs_before=len(old_packs),
                          bytes_before=sum(r.stored_size for r in rows.values()),
                          bytes_after=sum(p.length for p in placed.values()),
                          max_depth_before=max((r.depth for r in rows.values()), default=0),
                          max_depth_after=max(new_depth.values(), default=0), rebased=rebased,
                          pack_id=pack_id, pack_size=pack_size)
    if dry_run:
        return result
    upd = objects.update().where(objects.c.id == bindparam("oid")).values(
        codec=bindparam("codec"), base_id=bindparam("base"), depth=bindparam("depth"),
        stored_size=bindparam("size"), pack_id=bindparam("pack"), pack_offset=bindparam("off"))
    params = [{"oid": p.id, "codec": p.codec, "base": p.base_id, "depth": new_depth[p.id], "size": p.length,
               "pack": pack_id, "off": p.offset} for p in placed.values()]
    with index.begin() as conn:
        for i in range(0, len(params), 500):
            conn.execute(upd, params[i : i + 500])
        if drop:
            gone = sorted(drop)
            for i in range(0, len(gone), 500):
                conn.execute(objects.delete().where(objects.c.id.in_(gone[i : i + 500])))
        if extra is not None:
            extra(conn)
        packs_q.delete_packs(conn, [p for p in old_packs if p != pack_id])
        if pack_id is not None and pack_id not in old_packs:  # the same layout makes the same pack
            packs_q.insert_pack(conn, pack_id, pack_size, len(placed))
    for oid, r in rows.items():     # the index no longer names these copies
        if r.pack_id is None:
            store.loose.delete(oid)
    for oid in drop:
        store.loose.delete(oid)
    for p in old_packs:
        if p != pack_id:
            store.packs.delete(p)
    return result



@dataclass
class PackRewrite:
    """Packs rewritten without some objects (for gc): written and durable, not yet in the index.

    ``apply`` goes inside the caller's index transaction (it deletes the dropped objects' rows and
    moves the kept ones); ``cleanup`` deletes the old packs after it; ``abort`` deletes the new ones.
    """

    old: dict[str, int]                         # replaced pack → its size
    new: list[tuple[str, int, int]]             # (pack id, size, objects)
    moves: list[dict[str, Any]]
    dropped: list[str]

    @property
    def bytes_freed(self) -> int:
        return sum(self.old.values()) - sum(size for _, size, _ in self.new)

    def apply(self, conn: Any) -> None:
        upd = objects.update().where(objects.c.id == bindparam("oid")).values(pack_id=bindparam("pack"),
                                                                              pack_offset=bindparam("off"))
        for i in range(0, len(self.moves), 500):
            conn.execute(upd, self.moves[i : i + 500])
        for i in range(0, len(self.dropped), 500):
            conn.execute(objects.delete().where(objects.c.id.in_(self.dropped[i : i + 500])))
        packs_q.delete_packs(conn, sorted(self.old))
        for pid, size, n in self.new:
            packs_q.insert_pack(conn, pid, size, n)

    def cleanup(self, store: LayeredStore) -> None:
        for pid in self.old:
            store.packs.delete(pid)

    def abort(self, store: LayeredStore) -> None:
        for pid, _, _ in self.new:
            store.packs.delete(pid)


def rewrite_packs(store: LayeredStore, index: Index, drop: set[str]) -> PackRewrite:
    """Write, for every pack holding an object of ``drop``, a new pack of the others, frames copied as they are.

    For gc, which has made sure no kept object uses a dropped one as its base. Same write order as
    repack: the new packs are durable before the caller's transaction (``apply``) names them.
    """
    with index.read() as conn:
        rows = list(conn.execute(select(objects).where(objects.c.pack_id.is_not(None))))
        sizes = {pid: r.size for pid, r in packs_q.pack_rows(conn).items()}
    hit = sorted({r.pack_id for r in rows if r.id in drop})
    rw = PackRewrite({pid: sizes.get(pid, 0) for pid in hit}, [], [], [r.id for r in rows if r.id in drop])
    try:
        for pid in hit:
            keep = [r for r in rows if r.pack_id == pid and r.id not in drop]
            if not keep:
                continue
            writer = PackWriter(store.tmp_dir)
            try:
                placed = [(r.id, writer.add(r.id, store.get(r.id))) for r in keep]
                new_id, size = writer.finish(store.packs.root)
            except BaseException:
                writer.abort()
                raise
            rw.new.append((new_id, size, len(keep)))
            rw.moves += [{"oid": oid, "pack": new_id, "off": e.offset} for oid, e in placed]
    except BaseException:
        rw.abort(store)
        raise
    return rw
