"""A folder of loose objects: ``objects/ab/cdef…`` (git's fan-out by two hex digits).

Writes go through ``tmp/`` with fsync and rename, so an object file is either
absent or complete; files are never modified after the rename.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import CorruptObjectError, MissingObjectError
from ..ids import is_id
from ._atomic import storage_error, write_atomic
from .base import ObjectStore


class LocalStore(ObjectStore):
    def __init__(self, root: Path, tmp_dir: Path, *, durable: bool = True) -> None:
        self.root = Path(root)
        self.tmp_dir = Path(tmp_dir)
        self.durable = durable

    def path(self, oid: str) -> Path:
        if not is_id(oid):
            raise ValueError(f"not an object id: {oid!r}")
        return self.root / oid[:2] / oid[2:]

    def put(self, oid: str, data: bytes, *, replace: bool = False) -> bool:
        p = self.path(oid)
        if not replace and p.exists():
            return False
        write_atomic(p, [data], self.tmp_dir, mode=0o444, durable=self.durable)
        return True

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
        try:
            os.unlink(self.path(oid))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise storage_error(self.path(oid), e) from e

    def list(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for fan in sorted(self.root.iterdir()):
            if fan.is_dir() and len(fan.name) == 2:
                for f in sorted(fan.iterdir()):
                    oid = fan.name + f.name
                    if is_id(oid):
                        yield oid
