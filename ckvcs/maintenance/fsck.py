"""``fsck``: check a repository, only reading, and yield typed findings (findings.py).

Contract:

* Nothing is written, locked, repaired or raised for damage: every problem is
  a finding. Only a broken index (StorageError) or an unreadable format
  propagates. The caller turns "any finding of severity error" into exit 7.
* Checked: refs and reflog (targets are indexed commits); every object that an
  index row names or the reachable graph reaches, with its delta chain (frame
  structure and checksum, index row against frame, base present, indexed and
  of the same dtype and size); commit rows and tree entries against commit
  objects; manifests against their segments; stray files under objects/ and
  tmp/ (warnings: a killed writer leaves them, gc removes them); every pack
  against the packs table and the rows placing objects in it (fsck_packs.py),
  and pack files or loose copies nothing names (warnings: an interrupted
  repack leaves them).
* Full mode also decodes every object through its chain and checks its id.
  Each object is decoded once: bases are visited before their dependants
  (depth first along each lineage) with a private, bounded cache, so a chain
  costs one decode per link. A damaged object is reported once, as the root
  cause; the objects stacked on it are BrokenChain findings naming it.
  ``quick`` stops before decoding: structure, checksums and index consistency.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from ..cache import BitsCache
from ..codecs import codec_class_for_code
from ..codecs.frame import KIND_NAMES, parse_frame
from ..errors import (
    CorruptObjectError,
    IntegrityError,
    MissingObjectError,
    StorageError,
)
from ..ids import is_id
from ..index import Index
from ..index.schema import commits, objects, packs, reflog, refs, tree_entries
from ..odb import ObjectDB
from ..refs import TAGS
from ..store import ObjectStore
from .findings import (
    BrokenChain,
    DanglingRef,
    Finding,
    FsckReport,
    HashMismatch,
    IndexMismatch,
    MissingObject,
    OrphanFile,
)
from .fsck_packs import check_packs, orphan_packs
from .reachability import Graph, walk

DECODE_CACHE_BYTES = 256 << 20


@dataclass(frozen=True)
class _Meta:
    """A parsed frame without its payload: enough to check rows and chains, small enough to keep for all."""

    kind: str
    codec: str
    base_id: str | None
    dtype: str
    count: int
    decoded_len: int
    shape: tuple[int, ...]
    size: int


class _Fsck:
    def __init__(self, store: ObjectStore, index: Index, quick: bool) -> None:
        self.store, self.quick = store, quick
        self.found: list[Finding] = []
        self.bad: set[str] = set()                 # objects reported as missing or damaged themselves
        self.meta: dict[str, _Meta] = {}
        self.broken: dict[str, tuple[str, str]] = {}  # object → (why, root cause) for chain damage
        self.sound: set[str] = set()                # chains already found whole
        self.lost: dict[str, str] = {}              # objects lost with a damaged pack → that pack
        # one read transaction: a consistent snapshot of the index while writers may run
        with index.read() as conn:
            self.rows = {r.id: r for r in conn.execute(select(objects))}
            self.crows = {r.id: r for r in conn.execute(select(commits))}
            self.entries: dict[str, dict[str, Any]] = {}
            for r in conn.execute(select(tree_entries)):
                self.entries.setdefault(r.commit_id, {})[r.path] = r
            self.refs = list(conn.execute(select(refs).order_by(refs.c.name)))
            self.reflog = list(conn.execute(select(reflog).order_by(reflog.c.id)))
            self.packs = {r.id: r for r in conn.execute(select(packs))}

    def add(self, f: Finding) -> None:
        self.found.append(f)

    # -- refs ----------------------------------------------------------------------------------
    def check_refs(self) -> list[str]:
        """Report refs that name no indexed commit; return the roots to walk from."""
        names = {r.name for r in self.refs}
        roots: list[str] = []
        for r in self.refs:
            if r.symbolic:
                continue  # HEAD → a branch: its row (checked below) or an unborn branch, which is fine
            if r.target is None or r.target not in self.crows:
                self.add(DanglingRef(ref=r.name, target=r.target, detail=f"points at {r.target or 'nothing'}, "
                                     "which is not a commit in the index"))
            else:
                roots.append(r.target)
        for e in self.reflog:
            for t in (e.old, e.new):
                if t is None:
                    continue
                if t in self.crows:
                    roots.append(t)
                elif e.ref in names:  # history only: a warning, the live ref is checked above
                    self.add(DanglingRef(ref=f"{e.ref}@{{{e.id}}}", target=t, severity="warning",
                                         detail=f"reflog entry names {t}, which is not a commit in the index"))
        return roots

    # -- objects -------------------------------------------------------------------------------
    def parse(self, oid: str, named_by: str) -> _Meta | None:
        if not is_id(oid):
            self.add(MissingObject(object_id=oid, named_by=named_by, detail="is not an object id"))
            return None
        if oid in self.lost:
            return None  # reported with its pack
        try:
            buf = self.store.get(oid)
        except (IntegrityError, StorageError) as e:
            what = "index" if oid in self.rows else named_by
            self.add(MissingObject(object_id=oid, named_by=what, detail=f"is not in the store ({what} names it)"
                                   if isinstance(e, MissingObjectError) else f"cannot be read: {e}"))
            return None
        try:
            fr = parse_frame(buf, expect_id=oid)
            codec = codec_class_for_code(fr.codec_code).codec_id
        except IntegrityError as e:
            self.add(HashMismatch(object_id=oid, stage="frame", detail=getattr(e, "reason", str(e))))
            return None
        return _Meta(KIND_NAMES[fr.kind], codec, fr.base_id, fr.dtype.name, fr.count, fr.decoded_len,
                     fr.shape, len(buf))

    def check_row(self, oid: str, m: _Meta) -> None:
        row = self.rows[oid]
        pairs = [("kind", row.kind, m.kind), ("codec", row.codec, m.codec), ("raw_size", row.raw_size,
                 m.decoded_len), ("dtype", row.dtype, m.dtype if m.kind == "tensor" else row.dtype)]
        if row.pack_id is None:
            pairs.append(("stored_size", row.stored_size, m.size))
        diff = [f"{k} {a!r} in the index, {b!r} in the frame" for k, a, b in pairs if a != b]
        if diff:
            self.add(IndexMismatch(object_id=oid, detail="; ".join(diff)))
        if row.base_id != m.base_id:
            self.add(BrokenChain(object_id=oid, base_id=m.base_id,
                                 detail=f"index says base {row.base_id}, the frame names {m.base_id}"))

    def check_objects(self, g: Graph) -> set[str]:
        """Parse every indexed or reachable object and, transitively, the bases their frames name."""
        todo = sorted(set(self.rows) | g.objects())
        seen = set(todo)
        while todo:
            oid = todo.pop()
            m = self.parse(oid, g.named_by.get(oid, "index"))
            if m is None:
                self.bad.add(oid)
                continue
            self.meta[oid] = m
            if oid in self.rows:
                self.check_row(oid, m)
            if m.base_id is not None:
                g.add_base(oid, m.base_id)
                if m.base_id not in seen:
                    seen.add(m.base_id)
                    todo.append(m.base_id)
        bases = {m.base_id for m in self.meta.values() if m.base_id}
        for oid in sorted(set(self.meta) - set(self.rows) - bases):
            self.add(IndexMismatch(object_id=oid, detail=f"is named by {g.named_by.get(oid, '?')} "
                                   "but has no index row"))
        return seen

    def chain_state(self, oid: str) -> tuple[str, str] | None:
        """(why, root cause) when ``oid`` cannot be rebuilt because of its chain; memoised."""
        path: list[str] = []
        cur, res = oid, None
        while cur not in self.broken and cur not in self.sound:
            m = self.meta[cur]
            b = m.base_id
            if b is None:
                break
            if cur in path:  # only a corrupt or forged frame can name its own descendant
                res = self.broken[cur] = ("its delta chain loops", cur)
                break
            path.append(cur)
            bm = self.meta.get(b)
            why = (f"its base {b} is missing or damaged" if bm is None else
                   f"its base {b} has no index row" if b not in self.rows else
                   f"its base {b} has another dtype or size" if (bm.dtype, bm.count) != (m.dtype, m.count)
                   else None)
            if why is not None:
                res = self.broken[cur] = (why, b)
                path.pop()
                break
            cur = b
        else:
            res = self.broken.get(cur)
        for p in reversed(path):  # everything stacked above inherits the root cause
            if res is None:
                self.sound.add(p)
            else:
                why = f"its base {self.meta[p].base_id} cannot be rebuilt (damaged further down: {res[1]})"
                res = self.broken[p] = (why, res[1])
        return self.broken.get(oid)

    def check_chains(self) -> None:
        depth: dict[str, int] = {}
        for oid in sorted(self.meta):
            st = self.chain_state(oid)
            if st is not None:
                self.add(BrokenChain(object_id=oid, base_id=self.meta[oid].base_id, root_cause=st[1],
                                     detail=f"cannot be rebuilt: {st[0]}"))
                continue
            chain, cur = 0, self.meta[oid]
            while cur.base_id is not None:
                chain, cur = chain + 1, self.meta[cur.base_id]
            depth[oid] = chain
            row = self.rows.get(oid)
            if row is not None and row.depth != chain:
                self.add(BrokenChain(object_id=oid, base_id=self.meta[oid].base_id,
                                     detail=f"index says chain depth {row.depth}, the frames give {chain}"))

    def decode_all(self) -> None:
        """Decode every sound object, bases first; a failure marks what is stacked on it."""
        good = [o for o in sorted(self.meta) if o not in self.broken]
        kids: dict[str, list[str]] = {}
        for o in good:
            if (b := self.meta[o].base_id) is not None:
                kids.setdefault(b, []).append(o)
        biggest = max((m.decoded_len for m in self.meta.values()), default=0)
        # room for a base and its dependant, so a lineage of large tensors still decodes once per link
        odb = ObjectDB(self.store, BitsCache(max(DECODE_CACHE_BYTES, 2 * biggest + 1)))
        stack = [o for o in reversed(good) if self.meta[o].base_id is None]
        while stack:
            oid = stack.pop()
            try:
                odb.load_bits(oid)
            except MissingObjectError:
                self.add(MissingObject(object_id=oid, named_by="index", detail="vanished during fsck"))
            except IntegrityError as e:
                self.add(HashMismatch(object_id=oid, stage="decode", detail=getattr(e, "reason", str(e))))
            else:
                stack.extend(reversed(kids.get(oid, [])))
                continue
            self.bad.add(oid)
            below = list(kids.get(oid, []))
            while below:
                d = below.pop()
                self.broken[d] = (f"a base in its chain ({oid}) fails to decode", oid)
                self.add(BrokenChain(object_id=d, base_id=self.meta[d].base_id, root_cause=oid,
                                     detail=f"cannot be rebuilt: a base in its chain ({oid}) fails to decode"))
                below.extend(kids.get(d, []))

    # -- commits, trees, manifests -------------------------------------------------------------
    def check_commits(self, g: Graph, odb: ObjectDB) -> int:
        ids = sorted(set(self.crows) | set(g.commits))
        for cid in ids:
            row = self.crows.get(cid)
            if row is None:
                if cid not in self.bad:
                    self.add(IndexMismatch(object_id=cid, detail=f"commit named by {g.named_by.get(cid, '?')} "
                                           "has no commit row"))
                continue
            c = g.commits.get(cid) if cid in g.commits else self._read(odb.read_commit, cid, g)
            if c is None:
                continue
            entries = self.entries.get(cid, {})
            diff = []
            if json.loads(row.parents) != list(c.parents):
                diff.append(f"parents {row.parents} in the index, {list(c.parents)} in the commit")
            if {p: e.manifest_id for p, e in entries.items()} != c.tree:
                diff.append("tree entries differ from the commit's tree")
            for p, e in entries.items():
                man = g.manifests.get(e.manifest_id)
                if man is not None and (e.size, e.format) != (man.size, man.format):
                    diff.append(f"{p}: size/format {e.size}/{e.format} in the index, "
                                f"{man.size}/{man.format} in the manifest")
            if diff:
                self.add(IndexMismatch(object_id=cid, detail="; ".join(diff)))
        return len(ids)

    def _read(self, reader: Any, oid: str, g: Graph) -> Any:
        try:
            return reader(oid)
        except (IntegrityError, StorageError) as e:
            g.unreadable[oid] = e
            return None

    def check_manifests(self, g: Graph) -> None:
        for mid, man in sorted(g.manifests.items()):
            for s in man.segments if man is not None else ():
                m = self.meta.get(s.id)
                if m is None:
                    continue  # missing or damaged: reported with the object itself
                want = (s.kind, s.length) + ((s.dtype, s.shape) if s.kind == "tensor" else ())
                got = (m.kind, m.decoded_len) + ((m.dtype, m.shape) if s.kind == "tensor" else ())
                if want != got:
                    self.add(IndexMismatch(object_id=mid, detail=f"segment {s.name or s.id} is {want} in the "
                                           f"manifest, {got} in its frame"))

    def report_unreadable(self, g: Graph) -> None:
        """Commits and manifests the walk could not read, whose frames passed: their content is wrong."""
        for oid, e in sorted(g.unreadable.items()):
            if oid in self.bad or oid not in self.meta:
                continue
            self.bad.add(oid)
            reason = getattr(e, "reason", str(e))
            if isinstance(e, CorruptObjectError) and "hash" in reason:
                self.add(HashMismatch(object_id=oid, stage="decode", detail=reason))
            else:
                self.add(IndexMismatch(object_id=oid, detail=f"cannot be used: {reason}"))

    def check_files(self, reached: set[str]) -> None:
        root = self.store.root  # type: ignore[attr-defined]
        for fan in sorted(root.iterdir()) if root.is_dir() else ():
            for f in sorted(fan.iterdir()) if fan.is_dir() else [fan]:
                oid = fan.name + f.name if f is not fan else ""
                rel = f.relative_to(root.parent).as_posix()
                if oid not in self.rows and oid not in reached:
                    self.add(OrphanFile(object_id=oid if is_id(oid) else None, file=rel,
                                        detail="no index row names it (left by an interrupted writer; gc removes it)"))
                elif oid in self.rows and self.rows[oid].pack_id is not None:
                    self.add(OrphanFile(object_id=oid, file=rel, detail="loose copy of an object the index places "
                                        "in a pack (left by an interrupted repack; gc removes it)"))
        packset = getattr(self.store, "packs", None)
        if packset is not None:
            for f in orphan_packs(packset.root, self.packs):
                self.add(f)
        tmp = self.store.tmp_dir  # type: ignore[attr-defined]
        for f in sorted(tmp.rglob("*")) if tmp.is_dir() else ():
            if f.is_file():
                self.add(OrphanFile(file=f.relative_to(tmp.parent).as_posix(),
                                    detail="staging file left by an interrupted write"))

    # -- all of it -----------------------------------------------------------------------------
    def run(self) -> Iterator[Finding]:
        roots = self.check_refs()
        packset = getattr(self.store, "packs", None)
        if packset is not None:
            found, self.lost = check_packs(packset, self.packs, self.rows.values(), self.quick)
            for f in found:
                self.add(f)
        meta_odb = ObjectDB(self.store, None)  # no cache: what is checked is what the store holds now
        g = walk(meta_odb, roots, {c: tuple(json.loads(r.parents)) for c, r in self.crows.items()},
                 {c: {p: e.manifest_id for p, e in es.items()} for c, es in self.entries.items()})
        reached = self.check_objects(g)
        self.objects_checked = len(reached)
        self.check_chains()
        if not self.quick:
            self.decode_all()
        self.commits_checked = self.check_commits(g, meta_odb)
        self.report_unreadable(g)
        self.check_manifests(g)
        self.check_files(reached)
        tags: dict[str, list[str]] = {}
        for r in self.refs:
            if r.name.startswith(TAGS) and r.target:
                tags.setdefault(r.target, []).append(r.name.removeprefix(TAGS))
        order = {c: r.seq for c, r in self.crows.items()}
        # a pack whose hash fails because an object in it is damaged: the object's finding is the root cause
        hit = {self.rows[o].pack_id for o in self.bad if o in self.rows}
        self.found = [f for f in self.found if not (isinstance(f, HashMismatch) and f.stage == "pack"
                                                      and f.object_id in hit)]
        for oid, pid in self.lost.items():
            g.add_base(oid, pid)  # a lost object hurts what it would have rebuilt, through its pack's finding
        for f in self.found:
            if f.object_id is None or f.severity != "error" or isinstance(f, DanglingRef):
                yield f
                continue
            cids, paths = g.hurt(f.object_id)
            cs = tuple(sorted(cids, key=lambda c: (order.get(c, 1 << 62), c)))
            yield replace(f, commits=cs, tags=tuple(t for c in cs for t in sorted(tags.get(c, ()))),
                          paths=tuple(sorted(paths)))


def iter_findings(store: ObjectStore, index: Index, *, quick: bool = False) -> Iterator[Finding]:
    """The findings of one check, in the order found (refs, objects, chains, decoding, index, files)."""
    return _Fsck(store, index, quick).run()


def fsck(store: ObjectStore, index: Index, *, quick: bool = False) -> FsckReport:
    """Check the repository, read-only; every problem is a finding in the report, none is raised."""
    checker = _Fsck(store, index, quick)
    found = tuple(checker.run())
    kinds: dict[str, int] = {}
    for f in found:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    return FsckReport(found, checker.objects_checked, checker.commits_checked, quick, kinds)


__all__ = ["fsck", "iter_findings"]
