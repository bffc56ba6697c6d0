"""ckv: git for model checkpoints.

``ckvcs.Repo`` is the API (``Repo.init``, ``Repo.open``, ``commit``,
``checkout``, ``log``, ``load``). Importing ckvcs does not import torch or numba;
they load when a call needs them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CkvError

__version__ = "0.1.0"
__all__ = ["CkvError", "Repo", "__version__"]

if TYPE_CHECKING:
    from .repo import Repo


def __getattr__(name: str) -> Any:
    if name == "Repo":
        from .repo import Repo
        return Repo
    raise AttributeError(name)
