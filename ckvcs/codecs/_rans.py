"""The ``tpde`` value mode ``rans``: one static rANS symbol per changed element.

Part of :mod:`ckvcs.codecs._kernels` (which re-exports the public kernels, and whose docstring
gives the kernels' contract). Each changed element's ordered-integer difference becomes one
symbol ``2 * L + negative`` (L = its bit length, 1..w), coded with rANS under a frequency table
chosen per tensor for each base exponent byte (the context); the L - 1 bits below the leading
one go verbatim into the raw LSB-first bitstream the range-coded value modes use.

Why: the adaptive value model spends two to five binary decisions on each change, and each
decision costs about as much as a whole rANS symbol. On bf16 the static table codes the
make_corpus deltas in the same bytes and halves the value kernels' time. On wider elements
it does not pay: fp32 lengths vary over 30 values and drift along a tensor, and a static
table costs 19% more than the adaptive model (12.0 against 10.1 bits a change), so the mode
takes 1- and 2-byte elements only.

docs/format.md ("Value streams", mode 3 rans) specifies the table and the coder. Import the
kernels through ``_kernels`` (this module imports from it, and it re-exports this one).
"""
from __future__ import annotations

import struct

import numba
import numpy as np

from ._kernels import _U0, _U1, _UFF, ERR_RANGE, ERR_TRUNCATED, U64, _exp_ctx
from ._kernels_values import _get_lsb, _join_diff, _put_lsb, _raw_done, _raw_pad, _split_diff

RANS_BITS = 12                  # frequencies of a context sum to 2**RANS_BITS
RANS_TOTAL = 1 << RANS_BITS
RANS_LOW = 1 << 23              # the coder state stays in [RANS_LOW, 2**31) between symbols
RANS_MAX_WIDTH = 16             # element widths (bits) the mode takes
_COUNT = struct.Struct("<H")


def alphabet(w: int) -> int:
    """Symbols of a w-bit element: 2 * L + sign for L = 1..w (0 and 1 never occur)."""
    return 2 * w + 2


# ---------------------------------------------------------------- tables (plain numpy)


def normalize(hist: np.ndarray) -> np.ndarray:
    """Frequencies summing to RANS_TOTAL in every context that occurs (zero rows elsewhere):
    each symbol seen gets ``max(1, count * TOTAL // n)``; the largest of those (the lowest
    symbol on a tie) absorbs the difference. Deterministic, so the same input always codes the same bytes."""
    n = hist.sum(axis=1, keepdims=True)
    freq = np.where(hist > 0, np.maximum(1, hist * RANS_TOTAL // np.maximum(n, 1)), 0).astype(np.int64)
    top = np.argmax(freq, axis=1)
    # the top one stays >= 1: at most 2w ones were rounded up, and it holds >= 4096 / 32
    freq[np.arange(freq.shape[0]), top] += np.where(n[:, 0] > 0, RANS_TOTAL - freq.sum(axis=1), 0)
    return freq


def table_bytes(freq: np.ndarray) -> np.ndarray:
    """u16 K, then per context in increasing order: u8 context, alphabet(w) x u16 frequency."""
    used = np.flatnonzero(freq.sum(axis=1))
    rec = np.empty((used.size, 1 + 2 * freq.shape[1]), np.uint8)
    rec[:, 0] = used
    rec[:, 1:] = freq[used].astype("<u2").view(np.uint8)
    return np.frombuffer(_COUNT.pack(used.size) + rec.tobytes(), np.uint8)


def parse_table(buf: np.ndarray, w: int) -> np.ndarray | None:
    """The (256, alphabet) frequency table of :func:`table_bytes`, or None if it is malformed:
    wrong length, contexts not increasing, a row not summing to RANS_TOTAL, or a symbol of
    length 0 with a frequency."""
    a = alphabet(w)
    raw = bytes(buf)
    if len(raw) < 2:
        return None
    (k,) = _COUNT.unpack_from(raw, 0)
    size = 1 + 2 * a
    if k > 256 or len(raw) != 2 + k * size:
        return None
    rec = np.frombuffer(raw, np.uint8, k * size, 2).reshape(k, size)
    ctx = rec[:, 0].astype(np.int64)
    rows = rec[:, 1:].copy().view("<u2").astype(np.int64)
    if np.any(np.diff(ctx) <= 0) or np.any(rows.sum(axis=1) != RANS_TOTAL) or np.any(rows[:, :2]):
        return None
    freq = np.zeros((256, a), np.int64)
    freq[ctx] = rows
    return freq


# ---------------------------------------------------------------- kernels


@numba.njit(cache=True, nogil=True)
def _rans_symbols(data: np.ndarray, base: np.ndarray, pos: np.ndarray, w: int,
                  is_float: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(symbol, context) of each changed element, their histogram, and the raw low bits."""
    n = pos.size
    sym = np.empty(n, np.uint8)
    ctx = np.empty(n, np.uint8)
    hist = np.zeros((256, 2 * w + 2), np.int64)
    raw = np.empty(n * 2 + 16, np.uint8)  # w <= 16: at most 15 raw bits a change
    r, acc, nacc = 0, _U0, 0
    for j in range(n):
        i = pos[j]
        b = np.uint64(base[i])
        neg, mag, L = _split_diff(np.uint64(data[i]), b, w, is_float)
        s = 2 * L + np.int64(neg)
        c = _exp_ctx(b, w)
        sym[j] = s
        ctx[j] = c
        hist[c, s] += 1
        if L > 1:
            r, acc, nacc = _put_lsb(raw, r, acc, nacc, mag, L - 1)
    return sym, ctx, hist, raw[: r + (nacc > 0)]


@numba.njit(cache=True, nogil=True)
def _rans_encode(sym: np.ndarray, ctx: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """rANS over the symbols, last to first, so that the decoder reads forward; the final state
    leads the output, most significant byte first."""
    n = sym.size
    cum = np.zeros(freq.shape, np.int64)
    for c in range(freq.shape[0]):
        for s in range(1, freq.shape[1]):
            cum[c, s] = cum[c, s - 1] + freq[c, s - 1]
    out = np.empty(2 * n + 8, np.uint8)  # a symbol of frequency >= 1 emits at most 12 bits
    o = out.size
    x = np.uint64(RANS_LOW)
    for j in range(n - 1, -1, -1):
        c, s = np.int64(ctx[j]), np.int64(sym[j])
        f = np.uint64(freq[c, s])
        xmax = np.uint64((RANS_LOW >> RANS_BITS) << 8) * f
        while x >= xmax:
            o -= 1
            out[o] = np.uint8(x & _UFF)
            x >>= np.uint64(8)
        x = (x // f) * np.uint64(RANS_TOTAL) + (x % f) + np.uint64(cum[c, s])
    for _ in range(4):
        o -= 1
        out[o] = np.uint8(x & _UFF)
        x >>= np.uint64(8)
    return out[o:].copy()


@numba.njit(inline="always")
def _rans_refill(pad: np.ndarray, last: int, o: int, x: U64) -> tuple[int, U64]:
    if x < np.uint64(RANS_LOW):
        x = (x << np.uint64(8)) | np.uint64(pad[min(o, last)])
        o += 1
    return o, x


@numba.njit(inline="always")
def _rans_slots(freq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row of each context, -1 if absent; its 4096 slots). A slot packs what decoding needs in one
    load: symbol | (frequency - 1) << 8 | (slot - cumulative frequency) << 20."""
    row = np.full(256, -1, np.int64)
    k = 0
    for c in range(256):
        if freq[c].sum() > 0:
            row[c] = k
            k += 1
    slots = np.zeros(max(k, 1) * RANS_TOTAL, np.uint32)
    for c in range(256):
        if row[c] < 0:
            continue
        t = row[c] * RANS_TOTAL
        for s in range(freq.shape[1]):
            f = freq[c, s]
            for q in range(f):
                slots[t + q] = np.uint32(s | ((f - 1) << 8) | (q << 20))
            t += f
    return row, slots


@numba.njit(cache=True, nogil=True)
def _rans_decode(base: np.ndarray, pos: np.ndarray, buf: np.ndarray, raw: np.ndarray, freq: np.ndarray, w: int,
                 is_float: bool) -> tuple[np.ndarray, int]:
    res = base.copy()
    row, slots = _rans_slots(freq)
    if buf.size < 4:
        return res, ERR_TRUNCATED
    pad = np.zeros(buf.size + 8, np.uint8)
    pad[: buf.size] = buf
    last = buf.size
    x = _U0
    for q in range(4):
        x = (x << np.uint64(8)) | np.uint64(pad[q])
    o = 4
    if x < np.uint64(RANS_LOW) or x >= np.uint64(1 << 31):
        return res, ERR_RANGE
    rpad, rlast = _raw_pad(raw)
    r, acc, nacc = 0, _U0, 0
    n = base.size
    mask = np.uint64(RANS_TOTAL - 1)
    for j in range(pos.size):
        i = pos[j]
        if i < 0 or i >= n:
            return res, ERR_RANGE
        b = np.uint64(base[i])
        c = _exp_ctx(b, w)
        rc = row[c]
        if rc < 0:
            return res, ERR_RANGE
        e = np.uint64(slots[rc * RANS_TOTAL + np.int64(x & mask)])
        x = ((e >> np.uint64(8)) & np.uint64(RANS_TOTAL - 1)) * (x >> np.uint64(RANS_BITS)) \
            + (x >> np.uint64(RANS_BITS)) + (e >> np.uint64(20))
        o, x = _rans_refill(pad, last, o, x)  # x >= 2**11 here: two bytes restore x >= RANS_LOW
        o, x = _rans_refill(pad, last, o, x)
        s = np.int64(e & _UFF)
        L = s >> 1
        low = _U0
        if L > 1:
            r, acc, nacc, low = _get_lsb(rpad, rlast, r, acc, nacc, L - 1)
        res[i] = _join_diff(b, np.uint64(s & 1), (_U1 << np.uint64(L - 1)) | low, w, is_float)
    ok = x == np.uint64(RANS_LOW) and o == buf.size and _raw_done(raw, r, nacc)
    return res, (0 if ok else ERR_TRUNCATED)


# ---------------------------------------------------------------- the kernels' entry points


def rans_encode_values(data: np.ndarray, base: np.ndarray, pos: np.ndarray, w: int,
                       is_float: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(table, coded symbols, raw bits) of the changed elements at ``pos`` (increasing; every one
    changed). ValueError if w > RANS_MAX_WIDTH (the raw-bit buffer is sized for at most 15 bits a
    change)."""
    if not 1 <= w <= RANS_MAX_WIDTH:
        raise ValueError(f"rans values take elements of at most {RANS_MAX_WIDTH} bits, not {w}")
    sym, ctx, hist, raw = _rans_symbols(data, base, pos, w, is_float)
    freq = normalize(hist)
    return table_bytes(freq), _rans_encode(sym, ctx, freq), raw


def rans_decode_values(base: np.ndarray, pos: np.ndarray, table: np.ndarray, buf: np.ndarray, raw: np.ndarray,
                       w: int, is_float: bool) -> tuple[np.ndarray, int]:
    """Base with the coded differences applied at ``pos``; (out, 0 or ERR_*). A malformed
    table, a position outside the tensor or a base context the table lacks is ERR_RANGE; so is
    w > RANS_MAX_WIDTH."""
    if not 1 <= w <= RANS_MAX_WIDTH:
        return base.copy(), ERR_RANGE
    freq = parse_table(table, w)
    if freq is None:
        return base.copy(), ERR_RANGE
    return _rans_decode(base, pos, buf, raw, freq, w, is_float)
