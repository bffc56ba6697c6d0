"""The ``lowrank`` codec: bit-exact whatever the input, small on a low-rank update, tried only where it can win.

Round trips are compared byte-wise for every float dtype it predicts (F64, F32,
F16, BF16) and the ones it does not (fp8, integers: rank 0), with NaN, Inf and
-0.0 in base and target, shapes down to 1×n and n×1, targets that are exactly
base + a low-rank update and targets unrelated to the base. Garbage behind a
valid frame checksum raises CorruptObjectError (test_frames_garbage.py runs
the generic attacks; here, the lowrank header and factor section).
"""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckvcs.codecs import codec_for_code, get_codec
from ckvcs.codecs import lowrank as L
from ckvcs.config import Config, load_config
from ckvcs.errors import CorruptObjectError
from ckvcs.format import DTYPES, DType
from ckvcs.ids import tensor_id
from ckvcs.objects.tensor import choose_codec, decode_frame, encode_tensor, parse_frame

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NP_FLOAT = {"F64": np.float64, "F32": np.float32, "F16": np.float16}
BASE_ID = "ba5e" * 8


def to_bits(x: np.ndarray, dtype: str) -> np.ndarray:
    """Float values (float64) as ``dtype``'s bits: numpy casts, torch for bf16 (round to nearest even)."""
    if dtype == "BF16":
        return torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    with np.errstate(over="ignore"):
        return x.astype(NP_FLOAT[dtype]).view(DTYPES[dtype].bits)


def lora_pair(m: int, n: int, r: int, dtype: str, seed: int, scale: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """(base bits, target bits): target = round(base + B@A), a rank-r move of a few percent."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, n)) * 0.05
    upd = (rng.standard_normal((m, r)) @ rng.standard_normal((r, n))) * 0.05 * scale / np.sqrt(r)
    base = to_bits(w, dtype)
    return base.reshape(-1), to_bits(L.widen(base, DTYPES[dtype]).astype(np.float64).reshape(m, n) + upd,
                                     dtype).reshape(-1)


def round_trip(dt: DType, data: np.ndarray, base: np.ndarray, shape: tuple[int, ...] | None) -> bytes:
    payload = get_codec("lowrank").encode(data, dt, base, shape=shape)
    out = codec_for_code(L.LowRankCodec.frame_code).decode(memoryview(payload), dt, data.size, base)
    assert out.dtype == dt.bits and out.tobytes() == data.tobytes()
    return payload


def rank_of(payload: bytes) -> int:
    return struct.unpack_from("<H", payload, 2)[0]


SPECIALS = {"F64": [0x8000000000000000, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000001, 1],
            "F32": [0x80000000, 0x7F800000, 0xFF800000, 0x7FC00001, 0xFFC12345, 1, 0x7F7FFFFF],
            "F16": [0x8000, 0x7C00, 0xFC00, 0x7E01, 0xFD00, 1, 0x7BFF],
            "BF16": [0x8000, 0x7F80, 0xFF80, 0x7FC1, 0xFFA0, 1, 0x7F7F]}


@FAST
@given(dtype=st.sampled_from(["F64", "F32", "F16", "BF16"]), m=st.integers(1, 40), n=st.integers(1, 40),
       r=st.integers(1, 4), kind=st.sampled_from(["lowrank", "unrelated", "same"]),
       specials=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_round_trip(dtype: str, m: int, n: int, r: int, kind: str, specials: bool, seed: int) -> None:
    dt = DTYPES[dtype]
    base, data = lora_pair(m, n, r, dtype, seed)
    rng = np.random.default_rng(seed)
    if kind == "unrelated":
        data = rng.integers(0, np.iinfo(dt.bits).max, data.size, dtype=dt.bits, endpoint=True)
    elif kind == "same":
        data = base.copy()
    if specials:
        pool = np.array(SPECIALS[dtype], dtype=np.uint64).astype(dt.bits)
        for arr in (base, data):
            idx = rng.integers(0, arr.size, max(1, arr.size // 5))
            arr[idx] = rng.choice(pool, idx.size)
    round_trip(dt, data, base, (m, n))


@pytest.mark.parametrize("dtype", ["F8_E4M3", "F8_E5M2", "I32", "U8", "BOOL"])
def test_unpredicted_dtypes_use_rank_zero(dtype: str) -> None:
    dt = DTYPES[dtype]
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2, 6 * 20, dtype=dt.bits) if dtype == "BOOL" else rng.integers(0, 100, 120).astype(dt.bits)
    data = base.copy()
    data[::7] ^= dt.bits.type(1)
    assert rank_of(round_trip(dt, data, base, (6, 20))) == 0


@pytest.mark.parametrize("shape", [(1, 50), (50, 1), (1, 1), (60,), None])
def test_degenerate_shapes(shape: tuple[int, ...] | None) -> None:
    n = int(np.prod(shape)) if shape else 50
    base, data = lora_pair(1, n, 1, "F32", 1)
    round_trip(DTYPES["F32"], data, base, shape)


@pytest.mark.parametrize("dtype", ["F32", "BF16", "F16"])
def test_a_low_rank_update_costs_a_fraction_of_tpde(dtype: str) -> None:
    dt = DTYPES[dtype]
    base, data = lora_pair(256, 192, 4, dtype, 7)
    payload = round_trip(dt, data, base, (256, 192))
    tpde = get_codec("tpde").encode(data, dt, base)
    assert 1 <= rank_of(payload) <= 8
    assert len(payload) * 2 < len(tpde), (len(payload), len(tpde))


def test_prediction_rounding_matches_ieee() -> None:
    """narrow() rounds like an IEEE cast (torch for bf16, numpy for f16), ties included."""
    rng = np.random.default_rng(5)
    with np.errstate(all="ignore"):
        spread = (rng.standard_normal(5000) * 10.0 ** rng.integers(-40, 38, 5000)).astype(np.float32)
    ties = (np.arange(0, 1 << 16, dtype=np.uint32) << 16 | 0x8000).view(np.float32)  # bf16 halfway points
    x = np.concatenate([spread, ties, np.array([3.4e38, -3.4e38, 1e-45, 6.6e4, 7e4, -0.0], np.float32)])
    x = x[~np.isnan(x)]
    bf = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(L.narrow(x, DTYPES["BF16"]), bf)
    with np.errstate(over="ignore"):
        assert np.array_equal(L.narrow(x, DTYPES["F16"]), x.astype(np.float16).view(np.uint16))
    nan = np.array([np.nan, -np.nan], np.float32)
    nan.view(np.uint32)[1] |= 0x1234
    assert L.narrow(nan, DTYPES["BF16"]).tolist() == [0x7FC0, 0x7FC0]
    assert L.narrow(nan, DTYPES["F32"]).tolist() == [0x7FC00000] * 2


# -- choice -------------------------------------------------------------------------------------------

ALL = ["raw", "xor", "odelta", "tpde", "lowrank"]


def test_choice_takes_lowrank_for_a_merged_lora_update() -> None:
    base, data = lora_pair(384, 256, 8, "F32", 11)
    dt = DTYPES["F32"]
    chosen, payload = choose_codec(data, dt, base, [get_codec(c) for c in ALL], (384, 256))
    assert chosen.codec_id == "lowrank" and payload is not None
    oid = tensor_id("F32", (384, 256), data)
    enc = encode_tensor(data, dt, (384, 256), oid, (BASE_ID, base), [get_codec(c) for c in ALL])
    assert enc.codec == "lowrank" and enc.base_id == BASE_ID
    assert decode_frame(parse_frame(enc.frame, expect_id=oid), base).tobytes() == data.tobytes()


def test_full_rank_update_is_not_encoded_by_lowrank() -> None:
    """A training step (every element moves, full rank) fails the sampled-row check: lowrank's
    whole-tensor encode, the expensive part, never runs."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((256, 384)).astype(np.float32)
    base = w.view(np.uint32).reshape(-1)
    data = (w + rng.standard_normal(w.shape).astype(np.float32) * 1e-3).view(np.uint32).reshape(-1)
    c = get_codec("lowrank")
    assert not c.explains(data, DTYPES["F32"], base, (256, 384))

    class Counting(L.LowRankCodec):
        calls = 0

        def encode(self, *a: object, **k: object) -> bytes:
            Counting.calls += 1
            return super().encode(*a, **k)  # type: ignore[arg-type]

    chosen, _ = choose_codec(data, DTYPES["F32"], base, [get_codec(c) for c in ALL[:4]] + [Counting()],
                             (256, 384))
    assert chosen.codec_id != "lowrank" and Counting.calls == 0


@pytest.mark.parametrize("shape", [(8, 512), (512, 8), (4096,)])
def test_lowrank_not_tried_on_small_or_1d(shape: tuple[int, ...]) -> None:
    n = int(np.prod(shape))
    base, data = lora_pair(1, n, 1, "F32", 4)
    chosen, _ = choose_codec(data, DTYPES["F32"], base, [get_codec(c) for c in ALL], shape)
    assert chosen.codec_id != "lowrank"


def test_default_candidates_include_lowrank_and_explicit_lists_are_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "lowrank" in Config().candidates
    cfg = tmp_path / "config.toml"
    cfg.write_text(Config().with_(candidates=("raw", "xor", "odelta", "tpde")).to_toml())
    assert load_config(cfg).candidates == ("raw", "xor", "odelta", "tpde")


# -- garbage ------------------------------------------------------------------------------------------

def _frame() -> tuple[bytes, np.ndarray, np.ndarray, bytes]:
    base, data = lora_pair(24, 20, 2, "F32", 9)
    oid = tensor_id("F32", (24, 20), data)
    enc = encode_tensor(data, DTYPES["F32"], (24, 20), oid, (BASE_ID, base), [get_codec("lowrank")])
    fr = parse_frame(enc.frame)
    return enc.frame, base, data, bytes(fr.payload)


def _decode(payload: bytes, base: np.ndarray) -> np.ndarray:
    from test_frames_garbage import full_decode, with_payload  # the shared frame surgery
    frame, _, _, _ = _frame()
    return full_decode(with_payload(frame, payload), base)


def test_sample_frame_has_factors() -> None:
    _, _, _, payload = _frame()
    assert rank_of(payload) >= 1


@pytest.mark.parametrize("mutate", [
    lambda p: bytes([2]) + p[1:],                                       # unknown version
    lambda p: p[:1] + b"\x01" + p[2:],                                  # reserved byte set
    lambda p: p[:2] + struct.pack("<H", 21) + p[4:],                    # rank above min(m, n)
    lambda p: p[:2] + struct.pack("<H", 0) + p[4:],                     # rank 0: the rest is no tpde payload
    lambda p: p[:4] + struct.pack("<QQ", 20, 24) + p[20:] + b"",        # shape swapped: factor sizes lie
    lambda p: p[:4] + struct.pack("<QQ", 25, 20) + p[20:],              # shape does not hold the count
    lambda p: p[:20] + struct.pack("<Q", 1 << 62) + p[28:],             # factor length past the end
    lambda p: p[:20] + struct.pack("<Q", 5) + p[28:],                   # factor length too short
    lambda p: p[:27],                                                   # truncated inside the header
    lambda p: p + b"\0",                                                # trailing byte
])
def test_garbage_payload_is_corrupt(mutate) -> None:  # type: ignore[no-untyped-def]
    _, base, data, payload = _frame()
    try:
        out = _decode(mutate(payload), base)
    except CorruptObjectError:
        return
    assert out.tobytes() == data.tobytes()  # only the unchanged object may come back


@FAST
@given(where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_bit_flips_are_corrupt_or_harmless(where: float, bit: int) -> None:
    _, base, data, payload = _frame()
    bad = bytearray(payload)
    bad[int(where * len(bad))] ^= 1 << bit
    try:
        out = _decode(bytes(bad), base)
    except CorruptObjectError:
        return
    assert out.tobytes() == data.tobytes()
