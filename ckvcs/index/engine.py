"""Opening the index: an SQLAlchemy 2 engine on SQLite (WAL) or a URL.

SQLite runs in WAL mode with ``synchronous=FULL`` so a commit that returned is
on disk. Database errors are converted to ckv errors at this boundary.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..errors import LockedError, StorageError, UnsupportedFormatError
from . import migrations


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class Index:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def sqlite(cls, path: Path) -> "Index":
        return cls(f"sqlite:///{path}")

    def ensure_schema(self, *, create: bool) -> None:
        with self.begin() as conn:
            found = migrations.current_version(conn)
            if found > migrations.SCHEMA_VERSION:
                raise UnsupportedFormatError(self.url, f"index schema {found}",
                                             f"index schema {migrations.SCHEMA_VERSION}")
            if found < migrations.SCHEMA_VERSION:
                if found == 0 and not create:
                    raise StorageError(self.url, "the index database has no tables")
                migrations.apply(conn, found)

    def _error(self, e: SQLAlchemyError) -> LockedError | StorageError:
        """One line naming what the database said (SQLAlchemy's own text spans several)."""
        if isinstance(e, OperationalError) and "locked" in str(e.orig).lower():
            return LockedError(self.url)
        detail = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        return StorageError(self.url, f"index database error: {detail}")

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back on error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise self._error(e) from e

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise self._error(e) from e

    def close(self) -> None:
        """Release connections; on SQLite, fold the WAL back into index.db first."""
        if self.engine.dialect.name == "sqlite":
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            except SQLAlchemyError:
                pass  # another process still reads; its last close checkpoints instead
        self.engine.dispose()
