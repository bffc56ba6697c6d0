"""``du``: where the stored bytes are, by branch, by commit and by tensor group.

Answered from the index alone. A commit's stored bytes are the objects it added
(an object is charged to the first commit that wrote it); a group's are its
tensors' objects as first written. Savings compare with the raw bytes the
commits hold.

A branch has two figures. ``stored_bytes``: everything reachable from it,
history it shares with the default branch included. ``own_bytes``: what the
branch itself costs, the bytes added by its commits that the default branch
cannot reach (for a fine-tune or adapter branch, its difference from the base
model; deleting the branch would free at most this). The default branch owns
all of its history. ``base`` is the fork point (lineage.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select

from ..index import Index
from ..index import queries as q
from ..index.schema import commits, objects, tensor_stats
from ..layers import layer_of
from ..lineage import merge_base, reachable
from ..refs import HEADS


@dataclass(frozen=True)
class DuRow:
    name: str
    raw_bytes: int
    stored_bytes: int


@dataclass(frozen=True)
class BranchDu:
    name: str
    tip: str
    raw_bytes: int                    # files of every commit reachable from the branch
    stored_bytes: int                 # objects added by those commits
    base: str | None                  # where it leaves the default branch (None: it is the default branch)
    own_commits: int                  # commits the default branch cannot reach
    own_raw_bytes: int
    own_bytes: int                    # objects added by those commits: the branch's own cost


@dataclass(frozen=True)
class DuReport:
    raw_bytes: int                    # the files of every commit, as committed
    stored_bytes: int                 # every indexed object's frame
    branches: tuple[BranchDu, ...]
    commits: tuple[DuRow, ...]        # newest first; name = short id and tag-less step
    groups: tuple[DuRow, ...]         # tensor groups (layers), over all commits


def du(index: Index, default_branch: str = "main") -> DuReport:
    with index.read() as conn:
        rows = list(conn.execute(select(commits.c.id, commits.c.parents, commits.c.step, commits.c.raw_bytes,
                                        commits.c.stored_bytes, commits.c.seq).order_by(commits.c.seq.desc())))
        stored_total = int(conn.execute(select(func.coalesce(func.sum(objects.c.stored_size), 0))).scalar_one())
        groups: dict[str, list[int]] = {}
        for name, raw, stored in conn.execute(select(tensor_stats.c.name, tensor_stats.c.raw_size,
                                                     tensor_stats.c.stored_size)):
            g = groups.setdefault(layer_of(name), [0, 0])
            g[0] += raw
            g[1] += stored
        branches = q.list_refs(conn, HEADS)
    parents = {r.id: json.loads(r.parents) for r in rows}
    seq = {r.id: r.seq for r in rows}
    by_id = {r.id: r for r in rows}
    tips = {b.name.removeprefix(HEADS): b.target for b in branches if b.target}
    main_tip = tips.get(default_branch)
    on_main = reachable(parents, main_tip)
    branch_rows = []
    for name, tip in tips.items():
        ids = reachable(parents, tip)
        own = ids if name == default_branch else ids - on_main
        base = None if name == default_branch else merge_base(parents, seq, tip, main_tip)
        branch_rows.append(BranchDu(name, tip, sum(by_id[c].raw_bytes for c in ids),
                                    sum(by_id[c].stored_bytes for c in ids), base, len(own),
                                    sum(by_id[c].raw_bytes for c in own), sum(by_id[c].stored_bytes for c in own)))
    commit_rows = tuple(DuRow(r.id[:12] + ("" if r.step is None else f" step {r.step}"), r.raw_bytes, r.stored_bytes)
                        for r in rows)
    return DuReport(raw_bytes=sum(r.raw_bytes for r in rows), stored_bytes=stored_total,
                    branches=tuple(branch_rows), commits=commit_rows,
                    groups=tuple(DuRow(k, v[0], v[1]) for k, v in sorted(groups.items(), key=lambda kv: -kv[1][1])))
