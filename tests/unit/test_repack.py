"""repack: new bases per lineage, one pack, the old layout deleted — and every commit unchanged.

Also the pack kinds of damage for fsck (a flipped bit in a pack, a truncated
or missing pack, leftovers of an interrupted repack) and kill -9 during
repack.
"""
from __future__ import annotations

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

from ckvcs import Repo
from ckvcs.maintenance import FsckReport
from ckvcs.store.pack import read_table
from test_fsck import build, sql, tensor_of  # the same small repository fsck's damage tests use


def kinds(report: FsckReport, severity: str = "error") -> Counter[str]:
    return Counter(f.kind for f in report.findings if f.severity == severity)


def snapshot(repo: Repo) -> dict[str, dict[str, bytes]]:
    """Every commit's tensors as bytes."""
    with repo.index.read() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM commits")]
    return {cid: {k: bytes(v.view(torch.uint8).numpy()) if v.numel() else b"" for k, v in repo.load(cid).items()}
            for cid in ids}


def loose_files(repo: Repo) -> list[Path]:
    return sorted(p for p in (repo.dir / "objects").rglob("*") if p.is_file())


def packs(repo: Repo) -> list[Path]:
    return sorted((repo.dir / "packs").glob("*.pack"))


@pytest.fixture
def built(tmp_path: Path):  # type: ignore[no-untyped-def]
    repo, ids = build(tmp_path / "repo")
    yield repo, ids
    repo.close()


def test_repack_keeps_every_commit_and_moves_everything_into_one_pack(built) -> None:  # type: ignore[no-untyped-def]
    repo, ids = built
    before = snapshot(repo)
    n_objects = sql(repo, "SELECT count(*) FROM objects")[0][0]
    res = repo.repack(window=4)
    assert res.objects == n_objects and not res.dry_run and res.pack_id is not None
    assert loose_files(repo) == [] and [p.stem for p in packs(repo)] == [res.pack_id]
    assert sql(repo, "SELECT count(*) FROM objects WHERE pack_id IS NULL")[0][0] == 0
    assert sql(repo, "SELECT id, n_objects FROM packs") == [(res.pack_id, n_objects)]
    assert {e.id for e in read_table(packs(repo)[0], res.pack_id, verify_hash=True)} == \
        {r[0] for r in sql(repo, "SELECT id FROM objects")}
    repo.cache.clear()
    assert snapshot(repo) == before
    for quick in (True, False):
        report = repo.fsck(quick=quick)
        assert report.findings == (), [f.message for f in report.findings]


def test_newest_versions_are_whole_and_chains_point_to_newer_versions(built) -> None:  # type: ignore[no-untyped-def]
    repo, ids = built
    repo.repack()
    w = [tensor_of(repo, c, "w") for c in ids]  # every version of w, in commit order (exp's last)
    rows = {r[0]: r[1:] for r in sql(repo, "SELECT id, base_id, depth FROM objects")}
    assert rows[w[-1]] == (None, 0)             # the newest version: stored whole
    for i, older in enumerate(w[:-1]):
        base, depth = rows[older]
        assert base in w[i + 1:] and depth == rows[base][1] + 1


def test_depth_bounds_every_chain_and_window_picks_the_most_similar(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "r")
    g = torch.Generator().manual_seed(1)
    a = torch.randn(128, 64, generator=g)
    b = a.clone()
    b[:40] = torch.randn(40, 64, generator=g)          # far from a
    c = a.clone()
    c[0, 0] += 1.0                                       # one element from a
    for i, w in enumerate([a, b, c, b.clone().add_(1.0), c.clone().mul_(2.0)]):
        repo.commit({"w": w}, step=i)
    versions = [r[0] for r in sql(repo, "SELECT object_id FROM tensor_stats t JOIN commits c ON c.id = t.commit_id "
                                  "ORDER BY c.seq")]
    repo.repack(window=2, depth=3)
    rows = {r[0]: r[1:] for r in sql(repo, "SELECT id, base_id, depth FROM objects")}
    assert rows[versions[0]][0] == versions[2]           # a takes c (window 2 reaches it), not the nearer b
    repo.repack(window=4, depth=1)
    assert sql(repo, "SELECT max(depth) FROM objects")[0][0] == 1
    repo.repack(window=4, depth=0)
    assert sql(repo, "SELECT count(*) FROM objects WHERE base_id IS NOT NULL")[0][0] == 0
    repo.close()


def test_unrelated_versions_stay_whole(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "r")
    g = torch.Generator().manual_seed(2)
    for i in range(3):
        repo.commit({"w": torch.randint(-(2**31), 2**31 - 1, (256, 64), generator=g, dtype=torch.int32)}, step=i)
    res = repo.repack()
    assert sql(repo, "SELECT count(*) FROM objects WHERE base_id IS NOT NULL")[0][0] == 0
    assert res.max_depth_after == 0
    repo.close()


def test_dry_run_writes_nothing_and_reports_what_repack_would_do(built) -> None:  # type: ignore[no-untyped-def]
    repo, _ = built
    rows_before = sql(repo, "SELECT * FROM objects ORDER BY id")
    files = loose_files(repo)
    plan = repo.repack(dry_run=True)
    assert plan.dry_run and plan.pack_id is None and plan.rebased
    assert sql(repo, "SELECT * FROM objects ORDER BY id") == rows_before and loose_files(repo) == files
    assert packs(repo) == [] and list((repo.dir / "tmp").iterdir()) == []
    done = repo.repack()
    assert (done.bytes_after, len(done.rebased)) == (plan.bytes_after, len(plan.rebased))


def test_commits_after_a_repack_and_a_second_repack(built) -> None:  # type: ignore[no-untyped-def]
    repo, ids = built
    first = repo.repack()
    sd = {k: v.clone() for k, v in repo.load(ids[3]).items()}
    sd["w"][5] += 2.0
    new = repo.commit(sd, step=99).id
    assert loose_files(repo)                              # new objects are loose until the next repack
    before = snapshot(repo)
    second = repo.repack()
    assert [p.stem for p in packs(repo)] == [second.pack_id] != [first.pack_id]
    assert loose_files(repo) == [] and sql(repo, "SELECT id FROM packs") == [(second.pack_id,)]
    repo.cache.clear()
    assert snapshot(repo) == before and repo.fsck().findings == ()
    assert sql(repo, "SELECT depth FROM objects WHERE id=?", tensor_of(repo, new, "w")) == [(0,)]


# -- pack damage ---------------------------------------------------------------------------------

def _packed(repo: Repo) -> Path:
    repo.repack()
    (p,) = packs(repo)
    os.chmod(p, 0o644)
    return p


def test_flipped_bit_in_a_pack_is_a_hash_mismatch_of_that_object(built) -> None:  # type: ignore[no-untyped-def]
    repo, ids = built
    p = _packed(repo)
    leaf = tensor_of(repo, ids[0], "w")                   # the oldest version: deepest, nothing stacked on it
    assert sql(repo, "SELECT count(*) FROM objects WHERE base_id=?", leaf) == [(0,)]
    off, size = sql(repo, "SELECT pack_offset, stored_size FROM objects WHERE id=?", leaf)[0]
    data = bytearray(p.read_bytes())
    data[off + size // 2] ^= 0x04
    p.write_bytes(bytes(data))
    for quick in (True, False):
        report = repo.fsck(quick=quick)
        assert kinds(report) == {"HashMismatch": 1}, [f.message for f in report.findings]
        (f,) = report.findings
        assert f.object_id == leaf and f.commits == (ids[0],)


def test_flipped_byte_in_the_pack_table_fails_the_pack_hash(built) -> None:  # type: ignore[no-untyped-def]
    repo, _ = built
    p = _packed(repo)
    data = bytearray(p.read_bytes())
    data[-60] ^= 0x01                                     # inside the entry table
    p.write_bytes(bytes(data))
    report = repo.fsck()
    assert not report.ok and {f.kind for f in report.findings if f.severity == "error"} <= \
        {"HashMismatch", "IndexMismatch"}
    assert any(f.kind == "HashMismatch" and f.stage == "pack" for f in report.findings)


def test_truncated_pack_is_reported_with_what_it_cut_off(built) -> None:  # type: ignore[no-untyped-def]
    repo, ids = built
    p = _packed(repo)
    size = p.stat().st_size
    with open(p, "r+b") as f:
        f.truncate(size - 40)                             # the tail: every frame is still there
    report = repo.fsck(quick=True)
    assert kinds(report) == {"TruncatedPack": 1} and "0 objects cut off" in report.findings[0].detail
    last_off = max(r[0] for r in sql(repo, "SELECT pack_offset FROM objects"))
    with open(p, "r+b") as f:
        f.truncate(last_off + 10)                         # into the last frame
    report = repo.fsck()
    errors = kinds(report)
    assert errors["TruncatedPack"] == 1 and set(errors) <= {"TruncatedPack", "BrokenChain"}
    (t,) = [f for f in report.findings if f.kind == "TruncatedPack"]
    assert "1 objects cut off" in t.detail and t.commits


def test_missing_pack_is_a_missing_object(built) -> None:  # type: ignore[no-untyped-def]
    repo, ids = built
    p = _packed(repo)
    p.unlink()
    report = repo.fsck(quick=True)
    assert kinds(report) == {"MissingObject": 1} and set(report.findings[0].commits) == set(ids)


def test_interrupted_repack_leftovers_are_warnings(built) -> None:  # type: ignore[no-untyped-def]
    repo, _ = built
    loose = {p.relative_to(repo.dir): p.read_bytes() for p in loose_files(repo)}
    repo.repack()
    stray = repo.dir / "packs" / ("ab" * 16 + ".pack")
    stray.write_bytes(b"half a pack")
    some = next(iter(loose))
    (repo.dir / some).parent.mkdir(exist_ok=True)
    (repo.dir / some).write_bytes(loose[some])
    report = repo.fsck()
    assert report.ok and kinds(report, "warning") == {"OrphanFile": 2}


# -- kill -9 -------------------------------------------------------------------------------------

REPACKER = r"""
import sys, ckvcs
with ckvcs.Repo.open(sys.argv[1]) as repo:
    for depth in (1, 3, 0, 2):
        repo.repack(depth=depth, window=3)
"""


def test_kill_minus_9_during_repack_loses_nothing(tmp_path: Path) -> None:
    repo, _ = build(tmp_path / "repo")
    before = snapshot(repo)
    repo.close()
    rnd = random.Random(3)
    for _ in range(6):
        p = subprocess.Popen([sys.executable, "-c", REPACKER, str(tmp_path / "repo")])
        time.sleep(rnd.uniform(0.5, 3.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        with Repo.open(tmp_path / "repo") as r:
            report = r.fsck()
            assert report.ok, [f.message for f in report.findings]
            assert set(kinds(report, "warning")) <= {"OrphanFile"}
            assert snapshot(r) == before


def test_an_index_from_before_packs_is_migrated_on_open(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "r")
    cid = repo.commit({"w": torch.arange(12.0)}, step=1).id
    repo.close()
    con = sqlite3.connect(tmp_path / "r" / ".ckv" / "index.db")
    with con:
        con.execute("DROP TABLE packs")
        con.execute("DROP INDEX ix_objects_pack")
        con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    con.close()
    with Repo.open(tmp_path / "r") as repo:
        assert sql(repo, "SELECT value FROM meta WHERE key='schema_version'") == [("2",)]
        repo.repack()
        assert torch.equal(repo.load(cid)["w"], torch.arange(12.0)) and repo.fsck().ok


def test_checkout_reads_each_object_once_and_decodes_at_most_depth_deltas(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, ids = built
    repo.repack(depth=2)
    with Repo.open(repo.root) as fresh:  # an empty decode cache
        reads: Counter[str] = Counter()
        get = fresh.store.get

        def counting_get(oid: str) -> bytes:
            reads[oid] += 1
            return get(oid)

        fresh.store.get = counting_get  # type: ignore[method-assign]
        fresh.checkout(ids[0], tmp_path / "out")
        assert reads and max(reads.values()) == 1
        depth = dict(sql(fresh, "SELECT id, depth FROM objects"))
        assert max(depth[o] for o in reads) <= 2


def test_choose_bases_restarts_a_chain_rather_than_reaching_far() -> None:
    from ckvcs.maintenance.repack_plan import choose_bases, depths

    sim = {(i, j): 10 * (j - i) for i in range(5) for j in range(i + 1, 5)}  # drift: further = more different
    assert choose_bases(5, sim, window=4, depth=1) == [None, 2, None, 4, None]
    sideways = choose_bases(5, sim, window=4, depth=1, slack=float("inf"))
    assert sideways == [4, 4, 4, 4, None] and max(depths(sideways)) == 1  # every version a far delta
    assert choose_bases(5, sim, window=4, depth=10) == [1, 2, 3, 4, None]


GC_REBASE = r"""
import sys, ckvcs
with ckvcs.Repo.open(sys.argv[1]) as repo:
    repo.gc(prune="now")
"""


def test_kill_minus_9_during_a_gc_that_re_encodes_loses_nothing(tmp_path: Path) -> None:
    """After repack, main's old versions are stacked on exp's newer ones; gc of exp re-encodes them first."""
    import shutil

    repo, ids = build(tmp_path / "repo")
    repo.repack()
    repo.delete_branch("exp")
    repo.delete_tag("exp/step-40")
    main = {c: v for c, v in snapshot(repo).items() if c != ids[4]}
    assert repo.gc(prune="now", dry_run=True).rebase
    repo.close()
    rnd = random.Random(5)
    for i in range(5):
        work = tmp_path / f"copy{i}"
        shutil.copytree(tmp_path / "repo", work)
        p = subprocess.Popen([sys.executable, "-c", GC_REBASE, str(work)])
        time.sleep(rnd.uniform(0.8, 2.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        with Repo.open(work) as r:
            report = r.fsck()
            assert report.ok, [f.message for f in report.findings]
            assert {c: v for c, v in snapshot(r).items() if c in main} == main
            r.gc(prune="now")
            assert r.fsck().findings == () and set(snapshot(r)) == set(main)
