"""A commit on a branch deltas each tensor against its parent or the branch's base, whichever is smaller.

The branch's base is where it leaves the default branch (lineage.fork_point).
A second fine-tune commit that moved back near the base must be stored as a
delta of the base, not of its far-away parent; a tensor equal to the base's is
not stored again.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import ckvcs
from ckvcs.lineage import fork_point
from ckvcs.refs import branch_tip


def _stat(repo: ckvcs.Repo, ref: str, name: str):  # type: ignore[no-untyped-def]
    return next(t for t in repo.show(ref).tensors if t.name == name)


def test_second_commit_on_a_branch_may_delta_against_the_base(tmp_path: Path) -> None:
    repo = ckvcs.Repo.init(tmp_path)
    g = torch.Generator().manual_seed(0)
    base = {"w": torch.randn(256, 256, generator=g), "frozen": torch.randn(64, generator=g)}
    b = repo.commit(base, step=0)
    repo.create_branch("ft", "step-0")
    far = {"w": torch.randn(256, 256, generator=g), "frozen": base["frozen"].clone()}
    first = repo.commit(far, branch="ft", step=1)
    assert first.parents == (b.id,)
    near = {k: v.clone() for k, v in base.items()}
    bits = near["w"].view(torch.int32)
    bits[:8] += 1  # 8 rows moved by one ulp: close to the base, nothing like the parent
    second = repo.commit(near, branch="ft", step=2)
    assert second.parents == (first.id,)

    w_base, w_parent = _stat(repo, "step-0", "w"), _stat(repo, "ft/step-1", "w")
    w = _stat(repo, "ft/step-2", "w")
    assert w.base_id == w_base.object_id != w_parent.object_id
    assert w.stored_bytes < w.raw_bytes / 20
    assert w.changed_fraction == 1.0  # the changed count stays "against the parent", as log --sparsity says
    assert _stat(repo, "ft/step-2", "frozen").stored_bytes == 0
    assert torch.equal(repo.load("ft/step-2")["w"], near["w"])

    with repo.index.read() as conn:
        assert fork_point(conn, branch_tip(conn, "ft"), "ft", "main") == b.id
        assert fork_point(conn, branch_tip(conn, "main"), "main", "main") is None
    # the same tensors on the default branch are the branch's objects: nothing is stored twice
    back = repo.commit(near, step=3)
    assert back.parents == (b.id,) and _stat(repo, "step-3", "w").stored_bytes == 0
    repo.close()


def test_explicit_base_is_a_delta_base_too(tmp_path: Path) -> None:
    repo = ckvcs.Repo.init(tmp_path)
    x = torch.arange(4096, dtype=torch.float32)
    b = repo.commit({"x": x}, step=0)
    repo.commit({"x": -x}, step=1)  # main moves on; HEAD is step-1
    y = x.clone()
    y.view(torch.int32)[:10] += 1
    res = repo.commit({"x": y}, branch="ft", base="step-0", no_tag=True)
    t = next(t for t in repo.show("ft").tensors if t.name == "x")
    assert t.base_id == next(s for s in repo.show("step-0").tensors if s.name == "x").object_id
    assert res.stored_bytes < np.prod(x.shape) * 4 / 10 and b.id != res.parents[0]
    repo.close()
