"""A state dict committed as one in-memory ``model.safetensors``.

The header is written the way safetensors writes it (entries with dtype,
shape and contiguous data_offsets, ``__metadata__`` {"format": "pt"}, padded
with spaces to a multiple of 8 bytes); tensors are taken from memory as they
are, tied weights stored once by content.
"""
from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import BadInputError, check_text
from .base import FilePlan, SourceSegment

if TYPE_CHECKING:
    import torch


def plan_state_dict(state: Mapping[str, "torch.Tensor"], filename: str = "model.safetensors") -> FilePlan:
    from ..torch_io import dtype_name, tensor_bytes

    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    parts: list[tuple[str, str, tuple[int, ...], memoryview]] = []
    offset = 0
    for name in state:
        if not isinstance(name, str):
            raise BadInputError(repr(name), "state dict keys must be strings")
        check_text(name, "state dict", "key")
    for name in sorted(state):
        t = state[name]
        if not hasattr(t, "dtype") or not hasattr(t, "shape"):
            raise BadInputError(name, f"state dict value is a {type(t).__name__}, not a tensor")
        try:
            dt = dtype_name(t.dtype)
        except ValueError as e:
            raise BadInputError(name, str(e)) from e
        data = tensor_bytes(t)
        shape = tuple(int(s) for s in t.shape)
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        parts.append((name, dt, shape, data))
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    head = memoryview(struct.pack("<Q", len(text)) + text)
    segments = [SourceSegment("blob", len(head), head)]
    segments += [SourceSegment("tensor", len(d), d, n, dt, s) for n, dt, s, d in parts]
    return FilePlan(filename, "safetensors", len(head) + offset, 0o644, segments)
