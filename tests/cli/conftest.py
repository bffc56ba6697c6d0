"""Running the real ``ckv`` in a subprocess, and small checkpoint directories to feed it.

``ckv(*args)`` runs ``main()`` of ckvcs.cli.app in a fresh interpreter (``python -c``,
so the tests do not depend on PATH), in a temporary working directory, with
CKV_AUTHOR set and CKV_REPO / CKV_DEBUG cleared. Every run is checked for a
traceback; ``ckv.fails(code, *args)`` also checks the one-line error contract, and
``ckv.batch(...)`` runs independent invocations side by side (each start-up costs
most of a second of CPU, so scenarios batch what they can).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CKV = [sys.executable, "-c", "from ckvcs.cli.app import main; main()"]
AUTHOR = "Test Author <test@example.com>"


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass(frozen=True)
class Call:
    """One invocation and what it must do: exit ``code`` (None: any), stderr line matching ``match``."""

    args: tuple[object, ...]
    code: int | None = 0
    match: str | None = None
    cwd: Path | None = None
    env: Mapping[str, str] | None = None
    prog: tuple[str, ...] = tuple(CKV)
    traceback_ok: bool = False


# Exit codes of CkvError classes: these failures must print exactly one ``ckv: error:`` line.
ERROR_CODES = frozenset({1, 3, 4, 5, 6, 7, 8, 9, 10})


class Ckv:
    PROG = CKV
    AUTHOR = AUTHOR

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        env = {k: v for k, v in os.environ.items() if k not in ("CKV_REPO", "CKV_DEBUG")}
        env.update(CKV_AUTHOR=AUTHOR, PYTHONWARNINGS="ignore", NO_COLOR="1")
        self.env = env

    # -- building calls ----------------------------------------------------------------------------
    @staticmethod
    def expect(code: int | None, *args: object, **kw: Any) -> Call:
        """A call that must exit ``code``; keywords as in :class:`Call`."""
        return Call(args, code, **kw)

    # -- running them ------------------------------------------------------------------------------
    def _start(self, call: Call) -> subprocess.Popen[str]:
        return subprocess.Popen([*call.prog, *(str(a) for a in call.args)], cwd=call.cwd or self.cwd,
                                env={**self.env, **(call.env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def _finish(self, call: Call, proc: subprocess.Popen[str]) -> Run:
        out, err = proc.communicate(timeout=180)
        run = Run(tuple(str(a) for a in call.args), proc.returncode, out, err)
        if not call.traceback_ok:
            assert "Traceback" not in run.out + run.err, run
        if call.code is not None:
            if call.code in ERROR_CODES:
                self.check_error(run, call.code, call.match)
            else:
                assert run.code == call.code, run
        return run

    def batch(self, *calls: Call | tuple[object, ...]) -> list[Run]:
        """Run invocations side by side, each checked as its Call says (a bare tuple must succeed).

        Only for calls that do not depend on each other: read-only commands, and
        refused ones (a refusal writes nothing; writers serialise on the lock).
        """
        specs = [c if isinstance(c, Call) else Call(c) for c in calls]
        started = [(c, self._start(c)) for c in specs]
        return [self._finish(c, p) for c, p in started]

    def run(self, *args: object, **kw: Any) -> Run:
        """Run ckv whatever its exit code (no traceback unless ``traceback_ok``)."""
        return self.batch(Call(args, None, **kw))[0]

    def __call__(self, *args: object, **kw: Any) -> Run:
        """Run ckv and require success."""
        return self.batch(Call(args, 0, **kw))[0]

    def fails(self, code: int, *args: object, match: str | None = None, **kw: Any) -> Run:
        """Run ckv and require exit ``code`` with exactly one ``ckv: error:`` line on stderr."""
        return self.batch(Call(args, code, match, **kw))[0]

    @staticmethod
    def check_error(run: Run, code: int, match: str | None = None) -> Run:
        """Exit ``code``, one ``ckv: error:`` line on stderr (matching ``match``), nothing on stdout."""
        assert run.code == code, run
        lines = run.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ckv: error: "), run
        assert run.out == "", run
        if match is not None:
            assert re.search(match, lines[0]), run
        return run


@pytest.fixture
def ckv(tmp_path: Path) -> Ckv:
    return Ckv(tmp_path)


def write_checkpoint(path: Path, version: int = 0, *, config: dict[str, Any] | None = None) -> Path:
    """A small checkpoint dir: model.safetensors (bf16 and fp32 tensors) and config.json.

    Version v is version 0 with the first v rows of the bf16 matrix and the
    first v elements of the fp32 vector ``layers.0.b`` moved, so successive versions share
    most of their bits, as training checkpoints do.
    """
    import torch
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    w = torch.randn(32, 48, generator=g).to(torch.bfloat16)
    b = torch.randn(64, generator=g)
    emb = torch.randn(16, 8, generator=g)
    if version:
        w[:version] += 0.25
        b[:version] *= 1.5
    path.mkdir(parents=True, exist_ok=True)
    save_file({"layers.0.w": w, "layers.0.b": b, "embed.weight": emb}, str(path / "model.safetensors"),
              metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps(config or {"hidden_size": 48, "n_layers": 1}) + "\n")
    return path


@pytest.fixture
def checkpoint() -> Any:
    """``checkpoint(path, version=0, config=None) -> path``."""
    return write_checkpoint


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Ckv:
    """A repository with one commit of ``runs/step-10``, shared by a module: leave it as you found it."""
    from ckvcs.repo import Repo

    ckv = Ckv(tmp_path_factory.mktemp("committed"))
    with Repo.init(ckv.cwd) as repo:  # in-process: this fixture is a stage, not the thing tested
        repo.commit(write_checkpoint(ckv.cwd / "runs/step-10"))
    return ckv
