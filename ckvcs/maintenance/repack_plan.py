"""Choosing delta bases for repack, per tensor lineage (git pack-objects' rules, per tensor).

A lineage is every version of one tensor: the same name, dtype and shape, in
any commit of any branch, ordered by when each version first arrived. Every
version may take as its base one of the ``window`` versions that arrived
after it — never an older one — so the newest version of every tensor is
stored whole and the deep deltas sit on old versions, which are read least
(git's rule). The candidate chosen is the one whose bits differ from the
version's in the fewest elements (the size of a sparse delta follows it),
among those whose own chain is shorter than ``depth`` — unless the depth
limit leaves only candidates much further away than the closest one, in
which case the version is stored whole and starts a new chain.

The choice needs the similarity of nearby versions, measured once by
decoding the lineage oldest to newest (``similarity``); ``choose_bases`` is
then pure and the encoder decides, by encoded size, whether each chosen
delta saves enough to keep.
"""
from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, select

from ..index.schema import commits, tensor_stats


@dataclass(frozen=True)
class Lineage:
    name: str
    dtype: str
    shape: tuple[int, ...]
    versions: tuple[str, ...]        # object ids, oldest first

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


def lineages(conn: Connection, tensor_ids: set[str]) -> list[Lineage]:
    """The lineages of the indexed tensors; a tensor found under two names joins the first it was seen in."""
    q = (select(tensor_stats.c.name, tensor_stats.c.dtype, tensor_stats.c.shape, tensor_stats.c.object_id)
         .join(commits, commits.c.id == tensor_stats.c.commit_id)
         .order_by(commits.c.seq, tensor_stats.c.path, tensor_stats.c.name))
    found: dict[tuple[str, str, str], list[str]] = {}
    placed: set[str] = set()
    for name, dtype, shape, oid in conn.execute(q):
        if oid in placed or oid not in tensor_ids:
            continue
        placed.add(oid)
        found.setdefault((name, dtype, shape), []).append(oid)
    return [Lineage(n, d, tuple(json.loads(s)), tuple(v)) for (n, d, s), v in found.items()]


SLACK = 1.2                               # see choose_bases
Similarity = dict[tuple[int, int], int]   # (older, newer) version positions → elements that differ


def similarity(versions: Sequence[str], load: Callable[[str], np.ndarray], window: int) -> Similarity:
    """Differing elements between each version and the ``window`` versions after it, decoding each once."""
    out: Similarity = {}
    recent: deque[tuple[int, np.ndarray]] = deque(maxlen=window)
    for j, oid in enumerate(versions):
        bits = load(oid)
        for i, older in recent:
            out[(i, j)] = int(np.count_nonzero(older != bits))
        recent.append((j, bits))
    return out


def choose_bases(n: int, sim: Similarity, window: int, depth: int, slack: float = SLACK) -> list[int | None]:
    """Each version's base position (a newer version) or None (stored whole); chains stay within ``depth``.

    When the depth limit rules out the most similar candidates and the best one left differs in more
    than ``slack`` times as many elements, the version is stored whole instead: a chain then restarts
    from a fresh whole version, rather than growing sideways through ever more distant deltas.
    """
    base: list[int | None] = [None] * n
    d = [0] * n
    for i in range(n - 2, -1, -1):
        cands = [j for j in range(i + 1, min(n, i + 1 + window)) if (i, j) in sim]
        if not cands:
            continue
        closest = min(sim[(i, j)] for j in cands)
        allowed = [(sim[(i, j)], d[j], j) for j in cands if d[j] < depth]
        if not allowed:
            continue
        best = min(allowed)
        if best[0] > slack * closest:
            continue
        base[i], d[i] = best[2], d[best[2]] + 1
    return base


def depths(base: Sequence[int | None]) -> list[int]:
    """Chain depth of every position, given each one's base (always a later position)."""
    d = [0] * len(base)
    for i in range(len(base) - 1, -1, -1):
        b = base[i]
        d[i] = 0 if b is None else d[b] + 1
    return d
