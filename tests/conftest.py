"""Shared fixtures: a fresh repository, a safetensors writer, and a snapshot of a repository's state.

``write_safetensors`` writes through the real ``safetensors`` library (never
through ckv), so round-trip tests compare ckv against files the ecosystem
produces. Values may be torch tensors, numpy arrays of a numpy dtype, or
``(dtype_name, bits, shape)`` triples — a bit view and a safetensors dtype
name, for the dtypes numpy cannot name (BF16, F8) and for exact NaN payloads.

torch is imported inside the fixtures so property tests that never touch it
do not pay for the import.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import strategies` under any --import-mode

from ckvcs import Repo  # noqa: E402

WriteSafetensors = Callable[..., Path]


def _as_torch(value: Any) -> Any:
    import torch

    from strategies import bits_to_torch

    if isinstance(value, torch.Tensor):
        return value.contiguous()
    if isinstance(value, tuple) and len(value) == 3:
        return bits_to_torch(*value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value).copy())
    raise TypeError(f"cannot write a {type(value).__name__} as a tensor")


def _write_safetensors(path: Path, tensors: Mapping[str, Any], metadata: dict[str, str] | None = None) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: _as_torch(v) for k, v in tensors.items()}, str(path), metadata=metadata)
    return path


@pytest.fixture
def write_safetensors() -> WriteSafetensors:
    """``write_safetensors(path, {name: tensor | ndarray | (dtype, bits, shape)}, metadata=None) -> path``."""
    return _write_safetensors


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """A new, empty repository in ``tmp_path / "repo"``."""
    r = Repo.init(tmp_path / "repo")
    try:
        yield r
    finally:
        r.close()


@dataclass(frozen=True)
class RepoState:
    """Everything a refused commit must leave as it was."""

    objects: frozenset[str]          # object files under .ckv/objects
    tmp: frozenset[str]              # anything left in .ckv/tmp
    log: tuple[str, ...]             # commit ids reachable from HEAD
    refs: tuple[tuple[str, str], ...]


def _repo_state(r: Repo) -> RepoState:
    objects = frozenset(p.parent.name + p.name for p in (r.dir / "objects").rglob("*") if p.is_file())
    tmp = frozenset(p.name for p in (r.dir / "tmp").iterdir())
    refs = tuple(sorted((b.name, b.target) for b in r.branches())) + tuple(
        sorted(("tag:" + t.name, t.target) for t in r.tags()))
    return RepoState(objects, tmp, tuple(c.id for c in r.log()), refs)


@pytest.fixture
def repo_state() -> Callable[[Repo], RepoState]:
    """``repo_state(repo)``: the object files, tmp files, log and refs, for before/after comparisons."""
    return _repo_state
