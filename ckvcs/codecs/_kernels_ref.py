"""Reference twins of the numba kernels in ``_kernels``: the specification they are held to.

Plain Python over Python ints (slow and readable); ``np_<name>`` returns what the
kernel ``<name>`` returns, bit for bit (tests/unit/test_kernels_twin.py). Kept
apart from the kernels so each module stays readable; ``_kernels`` re-exports them.
"""
from __future__ import annotations

import numpy as np

from ._kernels import (BLOCK, BLOCK_CTX, ERR_COUNT, ERR_RANGE, ERR_TRUNCATED, HIST, MASK_CTX, PL_BUCKETS, PROB_BITS,
                       PROB_INIT, RATE, tree_depth)

def np_elias_encode(positions: np.ndarray) -> np.ndarray:
    """Twin of :func:`elias_encode`, vectorised: every code as a run of bits, then packbits."""
    p = np.asarray(positions, dtype=np.int64)
    if p.size == 0:
        return np.zeros(0, np.uint8)
    g = np.diff(p, prepend=-1).astype(np.uint64)
    nb = np.array([int(x).bit_length() for x in g.tolist()], dtype=np.int64)
    ll = np.array([int(x).bit_length() - 1 for x in nb.tolist()], dtype=np.int64)
    width = 2 * ll + nb
    # Code of gap i as one integer of width[i] bits: ll zeros, nb, the low nb-1 bits of g.
    codes = [(int(n) << (int(n) - 1)) | (int(x) & ((1 << (int(n) - 1)) - 1)) for n, x in zip(nb, g)]
    bits = np.zeros(int(width.sum()), np.uint8)
    start = np.concatenate([[0], np.cumsum(width)[:-1]])
    for s, wd, c in zip(start.tolist(), width.tolist(), codes):
        bits[s : s + wd] = [(c >> (wd - 1 - k)) & 1 for k in range(wd)]
    return np.packbits(bits)


def np_elias_decode(buf: np.ndarray, nnz: int, count: int) -> tuple[np.ndarray, int]:
    """Twin of :func:`elias_decode`."""
    bits = np.unpackbits(np.asarray(buf, np.uint8)).tolist()
    pos = np.empty(nnz, np.int64)
    at, prev = 0, -1
    for i in range(nnz):
        ll = 0
        while True:
            if at >= len(bits):
                return pos, ERR_TRUNCATED
            if bits[at]:
                break
            ll += 1
            at += 1
            if ll > 6:
                return pos, ERR_RANGE
        if at + ll + 1 > len(bits):
            return pos, ERR_TRUNCATED
        nb = int("".join(map(str, bits[at : at + ll + 1])), 2)
        at += ll + 1
        if nb > 63:
            return pos, ERR_RANGE
        if at + nb - 1 > len(bits):
            return pos, ERR_TRUNCATED
        g = int("1" + "".join(map(str, bits[at : at + nb - 1])), 2)
        at += nb - 1
        if g > count - 1 - prev:
            return pos, ERR_RANGE
        prev += g
        pos[i] = prev
    if (at + 7) // 8 != len(buf):
        return pos, ERR_TRUNCATED
    if any(bits[at:]):
        return pos, ERR_RANGE
    return pos, 0


class _PyEncoder:
    """The range encoder of the kernels, one decision at a time, over Python ints."""

    def __init__(self) -> None:
        self.low, self.rng = 0, 0xFFFFFFFF
        self.out = bytearray()

    def bit(self, probs: list[int], ci: int, bit: int) -> None:
        p = probs[ci]
        bound = (self.rng >> PROB_BITS) * p
        if bit:
            self.low += bound
            self.rng -= bound
            probs[ci] = p - (p >> RATE)
        else:
            self.rng = bound
            probs[ci] = p + (((1 << PROB_BITS) - p) >> RATE)
        if self.low >> 32:  # carry into the bytes already written
            self.low &= 0xFFFFFFFF
            k = len(self.out) - 1
            while k >= 0 and self.out[k] == 0xFF:
                self.out[k] = 0
                k -= 1
            if k >= 0:
                self.out[k] += 1
        while self.rng < 1 << 24:
            self.out.append(self.low >> 24)
            self.low = (self.low << 8) & 0xFFFFFFFF
            self.rng <<= 8

    def finish(self) -> np.ndarray:
        return np.frombuffer(bytes(self.out) + self.low.to_bytes(4, "big"), np.uint8)


class _PyDecoder:
    def __init__(self, buf: np.ndarray) -> None:
        self.buf = bytes(np.asarray(buf, np.uint8))
        self.code = int.from_bytes(self.buf[:4].ljust(4, b"\0"), "big")
        self.pos = 4
        self.rng = 0xFFFFFFFF

    def bit(self, probs: list[int], ci: int) -> int:
        p = probs[ci]
        bound = (self.rng >> PROB_BITS) * p
        if self.code < bound:
            self.rng = bound
            probs[ci] = p + (((1 << PROB_BITS) - p) >> RATE)
            bit = 0
        else:
            self.code -= bound
            self.rng -= bound
            probs[ci] = p - (p >> RATE)
            bit = 1
        while self.rng < 1 << 24:
            byte = self.buf[self.pos] if self.pos < len(self.buf) else 0
            self.pos += 1
            self.rng <<= 8
            self.code = ((self.code << 8) | byte) & 0xFFFFFFFF
        return bit

    def done(self) -> bool:
        return self.pos == len(self.buf)


def _py_exp_ctx(b: int, w: int) -> int:
    return ((b << 1) & ((1 << w) - 1)) >> (w - 8)


class _PyMask:
    """The change-mask model: context of the next element, history update."""

    def __init__(self) -> None:
        self.probs = [PROB_INIT] * MASK_CTX
        self.hist = [0] * HIST  # the previous HIST bits, newest last

    def ctx(self, b: int, w: int) -> int:
        return (_py_exp_ctx(b, w) * (HIST + 1) + sum(self.hist)) * 2 + self.hist[-1]

    def push(self, bit: int) -> None:
        self.hist = self.hist[1:] + [bit]


def _spans(n: int, blocks: bool) -> list[tuple[int, int]]:
    step = BLOCK if blocks else max(n, 1)
    return [(s, min(s + step, n)) for s in range(0, n, step)]


def np_rc_encode_mask(data: np.ndarray, base: np.ndarray, w: int, blocks: bool) -> np.ndarray:
    """Twin of :func:`rc_encode_mask`."""
    model, enc = _PyMask(), _PyEncoder()
    pblock, prev = [PROB_INIT] * BLOCK_CTX, [0, 0]
    changed, bl = [int(x != b) for x, b in zip(data.tolist(), base.tolist())], base.tolist()
    for start, end in _spans(len(bl), blocks):
        if blocks:
            anyb = int(any(changed[start:end]))
            enc.bit(pblock, prev[0] * 2 + prev[1], anyb)
            prev = [prev[1], anyb]
            if not anyb:
                model.hist = [0] * HIST
                continue
        for i in range(start, end):
            enc.bit(model.probs, model.ctx(bl[i], w), changed[i])
            model.push(changed[i])
    return enc.finish()


def np_rc_decode_mask(buf: np.ndarray, base: np.ndarray, w: int, blocks: bool,
                      pos_in: np.ndarray) -> tuple[np.ndarray, int]:
    """Twin of :func:`rc_decode_mask`."""
    model, dec = _PyMask(), _PyDecoder(buf)
    pblock, prev = [PROB_INIT] * BLOCK_CTX, [0, 0]
    nnz = pos_in.size - 1
    pos, ones = [0] * (nnz + 1), 0
    bl = base.tolist()
    for start, end in _spans(len(bl), blocks):
        if blocks:
            anyb = dec.bit(pblock, prev[0] * 2 + prev[1])
            prev = [prev[1], anyb]
            if not anyb:
                model.hist = [0] * HIST
                continue
        for i in range(start, end):
            bit = dec.bit(model.probs, model.ctx(bl[i], w))
            pos[min(ones, nnz)] = i  # the kernel's branch-free store: excess positions land in the last slot
            ones += bit
            model.push(bit)
    out = np.array(pos[:nnz], pos_in.dtype)
    if not dec.done():
        return out, ERR_TRUNCATED
    return out, (0 if ones == nnz else ERR_COUNT)


class _PyValues:
    """The value model over Python ints: encode or decode one changed element at a time."""

    def __init__(self, w: int, is_float: bool, kmax: int, short: bool) -> None:
        self.w, self.is_float, self.kmax, self.short = w, is_float, kmax, short
        self.depth = tree_depth(w)
        self.ptree = [PROB_INIT] * ((256 * PL_BUCKETS) << self.depth)
        self.pesc = [PROB_INIT] * (256 * PL_BUCKETS * 2)
        self.psign = [PROB_INIT] * (2 * 65)
        self.pman = [PROB_INIT] * ((65 * 4) << kmax)
        self.prev_len = 0
        self.raw_bits: list[int] = []
        self.at = 0  # next raw bit when decoding

    def ordered(self, v: int) -> int:
        if self.is_float and v >> (self.w - 1):
            return v ^ ((1 << (self.w - 1)) - 1)
        return v

    def contexts(self, b: int) -> tuple[int, int, int]:
        """(length context, base sign, two base mantissa bits)."""
        w = self.w
        ctx = _py_exp_ctx(b, w) * PL_BUCKETS + min(self.prev_len, PL_BUCKETS - 1)
        mt = (b >> (w - 11)) & 3 if w > 8 else 0
        return ctx, b >> (w - 1), mt

    def encode(self, enc: _PyEncoder, x: int, b: int) -> None:
        w = self.w
        d = (self.ordered(x) - self.ordered(b)) % (1 << w)
        ctx, s, mt = self.contexts(b)
        neg = d >> (w - 1)
        mag = (1 << w) - d if neg else d
        L = mag.bit_length()
        first = 1
        if self.short:
            enc.bit(self.pesc, 2 * ctx, int(L > 1))
            if L > 1:
                enc.bit(self.pesc, 2 * ctx + 1, int(L > 2))
            first = 3
        if L >= first:
            node = 1
            for j in reversed(range(self.depth)):
                bit = ((L - first) >> j) & 1
                enc.bit(self.ptree, (ctx << self.depth) + node, bit)
                node = 2 * node + bit
        enc.bit(self.psign, s * 65 + L, neg)
        k = min(L - 1, self.kmax)
        row, node = (L * 4 + mt) << self.kmax, 1
        for j in range(1, k + 1):
            bit = (mag >> (L - 1 - j)) & 1
            enc.bit(self.pman, row + node, bit)
            node = 2 * node + bit
        self.raw_bits += [(mag >> j) & 1 for j in range(L - 1 - k)]
        self.prev_len = L

    def raw(self) -> np.ndarray:
        return np.packbits(np.array(self.raw_bits, np.uint8), bitorder="little")

    def decode(self, dec: _PyDecoder, b: int) -> int | None:
        """The new bits of one changed element; None for a length above w."""
        w = self.w
        ctx, s, mt = self.contexts(b)
        L = 0
        if self.short:
            L = 1
            if dec.bit(self.pesc, 2 * ctx):
                L = 2 if not dec.bit(self.pesc, 2 * ctx + 1) else 0
        if L == 0:
            node = 1
            for _ in range(self.depth):
                node = 2 * node + dec.bit(self.ptree, (ctx << self.depth) + node)
            L = node - (1 << self.depth) + (3 if self.short else 1)
            if L > w:
                return None
        neg = dec.bit(self.psign, s * 65 + L)
        k = min(L - 1, self.kmax)
        row, node = (L * 4 + mt) << self.kmax, 1
        for _ in range(k):
            node = 2 * node + dec.bit(self.pman, row + node)
        rest = L - 1 - k
        low = sum(bit << j for j, bit in enumerate(self.raw_bits[self.at : self.at + rest]))
        self.at += rest  # past the end: zeros, and raw_done() fails
        mag = (node << rest) | low
        d = ((1 << w) - mag) % (1 << w) if neg else mag
        self.prev_len = L
        return self.ordered((self.ordered(b) + d) % (1 << w))

    def raw_done(self) -> bool:
        return (self.at + 7) // 8 * 8 == len(self.raw_bits) and not any(self.raw_bits[self.at :])


def _selected(sel: np.ndarray, dense: bool) -> list[int]:
    return np.flatnonzero(sel).tolist() if dense else np.asarray(sel, np.int64).tolist()


def np_rc_encode_values(data: np.ndarray, base: np.ndarray, sel: np.ndarray, dense: bool, w: int, is_float: bool,
                        kmax: int, short: bool) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`rc_encode_values`."""
    model, enc = _PyValues(w, is_float, kmax, short), _PyEncoder()
    for i in _selected(sel, dense):
        model.encode(enc, int(data[i]), int(base[i]))
    return enc.finish(), model.raw()


def np_rc_decode_values(base: np.ndarray, sel: np.ndarray, dense: bool, buf: np.ndarray, raw: np.ndarray, w: int,
                        is_float: bool, kmax: int, short: bool) -> tuple[np.ndarray, int]:
    """Twin of :func:`rc_decode_values`."""
    model, dec = _PyValues(w, is_float, kmax, short), _PyDecoder(buf)
    model.raw_bits = np.unpackbits(np.asarray(raw, np.uint8), bitorder="little").tolist()
    res = base.copy()
    if dense and sel.size != base.size:
        return res, ERR_RANGE
    for i in _selected(sel, dense):
        if not 0 <= i < base.size:
            return res, ERR_RANGE
        y = model.decode(dec, int(base[i]))
        if y is None:
            return res, ERR_RANGE
        res[i] = y
    return res, (0 if dec.done() and model.raw_done() else ERR_TRUNCATED)


def np_lowrank_predict(base: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Twin of :func:`lowrank_predict`: the same float32 products and sums in the same order,
    one rank term at a time over the whole matrix (numpy element-wise arithmetic, no matmul)."""
    m, r = u.shape
    n = v.shape[1]
    acc = np.zeros((m, n), np.float32)
    for k in range(r):
        acc = acc + u[:, k : k + 1].astype(np.float32) * v[k : k + 1, :].astype(np.float32)
    return (base + acc.reshape(-1).astype(base.dtype)).astype(base.dtype)


def np_orthonormal_rows(a: np.ndarray, tol: float) -> np.ndarray:
    """Twin of :func:`orthonormal_rows`: the same Gram-Schmidt on Python floats, in the same order."""
    rows: list[list[float]] = []
    for r in np.asarray(a, np.float64).tolist():
        v = list(r)
        n0 = 0.0
        for x in v:
            n0 += x * x
        for _ in range(2):
            for q in rows:
                dot = 0.0
                for qt, vt in zip(q, v):
                    dot += qt * vt
                v = [vt - dot * qt for qt, vt in zip(q, v)]
        nv = 0.0
        for x in v:
            nv += x * x
        if nv > 0.0 and nv > tol * tol * n0:
            norm = float(np.sqrt(nv))
            rows.append([x / norm for x in v])
    return np.array(rows, np.float64).reshape(len(rows), np.shape(a)[1])


def np_rans_encode_values(data: np.ndarray, base: np.ndarray, pos: np.ndarray, w: int,
                          is_float: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Twin of :func:`rans_encode_values`."""
    from ._rans import RANS_BITS, RANS_LOW, RANS_MAX_WIDTH, alphabet, normalize, table_bytes

    if not 1 <= w <= RANS_MAX_WIDTH:
        raise ValueError(f"rans values take elements of at most {RANS_MAX_WIDTH} bits, not {w}")

    model = _PyValues(w, is_float, 0, False)
    syms, hist = [], np.zeros((256, alphabet(w)), np.int64)
    for i in np.asarray(pos, np.int64).tolist():
        b = int(base[i])
        d = (model.ordered(int(data[i])) - model.ordered(b)) % (1 << w)
        neg = d >> (w - 1)
        mag = (1 << w) - d if neg else d
        L = mag.bit_length()
        c, s = _py_exp_ctx(b, w), 2 * L + neg
        syms.append((c, s))
        hist[c, s] += 1
        model.raw_bits += [(mag >> j) & 1 for j in range(L - 1)]
    freq = normalize(hist)
    cum = np.concatenate([np.zeros((256, 1), np.int64), np.cumsum(freq, axis=1)[:, :-1]], axis=1)
    out: list[int] = []  # bytes in the order they are emitted (reversed at the end)
    x = RANS_LOW
    for c, s in reversed(syms):
        f = int(freq[c, s])
        while x >= ((RANS_LOW >> RANS_BITS) << 8) * f:
            out.append(x & 0xFF)
            x >>= 8
        x = (x // f << RANS_BITS) + x % f + int(cum[c, s])
    out += [(x >> (8 * q)) & 0xFF for q in range(4)]
    return table_bytes(freq), np.array(out[::-1], np.uint8), model.raw()


def np_rans_decode_values(base: np.ndarray, pos: np.ndarray, table: np.ndarray, buf: np.ndarray, raw: np.ndarray,
                          w: int, is_float: bool) -> tuple[np.ndarray, int]:
    """Twin of :func:`rans_decode_values`."""
    from ._rans import RANS_BITS, RANS_LOW, RANS_MAX_WIDTH, parse_table

    res = base.copy()
    freq = parse_table(table, w) if 1 <= w <= RANS_MAX_WIDTH else None
    if freq is None:
        return res, ERR_RANGE
    data = [int(v) for v in np.asarray(buf, np.uint8)]
    if len(data) < 4:
        return res, ERR_TRUNCATED
    x = int.from_bytes(bytes(data[:4]), "big")
    if not RANS_LOW <= x < 1 << 31:
        return res, ERR_RANGE
    o = 4
    model = _PyValues(w, is_float, 0, False)
    model.raw_bits = np.unpackbits(np.asarray(raw, np.uint8), bitorder="little").tolist()
    for i in np.asarray(pos, np.int64).tolist():
        if not 0 <= i < base.size:
            return res, ERR_RANGE
        b = int(base[i])
        row = [int(f) for f in freq[_py_exp_ctx(b, w)]]
        if sum(row) == 0:
            return res, ERR_RANGE
        slot, s, cum = x % (1 << RANS_BITS), 0, 0
        while cum + row[s] <= slot:
            cum += row[s]
            s += 1
        x = row[s] * (x >> RANS_BITS) + slot - cum
        while x < RANS_LOW:  # at most twice: x >= 2**11 after a symbol
            x = (x << 8) | (data[o] if o < len(data) else 0)
            o += 1
        L, neg = s >> 1, s & 1
        low = sum(bit << j for j, bit in enumerate(model.raw_bits[model.at : model.at + L - 1]))
        model.at += L - 1
        mag = (1 << (L - 1)) | low
        d = ((1 << w) - mag) % (1 << w) if neg else mag
        res[i] = model.ordered((model.ordered(b) + d) % (1 << w))
    ok = x == RANS_LOW and o == len(data) and model.raw_done()
    return res, (0 if ok else ERR_TRUNCATED)
