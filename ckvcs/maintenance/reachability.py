"""What the refs keep alive, and who is hurt when one object is damaged.

Contract: ``walk`` starts at the given roots (every ref target and every
reflog entry, as gc marks), follows commit parents, reads each commit's tree
(path → manifest) and each manifest's segments. It only reads; an object it
cannot read is recorded in ``Graph.unreadable`` (the caller reports it) and
the walk goes on from what the index says instead, so one damaged commit
object does not hide the history behind it. Delta bases are added by the
caller as it parses frames (``add_base``), so each frame is read once, or
from the index rows' ``base_id`` (``with_bases``), as gc does. ``walk`` can
go on from more roots into a graph it already built (``into``), reading
nothing twice; gc does this for the young unreachable commits it keeps.

``hurt(oid)`` follows "is used by" edges upward — base → dependant, segment →
manifest, manifest → (commit, path) — and answers which commits and file
paths cannot be rebuilt if ``oid`` is damaged. Commit history is not such an
edge: a commit's content does not depend on its parent's.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import IntegrityError, StorageError
from ..objects import Commit, Manifest
from ..odb import ObjectDB


@dataclass
class Graph:
    commits: dict[str, Commit | None] = field(default_factory=dict)      # None: object unreadable
    trees: dict[str, dict[str, str]] = field(default_factory=dict)       # commit → path → manifest
    manifests: dict[str, Manifest | None] = field(default_factory=dict)
    used_by: dict[str, set[str]] = field(default_factory=dict)           # segment → manifests, base → dependants
    entries: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # manifest → (commit, path)
    named_by: dict[str, str] = field(default_factory=dict)               # object → first object naming it
    unreadable: dict[str, Exception] = field(default_factory=dict)

    def _edge(self, oid: str, user: str) -> None:
        self.used_by.setdefault(oid, set()).add(user)
        self.named_by.setdefault(oid, user)

    def add_base(self, oid: str, base: str) -> None:
        self._edge(base, oid)

    def objects(self) -> set[str]:
        """Every id the walk reached: commits (and their parents), manifests, segments, known bases."""
        return set(self.commits) | set(self.manifests) | set(self.used_by)

    def hurt(self, oid: str) -> tuple[set[str], set[str]]:
        """(commit ids, file paths) whose content needs ``oid``."""
        commits: set[str] = set()
        paths: set[str] = set()
        seen, todo = {oid}, [oid]
        while todo:
            cur = todo.pop()
            if cur in self.commits:
                commits.add(cur)
            for cid, path in self.entries.get(cur, ()):
                commits.add(cid)
                paths.add(path)
            for user in self.used_by.get(cur, ()):
                if user not in seen:  # a corrupt frame may name itself or loop; visit once
                    seen.add(user)
                    todo.append(user)
        return commits, paths


def walk(odb: ObjectDB, roots: Iterable[str], index_parents: Mapping[str, tuple[str, ...]],
         index_trees: Mapping[str, Mapping[str, str]], *, manifests: Iterable[str] = (),
         into: Graph | None = None) -> Graph:
    """The graph reachable from commit ``roots`` and manifest roots ``manifests``, added to ``into`` if given.

    ``index_*`` stand in for commit objects that cannot be read.
    """
    g = into if into is not None else Graph()
    todo = list(dict.fromkeys(roots))
    while todo:
        cid = todo.pop()
        if cid in g.commits:
            continue
        commit: Commit | None = None
        try:
            commit = odb.read_commit(cid)
            parents, tree = commit.parents, dict(commit.tree)
        except (IntegrityError, StorageError) as e:
            g.unreadable[cid] = e
            parents, tree = index_parents.get(cid, ()), dict(index_trees.get(cid, {}))
        g.commits[cid] = commit
        g.trees[cid] = tree
        for path, mid in tree.items():
            g.entries.setdefault(mid, set()).add((cid, path))
            g.named_by.setdefault(mid, cid)
        for p in parents:
            g.named_by.setdefault(p, cid)
            todo.append(p)
    for mid in sorted(set(g.entries).union(manifests) - set(g.manifests)):
        try:
            man: Manifest | None = odb.read_manifest(mid)
        except (IntegrityError, StorageError) as e:
            g.unreadable[mid] = e
            man = None
        g.manifests[mid] = man
        for seg in man.segments if man is not None else ():
            g._edge(seg.id, mid)
    return g


def with_bases(ids: Iterable[str], base_of: Mapping[str, str | None]) -> set[str]:
    """``ids`` and every delta base they are stacked on, all the way down (``base_of``: object → base)."""
    out: set[str] = set()
    for oid in ids:
        cur: str | None = oid
        while cur is not None and cur not in out:
            out.add(cur)
            cur = base_of.get(cur)
    return out


__all__ = ["Graph", "walk", "with_bases"]
