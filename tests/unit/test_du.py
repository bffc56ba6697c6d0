"""ckv du: the totals add up, branches see their own history, groups follow names."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

import ckvcs


def test_du_adds_up_by_commit_branch_and_group(tmp_path: Path) -> None:
    repo = ckvcs.Repo.init(tmp_path)
    g = torch.Generator().manual_seed(0)
    sd = {"embeddings.w": torch.randn(64, 32, generator=g), "encoder.layer.0.w": torch.randn(32, 32, generator=g)}
    first = repo.commit(sd, step=1)
    sd = {k: v.clone() for k, v in sd.items()}
    sd["encoder.layer.0.w"][0] += 1
    second = repo.commit(sd, step=2)
    repo.create_branch("exp", "step-1")
    sd["embeddings.w"][:4] += 1
    third = repo.commit(sd, step=3, branch="exp")
    report = repo.du()
    assert report.raw_bytes == first.raw_bytes + second.raw_bytes + third.raw_bytes
    assert report.stored_bytes == sum(c.stored_bytes for c in (first, second, third))
    assert [r.stored_bytes for r in report.commits] == [third.stored_bytes, second.stored_bytes, first.stored_bytes]
    branches = {r.name: r for r in report.branches}
    assert branches["main"].stored_bytes == first.stored_bytes + second.stored_bytes
    assert branches["exp"].stored_bytes == first.stored_bytes + third.stored_bytes
    assert {r.name for r in report.groups} == {"embeddings", "encoder.layer.0"}
    repo.close()
    out = subprocess.run([sys.executable, "-c", "from ckvcs.cli.app import main; main()", "du", "--json"],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    assert data["stored_bytes"] == report.stored_bytes and len(data["commits"]) == 3
