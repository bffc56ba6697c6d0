"""ckv blend: several LoRA experts merged onto one base with weights (task arithmetic)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .. import render
from ..app import app


def _parse(spec: str) -> tuple[str, float]:
    ref, sep, weight = spec.rpartition(":")
    if not sep or not ref:
        return spec, 1.0
    try:
        return ref, float(weight)
    except ValueError:
        raise typer.BadParameter(f"{spec!r}: the weight after ':' is not a number", param_hint="--adapter") from None


@app.command()
def blend(
    ctx: typer.Context,
    base: str = typer.Argument(..., help="The base model commit (branch, tag or id)."),
    adapters: list[str] = typer.Option(..., "--adapter", "-a",
                                       help="REF:WEIGHT of a PEFT LoRA adapter commit (weight 1 if omitted); repeat."),
    out: Path = typer.Option(..., "--out", "-o", help="Write the blended model directory here."),
    commit_to: Optional[str] = typer.Option(None, "--commit-to",
                                            help="Commit the result on this branch (created from BASE if new), "
                                                 "with base, adapters and weights in its metadata."),
    message: Optional[str] = typer.Option(None, "--message", "-m", help="Message of that commit."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite files already in DIR."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Write BASE + Σ weight · scaling · B @ A over the adapters, as safetensors plus the base's other files."""
    specs = [_parse(a) for a in adapters]
    repo = ctx.obj.repo()
    with render.progress("blend", quiet) as cb:
        res = repo.blend(base, specs, out, commit_to=commit_to, message=message, force=force, progress=cb)
    if quiet:
        return
    m = res.merge
    p = render.out.print
    p(f"base {m.base[:12]} + " + " + ".join(f"{a['weight']:g} × {a['ref']}" for a in m.adapters)
      + f" → {m.out}: {m.merged_tensors} tensors merged, {len(m.written)} files written", markup=False)
    for a in m.adapters:
        if a["recorded_base"] not in (None, m.base):
            p(f"note: {a['ref']} was committed as an adapter of {a['recorded_base'][:12]}, not of {m.base[:12]}",
              markup=False)
    if res.commit is not None:
        c = res.commit
        p(f"[{c.branch} {c.id[:12]}] {render.size(c.raw_bytes)} committed, {render.size(c.stored_bytes)} stored",
          markup=False)
