"""ckv fsck: check the repository and print what is damaged.

The command only reads. Exit status: 0 when no finding is an error (warnings
such as orphan files left by a killed writer do not fail it), 7 — the exit
code of IntegrityError — otherwise. The findings go to stdout, one line each,
then a summary line; ``--json`` prints ``{"findings": [...], "summary": {...}}``.
"""
from __future__ import annotations

import typer

from ...errors import IntegrityError
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
