"""fsck: a healthy repository passes; each kind of damage gives exactly its finding.

Each damage test starts from the same small repository (commits from memory
with delta chains, a branch, tags), makes one change on disk or in the index,
and checks the finding kinds, that nothing unrelated is reported, and which
commits and paths the finding says are hurt.
"""
from __future__ import annotations

import importlib.util
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

import ckvcs
from ckvcs import Repo
from ckvcs.codecs import get_codec
from ckvcs.codecs.frame import parse_frame
from ckvcs.format import DTYPES
from ckvcs.maintenance import FsckReport
from ckvcs.objects.tensor import encode_tensor, tensor_bits

PATH = "model.safetensors"


def build(root: Path) -> tuple[Repo, list[str]]:
    """main: 4 commits where w changes a few rows per step (delta chain), b never; exp: one more commit."""
    repo = Repo.init(root)
    g = torch.Generator().manual_seed(0)
    sd = {"w": torch.randn(64, 32, generator=g), "b": torch.randn(16, generator=g).to(torch.bfloat16)}
    ids = []
    for i in range(4):
        sd = {k: v.clone() for k, v in sd.items()}
        sd["w"][: i + 1] += 0.125
        ids.append(repo.commit(sd, step=i * 10).id)
    sd["w"][10:12] -= 1.0
    ids.append(repo.commit(sd, step=40, branch="exp").id)
    return repo, ids


def sql(repo: Repo, query: str, *args: object) -> list[tuple]:
    con = sqlite3.connect(repo.dir / "index.db")
    try:
        with con:
            return list(con.execute(query, args))
    finally:
        con.close()


def tensor_of(repo: Repo, cid: str, name: str) -> str:
    return sql(repo, "SELECT object_id FROM tensor_stats WHERE commit_id=? AND name=?", cid, name)[0][0]


def rewrite(repo: Repo, oid: str, data: bytes) -> None:
    p = repo.store.path(oid)
    os.chmod(p, 0o644)  # objects are 0444
    p.write_bytes(data)
    os.chmod(p, 0o444)


def flip_bit(repo: Repo, oid: str, at: float = 0.5) -> None:
    data = bytearray(repo.store.path(oid).read_bytes())
    data[int(len(data) * at)] ^= 0x10
    rewrite(repo, oid, bytes(data))


def kinds(report: FsckReport, severity: str = "error") -> Counter[str]:
    return Counter(f.kind for f in report.findings if f.severity == severity)


@pytest.fixture
def built(tmp_path: Path) -> tuple[Repo, list[str]]:
    repo, ids = build(tmp_path / "repo")
    yield repo, ids
    repo.close()


def test_healthy_repository_passes(built: tuple[Repo, list[str]]) -> None:
    repo, _ = built
    chained = sql(repo, "SELECT count(*) FROM objects WHERE base_id IS NOT NULL")[0][0]
    assert chained >= 3  # the setup really has delta chains to check
    for quick in (False, True):
        report = repo.fsck(quick=quick)
        assert report.findings == () and report.ok, report
        assert report.commits_checked == 5
        assert report.objects_checked == sql(repo, "SELECT count(*) FROM objects")[0][0]


def test_flipped_bit_in_a_loose_object_is_a_hash_mismatch(built: tuple[Repo, list[str]]) -> None:
    repo, ids = built
    leaf = tensor_of(repo, ids[4], "w")  # the exp tip's version: nothing is stacked on it
    flip_bit(repo, leaf)
    for quick in (False, True):
        report = repo.fsck(quick=quick)
        assert kinds(report) == {"HashMismatch": 1} and not report.ok
        (f,) = report.findings
        assert f.object_id == leaf and f.stage == "frame" and "checksum" in f.detail
        assert f.commits == (ids[4],) and f.tags == ("exp/step-40",) and f.paths == (PATH,)


def test_frame_with_valid_checksum_but_wrong_content_fails_decoding(built: tuple[Repo, list[str]]) -> None:
    repo, ids = built
    b = tensor_of(repo, ids[0], "b")
    fr = parse_frame(repo.store.get(b), expect_id=b)
    bits = tensor_bits(memoryview(torch.zeros(16, dtype=torch.bfloat16).view(torch.int16).numpy()), "BF16")
    forged = encode_tensor(bits.copy(), DTYPES["BF16"], fr.shape, b, None, [get_codec("raw")])
    rewrite(repo, b, forged.frame)
    full = repo.fsck()
    assert kinds(full) == {"HashMismatch": 1}
    (f,) = full.findings
    assert f.stage == "decode" and set(f.commits) == set(ids)  # b is in every commit
    assert repo.fsck(quick=True).ok  # quick mode decodes nothing, so it cannot see this


def test_flipped_bit_in_a_delta_base_reports_the_base_and_its_dependants(built: tuple[Repo, list[str]]) -> None:
    repo, ids = built
    base = tensor_of(repo, ids[0], "w")
    deps = sql(repo, "SELECT id FROM objects WHERE base_id=?", base)
    assert deps, "w of the first commit should be a delta base"
    flip_bit(repo, base)
    report = repo.fsck()
    errs = kinds(report)
    assert set(errs) == {"HashMismatch", "BrokenChain"} and errs["HashMismatch"] == 1
    root = next(f for f in report.findings if f.kind == "HashMismatch")
    assert root.object_id == base and set(root.commits) == set(ids)  # every w descends from it
    chained = {f.object_id: f for f in report.findings if f.kind == "BrokenChain"}
    assert {d for (d,) in deps} <= set(chained)
    assert all(f.root_cause == base and f.paths == (PATH,) for f in chained.values())
    w3 = tensor_of(repo, ids[3], "w")  # exp's w is stacked on it: both commits are hurt
    assert chained[w3].commits == (ids[3], ids[4]) and chained[w3].tags == ("step-30", "exp/step-40")
    assert kinds(repo.fsck(quick=True)) == errs  # the checksum catches it without decoding


def test_deleted_object_is_missing_and_names_commit_and_path(built: tuple[Repo, list[str]]) -> None:
    repo, ids = built
    leaf = tensor_of(repo, ids[4], "w")
    os.unlink(repo.store.path(leaf))
    report = repo.fsck()
    assert kinds(report) == {"MissingObject": 1}
    (f,) = report.findings
    assert f.object_id == leaf and f.commits == (ids[4],) and f.paths == (PATH,)
    assert f.tags == ("exp/step-40",) and ids[4][:12] in f.message


def test_tampered_stored_size_is_an_index_mismatch(built: tuple[Repo, list[str]]) -> None:
    repo, ids = built
    leaf = tensor_of(repo, ids[3], "w")
    sql(repo, "UPDATE objects SET stored_size=stored_size+1 WHERE id=?", leaf)
    report = repo.fsck(quick=True)
    assert kinds(report) == {"IndexMismatch": 1}
    assert "stored_size" in report.findings[0].detail and report.findings[0].object_id == leaf


def test_tampered_base_id_is_a_broken_chain(built: tuple[Repo, list[str]]) -> None:
    repo, _ = built
    (dep,) = sql(repo, "SELECT id FROM objects WHERE base_id IS NOT NULL LIMIT 1")[0]
    sql(repo, "UPDATE objects SET base_id=NULL WHERE id=?", dep)
    report = repo.fsck()
    assert kinds(report) == {"BrokenChain": 1} and report.findings[0].object_id == dep


def test_tree_entry_that_disagrees_with_the_commit_is_an_index_mismatch(built: tuple[Repo, list[str]]) -> None:
    repo, ids = built
    sql(repo, "UPDATE tree_entries SET path='other.safetensors' WHERE commit_id=?", ids[1])
    report = repo.fsck(quick=True)
    assert kinds(report) == {"IndexMismatch": 1} and report.findings[0].object_id == ids[1]


def test_ref_to_a_commit_that_does_not_exist_is_dangling(built: tuple[Repo, list[str]]) -> None:
    repo, _ = built
    sql(repo, "UPDATE refs SET target=? WHERE name='refs/heads/exp'", "0" * 32)
    report = repo.fsck()
    assert kinds(report) == {"DanglingRef": 1}
    (f,) = report.findings
    assert f.ref == "refs/heads/exp" and f.target == "0" * 32


def test_unborn_head_branch_is_fine(tmp_path: Path) -> None:
    with Repo.init(tmp_path / "empty") as repo:
        report = repo.fsck()
        assert report.findings == () and report.commits_checked == 0


def test_stray_files_are_orphan_warnings_only(built: tuple[Repo, list[str]]) -> None:
    repo, _ = built
    stray = repo.store.root / "ab" / ("c" * 30)
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"left by a killed writer")
    (repo.dir / "tmp" / ".w-abc123").write_bytes(b"half a frame")
    report = repo.fsck()
    assert report.ok and kinds(report) == {} and kinds(report, "warning") == {"OrphanFile": 2}
    assert {f.file for f in report.findings} == {"objects/ab/" + "c" * 30, "tmp/.w-abc123"}


def _crash_helpers() -> object:
    spec = importlib.util.spec_from_file_location("_crash", Path(__file__).with_name("test_crash_safety.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fsck_passes_after_kill_minus_9_during_commits(tmp_path: Path) -> None:
    crash = _crash_helpers()
    dirs = crash.make_run(tmp_path / "run", 5, 7)  # type: ignore[attr-defined]
    repo_dir = tmp_path / "repo"
    ckvcs.Repo.init(repo_dir).close()
    rnd = random.Random(7)
    for _ in range(3):
        p = subprocess.Popen([sys.executable, "-c", crash.WRITER, str(repo_dir), *map(str, dirs)])  # type: ignore[attr-defined]
        time.sleep(rnd.uniform(0.3, 1.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        with Repo.open(repo_dir) as repo:
            report = repo.fsck()
            assert report.ok, [f.message for f in report.findings]
            assert set(kinds(report, "warning")) <= {"OrphanFile"}
