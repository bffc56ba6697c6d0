"""The ``ckv`` application: global options, command registration, error → exit code.

Every CkvError becomes one line on stderr and the exit code its class names
(docs/cli.md has the table); no traceback reaches the user. Set CKV_DEBUG=1
to see one.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import CkvError
from . import render

app = typer.Typer(
    name="ckv",
    help="git for model checkpoints: commit checkpoint directories as snapshots, stored as exact deltas.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Ctx:
    """Options shared by all commands."""

    def __init__(self, repo: Optional[Path]) -> None:
        self.repo_path = repo

    def repo(self):  # type: ignore[no-untyped-def]
        from ..repo import Repo
        return Repo.open(self.repo_path or Path.cwd())


def version_cb(value: bool) -> None:
    if value:
        from .. import __version__
        render.out.print(f"ckv {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    repo: Optional[Path] = typer.Option(None, "--repo", "-C", envvar="CKV_REPO",
                                        help="Repository (or a folder inside it); default: search up from here."),
    version: bool = typer.Option(False, "--version", callback=version_cb, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    ctx.obj = Ctx(repo)


def _register() -> None:
    from .commands import checkout, commit, history, init, maintenance, refs, repack, status  # noqa: F401
    from .commands import blend  # noqa: F401


_register()


def main() -> None:
    try:
        app()  # standalone: click handles usage errors (exit 2) and --help itself
    except CkvError as e:
        if os.environ.get("CKV_DEBUG"):
            raise
        render.err.print(f"ckv: error: {e}", markup=False)
        sys.exit(e.exit_code)
    except Exception as e:
        if os.environ.get("CKV_DEBUG"):
            raise
        render.err.print(f"ckv: internal error: {type(e).__name__}: {e} (set CKV_DEBUG=1 for a traceback)",
                         markup=False)
        sys.exit(70)
