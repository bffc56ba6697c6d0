"""A repository's objects: loose files plus pack files, with the index saying which holds each.

The index is authoritative. An object whose row names a pack is read from that
pack, even if a loose copy is still on disk (repack deletes loose copies after
the index switches, and a kill in between leaves them behind); any other
object is read from its loose file. New objects are always written loose.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from ..errors import CorruptObjectError
from .base import ObjectStore
from .local import LocalStore
from .pack import PackSet


class Location(NamedTuple):
    pack_id: str
    offset: int
    length: int


Locate = Callable[[str], "Location | None"]


class LayeredStore(ObjectStore):
    def __init__(self, loose: LocalStore, packs: PackSet, locate: Locate) -> None:
        self.loose, self.packs, self.locate = loose, packs, locate

    @property
    def root(self) -> Path:
        return self.loose.root

    @property
    def tmp_dir(self) -> Path:
        return self.loose.tmp_dir

    def path(self, oid: str) -> Path:
        """Where the loose copy of ``oid`` is, or would be."""
        return self.loose.path(oid)

    def put(self, oid: str, data: bytes, *, replace: bool = False) -> bool:
        return self.loose.put(oid, data, replace=replace)

    def sync(self) -> None:
        self.loose.sync()

    def get(self, oid: str) -> bytes:
        loc = self.locate(oid)
        if loc is None:
            return self.loose.get(oid)
        return self.packs.read(loc.pack_id, loc.offset, loc.length, oid)

    def get_range(self, oid: str, start: int, length: int) -> bytes:
        loc = self.locate(oid)
        if loc is None:
            return self.loose.get_range(oid, start, length)
        if start < 0 or length < 0 or start + length > loc.length:
            raise CorruptObjectError(oid, f"range {start}+{length} runs past the end of the object")
        return self.packs.read(loc.pack_id, loc.offset + start, length, oid)

    def has(self, oid: str) -> bool:
        loc = self.locate(oid)
        if loc is None:
            return self.loose.has(oid)
        return self.packs.path(loc.pack_id).exists()

    def size(self, oid: str) -> int:
        loc = self.locate(oid)
        return self.loose.size(oid) if loc is None else loc.length

    def delete(self, oid: str) -> None:
        """Delete the loose copy; a packed object goes only when its pack is rewritten."""
        self.loose.delete(oid)

    def list(self) -> Iterator[str]:
        """The loose objects (packed ones are listed by the index and the pack tables)."""
        return self.loose.list()

    def close(self) -> None:
        self.packs.close()
