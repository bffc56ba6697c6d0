"""ckv log, ckv show."""
from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from .. import render
from ..app import app


def _mix(m: dict[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(m.items()))


@app.command()
def log(
    ctx: typer.Context,
    ref: str = typer.Argument("HEAD", help="Start from this revision."),
    limit: Optional[int] = typer.Option(None, "--max-count", "-n", min=1, help="Show at most N commits."),
    oneline: bool = typer.Option(False, "--oneline", help="One line per commit."),
    sparsity: bool = typer.Option(False, "--sparsity",
                                  help="Per commit: changed fraction vs parent, stored bytes, ratio, codec mix."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show commits, newest first."""
    repo = ctx.obj.repo()
    entries = repo.log(ref, limit)
    if json_out:
        render.emit_json(entries)
        return
    if sparsity:
        from ...layers import heat
        layers = repo.history.heat([c.id for c in entries])
        t = Table(box=None, pad_edge=False)
        for col in ("commit", "step", "changed", "", "raw", "stored", "ratio", "codecs", "layer heat", "refs"):
            t.add_column(col, justify="right" if col in ("step", "changed", "raw", "stored", "ratio") else "left",
                         no_wrap=True)
        for c in entries:
            t.add_row(c.id[:12], "-" if c.step is None else str(c.step), render.pct(c.changed_fraction),
                      render.bar(c.changed_fraction, 12), render.size(c.raw_bytes), render.size(c.stored_bytes),
                      render.ratio(c.raw_bytes, c.stored_bytes), _mix(c.codec_mix), heat(layers[c.id]),
                      ", ".join(c.refs))
        render.out.print(t)
        render.out.print("layer heat: one column per layer (embeddings, layer 0, 1, …), "
                         "darker = larger share of its elements changed vs the parent", markup=False)
        return
    for c in entries:
        deco = f" ({', '.join(c.refs)})" if c.refs else ""
        first = c.message.splitlines()[0] if c.message else ""
        if oneline:
            render.out.print(f"{c.id[:12]}{deco} {first}".rstrip(), markup=False)
            continue
        render.out.print(f"commit {c.id}{deco}", style="yellow", markup=False)
        if c.step is not None:
            render.out.print(f"Step:   {c.step}", markup=False)
        render.out.print(f"Author: {c.author}\nDate:   {render.when(c.time)}", markup=False)
        render.out.print(f"Stored: {render.size(c.stored_bytes)} of {render.size(c.raw_bytes)} "
                         f"({render.ratio(c.raw_bytes, c.stored_bytes)})", markup=False)
        render.out.print("", markup=False)
        for line in (c.message.splitlines() or ["(no message)"]):
            render.out.print(f"    {line}", markup=False)
        render.out.print("", markup=False)


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument("HEAD", help="Revision to show."),
    tensors: bool = typer.Option(False, "--tensors", help="List every tensor: dtype, shape, codec, changed, stored."),
    sparsity: bool = typer.Option(False, "--sparsity", help="Per-tensor changed fraction vs the parent, with bars."),
    by_layer: bool = typer.Option(False, "--by-layer", help="Per-layer changed fraction and stored bytes, with bars."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show one commit: its metadata, files and (with --tensors) tensors."""
    repo = ctx.obj.repo()
    res = repo.show(ref)
    if by_layer:
        _by_layer(repo.layers(ref), json_out)
        return
    if json_out:
        render.emit_json(res)
        return
    if sparsity:
        t = Table(box=None, pad_edge=False)
        for col in ("tensor", "changed", "", "codec", "stored", "ratio"):
            t.add_column(col, justify="right" if col in ("changed", "stored", "ratio") else "left", no_wrap=True)
        for x in res.tensors:
            t.add_row(x.name, render.pct(x.changed_fraction), render.bar(x.changed_fraction), x.codec,
                      render.size(x.stored_bytes), render.ratio(x.raw_bytes, x.stored_bytes) if x.stored_bytes
                      else "reused")
        render.out.print(t)
        return
    c = res.commit
    p = render.out.print
    p(f"commit {c.id}" + (f" ({', '.join(c.refs)})" if c.refs else ""), style="yellow", markup=False)
    for label, value in (("Parents", " ".join(x[:12] for x in c.parents) or "(root)"),
                         ("Step", "-" if c.step is None else str(c.step)), ("Author", c.author),
                         ("Date", render.when(c.time)), ("Source", c.source or "(memory)"),
                         ("Stored", f"{render.size(c.stored_bytes)} of {render.size(c.raw_bytes)} "
                                    f"({render.ratio(c.raw_bytes, c.stored_bytes)})"),
                         ("Changed", render.pct(c.changed_fraction)), ("Codecs", _mix(c.codec_mix))):
        p(f"{label + ':':9} {value}", markup=False)
    for line in _relation(c.metadata):
        p(line, markup=False)
    rest = {k: v for k, v in c.metadata.items() if k not in ("peft", "blend")}
    if rest:
        p(f"{'Metadata:':9} {rest}", markup=False)
    p("\n    " + (c.message or "(no message)").replace("\n", "\n    ") + "\n", markup=False)
    ft = Table(box=None, pad_edge=False)
    for col in ("file", "format", "size"):
        ft.add_column(col, justify="right" if col == "size" else "left")
    for f in res.files:
        ft.add_row(f.path, f.format, render.size(f.size))
    p(ft)
    if tensors:
        tt = Table(box=None, pad_edge=False)
        for col in ("tensor", "dtype", "shape", "codec", "changed", "raw", "stored", "ratio"):
            tt.add_column(col, justify="right" if col in ("changed", "raw", "stored", "ratio") else "left")
        for t in res.tensors:
            tt.add_row(t.name, t.dtype, "×".join(map(str, t.shape)) or "scalar", t.codec,
                       render.pct(t.changed_fraction), render.size(t.raw_bytes), render.size(t.stored_bytes),
                       render.ratio(t.raw_bytes, t.stored_bytes) if t.stored_bytes else "reused")
        p("")
        p(tt)


def _by_layer(layers: list, json_out: bool) -> None:  # type: ignore[type-arg]
    if json_out:
        render.emit_json([dict(layer=s.layer, n_tensors=s.n_tensors, numel=s.numel, changed=s.changed,
                               changed_fraction=s.changed_fraction, raw_bytes=s.raw_bytes,
                               stored_bytes=s.stored_bytes) for s in layers])
        return
    t = Table(box=None, pad_edge=False)
    for col in ("layer", "tensors", "changed", "", "raw", "stored", "ratio"):
        t.add_column(col, justify="left" if col in ("layer", "") else "right", no_wrap=True)
    for s in layers:
        t.add_row(s.layer, str(s.n_tensors), render.pct(s.changed_fraction), render.bar(s.changed_fraction),
                  render.size(s.raw_bytes), render.size(s.stored_bytes),
                  render.ratio(s.raw_bytes, s.stored_bytes) if s.stored_bytes else "reused")
    render.out.print(t)


def _relation(meta: dict) -> list[str]:  # type: ignore[type-arg]
    """What a commit derives from, as ``show`` states it: a PEFT adapter's base, a blend's recipe."""
    lines = []
    peft = meta.get("peft")
    if isinstance(peft, dict):
        base = peft.get("base")
        targets = peft.get("target_modules")
        targets = ", ".join(targets) if isinstance(targets, list) else targets
        kind = f"PEFT {peft.get('peft_type', 'LORA')} adapter (r={peft.get('r')}, alpha={peft.get('lora_alpha')}" \
               + (", rslora" if peft.get("use_rslora") else "") + (f", targets {targets}" if targets else "") + ")"
        lines.append(f"{'Adapter:':9} {kind}")
        lines.append(f"{'Base:':9} " + (f"{base} (ckv checkout REF --merge -o DIR merges it into this base)"
                                        if base else "(none recorded; give --base REF to --merge)"))
        if peft.get("unsupported"):
            lines.append(f"{'':9} cannot be merged by ckv: {peft['unsupported']}")
    blend = meta.get("blend")
    if isinstance(blend, dict):
        parts = " + ".join(f"{a.get('weight'):g} × {a.get('ref')} ({str(a.get('commit'))[:12]})"
                           for a in blend.get("adapters", []) if isinstance(a, dict))
        lines.append(f"{'Blend:':9} base {blend.get('base')} + {parts}")
    return lines
