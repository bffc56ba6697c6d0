"""ckv fsck, ckv du, ckv gc.

fsck only reads. Exit status: 0 when no finding is an error (warnings
such as orphan files left by a killed writer do not fail it), 7 — the exit
code of IntegrityError — otherwise. The findings go to stdout, one line each,
then a summary line; ``--json`` prints ``{"findings": [...], "summary": {...}}``.
gc prints what it removed (or, with ``--dry-run``, would remove) and what it kept.
"""
from __future__ import annotations

from typing import Optional

import typer

from ...config import parse_age
from ...errors import BadInputError, IntegrityError
from .. import render
from ..app import app


@app.command()
def fsck(
    ctx: typer.Context,
    quick: bool = typer.Option(False, "--quick",
                               help="Check frame structure, checksums and the index only; decode nothing."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check every object, chain, commit and ref; exit 7 if anything is damaged."""
    repo = ctx.obj.repo()
    try:
        report = repo.fsck(quick=quick)
    finally:
        repo.close()
    if json_out:
        render.emit_json(report)
    else:
        p = render.out.print
        for f in report.findings:
            p(f"{f.severity}: {f.message}", markup=False)
        s = report.summary()
        p(f"fsck ({s['mode']}): {s['objects_checked']} objects, {s['commits_checked']} commits checked; "
          f"{s['errors']} errors, {s['warnings']} warnings", markup=False)
    if not report.ok:
        raise typer.Exit(IntegrityError.exit_code)


@app.command()
def du(
    ctx: typer.Context,
    commits: bool = typer.Option(False, "--commits", help="Also list every commit's own stored bytes."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show stored bytes: each branch's own cost over its base, by commit and by tensor group, and savings."""
    from rich.table import Table

    report = ctx.obj.repo().du()
    if json_out:
        render.emit_json(report)
        return
    p = render.out.print
    saved = 1 - report.stored_bytes / report.raw_bytes if report.raw_bytes else 0.0
    p(f"{render.size(report.raw_bytes)} committed, {render.size(report.stored_bytes)} stored "
      f"({render.ratio(report.raw_bytes, report.stored_bytes)}, {100 * saved:.1f}% saved)", markup=False)
    bt = Table(box=None, pad_edge=False)
    for col in ("branch", "base", "own commits", "own stored", "with history", "ratio"):
        bt.add_column(col, justify="left" if col in ("branch", "base") else "right", no_wrap=True)
    for b in report.branches:
        bt.add_row(b.name, b.base[:12] if b.base else "-", str(b.own_commits), render.size(b.own_bytes),
                   render.size(b.stored_bytes), render.ratio(b.own_raw_bytes, b.own_bytes))
    p("")
    p(bt)
    p("own stored: bytes added by the branch's commits that the default branch does not reach "
      "(its cost over its base); with history: everything reachable from the branch", markup=False)
    sections = [("tensor group", report.groups)]
    if commits:
        sections.insert(0, ("commit", report.commits))
    for title, rows in sections:
        t = Table(box=None, pad_edge=False)
        for col in (title, "raw", "stored", "ratio"):
            t.add_column(col, justify="left" if col == title else "right", no_wrap=True)
        for r in rows:
            t.add_row(r.name, render.size(r.raw_bytes), render.size(r.stored_bytes),
                      render.ratio(r.raw_bytes, r.stored_bytes))
        p("")
        p(t)


def _age(value: Optional[str]) -> Optional[str]:
    if value is not None:
        try:
            parse_age(value)
        except BadInputError as e:
            raise typer.BadParameter(e.reason) from None
    return value


@app.command()
def gc(
    ctx: typer.Context,
    prune: Optional[str] = typer.Option(None, "--prune", callback=_age, metavar="AGE",
                                        help="Remove unreachable objects older than AGE: now, never, 2w, 3d, 12h, "
                                             "2.weeks.ago (default gc.prune_expire, two weeks)."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print what would be removed; change nothing."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Remove objects no branch, tag, HEAD or reflog entry reaches, once older than the grace period."""
    repo = ctx.obj.repo()
    try:
        plan = repo.gc(prune=prune, dry_run=dry_run)
        grace = prune or repo.config.prune_expire
    finally:
        repo.close()
    if json_out:
        render.emit_json({"dry_run": dry_run, **plan.to_json()})
        return
    p = render.out.print
    verb = "would remove" if dry_run else "removed"
    if dry_run:
        for c in plan.commits:
            p(f"{verb} commit {c}", markup=False)
        for f in plan.files:
            p(f"{verb} file {f}", markup=False)
    p(f"gc{' (dry run)' if dry_run else ''}: {verb} {len(plan.objects)} objects ({len(plan.commits)} commits), "
      f"{len(plan.files)} stray files, {len(plan.reflog)} expired reflog entries; "
      f"{render.size(plan.bytes_freed)} {'to free' if dry_run else 'freed'}", markup=False)
    p(f"kept {plan.reachable} reachable objects", markup=False)
    if plan.kept_recent:
        p(f"kept {plan.kept_recent} unreachable objects ({plan.kept_recent_commits} commits, "
          f"{render.size(plan.kept_recent_bytes)}) younger than {grace} (--prune=now removes them)", markup=False)
    if plan.kept_as_base:
        p(f"kept {plan.kept_as_base} unreachable objects that kept objects use as delta bases", markup=False)
    if plan.kept_files:
        p(f"kept {plan.kept_files} stray files younger than {grace}", markup=False)
    if plan.rebase:
        p(f"{len(plan.rebase)} kept objects were stacked on removed ones: a repack re-encodes them "
          f"{'first' if dry_run else '(done)'}", markup=False)
    if plan.packed:
        p(f"{len(plan.packed)} of the objects ({render.size(plan.packed_bytes)}) are cut out of the packs "
          "holding them", markup=False)
