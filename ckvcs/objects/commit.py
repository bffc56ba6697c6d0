"""Commits: a tree (path → manifest id) with parents, message and provenance.

The commit id is the xxh3-128 of its canonical JSON. Storage statistics are
not part of it (they live in the index), so the id depends only on content.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import CorruptObjectError
from ..ids import blob_id, canonical_json, is_id


@dataclass(frozen=True)
class Commit:
    tree: dict[str, str]
    parents: tuple[str, ...]
    message: str
    author: str
    time: float
    step: int | None = None
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"tree": dict(sorted(self.tree.items())), "parents": list(self.parents),
                "message": self.message, "author": self.author, "time": self.time,
                "step": self.step, "source": self.source, "metadata": self.metadata}

    def encode(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def id(self) -> str:
        return blob_id(self.encode())

    @classmethod
    def from_json(cls, d: dict[str, Any], oid: str = "?") -> "Commit":
        try:
            c = cls(tree={str(k): str(v) for k, v in d["tree"].items()},
                    parents=tuple(str(p) for p in d["parents"]), message=str(d["message"]),
                    author=str(d["author"]), time=float(d["time"]), step=d.get("step"),
                    source=d.get("source"), metadata=dict(d.get("metadata") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CorruptObjectError(oid, f"malformed commit: {e}") from e
        if not all(is_id(x) for x in (*c.tree.values(), *c.parents)):
            raise CorruptObjectError(oid, "malformed commit: a tree entry or parent is not an object id")
        return c
