"""Ref names and revision syntax.

Branches are ``refs/heads/NAME``, tags ``refs/tags/NAME``; ``HEAD`` is
symbolic (points at a branch) or detached (points at a commit). A revision is
``HEAD``, a branch, a tag, a full id or a unique prefix of at least 4 hex
digits, optionally followed by ``~N`` or ``^`` (first parents), as in git.

Every ref update that is not symbolic adds a reflog entry (old → new); HEAD
has entries only when it is detached. Deleting a branch or tag deletes its
reflog, as git does; ``expire_reflog`` drops entries older than a time, and
gc runs it first, so an expired entry keeps nothing alive.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from .errors import RefError
from .ids import is_id, is_prefix
from .index import queries as q

HEADS, TAGS = "refs/heads/", "refs/tags/"
_SUFFIX = re.compile(r"(~\d*|\^+)$")
_BAD_NAME = re.compile(r"(^[-/.]|//|\.\.|[\s~^:?*\[\\]|@\{|\.lock$|/$|\.$)")


def check_name(name: str, what: str = "ref") -> str:
    if not name or _BAD_NAME.search(name) or name == "HEAD":
        raise RefError(name, f"invalid {what} name")
    return name


def head_branch(conn: Connection) -> str | None:
    """The branch HEAD points at (short name), or None when detached."""
    row = q.get_ref(conn, "HEAD")
    if row is not None and row.symbolic:
        return row.symbolic.removeprefix(HEADS)
    return None


def head_commit(conn: Connection) -> str | None:
    row = q.get_ref(conn, "HEAD")
    if row is None:
        return None
    if row.symbolic:
        target = q.get_ref(conn, row.symbolic)
        return target.target if target else None
    return row.target


def branch_tip(conn: Connection, name: str) -> str | None:
    row = q.get_ref(conn, HEADS + name)
    return row.target if row else None


def _first_parent(conn: Connection, cid: str, spec: str) -> str:
    row = q.commit_row(conn, cid)
    parents = json.loads(row.parents) if row else []
    if not parents:
        raise RefError(spec, "revision goes past the first commit")
    return parents[0]


def _base(conn: Connection, name: str, spec: str) -> str:
    if name == "HEAD":
        cid = head_commit(conn)
        if cid is None:
            raise RefError(spec, "HEAD has no commits yet")
        return cid
    for full in (HEADS + name, TAGS + name, name if name.startswith("refs/") else None):
        if full:
            row = q.get_ref(conn, full)
            if row is not None and row.target:
                return row.target
    if is_id(name) and q.commit_row(conn, name) is not None:
        return name
    if is_prefix(name):
        found = q.commit_ids_with_prefix(conn, name)
        if len(found) > 1:
            raise RefError(spec, "ambiguous commit id prefix")
        if found:
            return found[0]
    raise RefError(spec)


def resolve(conn: Connection, spec: str) -> str:
    """The commit id a revision names; RefError if none or ambiguous."""
    name, hops = spec.strip(), []
    while (m := _SUFFIX.search(name)) and m.start() > 0:
        s = m.group(1)
        hops.insert(0, (int(s[1:]) if len(s) > 1 else 1) if s[0] == "~" else len(s))
        name = name[: m.start()]
    cid = _base(conn, name, spec)
    for n in hops:
        for _ in range(n):
            cid = _first_parent(conn, cid, spec)
    return cid


@dataclass(frozen=True)
class ReflogEntry:
    ref: str                 # full name: refs/heads/main
    n: int                   # 0 is the newest: REF@{n}
    old: str | None
    new: str | None
    time: float
    message: str


def reflog_ref(conn: Connection, name: str | None) -> str:
    """The full name of the ref whose reflog ``name`` means: None or HEAD → HEAD's branch (HEAD when detached)."""
    if name is None or name == "HEAD":
        row = q.get_ref(conn, "HEAD")
        return row.symbolic if row is not None and row.symbolic else "HEAD"
    for full in (HEADS + name, TAGS + name, name):
        if q.get_ref(conn, full) is not None or q.reflog_rows(conn, full):
            return full
    raise RefError(name, "no such ref")


def reflog(conn: Connection, full: str) -> list[ReflogEntry]:
    """``full``'s reflog, newest first."""
    rows = q.reflog_rows(conn, full)
    return [ReflogEntry(full, i, r.old, r.new, r.time, r.message) for i, r in enumerate(reversed(rows))]


def expire_reflog(conn: Connection, before: float, refs: Iterable[str] | None = None) -> int:
    """Delete reflog entries older than ``before`` (of ``refs``, full names; all when None); their count."""
    want = None if refs is None else set(refs)
    ids = [r.id for r in q.reflog_rows(conn) if r.time < before and (want is None or r.ref in want)]
    q.delete_reflog_entries(conn, ids)
    return len(ids)
