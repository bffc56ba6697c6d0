"""Every numba kernel of ``ckvcs.codecs._kernels`` equals its plain-Python twin ``np_<name>``.

Valid inputs (random and edge: empty, one element, nothing / everything
changed, every width, floats and integers) and garbage (random bytes,
truncated and bit-flipped streams) are fed to both; outputs and error codes
must agree exactly. Twins are slow, so arrays stay small.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckvcs.codecs import _kernels as _K
from ckvcs.codecs.tpde import KMAX_LIMIT

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WIDTHS = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}
OUTPUTS = {"rc_decode_mask": (4,)}  # argument positions a kernel writes into: passed writable
KERNELS = ["elias_encode", "elias_decode", "rc_encode_mask", "rc_decode_mask", "rc_encode_values",
           "rc_decode_values", "rans_encode_values", "rans_decode_values", "lowrank_predict", "orthonormal_rows"]


class _AsTheCodecCalls:
    """``_kernels`` with every array argument made read-only, as the codec passes them.

    numba compiles one specialisation per argument type (and caches it); sharing the codec's keeps
    a cold run short. Twins are passed through untouched.
    """

    def __getattr__(self, name: str) -> object:
        f = getattr(_K, name)
        if name not in KERNELS:
            return f

        out = OUTPUTS.get(name, ())

        def call(*args: object) -> object:
            return f(*(_ro(a) if isinstance(a, np.ndarray) and i not in out else a for i, a in enumerate(args)))

        return call


def _ro(a: np.ndarray) -> np.ndarray:
    v = np.ascontiguousarray(a).view()
    v.flags.writeable = False
    return v


K = _AsTheCodecCalls()


def test_every_kernel_has_a_twin() -> None:
    for name in KERNELS:
        assert callable(getattr(_K, f"np_{name}"))
    public = [n for n in dir(_K) if n.startswith(("rc_", "rans_", "elias_", "lowrank_", "orthonormal_"))]
    assert sorted(public) == sorted(KERNELS)


def slots(nnz: int, dtype: type = np.int32) -> np.ndarray:
    """The output array ``rc_decode_mask`` fills: nnz + 1 zeros."""
    return np.zeros(max(nnz, 0) + 1, dtype)


def same(a: tuple | np.ndarray, b: tuple | np.ndarray) -> None:
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == np.asarray(b).dtype and a.tobytes() == np.asarray(b).tobytes()
    else:
        assert a == b


@st.composite
def pairs(draw: st.DrawFn, max_len: int = 160) -> tuple[int, np.ndarray, np.ndarray]:
    """(width, base, data): base random or special bits; data with none/some/all elements changed."""
    w = draw(st.sampled_from(list(WIDTHS)))
    dt = WIDTHS[w]
    n = draw(st.integers(0, max_len))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = np.iinfo(dt).max
    pool = np.array([0, 1, top, top >> 1, (top >> 1) + 1, top - 1], dtype=dt)
    kind = draw(st.sampled_from(["random", "special", "floats"]))
    if kind == "random":
        base = rng.integers(0, top, n, dtype=dt, endpoint=True)
    elif kind == "special":
        base = pool[rng.integers(0, pool.size, n)]
    else:  # bit patterns of ordinary floats: exponent bytes cluster as in real weights
        base = (rng.normal(0, 0.05, n).astype({8: np.float16, 16: np.float16, 32: np.float32,
                                               64: np.float64}[w]).view(f"u{max(w // 8, 2)}")
                .astype(np.uint64) >> (0 if w > 8 else 8)).astype(dt)
    p = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    change = rng.random(n) < p
    step = draw(st.sampled_from(["ulp", "random", "flip_sign"]))
    data = base.copy()
    if step == "ulp":
        data[change] = base[change] + dt(1) * (1 - 2 * (rng.random(int(change.sum())) < 0.5)).astype(dt)
    elif step == "random":
        data[change] = rng.integers(0, top, int(change.sum()), dtype=dt, endpoint=True)
    else:
        data[change] = base[change] ^ dt(1 << (w - 1))
    return w, base, data


# -- Elias-delta -------------------------------------------------------------------------------------

EDGE_POSITIONS = [[], [0], [9], [0, 1, 2, 3], [5, 6, 100, 1000], [2**40], [0, 2**45 - 1]]


@pytest.mark.parametrize("positions", EDGE_POSITIONS)
def test_elias_edges(positions: list[int]) -> None:
    pos = np.array(positions, dtype=np.int64)
    buf = K.elias_encode(pos)
    same(buf, K.np_elias_encode(pos))
    count = (positions[-1] + 1) if positions else 0
    same(K.elias_decode(buf, pos.size, count), K.np_elias_decode(buf, pos.size, count))
    got, err = K.elias_decode(buf, pos.size, count)
    assert err == 0 and got.tolist() == positions


@FAST
@given(st.lists(st.integers(0, 5000), max_size=200, unique=True), st.integers(0, 10))
def test_elias_random(positions: list[int], slack: int) -> None:
    pos = np.array(sorted(positions), dtype=np.int64)
    buf = K.elias_encode(pos)
    same(buf, K.np_elias_encode(pos))
    count = (int(pos[-1]) + 1 if pos.size else 0) + slack
    same(K.elias_decode(buf, pos.size, count), K.np_elias_decode(buf, pos.size, count))


@FAST
@given(st.binary(max_size=40), st.integers(0, 60), st.integers(0, 400))
def test_elias_garbage(raw: bytes, nnz: int, count: int) -> None:
    buf = np.frombuffer(raw, np.uint8)
    got, err = K.elias_decode(buf, nnz, count)
    want, werr = K.np_elias_decode(buf, nnz, count)
    assert err == werr
    if err == 0:
        same(got, want)
        assert np.all(np.diff(got) > 0) and (got.size == 0 or 0 <= got[0] and got[-1] < count)


# -- range-coded mask and values --------------------------------------------------------------------


@FAST
@given(pairs(), st.booleans())
def test_mask_kernels(case: tuple[int, np.ndarray, np.ndarray], blocks: bool) -> None:
    w, base, data = case
    buf = K.rc_encode_mask(data, base, w, blocks)
    same(buf, K.np_rc_encode_mask(data, base, w, blocks))
    nnz = int(np.count_nonzero(data != base))
    for wide in (np.int32,):  # int64: test_int64_positions
        pos, err = K.rc_decode_mask(buf, base, w, blocks, slots(nnz, wide))
        assert err == 0 and pos.tobytes() == np.flatnonzero(data != base).astype(wide).tobytes()
        same((pos, err), K.np_rc_decode_mask(buf, base, w, blocks, slots(nnz, wide)))


@FAST
@given(pairs(max_len=400), st.integers(0, 2**32 - 1))
def test_mask_blocks_with_clustered_changes(case: tuple[int, np.ndarray, np.ndarray], seed: int) -> None:
    """Changes confined to a few runs (rows of an embedding): most blocks are empty, block
    boundaries fall inside and between runs, and the last block is short."""
    w, base, _ = case
    rng = np.random.default_rng(seed)
    data = base.copy()
    for start in rng.integers(0, max(1, base.size), 3):
        run = slice(int(start), int(start) + int(rng.integers(1, 40)))
        data[run] = base[run] ^ WIDTHS[w](1)
    buf = K.rc_encode_mask(data, base, w, True)
    same(buf, K.np_rc_encode_mask(data, base, w, True))
    nnz = int(np.count_nonzero(data != base))
    pos, err = K.rc_decode_mask(buf, base, w, True, slots(nnz))
    assert err == 0 and pos.tobytes() == np.flatnonzero(data != base).astype(np.int32).tobytes()


FLAGS_MIN_WIDTH = 32  # the codec passes flags for 4- and 8-byte elements only (tpde._dense)


def selection(data: np.ndarray, base: np.ndarray, how: str) -> tuple[np.ndarray, bool]:
    """The changed elements as the codec passes them: int32 or int64 positions, or a flag per element
    (4- and 8-byte elements; narrower ones get positions, so that the tests compile only the kernels
    the codec uses)."""
    if how == "flags" and base.itemsize * 8 >= FLAGS_MIN_WIDTH:
        return (data != base).astype(np.uint8), True
    return np.flatnonzero(data != base).astype(np.int32 if how == "int32" else np.int64), False


@FAST
@given(pairs(), st.booleans(), st.sampled_from([0, 1, 3, 6]), st.booleans(), st.sampled_from(["int32", "flags"]))
def test_value_kernels(case: tuple[int, np.ndarray, np.ndarray], is_float: bool, kmax: int, short: bool,
                       how: str) -> None:
    w, base, data = case
    sel, dense = selection(data, base, how)
    coded = K.rc_encode_values(data, base, sel, dense, w, is_float, kmax, short)
    same(coded, K.np_rc_encode_values(data, base, sel, dense, w, is_float, kmax, short))
    for s2, d2 in (selection(data, base, "int32"), selection(data, base, "flags")):  # either reads the other's
        out, err = K.rc_decode_values(base, s2, d2, *coded, w, is_float, kmax, short)
        assert err == 0 and out.tobytes() == data.tobytes()
        same((out, err), K.np_rc_decode_values(base, s2, d2, *coded, w, is_float, kmax, short))


@FAST
@given(pairs(max_len=60), st.booleans(), st.booleans(), st.booleans(), st.data())
def test_decoders_agree_on_garbage(case: tuple[int, np.ndarray, np.ndarray], is_float: bool, blocks: bool,
                                   short: bool, data_: st.DataObject) -> None:
    """Truncated, extended, bit-flipped or random streams: same output and error code, no crash."""
    w, base, data = case
    mbuf = K.rc_encode_mask(data, base, w, blocks)
    pos = np.flatnonzero(data != base).astype(np.int32)
    vbuf, raw = K.rc_encode_values(data, base, pos, False, w, is_float, 3, short)

    def mutate(buf: np.ndarray) -> np.ndarray:
        how = data_.draw(st.sampled_from(["cut", "extend", "flip", "random"]))
        b = buf.copy()
        if how == "cut":
            return b[: data_.draw(st.integers(0, max(0, b.size - 1)))]
        if how == "extend":
            return np.concatenate([b, np.frombuffer(data_.draw(st.binary(min_size=1, max_size=4)), np.uint8)])
        if how == "flip" and b.size:
            i = data_.draw(st.integers(0, b.size * 8 - 1))
            b[i // 8] ^= np.uint8(1 << (i % 8))
            return b
        return np.frombuffer(data_.draw(st.binary(max_size=24)), np.uint8)

    nnz = int(np.count_nonzero(data != base)) + data_.draw(st.sampled_from([0, 0, 1, -1]))
    m2 = mutate(mbuf)
    same(K.rc_decode_mask(m2, base, w, blocks, slots(nnz)), K.np_rc_decode_mask(m2, base, w, blocks, slots(nnz)))
    v2, r2 = (mutate(vbuf), raw) if data_.draw(st.booleans()) else (vbuf, mutate(raw))
    sel, dense = pos, False
    how = data_.draw(st.sampled_from(["ok", "bad_position", "flags", "short_flags"]))
    if how == "bad_position" and pos.size:  # refused, never followed
        sel = pos.copy()
        sel[data_.draw(st.integers(0, pos.size - 1))] = data_.draw(st.sampled_from([-1, base.size, 2**31 - 1]))
    elif how in ("flags", "short_flags") and w >= FLAGS_MIN_WIDTH:
        sel, dense = (data != base).astype(np.uint8), True
        if how == "short_flags":
            sel = sel[: data_.draw(st.integers(0, sel.size))] if data_.draw(st.booleans()) else np.append(sel, 1)
    same(K.rc_decode_values(base, sel, dense, v2, r2, w, is_float, 3, short),
         K.np_rc_decode_values(base, sel, dense, v2, r2, w, is_float, 3, short))


def test_int64_positions() -> None:
    """Tensors past 2**31 elements get int64 positions (the codec uses int32 below that, and the
    hypothesis tests stay on int32 to keep the number of compiled kernels down)."""
    w, dt = 16, np.uint16
    base = np.arange(300, dtype=dt)
    data = base.copy()
    data[::7] += dt(1)
    pos = np.flatnonzero(data != base)
    coded = K.rc_encode_values(data, base, pos, False, w, True, 3, True)
    same(coded, K.np_rc_encode_values(data, base, pos, False, w, True, 3, True))
    out, err = K.rc_decode_values(base, pos, False, *coded, w, True, 3, True)
    assert err == 0 and out.tobytes() == data.tobytes()
    mbuf = K.rc_encode_mask(data, base, w, True)
    got, err = K.rc_decode_mask(mbuf, base, w, True, slots(pos.size, np.int64))
    assert err == 0 and np.array_equal(got, pos)


@pytest.mark.parametrize("w", list(WIDTHS))
def test_value_extremes(w: int) -> None:
    """Largest differences (bit length w, both signs), sign flips through zero, every kmax bound."""
    dt = WIDTHS[w]
    top = np.iinfo(dt).max
    base = np.array([0, top, 1 << (w - 1), 0, (1 << (w - 1)) - 1, 5, top - 3], dtype=dt)
    data = np.array([top, 0, 0, 1 << (w - 1), 1 << (w - 1), 4, 2], dtype=dt)
    pos = np.flatnonzero(data != base).astype(np.int32)
    for is_float in (False, True):
        for kmax in (0, KMAX_LIMIT):
            for short in (False, True):
                coded = K.rc_encode_values(data, base, pos, False, w, is_float, kmax, short)
                same(coded, K.np_rc_encode_values(data, base, pos, False, w, is_float, kmax, short))
                out, err = K.rc_decode_values(base, pos, False, *coded, w, is_float, kmax, short)
                assert err == 0 and out.tobytes() == data.tobytes()


# -- rANS values (1- and 2-byte elements) ------------------------------------------------------------


@FAST
@given(pairs(), st.booleans())
def test_rans_value_kernels(case: tuple[int, np.ndarray, np.ndarray], is_float: bool) -> None:
    w, base, data = case
    if w > 16:
        return
    pos = np.flatnonzero(data != base).astype(np.int32)
    coded = K.rans_encode_values(data, base, pos, w, is_float)
    same(coded, K.np_rans_encode_values(data, base, pos, w, is_float))
    out, err = K.rans_decode_values(base, pos, *coded, w, is_float)
    assert err == 0 and out.tobytes() == data.tobytes()
    same((out, err), K.np_rans_decode_values(base, pos, *coded, w, is_float))


@FAST
@given(pairs(max_len=60), st.booleans(), st.data())
def test_rans_decoders_agree_on_garbage(case: tuple[int, np.ndarray, np.ndarray], is_float: bool,
                                        data_: st.DataObject) -> None:
    """A cut, extended, bit-flipped or random table, symbol stream or raw stream, or a position out of
    range: the kernel and its twin return the same output and error code, and neither crashes."""
    w, base, data = case
    if w > 16:
        return
    pos = np.flatnonzero(data != base).astype(np.int32)
    streams = list(K.rans_encode_values(data, base, pos, w, is_float))
    k = data_.draw(st.integers(0, 2))
    b = streams[k].copy()
    how = data_.draw(st.sampled_from(["cut", "extend", "flip", "random", "position"]))
    if how == "cut":
        b = b[: data_.draw(st.integers(0, max(0, b.size - 1)))]
    elif how == "extend":
        b = np.concatenate([b, np.frombuffer(data_.draw(st.binary(min_size=1, max_size=4)), np.uint8)])
    elif how == "flip" and b.size:
        i = data_.draw(st.integers(0, b.size * 8 - 1))
        b[i // 8] ^= np.uint8(1 << (i % 8))
    elif how == "random":
        b = np.frombuffer(data_.draw(st.binary(max_size=24)), np.uint8)
    elif how == "position" and pos.size:
        pos = pos.copy()
        pos[data_.draw(st.integers(0, pos.size - 1))] = data_.draw(st.sampled_from([-1, base.size, 2**31 - 1]))
    streams[k] = b
    same(K.rans_decode_values(base, pos, *streams, w, is_float),
         K.np_rans_decode_values(base, pos, *streams, w, is_float))


@pytest.mark.parametrize("w", [8, 16])
def test_rans_extremes(w: int) -> None:
    """Largest differences (bit length w, both signs), sign flips through zero, one element, and a
    skewed table where a rare symbol gets the smallest frequency (1 of 4096)."""
    dt = WIDTHS[w]
    top = np.iinfo(dt).max
    base = np.array([0, top, 1 << (w - 1), 0, (1 << (w - 1)) - 1, 5, top - 3], dtype=dt)
    data = np.array([top, 0, 0, 1 << (w - 1), 1 << (w - 1), 4, 2], dtype=dt)
    skew_base = np.full(20_000, 3, dt)
    skew = skew_base + dt(1)
    skew[7777] = top
    for b, d in ((base, data), (base[:1], data[:1]), (skew_base, skew)):
        pos = np.flatnonzero(d != b).astype(np.int32)
        for is_float in (False, True):
            coded = K.rans_encode_values(d, b, pos, w, is_float)
            same(coded, K.np_rans_encode_values(d, b, pos, w, is_float))
            out, err = K.rans_decode_values(b, pos, *coded, w, is_float)
            assert err == 0 and out.tobytes() == d.tobytes()


def test_range_coder_carry_chains() -> None:
    """Long runs of certain decisions push carries through 0xFF bytes; both coders must agree."""
    w, n = 16, 3000
    base = np.zeros(n, np.uint16)
    data = base.copy()
    data[::97] = 1  # nearly all zeros: probabilities saturate, 0xFF runs appear in the output
    for blocks in (False, True):
        buf = K.rc_encode_mask(data, base, w, blocks)
        same(buf, K.np_rc_encode_mask(data, base, w, blocks))
        pos, err = K.rc_decode_mask(buf, base, w, blocks, slots(int(np.count_nonzero(data))))
        assert err == 0 and np.array_equal(pos, np.flatnonzero(data))


# -- lowrank: the prediction both encoder and decoder compute, and the encoder's Gram-Schmidt -------

@st.composite
def predictions(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(widened base, u, v): random, tiny and huge values; NaN, Inf, -0.0 and subnormals sprinkled in."""
    m, n, r = draw(st.integers(1, 12)), draw(st.integers(1, 12)), draw(st.integers(0, 6))
    wide = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e20, 1e-40]))
    with np.errstate(all="ignore"):
        base = (rng.standard_normal(m * n) * scale).astype(wide)
        u = (rng.standard_normal((m, r)) * scale).astype(np.float32)
        v = (rng.standard_normal((r, n)) * scale).astype(np.float32)
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], np.float32)
    if draw(st.booleans()):
        for a in (base, u.reshape(-1), v.reshape(-1)):
            if a.size:
                a[rng.integers(0, a.size, 2)] = rng.choice(specials, 2).astype(a.dtype)
    return base, u, v


@FAST
@given(predictions())
def test_lowrank_predict(case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Bit-equal twins, except which NaN an operation returns (sign, payload): IEEE leaves that to the
    hardware and the compiler, so the codec maps every NaN of the prediction to one canonical NaN
    (lowrank.narrow) and the twins are compared after the same mapping."""
    base, u, v = case
    with np.errstate(all="ignore"):
        got, want = K.lowrank_predict(base, u, v), _K.np_lowrank_predict(base, u, v)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    canon = np.array(np.nan, dtype=got.dtype)
    same(np.where(np.isnan(got), canon, got), np.where(np.isnan(want), canon, want))


def test_lowrank_predict_order_is_fixed() -> None:
    """Summation order matters in float32: (1e8 + 1) - 1e8 is 0, 1e8 + (1 - 1e8) is 1."""
    u = np.array([[1e8, 1.0, -1e8]], np.float32)
    v = np.ones((3, 1), np.float32)
    base = np.zeros(1, np.float32)
    assert K.lowrank_predict(base, u, v)[0] == _K.np_lowrank_predict(base, u, v)[0] == np.float32(0.0)


@FAST
@given(st.integers(1, 10), st.integers(1, 30), st.integers(0, 2**32 - 1), st.booleans())
def test_orthonormal_rows(rows: int, n: int, seed: int, dependent: bool) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rows, n))
    if dependent and rows > 1:
        a[-1] = a[0] * 2.0 - a[1 % rows]  # in the span of the others: dropped
    q = K.orthonormal_rows(a, 1e-10)
    same(q, _K.np_orthonormal_rows(a, 1e-10))
    assert q.shape[0] <= min(rows, n)
    assert np.allclose(q @ q.T, np.eye(q.shape[0]), atol=1e-9)


@pytest.mark.parametrize("w", [32, 64])
def test_rans_refuses_wide_elements(w: int) -> None:
    """rans is for 1- and 2-byte elements: its raw-bit buffer holds at most 15 bits a change, so a
    wider call is refused before any kernel runs (the codec never makes one)."""
    dt = WIDTHS[w]
    base, data = np.zeros(8, dt), np.full(8, np.iinfo(dt).max >> 1, dt)
    pos = np.arange(8, dtype=np.int32)
    for encode in (K.rans_encode_values, K.np_rans_encode_values):
        with pytest.raises(ValueError):
            encode(data, base, pos, w, False)
    table = np.zeros(2, np.uint8)
    same(K.rans_decode_values(base, pos, table, np.zeros(4, np.uint8), table, w, False),
         K.np_rans_decode_values(base, pos, table, np.zeros(4, np.uint8), table, w, False))
    assert K.rans_decode_values(base, pos, table, np.zeros(4, np.uint8), table, w, False)[1] == _K.ERR_RANGE
