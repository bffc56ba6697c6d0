"""Building blocks shared by codecs: byte planes, bit rotation, zstd'd streams.

Byte planes: an array of k-byte little-endian elements becomes k arrays, plane
i holding byte i of every element. The exponent bytes of a float then sit
together, apart from the noisy low mantissa bytes, and compress far better.
For floats the bits are first rotated left by one so the sign moves to bit 0
and the top byte of fp32/bf16 is the pure 8-bit exponent.

A *stream set* is how several byte strings share one payload::

    u8   count
    count × { u8 mode (0 stored, 1 zstd), u64 raw length, u64 coded length }
    the coded bytes, one after another

Every length is checked against the payload before any slice is taken.
"""
from __future__ import annotations

import struct
import threading
from collections.abc import Sequence

import numpy as np
import zstandard


MODE_STORED = 0
MODE_ZSTD = 1
_ENTRY = struct.Struct("<BQQ")
MAX_STREAMS = 64
_local = threading.local()


# Level 0 is ckv's profile for weight byte planes, not zstd's default level: the fast
# strategy with a minimum match of 7 bytes. Matches rarely pay on weights, and
# with short ones out of the way zstd's Huffman stage comes close to order-0
# entropy. Measured on a bf16 MiniLM checkpoint: exponent plane 7.91 MB vs 9.35 MB
# at level 3 (entropy bound 7.56 MB), XOR-delta planes 9.80x vs 9.07x, both at
# over twice level 3's speed. Only the encoder changes: frames decode the same.
WEIGHTS_PROFILE = 0
_PROFILE = zstandard.ZstdCompressionParameters(strategy=zstandard.STRATEGY_FAST, min_match=7, window_log=17,
                                               hash_log=12, search_log=1, write_content_size=True)


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache = getattr(_local, "c", None)
    if cache is None:
        cache = _local.c = {}
    c = cache.get(level)
    if c is None:
        c = cache[level] = (zstandard.ZstdCompressor(compression_params=_PROFILE) if level == WEIGHTS_PROFILE
                            else zstandard.ZstdCompressor(level=level, write_content_size=True))
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "d", None)
    if d is None:
        d = _local.d = zstandard.ZstdDecompressor()
    return d


def rotl1(bits: np.ndarray) -> np.ndarray:
    """Rotate each element left by one bit (sign bit to bit 0). Returns a new array."""
    w = bits.dtype.itemsize * 8
    return (bits << bits.dtype.type(1)) | (bits >> bits.dtype.type(w - 1))


def rotr1(bits: np.ndarray) -> np.ndarray:
    w = bits.dtype.itemsize * 8
    return (bits >> bits.dtype.type(1)) | (bits << bits.dtype.type(w - 1))


def split_planes(bits: np.ndarray) -> list[np.ndarray]:
    """k contiguous uint8 planes of a 1-D array of k-byte elements."""
    k = bits.dtype.itemsize
    if k == 1:
        return [np.ascontiguousarray(bits).view(np.uint8)]
    as_bytes = np.ascontiguousarray(bits).view(np.uint8).reshape(-1, k)
    return [np.ascontiguousarray(as_bytes[:, i]) for i in range(k)]


def join_planes(planes: Sequence[bytes | np.ndarray], dtype: np.dtype, count: int) -> np.ndarray:
    k = np.dtype(dtype).itemsize
    if len(planes) != k:
        raise ValueError(f"expected {k} byte planes, found {len(planes)}")
    arrays = [np.frombuffer(p, dtype=np.uint8) for p in planes]
    for i, arr in enumerate(arrays):  # before allocating: count comes from a header
        if arr.size != count:
            raise ValueError(f"plane {i} holds {arr.size} bytes, expected {count}")
    out = np.empty((count, k), dtype=np.uint8)
    for i, arr in enumerate(arrays):
        out[:, i] = arr
    return out.reshape(-1).view(dtype)


def pack_streams(streams: Sequence[bytes | np.ndarray | memoryview], level: int) -> bytes:
    """Compress each stream with zstd (kept stored where zstd does not help) into one stream set."""
    if len(streams) > MAX_STREAMS:
        raise ValueError("too many streams")
    heads, bodies = [], []
    for s in streams:
        raw = memoryview(s).cast("B") if not isinstance(s, np.ndarray) else memoryview(np.ascontiguousarray(s)).cast("B")
        n = raw.nbytes
        coded = _compressor(level).compress(raw) if n else b""
        if n and len(coded) < n:
            heads.append(_ENTRY.pack(MODE_ZSTD, n, len(coded)))
            bodies.append(coded)
        else:
            heads.append(_ENTRY.pack(MODE_STORED, n, n))
            bodies.append(bytes(raw))
    return b"".join([bytes([len(streams)]), *heads, *bodies])


def unpack_streams(payload: bytes | memoryview, expect: int | None = None, *,
                   sizes: Sequence[int] | None = None, max_raw: int | None = None) -> list[bytes]:
    """Inverse of :func:`pack_streams`; raises ValueError on anything malformed.

    ``sizes`` (the exact decoded length of each stream) or ``max_raw`` (a cap on
    any one) must come from the caller's own knowledge of the object, so a lying
    table can never make ckv allocate more than the object can hold.
    """
    mv = memoryview(payload).cast("B")
    if len(mv) < 1:
        raise ValueError("empty stream set")
    count = mv[0]
    if expect is not None and count != expect:
        raise ValueError(f"expected {expect} streams, found {count}")
    pos = 1
    if len(mv) < pos + count * _ENTRY.size:
        raise ValueError("stream table truncated")
    entries = [_ENTRY.unpack_from(mv, pos + i * _ENTRY.size) for i in range(count)]
    pos += count * _ENTRY.size
    if sizes is not None and [e[1] for e in entries] != list(sizes):
        raise ValueError("stream lengths disagree with the object's size")
    if max_raw is not None and any(e[1] > max_raw for e in entries):
        raise ValueError("a stream claims more bytes than the object can hold")
    out: list[bytes] = []
    for mode, raw_len, coded_len in entries:
        if pos + coded_len > len(mv):
            raise ValueError("stream data truncated")
        chunk = mv[pos : pos + coded_len]
        pos += coded_len
        if mode == MODE_STORED:
            if coded_len != raw_len:
                raise ValueError("stored stream length mismatch")
            out.append(bytes(chunk))
        elif mode == MODE_ZSTD:
            # zstandard allocates what the frame header claims, whatever max_output_size says
            try:
                declared = zstandard.frame_content_size(chunk)
            except zstandard.ZstdError as e:
                raise ValueError(f"zstd: {e}") from e
            if declared != raw_len:
                raise ValueError("zstd frame size disagrees with the stream table")
            try:
                data = _decompressor().decompress(chunk, max_output_size=raw_len)
            except zstandard.ZstdError as e:
                raise ValueError(f"zstd: {e}") from e
            if len(data) != raw_len:
                raise ValueError("zstd stream decoded to the wrong length")
            out.append(data)
        else:
            raise ValueError(f"unknown stream mode {mode}")
    if pos != len(mv):
        raise ValueError("trailing bytes after stream set")
    return out
