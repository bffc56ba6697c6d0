"""Numba kernels of the ``tpde`` codec, each with a plain reference twin.

Contract: every kernel ``name`` here has a twin ``np_name`` in plain
Python/numpy that returns identical results (tests/unit/test_kernels_twin.py
holds them equal). Sequential coders cannot be vectorised, so those twins are
plain loops over Python ints: slow, readable, and immune to numba's integer
typing surprises (uint64 op int64 -> float64), which is what the twin test
is there to catch.

Kernels never raise and never read or write out of bounds, whatever the
input: decoders return a negative error code (``ERR_*``) that the Python
wrapper turns into ValueError. Encoders assume well-formed input (the codec
builds it) and size their outputs from proven upper bounds.

Coders:

* Elias-delta gaps of changed positions, an MSB-first bitstream.
* A binary adaptive range coder (32-bit, carries added into the bytes already
  written, 12-bit probabilities kept in [31, 4065] by the shift-5 update, so
  a decision costs at most 7.05 bits and needs at most one renormalisation;
  branch-free where branches would follow the data) driving two models:
  - the change mask: one decision per element, context = base exponent byte,
    number of changes among the previous 16 elements, previous element. With
    ``blocks``, first one decision per block of 16 elements ("any changed?",
    context = the two previous blocks' answers), and element decisions only
    inside blocks that have a change: a tensor whose changes cluster (rows of
    an embedding) skips most of its decisions;
  - the ordered-integer difference of each changed element: its bit length L
    (a binary tree, context = base exponent byte and the previous L; with
    ``short``, first "L > 1?" and "L > 2?" in the same context, then the tree
    for L - 3: where most changes are one or two ulps, fewer decisions), the
    sign (context = base sign and L), the ``kmax`` bits below the leading one
    (context = L, two base mantissa bits, bits so far); lower bits verbatim
    into a raw LSB-first bitstream.
* Static rANS (``_rans``): for 1- and 2-byte elements, one symbol per changed
  element (bit length and sign; a frequency table per base exponent byte,
  chosen per tensor and stored with it), the bits below the leading one raw.
* The value kernels take the changed elements as ``sel``: their positions
  (int32/int64, increasing), or, with ``dense``, a 0/1 byte per element.
  Looping over positions beats testing every element where the CPU cannot
  predict the test (17% faster value decoding at 33% changed); where nearly
  every element changed (fp32 saves), walking the flags is cheaper than
  building positions. The mask decoder writes positions branch-free.

The value model's kernels are in ``_kernels_values`` and the rANS ones in ``_rans``
(both re-exported here).
docs/format.md ("Delta payloads") specifies every bit written here.
"""
from __future__ import annotations

import numba
import numpy as np

U64 = np.uint64  # annotations only: numba types arguments from the values passed

ERR_TRUNCATED = -1   # a stream ended early or has bytes left over
ERR_RANGE = -2       # a decoded value is out of range (position, gap, length)
ERR_COUNT = -3       # the number of changed elements disagrees with the header

PROB_BITS = 12
PROB_INIT = 1 << (PROB_BITS - 1)
RATE = 5
HIST = 16                       # mask context: changes among the previous HIST elements
MASK_CTX = 256 * (HIST + 1) * 2
PL_BUCKETS = 32                 # previous bit length, clamped
BLOCK = 16                      # mask blocks: elements per "any changed?" decision
BLOCK_CTX = 4                   # its context: the previous two blocks' answers

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U8 = np.uint64(8)
_UFF = np.uint64(0xFF)
_TOP = np.uint64(1 << 24)
_M32 = np.uint64(0xFFFFFFFF)
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_PTOT = np.uint64(1 << PROB_BITS)
_PBITS = np.uint64(PROB_BITS)
_RATE = np.uint64(RATE)


def tree_depth(w: int) -> int:
    """Bits of the L-1 tree: L ranges over 1..w and w is a power of two (8..64)."""
    return {8: 3, 16: 4, 32: 5, 64: 6}[w]


# ---------------------------------------------------------------- Elias-delta gaps


@numba.njit(inline="always")
def _bitlen(x: U64) -> int:
    n = 0
    if x >> np.uint64(32):
        x >>= np.uint64(32)
        n += 32
    if x >> np.uint64(16):
        x >>= np.uint64(16)
        n += 16
    if x >> _U8:
        x >>= _U8
        n += 8
    if x >> np.uint64(4):
        x >>= np.uint64(4)
        n += 4
    if x >> np.uint64(2):
        x >>= np.uint64(2)
        n += 2
    if x >> _U1:
        x >>= _U1
        n += 1
    return n + np.int64(x)


@numba.njit(inline="always")
def _put_msb(out: np.ndarray, o: int, acc: U64, nacc: int, v: U64, k: int) -> tuple[int, U64, int]:
    """Append the k <= 32 low bits of v, MSB first; whole bytes go out at once."""
    acc = (acc << np.uint64(k)) | v
    nacc += k
    while nacc >= 8:
        nacc -= 8
        out[o] = np.uint8((acc >> np.uint64(nacc)) & _UFF)
        o += 1
    return o, acc, nacc


@numba.njit(cache=True, nogil=True)
def elias_encode(positions: np.ndarray) -> np.ndarray:
    """Elias-delta code of the gaps p0+1, p1-p0, ... (strictly increasing positions)."""
    n = positions.size
    total = 0
    prev = -1
    for i in range(n):
        nb = _bitlen(np.uint64(positions[i] - prev))
        total += 2 * (_bitlen(np.uint64(nb)) - 1) + nb
        prev = positions[i]
    out = np.zeros((total + 7) // 8, np.uint8)
    acc = _U0
    nacc = 0
    o = 0
    prev = -1
    for i in range(n):
        g = np.uint64(positions[i] - prev)
        prev = positions[i]
        nb = _bitlen(g)
        ll = _bitlen(np.uint64(nb)) - 1
        # ll zeros, nb in ll+1 bits, then the nb-1 bits of g below its leading one.
        o, acc, nacc = _put_msb(out, o, acc, nacc, _U0, ll)
        o, acc, nacc = _put_msb(out, o, acc, nacc, np.uint64(nb), ll + 1)
        rest = nb - 1
        while rest > 0:
            k = min(rest, 32)
            rest -= k
            v = (g >> np.uint64(rest)) & ((_U1 << np.uint64(k)) - _U1)
            o, acc, nacc = _put_msb(out, o, acc, nacc, v, k)
    if nacc > 0:
        out[o] = np.uint8((acc << np.uint64(8 - nacc)) & _UFF)
    return out


@numba.njit(cache=True, nogil=True)
def elias_decode(buf: np.ndarray, nnz: int, count: int) -> tuple[np.ndarray, int]:
    """Positions from an Elias-delta gap stream; (positions, 0) or (partial, ERR_*)."""
    pos = np.empty(nnz, np.int64)
    nbits = buf.size * 8
    bit = 0  # next bit to read
    prev = -1
    for i in range(nnz):
        ll = 0
        while True:
            if bit >= nbits:
                return pos, ERR_TRUNCATED
            if (buf[bit >> 3] >> (7 - (bit & 7))) & 1:
                break
            ll += 1
            bit += 1
            if ll > 6:  # a length field above 64 bits
                return pos, ERR_RANGE
        if bit + ll + 1 > nbits:
            return pos, ERR_TRUNCATED
        nb = 0
        for _ in range(ll + 1):
            nb = (nb << 1) | ((buf[bit >> 3] >> (7 - (bit & 7))) & 1)
            bit += 1
        if nb > 63 or bit + nb - 1 > nbits:
            return pos, ERR_RANGE if nb > 63 else ERR_TRUNCATED
        g = 1
        for _ in range(nb - 1):
            g = (g << 1) | ((buf[bit >> 3] >> (7 - (bit & 7))) & 1)
            bit += 1
        if g > count - 1 - prev:
            return pos, ERR_RANGE
        prev += g
        pos[i] = prev
    if (bit + 7) // 8 != buf.size:
        return pos, ERR_TRUNCATED
    while bit < nbits:  # padding must be zero: one stream per position set
        if (buf[bit >> 3] >> (7 - (bit & 7))) & 1:
            return pos, ERR_RANGE
        bit += 1
    return pos, 0


# ---------------------------------------------------------------- range coder
# Encoder state (o, low, rng): bytes written, low end of the interval (32 bits; a carry out of
# it is added to the bytes already written), width. Decoder state (o, code, rng).


@numba.njit(inline="always")
def _enc(out: np.ndarray, o: int, low: U64, rng: U64, probs: np.ndarray, ci: int,
         bit: int) -> tuple[int, U64, U64]:
    # Branch-free wherever the branch would follow coded data: such branches mispredict.
    p = np.uint64(probs[ci])
    bound = (rng >> _PBITS) * p
    m = _U0 - np.uint64(bit)
    low += bound & m
    rng = bound ^ ((bound ^ (rng - bound)) & m)
    d0 = (_PTOT - p) >> _RATE
    d1 = p >> _RATE
    probs[ci] = np.uint16((p + d0 - ((d0 + d1) & m)) & np.uint64(0xFFFF))
    if low >> np.uint64(32):  # carry (rare): never runs past the first byte, the code stays < 1
        low &= _M32
        k = o - 1
        while k >= 0 and out[k] == 255:
            out[k] = 0
            k -= 1
        if k >= 0:
            out[k] += 1
    # At most one shift: rng >= 2**24 * 31 / 4096 after any decision. ``out`` has slack, so the
    # byte is stored whether or not it is kept.
    s = np.uint64(rng < _TOP)
    out[o] = np.uint8(low >> np.uint64(24))
    o += np.int64(s)
    sh = s << np.uint64(3)
    low = (low << sh) & _M32
    rng = rng << sh
    return o, low, rng


@numba.njit(inline="always")
def _flush(out: np.ndarray, o: int, low: U64) -> int:
    for k in range(4):
        out[o + k] = np.uint8((low >> np.uint64(24 - 8 * k)) & _UFF)
    return o + 4


@numba.njit(inline="always")
def _dec(buf: np.ndarray, last: int, o: int, code: U64, rng: U64, probs: np.ndarray,
         ci: int) -> tuple[int, U64, U64, int]:
    p = np.uint64(probs[ci])
    bound = (rng >> _PBITS) * p
    bit = np.int64(code >= bound)
    m = _U0 - np.uint64(bit)
    code -= bound & m
    rng = bound ^ ((bound ^ (rng - bound)) & m)
    d0 = (_PTOT - p) >> _RATE
    d1 = p >> _RATE
    probs[ci] = np.uint16((p + d0 - ((d0 + d1) & m)) & np.uint64(0xFFFF))
    s = np.uint64(rng < _TOP)
    sh = s << np.uint64(3)
    # ``buf`` ends in a zero byte at ``last``: reads past the end see zeros, and the caller
    # rejects a stream whose decoder did not stop exactly at its end.
    byte = np.uint64(buf[min(o, last)])
    code = ((code << sh) | (byte & (_U0 - s))) & _M32
    rng = rng << sh
    o += np.int64(s)
    return o, code, rng, bit


@numba.njit(inline="always")
def _dec_init(buf: np.ndarray) -> tuple[np.ndarray, int, int, U64]:
    """(zero-padded copy, index of its last byte, o, code)."""
    pad = np.zeros(buf.size + 8, np.uint8)
    pad[: buf.size] = buf
    code = _U0
    for k in range(4):
        code = (code << _U8) | np.uint64(pad[k])
    return pad, buf.size, 4, code


@numba.njit(inline="always")
def _exp_ctx(b: U64, w: int) -> int:
    """The 8 bits below the sign: the exponent byte of bf16/fp32, its top of fp64."""
    return np.int64(((b << _U1) >> np.uint64(w - 8)) & _UFF)


# ---------------------------------------------------------------- change mask model


@numba.njit(inline="always")
def _mask_ci(b: int, w: int, hist: int, cnt: int) -> int:
    return (_exp_ctx(np.uint64(b), w) * (HIST + 1) + cnt) * 2 + (hist & 1)


@numba.njit(inline="always")
def _hist_push(hist: int, cnt: int, bit: int) -> tuple[int, int]:
    cnt += bit - ((hist >> (HIST - 1)) & 1)
    hist = ((hist << 1) | bit) & ((1 << HIST) - 1)
    return hist, cnt


@numba.njit(cache=True, nogil=True)
def rc_encode_mask(data: np.ndarray, base: np.ndarray, w: int, blocks: bool) -> np.ndarray:
    """Range-code the change mask ``data != base`` (in blocks of ``BLOCK`` if ``blocks``)."""
    n = data.size
    probs = np.full(MASK_CTX, PROB_INIT, np.uint16)
    pblock = np.full(BLOCK_CTX, PROB_INIT, np.uint16)
    out = np.empty(n + n // BLOCK + 16, np.uint8)
    o, low, rng = 0, _U0, _M32
    hist, cnt, prev2 = 0, 0, 0
    step = BLOCK if blocks else n
    for start in range(0, n, max(step, 1)):
        end = min(start + step, n)
        if blocks:
            anyb = 0
            for i in range(start, end):
                anyb |= np.int64(data[i] != base[i])
            o, low, rng = _enc(out, o, low, rng, pblock, prev2, anyb)
            prev2 = ((prev2 << 1) | anyb) & 3
            if not anyb:
                hist, cnt = 0, 0  # a whole block of unchanged elements (only the last block is short)
                continue
        for i in range(start, end):
            bit = np.int64(data[i] != base[i])
            o, low, rng = _enc(out, o, low, rng, probs, _mask_ci(base[i], w, hist, cnt), bit)
            hist, cnt = _hist_push(hist, cnt, bit)
    return out[: _flush(out, o, low)]


@numba.njit(cache=True, nogil=True)
def rc_decode_mask(buf: np.ndarray, base: np.ndarray, w: int, blocks: bool,
                   pos: np.ndarray) -> tuple[np.ndarray, int]:
    """The positions of the changed elements; (positions, 0) or (…, ERR_*).

    ``pos`` is the caller's array of nnz + 1 zeros (int32 or int64: wide enough for base.size).
    Position k is stored at slot min(k, nnz), the last slot taking any excess, so the stores need
    no branch and garbage cannot write out of bounds; the first nnz slots are returned."""
    n = base.size
    nnz = pos.size - 1
    probs = np.full(MASK_CTX, PROB_INIT, np.uint16)
    pblock = np.full(BLOCK_CTX, PROB_INIT, np.uint16)
    pad, last, o, code = _dec_init(buf)
    rng = _M32
    hist, cnt, ones, prev2 = 0, 0, 0, 0
    step = BLOCK if blocks else n
    for start in range(0, n, max(step, 1)):
        end = min(start + step, n)
        if blocks:
            o, code, rng, anyb = _dec(pad, last, o, code, rng, pblock, prev2)
            prev2 = ((prev2 << 1) | anyb) & 3
            if not anyb:
                hist, cnt = 0, 0
                continue
        for i in range(start, end):
            o, code, rng, bit = _dec(pad, last, o, code, rng, probs, _mask_ci(base[i], w, hist, cnt))
            pos[min(ones, nnz)] = i
            ones += bit
            hist, cnt = _hist_push(hist, cnt, bit)
    if o != buf.size:
        return pos[:nnz], ERR_TRUNCATED
    return pos[:nnz], (0 if ones == nnz else ERR_COUNT)


# ---------------------------------------------------------------- lowrank prediction


@numba.njit(cache=True, nogil=True, fastmath=False)
def lowrank_predict(base: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``base + u @ v`` element by element, in a fixed order: the ``lowrank`` codec's prediction.

    ``base`` is the widened base (float32, or float64 for F64), 1-D of m*n; ``u`` (m, r) and
    ``v`` (r, n) are float32. For element (i, j): ``acc = +0.0``, then for k = 0..r-1
    ``acc = acc + u[i, k] * v[k, j]`` (a float32 product, then a float32 sum: fastmath off, so
    no fused multiply-add and no reassociation), then ``base[i*n + j] + acc`` in base's type.
    No BLAS: its summation order depends on the CPU and the thread count, and encoder and
    decoder must compute the same bits on any machine.
    """
    m, r = u.shape
    n = v.shape[1]
    out = np.empty(base.size, base.dtype)
    row = np.empty(n, np.float32)
    for i in range(m):
        row[:] = np.float32(0.0)
        for k in range(r):
            f = u[i, k]
            for j in range(n):
                row[j] = row[j] + f * v[k, j]
        for j in range(n):
            out[i * n + j] = base[i * n + j] + row[j]
    return out


@numba.njit(cache=True, nogil=True, fastmath=False)
def orthonormal_rows(a: np.ndarray, tol: float) -> np.ndarray:
    """An orthonormal basis (as rows, in order) of the span of ``a``'s rows (float64, l×n).

    Modified Gram-Schmidt, two passes; a row whose remainder is at most ``tol`` times its own norm
    (or zero) adds nothing. The ``lowrank`` encoder's factoring runs on this and on einsum rather
    than LAPACK: OpenBLAS threads stall for seconds on a busy machine, even on 40×40 problems.
    """
    l, n = a.shape
    q = np.empty((l, n), np.float64)
    v = np.empty(n, np.float64)
    k = 0
    for i in range(l):
        n0 = 0.0
        for t in range(n):
            v[t] = a[i, t]
            n0 += v[t] * v[t]
        for _ in range(2):
            for j in range(k):
                dot = 0.0
                for t in range(n):
                    dot += q[j, t] * v[t]
                for t in range(n):
                    v[t] -= dot * q[j, t]
        nv = 0.0
        for t in range(n):
            nv += v[t] * v[t]
        if nv > 0.0 and nv > tol * tol * n0:
            norm = np.sqrt(nv)
            for t in range(n):
                q[k, t] = v[t] / norm
            k += 1
    return q[:k].copy()


# The value model lives in _kernels_values, the reference twins in _kernels_ref (both imported
# last: they read the coder and the constants above).
from ._kernels_values import rc_decode_values, rc_encode_values  # noqa: E402,F401
from ._rans import rans_decode_values, rans_encode_values  # noqa: E402,F401
from ._kernels_ref import *  # noqa: E402,F401,F403
