"""Grouping tensors into layers for sparsity views, from names alone.

``encoder.layer.3.attention.self.query.weight`` belongs to ``encoder.layer.3``:
a name is cut after its first all-digit component. A name without one is
grouped by its first component (``embeddings``, ``pooler``, ``lm_head``).
Groups keep the order in which they first appear, numbers compared as numbers.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_NUM = re.compile(r"^\d+$")


def layer_of(name: str) -> str:
    parts = name.split(".")
    for i, p in enumerate(parts):
        if _NUM.match(p):
            return ".".join(parts[: i + 1])
    return parts[0] if len(parts) > 1 else name


def _key(layer: str) -> tuple[object, ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in layer.split("."))


@dataclass(frozen=True)
class LayerStat:
    layer: str
    n_tensors: int
    numel: int
    changed: int | None               # None when no tensor of the layer has a parent version
    raw_bytes: int
    stored_bytes: int

    @property
    def changed_fraction(self) -> float | None:
        return None if self.changed is None or not self.numel else self.changed / self.numel


def by_layer(rows: Iterable[tuple[str, int, int | None, int, int]]) -> list[LayerStat]:
    """Rows of (tensor name, numel, changed, raw bytes, stored bytes) → one LayerStat per layer."""
    acc: dict[str, list[int | None]] = {}
    for name, numel, changed, raw, stored in rows:
        a = acc.setdefault(layer_of(name), [0, 0, None, 0, 0])
        a[0] += 1  # type: ignore[operator]
        a[1] += numel  # type: ignore[operator]
        if changed is not None:
            a[2] = (a[2] or 0) + changed
        a[3] += raw  # type: ignore[operator]
        a[4] += stored  # type: ignore[operator]
    return [LayerStat(k, *v) for k, v in sorted(acc.items(), key=lambda kv: _key(kv[0]))]  # type: ignore[arg-type]


HEAT = "▁▂▃▄▅▆▇█"


def heat(stats: list[LayerStat]) -> str:
    """One character per layer: the share of its elements that changed."""
    out = []
    for s in stats:
        f = s.changed_fraction
        out.append("·" if f is None else HEAT[min(len(HEAT) - 1, int(round(f * (len(HEAT) - 1))))])
    return "".join(out)
