"""``ckv gc`` and ``ckv reflog`` run for real: a deleted branch is kept for the grace period, then freed."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ckvcs.cli.render import size

Ckv = Any  # tests/cli/conftest.py: the subprocess runner
Checkpoint = Callable[..., Path]


def objects(root: Path) -> set[str]:
    return {p.parent.name + p.name for p in (root / ".ckv" / "objects").rglob("*") if p.is_file()}


def test_branch_delete_then_gc(ckv: Ckv, checkpoint: Checkpoint, tmp_path: Path) -> None:
    ckv("init")
    ckv("commit", checkpoint(ckv.cwd / "runs/step-10", 0))
    ckv("commit", checkpoint(ckv.cwd / "runs/step-20", 3))
    main_objects = objects(ckv.cwd)
    ckv("commit", checkpoint(ckv.cwd / "runs/step-30", 9), "--branch", "exp", "-m", "try")
    exp_objects = objects(ckv.cwd) - main_objects
    assert exp_objects

    log, exp_log, tag_log = ckv.batch(("reflog",), ("reflog", "show", "exp"), ("reflog", "show", "exp/step-30"))
    assert [ln.split()[1] for ln in log.out.splitlines()] == ["main@{0}:", "main@{1}:"]
    assert exp_log.out.split()[1:4] == ["exp@{0}:", "commit:", "try"]
    assert tag_log.out.split()[1:3] == ["exp/step-30@{0}:", "tag"]

    ckv.fails(6, "branch", "-d", "main", match="HEAD points at it")
    assert ckv("branch", "-d", "exp").out.strip() == "Deleted branch exp"
    ckv.fails(5, "reflog", "show", "exp", match="no such ref: exp")  # the reflog went with the branch
    run = ckv("gc", "--prune=now", "--dry-run")
    assert "would remove 0 objects" in run.out  # the tag exp/step-30 still holds the commit
    ckv("tag", "-d", "exp/step-30")

    dry, js = ckv.batch(("gc", "--dry-run"), ("gc", "--prune", "now", "-n", "--json"))
    assert "would remove 0 objects" in dry.out and "younger than 2.weeks.ago" in dry.out
    plan = js.json()
    assert plan["dry_run"] and plan["objects_removed"] == len(exp_objects) and plan["commits_removed"] == 1
    assert set(plan["objects"]) == exp_objects and objects(ckv.cwd) >= exp_objects

    run = ckv("gc", "--prune=2.weeks.ago")
    assert run.out.startswith("gc: removed 0 objects") and objects(ckv.cwd) >= exp_objects
    run = ckv("gc", "--prune=now")
    assert run.out.startswith(f"gc: removed {len(exp_objects)} objects (1 commits)")
    assert f"; {size(plan['bytes_freed'])} freed" in run.out.splitlines()[0]
    assert objects(ckv.cwd) == main_objects
    fsck, out = ckv.batch(("fsck",), ("checkout", "step-10", "-o", tmp_path / "s10"))
    assert "0 errors, 0 warnings" in fsck.out
    for f in ("model.safetensors", "config.json"):
        assert (tmp_path / "s10" / f).read_bytes() == (ckv.cwd / "runs/step-10" / f).read_bytes()


def test_gc_and_reflog_usage_errors(committed: Ckv) -> None:
    bad_prune, bad_expire, neither, both, unknown = committed.batch(
        committed.expect(2, "gc", "--prune=soon"), committed.expect(2, "reflog", "expire", "--all", "--expire", "x"),
        committed.expect(2, "reflog", "expire"), committed.expect(2, "reflog", "expire", "main", "--all"),
        committed.expect(5, "reflog", "show", "nope", match="no such ref: nope"))
    assert "not an age" in bad_prune.err and "not an age" in bad_expire.err
    assert "REF names or --all" in neither.err


def test_reflog_expire(ckv: Ckv, checkpoint: Checkpoint) -> None:
    ckv("init")
    ckv("commit", checkpoint(ckv.cwd / "runs/step-10", 0))
    ckv("commit", checkpoint(ckv.cwd / "runs/step-20", 1))
    assert ckv("reflog", "expire", "main").out.strip() == "expired 0 reflog entries"  # younger than 90 days
    assert ckv("reflog", "expire", "--all", "--expire=now").out.strip() == "expired 4 reflog entries"
    assert ckv("reflog").out == ""
    assert "0 errors" in ckv("fsck").out
