"""A commit's tensors as a lazy read-only mapping: ``repo.open("step-500")["w"]``.

Only the tensor asked for is decoded (with its delta chain). Names come from
the commit's safetensors files; a name found in two files is keyed
``"path:name"`` for the second and later files.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from .objects import Segment
from .reader import Reader

if TYPE_CHECKING:
    import torch


class Snapshot(Mapping[str, "torch.Tensor"]):
    def __init__(self, reader: Reader, commit_id: str) -> None:
        self.commit_id = commit_id
        self._reader = reader
        self._segments: dict[str, Segment] = {}
        for path, man in sorted(reader.manifests(commit_id).items()):
            for seg in man.tensors():
                key = seg.name if seg.name not in self._segments else f"{path}:{seg.name}"
                self._segments[key or ""] = seg

    def __getitem__(self, name: str) -> "torch.Tensor":
        from .torch_io import to_tensor
        seg = self._segments[name]
        assert seg.dtype is not None and seg.shape is not None
        return to_tensor(self._reader.tensor_bits(seg), seg.dtype, seg.shape)

    def __iter__(self) -> Iterator[str]:
        return iter(self._segments)

    def __len__(self) -> int:
        return len(self._segments)

    def __repr__(self) -> str:
        return f"Snapshot({self.commit_id[:12]}, {len(self)} tensors)"
