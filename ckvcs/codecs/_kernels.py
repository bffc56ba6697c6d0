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
* The value kernels take the changed elements as ``sel``: their positions
  (int32/int64, increasing), or, with ``dense``, a 0/1 byte per element.
  Looping over positions beats testing every element where the CPU cannot
  predict the test (17% faster value decoding at 33% changed); where nearly
  every element changed (fp32 saves), walking the flags is cheaper than
  building positions. The mask decoder writes positions branch-free.

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


# ---------------------------------------------------------------- value model


@numba.njit(inline="always")
def _ordered(v: U64, w: int, is_float: bool) -> U64:
    """Sign-magnitude -> monotone two's complement (negative: flip the magnitude); an involution."""
    if not is_float:
        return v
    m = (_U0 - (v >> np.uint64(w - 1))) & (_M64 >> np.uint64(65 - w))
    return v ^ m


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
    wmask = _M64 >> np.uint64(64 - w)
    d = (_ordered(x, w, is_float) - _ordered(b, w, is_float)) & wmask
    e, s, mt = _val_ctx(b, w)
    neg = (d >> np.uint64(w - 1)) & _U1
    m = _U0 - neg
    mag = ((d ^ m) - m) & wmask
    L = _bitlen(mag)
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
    wmask = _M64 >> np.uint64(64 - w)
    mag = (np.uint64(node) << np.uint64(rest)) | low
    m = _U0 - np.uint64(neg)
    d = ((mag ^ m) - m) & wmask
    y = _ordered((_ordered(b, w, is_float) + d) & wmask, w, is_float)
    return o, code, rng, r, acc, nacc, y, L


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
    for j in range(data.size if dense else nnz):
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


# The reference twins live in _kernels_ref (imported last: it reads the constants above).
from ._kernels_ref import *  # noqa: E402,F401,F403
