"""gc: the planner keeps what refs, HEAD, the reflog, the grace period and delta chains need; execute removes the rest.

Each test builds a small repository from memory (delta chains on ``w``), makes
some commits unreachable (deleting a branch and its automatic tag), sets object
ages in the index where the test is about time, and checks the plan, the
repository after gc (fsck passes) and that every remaining commit checks out
byte-identical.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest
import torch

from ckvcs import Repo
from ckvcs.config import Config, load_config, parse_age
from ckvcs.errors import BadInputError, IntegrityError, RefError, StorageError
from ckvcs.maintenance.gc import GcPlan, plan_gc
from ckvcs.odb import ObjectDB
from test_fsck import sql  # the same raw-SQL helper the fsck damage tests use

DAY = 86400.0


def ids(repo: Repo) -> set[str]:
    return {r[0] for r in sql(repo, "SELECT id FROM objects")}


def files(repo: Repo) -> set[str]:
    return {p.relative_to(repo.dir).as_posix() for p in (repo.dir / "objects").rglob("*") if p.is_file()}


def state(g: torch.Generator) -> dict[str, torch.Tensor]:
    return {"w": torch.randn(64, 32, generator=g), "b": torch.randn(16, generator=g).to(torch.bfloat16)}


def step(sd: dict[str, torch.Tensor], rows: slice, by: float) -> dict[str, torch.Tensor]:
    sd = {k: v.clone() for k, v in sd.items()}
    sd["w"][rows] += by
    return sd


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """main: c0, c1, c2 (w a delta chain); exp from c2: e1, e2 (w deltas on main's, then on e1's)."""
    r = Repo.init(tmp_path / "repo")
    g = torch.Generator().manual_seed(0)
    sd = state(g)
    for i in range(3):
        sd = step(sd, slice(0, i + 1), 0.125)
        r.commit(sd, step=i * 10)
    r.sd_main = sd  # type: ignore[attr-defined]
    for i in range(2):
        sd = step(sd, slice(10 + i, 12 + i), -1.0)
        r.commit(sd, step=100 + i, branch="exp")
    r.sd_exp = sd  # type: ignore[attr-defined]
    yield r
    r.close()


def only_exp(repo: Repo) -> set[str]:
    """The objects only exp's commits hold: everything minus what main reaches."""
    main = set()
    for c in repo.log("main"):
        main.add(c.id)
        main |= {r[0] for r in sql(repo, "SELECT manifest_id FROM tree_entries WHERE commit_id=?", c.id)}
        main |= {r[0] for r in sql(repo, "SELECT object_id FROM tensor_stats WHERE commit_id=?", c.id)}
    blobs = {r[0] for r in sql(repo, "SELECT id FROM objects WHERE kind='blob'")}
    return ids(repo) - main - blobs  # the safetensors header blob is the same on both branches


def drop_exp(repo: Repo) -> None:
    repo.delete_branch("exp")
    for t in ("exp/step-100", "exp/step-101"):
        repo.delete_tag(t)


def age(repo: Repo, days: float, where: str = "1=1", *args: object) -> None:
    """Make objects ``days`` old in the index (created_at)."""
    sql(repo, f"UPDATE objects SET created_at=? WHERE {where}", time.time() - days * DAY, *args)


def checkouts(repo: Repo, out: Path) -> dict[str, dict[str, bytes]]:
    got = {}
    for c in repo.log("main"):
        d = out / c.id
        repo.checkout(c.id, out=d)
        got[c.id] = {p.name: p.read_bytes() for p in d.iterdir()}
    return got


def plan(repo: Repo, prune: str = "now", reflog: str = "90d") -> GcPlan:
    return plan_gc(repo.index, repo.store, ObjectDB(repo.store), now=time.time(), prune=parse_age(prune),
                   reflog_expire=parse_age(reflog))


# -- the planner -------------------------------------------------------------------------------

def test_everything_reachable_is_kept(repo: Repo) -> None:
    p = plan(repo)
    assert p.objects == () and p.commits == () and p.files == () and p.bytes_freed == 0
    assert p.reachable == len(ids(repo))


def test_a_tag_keeps_a_deleted_branch_alive_until_it_goes_too(repo: Repo) -> None:
    e2, e1 = [c.id for c in repo.log("exp")][:2]
    repo.delete_branch("exp")
    assert plan(repo).objects == ()  # exp/step-101 still names the tip, and through it e1
    repo.delete_tag("exp/step-101")
    p = plan(repo)  # e2 is unreachable now; exp/step-100 still keeps e1
    assert e2 in p.commits and e1 not in p.objects and set(p.objects) < only_exp(repo)
    repo.delete_tag("exp/step-100")
    assert set(plan(repo).objects) == only_exp(repo)


def test_branch_delete_then_prune_now_frees_exactly_the_branch_objects(repo: Repo, tmp_path: Path) -> None:
    before = checkouts(repo, tmp_path / "before")
    exp_only = only_exp(repo)
    exp_commits = {c.id for c in repo.log("exp")} - {c.id for c in repo.log("main")}
    stored = dict(sql(repo, "SELECT id, stored_size FROM objects"))
    drop_exp(repo)
    assert repo.reflog("main") and not sql(repo, "SELECT * FROM reflog WHERE ref='refs/heads/exp'")
    p = repo.gc(prune="now")
    assert set(p.objects) == exp_only and set(p.commits) == exp_commits
    assert p.object_bytes == sum(stored[o] for o in exp_only) == p.bytes_freed
    assert ids(repo) == set(stored) - exp_only
    assert files(repo) == {f"objects/{o[:2]}/{o[2:]}" for o in ids(repo)}
    for table in ("commits", "tree_entries", "tensor_stats"):
        col = "id" if table == "commits" else "commit_id"
        assert not sql(repo, f"SELECT 1 FROM {table} WHERE {col} IN ({','.join('?' * len(exp_commits))})",
                       *exp_commits)
    assert repo.fsck().ok and repo.fsck().findings == ()
    assert checkouts(repo, tmp_path / "after") == before
    assert repo.gc(prune="now").empty


def test_default_grace_keeps_a_recent_deleted_branch(repo: Repo) -> None:
    exp_only = only_exp(repo)
    drop_exp(repo)
    p = repo.gc()  # two weeks by default: the branch's objects were written just now
    assert p.objects == () and p.kept_recent == len(exp_only) and p.kept_recent_commits == 2
    assert ids(repo) >= exp_only
    age(repo, 15)
    assert set(repo.gc().objects) == exp_only


def test_a_young_unreachable_commit_keeps_its_old_history(repo: Repo) -> None:
    exp = [c.id for c in repo.log("exp")][:2]  # e2, e1
    drop_exp(repo)
    age(repo, 30)
    age(repo, 1, "id=?", exp[0])  # e2's commit object is young; everything else old
    p = plan(repo, "2w")
    assert p.objects == () and p.kept_recent_commits == 2  # e2 keeps e1 (its parent) and both trees
    age(repo, 30, "id=?", exp[0])
    assert set(plan(repo, "2w").commits) == set(exp)


def test_a_kept_object_stacked_on_a_removed_one_is_re_encoded_first(repo: Repo, tmp_path: Path) -> None:
    """main commits the exact w of exp's tip: main reuses that object, a delta on e1's w, which only exp made."""
    e2 = repo.log("exp")[0].id
    w2 = sql(repo, "SELECT object_id FROM tensor_stats WHERE commit_id=? AND name='w'", e2)[0][0]
    (w2_base,) = sql(repo, "SELECT base_id FROM objects WHERE id=?", w2)[0]
    assert w2_base is not None
    c3 = repo.commit(repo.sd_exp, step=30).id  # type: ignore[attr-defined]
    assert sql(repo, "SELECT codec FROM tensor_stats WHERE commit_id=? AND name='w'", c3)[0][0] == "reused"
    before = checkouts(repo, tmp_path / "before")
    drop_exp(repo)
    dry = repo.gc(prune="now", dry_run=True)
    assert dry.rebase == (w2,) and w2_base in dry.objects and w2_base in ids(repo)   # a plan changes nothing
    p = repo.gc(prune="now")
    assert len(p.commits) == 2 and e2 in p.commits  # exp's commits go, and so does e1's w, once w2 no longer needs it
    assert w2 not in p.objects and w2_base in p.objects and w2 in ids(repo) and w2_base not in ids(repo)
    assert sql(repo, "SELECT base_id FROM objects WHERE id=?", w2)[0][0] != w2_base
    assert repo.fsck().findings == ()
    assert checkouts(repo, tmp_path / "after") == before


def test_packed_garbage_goes_and_what_was_stacked_on_it_is_re_encoded(repo: Repo, tmp_path: Path) -> None:
    before = checkouts(repo, tmp_path / "before")
    repo.repack(depth=3)
    assert files(repo) == set()
    only = only_exp(repo)
    drop_exp(repo)
    p = plan(repo)
    doomed = set(p.objects)
    # repack made exp's newer versions the bases of main's: main's are re-encoded, all of exp's go
    assert doomed == only and set(p.packed) == doomed and p.packed_bytes > 0 and p.rebase
    for oid in ids(repo) - doomed:   # what is kept but stacked on what goes is re-encoded first
        (base,) = sql(repo, "SELECT base_id FROM objects WHERE id=?", oid)[0]
        assert (base in doomed) == (oid in p.rebase)
    (old_pack,) = [f.name for f in (repo.dir / "packs").iterdir()]
    done = repo.gc(prune="now")
    assert set(done.objects) == doomed and ids(repo).isdisjoint(doomed)
    (new_pack,) = [f.name for f in (repo.dir / "packs").iterdir()]
    assert new_pack != old_pack and sql(repo, "SELECT count(*) FROM objects WHERE pack_id IS NULL") == [(0,)]
    assert sql(repo, "SELECT id || '.pack', n_objects FROM packs") == [(new_pack, len(ids(repo)))]
    report = repo.fsck()
    assert report.findings == (), [f.message for f in report.findings]
    repo.cache.clear()
    assert checkouts(repo, tmp_path / "after") == before


def test_head_detached_on_a_deleted_branch_keeps_it(repo: Repo) -> None:
    e2 = repo.log("exp")[0].id
    sql(repo, "UPDATE refs SET symbolic=NULL, target=? WHERE name='HEAD'", e2)
    drop_exp(repo)
    assert plan(repo).objects == ()


def test_a_reflog_entry_keeps_a_commit_until_it_expires(repo: Repo) -> None:
    e2 = repo.log("exp")[0].id
    drop_exp(repo)
    # as if main had been reset away from e2: only the reflog names it now
    sql(repo, "INSERT INTO reflog(ref, old, new, time, message) VALUES ('refs/heads/main', ?, ?, ?, 'reset')",
        e2, repo.head()[1], time.time() - 10 * DAY)
    p = plan(repo)
    assert p.objects == () and p.reflog == ()
    p = plan(repo, reflog="7d")  # the entry is 10 days old: it expires, and with it what it kept
    assert len(p.reflog) == 1 and set(p.objects) == only_exp(repo)


def test_dry_run_changes_nothing(repo: Repo) -> None:
    drop_exp(repo)
    (repo.dir / "tmp" / ".w-stale").write_bytes(b"x")
    dump = lambda: (sorted(sqlite3.connect(repo.dir / "index.db").iterdump()), files(repo),  # noqa: E731
                    sorted(os.listdir(repo.dir / "tmp")))
    before = dump()
    p = repo.gc(prune="now", dry_run=True)
    assert p.objects and p.files == ("tmp/.w-stale",)
    assert dump() == before


def test_stray_files_go_once_older_than_the_grace_period(repo: Repo) -> None:
    stray = repo.dir / "objects" / "ab" / ("c" * 30)
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"left by a killed commit")
    tmpf = repo.dir / "tmp" / ".w-abc"
    tmpf.write_bytes(b"half a frame")
    p = repo.gc()
    assert p.files == () and p.kept_files == 2 and stray.exists()
    old = time.time() - 20 * DAY
    os.utime(stray, (old, old))
    os.utime(tmpf, (old, old))
    p = repo.gc()
    assert set(p.files) == {"objects/ab/" + "c" * 30, "tmp/.w-abc"} and p.file_bytes == 23 + 12
    assert not stray.exists() and not tmpf.exists() and not stray.parent.exists()
    assert repo.fsck().findings == ()


def test_prune_never_removes_no_object(repo: Repo) -> None:
    drop_exp(repo)
    age(repo, 1000)
    p = repo.gc(prune="never")
    assert p.objects == () and p.kept_recent == len(only_exp(repo))


def test_gc_refuses_when_a_reachable_manifest_is_unreadable(repo: Repo) -> None:
    drop_exp(repo)
    mid = sql(repo, "SELECT manifest_id FROM tree_entries WHERE commit_id=?", repo.head()[1])[0][0]
    os.unlink(repo.store.path(mid))
    before = ids(repo)
    with pytest.raises(IntegrityError, match=f"gc cannot read object {mid}"):
        repo.gc(prune="now")
    assert ids(repo) == before


# -- reflog ------------------------------------------------------------------------------------

def test_reflog_show_delete_and_expire(repo: Repo) -> None:
    log = repo.reflog()  # HEAD's branch
    assert [e.n for e in log] == [0, 1, 2] and log[0].new == repo.head()[1] and log[-1].old is None
    assert log[0].ref == "refs/heads/main" and log[0].message.startswith("commit")
    assert repo.reflog("exp/step-100")[0].message == "tag"
    with pytest.raises(RefError):
        repo.reflog("nope")
    repo.delete_branch("exp")
    with pytest.raises(RefError):
        repo.reflog("exp")  # gone with the branch, as in git
    repo.delete_tag("exp/step-100")
    assert not sql(repo, "SELECT 1 FROM reflog WHERE ref IN ('refs/heads/exp', 'refs/tags/exp/step-100')")
    sql(repo, "UPDATE reflog SET time=? WHERE ref='refs/heads/main'", time.time() - 100 * DAY)
    assert repo.expire_reflog(refs=["exp/step-101"]) == 0
    assert repo.expire_reflog() == 3 and repo.reflog("main") == []
    left = len(sql(repo, "SELECT 1 FROM reflog"))  # the tags step-0, -10, -20, exp/step-101
    assert left == 4 and repo.expire_reflog("now") == left and repo.reflog("exp/step-101") == []


def test_gc_expires_old_reflog_entries(repo: Repo) -> None:
    sql(repo, "UPDATE reflog SET time=? WHERE ref='refs/heads/main'", time.time() - 91 * DAY)
    p = repo.gc()
    assert len(p.reflog) == 3 and repo.reflog("main") == [] and repo.fsck().ok


# -- ages and config ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,seconds", [("now", 0), ("never", None), ("2w", 14 * DAY), ("90d", 90 * DAY),
                                          ("12h", 43200), ("30m", 1800), ("45s", 45), ("2.weeks.ago", 14 * DAY),
                                          ("1.day.ago", DAY), ("3days", 3 * DAY), ("NOW", 0)])
def test_parse_age(text: str, seconds: float | None) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "w", "-1d", "1.5d", "2 weeks", "10ms", "2.weeks.agoo", "yesterday"])
def test_parse_age_refuses(text: str) -> None:
    with pytest.raises(BadInputError, match="not an age"):
        parse_age(text)


def test_gc_config_round_trips_and_bad_values_are_refused(tmp_path: Path) -> None:
    cfg = Config().with_(prune_expire="3d", reflog_expire="never")
    path = tmp_path / "config.toml"
    path.write_text(cfg.to_toml())
    got = load_config(path)
    assert (got.prune_expire, got.reflog_expire) == ("3d", "never")
    path.write_text(cfg.with_(prune_expire="soon").to_toml())
    with pytest.raises(StorageError, match="gc.prune_expire"):
        load_config(path)
