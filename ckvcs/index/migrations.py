"""Named, ordered schema migrations. The schema version is the count applied.

A database whose version is newer than this ckv knows is refused
(UnsupportedFormatError); an older one is migrated forward on open.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select

from . import schema

Migration = tuple[str, Callable[[Connection], None]]


def _initial(conn: Connection) -> None:
    schema.metadata.create_all(conn)


def _packs(conn: Connection) -> None:
    """Pack files (repack): a table of packs and an index on objects.pack_id."""
    schema.packs.create(conn, checkfirst=True)
    for ix in schema.objects.indexes:
        if ix.name == "ix_objects_pack":
            ix.create(conn, checkfirst=True)


MIGRATIONS: list[Migration] = [
    ("0001_initial", _initial),
    ("0002_packs", _packs),
]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not conn.dialect.has_table(conn, "meta"):
        return 0
    row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).first()
    return int(row[0]) if row else 0


def apply(conn: Connection, start: int) -> None:
    for name, fn in MIGRATIONS[start:]:
        fn(conn)
    done = SCHEMA_VERSION
    t = schema.meta
    if conn.execute(select(t.c.key).where(t.c.key == "schema_version")).first():
        conn.execute(t.update().where(t.c.key == "schema_version").values(value=str(done)))
    else:
        conn.execute(t.insert().values(key="schema_version", value=str(done)))
    conn.execute(t.delete().where(t.c.key == "migrations"))
    conn.execute(t.insert().values(key="migrations", value=",".join(n for n, _ in MIGRATIONS)))
