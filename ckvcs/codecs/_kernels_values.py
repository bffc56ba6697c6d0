"""The ``tpde`` value model's kernels: the ordered-integer difference of each changed element,
range coded (bit length, sign, top mantissa bits) with its low bits in a raw bitstream.

Part of :mod:`ckvcs.codecs._kernels` (which re-exports the public kernels, and whose docstring
gives the coders' contract); kept apart so each module stays readable. docs/format.md ("Value
streams") specifies every bit written here.
"""
from __future__ import annotations

import numba
import numpy as np

from ._kernels import (_M32, _M64, _U0, _U1, _UFF, ERR_RANGE, ERR_TRUNCATED, PL_BUCKETS, PROB_INIT, U64, _bitlen,
                       _dec, _dec_init, _enc, _exp_ctx, _flush)


@numba.njit(inline="always")
def _ordered(v: U64, w: int, is_float: bool) -> U64:
    """Sign-magnitude -> monotone two's complement (negative: flip the magnitude); an involution."""
    if not is_float:
        return v
    m = (_U0 - (v >> np.uint64(w - 1))) & (_M64 >> np.uint64(65 - w))
    return v ^ m


@numba.njit(inline="always")
def _split_diff(x: U64, b: U64, w: int, is_float: bool) -> tuple[U64, U64, int]:
    """(neg, mag, L) of the ordered difference of x against its base b: sign bit, magnitude
    (1 <= mag <= 2**(w-1) for x != b) and its bit length."""
    wmask = _M64 >> np.uint64(64 - w)
    d = (_ordered(x, w, is_float) - _ordered(b, w, is_float)) & wmask
    neg = (d >> np.uint64(w - 1)) & _U1
    m = _U0 - neg
    mag = ((d ^ m) - m) & wmask
    return neg, mag, _bitlen(mag)


@numba.njit(inline="always")
def _join_diff(b: U64, neg: U64, mag: U64, w: int, is_float: bool) -> U64:
    """The element whose :func:`_split_diff` against b gives (neg, mag): its inverse."""
    wmask = _M64 >> np.uint64(64 - w)
    m = _U0 - neg
    d = ((mag ^ m) - m) & wmask
    return _ordered((_ordered(b, w, is_float) + d) & wmask, w, is_float)


@numba.njit(inline="always")
def _value_tables(w: int, kmax: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    depth = 3 if w == 8 else (4 if w == 16 else (5 if w == 32 else 6))
    ptree = np.full((256 * PL_BUCKETS) << depth, PROB_INIT, np.uint16)
    pesc = np.full(256 * PL_BUCKETS * 2, PROB_INIT, np.uint16)
    psign = np.full(2 * 65, PROB_INIT, np.uint16)
    pman = np.full((65 * 4) << kmax, PROB_INIT, np.uint16)
    return depth, ptree, pesc, psign, pman


@numba.njit(inline="always")
def _val_ctx(b: U64, w: int) -> tuple[int, int, int]:
    s = np.int64(b >> np.uint64(w - 1))
    mt = np.int64(((b << np.uint64(9)) >> np.uint64(w - 2)) & np.uint64(3)) if w > 8 else 0
    return _exp_ctx(b, w), s, mt


@numba.njit(inline="always")
def _put_lsb(raw: np.ndarray, r: int, acc: U64, nacc: int, v: U64, t: int) -> tuple[int, U64, int]:
    """Append the t <= 32 low bits of v, LSB first. Branch-free: 5 bytes stored, whole ones kept."""
    acc |= (v & ((_U1 << np.uint64(t)) - _U1)) << np.uint64(nacc)
    nacc += t
    for q in range(5):
        raw[r + q] = np.uint8((acc >> np.uint64(8 * q)) & _UFF)
    nb = nacc >> 3
    r += nb
    acc >>= np.uint64(8 * nb)
    nacc &= 7
    return r, acc, nacc


@numba.njit(inline="always")
def _get_lsb(raw: np.ndarray, last: int, r: int, acc: U64, nacc: int,
             t: int) -> tuple[int, U64, int, U64]:
    """Take t <= 32 bits, LSB first; refills branch-free to >= 56 buffered bits (zeros past the end)."""
    k = min(r, last)
    word = _U0
    for q in range(8):
        word |= np.uint64(raw[k + q]) << np.uint64(8 * q)
    acc |= word << np.uint64(nacc)
    r += (63 - nacc) >> 3
    nacc |= 56
    v = acc & ((_U1 << np.uint64(t)) - _U1)
    acc >>= np.uint64(t)
    nacc -= t
    return r, acc, nacc, v


@numba.njit(inline="always")
def _enc_value(out: np.ndarray, o: int, low: U64, rng: U64, raw: np.ndarray, r: int, acc: U64, nacc: int,
               ptree: np.ndarray, pesc: np.ndarray, psign: np.ndarray, pman: np.ndarray, x: U64, b: U64, pl: int,
               w: int, is_float: bool, depth: int, kmax: int,
               short: bool) -> tuple[int, U64, U64, int, U64, int, int]:
    neg, mag, L = _split_diff(x, b, w, is_float)
    e, s, mt = _val_ctx(b, w)
    ctx = e * PL_BUCKETS + min(pl, PL_BUCKETS - 1)
    tree = True
    first = 1  # the smallest L the tree codes
    if short:
        o, low, rng = _enc(out, o, low, rng, pesc, ctx * 2, np.int64(L > 1))
        if L > 1:
            o, low, rng = _enc(out, o, low, rng, pesc, ctx * 2 + 1, np.int64(L > 2))
        tree = L > 2
        first = 3
    if tree:
        row = ctx << depth
        node = 1
        for j in range(depth - 1, -1, -1):
            bit = ((L - first) >> j) & 1
            o, low, rng = _enc(out, o, low, rng, ptree, row + node, bit)
            node = node * 2 + bit
    o, low, rng = _enc(out, o, low, rng, psign, s * 65 + L, np.int64(neg))
    k = min(L - 1, kmax)
    row = (L * 4 + mt) << kmax
    node = 1
    for j in range(1, k + 1):
        bit = np.int64((mag >> np.uint64(L - 1 - j)) & _U1)
        o, low, rng = _enc(out, o, low, rng, pman, row + node, bit)
        node = node * 2 + bit
    rest = L - 1 - k  # the low bits verbatim
    if rest > 0:
        r, acc, nacc = _put_lsb(raw, r, acc, nacc, mag, min(rest, 32))
    if rest > 32:
        r, acc, nacc = _put_lsb(raw, r, acc, nacc, mag >> np.uint64(32), rest - 32)
    return o, low, rng, r, acc, nacc, L


@numba.njit(inline="always")
def _dec_value(buf: np.ndarray, last: int, o: int, code: U64, rng: U64, raw: np.ndarray, rlast: int, r: int,
               acc: U64, nacc: int, ptree: np.ndarray, pesc: np.ndarray, psign: np.ndarray, pman: np.ndarray,
               b: U64, pl: int, w: int, is_float: bool, depth: int, kmax: int,
               short: bool) -> tuple[int, U64, U64, int, U64, int, U64, int]:
    """... and L, or L = 0 for a length above w (garbage: the caller stops)."""
    e, s, mt = _val_ctx(b, w)
    ctx = e * PL_BUCKETS + min(pl, PL_BUCKETS - 1)
    L = 0
    if short:
        o, code, rng, bit = _dec(buf, last, o, code, rng, pesc, ctx * 2)
        L = 1
        if bit:
            o, code, rng, bit = _dec(buf, last, o, code, rng, pesc, ctx * 2 + 1)
            L = 2
            if bit:
                L = 0
    if L == 0:
        row = ctx << depth
        node = 1
        for _ in range(depth):
            o, code, rng, bit = _dec(buf, last, o, code, rng, ptree, row + node)
            node = node * 2 + bit
        L = node - (1 << depth) + (3 if short else 1)  # 1..w, or 3..w+2 after the short prefix
        if L > w:
            return o, code, rng, r, acc, nacc, b, 0
    o, code, rng, neg = _dec(buf, last, o, code, rng, psign, s * 65 + L)
    k = min(L - 1, kmax)
    row = (L * 4 + mt) << kmax
    node = 1
    for _ in range(k):
        o, code, rng, bit = _dec(buf, last, o, code, rng, pman, row + node)
        node = node * 2 + bit
    rest = L - 1 - k
    low = _U0
    if rest > 0:
        r, acc, nacc, low = _get_lsb(raw, rlast, r, acc, nacc, min(rest, 32))
    if rest > 32:
        r, acc, nacc, hi = _get_lsb(raw, rlast, r, acc, nacc, rest - 32)
        low |= hi << np.uint64(32)
    mag = (np.uint64(node) << np.uint64(rest)) | low
    return o, code, rng, r, acc, nacc, _join_diff(b, np.uint64(neg), mag, w, is_float), L


@numba.njit(inline="always")
def _raw_pad(raw: np.ndarray) -> tuple[np.ndarray, int]:
    pad = np.zeros(raw.size + 16, np.uint8)
    pad[: raw.size] = raw
    return pad, raw.size


@numba.njit(inline="always")
def _raw_done(raw: np.ndarray, r: int, nacc: int) -> bool:
    """Exactly the bytes of ``raw`` consumed, the unused bits of the last one zero."""
    used = r * 8 - nacc
    if (used + 7) // 8 != raw.size:
        return False
    return used % 8 == 0 or (raw[used // 8] >> (used % 8)) == 0


@numba.njit(inline="always")
def _value_buffers(nnz: int, depth: int, kmax: int) -> tuple[np.ndarray, np.ndarray]:
    # A decision costs at most 7.05 bits, so one byte per decision (at most 2 + depth + 1 + kmax of
    # them a change) bounds the coded size; 8 slack bytes cover the branch-free stores.
    return np.empty(nnz * (depth + 3 + kmax) + 16, np.uint8), np.empty(nnz * 8 + 16, np.uint8)


def rc_encode_values(data: np.ndarray, base: np.ndarray, sel: np.ndarray, dense: bool, w: int, is_float: bool,
                     kmax: int, short: bool) -> tuple[np.ndarray, np.ndarray]:
    """Range-code the differences of the changed elements, in order: every element at a position
    in ``sel``, or with ``dense`` every element whose flag in ``sel`` is set (all the changed ones).

    ``short`` picks one of two compiled kernels: as a constant it takes its branches out of the
    per-change path (a run-time flag there cost 13% of fp32 decoding)."""
    kernel = _encode_values_short if short else _encode_values_tree
    return kernel(data, base, sel, dense, w, is_float, kmax)


@numba.njit(cache=True, nogil=True)
def _encode_values_tree(data: np.ndarray, base: np.ndarray, sel: np.ndarray, dense: bool, w: int, is_float: bool,
                        kmax: int) -> tuple[np.ndarray, np.ndarray]:
    return _encode_values(data, base, sel, dense, w, is_float, kmax, False)


@numba.njit(cache=True, nogil=True)
def _encode_values_short(data: np.ndarray, base: np.ndarray, sel: np.ndarray, dense: bool, w: int, is_float: bool,
                         kmax: int) -> tuple[np.ndarray, np.ndarray]:
    return _encode_values(data, base, sel, dense, w, is_float, kmax, True)


@numba.njit(inline="always")
def _encode_values(data: np.ndarray, base: np.ndarray, sel: np.ndarray, dense: bool, w: int, is_float: bool,
                   kmax: int, short: bool) -> tuple[np.ndarray, np.ndarray]:
    nnz = 0
    if dense:
        for i in range(sel.size):
            nnz += sel[i] != 0
    else:
        nnz = sel.size
    depth, ptree, pesc, psign, pman = _value_tables(w, kmax)
    out, raw = _value_buffers(nnz, depth, kmax)
    o, low, rng = 0, _U0, _M32
    r, acc, nacc, pl = 0, _U0, 0, 0
    for j in range(sel.size):  # dense: one flag per element; else: the nnz positions
        if dense:
            if sel[j] == 0:
                continue
            i = j
        else:
            i = sel[j]
        o, low, rng, r, acc, nacc, pl = _enc_value(
            out, o, low, rng, raw, r, acc, nacc, ptree, pesc, psign, pman,
            np.uint64(data[i]), np.uint64(base[i]), pl, w, is_float, depth, kmax, short)
    return out[: _flush(out, o, low)], raw[: r + (nacc > 0)]


def rc_decode_values(base: np.ndarray, sel: np.ndarray, dense: bool, buf: np.ndarray, raw: np.ndarray, w: int,
                     is_float: bool, kmax: int, short: bool) -> tuple[np.ndarray, int]:
    """Base with the coded differences applied to the changed elements (``sel`` as for
    :func:`rc_encode_values`); (out, 0 or ERR_*). A position outside the tensor, or flags not one
    per element, is ERR_RANGE (the decoders that make them never produce such)."""
    kernel = _decode_values_short if short else _decode_values_tree
    return kernel(base, sel, dense, buf, raw, w, is_float, kmax)


@numba.njit(cache=True, nogil=True)
def _decode_values_tree(base: np.ndarray, sel: np.ndarray, dense: bool, buf: np.ndarray, raw: np.ndarray, w: int,
                        is_float: bool, kmax: int) -> tuple[np.ndarray, int]:
    return _decode_values(base, sel, dense, buf, raw, w, is_float, kmax, False)


@numba.njit(cache=True, nogil=True)
def _decode_values_short(base: np.ndarray, sel: np.ndarray, dense: bool, buf: np.ndarray, raw: np.ndarray, w: int,
                         is_float: bool, kmax: int) -> tuple[np.ndarray, int]:
    return _decode_values(base, sel, dense, buf, raw, w, is_float, kmax, True)


@numba.njit(inline="always")
def _decode_values(base: np.ndarray, sel: np.ndarray, dense: bool, buf: np.ndarray, raw: np.ndarray, w: int,
                   is_float: bool, kmax: int, short: bool) -> tuple[np.ndarray, int]:
    res = base.copy()  # unchanged elements; on an error, what was decoded so far and the base after it
    depth, ptree, pesc, psign, pman = _value_tables(w, kmax)
    pad, last, o, code = _dec_init(buf)
    rpad, rlast = _raw_pad(raw)
    rng = _M32
    r, acc, nacc, pl = 0, _U0, 0, 0
    n = base.size
    if dense and sel.size != n:
        return res, ERR_RANGE
    for j in range(sel.size):
        if dense:
            if sel[j] == 0:
                continue
            i = j
        else:
            i = sel[j]
            if i < 0 or i >= n:
                return res, ERR_RANGE
        o, code, rng, r, acc, nacc, y, pl = _dec_value(
            pad, last, o, code, rng, rpad, rlast, r, acc, nacc, ptree, pesc, psign, pman,
            np.uint64(base[i]), pl, w, is_float, depth, kmax, short)
        if pl == 0:
            return res, ERR_RANGE
        res[i] = y
    return res, (0 if o == buf.size and _raw_done(raw, r, nacc) else ERR_TRUNCATED)
