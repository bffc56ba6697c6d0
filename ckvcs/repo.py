"""``Repo``: a ckv repository, the Python API the CLI and training loops call.

Layout (docs/format.md): ``.ckv/config.toml``, ``index.db``, ``objects/``,
``packs/``, ``tmp/``, ``lock``. Writers take the lock; readers do not.
"""
from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import BitsCache
from .config import Config, load_config, parse_age
from .errors import BadInputError, check_text, ConflictError, RefError, RepoExistsError, RepoNotFoundError
from .index import Index
from .index import queries as q
from .lock import WriterLock
from .reader import Reader, untracked
from .refs import (HEADS, TAGS, ReflogEntry, branch_tip, check_name, expire_reflog, head_branch, head_commit,
                   reflog, reflog_ref, resolve)
from .results import CheckoutResult, CommitResult, RefInfo, StatusResult
from .scan import collect_files, default_author, detect_step, plan_files
from .index import packs as packs_q
from .store import LocalStore
from .store.layered import LayeredStore, Location
from .store.pack import PackSet
from .store._atomic import storage_error, write_atomic

if TYPE_CHECKING:
    import torch

    from .history import History
    from .snapshot import Snapshot

CKV_DIR = ".ckv"
Progress = Callable[[int, int], None]


class _either:
    """A method that is a classmethod on the class and a plain method on an instance.

    ``Repo.open(path)`` opens a repository; ``repo.open(ref)`` opens a commit.
    """

    def __init__(self, on_class: Callable[..., Any], on_instance: Callable[..., Any]) -> None:
        self.on_class, self.on_instance = on_class, on_instance
        functools.update_wrapper(self, on_class)

    def __get__(self, obj: Any, owner: type) -> Callable[..., Any]:
        if obj is None:
            return functools.partial(self.on_class, owner)
        return functools.partial(self.on_instance, obj)


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding ``.ckv/``."""
    here = start.resolve()
    for d in (here, *here.parents):
        if (d / CKV_DIR / "config.toml").is_file():
            return d
    raise RepoNotFoundError(str(start))


class Repo:
    def __init__(self, root: Path, config: Config) -> None:
        self.root = root
        self.dir = root / CKV_DIR
        self.config = config
        self.index = Index(config.index_url) if config.index_url else Index.sqlite(self.dir / "index.db")
        self.store = LayeredStore(LocalStore(self.dir / "objects", self.dir / "tmp"), PackSet(self.dir / "packs"),
                                  self._locate)
        self.lock = WriterLock(self.dir / "lock")
        self.cache = BitsCache(config.cache_mb << 20)
        self.reader = Reader(self.store, self.index, config, self.cache)

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def init(cls, path: str | os.PathLike[str] = ".", *, index_url: str | None = None,
             config: Config | None = None) -> "Repo":
        root = Path(path).resolve()
        d = root / CKV_DIR
        if root.exists() and not root.is_dir():
            raise BadInputError(str(root), "not a directory")
        if (d / "config.toml").exists():
            raise RepoExistsError(str(root))
        cfg = (config or Config()).with_(index_url=index_url or "")
        try:
            for sub in ("objects", "packs", "tmp"):
                (d / sub).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise storage_error(d, e) from e
        repo = cls(root, cfg)
        repo.index.ensure_schema(create=True)
        with repo.index.begin() as conn:
            if q.get_ref(conn, "HEAD") is None:
                q.write_ref(conn, "HEAD", None, "init", symbolic=HEADS + cfg.default_branch)
        # config last: a repository exists once its config does, so a crash mid-init leaves none
        write_atomic(d / "config.toml", [cfg.to_toml().encode()], d / "tmp")
        return repo

    def _open_repo(cls, path: str | os.PathLike[str] = ".") -> "Repo":
        root = find_root(Path(path))
        repo = cls(root, load_config(root / CKV_DIR / "config.toml"))
        repo.index.ensure_schema(create=False)
        return repo

    def _open_ref(self, ref: str = "HEAD") -> "Snapshot":
        from .snapshot import Snapshot
        return Snapshot(self.reader, self.resolve(ref))

    open = _either(_open_repo, _open_ref)

    def _locate(self, oid: str) -> Location | None:
        """Where the index places a packed object (None: loose), read fresh each time (repack moves them)."""
        with self.index.read() as conn:
            loc = packs_q.location(conn, oid)
        return Location(*loc) if loc is not None else None

    def close(self) -> None:
        self.store.close()
        self.index.close()

    def __enter__(self) -> "Repo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- refs ----------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        with self.index.read() as conn:
            return resolve(conn, ref)

    def head(self) -> tuple[str | None, str | None]:
        """(branch HEAD points at, its commit id)."""
        with self.index.read() as conn:
            return head_branch(conn), head_commit(conn)

    def branches(self) -> list[RefInfo]:
        with self.index.read() as conn:
            cur = head_branch(conn)
            return [RefInfo(r.name.removeprefix(HEADS), r.target, r.name == HEADS + (cur or ""))
                    for r in q.list_refs(conn, HEADS)]

    def tags(self) -> list[RefInfo]:
        with self.index.read() as conn:
            return [RefInfo(r.name.removeprefix(TAGS), r.target) for r in q.list_refs(conn, TAGS)]

    def _make_ref(self, full: str, ref: str, what: str) -> RefInfo:
        with self.lock, self.index.begin() as conn:
            if q.get_ref(conn, full) is not None:
                raise ConflictError(f"{what} {full.split('/', 2)[2]} already exists")
            target = resolve(conn, ref)
            q.write_ref(conn, full, target, f"{what}: created from {ref}")
        return RefInfo(full.split("/", 2)[2], target)

    def create_tag(self, name: str, ref: str = "HEAD") -> RefInfo:
        return self._make_ref(TAGS + check_name(name, "tag"), ref, "tag")

    def create_branch(self, name: str, start: str = "HEAD") -> RefInfo:
        return self._make_ref(HEADS + check_name(name, "branch"), start, "branch")

    def delete_tag(self, name: str) -> None:
        self._delete_ref(TAGS + name, "tag")

    def delete_branch(self, name: str) -> None:
        with self.index.read() as conn:
            if head_branch(conn) == name:
                raise ConflictError(f"cannot delete branch {name}: HEAD points at it")
        self._delete_ref(HEADS + name, "branch")

    def _delete_ref(self, full: str, what: str) -> None:
        with self.lock, self.index.begin() as conn:
            if q.get_ref(conn, full) is None:
                raise RefError(full.split("/", 2)[2], f"no such {what}")
            q.delete_ref(conn, full)

    def reflog(self, ref: str | None = None) -> list[ReflogEntry]:
        """The reflog of ``ref`` (a branch, tag or full ref name; default HEAD's branch), newest first."""
        with self.index.read() as conn:
            return reflog(conn, reflog_ref(conn, ref))

    def expire_reflog(self, expire: str | None = None, refs: list[str] | None = None) -> int:
        """Drop reflog entries older than ``expire`` (default ``gc.reflog_expire``) of ``refs`` (None: all)."""
        age = parse_age(expire if expire is not None else self.config.reflog_expire)
        if age is None:
            return 0
        with self.lock, self.index.begin() as conn:
            names = None if refs is None else [reflog_ref(conn, r) for r in refs]
            return expire_reflog(conn, time.time() - age, names)

    # -- commit --------------------------------------------------------------------------------
    def commit(self, src: "str | os.PathLike[str] | Mapping[str, torch.Tensor]", message: str | None = None,
               step: int | None = None, tag: str | None = None, branch: str | None = None, *,
               no_tag: bool = False, allow_empty: bool = False, metadata: dict[str, Any] | None = None,
               progress: Progress | None = None, base: str | None = None) -> CommitResult:
        """Commit a checkpoint directory, a single file, or a state dict (as model.safetensors).

        ``base``: the commit a fine-tune or adapter derives from (default: where the
        branch leaves the default branch); its tensors are delta bases too.
        """
        from .writer import CommitRequest, CommitWriter

        check_text(message or "", "commit", "message")
        try:
            json.dumps(metadata or {}, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError) as e:
            raise BadInputError("commit", f"metadata must be JSON-serialisable text: {e}") from None
        if isinstance(src, Mapping):
            from .adapters.state_dict import plan_state_dict
            plans, source = [plan_state_dict(src)], None
        else:
            path = Path(src)
            source_dir, files = collect_files(path)
            step = step if step is not None else detect_step(path)
            source = str(source_dir)
            plans = plan_files(files)
        try:
            with self.lock:
                with self.index.read() as conn:
                    cur = head_branch(conn)
                    name = check_name(branch, "branch") if branch else cur
                    if name is None:
                        raise ConflictError("HEAD is detached; pass --branch NAME")
                    parent = branch_tip(conn, name)
                    if parent is None and branch and branch != cur:
                        parent = head_commit(conn)  # a new branch starts at HEAD, as git branch does
                    tag_name = self._tag_for(conn, name, step, tag, no_tag)
                    base_id, metadata = self._derived_from(conn, plans, name, parent, base, metadata or {})
                req = CommitRequest(plans=plans, parent=parent, branch=name, message=message or "",
                                    author=default_author(), time=time.time(), step=step, tag=tag_name,
                                    source=source, metadata=metadata, allow_empty=allow_empty, base=base_id)
                return CommitWriter(self.store, self.index, self.config, self.cache).commit(req, progress)
        finally:
            for p in plans:
                p.close()

    def _derived_from(self, conn: Any, plans: list[Any], branch: str, parent: str | None, base: str | None,
                      metadata: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """(base commit, metadata with a PEFT adapter's relation to it recorded)."""
        from .lineage import fork_point
        from .lora import adapter_metadata

        base_id = resolve(conn, base) if base else fork_point(conn, parent, branch, self.config.default_branch)
        peft = adapter_metadata(plans, base_id)
        if peft is not None and "peft" not in metadata:
            metadata = {**metadata, "peft": peft}
        return base_id, metadata

    def _tag_for(self, conn: Any, branch: str, step: int | None, tag: str | None, no_tag: bool) -> str | None:
        if tag:
            name = check_name(tag, "tag")
        elif no_tag or step is None:
            return None
        else:
            name = f"step-{step}" if branch == self.config.default_branch else f"{branch}/step-{step}"
        if q.get_ref(conn, TAGS + name) is not None:
            raise ConflictError(f"tag {name} already exists; pass --tag NAME or --no-tag")
        return name

    # -- reading -------------------------------------------------------------------------------
    def checkout(self, ref: str, out: str | os.PathLike[str] | None = None, *, force: bool = False,
                 progress: Progress | None = None) -> CheckoutResult:
        """Write the files of ``ref`` to ``out``, or back to the directory they were committed from.

        Without ``out``, checking out a branch also points HEAD at it.
        """
        ref = ref.strip()
        with self.index.read() as conn:
            cid = resolve(conn, ref)
            is_branch = q.get_ref(conn, HEADS + ref) is not None
            source = q.commit_row(conn, cid).source
        if out is None and source is None:
            raise BadInputError(ref, "this commit was made from memory and has no directory; pass -o DIR")
        target = Path(out) if out is not None else Path(source)  # type: ignore[arg-type]
        result = self.reader.checkout(cid, target, force=force, progress=progress)
        if out is None and is_branch:
            with self.lock, self.index.begin() as conn:
                q.write_ref(conn, "HEAD", None, f"checkout: {ref}", symbolic=HEADS + ref)
        return result

    def status(self) -> StatusResult:
        branch, cid = self.head()
        if cid is None:
            return StatusResult(None, branch, None, (), ())
        with self.index.read() as conn:
            source = q.commit_row(conn, cid).source
        if source is None:
            return StatusResult(cid, branch, None, (), ())
        files = self.reader.states(cid, Path(source))
        extra = untracked(Path(source), {f.path for f in files})
        return StatusResult(cid, branch, source, tuple(files), tuple(extra))

    @property
    def history(self) -> "History":
        from .history import History
        return History(self.index, self.reader)

    def log(self, ref: str | None = None, limit: int | None = None) -> list[Any]:
        return self.history.log(ref or "HEAD", limit)

    def show(self, ref: str = "HEAD") -> Any:
        return self.history.show(ref)

    def layers(self, ref: str = "HEAD") -> Any:
        return self.history.layers(ref)

    def load(self, ref: str = "HEAD") -> "dict[str, torch.Tensor]":
        """Every tensor of the commit's safetensors files, as torch tensors."""
        return dict(self._open_ref(ref).items())

    def fsck(self, quick: bool = False) -> Any:
        """Check the repository, read-only: a ``maintenance.FsckReport`` of typed findings; raises none."""
        from .maintenance.fsck import fsck
        return fsck(self.store, self.index, quick=quick)

    def repack(self, *, window: int = 10, depth: int | None = None, dry_run: bool = False,
               progress: Progress | None = None) -> Any:
        """Re-choose delta bases per tensor lineage and move every object into one pack (``maintenance.repack``).

        ``depth`` bounds every chain (default: ``max_chain_depth``); the newest version of each tensor is
        stored whole. Returns a ``RepackResult``; with ``dry_run`` nothing is written.
        """
        from .maintenance.repack import repack
        with self.lock:
            result = repack(self.store, self.index, self.config, window=window, depth=depth, dry_run=dry_run,
                            progress=progress)
        self.cache.clear()
        return result

    def gc(self, prune: str | None = None, *, dry_run: bool = False) -> Any:
        """Remove unreachable objects older than ``prune`` (default ``gc.prune_expire``): a ``GcPlan``.

        Reflog entries older than ``gc.reflog_expire`` expire first. ``dry_run`` plans only.
        """
        from .maintenance.gc import execute_gc, plan_gc
        from .odb import ObjectDB

        ages = {"prune": parse_age(prune if prune is not None else self.config.prune_expire),
                "reflog_expire": parse_age(self.config.reflog_expire)}
        odb = ObjectDB(self.store, None)
        if dry_run:
            return plan_gc(self.index, self.store, odb, now=time.time(), **ages)
        with self.lock:  # held from planning to the last file, so no commit runs in between
            plan = plan_gc(self.index, self.store, odb, now=time.time(), **ages)
            execute_gc(plan, self.index, self.store, self.config)
        self.cache.clear()
        return plan

    def du(self) -> Any:
        """Stored bytes by branch, commit and tensor group, from the index."""
        from .maintenance.du import du
        return du(self.index, self.config.default_branch)

    # -- adapters ------------------------------------------------------------------------------
    def checkout_merged(self, ref: str, out: str | os.PathLike[str], *, base: str | None = None,
                        force: bool = False, progress: Progress | None = None) -> Any:
        """Write ``base`` (default: the one the adapter commit records) with the PEFT adapter ``ref`` merged."""
        from .lora.merge import merge_adapters
        return merge_adapters(self.reader, self.index, base, [(ref, 1.0)], Path(out), force=force,
                              progress=progress)

    def blend(self, base: str, adapters: "list[tuple[str, float]]", out: str | os.PathLike[str], *,
              commit_to: str | None = None, message: str | None = None, force: bool = False,
              progress: Progress | None = None) -> Any:
        """Merge several LoRA adapters onto ``base`` with weights; optionally commit the result on a branch."""
        from .lora.merge import BlendResult, merge_adapters
        if commit_to is not None:
            check_name(commit_to, "branch")
        res = merge_adapters(self.reader, self.index, base, adapters, Path(out), force=force, progress=progress)
        committed = None
        if commit_to is not None:
            if commit_to not in {b.name for b in self.branches()}:
                self.create_branch(commit_to, res.base)
            what = " + ".join(f"{a['weight']:g}·{a['ref']}" for a in res.adapters)
            committed = self.commit(out, message=message or f"blend: {what} on {res.base[:12]}", branch=commit_to,
                                    base=res.base, no_tag=True, metadata={"blend": res.provenance()})
        return BlendResult(res, committed)

    def __repr__(self) -> str:
        return f"Repo({str(self.root)!r})"

