"""File manifests: how to rebuild one file byte for byte from objects.

A manifest lists segments in file order; concatenating their bytes gives the
file, whose xxh3-128 is ``hash``. The manifest id is the xxh3-128 of its
canonical JSON (docs/format.md, "Manifest")::

    {"format": "safetensors", "hash": "…", "mode": 420, "size": 123,
     "segments": [{"blob": "<id>", "len": 80},
                  {"tensor": "<id>", "len": 64, "name": "w", "dtype": "F32", "shape": [4, 4]}]}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import CorruptObjectError
from ..ids import blob_id, canonical_json, is_id


@dataclass(frozen=True)
class Segment:
    kind: str                      # "blob" | "tensor"
    id: str
    length: int
    name: str | None = None
    dtype: str | None = None
    shape: tuple[int, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        if self.kind == "blob":
            return {"blob": self.id, "len": self.length}
        return {"tensor": self.id, "len": self.length, "name": self.name, "dtype": self.dtype,
                "shape": list(self.shape or ())}


@dataclass(frozen=True)
class Manifest:
    format: str
    size: int
    hash: str
    mode: int
    segments: tuple[Segment, ...]

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "size": self.size, "hash": self.hash, "mode": self.mode,
                "segments": [s.to_json() for s in self.segments]}

    def encode(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def id(self) -> str:
        return blob_id(self.encode())

    def tensors(self) -> list[Segment]:
        return [s for s in self.segments if s.kind == "tensor"]

    @classmethod
    def from_json(cls, d: dict[str, Any], oid: str = "?") -> "Manifest":
        try:
            segs = []
            for s in d["segments"]:
                if "blob" in s:
                    segs.append(Segment("blob", s["blob"], int(s["len"])))
                else:
                    segs.append(Segment("tensor", s["tensor"], int(s["len"]), s["name"], s["dtype"],
                                        tuple(int(x) for x in s["shape"])))
            m = cls(str(d["format"]), int(d["size"]), str(d["hash"]), int(d["mode"]), tuple(segs))
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptObjectError(oid, f"malformed manifest: {e}") from e
        if sum(s.length for s in m.segments) != m.size or not all(is_id(s.id) for s in m.segments):
            raise CorruptObjectError(oid, "manifest segments do not add up to the file")
        return m
