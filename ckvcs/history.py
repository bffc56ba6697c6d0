"""History queries: log and show, answered from the index without decoding tensors."""
from __future__ import annotations

import json
from typing import Any

from .errors import RefError
from .index import Index
from .layers import LayerStat, by_layer
from .index import queries as q
from .reader import Reader
from .refs import HEADS, TAGS, head_branch, resolve
from .results import CommitInfo, FileInfo, ShowResult, TensorInfo


class History:
    def __init__(self, index: Index, reader: Reader) -> None:
        self.index, self.reader = index, reader

    def _decorations(self, conn: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        cur = head_branch(conn)
        for r in q.list_refs(conn, "refs/"):
            if not r.target:
                continue
            if r.name.startswith(HEADS):
                name = r.name.removeprefix(HEADS)
                label = f"HEAD -> {name}" if name == cur else name
            else:
                label = "tag: " + r.name.removeprefix(TAGS)
            out.setdefault(r.target, []).append(label)
        for labels in out.values():
            labels.sort(key=lambda s: (not s.startswith("HEAD"), s.startswith("tag: "), s))
        return out

    def log(self, ref: str = "HEAD", limit: int | None = None) -> list[CommitInfo]:
        """Commits reachable from ``ref``, newest first (by arrival order)."""
        with self.index.read() as conn:
            try:
                start = resolve(conn, ref)
            except RefError:
                if ref == "HEAD":
                    return []  # an unborn branch has an empty log, as in git
                raise
            seen, todo, rows = set(), [start], []
            while todo:
                cid = todo.pop()
                if cid in seen:
                    continue
                seen.add(cid)
                row = q.commit_row(conn, cid)
                if row is None:
                    continue
                rows.append(row)
                todo.extend(json.loads(row.parents))
            rows.sort(key=lambda r: r.seq, reverse=True)
            if limit is not None:
                rows = rows[:limit]
            deco = self._decorations(conn)
            return [self._info(r, deco) for r in rows]

    def _info(self, row: Any, deco: dict[str, list[str]]) -> CommitInfo:
        return CommitInfo(id=row.id, parents=tuple(json.loads(row.parents)), message=row.message,
                          author=row.author, time=row.time, step=row.step, source=row.source,
                          refs=tuple(deco.get(row.id, ())), raw_bytes=row.raw_bytes,
                          stored_bytes=row.stored_bytes, n_tensors=row.n_tensors,
                          changed_fraction=row.changed_fraction, codec_mix=json.loads(row.codec_mix),
                          metadata=json.loads(row.metadata))

    def show(self, ref: str = "HEAD") -> ShowResult:
        with self.index.read() as conn:
            cid = resolve(conn, ref)
            row = q.commit_row(conn, cid)
            info = self._info(row, self._decorations(conn))
            files = tuple(FileInfo(t.path, t.format, t.size, t.manifest_id) for t in q.tree_rows(conn, cid))
            tensors = tuple(
                TensorInfo(path=s.path, name=s.name, dtype=s.dtype, shape=tuple(json.loads(s.shape)),
                           object_id=s.object_id, raw_bytes=s.raw_size, stored_bytes=s.stored_size,
                           codec=s.codec, base_id=s.base_id,
                           changed_fraction=(s.changed / s.numel if s.changed is not None and s.numel
                                             else (0.0 if s.changed == 0 else None)))
                for s in q.tensor_stat_rows(conn, cid))
        return ShowResult(info, files, tensors)

    def layers(self, ref: str = "HEAD") -> list[LayerStat]:
        """Per-layer element and byte totals of one commit, from the index."""
        with self.index.read() as conn:
            cid = resolve(conn, ref)
            return self._layers(conn, cid)

    def _layers(self, conn: Any, cid: str) -> list[LayerStat]:
        return by_layer((s.name, s.numel, s.changed, s.raw_size, s.stored_size)
                        for s in q.tensor_stat_rows(conn, cid))

    def heat(self, ids: list[str]) -> dict[str, list[LayerStat]]:
        """Per-layer stats for several commits at once (for ``log --sparsity``)."""
        with self.index.read() as conn:
            return {cid: self._layers(conn, cid) for cid in ids}
