"""ckv tag, ckv branch, ckv reflog."""
from __future__ import annotations

from typing import Optional

import typer

from ...config import parse_age
from ...errors import BadInputError
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
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="With the list: where each branch leaves the default branch, its commits "
                                      "since and their stored bytes."),
) -> None:
    """List, create or delete branches."""
    if delete and name is None:
        raise typer.BadParameter("give the branch NAME to delete", param_hint="NAME")
    repo = ctx.obj.repo()
    if name is None:
        if verbose:
            _branches_verbose(repo)
            return
        for b in repo.branches():
            render.out.print(f"{'*' if b.current else ' '} {b.name:24} {(b.target or '')[:12]}", markup=False)
        return
    if delete:
        repo.delete_branch(name)
        render.out.print(f"Deleted branch {name}", markup=False)
        return
    info = repo.create_branch(name, start)
    render.out.print(f"Branch {info.name} at {info.target[:12]}", markup=False)


reflog_app = typer.Typer(rich_markup_mode=None)
app.add_typer(reflog_app, name="reflog")


def _short(ref: str) -> str:
    return ref.removeprefix("refs/heads/").removeprefix("refs/tags/")


@reflog_app.callback(invoke_without_command=True)
def reflog(ctx: typer.Context) -> None:
    """Show or expire reflogs: every move of a branch or tag (alone: the reflog of HEAD's branch)."""
    if ctx.invoked_subcommand is None:
        reflog_show(ctx, None)


@reflog_app.command("show")
def reflog_show(
    ctx: typer.Context,
    ref: Optional[str] = typer.Argument(None, help="Branch, tag or full ref name (default: HEAD's branch)."),
) -> None:
    """Show one ref's reflog, newest first."""
    repo = ctx.obj.repo()
    try:
        entries = repo.reflog(ref)
    finally:
        repo.close()
    for e in entries:
        render.out.print(f"{(e.new or '0' * 12)[:12]} {_short(e.ref)}@{{{e.n}}}: {e.message}  "
                         f"({render.when(e.time)})", markup=False)


@reflog_app.command("expire")
def reflog_expire(
    ctx: typer.Context,
    refs: Optional[list[str]] = typer.Argument(None, help="Branches or tags whose reflog to expire."),
    expire: Optional[str] = typer.Option(None, "--expire", metavar="AGE",
                                         help="Drop entries older than AGE: now, never, 90d, 2.weeks.ago "
                                              "(default gc.reflog_expire, 90 days)."),
    all_refs: bool = typer.Option(False, "--all", help="Expire the reflog of every ref."),
) -> None:
    """Drop reflog entries older than an age, so gc may remove what only they kept."""
    if bool(refs) == all_refs:
        raise typer.BadParameter("give REF names or --all (not both)", param_hint="REFS")
    if expire is not None:
        try:
            parse_age(expire)
        except BadInputError as e:
            raise typer.BadParameter(e.reason, param_hint="--expire") from None
    repo = ctx.obj.repo()
    try:
        n = repo.expire_reflog(expire, None if all_refs else list(refs or ()))
    finally:
        repo.close()
    render.out.print(f"expired {n} reflog entries", markup=False)


def _branches_verbose(repo) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    current = {b.name for b in repo.branches() if b.current}
    labels: dict[str, list[str]] = {}
    for t in repo.tags():
        labels.setdefault(t.target, []).append(t.name)
    t = Table(box=None, pad_edge=False)
    for col in ("", "branch", "tip", "leaves base at", "commits since", "own stored"):
        t.add_column(col, justify="right" if col in ("commits since", "own stored") else "left", no_wrap=True)
    for b in repo.du().branches:
        at = "-" if b.base is None else b.base[:12] + (f" ({', '.join(sorted(labels[b.base]))})"
                                                       if b.base in labels else "")
        t.add_row("*" if b.name in current else "", b.name, b.tip[:12], at, str(b.own_commits),
                  render.size(b.own_bytes))
    render.out.print(t)
