"""Reading commits back: checkout to files, file states, tensors for ``load``.

Checkout rebuilds each file from its manifest, decoding segments on both
cores in file order, hashing the bytes as they are written to a temporary
file; only a file whose hash matches its manifest is renamed into place.
Before anything is written, every target is checked: a file that exists with
other content is a conflict, refused unless ``force``.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import xxhash

from ._parallel import MAX_INFLIGHT_BYTES, ordered_map
from .adapters.base import map_file
from .cache import BitsCache
from .config import Config
from .errors import BadInputError, ConflictError, CorruptObjectError
from .ids import stream_id
from .index import Index
from .index import queries as q
from .objects import Manifest, Segment
from .odb import ObjectDB
from .results import CheckoutResult, FileState
from .store import ObjectStore
from .store._atomic import storage_error, write_atomic

Progress = Callable[[int, int], None]


def safe_relpath(path: str) -> PurePosixPath:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts or str(p) != path:
        raise CorruptObjectError("?", f"tree path {path!r} would escape the checkout directory")
    return p


class Reader:
    def __init__(self, store: ObjectStore, index: Index, config: Config, cache: BitsCache | None = None) -> None:
        self.index, self.config = index, config
        self.odb = ObjectDB(store, cache)

    def manifests(self, cid: str) -> dict[str, Manifest]:
        with self.index.read() as conn:
            rows = q.tree_rows(conn, cid)
        return {r.path: self.odb.read_manifest(r.manifest_id) for r in rows}

    def segment_bytes(self, seg: Segment) -> memoryview:
        data = self.odb.load_bytes(seg.id)
        if len(data) != seg.length:
            raise CorruptObjectError(seg.id, f"decodes to {len(data)} bytes, manifest says {seg.length}")
        return data

    def chunks(self, man: Manifest) -> Iterator[memoryview]:
        return ordered_map(self.segment_bytes, man.segments, self.config.workers,
                           size=lambda s: s.length, max_inflight=MAX_INFLIGHT_BYTES)

    def file_state(self, target: Path, man: Manifest) -> str:
        for parent in target.parents:
            if parent.exists():
                if not parent.is_dir():
                    return "modified"  # a file stands where a folder of the tree must go
                break
        if not target.exists() and not target.is_symlink():
            return "missing"
        if not target.is_file():
            return "modified"
        try:
            if target.stat().st_size != man.size:
                return "modified"
            view, close, _ = map_file(target)
        except BadInputError:
            return "modified"
        try:
            return "unchanged" if stream_id([view]) == man.hash else "modified"
        finally:
            close()

    def states(self, cid: str, root: Path) -> list[FileState]:
        return [FileState(p, self.file_state(root / safe_relpath(p), m))
                for p, m in sorted(self.manifests(cid).items())]

    def checkout(self, cid: str, out: Path, *, force: bool = False,
                 progress: Progress | None = None) -> CheckoutResult:
        if out.exists() and not out.is_dir():
            raise BadInputError(str(out), "checkout target exists and is not a directory")
        mans = self.manifests(cid)
        plan: list[tuple[str, Path, Manifest]] = []
        unchanged, conflicts = [], []
        for path, man in sorted(mans.items()):
            target = out / safe_relpath(path)
            state = self.file_state(target, man)
            if state == "unchanged":
                unchanged.append(path)
                continue
            if state == "modified" and not force:
                conflicts.append(path)
            plan.append((path, target, man))
        if conflicts:
            shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
            raise ConflictError(f"checkout would overwrite modified files in {out}: {shown}"
                                " (use --force to overwrite)")
        total = sum(m.size for _, _, m in plan)
        done = 0
        for path, target, man in plan:
            h = xxhash.xxh3_128()

            def stream(man: Manifest = man) -> Iterator[memoryview]:
                nonlocal done
                for chunk in self.chunks(man):
                    h.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
                    yield chunk

            def check(man: Manifest = man, path: str = path) -> None:
                if h.hexdigest() != man.hash:
                    raise CorruptObjectError(man.hash, f"rebuilt {path} does not match its manifest hash")

            if target.is_dir() and not target.is_symlink():
                raise ConflictError(f"{target} is a directory")
            _make_dirs(target.parent, force)
            # no fsync: the repository keeps the data; a checkout is as durable as any file the OS writes (git does
            # the same). The rename still makes each file appear whole or not at all.
            write_atomic(target, stream(), target.parent, mode=man.mode, durable=False, before_rename=check)
        return CheckoutResult(cid, str(out), tuple(p for p, _, _ in plan), tuple(unchanged), total)

    def tensor_bits(self, seg: Segment) -> np.ndarray:
        return self.odb.load_bits(seg.id)


def _make_dirs(path: Path, force: bool) -> None:
    """Create ``path``; with ``force``, a file standing where a folder must go is removed."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        if not force:
            raise ConflictError(f"a file stands where the folder {path} must go (use --force)") from None
        for p in reversed([path, *path.parents]):
            if p.exists() and not p.is_dir():
                p.unlink()
                break
        _make_dirs(path, force)
    except OSError as e:
        raise storage_error(path, e) from e


def untracked(root: Path, tracked: set[str]) -> list[str]:
    if not root.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".ckv")
        for f in sorted(filenames):
            rel = Path(dirpath, f).relative_to(root).as_posix()
            if rel not in tracked:
                out.append(rel)
    return out
