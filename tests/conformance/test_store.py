"""The ObjectStore conformance suite: every backend runs every test here.

To add a backend (S3, a pack-backed store), write a factory
``(tmp_path) -> ObjectStore`` and append it to ``STORE_FACTORIES``; a backend
that needs a service (MinIO) should ``pytest.skip`` from its factory when the
service is absent. Tests that check a backend's own layout live after the
suite, per backend.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ckvcs.errors import CorruptObjectError, MissingObjectError
from ckvcs.store import LocalStore, ObjectStore

StoreFactory = Callable[[Path], ObjectStore]


def local_store(tmp_path: Path) -> ObjectStore:
    return LocalStore(tmp_path / "objects", tmp_path / "tmp")


STORE_FACTORIES: list[object] = [
    pytest.param(local_store, id="local"),
    # pytest.param(s3_store, id="s3"),   # when ckvcs.store.s3 exists
]

A = "0123456789abcdef" * 2
B = "fedcba9876543210" * 2
C = "00" * 16
ALL_BYTES = bytes(range(256)) * 4


@pytest.fixture(params=STORE_FACTORIES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    factory: StoreFactory = request.param
    return factory(tmp_path)


# -- put / get / has / size -------------------------------------------------------------------------

def test_empty_store(store: ObjectStore) -> None:
    assert list(store.list()) == []
    assert not store.has(A)


def test_put_then_get(store: ObjectStore) -> None:
    assert store.put(A, ALL_BYTES) is True
    assert store.get(A) == ALL_BYTES
    assert store.has(A)
    assert store.size(A) == len(ALL_BYTES)


def test_put_twice_returns_false_and_keeps_the_first(store: ObjectStore) -> None:
    assert store.put(A, b"first") is True
    assert store.put(A, b"second") is False
    assert store.get(A) == b"first"


def test_put_replace(store: ObjectStore) -> None:
    store.put(A, b"first")
    assert store.put(A, b"second, longer", replace=True) is True
    assert store.get(A) == b"second, longer"
    assert store.size(A) == len(b"second, longer")
    assert sorted(store.list()) == [A]


def test_put_replace_of_an_absent_object(store: ObjectStore) -> None:
    assert store.put(A, b"x", replace=True) is True
    assert store.get(A) == b"x"


def test_empty_object(store: ObjectStore) -> None:
    assert store.put(A, b"")
    assert store.has(A)
    assert store.get(A) == b""
    assert store.size(A) == 0
    assert store.get_range(A, 0, 0) == b""


def test_large_object(store: ObjectStore) -> None:
    data = os.urandom(3 << 20)
    store.put(A, data)
    assert store.get(A) == data
    assert store.get_range(A, (1 << 20) + 7, 1 << 20) == data[(1 << 20) + 7 : (2 << 20) + 7]


def test_objects_are_independent(store: ObjectStore) -> None:
    store.put(A, b"a")
    store.put(B, b"bb")
    assert store.get(A) == b"a" and store.get(B) == b"bb"
    assert store.size(A) == 1 and store.size(B) == 2


def test_sync(store: ObjectStore) -> None:
    store.sync()                       # nothing written yet: a no-op
    store.put(A, b"a")
    store.put(B, b"b")
    store.sync()
    store.sync()                       # twice is harmless
    assert store.get(A) == b"a" and store.get(B) == b"b"
    store.delete(A)
    store.sync()                       # after a delete of an unsynced-then-synced object
    assert not store.has(A)


def test_sync_after_deleting_an_unsynced_object(store: ObjectStore) -> None:
    store.put(A, b"a")
    store.delete(A)                    # a failed commit discards what it wrote before syncing
    store.sync()
    assert not store.has(A)


# -- missing objects --------------------------------------------------------------------------------

def test_get_missing(store: ObjectStore) -> None:
    with pytest.raises(MissingObjectError) as e:
        store.get(A)
    assert e.value.object_id == A


def test_get_range_missing(store: ObjectStore) -> None:
    with pytest.raises(MissingObjectError):
        store.get_range(A, 0, 1)


def test_size_missing(store: ObjectStore) -> None:
    with pytest.raises(MissingObjectError):
        store.size(A)


def test_delete_missing_is_not_an_error(store: ObjectStore) -> None:
    store.delete(A)
    store.put(B, b"b")
    store.delete(A)
    assert store.has(B)


# -- ranges -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("start,length", [(0, 0), (0, 1), (0, 1024), (1, 1023), (500, 24), (1023, 1), (1024, 0)])
def test_get_range(store: ObjectStore, start: int, length: int) -> None:
    store.put(A, ALL_BYTES)
    assert store.get_range(A, start, length) == ALL_BYTES[start : start + length]


@pytest.mark.parametrize("start,length", [(0, 1025), (1, 1024), (1023, 2), (1024, 1), (5000, 1), (0, 5000)])
def test_get_range_past_the_end(store: ObjectStore, start: int, length: int) -> None:
    store.put(A, ALL_BYTES)
    with pytest.raises(CorruptObjectError) as e:
        store.get_range(A, start, length)
    assert e.value.object_id == A


def test_get_range_with_a_huge_length(store: ObjectStore) -> None:
    # a corrupt index row (a pack offset or length) must not make the reader allocate it
    store.put(A, ALL_BYTES)
    with pytest.raises(CorruptObjectError):
        store.get_range(A, 0, 1 << 40)


# -- delete / list ----------------------------------------------------------------------------------

def test_delete(store: ObjectStore) -> None:
    store.put(A, b"a")
    store.put(B, b"b")
    store.delete(A)
    assert not store.has(A)
    assert store.has(B)
    with pytest.raises(MissingObjectError):
        store.get(A)
    assert list(store.list()) == [B]


def test_put_after_delete(store: ObjectStore) -> None:
    store.put(A, b"one")
    store.delete(A)
    assert store.put(A, b"one") is True
    assert store.get(A) == b"one"


def test_list(store: ObjectStore) -> None:
    ids = [f"{i:032x}" for i in range(1, 5000, 97)] + [A, B, C]
    for oid in ids:
        store.put(oid, oid.encode())
    listed = list(store.list())
    assert sorted(listed) == sorted(ids)
    assert len(listed) == len(set(listed))


def test_concurrent_puts_of_one_object(store: ObjectStore) -> None:
    data = os.urandom(1 << 16)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: store.put(A, data), range(16)))
    assert results.count(True) >= 1
    assert store.get(A) == data
    assert list(store.list()) == [A]


def test_concurrent_puts_of_many_objects(store: ObjectStore) -> None:
    ids = [f"{i:032x}" for i in range(64)]
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(lambda oid: store.put(oid, oid.encode() * 10), ids))
    assert sorted(store.list()) == ids
    assert all(store.get(oid) == oid.encode() * 10 for oid in ids)


# -- LocalStore's own layout ------------------------------------------------------------------------

def test_local_layout_and_no_leftovers(tmp_path: Path) -> None:
    s = LocalStore(tmp_path / "objects", tmp_path / "tmp")
    s.put(A, b"data")
    p = tmp_path / "objects" / A[:2] / A[2:]
    assert p.read_bytes() == b"data"
    assert not stat.S_IMODE(p.stat().st_mode) & 0o222, "objects are written read-only"
    assert list((tmp_path / "tmp").iterdir()) == []
    s.put(A, b"data2", replace=True)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_local_list_ignores_foreign_files(tmp_path: Path) -> None:
    s = LocalStore(tmp_path / "objects", tmp_path / "tmp")
    s.put(A, b"a")
    (tmp_path / "objects" / "zz").mkdir()
    (tmp_path / "objects" / "zz" / ("0" * 30)).write_bytes(b"")
    (tmp_path / "objects" / A[:2] / ".w-tmpfile").write_bytes(b"")
    (tmp_path / "objects" / "README").write_bytes(b"")
    assert list(s.list()) == [A]


def test_local_list_of_a_store_never_written(tmp_path: Path) -> None:
    assert list(LocalStore(tmp_path / "nowhere", tmp_path / "tmp").list()) == []


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "0" * 31, "0" * 33, "G" * 32, "AB" * 16])
def test_local_refuses_ids_that_are_not_ids(tmp_path: Path, bad: str) -> None:
    s = LocalStore(tmp_path / "objects", tmp_path / "tmp")
    with pytest.raises(ValueError):
        s.put(bad, b"x")
    assert not (tmp_path / "objects").exists() or list((tmp_path / "objects").rglob("*")) == []
