"""``.ckv/config.toml``: format version, hash, codec, gc and index settings.

A repository whose ``core.format_version`` is not one this ckv knows is
refused (UnsupportedFormatError) before anything else is read.

Ages (``gc.prune_expire``, ``gc.reflog_expire``, ``ckv gc --prune``) are
``now``, ``never``, or a whole number and a unit, optionally joined by a dot
and followed by ``.ago`` as git writes them: ``2w``, ``90d``, ``12h``,
``2.weeks.ago``. ``parse_age`` turns one into seconds (None for never).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import BadInputError, StorageError, UnsupportedFormatError
from .format import HASH_ALGORITHM, REPO_FORMAT_VERSION


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}  # by a unit's first letter
_AGE = re.compile(r"(\d+)\.?(s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?|w|weeks?)(\.ago)?")


def parse_age(text: str) -> float | None:
    """Seconds that ``text`` names (``now`` is 0), None for ``never``; BadInputError otherwise."""
    t = text.strip().lower()
    if t in ("now", "never"):
        return 0.0 if t == "now" else None
    m = _AGE.fullmatch(t)
    if m is None:
        raise BadInputError(text, "not an age: use now, never, or a number and a unit "
                                  "(s, m, h, d, w; e.g. 2w, 90d, 2.weeks.ago)")
    return float(int(m.group(1)) * _UNITS[m.group(2)[0]])


@dataclass(frozen=True)
class Config:
    format_version: int = REPO_FORMAT_VERSION
    hash: str = HASH_ALGORITHM
    default_branch: str = "main"
    zstd_level: int = 0            # 0: ckv's weight-plane profile (codecs/_streams.py); 1-22: a zstd level
    max_chain_depth: int = 20
    candidates: tuple[str, ...] = ("raw", "xor", "odelta", "tpde", "lowrank")
    workers: int = 2
    cache_mb: int = 512            # decoded tensors kept per process (cache.py); 0 disables
    prune_expire: str = "2.weeks.ago"   # gc keeps unreachable objects younger than this (git gc.pruneExpire)
    reflog_expire: str = "90.days.ago"  # gc drops reflog entries older than this (git gc.reflogExpire)
    index_url: str = ""
    extra: dict = field(default_factory=dict)

    def with_(self, **kw: object) -> "Config":
        return replace(self, **kw)  # type: ignore[arg-type]

    def to_toml(self) -> str:
        cands = ", ".join(f'"{c}"' for c in self.candidates)
        return (
            "# ckv repository configuration (docs/format.md)\n"
            "[core]\n"
            f"format_version = {self.format_version}\n"
            f'hash = "{self.hash}"\n'
            f'default_branch = "{self.default_branch}"\n'
            "\n[codec]\n"
            f"zstd_level = {self.zstd_level}\n"
            f"max_chain_depth = {self.max_chain_depth}\n"
            f"candidates = [{cands}]\n"
            f"workers = {self.workers}\n"
            f"cache_mb = {self.cache_mb}\n"
            "\n[gc]\n"
            f'prune_expire = "{self.prune_expire}"\n'
            f'reflog_expire = "{self.reflog_expire}"\n'
            "\n[index]\n"
            f'url = "{self.index_url}"\n'
        )


def load_config(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise StorageError(str(path), "repository config is missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise StorageError(str(path), f"repository config is not valid TOML: {e}") from e
    core = data.get("core", {})
    version = core.get("format_version")
    if version != REPO_FORMAT_VERSION:
        raise UnsupportedFormatError(str(path.parent.parent), version, REPO_FORMAT_VERSION)
    if core.get("hash", HASH_ALGORITHM) != HASH_ALGORITHM:
        raise UnsupportedFormatError(str(path.parent.parent), f"hash {core.get('hash')}", HASH_ALGORITHM)
    codec = data.get("codec", {})
    gc = data.get("gc", {})
    d = Config()
    ages = {k: str(gc.get(k, getattr(d, k))) for k in ("prune_expire", "reflog_expire")}
    for k, v in ages.items():
        try:
            parse_age(v)
        except BadInputError as e:
            raise StorageError(str(path), f"gc.{k}: {e}") from None
    return Config(
        format_version=version,
        default_branch=str(core.get("default_branch", d.default_branch)),
        zstd_level=int(codec.get("zstd_level", d.zstd_level)),
        max_chain_depth=int(codec.get("max_chain_depth", d.max_chain_depth)),
        candidates=tuple(codec.get("candidates", d.candidates)),
        workers=max(1, int(codec.get("workers", d.workers))),
        cache_mb=max(0, int(codec.get("cache_mb", d.cache_mb))),
        **ages,
        index_url=str(data.get("index", {}).get("url", "")),
    )
