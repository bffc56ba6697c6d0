"""What a commit of a path takes in: its files, its step, its author.

A directory is walked in sorted order (``.ckv`` folders skipped, symlinks to
files followed, symlinks to directories refused); a single file is committed
as a tree of one file. The step comes from ``trainer_state.json``
(``global_step`` or ``step``) or from the directory name (``step-500``,
``checkpoint-500``, ``step_0500``, ``ckpt-500``, ``iter-500``).
"""
from __future__ import annotations

import getpass
import json
import os
import re
import socket
from pathlib import Path

from .adapters import FilePlan, plan_file
from .errors import BadInputError, check_text

_STEP_NAME = re.compile(r"(?:^|[-_.])(?:step|checkpoint|ckpt|iter|global_step)[-_]?(\d+)$", re.IGNORECASE)


def collect_files(path: Path) -> tuple[Path, list[tuple[Path, str]]]:
    """(source directory, [(file, path relative to it)])."""
    if not path.exists():
        raise BadInputError(str(path), "no such file or directory")
    if path.is_file():
        return path.parent.resolve(), [(path, path.name)]
    if not path.is_dir():
        raise BadInputError(str(path), "not a file or directory")
    root = path.resolve()
    files: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        for name in list(dirnames):
            if (d / name).is_symlink():
                raise BadInputError(str(d / name), "symlinked directories are not supported; commit the target")
        dirnames[:] = sorted(n for n in dirnames if n != ".ckv")
        for name in sorted(filenames):
            f = d / name
            if f.is_symlink() and not f.exists():
                raise BadInputError(str(f), "broken symbolic link")
            files.append((f, check_text(f.relative_to(root).as_posix(), str(f), "file name")))
    if not files:
        raise BadInputError(str(path), "nothing to commit: the directory has no files")
    return root, files


def plan_files(files: list[tuple[Path, str]]) -> list[FilePlan]:
    """Plan every file, so bad input is found before a single object is written."""
    plans: list[FilePlan] = []
    try:
        for f, rel in files:
            plans.append(plan_file(f, rel))
    except BaseException:
        for p in plans:
            p.close()
        raise
    return plans


def detect_step(path: Path) -> int | None:
    state = (path if path.is_dir() else path.parent) / "trainer_state.json"
    if state.is_file():
        try:
            data = json.loads(state.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if isinstance(data, dict):
            for key in ("global_step", "step"):
                v = data.get(key)
                if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                    return v
    m = _STEP_NAME.search(path.resolve().name if path.is_dir() else path.resolve().parent.name)
    return int(m.group(1)) if m else None


def default_author() -> str:
    env = os.environ.get("CKV_AUTHOR")
    if env:
        return env
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
