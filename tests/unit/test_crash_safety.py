"""Nothing committed is ever lost: kill -9 mid-commit, and a full disk mid-commit.

The kill test runs real commits in a subprocess and SIGKILLs it at random
moments; afterwards every commit the index holds must check out byte-identical,
and every object row must name a readable frame.
"""
from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import ckvcs
from ckvcs.errors import StorageError
from ckvcs.index import queries as q
from ckvcs.index.schema import objects
from ckvcs.odb import ObjectDB

WRITER = r"""
import sys, ckvcs
repo = ckvcs.Repo.open(sys.argv[1])
for d in sys.argv[2:]:
    try:
        repo.commit(d)
    except ckvcs.CkvError:
        pass
"""


def make_run(root: Path, n: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((256, 512), dtype=np.float32)
    dirs = []
    for i in range(n):
        mask = rng.random(w.shape) < 0.2
        w = np.where(mask, w + rng.standard_normal(w.shape, dtype=np.float32) * 1e-3, w).astype(np.float32)
        d = root / f"step-{(i + 1) * 10:04d}"
        d.mkdir(parents=True)
        save_file({"w": w, "b": w[0].copy(), "i": np.arange(i + 5, dtype=np.int64)}, str(d / "model.safetensors"))
        (d / "config.json").write_text('{"i": %d}' % i)
        dirs.append(d)
    return dirs


def check_consistent(repo_dir: Path, dirs: list[Path]) -> int:
    """Every completed commit checks out byte-identical; every indexed object decodes."""
    repo = ckvcs.Repo.open(repo_dir)
    by_step = {int(d.name.split("-")[1]): d for d in dirs}
    log = repo.log()
    for c in log:
        out = repo_dir / "co" / c.id
        repo.checkout(c.id, out=out)
        src = by_step[c.step]
        for f in src.iterdir():
            assert (out / f.name).read_bytes() == f.read_bytes(), (c.step, f.name)
    odb = ObjectDB(repo.store)
    with repo.index.read() as conn:
        ids = [r.id for r in conn.execute(objects.select())]
        for ref in q.list_refs(conn, "refs/"):
            assert q.commit_row(conn, ref.target) is not None
    for oid in ids:
        odb.load_bytes(oid)
    repo.close()
    return len(log)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_minus_9_during_commits_loses_nothing(tmp_path: Path, seed: int) -> None:
    dirs = make_run(tmp_path / "run", 6, seed)
    repo_dir = tmp_path / "repo"
    ckvcs.Repo.init(repo_dir).close()
    rnd = random.Random(seed)
    for _ in range(4):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(repo_dir), *map(str, dirs)])
        time.sleep(rnd.uniform(0.3, 2.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        check_consistent(repo_dir, dirs)
    # finish the run: every checkpoint ends up committed exactly once
    subprocess.run([sys.executable, "-c", WRITER, str(repo_dir), *map(str, dirs)], check=True)
    assert check_consistent(repo_dir, dirs) == len(dirs)


def test_full_disk_mid_commit_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs = make_run(tmp_path / "run", 2)
    repo = ckvcs.Repo.init(tmp_path / "repo")
    repo.commit(dirs[0])
    before_files = sorted(p for p in (tmp_path / "repo/.ckv/objects").rglob("*") if p.is_file())
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError, match="no space left"):
        repo.commit(dirs[1])
    monkeypatch.setattr(os, "replace", real_replace)
    after_files = sorted(p for p in (tmp_path / "repo/.ckv/objects").rglob("*") if p.is_file())
    assert after_files == before_files
    assert not any((tmp_path / "repo/.ckv/tmp").iterdir())
    assert [c.step for c in repo.log()] == [10]
    assert repo.commit(dirs[1]).step == 20  # and the repository still works


def test_second_writer_waits_then_reports_lock(tmp_path: Path) -> None:
    repo = ckvcs.Repo.init(tmp_path / "repo")
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.flock(f, fcntl.LOCK_EX);"
                               "print('locked', flush=True); time.sleep(30)", str(repo.dir / "lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        repo.lock.timeout = 0.2
        dirs = make_run(tmp_path / "run", 1)
        with pytest.raises(ckvcs.CkvError, match="locked") as e:
            repo.commit(dirs[0])
        assert e.value.exit_code == 10
        assert repo.log() == []
    finally:
        holder.kill()
        holder.wait()
