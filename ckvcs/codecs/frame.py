"""Frames: the one container every stored object is kept in.

Layout (all integers little-endian; docs/format.md is the reference)::

    offset size
     0      4   magic "CKVF"
     4      1   frame version (1)
     5      1   kind: 0 blob, 1 tensor, 2 manifest, 3 commit
     6      1   codec frame code (1 raw, 2 xor, ...)
     7      1   dtype code (format.DTYPES; 0 = bytes)
     8     16   object id (xxh3-128)
    24     16   base object id (all zero when the codec uses no base)
    40      8   decoded length in bytes
    48      8   payload length in bytes
    56      1   ndim (0..32; 0 for non-tensors and 0-d tensors)
    57  8·ndim  shape, one u64 per dimension
    ..      P   payload
    ..      8   xxh3-64 of every byte before it

A reader checks magic, version, sizes, ndim cap, that shape × itemsize equals
the decoded length, the checksum, and that nothing trails the frame, before
any decoding. Decoding then verifies the object id from the decoded bytes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import xxhash

from ..errors import CorruptObjectError
from ..format import DTYPE_BY_CODE, FRAME_MAGIC, FRAME_VERSION, ID_BYTES, NULL_ID, DType

KIND_BLOB, KIND_TENSOR, KIND_MANIFEST, KIND_COMMIT = 0, 1, 2, 3
KIND_NAMES = {KIND_BLOB: "blob", KIND_TENSOR: "tensor", KIND_MANIFEST: "manifest", KIND_COMMIT: "commit"}
MAX_NDIM = 32
MAX_DECODED = 1 << 48
_HEAD = struct.Struct("<4sBBBB16s16sQQB")
HEADER_MIN = _HEAD.size  # 57
_TRAILER = 8


@dataclass(frozen=True)
class Frame:
    kind: int
    codec_code: int
    dtype: DType
    object_id: str
    base_id: str | None
    decoded_len: int
    shape: tuple[int, ...]
    payload: memoryview

    @property
    def count(self) -> int:
        return self.decoded_len // self.dtype.itemsize


def _id_bytes(hex_id: str | None) -> bytes:
    return bytes(ID_BYTES) if hex_id is None else bytes.fromhex(hex_id)


def encode_frame(*, kind: int, codec_code: int, dtype: DType, object_id: str, base_id: str | None,
                 decoded_len: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    if len(shape) > MAX_NDIM:
        raise ValueError(f"tensor has {len(shape)} dimensions; frames hold at most {MAX_NDIM}")
    head = _HEAD.pack(FRAME_MAGIC, FRAME_VERSION, kind, codec_code, dtype.code, _id_bytes(object_id),
                      _id_bytes(base_id), decoded_len, len(payload), len(shape))
    body = head + struct.pack(f"<{len(shape)}Q", *shape) + payload
    return body + xxhash.xxh3_64_digest(body)


def parse_frame(buf: bytes | memoryview, expect_id: str | None = None) -> Frame:
    """Check a frame's structure and checksum; return its fields. Decodes nothing."""
    mv = memoryview(buf).cast("B")
    oid = expect_id or "?"
    if len(mv) < HEADER_MIN + _TRAILER:
        raise CorruptObjectError(oid, f"frame of {len(mv)} bytes is shorter than a header")
    magic, version, kind, codec, dcode, rid, rbase, dlen, plen, ndim = _HEAD.unpack_from(mv, 0)
    if magic != FRAME_MAGIC:
        raise CorruptObjectError(oid, "bad frame magic")
    if version != FRAME_VERSION:
        raise CorruptObjectError(oid, f"frame version {version} is not supported")
    if kind not in KIND_NAMES:
        raise CorruptObjectError(oid, f"unknown object kind {kind}")
    dtype = DTYPE_BY_CODE.get(dcode)
    if dtype is None:
        raise CorruptObjectError(oid, f"unknown dtype code {dcode}")
    if ndim > MAX_NDIM or dlen > MAX_DECODED:
        raise CorruptObjectError(oid, "frame header out of range")
    shape_end = HEADER_MIN + 8 * ndim
    if len(mv) != shape_end + plen + _TRAILER:
        raise CorruptObjectError(oid, f"frame is {len(mv)} bytes, header says {shape_end + plen + _TRAILER}")
    if xxhash.xxh3_64_digest(mv[: shape_end + plen]) != bytes(mv[shape_end + plen :]):
        raise CorruptObjectError(oid, "frame checksum mismatch")
    shape = struct.unpack_from(f"<{ndim}Q", mv, HEADER_MIN)
    if kind == KIND_TENSOR:
        n = 1
        for s in shape:
            n *= s
        if n * dtype.itemsize != dlen:
            raise CorruptObjectError(oid, "tensor shape does not match decoded length")
    elif dlen % dtype.itemsize:
        raise CorruptObjectError(oid, "decoded length is not a whole number of elements")
    object_id = bytes(rid).hex()
    if expect_id is not None and object_id != expect_id:
        raise CorruptObjectError(oid, f"frame holds object {object_id}")
    base_hex = bytes(rbase).hex()
    return Frame(kind, codec, dtype, object_id, None if base_hex == NULL_ID else base_hex,
                 dlen, tuple(shape), mv[shape_end : shape_end + plen])
