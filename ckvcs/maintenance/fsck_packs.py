"""fsck's checks of pack files against the packs table and the object rows that point into them.

Contract: ``check_packs`` only reads. For every pack the index names it checks
the file is there and whole (header, end marker, size, and in full mode the
hash of every byte), and that the pack's own table agrees with each object
row placing an object in it. It returns the findings and the objects a damaged
pack has lost (their bytes are gone or cannot be trusted): fsck reports those
through the pack's finding, naming the commits they hurt, instead of once
per object. Pack files no row names are orphans (warnings: an interrupted
repack leaves them; gc removes them).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import MissingObjectError, StorageError
from ..store.pack import PACK_SUFFIX, PackError, PackSet, read_table
from .findings import Finding, HashMismatch, IndexMismatch, MissingObject, OrphanFile, TruncatedPack


def check_packs(packs: PackSet, pack_rows: Mapping[str, Any], obj_rows: Iterable[Any],
                quick: bool) -> tuple[list[Finding], dict[str, str]]:
    found: list[Finding] = []
    lost: dict[str, str] = {}                     # object → the pack it was lost with
    inside: dict[str, list[Any]] = {}
    for r in obj_rows:
        if r.pack_id is not None:
            inside.setdefault(r.pack_id, []).append(r)
    for pid in sorted(set(pack_rows) | set(inside)):
        rows = inside.get(pid, [])
        path = packs.path(pid)
        rel = f"packs/{pid}{PACK_SUFFIX}"
        if pid not in pack_rows:
            found.append(IndexMismatch(object_id=pid, detail=f"{len(rows)} object rows name pack {pid}, "
                                       "which the packs table does not list"))
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            found.append(MissingObject(object_id=pid, named_by="index",
                                       detail=f"pack file {rel} is missing ({len(rows)} objects in it)"))
            lost.update((r.id, pid) for r in rows)
            continue
        except OSError as e:
            found.append(MissingObject(object_id=pid, named_by="index", detail=f"pack file {rel} cannot be read: {e}"))
            lost.update((r.id, pid) for r in rows)
            continue
        want = pack_rows[pid].size if pid in pack_rows else None
        try:
            entries = {e.id: e for e in read_table(path, pid, verify_hash=not quick)}
        except PackError as e:
            cut = [r for r in rows if r.pack_offset + r.stored_size > size]
            if want is not None and size < want or "truncated" in e.reason:
                lost.update((r.id, pid) for r in cut)
                found.append(TruncatedPack(object_id=pid, file=rel,
                                           detail=f"{e.reason}; {size} bytes on disk"
                                           + (f", {want} in the index" if want is not None else "")
                                           + f"; {len(cut)} objects cut off"))
            else:
                found.append(HashMismatch(object_id=pid, stage="pack", detail=f"pack {rel}: {e.reason}"))
            continue
        except (MissingObjectError, StorageError) as e:
            found.append(MissingObject(object_id=pid, named_by="index", detail=f"pack {rel} cannot be read: {e}"))
            lost.update((r.id, pid) for r in rows)
            continue
        if want is not None and size != want:
            found.append(IndexMismatch(object_id=pid, detail=f"pack {rel} is {size} bytes, the index says {want}"))
        for r in rows:
            e = entries.get(r.id)
            if e is None or (e.offset, e.length) != (r.pack_offset, r.stored_size):
                where = "has no entry for it" if e is None else f"places it at {e.offset}+{e.length}"
                found.append(IndexMismatch(object_id=r.id, detail=f"index places it at {r.pack_offset}+"
                                           f"{r.stored_size} in pack {pid}; the pack's table {where}"))
    return found, lost


def orphan_packs(root: Path, pack_rows: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    for f in sorted(root.iterdir()) if root.is_dir() else ():
        pid = f.name[: -len(PACK_SUFFIX)] if f.name.endswith(PACK_SUFFIX) else None
        if pid not in pack_rows:
            out.append(OrphanFile(object_id=None, file=f"packs/{f.name}",
                                  detail="no index row names this pack (left by an interrupted repack; "
                                  "gc removes it)"))
    return out
