"""Formatting for the terminal: sizes, ratios, bars, progress. The only printing module besides commands."""
from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from typing import Any

from rich.console import Console

# Piped output gets a wide virtual terminal so tables are not folded at 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)
PROGRESS_MIN_BYTES = 32 << 20


def size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


def ratio(raw: int, stored: int) -> str:
    if not stored:
        return "∞" if raw else "-"
    return f"{raw / stored:.2f}×"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def bar(x: float | None, width: int = 20) -> str:
    if x is None or math.isnan(x):
        return " " * width
    n = max(0, min(width, round(x * width)))
    return "█" * n + "·" * (width - n)


def when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(t))


def emit_json(obj: Any) -> None:
    def default(o: Any) -> Any:
        if hasattr(o, "to_json"):
            return o.to_json()
        if is_dataclass(o):
            return asdict(o)  # type: ignore[arg-type]
        raise TypeError(type(o).__name__)
    sys.stdout.write(json.dumps(obj, default=default, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def progress(label: str, quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A byte-progress callback that shows a bar once the job is large enough to need one."""
    from rich.progress import (BarColumn, DownloadColumn, Progress, TimeRemainingColumn,
                               TransferSpeedColumn)

    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if quiet or total < PROGRESS_MIN_BYTES:
            return
        if "p" not in state:
            p = Progress("[bold]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                         TimeRemainingColumn(), console=err, transient=True)
            p.start()
            state["p"], state["t"] = p, p.add_task(label, total=total)
        state["p"].update(state["t"], completed=done, total=total)

    try:
        yield update
    finally:
        if "p" in state:
            state["p"].stop()
