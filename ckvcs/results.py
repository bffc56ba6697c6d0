"""What the Python API returns: plain frozen dataclasses, ready for rich or JSON."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CommitResult:
    id: str
    tag: str | None
    branch: str | None
    step: int | None
    parents: tuple[str, ...]
    raw_bytes: int                    # bytes of the committed files
    stored_bytes: int                 # bytes of objects this commit added to the store
    n_files: int
    n_tensors: int
    changed_fraction: float | None
    codec_mix: dict[str, int]

    @property
    def ratio(self) -> float:
        return self.raw_bytes / self.stored_bytes if self.stored_bytes else float("inf")


@dataclass(frozen=True)
class CommitInfo:
    id: str
    parents: tuple[str, ...]
    message: str
    author: str
    time: float
    step: int | None
    source: str | None
    refs: tuple[str, ...]
    raw_bytes: int
    stored_bytes: int
    n_tensors: int
    changed_fraction: float | None
    codec_mix: dict[str, int]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.raw_bytes / self.stored_bytes if self.stored_bytes else float("inf")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = None if not self.stored_bytes else self.ratio
        return d


@dataclass(frozen=True)
class TensorInfo:
    path: str
    name: str
    dtype: str
    shape: tuple[int, ...]
    object_id: str
    raw_bytes: int
    stored_bytes: int
    codec: str
    base_id: str | None
    changed_fraction: float | None


@dataclass(frozen=True)
class FileInfo:
    path: str
    format: str
    size: int
    manifest_id: str


@dataclass(frozen=True)
class ShowResult:
    commit: CommitInfo
    files: tuple[FileInfo, ...]
    tensors: tuple[TensorInfo, ...]

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit.to_json(), "files": [asdict(f) for f in self.files],
                "tensors": [asdict(t) for t in self.tensors]}


@dataclass(frozen=True)
class CheckoutResult:
    commit: str
    out: str
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    bytes_written: int


@dataclass(frozen=True)
class FileState:
    path: str
    state: str                        # unchanged | modified | missing


@dataclass(frozen=True)
class StatusResult:
    head: str | None                  # commit id, None on an unborn branch
    branch: str | None                # None when HEAD is detached
    source: str | None
    files: tuple[FileState, ...]
    untracked: tuple[str, ...]

    @property
    def clean(self) -> bool:
        """The source directory holds exactly HEAD's files: committing it again would change nothing."""
        return all(f.state == "unchanged" for f in self.files) and not self.untracked

    def to_json(self) -> dict[str, Any]:
        return {"head": self.head, "branch": self.branch, "source": self.source, "clean": self.clean,
                "files": [asdict(f) for f in self.files], "untracked": list(self.untracked)}


@dataclass(frozen=True)
class RefInfo:
    name: str
    target: str
    current: bool = False
