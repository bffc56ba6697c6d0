"""``ckv fsck`` run for real: exit 0 on a healthy repository, 7 on damage, --json and --quick."""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

Ckv = Any  # tests/cli/conftest.py: the subprocess runner
Checkpoint = Callable[..., Path]


def _flip_leaf(root: Path) -> str:
    """Flip one bit in an object nothing is stacked on (the newest commit's fp32 tensor)."""
    con = sqlite3.connect(root / ".ckv" / "index.db")
    try:
        (oid,) = con.execute("SELECT t.object_id FROM tensor_stats t JOIN commits c ON c.id=t.commit_id "
                             "WHERE t.name='layers.0.b' ORDER BY c.seq DESC LIMIT 1").fetchone()
    finally:
        con.close()
    p = root / ".ckv" / "objects" / oid[:2] / oid[2:]
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    os.chmod(p, 0o644)
    p.write_bytes(bytes(data))
    os.chmod(p, 0o444)
    return oid


def test_fsck_healthy_then_one_flipped_bit(ckv: Ckv, checkpoint: Checkpoint) -> None:
    ckv("init")
    ckv("commit", checkpoint(ckv.cwd / "runs/step-10", 0))
    ckv("commit", checkpoint(ckv.cwd / "runs/step-20", 3))
    full, quick, js, helped = ckv.batch(("fsck",), ("fsck", "--quick"), ("fsck", "--json"), ("fsck", "--help"))
    assert "0 errors, 0 warnings" in full.out and full.out.startswith("fsck (full)")
    assert quick.out.startswith("fsck (quick)")
    data = js.json()
    assert data["findings"] == [] and data["summary"]["errors"] == 0 and data["summary"]["commits_checked"] == 2
    assert "--quick" in helped.out and "--json" in helped.out

    oid = _flip_leaf(ckv.cwd)
    full, quick, js = (ckv.run(*a) for a in (("fsck",), ("fsck", "--quick"), ("fsck", "--json")))
    for run in (full, quick, js):
        assert run.code == 7, run
    lines = full.out.splitlines()
    assert lines[0].startswith(f"error: HashMismatch: object {oid}") and "step-20" in lines[0]
    assert lines[-1].endswith("1 errors, 0 warnings")
    (f,) = js.json()["findings"]
    assert f["kind"] == "HashMismatch" and f["object_id"] == oid and f["paths"] == ["model.safetensors"]
    assert js.json()["summary"]["errors"] == 1


def test_fsck_outside_a_repository_is_exit_3(ckv: Ckv) -> None:
    ckv.fails(3, "fsck")
