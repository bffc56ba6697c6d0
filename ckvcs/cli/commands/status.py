"""ckv status."""
from __future__ import annotations

import typer

from .. import render
from ..app import app


@app.command()
def status(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show HEAD and whether the directory it was committed from still matches it."""
    st = ctx.obj.repo().status()
    if json_out:
        render.emit_json(st)
        return
    p = render.out.print
    p(f"On branch {st.branch}" if st.branch else "HEAD detached", markup=False)
    if st.head is None:
        p("No commits yet", markup=False)
        return
    p(f"HEAD {st.head[:12]}", markup=False)
    if st.source is None:
        p("(committed from memory: no source directory)", markup=False)
        return
    p(f"Source {st.source}: " + ("clean" if st.clean else "changed"), markup=False)
    for f in st.files:
        if f.state != "unchanged":
            p(f"  {f.state + ':':10} {f.path}", markup=False)
    for u in st.untracked:
        p(f"  {'untracked:':10} {u}", markup=False)
