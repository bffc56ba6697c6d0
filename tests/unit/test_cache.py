"""The decoded-tensor cache: bounded, read-only, and never a way to hand out wrong bits."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ckvcs
from ckvcs.cache import BitsCache


def test_lru_stays_within_budget_and_keeps_the_newest() -> None:
    c = BitsCache(3 * 800)
    for i in range(5):
        c.put(f"{i:032x}", np.full(100, i, dtype=np.uint64))
    assert c.get(f"{0:032x}") is None and c.get(f"{1:032x}") is None
    kept = c.get(f"{4:032x}")
    assert kept is not None and not kept.flags.writeable and int(kept[0]) == 4
    c.put("f" * 32, np.zeros(1000, dtype=np.uint64))  # larger than the whole budget: not kept
    assert c.get("f" * 32) is None


def test_copy_protects_the_callers_buffer() -> None:
    c = BitsCache(1 << 20)
    buf = np.arange(10, dtype=np.uint32)
    c.put("a" * 32, buf, copy=True)
    buf[:] = 0
    got = c.get("a" * 32)
    assert got is not None and got.tolist() == list(range(10))
    assert buf.flags.writeable


def test_mutating_a_loaded_tensor_does_not_change_the_next_load(tmp_path: Path) -> None:
    repo = ckvcs.Repo.init(tmp_path / "r")
    w = torch.randn(64, 64)
    repo.commit({"w": w}, step=1)
    w2 = w.clone()
    w2[0] += 1
    repo.commit({"w": w2}, step=2)
    first = repo.load("step-2")["w"]
    assert torch.equal(first, w2)
    first.zero_()                                    # the user's tensor is theirs to change
    assert torch.equal(repo.load("step-2")["w"], w2)
    assert torch.equal(repo.open("step-1")["w"], w)
    assert repo.cache.hits > 0


@pytest.mark.parametrize("cache_mb", [0, 512])
def test_chains_decode_the_same_with_and_without_the_cache(tmp_path: Path, cache_mb: int) -> None:
    from ckvcs.config import Config

    repo = ckvcs.Repo.init(tmp_path / "r", config=Config(cache_mb=cache_mb))
    rng = np.random.default_rng(0)
    w = torch.from_numpy(rng.standard_normal((128, 64)).astype(np.float32)).to(torch.bfloat16)
    versions = []
    for step in range(1, 7):
        flat = w.view(torch.int16).reshape(-1)
        flat[rng.choice(flat.numel(), 500, replace=False)] += 1   # one-ulp moves, as training makes
        versions.append(w.clone())
        repo.commit({"w": w}, step=step)
    fresh = ckvcs.Repo.open(tmp_path / "r")             # a new process's view: empty cache
    for step, v in enumerate(versions, 1):
        assert torch.equal(fresh.load(f"step-{step}")["w"].view(torch.int16), v.view(torch.int16))
    codecs = {t.codec for t in fresh.show("step-6").tensors}
    assert codecs & {"tpde", "odelta", "xor"}, codecs
