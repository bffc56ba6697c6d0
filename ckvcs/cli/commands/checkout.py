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
    merge: bool = typer.Option(False, "--merge",
                               help="REF is a PEFT LoRA adapter: write its base with the adapter merged (needs -o)."),
    base: Optional[str] = typer.Option(None, "--base",
                                       help="With --merge: the base to merge into (default: the one the adapter "
                                            "commit records)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Restore a commit's files, byte for byte (a branch name also moves HEAD, unless -o is given)."""
    if (merge or base) and out is None:
        raise typer.BadParameter("--merge writes a new model directory: give it with -o DIR", param_hint="--out")
    if base and not merge:
        raise typer.BadParameter("--base only applies with --merge", param_hint="--base")
    repo = ctx.obj.repo()
    if merge:
        with render.progress("merge", quiet) as cb:
            m = repo.checkout_merged(ref, out, base=base, force=force, progress=cb)  # type: ignore[arg-type]
        if not quiet:
            render.out.print(f"{ref} merged into base {m.base[:12]} → {m.out}: {m.merged_tensors} tensors merged, "
                             f"{len(m.written)} files written ({render.size(m.bytes_written)})", markup=False)
        return
    with render.progress("checkout", quiet) as cb:
        res = repo.checkout(ref, out=out, force=force, progress=cb)
    if not quiet:
        render.out.print(f"{res.commit[:12]} → {res.out}: {len(res.written)} files written "
                         f"({render.size(res.bytes_written)}), {len(res.unchanged)} already up to date",
                         markup=False)
