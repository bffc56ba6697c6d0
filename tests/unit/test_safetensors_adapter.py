"""safetensors files, sharded models, plain files and state dicts, through the Repo API.

Round trips are checked byte for byte on disk (checkout) and bit for bit in
memory (``repo.load``: dtype, shape and raw bytes, so NaN payloads and -0.0
count). Files are written by the ``safetensors`` library, except the broken
ones, which are written by hand so each lies in exactly one way. Every broken
input must raise ``BadSafetensorsError`` and leave the repository exactly as
it was: no objects, no commits, no refs, nothing in ``.ckv/tmp``.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file
from strategies import (TENSOR_DTYPES, all_different, bit_arrays, bits_to_torch, shapes_for, special_patterns,
                        torch_bytes)

from ckvcs import Repo
from ckvcs.errors import BadInputError, BadSafetensorsError, CkvError, ConflictError
from ckvcs.format import DTYPES

# -- helpers ----------------------------------------------------------------------------------------


def assert_same(got: torch.Tensor, want: torch.Tensor, name: str = "") -> None:
    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape), (name, tuple(got.shape), tuple(want.shape))
    assert torch_bytes(got) == torch_bytes(want), name


def assert_same_dict(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert sorted(got) == sorted(want)
    for k in want:
        assert_same(got[k], want[k], k)


def same_files(a: Path, b: Path) -> None:
    """Every file under ``a`` exists under ``b`` with identical bytes, and nothing else does."""
    fa = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    fb = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file() and ".ckv" not in p.parts)
    assert fa == fb
    for rel in fa:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def object_ids(repo: Repo) -> set[str]:
    return {p.parent.name + p.name for p in (repo.dir / "objects").rglob("*") if p.is_file()}


def every_dtype_tensors() -> dict[str, torch.Tensor]:
    """For each dtype: its special patterns, a matrix of distinct patterns, an empty and a 0-d tensor."""
    out: dict[str, torch.Tensor] = {}
    for name in TENSOR_DTYPES:
        dt = DTYPES[name]
        specials = np.array(list(special_patterns(name).values()), dtype=np.uint64).astype(dt.bits)
        matrix = all_different(dt, 12)
        if name == "BOOL":   # a bool byte other than 0 / 1 is not a bool
            specials, matrix = specials & 1, np.arange(12, dtype=np.uint8) % 2
        out[f"{name}.special"] = bits_to_torch(name, specials, (specials.size,))
        out[f"{name}.matrix"] = bits_to_torch(name, matrix, (3, 4))
        out[f"{name}.empty"] = bits_to_torch(name, np.zeros(0, dt.bits), (0, 3))
        out[f"{name}.scalar"] = bits_to_torch(name, specials[-1:], ())
    return out


# -- every dtype ------------------------------------------------------------------------------------

def test_every_dtype_round_trips(repo: Repo, tmp_path: Path, write_safetensors: Callable[..., Path]) -> None:
    tensors = every_dtype_tensors()
    src = tmp_path / "ckpt"
    write_safetensors(src / "model.safetensors", tensors, metadata={"format": "pt", "note": "every dtype ✓"})
    res = repo.commit(src, message="all dtypes")
    assert res.n_tensors == len(tensors) and res.n_files == 1

    out = tmp_path / "out"
    repo.checkout(res.id, out)
    same_files(src, out)
    assert_same_dict(load_file(str(out / "model.safetensors")), tensors)

    assert_same_dict(repo.load(res.id), tensors)
    snap = repo.open(res.id)
    assert len(snap) == len(tensors)
    assert_same(snap["BF16.special"], tensors["BF16.special"])
    assert_same(snap["F8_E4M3.scalar"], tensors["F8_E4M3.scalar"])


def test_checkout_restores_the_source_directory(repo: Repo, tmp_path: Path,
                                                write_safetensors: Callable[..., Path]) -> None:
    src = tmp_path / "ckpt"
    f = write_safetensors(src / "model.safetensors", {"w": torch.randn(5, 7)})
    want = f.read_bytes()
    res = repo.commit(src)
    f.unlink()
    repo.checkout(res.id)
    assert f.read_bytes() == want


def test_numpy_written_file(repo: Repo, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrays = {
        "f16": rng.standard_normal(33).astype(np.float16), "f32": rng.standard_normal((4, 5)).astype(np.float32),
        "f64": np.array([np.nan, -0.0, np.inf, 5e-324]), "i8": np.array([-128, 127], np.int8),
        "i16": np.arange(-3, 3, dtype=np.int16), "i32": np.array([-(2**31)], np.int32),
        "i64": np.array([[2**63 - 1]], np.int64), "u8": np.arange(256, dtype=np.uint8),
        "u16": np.array([65535], np.uint16), "u32": np.array([2**32 - 1], np.uint32),
        "u64": np.array([2**64 - 1], np.uint64), "bool": np.array([True, False, True]),
        "empty": np.zeros((2, 0), np.float32), "scalar": np.array(1.5, np.float32),
    }
    src = tmp_path / "np"
    src.mkdir()
    save_numpy(arrays, str(src / "weights.safetensors"))
    res = repo.commit(src)
    out = tmp_path / "out"
    repo.checkout(res.id, out)
    same_files(src, out)
    loaded = repo.load(res.id)
    for k, a in arrays.items():
        t = loaded[k]
        assert tuple(t.shape) == a.shape and torch_bytes(t) == a.tobytes(), k


def test_exact_bit_patterns_from_triples(repo: Repo, tmp_path: Path,
                                         write_safetensors: Callable[..., Path]) -> None:
    nan_payloads = np.array([0x7F800001, 0x7FC00000, 0xFFFFFFFF, 0x7FBFFFFF, 0x80000000, 0x00000001], np.uint32)
    bf16 = np.array([0x7F81, 0xFFC0, 0x8000, 0x0001, 0x7F7F, 0xFF80], np.uint16)
    e4m3 = np.array([0x7F, 0xFF, 0x80, 0x01, 0x7E, 0x00], np.uint8)
    src = tmp_path / "bits"
    write_safetensors(src / "model.safetensors", {"f32": ("F32", nan_payloads, (6,)),
                                                  "bf16": ("BF16", bf16, (2, 3)),
                                                  "e4m3": ("F8_E4M3", e4m3, (3, 2))})
    res = repo.commit(src)
    loaded = repo.load(res.id)
    for name, bits in (("f32", nan_payloads), ("bf16", bf16), ("e4m3", e4m3)):
        assert torch_bytes(loaded[name]) == bits.tobytes(), name


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_files_round_trip(repo: Repo, tmp_path: Path, write_safetensors: Callable[..., Path],
                                 data: st.DataObject) -> None:
    tensors: dict[str, tuple[str, np.ndarray, tuple[int, ...]]] = {}
    for i in range(data.draw(st.integers(0, 4), label="n_tensors")):
        dt, bits = data.draw(bit_arrays(max_size=40))
        if dt.name == "BOOL":
            bits = bits & np.uint8(1)
        shape = data.draw(st.sampled_from(shapes_for(bits.size)), label="shape")
        tensors[f"t{i}.{dt.name}"] = (dt.name, bits, shape)
    metadata = data.draw(st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                                               max_size=2)), label="metadata")
    if not tensors and metadata == {}:
        metadata = None   # safetensors 0.8 writes '{},"__metadata__":{}}' here: invalid, see BAD_FILES
    src = Path(tempfile.mkdtemp(dir=tmp_path))
    write_safetensors(src / "model.safetensors", tensors, metadata=metadata)
    res = repo.commit(src, allow_empty=True)
    out = Path(tempfile.mkdtemp(dir=tmp_path))
    repo.checkout(res.id, out)
    same_files(src, out)
    loaded = repo.load(res.id)
    assert sorted(loaded) == sorted(tensors)
    for name, (_, bits, shape) in tensors.items():
        assert tuple(loaded[name].shape) == shape and torch_bytes(loaded[name]) == bits.tobytes(), name


# -- sharded models and plain files -----------------------------------------------------------------

def test_sharded_model(repo: Repo, tmp_path: Path, write_safetensors: Callable[..., Path]) -> None:
    g = torch.Generator().manual_seed(0)
    shard1 = {"embed.weight": torch.randn(16, 8, generator=g).to(torch.bfloat16),
              "layers.0.w": torch.randn(8, 8, generator=g)}
    shard2 = {"layers.1.w": torch.randn(8, 8, generator=g), "lm_head.bias": torch.zeros(16, dtype=torch.float16)}
    src = tmp_path / "sharded"
    write_safetensors(src / "model-00001-of-00002.safetensors", shard1, metadata={"format": "pt"})
    write_safetensors(src / "model-00002-of-00002.safetensors", shard2, metadata={"format": "pt"})
    index = {"metadata": {"total_size": 1234},
             "weight_map": {**{k: "model-00001-of-00002.safetensors" for k in shard1},
                            **{k: "model-00002-of-00002.safetensors" for k in shard2}}}
    (src / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    (src / "config.json").write_text('{"hidden_size": 8}\n')
    res = repo.commit(src)
    assert res.n_files == 4 and res.n_tensors == 4
    out = tmp_path / "out"
    repo.checkout(res.id, out)
    same_files(src, out)
    assert_same_dict(repo.load(res.id), {**shard1, **shard2})


def test_plain_files_in_chunks(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ckvcs.adapters.base.BLOB_CHUNK", 1000)
    src = tmp_path / "files"
    (src / "sub" / "deeper").mkdir(parents=True)
    chunk = os.urandom(1000)
    files = {
        "config.json": b'{"a": 1}\n',
        "empty.bin": b"",
        "exact.bin": os.urandom(3000),                       # a whole number of chunks
        "ragged.bin": os.urandom(2500),                      # two chunks and a half
        "repeats.bin": chunk * 5,                            # five identical chunks: one object
        "sub/deeper/notes.txt": "ünïcødé\n".encode() * 300,
        "fake.safetensors.bak": b"\xff" * 20,                # not a .safetensors name: a blob
    }
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    (src / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (src / "run.sh").chmod(0o755)
    res = repo.commit(src)
    assert res.n_files == len(files) + 1 and res.n_tensors == 0

    mans = repo.reader.manifests(res.id)
    assert len(mans["exact.bin"].segments) == 3
    assert len(mans["ragged.bin"].segments) == 3
    assert [s.length for s in mans["ragged.bin"].segments] == [1000, 1000, 500]
    assert len({s.id for s in mans["repeats.bin"].segments}) == 1

    out = tmp_path / "out"
    repo.checkout(res.id, out)
    same_files(src, out)
    assert os.access(out / "run.sh", os.X_OK)
    assert not os.access(out / "config.json", os.X_OK)


# -- state dicts ------------------------------------------------------------------------------------

def test_state_dict_commit_and_load(repo: Repo, tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    sd = {"w": torch.randn(3, 4, generator=g), "b": torch.randn(4, generator=g).to(torch.bfloat16),
          "steps": torch.tensor(7), "mask": torch.tensor([True, False]), "empty": torch.empty(0, 2),
          "t": torch.randn(4, 3, generator=g).t(),          # not contiguous
          "f8": torch.randn(6, generator=g).to(torch.float8_e5m2)}
    res = repo.commit(sd, step=5)
    assert res.tag == "step-5" and res.step == 5 and res.n_tensors == len(sd)
    assert_same_dict(repo.load("step-5"), {k: v.contiguous() for k, v in sd.items()})

    sd2 = dict(sd, w=sd["w"].clone())
    sd2["w"][1, 2] = float("nan")
    sd2["b"] = sd["b"].clone()
    sd2["b"].view(torch.int16)[::3] += 1                     # one ulp on a third of the elements
    res2 = repo.commit(sd2, step=6)
    assert res2.parents == (res.id,)
    assert_same_dict(repo.load("step-6"), {k: v.contiguous() for k, v in sd2.items()})
    assert_same_dict(repo.load("step-5"), {k: v.contiguous() for k, v in sd.items()})

    with pytest.raises(BadInputError):
        repo.checkout("step-5")                              # made from memory: no directory to restore
    out = tmp_path / "out"
    repo.checkout("step-6", out)
    assert_same_dict(load_file(str(out / "model.safetensors")), {k: v.contiguous() for k, v in sd2.items()})


def test_state_dict_with_a_non_tensor(repo: Repo, repo_state: Callable[[Repo], object]) -> None:
    before = repo_state(repo)
    with pytest.raises(BadInputError):
        repo.commit({"w": torch.zeros(2), "lr": 0.1})       # type: ignore[dict-item]
    assert repo_state(repo) == before


# -- storing once -----------------------------------------------------------------------------------

def test_tied_tensors_stored_once(repo: Repo) -> None:
    w = torch.randn(64, 64)
    res = repo.commit({"a": w, "b": w.clone(), "c": w.view(-1).clone().view(64, 64)})
    # one tensor object, the header blob, the manifest, the commit
    assert len(object_ids(repo)) == 4
    assert len({t.object_id for t in repo.show(res.id).tensors}) == 1


def test_identical_content_on_another_branch(repo: Repo, tmp_path: Path,
                                             write_safetensors: Callable[..., Path],
                                             repo_state: Callable[[Repo], object]) -> None:
    src = tmp_path / "ckpt"
    write_safetensors(src / "model.safetensors", {"w": torch.randn(32, 32), "b": torch.randn(32)})
    (src / "config.json").write_text("{}")
    first = repo.commit(src, message="first")

    before = repo_state(repo)
    with pytest.raises(ConflictError):
        repo.commit(src, message="again")                    # nothing changed
    assert repo_state(repo) == before

    objs = object_ids(repo)
    again = repo.commit(src, message="copy", branch="copy", allow_empty=True)
    new = object_ids(repo) - objs
    assert new == {again.id}, "only the commit object is new"
    assert again.stored_bytes == (repo.dir / "objects" / again.id[:2] / again.id[2:]).stat().st_size
    assert again.parents == (first.id,)
    assert all(t.stored_bytes == 0 for t in repo.show(again.id).tensors)


def test_identical_tensors_across_branches(repo: Repo) -> None:
    g = torch.Generator().manual_seed(3)
    w0, w1, b = torch.randn(40, 40, generator=g), torch.randn(40, 40, generator=g), torch.randn(40, generator=g)
    c0 = repo.commit({"w": w0, "b": b}, step=0)
    repo.commit({"w": w1, "b": b}, step=1)
    repo.create_branch("ft", c0.id)
    objs = object_ids(repo)
    extra = torch.randn(3, generator=g)
    c2 = repo.commit({"w": w1, "b": b, "extra": extra}, branch="ft", step=2)
    assert c2.parents == (c0.id,) and c2.tag == "ft/step-2"
    by_name = {t.name: t for t in repo.show(c2.id).tensors}
    assert by_name["w"].stored_bytes == 0 and by_name["b"].stored_bytes == 0
    assert by_name["extra"].stored_bytes > 0
    new = object_ids(repo) - objs
    assert by_name["w"].object_id not in new and by_name["b"].object_id not in new
    assert len(new) == 4   # the extra tensor, the new header blob, the manifest, the commit
    assert_same_dict(repo.load(c2.id), {"w": w1, "b": b, "extra": extra})
    assert_same_dict(repo.load("step-0"), {"w": w0, "b": b})


# -- bad input --------------------------------------------------------------------------------------

A_BYTES = np.arange(6, dtype=np.float32).tobytes()       # F32 [2, 3]
B_BYTES = np.array([1, -2, 3, -4], np.int8).tobytes()    # I8 [4]
C_BYTES = np.array([0x3F80, 0x7FC1], np.uint16).tobytes()  # BF16 [2]
GOOD_HEADER = {
    "__metadata__": {"format": "pt"},
    "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    "b": {"dtype": "I8", "shape": [4], "data_offsets": [24, 28]},
    "c": {"dtype": "BF16", "shape": [2], "data_offsets": [28, 32]},
}
GOOD_DATA = A_BYTES + B_BYTES + C_BYTES


def st_file(header: dict | bytes, data: bytes = GOOD_DATA, length: int | None = None) -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def with_entry(name: str, **changes: object) -> dict:
    h = json.loads(json.dumps(GOOD_HEADER))
    h[name].update(changes)
    return h


GOOD_FILE = st_file(GOOD_HEADER)
_N = len(GOOD_FILE) - len(GOOD_DATA) - 8

BAD_FILES: dict[str, bytes] = {
    **{f"truncated_at_{n}": GOOD_FILE[:n] for n in (0, 1, 7, 8, 9, 8 + _N // 2, 8 + _N, len(GOOD_FILE) - 1,
                                                    len(GOOD_FILE) - 9)},
    "header_length_past_end": st_file(GOOD_HEADER, length=_N + len(GOOD_DATA) + 1),
    "header_length_huge": st_file(GOOD_HEADER, length=2**63),
    "header_length_over_cap": st_file(GOOD_HEADER, length=100_000_001),
    "header_length_zero": st_file(GOOD_HEADER, length=0),
    "json_garbage": st_file(b"{not json at all"),
    "json_not_utf8": st_file(b'{"\xff\xfe": 1}'),
    "json_array": st_file(b"[1, 2, 3]"),
    "json_string": st_file(b'"model"'),
    "json_null": st_file(b"null"),
    "json_extra_data": st_file(b'{},"__metadata__":{}}'),   # what safetensors 0.8 writes for ({}, metadata={})
    "metadata_not_object": st_file({**GOOD_HEADER, "__metadata__": ["x"]}),
    "entry_not_object": st_file({**GOOD_HEADER, "d": 5}),
    "entry_missing_offsets": st_file({**GOOD_HEADER, "c": {"dtype": "BF16", "shape": [2]}}),
    "entry_missing_dtype": st_file({**GOOD_HEADER, "c": {"shape": [2], "data_offsets": [28, 32]}}),
    "size_wrong_for_shape": st_file(with_entry("a", shape=[2, 2])),
    "size_wrong_for_dtype": st_file(with_entry("a", dtype="F64")),
    "shape_negative": st_file(with_entry("a", shape=[-2, -3])),
    "shape_not_list": st_file(with_entry("a", shape="2x3")),
    "shape_float": st_file(with_entry("a", shape=[2.0, 3])),
    "shape_bool": st_file(with_entry("b", shape=[True, 4])),
    "dtype_not_string": st_file(with_entry("a", dtype=12)),
    "offsets_reversed": st_file(with_entry("b", data_offsets=[28, 24])),
    "offsets_negative": st_file(with_entry("a", data_offsets=[-1, 23])),
    "offsets_three": st_file(with_entry("a", data_offsets=[0, 24, 24])),
    "offsets_float": st_file(with_entry("a", data_offsets=[0.0, 24.0])),
    "offsets_not_list": st_file(with_entry("a", data_offsets="0-24")),
    "overlap": st_file(with_entry("b", data_offsets=[20, 24])),
    "hole": st_file(with_entry("c", data_offsets=[30, 34]), GOOD_DATA + b"\0\0"),
    "out_of_bounds": st_file(with_entry("c", data_offsets=[1000, 1004])),
    "offsets_past_2_64": st_file(with_entry("c", data_offsets=[2**64, 2**64 + 4])),
    "trailing_bytes": st_file(GOOD_HEADER, GOOD_DATA + b"\0\0\0\0"),
    "duplicate_name_leaves_hole": st_file(
        b'{"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},'
        b' "a": {"dtype": "I8", "shape": [4], "data_offsets": [24, 28]}}', A_BYTES + B_BYTES),
}


def test_good_file_is_good(repo: Repo, tmp_path: Path) -> None:
    src = tmp_path / "good"
    src.mkdir()
    (src / "model.safetensors").write_bytes(GOOD_FILE)
    assert sorted(load_file(str(src / "model.safetensors"))) == ["a", "b", "c"]
    res = repo.commit(src)
    out = tmp_path / "out"
    repo.checkout(res.id, out)
    same_files(src, out)


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed repository with one commit, made once and copied per test (a commit costs fsyncs)."""
    root = tmp_path_factory.mktemp("seeded")
    src = root / "seed"
    src.mkdir()
    (src / "model.safetensors").write_bytes(GOOD_FILE)
    with Repo.init(root / "repo") as r:
        r.commit(src, message="seed", step=1)
    return root / "repo"


@pytest.fixture
def seeded(seeded_template: Path, tmp_path: Path) -> Iterator[Repo]:
    """A repository with one commit, so 'unchanged' means more than 'still empty'."""
    shutil.copytree(seeded_template, tmp_path / "repo")
    r = Repo.open(tmp_path / "repo")
    try:
        yield r
    finally:
        r.close()


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_safetensors_changes_nothing(seeded: Repo, tmp_path: Path, case: str,
                                         repo_state: Callable[[Repo], object]) -> None:
    src = tmp_path / "bad"
    src.mkdir()
    (src / "config.json").write_text('{"ok": true}')           # a good file alongside is not written either
    (src / "model.safetensors").write_bytes(BAD_FILES[case])
    before = repo_state(seeded)
    with pytest.raises(BadSafetensorsError) as e:
        seeded.commit(src, message="bad", step=2)
    assert isinstance(e.value, BadInputError) and isinstance(e.value, CkvError)
    assert e.value.exit_code == 4
    assert "model.safetensors" in e.value.path
    assert repo_state(seeded) == before
    assert list((seeded.dir / "tmp").iterdir()) == []


def test_repo_usable_after_bad_input(seeded: Repo, tmp_path: Path) -> None:
    src = tmp_path / "bad"
    src.mkdir()
    (src / "model.safetensors").write_bytes(BAD_FILES["hole"])
    with pytest.raises(BadSafetensorsError):
        seeded.commit(src)
    (src / "model.safetensors").write_bytes(st_file({**GOOD_HEADER, "__metadata__": {"v": "2"}}))
    res = seeded.commit(src, step=2)
    assert len(seeded.log()) == 2 and res.tag == "step-2"


def test_unknown_dtype_is_kept_as_a_blob(repo: Repo, tmp_path: Path) -> None:
    header = {**GOOD_HEADER, "d": {"dtype": "F4", "shape": [3], "data_offsets": [32, 34]}}
    src = tmp_path / "f4"
    src.mkdir()
    (src / "model.safetensors").write_bytes(st_file(header, GOOD_DATA + b"\x12\x34"))
    res = repo.commit(src)
    assert res.n_tensors == 3
    out = tmp_path / "out"
    repo.checkout(res.id, out)
    same_files(src, out)
    assert sorted(repo.load(res.id)) == ["a", "b", "c"]


def test_tensor_name_that_is_not_utf8(repo: Repo, tmp_path: Path, repo_state: Callable[[Repo], object]) -> None:
    src = tmp_path / "surrogate"
    src.mkdir()
    header = b'{"\\ud800": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}'
    (src / "model.safetensors").write_bytes(st_file(header, b"ab"))
    before = repo_state(repo)
    try:
        with pytest.raises(BadSafetensorsError):
            repo.commit(src)
    finally:
        assert repo_state(repo) == before


def test_file_name_that_is_not_utf8(repo: Repo, tmp_path: Path, repo_state: Callable[[Repo], object]) -> None:
    src = tmp_path / "names"
    src.mkdir()
    try:
        with open(os.path.join(os.fsencode(src), b"\xff.bin"), "wb") as f:
            f.write(b"hello")
    except OSError:
        pytest.skip("this filesystem refuses non-UTF-8 names")
    before = repo_state(repo)
    try:
        with pytest.raises(BadInputError):
            repo.commit(src)
    finally:
        assert repo_state(repo) == before


def test_state_dict_key_that_is_not_utf8(repo: Repo, repo_state: Callable[[Repo], object]) -> None:
    before = repo_state(repo)
    try:
        with pytest.raises(BadInputError):
            repo.commit({"\ud800": torch.zeros(2)})
    finally:
        assert repo_state(repo) == before


def test_missing_path(repo: Repo, tmp_path: Path, repo_state: Callable[[Repo], object]) -> None:
    before = repo_state(repo)
    with pytest.raises(BadInputError) as e:
        repo.commit(tmp_path / "nope")
    assert not isinstance(e.value, BadSafetensorsError) and e.value.exit_code == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError):
        repo.commit(empty)
    assert repo_state(repo) == before
