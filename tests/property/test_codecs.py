"""Every registered codec is lossless, bit for bit, on every dtype — and so is the frame path.

Codecs are taken from ``registered_ids()``, so a codec added later (``tpde``)
is covered without editing this file; one with ``uses_base`` is given a base
of the same length. Results are compared with ``.tobytes()``: NaN payloads,
-0.0 and subnormals must come back exactly.

Fixed edge arrays (``strategies.edge_arrays``) run for every codec × dtype on
every run; hypothesis explores around them.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import (TENSOR_DTYPES, bases_for, bit_arrays, changed_pairs, edge_arrays, shapes_for,
                        special_patterns)

from ckvcs.codecs import Codec, codec_class_for_code, codec_for_code, get_codec, registered_ids
from ckvcs.codecs._streams import (MAX_STREAMS, join_planes, pack_streams, rotl1, rotr1, split_planes,
                                   unpack_streams)
from ckvcs.codecs.frame import KIND_BLOB, KIND_TENSOR
from ckvcs.errors import UnknownCodecError
from ckvcs.format import BYTES, DTYPES, DType
from ckvcs.ids import blob_id, tensor_id
from ckvcs.objects import tensor as tensor_mod
from ckvcs.objects.tensor import choose_codec, decode_frame, encode_blob, encode_tensor, parse_frame

CODEC_IDS = registered_ids()
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE_ID = "ba5e" * 8


def codec(cid: str) -> Codec:
    return get_codec(cid)


def roundtrip(c: Codec, dt: DType, data: np.ndarray, base: np.ndarray | None) -> None:
    """Encode, decode with a fresh default instance (decoding needs no encoder parameters), compare bytes."""
    payload = c.encode(data, dt, base if c.uses_base else None)
    assert isinstance(payload, bytes | bytearray)
    dec = codec_for_code(c.frame_code)
    out = dec.decode(memoryview(payload), dt, data.size, base if c.uses_base else None)
    assert out.dtype == dt.bits
    assert out.shape == (data.size,)
    assert out.tobytes() == data.tobytes()
    assert out.flags.writeable


def some_base(c: Codec, data: np.ndarray) -> np.ndarray | None:
    return (~data) if c.uses_base else None


# -- registry and config ----------------------------------------------------------------------------

def test_registry_has_the_built_in_codecs() -> None:
    assert {"raw", "xor"} <= set(CODEC_IDS)


@pytest.mark.parametrize("cid", CODEC_IDS)
def test_config_is_json_and_round_trips(cid: str) -> None:
    c = codec(cid)
    cfg = c.get_config()
    assert cfg["id"] == cid == c.codec_id
    assert json.loads(json.dumps(cfg)) == cfg
    again = get_codec(json.loads(json.dumps(cfg)))
    assert type(again) is type(c) and again.get_config() == cfg
    assert type(c).from_config(cfg).get_config() == cfg
    assert codec_class_for_code(c.frame_code) is type(c)


def test_frame_codes_are_unique_and_fit_a_byte() -> None:
    codes = [type(codec(cid)).frame_code for cid in CODEC_IDS]
    assert len(set(codes)) == len(codes)
    assert all(0 < code < 256 for code in codes)


@pytest.mark.parametrize("bad", ["nope", {"id": "nope"}, {}])
def test_unknown_codec_id(bad: object) -> None:
    with pytest.raises(UnknownCodecError):
        get_codec(bad)  # type: ignore[arg-type]


def test_unknown_frame_code() -> None:
    with pytest.raises(UnknownCodecError):
        codec_for_code(255)


# -- codec round trips: fixed edges ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", TENSOR_DTYPES)
@pytest.mark.parametrize("cid", CODEC_IDS)
def test_edge_arrays_round_trip(cid: str, dtype: str) -> None:
    c, dt = codec(cid), DTYPES[dtype]
    for label, data in edge_arrays(dtype).items():
        bases = bases_for(data) if c.uses_base else {"none": None}
        for blabel, base in bases.items():
            try:
                roundtrip(c, dt, data, base)
            except AssertionError as e:
                raise AssertionError(f"{cid} {dtype} {label} base={blabel}") from e


@pytest.mark.parametrize("dtype", [d for d in TENSOR_DTYPES if DTYPES[d].is_float])
@pytest.mark.parametrize("cid", CODEC_IDS)
def test_each_special_float_pattern_alone(cid: str, dtype: str) -> None:
    c, dt = codec(cid), DTYPES[dtype]
    for label, pattern in special_patterns(dtype).items():
        data = np.array([pattern], dtype=np.uint64).astype(dt.bits)
        roundtrip(c, dt, data, some_base(c, data))


@pytest.mark.parametrize("cid", CODEC_IDS)
def test_input_is_not_modified(cid: str) -> None:
    c, dt = codec(cid), DTYPES["F32"]
    data = np.arange(50, dtype=np.uint32) * np.uint32(0x01010101)
    base = data[::-1].copy()
    before, before_base = data.tobytes(), base.tobytes()
    c.encode(data, dt, base if c.uses_base else None)
    assert data.tobytes() == before and base.tobytes() == before_base


# -- codec round trips: hypothesis ------------------------------------------------------------------

@pytest.mark.parametrize("cid", CODEC_IDS)
@FAST
@given(pair=changed_pairs())
def test_round_trip_against_changed_base(cid: str, pair: tuple[DType, np.ndarray, np.ndarray]) -> None:
    dt, base, new = pair
    roundtrip(codec(cid), dt, new, base)


@pytest.mark.parametrize("cid", CODEC_IDS)
@FAST
@given(arr=bit_arrays(), level=st.sampled_from([1, 3, 19]))
def test_round_trip_any_bits(cid: str, arr: tuple[DType, np.ndarray], level: int) -> None:
    dt, data = arr
    c = codec(cid)
    cfg = c.get_config()
    if "level" in cfg:
        c = get_codec({**cfg, "level": level})
    roundtrip(c, dt, data, some_base(c, data))


# -- the frame path ---------------------------------------------------------------------------------

def frame_round_trip(dt: DType, new: np.ndarray, base: np.ndarray | None, candidates: list[Codec],
                     shape: tuple[int, ...]) -> str:
    oid = tensor_id(dt.name, shape, new)
    enc = encode_tensor(new, dt, shape, oid, (BASE_ID, base) if base is not None else None, candidates)
    fr = parse_frame(enc.frame, expect_id=oid)
    assert fr.kind == KIND_TENSOR and fr.dtype == dt and fr.shape == shape and fr.object_id == oid
    assert fr.decoded_len == new.nbytes and fr.count == new.size
    chosen = get_codec(enc.codec)
    assert fr.codec_code == chosen.frame_code
    assert enc.base_id == fr.base_id == (BASE_ID if chosen.uses_base else None)
    out = decode_frame(fr, base if fr.base_id else None)
    assert out.tobytes() == new.tobytes() and out.dtype == dt.bits
    return enc.codec


@pytest.mark.parametrize("dtype", TENSOR_DTYPES)
@pytest.mark.parametrize("cid", CODEC_IDS)
def test_frame_path_each_codec_edges(cid: str, dtype: str) -> None:
    c, dt = codec(cid), DTYPES[dtype]
    for data in edge_arrays(dtype).values():
        base = (~data) if c.uses_base else None
        for shape in shapes_for(data.size)[:3]:
            assert frame_round_trip(dt, data, base, [c], shape) == cid


@FAST
@given(pair=changed_pairs(), data=st.data())
def test_frame_path_codec_choice(pair: tuple[DType, np.ndarray, np.ndarray], data: st.DataObject) -> None:
    dt, base, new = pair
    shape = data.draw(st.sampled_from(shapes_for(new.size)))
    with_base = data.draw(st.booleans())
    candidates = [codec(cid) for cid in CODEC_IDS]
    frame_round_trip(dt, new, base if with_base else None, candidates, shape)


@FAST
@given(arr=bit_arrays())
def test_choose_codec_picks_the_smallest(arr: tuple[DType, np.ndarray]) -> None:
    dt, data = arr
    base = data ^ dt.bits.type(1)  # every element changed: a dense delta, every candidate is tried
    candidates = [codec(cid) for cid in CODEC_IDS]
    chosen, payload = choose_codec(data, dt, base, candidates)
    sizes = {c.codec_id: len(c.encode(data, dt, base if c.uses_base else None)) for c in candidates}
    assert sizes[chosen.codec_id] == min(sizes.values())
    if payload is not None:
        assert payload == chosen.encode(data, dt, base if chosen.uses_base else None)


@pytest.mark.parametrize("n", [4_000, 600_000])  # the whole tensor tried / a sample
@pytest.mark.parametrize("changed", [0.02, 0.2, 0.45, 0.6, 1.0])
def test_sparse_deltas_try_only_sparse_codecs(n: int, changed: float) -> None:
    dt = DTYPES["BF16"]
    rng = np.random.default_rng(1)
    base = rng.integers(0, 1 << 16, n, dtype=np.uint16)
    new = base.copy()
    idx = rng.permutation(n)[: int(round(changed * n))]
    new[idx] ^= np.uint16(0x0100)  # a big, regular move: a dense codec is smaller at every fraction here
    candidates = [codec(cid) for cid in CODEC_IDS]
    chosen, _ = choose_codec(new, dt, base, candidates)
    if changed <= tensor_mod.SPARSE_MAX:
        assert chosen.sparse
    else:
        dense = min(len(c.encode(new, dt, base if c.uses_base else None)) for c in candidates if not c.sparse)
        sparse = min(len(c.encode(new, dt, base)) for c in candidates if c.sparse)
        assert chosen.sparse == (sparse < dense)


def test_sparse_rule_needs_a_sparse_candidate() -> None:
    dt = DTYPES["BF16"]
    base = np.arange(4000, dtype=np.uint16)
    new = base.copy()
    new[::100] += np.uint16(1)
    chosen, _ = choose_codec(new, dt, base, [codec("raw"), codec("xor")])
    assert chosen.codec_id in ("raw", "xor")


def test_large_tensor_takes_the_sampled_path() -> None:
    dt = DTYPES["BF16"]
    rng = np.random.default_rng(0)
    base = rng.integers(0, 1 << 16, 600_000, dtype=np.uint16)   # > FULL_TRIAL_BYTES
    new = base.copy()
    idx = rng.choice(base.size, base.size // 5, replace=False)
    new[idx] += np.uint16(1)
    used = frame_round_trip(dt, new, base, [codec(cid) for cid in CODEC_IDS], (600, 1000))
    assert used in CODEC_IDS


def test_delta_only_candidates_without_base_fall_back() -> None:
    dt = DTYPES["F32"]
    data = np.arange(10, dtype=np.uint32)
    frame_round_trip(dt, data, None, [codec("xor")], (10,))


@FAST
@given(data=st.binary(max_size=3000))
def test_blob_frame_round_trip(data: bytes) -> None:
    oid = blob_id(data)
    enc = encode_blob(data, oid, codec("raw"))
    fr = parse_frame(enc.frame, expect_id=oid)
    assert fr.kind == KIND_BLOB and fr.dtype == BYTES and fr.shape == () and fr.base_id is None
    assert decode_frame(fr, None).tobytes() == data


# -- building blocks --------------------------------------------------------------------------------

@FAST
@given(arr=bit_arrays())
def test_rotl1_rotr1_are_inverse(arr: tuple[DType, np.ndarray]) -> None:
    _, bits = arr
    assert rotr1(rotl1(bits)).tobytes() == bits.tobytes()
    assert rotl1(rotr1(bits)).tobytes() == bits.tobytes()
    width = bits.dtype.itemsize * 8
    x = bits
    for _ in range(width):
        x = rotl1(x)
    assert x.tobytes() == bits.tobytes()
    assert rotl1(bits).dtype == bits.dtype


@pytest.mark.parametrize("dtype", ["F8_E4M3", "BF16", "F32", "F64"])
def test_rotl1_moves_the_sign_to_bit_zero(dtype: str) -> None:
    dt = DTYPES[dtype]
    w = dt.itemsize * 8
    sign = np.array([1 << (w - 1)], dtype=np.uint64).astype(dt.bits)
    assert int(rotl1(sign)[0]) == 1
    assert int(rotr1(np.array([1], dtype=dt.bits))[0]) == 1 << (w - 1)
    top_byte = np.array([0x7F << (w - 8)], dtype=np.uint64).astype(dt.bits)   # +, exponent bits of bf16/fp32
    assert int(rotl1(top_byte)[0]) >> (w - 8) == 0xFE


@FAST
@given(arr=bit_arrays())
def test_byte_planes_round_trip(arr: tuple[DType, np.ndarray]) -> None:
    dt, bits = arr
    planes = split_planes(bits)
    assert len(planes) == dt.itemsize
    assert all(p.dtype == np.uint8 and p.size == bits.size for p in planes)
    for i, p in enumerate(planes):   # plane i is byte i (little-endian) of every element
        assert p.tobytes() == ((bits.astype(np.uint64) >> np.uint64(8 * i)) & np.uint64(0xFF)).astype(
            np.uint8).tobytes()
    assert join_planes([p.tobytes() for p in planes], dt.bits, bits.size).tobytes() == bits.tobytes()
    assert join_planes(planes, dt.bits, bits.size).tobytes() == bits.tobytes()


def test_join_planes_rejects_wrong_counts() -> None:
    with pytest.raises(ValueError):
        join_planes([b"ab"], np.dtype("<u2"), 2)
    with pytest.raises(ValueError):
        join_planes([b"ab", b"a"], np.dtype("<u2"), 2)


repeated_bytes = st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=4), st.integers(1, 500))
streams_st = st.lists(st.one_of(st.binary(max_size=600), repeated_bytes), max_size=MAX_STREAMS)


@FAST
@given(streams=streams_st, level=st.sampled_from([1, 3, 19]))
def test_pack_unpack_streams_round_trip(streams: list[bytes], level: int) -> None:
    packed = pack_streams(streams, level)
    assert unpack_streams(packed) == streams
    assert unpack_streams(memoryview(packed), expect=len(streams)) == streams
    assert len(packed) <= 1 + 17 * len(streams) + sum(len(s) for s in streams)  # never worse than stored
    if streams:
        with pytest.raises(ValueError):
            unpack_streams(packed, expect=len(streams) + 1)


def test_pack_streams_accepts_arrays_and_memoryviews() -> None:
    a = np.arange(1000, dtype=np.uint16)
    out = unpack_streams(pack_streams([a, memoryview(b"xyz"), b""], 3))
    assert out == [a.tobytes(), b"xyz", b""]


def test_pack_streams_refuses_too_many() -> None:
    with pytest.raises(ValueError):
        pack_streams([b""] * (MAX_STREAMS + 1), 3)
