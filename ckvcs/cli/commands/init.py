"""ckv init."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .. import render
from ..app import app


@app.command()
def init(
    path: Path = typer.Argument(Path("."), help="Where to create the repository (.ckv/ goes inside)."),
    index: Optional[str] = typer.Option(None, "--index",
                                        help="SQLAlchemy URL of the index database (default: SQLite in .ckv/)."),
) -> None:
    """Create an empty repository."""
    from ...repo import Repo
    repo = Repo.init(path, index_url=index)
    render.out.print(f"Initialized empty ckv repository in {repo.dir}")
