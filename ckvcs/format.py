"""Constants of the on-disk format (docs/format.md is the prose version).

Everything a reader must agree on lives here: the repository format version,
the frame magic, and the dtype table with the one-byte codes frames use.
A code, once written to disk, never changes meaning.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REPO_FORMAT_VERSION = 1
FRAME_MAGIC = b"CKVF"
FRAME_VERSION = 1
HASH_ALGORITHM = "xxh3-128"
ID_BYTES = 16
ID_HEX = 2 * ID_BYTES
NULL_ID = "0" * ID_HEX


@dataclass(frozen=True)
class DType:
    """One element type: its safetensors name, frame code, width and float layout."""

    name: str
    code: int
    itemsize: int
    is_float: bool

    @property
    def bits(self) -> np.dtype:
        """The unsigned integer view every codec works on (never float arithmetic)."""
        return np.dtype(f"<u{self.itemsize}")


# Frame dtype codes. Code 0 is "bytes": blobs, manifests, commits.
_TABLE = [
    DType("bytes", 0, 1, False),
    DType("BOOL", 1, 1, False),
    DType("U8", 2, 1, False),
    DType("I8", 3, 1, False),
    DType("I16", 4, 2, False),
    DType("U16", 5, 2, False),
    DType("I32", 6, 4, False),
    DType("U32", 7, 4, False),
    DType("I64", 8, 8, False),
    DType("U64", 9, 8, False),
    DType("F16", 10, 2, True),
    DType("BF16", 11, 2, True),
    DType("F32", 12, 4, True),
    DType("F64", 13, 8, True),
    DType("F8_E4M3", 14, 1, True),
    DType("F8_E5M2", 15, 1, True),
]
DTYPES: dict[str, DType] = {d.name: d for d in _TABLE}
DTYPE_BY_CODE: dict[int, DType] = {d.code: d for d in _TABLE}
BYTES = DTYPES["bytes"]
SAFETENSORS_DTYPES = frozenset(n for n in DTYPES if n != "bytes")
