"""Tables of the index (SQLAlchemy Core; runs on SQLite and PostgreSQL).

The index is derived data plus refs: every object it names is a frame in the
store, written before the row. Sizes are bytes. Times are Unix seconds.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text)

metadata = MetaData()

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

objects = Table(
    "objects", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),          # blob | tensor | manifest | commit
    Column("codec", String(16), nullable=False),
    Column("base_id", String(32), nullable=True),
    Column("depth", Integer, nullable=False, default=0),  # deltas to decode, 0 = stored whole
    Column("dtype", String(16), nullable=True),
    Column("raw_size", BigInteger, nullable=False),
    Column("stored_size", BigInteger, nullable=False),
    Column("pack_id", String(64), nullable=True),         # NULL = loose object
    Column("pack_offset", BigInteger, nullable=True),
    Column("created_at", Float, nullable=False),
)
Index("ix_objects_base", objects.c.base_id)
Index("ix_objects_pack", objects.c.pack_id)

packs = Table(
    "packs", metadata,
    Column("id", String(32), primary_key=True),           # xxh3-128 of the pack file (docs/format.md)
    Column("size", BigInteger, nullable=False),           # file bytes
    Column("n_objects", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

commits = Table(
    "commits", metadata,
    Column("id", String(32), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),  # order of arrival in this index
    Column("parents", Text, nullable=False),              # JSON list of ids
    Column("message", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("time", Float, nullable=False),
    Column("step", BigInteger, nullable=True),
    Column("source", Text, nullable=True),
    Column("raw_bytes", BigInteger, nullable=False),
    Column("stored_bytes", BigInteger, nullable=False),   # bytes of objects this commit added
    Column("n_tensors", Integer, nullable=False),
    Column("changed_fraction", Float, nullable=True),     # over tensors with a same-named parent
    Column("codec_mix", Text, nullable=False),            # JSON {codec: count}
    Column("metadata", Text, nullable=False, default="{}"),  # JSON, as in the commit object
)

tree_entries = Table(
    "tree_entries", metadata,
    Column("commit_id", String(32), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("manifest_id", String(32), nullable=False),
    Column("format", String(16), nullable=False),
    Column("size", BigInteger, nullable=False),
)

tensor_stats = Table(
    "tensor_stats", metadata,
    Column("commit_id", String(32), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("object_id", String(32), nullable=False),
    Column("dtype", String(16), nullable=False),
    Column("shape", Text, nullable=False),                # JSON list
    Column("raw_size", BigInteger, nullable=False),
    Column("stored_size", BigInteger, nullable=False),    # 0 when the object already existed
    Column("codec", String(16), nullable=False),
    Column("base_id", String(32), nullable=True),
    Column("changed", BigInteger, nullable=True),         # elements whose bits differ from the parent's
    Column("numel", BigInteger, nullable=False),
)
Index("ix_tensor_stats_name", tensor_stats.c.name)

refs = Table(
    "refs", metadata,
    Column("name", String(255), primary_key=True),        # HEAD, refs/heads/X, refs/tags/X
    Column("target", String(32), nullable=True),
    Column("symbolic", String(255), nullable=True),       # HEAD → refs/heads/main
)

reflog = Table(
    "reflog", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(255), nullable=False),
    Column("old", String(32), nullable=True),
    Column("new", String(32), nullable=True),
    Column("time", Float, nullable=False),
    Column("message", Text, nullable=False),
)
Index("ix_reflog_ref", reflog.c.ref)
