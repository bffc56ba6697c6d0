"""Reading a file into a plan of segments, from a memory map.

A :class:`FilePlan` holds views into the mapped file; nothing is copied until
a segment is encoded, so a checkpoint is streamed tensor by tensor. Call
``close()`` when done (the plan keeps the map open).
"""
from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInputError

BLOB_CHUNK = 64 << 20  # large plain files are stored as 64 MiB blobs, streamable and dedupable


@dataclass
class SourceSegment:
    kind: str                                 # "blob" | "tensor"
    length: int
    data: memoryview
    name: str | None = None
    dtype: str | None = None
    shape: tuple[int, ...] | None = None


@dataclass
class FilePlan:
    path: str                                 # relative, '/'-separated
    format: str                               # "safetensors" | "blob"
    size: int
    mode: int
    segments: list[SourceSegment]
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for c in self._closers:
            c()
        self._closers.clear()


def blob_segments(view: memoryview) -> list[SourceSegment]:
    if len(view) == 0:
        return [SourceSegment("blob", 0, view)]
    return [SourceSegment("blob", len(view[i : i + BLOB_CHUNK]), view[i : i + BLOB_CHUNK])
            for i in range(0, len(view), BLOB_CHUNK)]


def map_file(path: Path) -> tuple[memoryview, Callable[[], None], os.stat_result]:
    """Map ``path`` read-only; returns the view, a closer and its stat."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise BadInputError(str(path), "not a regular file")
        if st.st_size == 0:
            return memoryview(b""), lambda: None, st
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise BadInputError(str(path), "no such file") from None
    except PermissionError:
        raise BadInputError(str(path), "permission denied") from None
    except OSError as e:
        raise BadInputError(str(path), e.strerror or str(e)) from e
    view = memoryview(mm)

    def close() -> None:
        view.release()
        try:
            mm.close()
        except BufferError:
            pass  # a numpy view still holds it; the map closes when that is collected

    return view, close, st


def plan_file(path: Path, rel: str) -> FilePlan:
    from .safetensors import plan_safetensors  # local: keeps the adapter table in one place

    view, close, st = map_file(path)
    mode = 0o755 if st.st_mode & 0o111 else 0o644
    try:
        if path.name.endswith(".safetensors"):
            segments, fmt = plan_safetensors(view, str(path)), "safetensors"
        else:
            segments, fmt = blob_segments(view), "blob"
    except BaseException:
        close()
        raise
    return FilePlan(rel, fmt, len(view), mode, segments, [close])
