"""Encoding one object into a frame, and a frame back into bytes, verified.

Codec choice: every candidate codec that applies (delta codecs only when a
base is given) is tried on a sample of the tensor — the whole tensor when it
is small — and the smallest wins; only the winner encodes the full tensor.
When at most ``SPARSE_MAX`` of the sample changed and a sparse codec (tpde) is
a candidate, only the sparse codecs are tried: on the make_corpus bf16 series
(~19% changed) the dense trials took a third of the commit time and lost.
New codecs join by being named in the candidate list.

A codec that needs the tensor's shape (``needs_shape``: ``lowrank``) cannot be
judged on a sample of elements: it factors the whole matrix. It is tried only
for a dense delta (the sparse rule did not apply) of a 2-D float tensor with
both sides >= ``LOWRANK_MIN_SIDE``, and only when ``lowrank.explains`` finds,
on a few sampled rows, that a low-rank prediction matches the target on most
elements; then it encodes the whole tensor and is kept if smaller than the
sample winner's whole encoding. Full-rank updates (a training step) fail the
row check for the price of a small SVD, so they cost about what they did.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import zstandard

from ..codecs import Codec, codec_for_code, get_codec
from ..codecs.frame import KIND_BLOB, KIND_TENSOR, Frame, encode_frame, parse_frame
from ..errors import CorruptObjectError
from ..format import BYTES, DTYPES, DType
from ..ids import blob_id, tensor_id

FULL_TRIAL_BYTES = 1 << 20     # below this, every candidate encodes the whole tensor
SAMPLE_CHUNKS = 16
SAMPLE_CHUNK_ELEMS = 8192
SPARSE_MAX = 0.5               # changed fraction at or below which dense candidates are not tried
LOWRANK_MIN_SIDE = 16          # a shape-needing codec is tried on matrices at least this big each way


@dataclass(frozen=True)
class Encoded:
    frame: bytes
    codec: str
    base_id: str | None


def sample(bits: np.ndarray, base: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The elements codec choice is judged on: ``SAMPLE_CHUNKS`` runs spread over the tensor (and the base's)."""
    n = bits.size
    step = n // SAMPLE_CHUNKS
    idx = np.concatenate([np.arange(i * step, min(i * step + SAMPLE_CHUNK_ELEMS, n)) for i in range(SAMPLE_CHUNKS)])
    return bits[idx], (base[idx] if base is not None else None)


def _sparse(bits: np.ndarray, base: np.ndarray) -> bool:
    return bits.size > 0 and int(np.count_nonzero(bits != base)) <= SPARSE_MAX * bits.size


def encode_with(codec: Codec, bits: np.ndarray, dtype: DType, base: np.ndarray | None,
                shape: tuple[int, ...] | None) -> bytes:
    """``codec.encode`` with the base if it uses one and the shape if it needs one."""
    extra = {"shape": shape} if codec.needs_shape else {}
    return codec.encode(bits, dtype, base if codec.uses_base else None, **extra)


def choose_codec(bits: np.ndarray, dtype: DType, base: np.ndarray | None,
                 candidates: Sequence[Codec], shape: tuple[int, ...] | None = None
                 ) -> tuple[Codec, bytes | None]:
    """The candidate with the smallest encoding (only the sparse ones for a sparse delta; a
    shape-needing one under the rule above); its full payload if it was computed."""
    usable = [c for c in candidates if base is not None or not c.uses_base]
    if not usable:  # only delta codecs configured and no base: a tensor must still be storable
        usable = [get_codec("raw")]
    if len(usable) == 1:
        return usable[0], None
    full = bits.nbytes <= FULL_TRIAL_BYTES
    sb, sbase = (bits, base) if full else sample(bits, base)
    if sbase is not None and any(c.sparse for c in usable) and _sparse(sb, sbase):
        usable = [c for c in usable if c.sparse]
        if len(usable) == 1:
            return usable[0], None
    shaped = [c for c in usable if c.needs_shape]
    usable = [c for c in usable if not c.needs_shape] or usable
    best: tuple[int, Codec, bytes] | None = None
    for c in usable:
        payload = encode_with(c, sb, dtype, sbase, None if sb is not bits else shape)
        if best is None or len(payload) < best[0]:
            best = (len(payload), c, payload)
    assert best is not None
    tries = [c for c in shaped if c is not best[1] and _lowrank_worth_trying(c, bits, dtype, base, shape)]
    if not tries:
        return best[1], (best[2] if full else None)
    winner = (best[1], best[2] if full else encode_with(best[1], bits, dtype, base, shape))
    for c in tries:
        payload = c.encode(bits, dtype, base, shape=shape)
        if len(payload) < len(winner[1]):
            winner = (c, payload)
    return winner


def _lowrank_worth_trying(c: Codec, bits: np.ndarray, dtype: DType, base: np.ndarray | None,
                          shape: tuple[int, ...] | None) -> bool:
    if base is None or shape is None or len(shape) != 2 or min(shape) < LOWRANK_MIN_SIDE:
        return False
    explains = getattr(c, "explains", None)
    return explains is not None and bool(explains(bits, dtype, base, shape))


def encode_tensor(bits: np.ndarray, dtype: DType, shape: tuple[int, ...], oid: str,
                  base: tuple[str, np.ndarray] | None, candidates: Sequence[Codec]) -> Encoded:
    base_bits = base[1] if base is not None else None
    codec, payload = choose_codec(bits, dtype, base_bits, candidates, shape)
    if payload is None:
        payload = encode_with(codec, bits, dtype, base_bits, shape)
    base_id = base[0] if (base is not None and codec.uses_base) else None
    frame = encode_frame(kind=KIND_TENSOR, codec_code=codec.frame_code, dtype=dtype, object_id=oid,
                         base_id=base_id, decoded_len=bits.nbytes, shape=shape, payload=payload)
    return Encoded(frame, codec.codec_id, base_id)


def encode_blob(data: memoryview | bytes, oid: str, codec: Codec, kind: int = KIND_BLOB) -> Encoded:
    bits = np.frombuffer(data, dtype=np.uint8)
    payload = codec.encode(bits, BYTES, None)
    frame = encode_frame(kind=kind, codec_code=codec.frame_code, dtype=BYTES, object_id=oid,
                         base_id=None, decoded_len=bits.nbytes, shape=(), payload=payload)
    return Encoded(frame, codec.codec_id, None)


def decode_frame(frame: Frame, base: np.ndarray | None, *, verify: bool = True) -> np.ndarray:
    """Decode a parsed frame (given its base's bits, if it has one) and check its id."""
    oid = frame.object_id
    if (frame.base_id is None) != (base is None):
        raise CorruptObjectError(oid, "base given where none is named, or missing")
    try:
        codec = codec_for_code(frame.codec_code)
        if base is not None and base.size != frame.count:
            raise ValueError(f"base has {base.size} elements, object {frame.count}")
        bits = codec.decode(frame.payload, frame.dtype, frame.count, base)
        if bits.dtype != frame.dtype.bits or bits.size != frame.count:
            raise ValueError("codec returned the wrong number or width of elements")
    except (ValueError, IndexError, OverflowError, zstandard.ZstdError) as e:
        raise CorruptObjectError(oid, f"cannot decode: {e}") from e
    if verify:
        got = (tensor_id(frame.dtype.name, frame.shape, bits) if frame.kind == KIND_TENSOR
               else blob_id(bits))
        if got != oid:
            raise CorruptObjectError(oid, f"decoded bytes hash to {got}")
    return bits


def tensor_bits(data: memoryview, dtype: str) -> np.ndarray:
    return np.frombuffer(data, dtype=DTYPES[dtype].bits)


__all__ = ["Encoded", "choose_codec", "decode_frame", "encode_blob", "encode_tensor", "parse_frame", "sample",
           "tensor_bits"]
