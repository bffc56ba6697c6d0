"""``gc``: remove what nothing reaches any more; plan first, then index rows, then files.

Contract (DESIGN.md write order rule 3; STYLE.md rule 9):

* Live: everything reachable from the refs (branches, tags, a detached HEAD)
  and from every commit a reflog entry names (old and new) once entries older
  than ``reflog_expire`` are dropped: commit parents, trees' manifests,
  manifests' segments, and the delta bases (``objects.base_id``) of all of
  them, all the way down.
* Grace: an unreachable object younger than ``prune`` (by its row's
  ``created_at``) is kept, with everything it reaches (a young commit keeps
  its history and trees). Every base of a kept object is kept, so no kept
  object ever loses its delta base.
* Garbage inside packs: each pack holding some is rewritten first with only
  its kept frames (copied byte for byte, so no re-encoding), made durable, and
  switched in the same transaction that deletes the rows; the old pack goes
  with the other files.
* Files no index row names (under ``objects/``: a killed commit's objects; in
  ``tmp/``: killed writes) go once older than ``prune`` by mtime, unless a
  kept object names them.
* ``plan_gc`` only reads and returns a frozen ``GcPlan`` (what ``--dry-run``
  prints). ``execute_gc`` removes, in this order: the rewritten packs are
  written; one index transaction (the expired reflog entries, the commits'
  rows — commit, tree entries, tensor stats — the objects' rows and the pack
  switch); then the files and old packs. A kill in between leaves files no
  row names: OrphanFile warnings for fsck, removed by the next gc.
  The caller holds the writer lock across both, so no commit runs between.
* gc refuses (IntegrityError) when it cannot read a commit or manifest it
  must follow: what that object names is unknown, so nothing is safe to remove.

Test hook: ``CKV_TEST_KILL_AT=gc-after-rows`` (or ``gc-mid-files``) makes the
process SIGKILL itself at that point of ``execute_gc``, so the crash tests
land inside the short window between the transaction and the file removal.
"""
from __future__ import annotations

import math
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import IntegrityError
from ..ids import is_id
from ..index import Index
from ..index import queries as q
from ..odb import ObjectDB
from ..index import packs as packs_q
from ..store.layered import LayeredStore
from ..store.pack import PACK_SUFFIX
from ..store._atomic import remove
from .reachability import Graph, walk, with_bases
from .repack import repack, rewrite_packs


@dataclass(frozen=True)
class GcPlan:
    now: float
    prune_before: float                   # unreachable objects and stray files older than this go (-inf: never)
    reflog_before: float                  # reflog entries older than this expire (-inf: never)
    reachable: int                        # objects live from refs and reflog, bases included
    objects: tuple[str, ...]              # objects whose rows go, and their loose files or their place in a pack
    commits: tuple[str, ...]              # the commits among them: their commit rows go too
    object_bytes: int
    files: tuple[str, ...]                # files no row names, relative to .ckv/
    file_bytes: int
    reflog: tuple[int, ...]               # ids of the reflog entries that expire
    kept_recent: int                      # unreachable objects kept: younger than the grace period, or theirs
    kept_recent_commits: int
    kept_recent_bytes: int
    kept_as_base: int                     # unreachable and old, kept as the delta base of a kept object
    kept_files: int                       # stray files younger than the grace period
    packed: tuple[str, ...]               # those of ``objects`` inside packs (their packs are rewritten)
    packed_bytes: int
    rebase: tuple[str, ...] = ()          # kept objects stacked on removed ones: re-encoded by a repack first

    @property
    def bytes_freed(self) -> int:
        return self.object_bytes + self.file_bytes

    @property
    def empty(self) -> bool:
        return not (self.objects or self.files or self.reflog)

    def to_json(self) -> dict[str, Any]:
        never = -math.inf
        return {"prune_before": None if self.prune_before == never else self.prune_before,
                "reflog_before": None if self.reflog_before == never else self.reflog_before,
                "reachable": self.reachable, "objects_removed": len(self.objects),
                "commits_removed": len(self.commits), "files_removed": len(self.files),
                "reflog_expired": len(self.reflog), "bytes_freed": self.bytes_freed,
                "object_bytes": self.object_bytes, "file_bytes": self.file_bytes,
                "kept_recent": self.kept_recent, "kept_recent_commits": self.kept_recent_commits,
                "kept_recent_bytes": self.kept_recent_bytes, "kept_as_base": self.kept_as_base,
                "kept_files": self.kept_files, "packed_unreachable": len(self.packed),
                "packed_unreachable_bytes": self.packed_bytes, "rebased": len(self.rebase),
                "objects": list(self.objects), "commits": list(self.commits), "files": list(self.files)}


def _cutoff(now: float, age: float | None) -> float:
    return -math.inf if age is None else now - age


def _refuse(g: Graph) -> None:
    if g.unreadable:
        oid, e = sorted(g.unreadable.items())[0]
        raise IntegrityError(f"gc cannot read object {oid} ({e}); nothing removed: run ckv fsck")


def _stray_files(store: LayeredStore, rows: dict[str, Any], kept: set[str], packs: set[str]) -> list[Path]:
    """Files under objects/ that no row or kept object names or that copy a packed object, pack files
    the packs table does not list (an interrupted repack's), and every file under tmp/."""
    out: list[Path] = []
    root = store.root
    for fan in sorted(root.iterdir()) if root.is_dir() else ():
        for f in sorted(fan.iterdir()) if fan.is_dir() else [fan]:
            oid = fan.name + f.name if f is not fan else ""
            named = is_id(oid) and (oid in kept or (oid in rows and rows[oid].pack_id is None))
            if f.is_file() and not named:
                out.append(f)
    proot = store.packs.root
    out.extend(f for f in sorted(proot.iterdir()) if proot.is_dir()
               if f.is_file() and f.name.removesuffix(PACK_SUFFIX) not in packs)
    if store.tmp_dir.is_dir():
        out.extend(f for f in sorted(store.tmp_dir.rglob("*")) if f.is_file())
    return out


def _stat(files: list[Path]) -> list[tuple[Path, float, int]]:
    """(file, mtime, size) of those still there (a dry run holds no lock: a writer may remove tmp files)."""
    out = []
    for f in files:
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        out.append((f, st.st_mtime, st.st_size))
    return out


def plan_gc(index: Index, store: LayeredStore, odb: ObjectDB, *, now: float, prune: float | None,
            reflog_expire: float | None) -> GcPlan:
    """What gc would remove now, given the grace ``prune`` and ``reflog_expire`` ages in seconds (None: never).

    Only reads. Raises IntegrityError if a commit or manifest it must follow cannot be read.
    """
    prune_before, reflog_before = _cutoff(now, prune), _cutoff(now, reflog_expire)
    with index.read() as conn:  # one snapshot; the caller's writer lock keeps it current
        rows = {r.id: r for r in q.gc_object_rows(conn)}
        parents = q.commit_parents(conn)
        trees = q.commit_trees(conn)
        refs = q.list_refs(conn, "")
        log = q.reflog_rows(conn)
        pack_ids = set(packs_q.pack_rows(conn))
    expired = tuple(e.id for e in log if e.time < reflog_before)
    gone = set(expired)
    roots = [r.target for r in refs if r.target and not r.symbolic]
    roots += [t for e in log if e.id not in gone for t in (e.old, e.new) if t in parents]
    base_of = {oid: r.base_id for oid, r in rows.items()}

    g = walk(odb, roots, parents, trees)
    _refuse(g)
    reached = g.objects()
    live = with_bases(reached, base_of)
    young = {oid for oid, r in rows.items() if oid not in live and r.created_at >= prune_before}
    walk(odb, sorted(c for c in young if c in parents), parents, trees,
         manifests=sorted(m for m in young if rows[m].kind == "manifest"), into=g)
    _refuse(g)
    young |= g.objects() - live
    wanted = (reached | young) & set(rows)      # what some ref, reflog entry or young object names itself
    kept = with_bases(wanted, base_of)
    doomed = set(rows) - kept
    # old, unreachable objects kept only as delta bases (after a repack, a deleted branch's newer
    # versions can be the bases of older ones still in use): re-encode their dependants and drop them
    only_bases = {oid for oid in kept - wanted if rows[oid].created_at < prune_before}
    rebase = tuple(sorted(oid for oid in kept - only_bases if base_of.get(oid) in only_bases))
    if rebase:
        doomed |= only_bases
    doomed_l = sorted(doomed)
    commits = sorted(doomed & set(parents))  # a commit's rows go with its object's row
    packed = {oid for oid in doomed if rows[oid].pack_id is not None}

    stray = _stat(_stray_files(store, rows, kept - doomed, pack_ids))
    old = [(f, n) for f, t, n in stray if t < prune_before]
    return GcPlan(
        now=now, prune_before=prune_before, reflog_before=reflog_before, reachable=len(live),
        objects=tuple(doomed_l), commits=tuple(commits),
        object_bytes=sum(rows[o].stored_size for o in doomed_l),
        files=tuple(f.relative_to(store.root.parent).as_posix() for f, _ in old),
        file_bytes=sum(n for _, n in old), reflog=expired,
        kept_recent=len(young & set(rows)), kept_recent_commits=len(young & set(parents)),
        kept_recent_bytes=sum(rows[o].stored_size for o in young if o in rows),
        kept_as_base=len(kept - live - young - doomed), kept_files=len(stray) - len(old),
        packed=tuple(sorted(packed)), packed_bytes=sum(rows[o].stored_size for o in packed), rebase=rebase)


def _kill_point(name: str) -> None:
    """Test hook (module docstring): die here, as kill -9 would, when CKV_TEST_KILL_AT names this point."""
    if os.environ.get("CKV_TEST_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def execute_gc(plan: GcPlan, index: Index, store: LayeredStore, config: Config) -> None:
    """Remove what ``plan`` names: packs rewritten, index rows in one transaction, then files. Hold the lock.

    With ``plan.rebase`` a full repack (``config``'s window and depth) leaves the removed objects out,
    re-encoding what was stacked on them; its switch transaction also deletes the plan's rows.
    """
    if plan.empty:
        return

    def delete_rows(conn: Any) -> None:
        q.delete_reflog_entries(conn, plan.reflog)
        q.delete_commits(conn, plan.commits)
        q.delete_objects(conn, plan.objects)

    if plan.rebase:
        repack(store, index, config, drop=frozenset(plan.objects), extra=delete_rows)
        _kill_point("gc-after-rows")
        _remove_files(plan, store, loose=[])
        return
    rw = rewrite_packs(store, index, set(plan.packed)) if plan.packed else None
    try:
        with index.begin() as conn:
            delete_rows(conn)
            if rw is not None:
                rw.apply(conn)
    except BaseException:
        if rw is not None:
            rw.abort(store)
        raise
    _kill_point("gc-after-rows")
    if rw is not None:
        rw.cleanup(store)
    _remove_files(plan, store, loose=[o for o in plan.objects if o not in set(plan.packed)])


def _remove_files(plan: GcPlan, store: LayeredStore, loose: list[str]) -> None:
    ckv_dir = store.root.parent
    paths = [store.path(o) for o in loose] + [ckv_dir / f for f in plan.files]
    for i, p in enumerate(paths):
        if i == len(paths) // 2:
            _kill_point("gc-mid-files")
        remove(p)
    for d in {p.parent for p in paths if p.parent.parent == store.root}:
        try:
            d.rmdir()  # an emptied fan-out folder; a folder still holding files stays
        except OSError:
            pass


__all__ = ["GcPlan", "execute_gc", "plan_gc"]
