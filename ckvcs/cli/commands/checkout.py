"""ckv checkout."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .. import render
from ..app import app


@app.command()
def checkout(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Commit, tag, branch, HEAD~N or id prefix."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Write the files here (default: the directory they were committed from)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite files that were modified."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Restore a commit's files, byte for byte (a branch name also moves HEAD, unless -o is given)."""
    repo = ctx.obj.repo()
    with render.progress("checkout", quiet) as cb:
        res = repo.checkout(ref, out=out, force=force, progress=cb)
    if not quiet:
        render.out.print(f"{res.commit[:12]} → {res.out}: {len(res.written)} files written "
                         f"({render.size(res.bytes_written)}), {len(res.unchanged)} already up to date",
                         markup=False)
