"""``odelta`` is lossless bit for bit on every dtype and refuses garbage with ValueError.

(``tests/property/test_codecs.py`` also covers it, as it covers every registered
codec; this file adds what is particular to it.)
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import TENSOR_DTYPES, bases_for, changed_pairs, edge_arrays

from ckvcs.codecs import codec_for_code, get_codec
from ckvcs.codecs.delta import OrderedDeltaCodec
from ckvcs.format import DTYPES, DType

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def roundtrip(dt: DType, base: np.ndarray, data: np.ndarray) -> bytes:
    payload = OrderedDeltaCodec().encode(data, dt, base)
    out = codec_for_code(4).decode(memoryview(payload), dt, data.size, base)
    assert out.dtype == dt.bits and out.shape == (data.size,) and out.flags.writeable
    assert out.tobytes() == data.tobytes()
    return payload


@FAST
@given(changed_pairs())
def test_roundtrip(case: tuple[DType, np.ndarray, np.ndarray]) -> None:
    roundtrip(*case)


@pytest.mark.parametrize("name", TENSOR_DTYPES)
def test_edge_arrays(name: str) -> None:
    for data in edge_arrays(name).values():
        for base in bases_for(data).values():
            roundtrip(DTYPES[name], base, data)


def test_ulp_moves_beat_xor() -> None:
    """Every fp32 element moving a few ulps, some across a binade: the ordered difference wins."""
    rng = np.random.default_rng(0)
    base = rng.normal(0, 0.05, 100_000).astype(np.float32).view(np.uint32)
    data = (base.view(np.int32) + rng.integers(-40, 40, base.size).astype(np.int32)).view(np.uint32)
    dt = DTYPES["F32"]
    assert len(roundtrip(dt, base, data)) < len(get_codec("xor").encode(data, dt, base))


@FAST
@given(st.binary(max_size=200), st.data())
def test_garbage_raises_value_error(junk: bytes, data: st.DataObject) -> None:
    """Junk, and a valid payload cut or bit-flipped: ValueError, or (undetectable here) 16 elements."""
    dt, base = DTYPES["BF16"], np.arange(16, dtype=np.uint16)
    good = bytearray(OrderedDeltaCodec().encode(base + np.uint16(3), dt, base))
    cut = good[: data.draw(st.integers(0, len(good) - 1))]
    i = data.draw(st.integers(0, len(good) * 8 - 1))
    good[i // 8] ^= 1 << (i % 8)
    for payload in (junk, bytes(cut), bytes(good)):
        try:
            out = OrderedDeltaCodec().decode(payload, dt, 16, base)
        except ValueError:
            continue
        assert out.size == 16 and out.dtype == np.uint16


def test_needs_a_base() -> None:
    dt = DTYPES["F32"]
    data = np.zeros(4, np.uint32)
    with pytest.raises(ValueError):
        OrderedDeltaCodec().encode(data, dt, None)
    with pytest.raises(ValueError):
        OrderedDeltaCodec().encode(data, dt, data[:3])
    with pytest.raises(ValueError):
        OrderedDeltaCodec().decode(OrderedDeltaCodec().encode(data, dt, data), dt, 4, data[:3])
