"""``tpde`` is lossless bit for bit on every dtype, in every mode, and refuses garbage with ValueError.

Round trips compare ``.tobytes()``: NaN payloads, -0.0/+0.0, Inf and
subnormals must come back exactly. Every position mode (gaps, bitmap, model,
blocks) is crossed with every value mode (planes, model, short, rans; rans on
wider than 2-byte elements falls back to ``auto``) as well as ``auto``; inputs
are hypothesis pairs with none / one / few / many / all elements changed, the
fixed edge arrays of ``strategies``, and a tensor large enough for ``auto`` to
pick modes by heuristics instead of trying them all.
"""
from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import FLOAT_DTYPES, TENSOR_DTYPES, bases_for, changed_pairs, edge_arrays, special_patterns

from ckvcs.codecs import codec_for_code, get_codec
from ckvcs.codecs.delta import to_ordered, unzigzag, zigzag
from ckvcs.codecs.tpde import SMALL, TpdeCodec
from ckvcs.format import DTYPES, DType

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODES = [("auto", "auto")] + [(p, v) for p in ("gaps", "bitmap", "model", "blocks")
                               for v in ("planes", "model", "short", "rans")]


def roundtrip(codec: TpdeCodec, dt: DType, base: np.ndarray, data: np.ndarray) -> bytes:
    payload = codec.encode(data, dt, base)
    out = codec_for_code(3).decode(memoryview(payload), dt, data.size, base)
    assert out.dtype == dt.bits and out.shape == (data.size,) and out.flags.writeable
    assert out.tobytes() == data.tobytes()
    return payload


def tpde(positions: str = "auto", values: str = "auto", kmax: int = 3) -> TpdeCodec:
    return TpdeCodec(positions=positions, values=values, kmax=kmax)


# -- round trips ------------------------------------------------------------------------------------


@FAST
@given(changed_pairs(), st.sampled_from(MODES), st.sampled_from([0, 3, 10]))
def test_roundtrip_every_mode(case: tuple[DType, np.ndarray, np.ndarray], modes: tuple[str, str],
                              kmax: int) -> None:
    dt, base, data = case
    roundtrip(tpde(*modes, kmax=kmax), dt, base, data)


@pytest.mark.parametrize("name", TENSOR_DTYPES)
@pytest.mark.parametrize("modes", MODES)
def test_edge_arrays_every_dtype(name: str, modes: tuple[str, str]) -> None:
    dt = DTYPES[name]
    codec = tpde(*modes)
    for data in edge_arrays(name).values():
        for base in bases_for(data).values():
            roundtrip(codec, dt, base, data)
            roundtrip(codec, dt, data, base)


@pytest.mark.parametrize("name", FLOAT_DTYPES)
def test_every_special_to_every_special(name: str) -> None:
    """Each special pattern (±0, ±Inf, NaN payloads, subnormals, extremes) changed into each other one."""
    dt = DTYPES[name]
    pats = list(special_patterns(name).values())
    base = np.array([a for a in pats for _ in pats], dtype=np.uint64).astype(dt.bits)
    data = np.array([b for _ in pats for b in pats], dtype=np.uint64).astype(dt.bits)
    for modes in MODES:
        roundtrip(tpde(*modes), dt, base, data)


@pytest.mark.parametrize("name", ["BF16", "F32", "F16", "F64", "I64", "U8", "BOOL"])
@pytest.mark.parametrize("density", [0.0, 0.001, 0.18, 0.9, 1.0])
def test_large_tensor_heuristics(name: str, density: float) -> None:
    """Above SMALL elements ``auto`` chooses modes without trying all: still exact."""
    dt = DTYPES[name]
    n = SMALL + 4099
    rng = np.random.default_rng(7)
    if dt.is_float:
        w = {1: np.float16, 2: np.float16, 4: np.float32, 8: np.float64}[dt.itemsize]
        base = rng.normal(0, 0.05, n).astype(w).view(f"<u{max(dt.itemsize, 2)}").astype(dt.bits)
    else:
        base = rng.integers(0, 2 if name == "BOOL" else 1 << 30, n).astype(dt.bits)
    change = rng.random(n) < density
    data = base.copy()
    step = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int64)
    data[change] = (base[change].astype(np.int64) + step[change]).astype(dt.bits)
    if name == "BOOL":
        data[change] = 1 - base[change]
    payload = roundtrip(tpde(), dt, base, data)
    if 0 < density < 1 and dt.is_float and dt.itemsize == 2:
        assert len(payload) < len(get_codec("xor").encode(data, dt, base))


def _modes(payload: bytes) -> tuple[int, int]:
    return payload[0], payload[1]


def test_large_tensor_rules_pick_blocks_rans_and_short_lengths() -> None:
    """Counting, not trying: changes clustered in rows take the block mask; 2-byte floats take rans
    values; wider ones take short lengths for one-ulp moves and keep the plain length tree for
    wide moves. Every choice round-trips."""
    rng = np.random.default_rng(3)
    rows, cols = 600, 256
    bf = DTYPES["BF16"]
    base = (rng.normal(0, 0.05, rows * cols).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    data = base.copy().reshape(rows, cols)
    hot = rng.random(rows) < 0.3                            # 30% of the rows (tokens) were trained
    moved = (rng.random((rows, cols)) < 0.5) & hot[:, None]
    data[moved] += np.where(rng.random(int(moved.sum())) < 0.5, 1, 0xFFFF).astype(np.uint16)
    data = data.reshape(-1)
    assert _modes(roundtrip(tpde(), bf, base, data)) == (3, 3)          # blocks, rans
    spread = base.copy()
    spread[rng.random(base.size) < 0.4] += np.uint16(1)                 # no block is left empty
    assert _modes(roundtrip(tpde(), bf, base, spread)) == (2, 3)        # model, rans
    few = base.copy()
    few[rng.choice(base.size, 1000, replace=False)] ^= np.uint16(1)     # too few changes for a table
    assert _modes(roundtrip(tpde(), bf, base, few))[1] == 2             # short
    f32 = DTYPES["F32"]
    fb = rng.normal(0, 0.05, SMALL + 1000).astype(np.float32)
    fd = (fb + rng.normal(0, 1e-4, fb.size).astype(np.float32)).astype(np.float32)
    assert _modes(roundtrip(tpde(), f32, fb.view(np.uint32), fd.view(np.uint32)))[1] == 1  # model
    ulp = fb.view(np.uint32).copy()
    ulp[rng.random(ulp.size) < 0.3] += np.uint32(1)
    assert _modes(roundtrip(tpde(), f32, fb.view(np.uint32), ulp))[1] == 2  # short


def test_one_ulp_moves_cost_little() -> None:
    """18% of bf16 elements, at random, moving one ulp: near the entropy (H(0.18)/0.18 + 1 sign bit
    = 4.8 bits a change), far below XOR."""
    dt = DTYPES["BF16"]
    rng = np.random.default_rng(1)
    n = 200_000
    base = (rng.normal(0, 0.05, n).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    change = rng.random(n) < 0.18
    data = base.copy()
    data[change] = to_ordered(to_ordered(base[change]) + np.where(rng.random(int(change.sum())) < 0.5,
                                                                   np.uint16(1), np.uint16(0xFFFF)))
    payload = roundtrip(tpde(), dt, base, data)
    assert len(payload) * 8 / change.sum() < 5.2
    assert len(payload) < 0.7 * len(get_codec("xor").encode(data, dt, base))


@pytest.mark.parametrize("n", [0, 1])
@pytest.mark.parametrize("modes", MODES)
def test_empty_and_single(n: int, modes: tuple[str, str]) -> None:
    for name in TENSOR_DTYPES:
        dt = DTYPES[name]
        base = np.full(n, 3, dt.bits)
        roundtrip(tpde(*modes), dt, base, base.copy())
        roundtrip(tpde(*modes), dt, base, base ^ dt.bits.type(1))


def test_config_roundtrip_and_registry() -> None:
    c = get_codec({"id": "tpde", "level": 5, "positions": "gaps", "values": "model", "kmax": 4})
    assert isinstance(c, TpdeCodec) and c.uses_base and c.frame_code == 3
    assert type(c).from_config(c.get_config()).get_config() == c.get_config()
    with pytest.raises(ValueError):
        TpdeCodec(positions="nope")
    with pytest.raises(ValueError):
        TpdeCodec(kmax=99)


def test_needs_a_matching_base() -> None:
    dt = DTYPES["F32"]
    data = np.arange(10, dtype=np.uint32)
    with pytest.raises(ValueError):
        tpde().encode(data, dt, None)
    with pytest.raises(ValueError):
        tpde().encode(data, dt, data[:5])
    payload = tpde().encode(data, dt, data)
    with pytest.raises(ValueError):
        tpde().decode(payload, dt, 10, data[:9])


# -- the ordered-integer map ------------------------------------------------------------------------


@FAST
@given(st.lists(st.floats(width=32, allow_nan=False), min_size=2, max_size=50))
def test_ordered_map_is_monotone(values: list[float]) -> None:
    """Float order (with -0.0 just below +0.0) is signed order of the mapped bits."""
    x = np.array(values, dtype=np.float32)
    key = to_ordered(x.view(np.uint32)).view(np.int32)
    order = sorted(range(len(values)), key=lambda i: (values[i], not np.signbit(x[i])))
    assert all(key[a] <= key[b] for a, b in zip(order, order[1:]))


@pytest.mark.parametrize("dt", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_ordered_map_and_zigzag_are_bijections(dt: type) -> None:
    w = np.dtype(dt).itemsize * 8
    if w <= 16:
        v = np.arange(1 << w, dtype=np.uint64).astype(dt)
        assert np.unique(to_ordered(v)).size == v.size and np.unique(zigzag(v)).size == v.size
    else:
        v = np.random.default_rng(0).integers(0, np.iinfo(dt).max, 10_000, dtype=dt, endpoint=True)
    assert np.array_equal(to_ordered(to_ordered(v)), v)
    assert np.array_equal(unzigzag(zigzag(v)), v)
    minus_zero = dt(1 << (w - 1))
    assert to_ordered(np.array([minus_zero], dt)).view(f"i{w // 8}")[0] == -1
    assert to_ordered(np.array([0], dt))[0] == 0


# -- garbage ----------------------------------------------------------------------------------------


def _payloads() -> list[tuple[str, DType, np.ndarray, bytes]]:
    rng = np.random.default_rng(3)
    out = []
    for name in ("BF16", "F32", "I16", "U8", "F64"):
        dt = DTYPES[name]
        base = rng.integers(0, 1 << min(62, 8 * dt.itemsize), 300, dtype=np.uint64).astype(dt.bits)
        data = base.copy()
        idx = rng.choice(300, 60, replace=False)
        data[idx] = base[idx] + dt.bits.type(1)
        for modes in MODES:
            out.append((f"{name}-{modes}", dt, base, tpde(*modes).encode(data, dt, base)))
    return out


PAYLOADS = _payloads()


def decode_or_value_error(payload: bytes, dt: DType, base: np.ndarray) -> None:
    """Garbage may decode (the frame's hash check catches that) but must only ever raise ValueError."""
    try:
        out = codec_for_code(3).decode(payload, dt, base.size, base)
    except ValueError:
        return
    assert out.dtype == dt.bits and out.size == base.size


@pytest.mark.parametrize("label,dt,base,payload", PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_truncated_payloads_raise(label: str, dt: DType, base: np.ndarray, payload: bytes) -> None:
    for cut in range(len(payload)):
        with pytest.raises(ValueError):
            codec_for_code(3).decode(payload[:cut], dt, base.size, base)
    with pytest.raises(ValueError):
        codec_for_code(3).decode(payload + b"\0", dt, base.size, base)


@FAST
@given(st.sampled_from(PAYLOADS), st.data())
def test_flipped_bits_never_crash(case: tuple, data: st.DataObject) -> None:
    _, dt, base, payload = case
    buf = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(buf) * 8 - 1))
        buf[i // 8] ^= 1 << (i % 8)
    decode_or_value_error(bytes(buf), dt, base)


@FAST
@given(st.sampled_from(PAYLOADS), st.binary(max_size=64))
def test_random_stream_sets_never_crash(case: tuple, junk: bytes) -> None:
    """A valid header in front of junk, and junk in front of valid streams."""
    _, dt, base, payload = case
    decode_or_value_error(payload[:12] + junk, dt, base)
    decode_or_value_error(junk[:12].ljust(12, b"\0") + payload[12:], dt, base)


def test_header_is_checked() -> None:
    dt = DTYPES["BF16"]
    base = np.arange(20, dtype=np.uint16)
    payload = tpde().encode(base + np.uint16(1), dt, base)
    pos, val, kmax, reserved, nnz = struct.unpack_from("<BBBBQ", payload)
    rest = payload[12:]
    for bad in [(4, val, kmax, 0, nnz), (pos, 3, kmax, 0, nnz), (pos, val, 11, 0, nnz),
                (pos, val, kmax, 1, nnz), (pos, val, kmax, 0, 21), (pos, val, kmax, 0, nnz - 1),
                (pos, val, kmax, 0, 2**64 - 1)]:
        with pytest.raises(ValueError):
            tpde().decode(struct.pack("<BBBBQ", *bad) + rest, dt, 20, base)
    with pytest.raises(ValueError):
        tpde().decode(payload[:11], dt, 20, base)


def test_block_size_agrees_with_the_kernels() -> None:
    from ckvcs.codecs import _kernels
    from ckvcs.codecs import tpde as tpde_module

    assert tpde_module.BLOCK == _kernels.BLOCK == 16  # _mask_model counts blocks as two 8-byte words
