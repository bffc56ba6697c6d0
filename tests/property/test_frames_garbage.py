"""Garbage in a frame raises CorruptObjectError — never IndexError, ValueError, struct.error or a crash.

Two layers are attacked:

* the frame container (``parse_frame``): truncation at every length, every
  single bit flip, bad magic / version / kind / dtype, lying lengths,
  trailing bytes, the wrong expected id;
* the payload behind a *valid* checksum (``reseal`` recomputes it, as a buggy
  writer or a crafted file would): stream tables that lie, random bytes,
  flipped payload bits, and the wrong base handed to ``decode_frame``.

A decode that succeeds despite a mutation is accepted only if it returns the
original bytes: the object id is checked after decoding, so that is the one
way a mutation may go unnoticed.
"""
from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckvcs.codecs import get_codec, registered_ids
from ckvcs.codecs._streams import _ENTRY, MODE_STORED, MODE_ZSTD, pack_streams
from ckvcs.codecs.frame import (HEADER_MIN, KIND_BLOB, KIND_MANIFEST, KIND_TENSOR, MAX_DECODED, MAX_NDIM,
                                encode_frame)
from ckvcs.errors import CorruptObjectError, IntegrityError, UnknownCodecError
from ckvcs.format import BYTES, DTYPES
from ckvcs.ids import blob_id, tensor_id
from ckvcs.objects.tensor import decode_frame, encode_blob, encode_tensor, parse_frame

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE_ID = "ba5e" * 8
TRAILER = 8
OFF_VERSION, OFF_KIND, OFF_CODEC, OFF_DTYPE, OFF_ID, OFF_BASE, OFF_DLEN, OFF_PLEN, OFF_NDIM = (
    4, 5, 6, 7, 8, 24, 40, 48, 56)


# -- sample frames ----------------------------------------------------------------------------------

def _bits(dtype: str, n: int, seed: int = 0) -> np.ndarray:
    dt = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, n * dt.itemsize, dtype=np.uint8).view(dt.bits)


def tensor_frame(dtype: str, shape: tuple[int, ...], cid: str = "raw", smooth: bool = False
                 ) -> tuple[bytes, np.ndarray | None, np.ndarray]:
    """(frame, base bits or None, decoded bits) for a tensor encoded with codec ``cid``."""
    dt = DTYPES[dtype]
    n = int(np.prod(shape)) if shape else 1
    data = (np.arange(n, dtype=np.uint64) % 7).astype(dt.bits) if smooth else _bits(dtype, n)
    c = get_codec(cid)
    base = data ^ dt.bits.type(3) if c.uses_base else None
    oid = tensor_id(dtype, shape, data)
    enc = encode_tensor(data, dt, shape, oid, (BASE_ID, base) if base is not None else None, [c])
    return enc.frame, base, data


def blob_frame(data: bytes) -> tuple[bytes, None, np.ndarray]:
    enc = encode_blob(data, blob_id(data), get_codec("raw"))
    return enc.frame, None, np.frombuffer(data, dtype=np.uint8)


SAMPLES: dict[str, Callable[[], tuple[bytes, np.ndarray | None, np.ndarray]]] = {
    "raw_f32": lambda: tensor_frame("F32", (3, 4)),
    "raw_bf16_zstd": lambda: tensor_frame("BF16", (256,), smooth=True),
    "raw_0d": lambda: tensor_frame("F64", ()),
    "raw_empty": lambda: tensor_frame("I16", (0, 3)),
    "blob": lambda: blob_frame(b'{"hello": "world"}' * 20),
    "blob_empty": lambda: blob_frame(b""),
    **{f"{cid}_u8": (lambda cid=cid: tensor_frame("U8", (40,), cid)) for cid in registered_ids()},
    **{f"{cid}_f16_zstd": (lambda cid=cid: tensor_frame("F16", (300,), cid, smooth=True))
       for cid in registered_ids()},
}


def reseal(body: bytes) -> bytes:
    """Append a valid checksum to ``body`` (a frame without its trailer)."""
    return body + xxhash.xxh3_64_digest(body)


def patch(frame: bytes, offset: int, value: bytes) -> bytes:
    """``frame`` with ``value`` written at ``offset`` and the checksum recomputed."""
    body = bytearray(frame[:-TRAILER])
    body[offset : offset + len(value)] = value
    return reseal(bytes(body))


def with_payload(frame: bytes, payload: bytes) -> bytes:
    """``frame`` with its payload replaced (payload length and checksum fixed up)."""
    ndim = frame[OFF_NDIM]
    head = bytearray(frame[: HEADER_MIN + 8 * ndim])
    head[OFF_PLEN : OFF_PLEN + 8] = struct.pack("<Q", len(payload))
    return reseal(bytes(head) + payload)


def payload_of(frame: bytes) -> bytes:
    return frame[HEADER_MIN + 8 * frame[OFF_NDIM] : -TRAILER]


def full_decode(frame: bytes, base: np.ndarray | None, expect_id: str | None = None) -> np.ndarray:
    fr = parse_frame(frame, expect_id=expect_id)
    return decode_frame(fr, base if fr.base_id is not None else None)


def corrupt_or_same(frame: bytes, base: np.ndarray | None, want: np.ndarray) -> None:
    try:
        out = full_decode(frame, base)
    except CorruptObjectError:
        return
    assert out.tobytes() == want.tobytes()


@pytest.fixture(params=sorted(SAMPLES))
def sample(request: pytest.FixtureRequest) -> tuple[bytes, np.ndarray | None, np.ndarray]:
    return SAMPLES[request.param]()


def test_samples_decode(sample: tuple[bytes, np.ndarray | None, np.ndarray]) -> None:
    frame, base, want = sample
    assert full_decode(frame, base).tobytes() == want.tobytes()


# -- the container ----------------------------------------------------------------------------------

def test_every_truncation(sample: tuple[bytes, np.ndarray | None, np.ndarray]) -> None:
    frame, base, _ = sample
    for n in range(len(frame)):
        with pytest.raises(CorruptObjectError):
            full_decode(frame[:n], base)


def test_every_bit_flip_of_a_small_frame() -> None:
    frame, _, _ = tensor_frame("F32", (3,))
    for pos in range(len(frame)):
        for bit in range(8):
            bad = bytearray(frame)
            bad[pos] ^= 1 << bit
            with pytest.raises(CorruptObjectError):
                full_decode(bytes(bad), None)


@FAST
@given(name=st.sampled_from(sorted(SAMPLES)), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_bit_flip_anywhere(name: str, where: float, bit: int) -> None:
    frame, base, _ = SAMPLES[name]()
    bad = bytearray(frame)
    bad[int(where * len(frame))] ^= 1 << bit
    with pytest.raises(CorruptObjectError):
        full_decode(bytes(bad), base)


@pytest.mark.parametrize("extra", [b"\0", b"CKVF", b"\0" * 64])
def test_trailing_bytes(sample: tuple[bytes, np.ndarray | None, np.ndarray], extra: bytes) -> None:
    frame, base, _ = sample
    with pytest.raises(CorruptObjectError):
        full_decode(frame + extra, base)
    with pytest.raises(CorruptObjectError, match="bytes"):
        full_decode(reseal(frame[:-TRAILER] + extra), base)   # a valid checksum does not excuse them


HEADER_LIES: dict[str, tuple[int, bytes, str | None]] = {
    "magic": (0, b"CKVG", "magic"),
    "magic_zero": (0, b"\0\0\0\0", "magic"),
    "version_0": (OFF_VERSION, b"\x00", "version"),
    "version_2": (OFF_VERSION, b"\x02", "version"),
    "version_255": (OFF_VERSION, b"\xff", "version"),
    "kind": (OFF_KIND, b"\x09", "kind"),
    "dtype": (OFF_DTYPE, b"\x63", "dtype"),
    "ndim": (OFF_NDIM, bytes([MAX_NDIM + 1]), None),
    "dlen_huge": (OFF_DLEN, struct.pack("<Q", MAX_DECODED + 1), None),
    "dlen_off_by_one": (OFF_DLEN, struct.pack("<Q", 3 * 4 * 4 + 1), None),
    "plen_too_big": (OFF_PLEN, struct.pack("<Q", 1 << 20), None),
    "plen_max": (OFF_PLEN, struct.pack("<Q", (1 << 64) - 1), None),
    "shape_wrong": (HEADER_MIN, struct.pack("<Q", 4), "shape"),
    "shape_huge": (HEADER_MIN, struct.pack("<Q", (1 << 64) - 1), "shape"),
}


@pytest.mark.parametrize("field", sorted(HEADER_LIES))
def test_header_fields(field: str) -> None:
    offset, value, match = HEADER_LIES[field]
    frame, _, _ = tensor_frame("F32", (3, 4))
    bad = patch(frame, offset, value)
    with pytest.raises(CorruptObjectError, match=match):
        full_decode(bad, None)
    bad_unsealed = bytearray(frame)
    bad_unsealed[offset : offset + len(value)] = value
    with pytest.raises(CorruptObjectError):
        full_decode(bytes(bad_unsealed), None)


def test_bad_checksum() -> None:
    frame, _, _ = tensor_frame("F32", (3, 4))
    bad = frame[:-1] + bytes([frame[-1] ^ 1])
    with pytest.raises(CorruptObjectError, match="checksum"):
        parse_frame(bad)


def test_ndim_lies_about_the_shape_table() -> None:
    frame, _, _ = tensor_frame("F32", (12,))
    for ndim in (0, 2, 3, MAX_NDIM):
        with pytest.raises(CorruptObjectError):
            full_decode(patch(frame, OFF_NDIM, bytes([ndim])), None)


def test_blob_length_must_be_whole_elements() -> None:
    frame, _, _ = blob_frame(b"abc")
    bad = patch(frame, OFF_DTYPE, bytes([DTYPES["F32"].code]))   # 3 bytes of 4-byte elements
    with pytest.raises(CorruptObjectError, match="whole number"):
        parse_frame(bad)


@pytest.mark.parametrize("buf", [b"", b"C", b"CKVF", b"\0" * (HEADER_MIN + TRAILER - 1), b"\xff" * 200])
def test_short_or_junk_buffers(buf: bytes) -> None:
    with pytest.raises(CorruptObjectError):
        parse_frame(buf)


@FAST
@given(buf=st.binary(max_size=300))
def test_random_bytes(buf: bytes) -> None:
    with pytest.raises(CorruptObjectError):
        full_decode(buf, None)


@FAST
@given(body=st.binary(min_size=HEADER_MIN, max_size=300))
def test_random_bytes_with_valid_magic_and_checksum(body: bytes) -> None:
    buf = reseal(b"CKVF\x01" + body[5:])
    try:
        full_decode(buf, None)
    except (CorruptObjectError, UnknownCodecError):
        pass


def test_wrong_expected_id(sample: tuple[bytes, np.ndarray | None, np.ndarray]) -> None:
    frame, _, _ = sample
    with pytest.raises(CorruptObjectError, match="holds object"):
        parse_frame(frame, expect_id="0123456789abcdef" * 2)


def test_the_id_in_the_header_is_checked_against_the_bytes() -> None:
    frame, _, _ = tensor_frame("F32", (3, 4))
    bad = patch(frame, OFF_ID, bytes(16))
    with pytest.raises(CorruptObjectError, match="hash"):
        full_decode(bad, None)


def test_shape_is_part_of_the_id() -> None:
    frame, _, _ = tensor_frame("F32", (3, 4))
    bad = patch(frame, HEADER_MIN, struct.pack("<QQ", 4, 3))   # same bytes, transposed shape
    with pytest.raises(CorruptObjectError, match="hash"):
        full_decode(bad, None)


def test_kind_is_part_of_the_id() -> None:
    frame, _, _ = tensor_frame("U8", (40,))
    as_blob = patch(frame, OFF_KIND, bytes([KIND_BLOB]))      # same bytes, hashed as a blob
    with pytest.raises(CorruptObjectError, match="hash"):
        full_decode(as_blob, None)
    frame, _, _ = blob_frame(b"abcd")
    as_tensor = patch(frame, OFF_KIND, bytes([KIND_TENSOR]))   # a 0-d "tensor" of 4 one-byte elements
    with pytest.raises(CorruptObjectError, match="shape"):
        full_decode(as_tensor, None)
    as_manifest = patch(frame, OFF_KIND, bytes([KIND_MANIFEST]))
    assert full_decode(as_manifest, None).tobytes() == b"abcd"  # blob and manifest ids are both plain xxh3


def test_unknown_codec_code_is_an_integrity_error() -> None:
    frame, _, _ = tensor_frame("F32", (3, 4))
    with pytest.raises(IntegrityError):
        full_decode(patch(frame, OFF_CODEC, b"\xee"), None)


# -- bases ------------------------------------------------------------------------------------------

DELTA_CODECS = [cid for cid in registered_ids() if get_codec(cid).uses_base]


@pytest.mark.parametrize("cid", DELTA_CODECS)
def test_wrong_base_length(cid: str) -> None:
    frame, base, _ = tensor_frame("F16", (30,), cid)
    assert base is not None
    fr = parse_frame(frame)
    for bad in (base[:-1], np.concatenate([base, base[:1]]), base[:0]):
        with pytest.raises(CorruptObjectError, match="base"):
            decode_frame(fr, bad)


@pytest.mark.parametrize("cid", DELTA_CODECS)
def test_missing_or_wrong_base(cid: str) -> None:
    frame, base, _ = tensor_frame("F16", (30,), cid)
    assert base is not None
    fr = parse_frame(frame)
    with pytest.raises(CorruptObjectError, match="base"):
        decode_frame(fr, None)
    wrong = base.copy()
    wrong[7] ^= np.uint16(1)
    with pytest.raises(CorruptObjectError, match="hash"):
        decode_frame(fr, wrong)
    out = decode_frame(fr, wrong, verify=False)    # unverified reads trust the caller's base
    assert out.size == base.size


@pytest.mark.parametrize("cid", DELTA_CODECS)
def test_base_named_but_codec_needs_one_and_header_says_none(cid: str) -> None:
    frame, base, _ = tensor_frame("F16", (30,), cid)
    no_base = patch(frame, OFF_BASE, bytes(16))
    fr = parse_frame(no_base)
    assert fr.base_id is None
    with pytest.raises(CorruptObjectError):
        decode_frame(fr, None)


def test_base_given_to_a_frame_without_one() -> None:
    frame, _, data = tensor_frame("F32", (3, 4))
    with pytest.raises(CorruptObjectError, match="base"):
        decode_frame(parse_frame(frame), data.copy())


# -- payloads behind a valid checksum ---------------------------------------------------------------

def _table(*entries: tuple[int, int, int], count: int | None = None) -> bytes:
    return bytes([len(entries) if count is None else count]) + b"".join(_ENTRY.pack(*e) for e in entries)


def _lying_payloads() -> dict[str, bytes]:
    """Stream sets for a U8[40] tensor (one plane of 40 bytes) that lie in every way one can."""
    plane = bytes(range(40))
    z = pack_streams([b"\0" * 40], 3)[1 + _ENTRY.size:]          # a real zstd frame of 40 zero bytes
    return {
        "empty": b"",
        "count_zero": _table(),
        "count_two": _table((MODE_STORED, 40, 40), (MODE_STORED, 40, 40)) + plane * 2,
        "count_255_no_table": b"\xff",
        "table_truncated": _table((MODE_STORED, 40, 40))[:-3],
        "coded_len_past_end": _table((MODE_STORED, 40, 40)) + plane[:39],
        "coded_len_huge": _table((MODE_STORED, 40, (1 << 64) - 1)) + plane,
        "raw_len_huge_stored": _table((MODE_STORED, (1 << 64) - 1, 40)) + plane,
        "stored_lengths_differ": _table((MODE_STORED, 41, 40)) + plane,
        "plane_too_short": _table((MODE_STORED, 39, 39)) + plane[:39],
        "plane_too_long": _table((MODE_STORED, 41, 41)) + plane + b"x",
        "unknown_mode": _table((7, 40, 40)) + plane,
        "trailing_bytes": _table((MODE_STORED, 40, 40)) + plane + b"junk",
        "zstd_garbage": _table((MODE_ZSTD, 40, 40)) + plane,
        "zstd_raw_len_small": _table((MODE_ZSTD, 39, len(z))) + z,
        "zstd_raw_len_big": _table((MODE_ZSTD, 41, len(z))) + z,
        "zstd_raw_len_huge": _table((MODE_ZSTD, (1 << 64) - 1, len(z))) + z,
        "zstd_raw_len_zero": _table((MODE_ZSTD, 0, len(z))) + z,
        "zstd_truncated": _table((MODE_ZSTD, 40, len(z) - 2)) + z[:-2],
        "zstd_empty": _table((MODE_ZSTD, 40, 0)),
    }


@pytest.mark.parametrize("cid", registered_ids())
@pytest.mark.parametrize("name", sorted(_lying_payloads()))
def test_stream_table_lies(cid: str, name: str) -> None:
    frame, base, _ = tensor_frame("U8", (40,), cid)
    bad = with_payload(frame, _lying_payloads()[name])
    with pytest.raises(CorruptObjectError):
        full_decode(bad, base)


@FAST
@given(name=st.sampled_from(sorted(SAMPLES)), payload=st.binary(max_size=400))
def test_random_payload(name: str, payload: bytes) -> None:
    frame, base, want = SAMPLES[name]()
    corrupt_or_same(with_payload(frame, payload), base, want)


@FAST
@given(name=st.sampled_from(sorted(SAMPLES)), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_payload_bit_flip_behind_valid_checksum(name: str, where: float, bit: int) -> None:
    frame, base, want = SAMPLES[name]()
    payload = bytearray(payload_of(frame))
    if not payload:
        return
    payload[int(where * len(payload))] ^= 1 << bit
    corrupt_or_same(with_payload(frame, bytes(payload)), base, want)


@FAST
@given(name=st.sampled_from(sorted(SAMPLES)), cut=st.floats(0, 1, exclude_max=True))
def test_truncated_payload_behind_valid_checksum(name: str, cut: float) -> None:
    frame, base, _ = SAMPLES[name]()
    payload = payload_of(frame)
    with pytest.raises(CorruptObjectError):
        full_decode(with_payload(frame, payload[: int(cut * len(payload))]), base)


def _zstd_frame_claiming(content_size: int) -> bytes:
    """A zstd frame whose header declares ``content_size`` bytes but holds one raw block of 10."""
    body = b"x" * 10
    return (struct.pack("<IB", 0xFD2FB528, 0xE0) + struct.pack("<Q", content_size)
            + bytes([(len(body) << 3) | 1, 0, 0]) + body)


def test_stream_claiming_a_huge_decoded_size() -> None:
    frame, _, _ = tensor_frame("U8", (4,))
    huge = 1 << 47
    z = _zstd_frame_claiming(huge)
    with pytest.raises(CorruptObjectError):
        full_decode(with_payload(frame, _table((MODE_ZSTD, huge, len(z))) + z), None)


def test_zstd_header_bit_flip_claims_a_huge_size() -> None:
    frame, _, _ = SAMPLES["raw_bf16_zstd"]()
    payload = bytearray(payload_of(frame))
    count = payload[0]
    assert _ENTRY.unpack_from(payload, 1)[0] == MODE_ZSTD
    fhd = 1 + count * _ENTRY.size + 4            # first stream's data: 4-byte zstd magic, then the descriptor
    payload[fhd] ^= 0x80                          # content-size field: 2 bytes -> 8 bytes
    with pytest.raises(CorruptObjectError):
        full_decode(with_payload(frame, bytes(payload)), None)


def test_header_claiming_a_huge_tensor_with_a_tiny_payload() -> None:
    n = 1 << 46
    frame = encode_frame(kind=KIND_TENSOR, codec_code=get_codec("raw").frame_code, dtype=DTYPES["U8"],
                         object_id="ab" * 16, base_id=None, decoded_len=n, shape=(n,),
                         payload=pack_streams([b""], 3))
    with pytest.raises(CorruptObjectError):
        full_decode(frame, None)


def test_blob_frame_with_tensor_dtype_is_verified() -> None:
    data = b"\x01\x02\x03\x04" * 3
    enc = encode_blob(data, blob_id(data), get_codec("raw"))
    assert parse_frame(enc.frame).dtype == BYTES
    bad = patch(enc.frame, OFF_DTYPE, bytes([DTYPES["F32"].code]))
    corrupt_or_same(bad, None, np.frombuffer(data, np.uint8).view(np.uint32))
