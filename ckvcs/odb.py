"""The object database: frames in a store, described by rows in the index.

Reading follows delta chains down to an object stored whole, then decodes
upward, checking each object's id against its decoded bytes (``verify``).

A repack running in another process may re-base and move objects while a
chain is being read; a frame read before its switch and one read after can
then disagree (a base that vanished, or a chain that loops back). Such a read
is retried once from the top, on the new layout, before it is reported.
"""
from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from .cache import BitsCache
from .codecs.frame import KIND_COMMIT, KIND_MANIFEST, KIND_TENSOR, Frame, parse_frame
from .errors import CorruptObjectError, MissingObjectError
from .objects import Commit, Manifest
from .objects.tensor import decode_frame
from .store import ObjectStore

MAX_CHAIN = 100_000  # far past any configured depth; only a corrupt loop gets here


def object_row(oid: str, kind: str, codec: str, base_id: str | None, depth: int, dtype: str | None,
               raw_size: int, stored_size: int) -> dict[str, Any]:
    return {"id": oid, "kind": kind, "codec": codec, "base_id": base_id, "depth": depth, "dtype": dtype,
            "raw_size": raw_size, "stored_size": stored_size, "pack_id": None, "pack_offset": None,
            "created_at": time.time()}


class _ChainLoop(Exception):
    """A chain that names an object already on it: a concurrent repack, or a forged frame."""


class ObjectDB:
    def __init__(self, store: ObjectStore, cache: BitsCache | None = None) -> None:
        self.store = store
        self.cache = cache

    def read_frame(self, oid: str) -> Frame:
        return parse_frame(self.store.get(oid), expect_id=oid)

    def load_bits(self, oid: str, *, verify: bool = True) -> np.ndarray:
        """The object's bits, decoded through its chain; read-only when they come from the cache.

        The chain is walked down only as far as the first object the cache holds.
        """
        cache = self.cache
        if cache is not None and (hit := cache.get(oid)) is not None:
            return hit
        try:
            return self._load(oid, verify)
        except (MissingObjectError, _ChainLoop):
            try:
                return self._load(oid, verify)
            except _ChainLoop as e:
                raise CorruptObjectError(oid, str(e)) from None

    def _load(self, oid: str, verify: bool) -> np.ndarray:
        cache = self.cache
        frames = [self.read_frame(oid)]
        seen = {oid}
        bits: np.ndarray | None = None
        while frames[-1].base_id is not None:
            base_id = frames[-1].base_id
            if base_id in seen or len(frames) > MAX_CHAIN:
                raise _ChainLoop(f"delta chain loops back to {base_id}")
            seen.add(base_id)
            if cache is not None and (bits := cache.get(base_id)) is not None:
                if bits.dtype != frames[-1].dtype.bits or bits.size != frames[-1].count:
                    raise CorruptObjectError(frames[-1].object_id, f"base {base_id} has another dtype or size")
                break
            base = self.read_frame(base_id)
            if base.dtype != frames[-1].dtype or base.count != frames[-1].count:
                raise CorruptObjectError(frames[-1].object_id, f"base {base.object_id} has another dtype or size")
            frames.append(base)
        for fr in reversed(frames):
            bits = decode_frame(fr, bits, verify=verify)
            if cache is not None and fr.kind == KIND_TENSOR:
                cache.put(fr.object_id, bits)
        assert bits is not None
        return bits

    def load_bytes(self, oid: str, *, verify: bool = True) -> memoryview:
        return memoryview(self.load_bits(oid, verify=verify)).cast("B")

    def read_manifest(self, mid: str) -> Manifest:
        fr = self.read_frame(mid)
        if fr.kind != KIND_MANIFEST:
            raise CorruptObjectError(mid, "is not a manifest")
        return Manifest.from_json(self._json(fr), mid)

    def read_commit(self, cid: str) -> Commit:
        fr = self.read_frame(cid)
        if fr.kind != KIND_COMMIT:
            raise CorruptObjectError(cid, "is not a commit")
        return Commit.from_json(self._json(fr), cid)

    def _json(self, fr: Frame) -> Any:
        """The JSON of a manifest or commit frame (stored whole), decoded from the frame already read."""
        if fr.base_id is not None:
            raise CorruptObjectError(fr.object_id, "a manifest or commit must be stored whole")
        try:
            return json.loads(bytes(decode_frame(fr, None)))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CorruptObjectError(fr.object_id, f"not JSON: {e}") from e
