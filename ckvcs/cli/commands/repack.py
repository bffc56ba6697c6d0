"""ckv repack: re-choose delta bases and move every object into one pack file."""
from __future__ import annotations

from typing import Optional

import typer

from .. import render
from ..app import app


@app.command()
def repack(
    ctx: typer.Context,
    window: int = typer.Option(10, "--window", min=1, help="Newer versions of a tensor tried as its base."),
    depth: Optional[int] = typer.Option(None, "--depth", min=0,
                                        help="Longest delta chain (default: max_chain_depth in config.toml)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Encode and print the plan; write nothing."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every object whose base changes."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Re-choose delta bases per tensor (newest versions stored whole) and pack every object."""
    repo = ctx.obj.repo()
    try:
        res = repo.repack(window=window, depth=depth, dry_run=dry_run)
    finally:
        repo.close()
    if json_out:
        render.emit_json(res)
        return
    p = render.out.print
    head = "Would repack" if res.dry_run else "Repacked"
    p(f"{head} {res.objects} objects ({res.lineages} tensor lineages; {res.loose_before} loose, "
      f"{res.packs_before} packs before) with window {res.window}, depth {res.depth}", markup=False)
    if verbose:
        for r in res.rebased:
            p(f"  {r.id[:12]} {r.name or '-':40} base {(r.old_base or 'whole')[:12]:>12} → "
              f"{(r.new_base or 'whole')[:12]:<12} {render.size(r.old_size)} → {render.size(r.new_size)}",
              markup=False)
    p(f"  {len(res.rebased)} objects re-based; longest chain {res.max_depth_before} → {res.max_depth_after}",
      markup=False)
    change = (res.bytes_after - res.bytes_before) / res.bytes_before if res.bytes_before else 0.0
    p(f"  stored {render.size(res.bytes_before)} → {render.size(res.bytes_after)} ({100 * change:+.1f}%)",
      markup=False)
    if res.pack_id:
        p(f"  pack {res.pack_id} ({render.size(res.pack_size)})", markup=False)
