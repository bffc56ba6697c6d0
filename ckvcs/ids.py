"""Object ids: xxh3-128, written as 32 lowercase hex digits.

* blob / manifest / commit: xxh3-128 of the bytes.
* tensor: xxh3-128 of ``b"ckv-tensor\\0" + dtype + b"\\0" + shape + b"\\0"`` followed by
  the raw little-endian bytes, where shape is the decimal sizes joined by ``,``.
  The prefix keeps a tensor and a blob of the same bytes apart, and two tensors
  with the same bytes but another dtype or shape apart.

The id never depends on how the object is stored.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import xxhash

from .format import ID_HEX

_HEX = frozenset("0123456789abcdef")
# Hash big buffers in slices so a memory map is paged in a bit at a time.
_SLICE = 64 << 20


def _update(h: "xxhash.xxh3_128", data: Any) -> None:
    mv = memoryview(data).cast("B")
    for start in range(0, len(mv), _SLICE):
        h.update(mv[start : start + _SLICE])


def blob_id(data: Any) -> str:
    h = xxhash.xxh3_128()
    _update(h, data)
    return h.hexdigest()


def tensor_prefix(dtype: str, shape: Sequence[int]) -> bytes:
    return b"ckv-tensor\0" + dtype.encode() + b"\0" + ",".join(str(int(s)) for s in shape).encode() + b"\0"


def tensor_id(dtype: str, shape: Sequence[int], data: Any) -> str:
    h = xxhash.xxh3_128(tensor_prefix(dtype, shape))
    _update(h, data)
    return h.hexdigest()


def stream_id(chunks: Iterable[Any]) -> str:
    """Id of the concatenation of ``chunks`` (a file rebuilt piece by piece)."""
    h = xxhash.xxh3_128()
    for c in chunks:
        _update(h, c)
    return h.hexdigest()


def canonical_json(obj: Any) -> bytes:
    """The one byte form of a manifest or commit: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def is_id(text: str) -> bool:
    return len(text) == ID_HEX and set(text) <= _HEX


def is_prefix(text: str) -> bool:
    return 4 <= len(text) <= ID_HEX and set(text) <= _HEX
