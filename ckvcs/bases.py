"""Where a commit gets the bits of a delta base.

Decoding a base means decoding its whole delta chain. But a training run
usually still has the parent checkpoint on disk, in the directory it was
committed from; a tensor read from there is as good as a decoded one once its
tensor id matches the base id (the same check a decode ends with). So the
parent's source files are tried first, and the store is the fallback.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .adapters import FilePlan, SourceSegment
from .adapters.base import plan_file
from .errors import CkvError
from .ids import tensor_id
from .objects import Manifest
from .objects.tensor import tensor_bits
from .odb import ObjectDB


class BaseSource:
    def __init__(self, odb: ObjectDB, source: str | None, manifests: dict[str, Manifest]) -> None:
        self.odb = odb
        self._root = Path(source) if source else None
        self._manifests = manifests
        self._plans: dict[str, dict[str, SourceSegment] | None] = {}
        self._open: list[FilePlan] = []
        self._lock = threading.Lock()
        self.hits = 0

    def _segments(self, path: str) -> dict[str, SourceSegment] | None:
        with self._lock:
            if path in self._plans:
                return self._plans[path]
            found = None
            man = self._manifests.get(path)
            f = self._root / path if self._root else None
            try:
                if man is not None and f is not None and f.is_file() and f.stat().st_size == man.size:
                    plan = plan_file(f, path)
                    self._open.append(plan)
                    found = {s.name: s for s in plan.segments if s.kind == "tensor" and s.name}
            except (CkvError, OSError):
                found = None  # the file changed since; fall back to decoding
            self._plans[path] = found
            return found

    def bits(self, oid: str, path: str, name: str) -> np.ndarray:
        segs = self._segments(path)
        seg = segs.get(name) if segs else None
        if seg is not None and seg.dtype and seg.shape is not None:
            if tensor_id(seg.dtype, seg.shape, seg.data) == oid:
                self.hits += 1
                return tensor_bits(seg.data, seg.dtype)
        return self.odb.load_bits(oid)

    def close(self) -> None:
        for p in self._open:
            p.close()
        self._open.clear()
