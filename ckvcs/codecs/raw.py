"""``raw``: a tensor with no base. Floats rotated left one bit, byte planes, zstd.

Payload: a stream set (see ``_streams``) of ``itemsize`` planes.
"""
from __future__ import annotations

import numpy as np

from ..format import DType
from ._streams import join_planes, pack_streams, rotl1, rotr1, split_planes, unpack_streams
from .abc import ZstdCodec
from .registry import register


@register
class RawCodec(ZstdCodec):
    codec_id = "raw"
    frame_code = 1
    uses_base = False

    def encode(self, data: np.ndarray, dtype: DType, base: np.ndarray | None = None) -> bytes:
        bits = rotl1(data) if dtype.is_float else data
        return pack_streams(split_planes(bits), self.level)

    def decode(self, payload: bytes | memoryview, dtype: DType, count: int,
               base: np.ndarray | None = None) -> np.ndarray:
        planes = unpack_streams(payload, expect=dtype.itemsize, sizes=[count] * dtype.itemsize)
        bits = join_planes(planes, dtype.bits, count)
        return rotr1(bits) if dtype.is_float else bits
