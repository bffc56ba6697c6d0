"""Where a branch leaves its base: the fork point, from the commit graph in the index.

A branch's **base** is the newest commit it shares with the default branch
(git's merge-base): the commit it was created ``--from``, as long as that was
on the default branch. The default branch has no base. A branch that shares
nothing with the default branch has none either.

The functions take a ``parents`` map (commit id → parent ids) so ``du`` and
``branch -v`` can load the graph once and ask many questions of it.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, select

from .index.schema import commits
from .refs import HEADS
from .index import queries as q


def load_graph(conn: Connection) -> tuple[dict[str, list[str]], dict[str, int]]:
    """(commit → parents, commit → arrival order) for every commit in the index."""
    parents: dict[str, list[str]] = {}
    seq: dict[str, int] = {}
    for cid, ps, s in conn.execute(select(commits.c.id, commits.c.parents, commits.c.seq)):
        parents[cid] = json.loads(ps)
        seq[cid] = s
    return parents, seq


def reachable(parents: Mapping[str, Iterable[str]], start: str | None) -> set[str]:
    """``start`` and every ancestor of it that the index holds."""
    seen: set[str] = set()
    todo = [start] if start else []
    while todo:
        c = todo.pop()
        if c not in seen and c in parents:
            seen.add(c)
            todo.extend(parents[c])
    return seen


def merge_base(parents: Mapping[str, Iterable[str]], seq: Mapping[str, int], a: str | None,
               b: str | None) -> str | None:
    """The newest commit reachable from both ``a`` and ``b``, or None."""
    common = reachable(parents, a) & reachable(parents, b)
    return max(common, key=lambda c: seq[c]) if common else None


def fork_point(conn: Connection, tip: str | None, branch: str, default_branch: str) -> str | None:
    """The base commit of ``branch`` whose tip is ``tip``: None on the default branch."""
    if branch == default_branch or tip is None:
        return None
    row = q.get_ref(conn, HEADS + default_branch)
    if row is None or not row.target:
        return None
    parents, seq = load_graph(conn)
    return merge_base(parents, seq, tip, row.target)
