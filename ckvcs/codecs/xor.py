"""``xor``: a dense delta. Bitwise XOR with the base's bits, byte planes, zstd.

XOR is its own inverse on the integer bit view, so decoding is exact for every
bit pattern, NaN payloads and -0.0 included. Floats are rotated left one bit
first, as in ``raw``, so a sign flip lands in the low plane.
Payload: a stream set of ``itemsize`` planes of ``rotl1(data ^ base)``.
"""
from __future__ import annotations

import numpy as np

from ..format import DType
from ._streams import join_planes, pack_streams, rotl1, rotr1, split_planes, unpack_streams
from .abc import ZstdCodec
from .registry import register


@register
class XorCodec(ZstdCodec):
    codec_id = "xor"
    frame_code = 2
    uses_base = True

    def encode(self, data: np.ndarray, dtype: DType, base: np.ndarray | None = None) -> bytes:
        if base is None or base.shape != data.shape:
            raise ValueError("xor needs a base of the same length")
        diff = np.bitwise_xor(data, base)
        if dtype.is_float:
            diff = rotl1(diff)
        return pack_streams(split_planes(diff), self.level)

    def decode(self, payload: bytes | memoryview, dtype: DType, count: int,
               base: np.ndarray | None = None) -> np.ndarray:
        if base is None or base.size != count:
            raise ValueError("xor needs a base of the decoded length")
        diff = join_planes(unpack_streams(payload, expect=dtype.itemsize, sizes=[count] * dtype.itemsize),
                           dtype.bits, count)
        if dtype.is_float:
            diff = rotr1(diff)
        return np.bitwise_xor(diff, base.astype(dtype.bits, copy=False))
