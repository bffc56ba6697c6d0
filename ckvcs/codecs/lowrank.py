"""``lowrank``: a delta predicted by a low-rank update of the base, the rest coded by ``tpde``.

A fine-tune merged from a LoRA adapter moves every element of a weight matrix
(``W' = W + s·B@A``), so element-wise deltas cost ~22 bits an element; but
``W' - W`` is rank r (8, say). This codec stores float32 factors ``U`` (m×r)
and ``V`` (r×n) of that difference, predicts ``P = round(base + U@V)``, and
codes the target's bits against ``P``'s bits with ``tpde``: only the elements
the prediction misses, by how many ulps.

Exact, whatever the input: ``P`` is only a base for ``tpde``, whose decode
restores the target bit for bit. ``P`` must be the same bits on every machine,
so it is computed without BLAS by ``_kernels.lowrank_predict`` (a fixed order
of float32 products and sums, no fused multiply-add), and widening and
rounding are exact integer or IEEE-conversion steps (``widen``, ``narrow``).
A decoder computing a different ``P`` could not return a wrong tensor silently:
the frame's hash check catches it.

Rank 0 (no factors) means ``P = base``: used for dtypes and shapes the codec
does not predict (integers, fp8, anything not 2-D), so ``encode`` is total.

Payload (docs/format.md, "``lowrank`` (5)", has every bit)::

    u8  version     1
    u8  reserved    0
    u16 r           rank, <= min(m, n) and <= MAX_RANK; 0 for no factors
    u64 m, u64 n    matrix shape, m*n = element count
    r > 0 only:
    u64 length      of the factor stream set that follows
    stream set      8 byte planes: U's float32 bits (row-major), then V's
    the rest        a tpde payload of the target against P
"""
from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ..format import DType
from ._streams import join_planes, pack_streams, split_planes, unpack_streams
from .abc import ZstdCodec
from .registry import register
from .tpde import TpdeCodec

VERSION = 1
MAX_RANK = 1024
RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)   # tried in this order until the size stops shrinking
PREDICTED = ("F16", "BF16", "F32", "F64")              # dtypes with a prediction; others use rank 0
CHECK_ROWS = 32       # explains(): rows fitted, and as many other rows checked
EXPLAINS = 0.5        # explains(): the predicted fraction of mismatching elements must be below this
ITERATIONS = 6        # factor(): subspace iterations
BIG = 1e30           # differences above this (or not finite) are left to the residual: factors are float32
_HEAD = struct.Struct("<BBHQQ")
_LEN = struct.Struct("<Q")
_NAN32 = np.uint32(0x7FC00000)


def widen(bits: np.ndarray, dtype: DType) -> np.ndarray:
    """The exact float32 (float64 for F64) values of ``bits``; NaN payloads are kept."""
    if dtype.name == "BF16":
        return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
    if dtype.name == "F16":
        return bits.view(np.float16).astype(np.float32)
    return bits.view(np.float64 if dtype.name == "F64" else np.float32)


def narrow(s: np.ndarray, dtype: DType) -> np.ndarray:
    """``s`` (``widen``'s type) rounded to ``dtype``'s bits, nearest-even; every NaN becomes the one
    canonical quiet NaN (which NaN payload an addition returns is not specified by IEEE)."""
    nan = np.isnan(s)
    if dtype.name == "F64":
        return np.where(nan, np.float64(np.nan), s).view(np.uint64)
    x = np.where(nan, _NAN32, s.view(np.uint32))
    if dtype.name == "F32":
        return x
    if dtype.name == "F16":  # an IEEE conversion: exactly one correctly rounded result
        with np.errstate(over="ignore"):
            return x.view(np.float32).astype(np.float16).view(np.uint16)
    # BF16: round the low 16 bits away, ties to even; no carry can pass the top for a non-NaN
    rounded = (x + np.uint32(0x7FFF) + ((x >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return np.where(nan, np.uint32(0x7FC0), rounded).astype(np.uint16)


def predict(base: np.ndarray, dtype: DType, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """P's bits: ``narrow(widen(base) + u @ v)``, the same on every machine."""
    from ._kernels import lowrank_predict

    wide = np.ascontiguousarray(widen(base, dtype))
    wide.flags.writeable = False
    s = lowrank_predict(wide, _ro32(u), _ro32(v))
    return narrow(s, dtype)


def _ro32(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float32)
    a.flags.writeable = False
    return a


def difference(data: np.ndarray, base: np.ndarray, dtype: DType, shape: tuple[int, int]) -> np.ndarray:
    """``target - base`` as an m×n float64 matrix; entries that are not finite or above ``BIG`` are 0."""
    with np.errstate(over="ignore", invalid="ignore"):
        d = widen(data, dtype).astype(np.float64) - widen(base, dtype).astype(np.float64)
    d[~(np.abs(d) <= BIG)] = 0.0
    return d.reshape(shape)


def factor(d: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Factors of ``d``'s dominant rank-<=``k`` part: (U, m×k'; V, k'×n), float64, ``d ≈ U @ V``.

    Orthogonal (subspace) iteration on ``dᵀd`` from a seeded random start: ``V``'s rows are an
    orthonormal basis of the top right singular subspace, in roughly descending singular value
    (the order ``U``'s column norms then fix), so any prefix is a good smaller rank. Only the
    encoder runs this (the factors are stored), and it uses einsum and ``orthonormal_rows``, not
    BLAS/LAPACK, whose threads stall for seconds on a busy machine.
    """
    from ._kernels import orthonormal_rows

    m, n = d.shape
    q = np.random.default_rng(seed).standard_normal((min(k + 8, m, n), n))
    for _ in range(ITERATIONS):
        q = orthonormal_rows(np.einsum("ik,kj->ij", np.einsum("ij,kj->ik", q, d), d), 1e-10)
    v = q[:k]
    u = np.einsum("ij,kj->ik", d, v)
    order = np.argsort(-np.einsum("ij,ij->j", u, u), kind="stable")
    u, v = u[:, order], v[order]
    # one sign per pair (the largest entry of each V row positive), for a reproducible payload
    flip = np.where(v[np.arange(v.shape[0]), np.argmax(np.abs(v), axis=1)] < 0, -1.0, 1.0)
    return u * flip, v * flip[:, None]


def as_matrix(shape: tuple[int, ...] | None, count: int) -> tuple[int, int]:
    return (int(shape[0]), int(shape[1])) if shape is not None and len(shape) == 2 else (1, count)


@register
class LowRankCodec(ZstdCodec):
    codec_id = "lowrank"
    frame_code = 5
    uses_base = True
    needs_shape = True

    def __init__(self, level: int = 0, max_rank: int = 32) -> None:
        super().__init__(level)
        if not 0 <= max_rank <= MAX_RANK:
            raise ValueError(f"max_rank must be 0..{MAX_RANK}")
        self.max_rank = int(max_rank)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "level": self.level, "max_rank": self.max_rank}

    def predictable(self, dtype: DType, shape: tuple[int, ...] | None) -> bool:
        return dtype.name in PREDICTED and shape is not None and len(shape) == 2 and min(shape) >= 1

    def explains(self, data: np.ndarray, dtype: DType, base: np.ndarray, shape: tuple[int, ...]) -> bool:
        """Whether a low-rank prediction is likely to match the target on most elements, judged
        cheaply: project ``CHECK_ROWS`` sampled rows of the difference on the span of up to
        ``max_rank`` (and at most n/4) other sampled rows, and count the mismatches. A full-rank
        update leaves most of each row outside that span; a rank-r one (r <= the rows) nothing."""
        from ._kernels import orthonormal_rows

        if not self.predictable(dtype, shape) or self.max_rank == 0 or shape[0] < 2:
            return False
        m, n = int(shape[0]), int(shape[1])
        rows = np.unique(np.linspace(0, m - 1, min(m, 2 * CHECK_ROWS)).astype(np.int64))
        t = np.ascontiguousarray(data).reshape(m, n)[rows]
        b = np.ascontiguousarray(base).reshape(m, n)[rows]
        d = difference(t, b, dtype, t.shape)
        even, check = d[0::2], d[1::2]
        fit = even[np.unique(np.linspace(0, len(even) - 1, max(1, min(self.max_rank, n // 4))).astype(np.int64))]
        vt = orthonormal_rows(fit, 1e-10)
        wide = widen(b[1::2], dtype)
        approx = np.einsum("ik,kj->ij", np.einsum("ij,kj->ik", check, vt), vt)
        with np.errstate(over="ignore", invalid="ignore"):
            pred = narrow(wide + approx.astype(wide.dtype), dtype)
        return bool(np.count_nonzero(pred != t[1::2]) < EXPLAINS * pred.size)

    # -------------------------------------------------------------- encode

    def encode(self, data: np.ndarray, dtype: DType, base: np.ndarray | None = None, *,
               shape: tuple[int, ...] | None = None, ranks: tuple[int, ...] | None = None) -> bytes:
        """Try ranks in increasing order (``ranks``, else ``RANKS`` up to ``max_rank``, and the rank of
        the difference if lower) until two in a row do not shrink the payload; keep the smallest.
        Rank 0 where nothing is predicted."""
        if base is None or base.size != data.size:
            raise ValueError("lowrank needs a base of the same length")
        data, base = np.ascontiguousarray(data).reshape(-1), np.ascontiguousarray(base).reshape(-1)
        m, n = as_matrix(shape, data.size)
        if m * n != data.size:
            raise ValueError(f"lowrank: shape {shape} does not hold {data.size} elements")
        k = min(self.max_rank, m, n) if self.predictable(dtype, shape) else 0
        tried = [r for r in (ranks if ranks is not None else RANKS) if 0 < r <= k]
        if not tried:
            return self._payload(0, m, n, data, dtype, base, None, None)
        us, vt = factor(difference(data, base, dtype, (m, n)), max(tried))
        got = vt.shape[0]  # fewer than asked when the difference has lower rank
        best: bytes | None = None
        worse = 0
        for r in sorted({r for r in tried if r <= got} | ({got} if 0 < got < max(tried) else set())):
            u, v = us[:, :r].astype(np.float32), vt[:r].astype(np.float32)
            if not (np.isfinite(u).all() and np.isfinite(v).all()):
                break
            payload = self._payload(r, m, n, data, dtype, base, u, v)
            if best is None or len(payload) < len(best):
                best, worse = payload, 0
            else:
                worse += 1  # a rank below the update's explains little: allow one miss
                if worse == 2:
                    break
        return best if best is not None else self._payload(0, m, n, data, dtype, base, None, None)

    def _payload(self, r: int, m: int, n: int, data: np.ndarray, dtype: DType, base: np.ndarray,
                 u: np.ndarray | None, v: np.ndarray | None) -> bytes:
        head = _HEAD.pack(VERSION, 0, r, m, n)
        residual = TpdeCodec(level=self.level)
        if r == 0:
            return head + residual.encode(data, dtype, base)
        assert u is not None and v is not None
        factors = pack_streams(split_planes(u.reshape(-1).view(np.uint32))
                               + split_planes(v.reshape(-1).view(np.uint32)), self.level)
        pred = predict(base, dtype, u, v)
        return head + _LEN.pack(len(factors)) + factors + residual.encode(data, dtype, pred)

    # -------------------------------------------------------------- decode

    def decode(self, payload: bytes | memoryview, dtype: DType, count: int,
               base: np.ndarray | None = None) -> np.ndarray:
        if base is None or base.size != count:
            raise ValueError("lowrank needs a base of the decoded length")
        mv = memoryview(payload).cast("B")
        if len(mv) < _HEAD.size:
            raise ValueError("lowrank payload shorter than its header")
        version, reserved, r, m, n = _HEAD.unpack_from(mv, 0)
        if version != VERSION or reserved:
            raise ValueError(f"lowrank payload version {version} is not supported")
        if m * n != count:
            raise ValueError(f"lowrank shape {m}x{n} does not hold {count} elements")
        base = np.ascontiguousarray(base).reshape(-1).view(dtype.bits)
        at = _HEAD.size
        if r == 0:
            return TpdeCodec().decode(mv[at:], dtype, count, base)
        if r > min(m, n, MAX_RANK) or dtype.name not in PREDICTED:
            raise ValueError(f"lowrank rank {r} is out of range for {m}x{n} {dtype.name}")
        if len(mv) < at + _LEN.size:
            raise ValueError("lowrank payload truncated")
        (flen,) = _LEN.unpack_from(mv, at)
        at += _LEN.size
        if flen > len(mv) - at:
            raise ValueError("lowrank factor streams truncated")
        planes = unpack_streams(mv[at : at + flen], expect=8, sizes=[m * r] * 4 + [r * n] * 4)
        u = join_planes(planes[:4], np.dtype(np.uint32), m * r).view(np.float32).reshape(m, r)
        v = join_planes(planes[4:], np.dtype(np.uint32), r * n).view(np.float32).reshape(r, n)
        pred = predict(base, dtype, u, v)
        return TpdeCodec().decode(mv[at + flen :], dtype, count, pred)
