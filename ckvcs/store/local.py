"""A folder of loose objects: ``objects/ab/cdef…`` (git's fan-out by two hex digits).

Writes go through ``tmp/`` and a rename, so an object file is either absent or
complete, and are never modified after the rename. Durability is batched: a
commit writes all its objects, then ``sync()`` flushes them with one syncfs(2)
(or an fsync per file and directory where syncfs is missing) before the index
transaction that names them — the write order of DESIGN.md at one journal
commit per commit instead of two fsyncs per object.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import CorruptObjectError, MissingObjectError
from ..ids import is_id
from ._atomic import fsync_dir, remove, storage_error, syncfs, write_atomic
from .base import ObjectStore


class LocalStore(ObjectStore):
    def __init__(self, root: Path, tmp_dir: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = Path(tmp_dir)
        self._unsynced: list[Path] = []

    def path(self, oid: str) -> Path:
        if not is_id(oid):
            raise ValueError(f"not an object id: {oid!r}")
        return self.root / oid[:2] / oid[2:]

    def put(self, oid: str, data: bytes, *, replace: bool = False) -> bool:
        p = self.path(oid)
        if not replace and p.exists():
            return False
        write_atomic(p, [data], self.tmp_dir, mode=0o444, durable=False)
        self._unsynced.append(p)
        return True

    def sync(self) -> None:
        if not self._unsynced:
            return
        if not syncfs(self.root):
            for p in self._unsynced:
                try:
                    fd = os.open(p, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                except OSError as e:
                    raise storage_error(p, e) from e
            for d in {p.parent for p in self._unsynced}:
                fsync_dir(d)
        self._unsynced.clear()

    def get(self, oid: str) -> bytes:
        try:
            return self.path(oid).read_bytes()
        except FileNotFoundError:
            raise MissingObjectError(oid) from None
        except OSError as e:
            raise storage_error(self.path(oid), e) from e

    def get_range(self, oid: str, start: int, length: int) -> bytes:
        try:
            with open(self.path(oid), "rb") as f:
                if start < 0 or length < 0 or start + length > os.fstat(f.fileno()).st_size:
                    raise CorruptObjectError(oid, f"range {start}+{length} runs past the end of the object")
                f.seek(start)
                data = f.read(length)
        except FileNotFoundError:
            raise MissingObjectError(oid) from None
        except OSError as e:
            raise storage_error(self.path(oid), e) from e
        if len(data) != length:
            raise CorruptObjectError(oid, f"range {start}+{length} runs past the end of the object")
        return data

    def has(self, oid: str) -> bool:
        return self.path(oid).exists()

    def size(self, oid: str) -> int:
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            raise MissingObjectError(oid) from None

    def delete(self, oid: str) -> None:
        remove(self.path(oid))

    def list(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for fan in sorted(self.root.iterdir()):
            if fan.is_dir() and len(fan.name) == 2:
                for f in sorted(fan.iterdir()):
                    oid = fan.name + f.name
                    if is_id(oid):
                        yield oid
