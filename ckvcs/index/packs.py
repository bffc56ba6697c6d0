"""Index reads and writes for pack files: where a packed object lives, and the packs table."""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, select

from .schema import objects, packs


def location(conn: Connection, oid: str) -> tuple[str, int, int] | None:
    """(pack id, offset, length) of a packed object; None for a loose or unknown one."""
    r = conn.execute(select(objects.c.pack_id, objects.c.pack_offset, objects.c.stored_size)
                     .where(objects.c.id == oid)).first()
    if r is None or r.pack_id is None:
        return None
    return r.pack_id, int(r.pack_offset), int(r.stored_size)


def pack_rows(conn: Connection) -> dict[str, Row[Any]]:
    return {r.id: r for r in conn.execute(select(packs))}


def insert_pack(conn: Connection, pack_id: str, size: int, n_objects: int) -> None:
    conn.execute(packs.insert().values(id=pack_id, size=size, n_objects=n_objects, created_at=time.time()))


def delete_packs(conn: Connection, ids: Sequence[str]) -> None:
    if ids:
        conn.execute(packs.delete().where(packs.c.id.in_(list(ids))))


def packed_counts(conn: Connection) -> dict[str, int]:
    """Objects the index places in each pack."""
    q = select(objects.c.pack_id, func.count()).where(objects.c.pack_id.is_not(None)).group_by(objects.c.pack_id)
    return {pid: int(n) for pid, n in conn.execute(q)}
