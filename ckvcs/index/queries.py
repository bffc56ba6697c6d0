"""Every read and write of the index, as small functions over a Connection.

Callers own the transaction (``Index.begin()``), so a commit's rows and its
ref update land together or not at all.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select

from .schema import commits, objects, reflog, refs, tensor_stats, tree_entries

_BATCH = 500


def object_rows(conn: Connection, ids: Iterable[str]) -> dict[str, Row[Any]]:
    ids = list(dict.fromkeys(ids))
    out: dict[str, Row[Any]] = {}
    for i in range(0, len(ids), _BATCH):
        q = select(objects).where(objects.c.id.in_(ids[i : i + _BATCH]))
        out.update({r.id: r for r in conn.execute(q)})
    return out


def object_row(conn: Connection, oid: str) -> Row[Any] | None:
    return conn.execute(select(objects).where(objects.c.id == oid)).first()


def insert_objects(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows whose id is not already indexed (content addressing: same id, same object)."""
    have = object_rows(conn, [r["id"] for r in rows])
    new = [r for r in {r["id"]: r for r in rows}.values() if r["id"] not in have]
    for i in range(0, len(new), _BATCH):
        conn.execute(objects.insert(), new[i : i + _BATCH])


def get_ref(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(refs).where(refs.c.name == name)).first()


def list_refs(conn: Connection, prefix: str) -> list[Row[Any]]:
    q = select(refs).where(refs.c.name.startswith(prefix, autoescape=True)).order_by(refs.c.name)
    return list(conn.execute(q))


def write_ref(conn: Connection, name: str, target: str | None, message: str, *,
              symbolic: str | None = None) -> None:
    old = get_ref(conn, name)
    if old is None:
        conn.execute(refs.insert().values(name=name, target=target, symbolic=symbolic))
    else:
        conn.execute(refs.update().where(refs.c.name == name).values(target=target, symbolic=symbolic))
    if symbolic is None:
        conn.execute(reflog.insert().values(ref=name, old=old.target if old else None, new=target,
                                            time=time.time(), message=message))


def delete_ref(conn: Connection, name: str) -> None:
    """Remove a ref and its reflog, as git does when a branch is deleted."""
    conn.execute(refs.delete().where(refs.c.name == name))
    conn.execute(reflog.delete().where(reflog.c.ref == name))


def commit_row(conn: Connection, cid: str) -> Row[Any] | None:
    return conn.execute(select(commits).where(commits.c.id == cid)).first()


def commit_ids_with_prefix(conn: Connection, prefix: str, limit: int = 2) -> list[str]:
    q = select(commits.c.id).where(commits.c.id.startswith(prefix, autoescape=True)).limit(limit)
    return [r[0] for r in conn.execute(q)]


def next_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(commits.c.seq), 0))).scalar_one()) + 1


def insert_commit(conn: Connection, row: dict[str, Any], trees: Sequence[dict[str, Any]],
                  stats: Sequence[dict[str, Any]]) -> None:
    conn.execute(commits.insert().values(seq=next_seq(conn), **row))
    if trees:
        conn.execute(tree_entries.insert(), list(trees))
    for i in range(0, len(stats), _BATCH):
        conn.execute(tensor_stats.insert(), list(stats[i : i + _BATCH]))


def tree_rows(conn: Connection, cid: str) -> list[Row[Any]]:
    q = select(tree_entries).where(tree_entries.c.commit_id == cid).order_by(tree_entries.c.path)
    return list(conn.execute(q))


def tensor_stat_rows(conn: Connection, cid: str) -> list[Row[Any]]:
    q = select(tensor_stats).where(tensor_stats.c.commit_id == cid).order_by(tensor_stats.c.path,
                                                                              tensor_stats.c.name)
    return list(conn.execute(q))


def reflog_rows(conn: Connection, ref: str | None = None) -> list[Row[Any]]:
    """Reflog entries of ``ref`` (every ref when None), oldest first."""
    q = select(reflog).order_by(reflog.c.id)
    if ref is not None:
        q = q.where(reflog.c.ref == ref)
    return list(conn.execute(q))


def delete_reflog_entries(conn: Connection, ids: Iterable[int]) -> None:
    ids = list(ids)
    for i in range(0, len(ids), _BATCH):
        conn.execute(delete(reflog).where(reflog.c.id.in_(ids[i : i + _BATCH])))


def gc_object_rows(conn: Connection) -> list[Row[Any]]:
    """What gc needs of every object row: id, kind, base, stored size, pack, age."""
    return list(conn.execute(select(objects.c.id, objects.c.kind, objects.c.base_id, objects.c.stored_size,
                                    objects.c.pack_id, objects.c.created_at)))


def commit_parents(conn: Connection) -> dict[str, tuple[str, ...]]:
    """Every indexed commit → its parents, as the index records them."""
    return {r.id: tuple(json.loads(r.parents)) for r in conn.execute(select(commits.c.id, commits.c.parents))}


def commit_trees(conn: Connection) -> dict[str, dict[str, str]]:
    """Every indexed commit → path → manifest id, as the index records them."""
    out: dict[str, dict[str, str]] = {}
    for r in conn.execute(select(tree_entries.c.commit_id, tree_entries.c.path, tree_entries.c.manifest_id)):
        out.setdefault(r.commit_id, {})[r.path] = r.manifest_id
    return out


def delete_objects(conn: Connection, ids: Iterable[str]) -> None:
    ids = list(ids)
    for i in range(0, len(ids), _BATCH):
        conn.execute(delete(objects).where(objects.c.id.in_(ids[i : i + _BATCH])))


def delete_commits(conn: Connection, ids: Iterable[str]) -> None:
    """Remove commits' rows: the commit, its tree entries and its tensor statistics (not its objects)."""
    ids = list(ids)
    for i in range(0, len(ids), _BATCH):
        part = ids[i : i + _BATCH]
        conn.execute(delete(tensor_stats).where(tensor_stats.c.commit_id.in_(part)))
        conn.execute(delete(tree_entries).where(tree_entries.c.commit_id.in_(part)))
        conn.execute(delete(commits).where(commits.c.id.in_(part)))
