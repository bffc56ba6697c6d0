"""ckv tag, ckv branch."""
from __future__ import annotations

from typing import Optional

import typer

from .. import render
from ..app import app


@app.command()
def tag(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Tag to create (list tags when omitted)."),
    ref: str = typer.Argument("HEAD", help="Revision to tag."),
    delete: bool = typer.Option(False, "--delete", "-d", help="Delete the tag NAME."),
) -> None:
    """List, create or delete tags."""
    if delete and (name is None or ref != "HEAD"):
        raise typer.BadParameter("give exactly one tag NAME to delete", param_hint="NAME")
    repo = ctx.obj.repo()
    if name is None:
        for t in repo.tags():
            render.out.print(f"{t.name:24} {t.target[:12]}", markup=False)
        return
    if delete:
        repo.delete_tag(name)
        render.out.print(f"Deleted tag {name}", markup=False)
        return
    info = repo.create_tag(name, ref)
    render.out.print(f"Tagged {info.target[:12]} as {info.name}", markup=False)


@app.command()
def branch(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Branch to create (list branches when omitted)."),
    start: str = typer.Option("HEAD", "--from", help="Revision the new branch starts at."),
    delete: bool = typer.Option(False, "--delete", "-d", help="Delete the branch NAME."),
) -> None:
    """List, create or delete branches."""
    if delete and name is None:
        raise typer.BadParameter("give the branch NAME to delete", param_hint="NAME")
    repo = ctx.obj.repo()
    if name is None:
        for b in repo.branches():
            render.out.print(f"{'*' if b.current else ' '} {b.name:24} {(b.target or '')[:12]}", markup=False)
        return
    if delete:
        repo.delete_branch(name)
        render.out.print(f"Deleted branch {name}", markup=False)
        return
    info = repo.create_branch(name, start)
    render.out.print(f"Branch {info.name} at {info.target[:12]}", markup=False)
