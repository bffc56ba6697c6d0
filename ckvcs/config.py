"""``.ckv/config.toml``: format version, hash, codec and index settings.

A repository whose ``core.format_version`` is not one this ckv knows is
refused (UnsupportedFormatError) before anything else is read.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import StorageError, UnsupportedFormatError
from .format import HASH_ALGORITHM, REPO_FORMAT_VERSION


@dataclass(frozen=True)
class Config:
    format_version: int = REPO_FORMAT_VERSION
    hash: str = HASH_ALGORITHM
    default_branch: str = "main"
    zstd_level: int = 0            # 0: ckv's weight-plane profile (codecs/_streams.py); 1-22: a zstd level
    max_chain_depth: int = 20
    candidates: tuple[str, ...] = ("raw", "xor", "odelta", "tpde")
    workers: int = 2
    cache_mb: int = 512            # decoded tensors kept per process (cache.py); 0 disables
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
    d = Config()
    return Config(
        format_version=version,
        default_branch=str(core.get("default_branch", d.default_branch)),
        zstd_level=int(codec.get("zstd_level", d.zstd_level)),
        max_chain_depth=int(codec.get("max_chain_depth", d.max_chain_depth)),
        candidates=tuple(codec.get("candidates", d.candidates)),
        workers=max(1, int(codec.get("workers", d.workers))),
        cache_mb=max(0, int(codec.get("cache_mb", d.cache_mb))),
        index_url=str(data.get("index", {}).get("url", "")),
    )
