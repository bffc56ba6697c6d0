"""``tpde``: a sparse lossless delta against a base of the same dtype and length.

Only elements whose bit pattern differs from the base are stored: *where*
(positions) and *by how much* (values). Exact for every bit pattern: NaN
payloads, -0.0, Inf and integers all round-trip bit for bit, because every
step is a bijection on unsigned integer bit views and no float arithmetic is
done.

Values are ordered-integer differences. A float's sign-magnitude bits are
mapped to a monotone two's-complement integer (negative: flip the magnitude
bits, an involution, so -0.0 -> -1 and +0.0 -> 0 stay distinct and adjacent);
the stored value is ``ordered(new) - ordered(base)`` modulo 2**bits, so a
one-ulp move is +-1 whatever the exponent. Integer dtypes use the plain
modular difference.

Payload (docs/format.md, "Delta payloads", has every bit)::

    u8  position mode   0 gaps (Elias-delta), 1 bitmap, 2 model (range coded),
                        3 blocks (range coded, "any change?" per 16 elements first)
    u8  value mode      0 planes (zig-zag, byte planes), 1 model (range coded),
                        2 short (range coded, "one ulp? two or three?" before the length tree),
                        3 rans (a static rANS symbol a change; 1- and 2-byte elements only)
    u8  kmax            value model: bits below the leading one that are modelled
    u8  reserved        0
    u64 nnz             changed elements, <= count
    stream set (``_streams``): one position stream, then the value streams
                        (planes: itemsize planes; model, short: range-coded, raw bits;
                        rans: frequency table, rANS symbols, raw bits)

The encoder picks each mode per tensor (``"auto"``) or as configured: small
tensors try every mode and keep the smallest; large ones pick by counting
(blocks where at least 1/8 of the 16-element blocks did not change; short
lengths where, on a sample, they take fewer coder decisions than the tree —
the two modes cost about the same bits and differ in speed; rans for large bf16/fp16/fp8
tensors with at least 4096 changes, where it codes about the same bytes as the adaptive
model in half the time). Decoding
validates every count and offset and raises ValueError on garbage.
"""
from __future__ import annotations

import struct
from types import ModuleType
from typing import Any

import numpy as np
import zstandard

from ..format import DType
from ._streams import join_planes, pack_streams, split_planes, unpack_streams
from .abc import Codec
from .delta import apply_diff, ordered_diff, unzigzag, zigzag
from .registry import register

_HEAD = struct.Struct("<BBBBQ")
POS_GAPS, POS_BITMAP, POS_MODEL, POS_BLOCKS = 0, 1, 2, 3
VAL_PLANES, VAL_MODEL, VAL_SHORT, VAL_RANS = 0, 1, 2, 3
_POS_NAMES = {"gaps": POS_GAPS, "bitmap": POS_BITMAP, "model": POS_MODEL, "blocks": POS_BLOCKS}
_VAL_NAMES = {"planes": VAL_PLANES, "model": VAL_MODEL, "short": VAL_SHORT, "rans": VAL_RANS}
RANS_MAX_WIDTH = 16  # value mode rans takes elements of at most this many bits (the kernels' own)
RANS_MIN = 1 << 12   # "auto": large tensors use rans from this many changes (its table is ~2 KB)
BLOCK = 16         # elements per "any change?" decision of position mode blocks (the kernels' BLOCK)
SHORT_SAMPLE = 1 << 13  # elements the short-lengths rule looks at
KMAX_LIMIT = 10  # value model: at most this many bits below the leading one are modelled
SMALL = 1 << 16  # up to this many elements "auto" tries every mode and keeps the smallest


def _ro(a: np.ndarray) -> np.ndarray:
    """A read-only view: numba compiles one kernel per array type, so inputs are always read-only."""
    v = a.view()
    v.flags.writeable = False
    return v


def _kernels() -> ModuleType:
    """The numba kernels, imported on first use: importing numba costs a second, and commands
    that never encode or decode (``ckv log``) must not pay it."""
    from . import _kernels as kernels

    return kernels


def _check(err: int) -> None:
    if err < 0:
        K = _kernels()
        reason = {K.ERR_TRUNCATED: "stream truncated or overlong", K.ERR_RANGE: "value out of range",
                  K.ERR_COUNT: "changed-element count disagrees with the header"}.get(err, "bad payload")
        raise ValueError(f"tpde: {reason}")


@register
class TpdeCodec(Codec):
    codec_id = "tpde"
    frame_code = 3
    uses_base = True
    sparse = True

    def __init__(self, level: int = 3, positions: str = "auto", values: str = "auto", kmax: int = 3) -> None:
        if positions != "auto" and positions not in _POS_NAMES:
            raise ValueError(f"positions must be auto, {', '.join(_POS_NAMES)}")
        if values != "auto" and values not in _VAL_NAMES:
            raise ValueError(f"values must be auto, {', '.join(_VAL_NAMES)}")
        if not 0 <= kmax <= KMAX_LIMIT:
            raise ValueError(f"kmax must be 0..{KMAX_LIMIT}")
        self.level, self.positions, self.values, self.kmax = int(level), positions, values, int(kmax)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "level": self.level, "positions": self.positions,
                "values": self.values, "kmax": self.kmax}

    # -------------------------------------------------------------- encode

    def encode(self, data: np.ndarray, dtype: DType, base: np.ndarray | None = None) -> bytes:
        data, base = _operands(data, dtype, base, np.size(data))
        w = dtype.itemsize * 8
        mask = data != base
        nnz = int(np.count_nonzero(mask))
        pos_mode = _POS_NAMES.get(self.positions) if self.positions != "auto" else _auto_positions(mask, nnz)
        val_mode = (_VAL_NAMES.get(self.values) if self.values != "auto"
                    else _auto_values(data, base, dtype, nnz))
        if val_mode == VAL_RANS and not (_rans_fits(dtype) and nnz):
            val_mode = _auto_values(data, base, dtype, nnz)  # configured for a whole repo: the rest take "auto"
        pos_mode, pos_stream = self._positions(pos_mode, data, base, mask, nnz, w)
        val_mode, val_streams = self._values(val_mode, data, base, mask, nnz, dtype)
        head = _HEAD.pack(pos_mode, val_mode, self.kmax, 0, nnz)
        return head + pack_streams([pos_stream, *val_streams], self.level)

    def _positions(self, mode: int | None, data: np.ndarray, base: np.ndarray, mask: np.ndarray, nnz: int,
                   w: int) -> tuple[int, np.ndarray]:
        """(mode, stream); mode None: the smallest candidate."""
        n, K = data.size, _kernels()
        cands = []
        # Large sparse tensors try gaps against the one range-coded mode that counting prefers.
        model = _mask_model(mask) if mode is None and n > SMALL else None
        if mode == POS_MODEL or (mode is None and model in (None, POS_MODEL)):
            cands.append((POS_MODEL, K.rc_encode_mask(data, base, w, False)))
        if mode == POS_BLOCKS or (mode is None and model in (None, POS_BLOCKS)):
            cands.append((POS_BLOCKS, K.rc_encode_mask(data, base, w, True)))
        if mode == POS_GAPS or (mode is None and nnz * 16 <= n):
            cands.append((POS_GAPS, K.elias_encode(_ro(np.flatnonzero(mask)))))
        if mode == POS_BITMAP or (mode is None and n <= SMALL):
            cands.append((POS_BITMAP, np.packbits(mask)))
        if len(cands) > 1:
            # Small tensors: compare what is stored. Large sparse ones: the range-coded mask does
            # not shrink under zstd and gap codes barely do, so raw sizes decide.
            size = (lambda c: len(pack_streams([c[1]], self.level))) if n <= SMALL else (lambda c: c[1].size)
            cands.sort(key=size)
        return cands[0]

    def _values(self, mode: int | None, data: np.ndarray, base: np.ndarray, mask: np.ndarray, nnz: int,
                dtype: DType) -> tuple[int, list[np.ndarray]]:
        cands = []
        if mode in (None, VAL_MODEL, VAL_SHORT, VAL_RANS):
            dense = _dense(nnz, data.size, dtype.itemsize)
            sel = _ro(mask.view(np.uint8) if dense else positions_of(mask, nnz))
        for m, short in ((VAL_MODEL, False), (VAL_SHORT, True)):
            if mode in (None, m):
                rc, raw = _kernels().rc_encode_values(data, base, sel, dense, dtype.itemsize * 8, dtype.is_float,
                                                      self.kmax, short)
                cands.append((m, [rc, raw]))
        if (mode == VAL_RANS or (mode is None and nnz)) and _rans_fits(dtype):
            assert not dense  # positions: _dense is false for 1- and 2-byte elements
            cands.append((VAL_RANS, list(_kernels().rans_encode_values(data, base, sel, dtype.itemsize * 8,
                                                                       dtype.is_float))))
        if mode in (None, VAL_PLANES):
            dv = ordered_diff(data[mask], base[mask], dtype.is_float)
            cands.append((VAL_PLANES, split_planes(zigzag(dv))))
        if len(cands) > 1:
            cands.sort(key=lambda c: len(pack_streams(c[1], self.level)))
        return cands[0]

    # -------------------------------------------------------------- decode

    def decode(self, payload: bytes | memoryview, dtype: DType, count: int,
               base: np.ndarray | None = None) -> np.ndarray:
        _, base = _operands(None, dtype, base, count)
        mv = memoryview(payload).cast("B")
        if len(mv) < _HEAD.size:
            raise ValueError("tpde payload shorter than its header")
        pos_mode, val_mode, kmax, reserved, nnz = _HEAD.unpack_from(mv, 0)
        if pos_mode > POS_BLOCKS or val_mode > VAL_RANS or kmax > KMAX_LIMIT or reserved:
            raise ValueError("tpde header has an unknown mode")
        if val_mode == VAL_RANS and not _rans_fits(dtype):
            raise ValueError(f"tpde value mode rans on {dtype.itemsize}-byte elements")
        if nnz > count:
            raise ValueError(f"tpde header claims {nnz} changes in {count} elements")
        n_val = {VAL_PLANES: dtype.itemsize, VAL_RANS: 3}.get(val_mode, 2)
        # No stream of a valid payload is longer than this (range coder: <= 1 byte a decision, a mask
        # makes at most count + count/16 of them; raw bits and gap codes: <= 8 and 10 bytes a change),
        # so a lying table cannot allocate more.
        per_change = max(10, 3 + _tree_depth(dtype) + KMAX_LIMIT)
        # (and a rans table: 2 bytes, then 1 + 4 * (w + 1) a context, at most one context a change)
        table = 2 + min(nnz, 256) * (1 + 4 * (dtype.itemsize * 8 + 1)) if val_mode == VAL_RANS else 0
        cap = max(count + count // BLOCK + 1, nnz * per_change, table) + 16
        try:
            raw_streams = unpack_streams(mv[_HEAD.size :], expect=1 + n_val, max_raw=cap)
        except zstandard.ZstdError as e:  # a garbled zstd frame header; the contract is ValueError
            raise ValueError(f"tpde: {e}") from e
        streams = [np.frombuffer(s, np.uint8) for s in raw_streams]
        w, is_float = dtype.itemsize * 8, dtype.is_float
        sel, dense = _decode_positions(pos_mode, streams[0], base, nnz, w)
        if val_mode == VAL_RANS:
            assert not dense  # positions: _dense is false for 1- and 2-byte elements
            out, err = _kernels().rans_decode_values(base, _ro(sel), *streams[1:], w, is_float)
            _check(err)
            return out
        if val_mode != VAL_PLANES:
            out, err = _kernels().rc_decode_values(base, _ro(sel), dense, streams[1], streams[2], w, is_float, kmax,
                                                   val_mode == VAL_SHORT)
            _check(err)
            return out
        z = join_planes([bytes(v) for v in streams[1:]], dtype.bits, nnz)
        if np.any(z == 0):
            raise ValueError("tpde: a changed element with a zero difference")
        index = sel.view(bool) if dense else sel
        out = base.copy()
        out[index] = apply_diff(base[index], unzigzag(z), is_float)
        return out


def _auto_positions(mask: np.ndarray, nnz: int) -> int | None:
    """The position mode to use without measuring, or None to try the candidates."""
    n = mask.size
    if nnz == 0:
        return POS_GAPS  # an empty stream
    if n - nnz <= n // 64:
        return POS_BITMAP  # (nearly) everything changed: the bitmap is all ones, ~free after zstd
    if n <= SMALL or nnz * 16 <= n:
        return None  # small tensors: stream overheads matter; sparse ones: gaps may win
    return _mask_model(mask)


def _mask_model(mask: np.ndarray) -> int:
    """Blocks where at least 1/8 of the 16-element blocks have no change: each such block is one
    decision instead of 16, and a block with a change costs one more. Else the plain mask model."""
    nb = mask.size // BLOCK
    if nb == 0:
        return POS_MODEL
    words = np.ascontiguousarray(mask[: nb * BLOCK]).view(np.uint64)  # 8 flags a word, BLOCK = 16: 2 words
    busy = int(np.count_nonzero(words[0::2] | words[1::2]))
    return POS_BLOCKS if (nb - busy) * 8 >= nb else POS_MODEL


def _auto_values(data: np.ndarray, base: np.ndarray, dtype: DType, nnz: int) -> int | None:
    if nnz == 0:
        return VAL_PLANES  # empty streams
    if data.size <= SMALL:
        return None
    if not dtype.is_float:
        return VAL_PLANES
    if _rans_fits(dtype) and nnz >= RANS_MIN:
        return VAL_RANS
    return VAL_SHORT if _short_pays(data, base, dtype) else VAL_MODEL


def _short_pays(data: np.ndarray, base: np.ndarray, dtype: DType) -> bool:
    """Whether short lengths take fewer coder decisions than the plain length tree, judged on
    every k-th element: 1 decision for L = 1, 2 for L = 2, 2 + D for longer, against D always."""
    step = max(1, data.size // SHORT_SAMPLE)
    ds, bs = data[::step], base[::step]
    changed = ds != bs
    k = int(np.count_nonzero(changed))
    if k == 0:
        return False
    z = zigzag(ordered_diff(ds[changed], bs[changed], dtype.is_float))  # |d| = 1: z <= 2; |d| = 2, 3: z <= 6
    p1 = int(np.count_nonzero(z <= 2)) / k
    p2 = int(np.count_nonzero(z <= 6)) / k - p1
    depth = _tree_depth(dtype)
    return p1 + 2 * p2 + (2 + depth) * (1 - p1 - p2) < depth


def _tree_depth(dtype: DType) -> int:
    """Decisions of the length tree: log2 of the element width (the kernels' ``tree_depth``, here
    without importing numba)."""
    return (8 * dtype.itemsize).bit_length() - 1


def _rans_fits(dtype: DType) -> bool:
    return dtype.itemsize * 8 <= RANS_MAX_WIDTH


def _dense(nnz: int, count: int, itemsize: int) -> bool:
    """Whether the value kernels walk a flag per element rather than a list of positions: where at
    least 3/4 changed, the flags' test is predictable and building positions would cost more.
    Elements of 4 and 8 bytes only (fp32 saves change nearly everywhere): large 1- and 2-byte
    tensors with that many changes take rans, which reads positions, so flags there would only
    add compiled kernels (3-4 s each on a cold cache) for small tensors."""
    return itemsize >= 4 and nnz * 4 >= count * 3


def _decode_positions(mode: int, stream: np.ndarray, base: np.ndarray, nnz: int,
                      w: int) -> tuple[np.ndarray, bool]:
    """The changed elements, as ``(sel, dense)`` for the value kernels: their ``nnz`` positions
    (increasing, in range), or (bitmap mode) a 0/1 flag per element; ValueError on anything else."""
    count, K = base.size, _kernels()
    if mode == POS_GAPS:
        positions, err = K.elias_decode(stream, nnz, count)
        _check(err)  # positions are increasing and in range
        return positions.astype(_index_type(count), copy=False), False  # one index type: fewer compiled kernels
    if mode == POS_BITMAP:
        if stream.size != (count + 7) // 8:
            raise ValueError("tpde bitmap has the wrong length")
        bits = np.unpackbits(stream)
        if bits[count:].any():
            raise ValueError("tpde bitmap has bits set past the end")
        flags = bits[:count]
        if int(np.count_nonzero(flags)) != nnz:
            raise ValueError("tpde bitmap disagrees with the changed-element count")
        if _dense(nnz, count, base.itemsize):
            return flags, True
        return positions_of(flags, nnz), False
    positions, err = K.rc_decode_mask(stream, base, w, mode == POS_BLOCKS, np.zeros(nnz + 1, _index_type(count)))
    _check(err)
    return positions, False


INDEX_CHUNK = 1 << 20


def _index_type(count: int) -> type:
    return np.int32 if count <= np.iinfo(np.int32).max else np.int64


def positions_of(flags: np.ndarray, nnz: int) -> np.ndarray:
    """The indices of the ``nnz`` nonzero entries of ``flags``, increasing: int32 where they fit,
    found a chunk at a time, so a dense delta of n elements needs 4n bytes for them, not 8n."""
    out = np.empty(nnz, _index_type(flags.size))
    k = 0
    for start in range(0, flags.size, INDEX_CHUNK):
        part = np.flatnonzero(flags[start : start + INDEX_CHUNK])
        out[k : k + part.size] = part + start
        k += part.size
    return out


def _operands(data: np.ndarray | None, dtype: DType, base: np.ndarray | None,
              count: int) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous 1-D ``dtype.bits`` views of data and base; ValueError if they do not fit."""
    if base is None:
        raise ValueError("tpde needs a base")
    bits = dtype.bits
    base = np.ascontiguousarray(base).reshape(-1)
    if base.dtype.itemsize != bits.itemsize or base.size != count:
        raise ValueError(f"tpde base must be {count} elements of {bits}")
    base = _ro(base.view(bits))
    if data is None:
        return base, base
    data = np.ascontiguousarray(data).reshape(-1)
    if data.dtype.itemsize != bits.itemsize:
        raise ValueError(f"tpde data must be {bits}")
    return _ro(data.view(bits)), base
