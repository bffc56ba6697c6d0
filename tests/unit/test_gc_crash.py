"""gc killed with SIGKILL at any point loses nothing that is reachable, and leaves a repository fsck passes.

A repository with a live branch and two dead ones (deleted with their tags)
is gc'd with ``--prune=now`` in a subprocess, killed after a random delay, and
also at the two points the ``CKV_TEST_KILL_AT`` hook names (right after the
index transaction, and halfway through the file removals), where random
delays rarely land. After every kill: fsck reports no error (leftover files
are OrphanFile warnings), every live commit checks out byte-identical, and a
final gc completes and leaves exactly the live objects.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ckvcs import Repo

GC = "import sys, ckvcs; ckvcs.Repo.open(sys.argv[1]).gc(prune='now')"


def build(root: Path) -> Repo:
    """main: 6 commits; dead1, dead2: 4 commits each from main's third, then deleted with their tags."""
    repo = Repo.init(root)
    g = torch.Generator().manual_seed(1)
    sd = {f"l{i}.w": torch.randn(96, 64, generator=g) for i in range(6)}
    sd["emb"] = torch.randn(128, 32, generator=g).to(torch.bfloat16)

    def nudge(sd: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
        sd = {n: t.clone() for n, t in sd.items()}
        for t in sd.values():
            t.view(-1)[k::37] += 0.5
        return sd

    for i in range(6):
        sd = nudge(sd, i)
        repo.commit(sd, step=i)
        if i == 2:
            fork = sd
    for b in ("dead1", "dead2"):
        s = fork
        for j in range(4):
            s = nudge(s, 7 + j + (b == "dead2"))
            repo.commit(s, step=100 + j, branch=b)
        repo.delete_branch(b)
        for t in repo.tags():
            if t.name.startswith(b + "/"):
                repo.delete_tag(t.name)
    return repo


def snapshot(repo: Repo, out: Path) -> dict[str, dict[str, bytes]]:
    got = {}
    for c in repo.log("main"):
        d = out / c.id
        repo.checkout(c.id, out=d)
        got[c.id] = {p.name: p.read_bytes() for p in sorted(d.iterdir())}
    return got


def check(repo_dir: Path, expect: dict[str, dict[str, bytes]], out: Path) -> None:
    with Repo.open(repo_dir) as repo:
        report = repo.fsck()
        assert report.ok, [f.message for f in report.findings]
        assert {f.kind for f in report.findings} <= {"OrphanFile"}
        assert snapshot(repo, out) == expect


def run_gc(repo_dir: Path, *, delay: float | None = None, kill_at: str | None = None) -> int:
    env = dict(os.environ)
    if kill_at:
        env["CKV_TEST_KILL_AT"] = kill_at
    p = subprocess.Popen([sys.executable, "-c", GC, str(repo_dir)], env=env)
    if delay is not None:
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
    return p.wait()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, bytes]], set[str]]:
    root = tmp_path_factory.mktemp("gc-crash")
    repo = build(root / "repo")
    expect = snapshot(repo, root / "expect")
    dead = set(repo.gc(prune="now", dry_run=True).objects)
    repo.close()
    assert dead, "the dead branches must leave something to remove"
    return root / "repo", expect, dead


def fresh(built: tuple[Path, dict, set[str]], tmp_path: Path) -> Path:
    dst = tmp_path / "repo"
    shutil.copytree(built[0], dst, symlinks=True)
    return dst


def finish(repo_dir: Path, expect: dict[str, dict[str, bytes]], tmp_path: Path) -> None:
    assert run_gc(repo_dir) == 0
    check(repo_dir, expect, tmp_path / "final")
    with Repo.open(repo_dir) as repo:
        assert repo.fsck().findings == ()
        p = repo.gc(prune="now", dry_run=True)
        assert p.empty and len(set(repo.store.list())) == p.reachable


@pytest.mark.parametrize("point", ["gc-after-rows", "gc-mid-files"])
def test_kill_at_the_hook_points(built: tuple[Path, dict, set[str]], tmp_path: Path, point: str) -> None:
    repo_dir = fresh(built, tmp_path)
    assert run_gc(repo_dir, kill_at=point) == -signal.SIGKILL
    with Repo.open(repo_dir) as repo:
        report = repo.fsck()
        orphans = [f for f in report.findings if f.kind == "OrphanFile"]
        assert report.ok and orphans and len(orphans) == len(report.findings)
        assert {f.object_id for f in orphans} <= built[2]  # only files whose rows went are left over
    check(repo_dir, built[1], tmp_path / "after-kill")
    finish(repo_dir, built[1], tmp_path)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_after_random_delays(built: tuple[Path, dict, set[str]], tmp_path: Path, seed: int) -> None:
    """Kill gc at random moments of its run (here: planning until ~0.45 s, then rows, files, done by ~0.5 s)."""
    rnd = random.Random(seed)
    for i in range(3):
        repo_dir = fresh(built, tmp_path / str(i))
        run_gc(repo_dir, delay=rnd.uniform(0.15, 0.7))
        check(repo_dir, built[1], tmp_path / f"kill{i}")
        run_gc(repo_dir, delay=rnd.uniform(0.15, 0.7))  # and the gc that resumes after the first
        check(repo_dir, built[1], tmp_path / f"kill{i}b")
        finish(repo_dir, built[1], tmp_path / f"done{i}")
