"""ckv commit."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .. import render
from ..app import app


@app.command()
def commit(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="Checkpoint directory (or a single file) to snapshot."),
    message: str = typer.Option("", "--message", "-m", help="Commit message."),
    step: Optional[int] = typer.Option(None, "--step", min=0,
                                       help="Training step (default: trainer_state.json, else the dir name)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Tag the commit NAME (default: step-N)."),
    no_tag: bool = typer.Option(False, "--no-tag", help="Do not tag the commit."),
    branch: Optional[str] = typer.Option(None, "--branch", "-b",
                                         help="Commit on this branch (created from HEAD if new); HEAD stays."),
    base: Optional[str] = typer.Option(None, "--base",
                                       help="The commit this one derives from (a PEFT adapter's base model; its "
                                            "tensors are delta bases). Default: where the branch leaves the "
                                            "default branch."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="Commit even if nothing changed."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the commit id."),
) -> None:
    """Snapshot a checkpoint directory as a new commit."""
    repo = ctx.obj.repo()
    with render.progress("commit", quiet) as cb:
        res = repo.commit(path, message=message, step=step, tag=tag, branch=branch, no_tag=no_tag,
                          allow_empty=allow_empty, progress=cb, base=base)
    if quiet:
        render.out.print(res.id)
        return
    tag_txt = f" (tag {res.tag})" if res.tag else ""
    render.out.print(f"[{res.branch} {res.id[:12]}]{tag_txt} {message.splitlines()[0] if message else ''}".rstrip(),
                     markup=False)
    changed = f", {render.pct(res.changed_fraction)} of elements changed" if res.changed_fraction is not None else ""
    mix = ", ".join(f"{k} {v}" for k, v in sorted(res.codec_mix.items()))
    render.out.print(f"  {res.n_files} files, {res.n_tensors} tensors ({mix}){changed}", markup=False)
    render.out.print(f"  {render.size(res.raw_bytes)} committed, {render.size(res.stored_bytes)} stored, "
                     f"ratio {render.ratio(res.raw_bytes, res.stored_bytes)}", markup=False)
