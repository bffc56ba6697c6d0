"""What ``fsck`` reports: one frozen dataclass per kind of damage, and the report around them.

Contract:

* A finding names what is damaged (``object_id``, ``ref`` or ``file``) and, for
  damage to stored content, what it hurts: the reachable ``commits`` (with the
  ``tags`` on them) and the file ``paths`` in those commits that can no longer
  be rebuilt. ``severity`` is ``"error"`` (data or index is wrong) or
  ``"warning"`` (harmless leftovers that gc removes); ``kind`` is the class
  name and ``message`` one line for a terminal.
* Findings are values: fsck builds them and never acts on them. Repair is a
  separate, later step (STYLE.md rule 10).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True, kw_only=True)
class Finding:
    detail: str                                  # what is wrong, without the subject
    object_id: str | None = None
    commits: tuple[str, ...] = ()                # reachable commits whose content this damages
    tags: tuple[str, ...] = ()                   # tags on those commits
    paths: tuple[str, ...] = ()                  # file paths in those commits
    severity: str = ERROR

    @property
    def kind(self) -> str:
        return type(self).__name__

    @property
    def subject(self) -> str:
        return f"object {self.object_id}" if self.object_id else "repository"

    @property
    def message(self) -> str:
        text = f"{self.kind}: {self.subject}: {self.detail}"
        if self.commits:
            shown = ", ".join(c[:12] for c in self.commits[:3]) + (" …" if len(self.commits) > 3 else "")
            text += f"; hurts {len(self.commits)} commit(s) ({shown})"
            if self.tags:
                text += " tags " + ", ".join(self.tags[:5]) + (" …" if len(self.tags) > 5 else "")
        if self.paths:
            text += " in " + ", ".join(self.paths[:3]) + (" …" if len(self.paths) > 3 else "")
        return text

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "severity": self.severity, "message": self.message}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            d[name] = list(v) if isinstance(v, tuple) else v
        return d


@dataclass(frozen=True, kw_only=True)
class MissingObject(Finding):
    """An index row, a commit or a manifest names an object the store does not have."""

    named_by: str = ""                           # "index", or the id of the commit/manifest/object naming it


@dataclass(frozen=True, kw_only=True)
class HashMismatch(Finding):
    """The frame fails its structure or checksum (``stage="frame"``) or decodes to other bytes (``"decode"``)."""

    stage: str = "frame"


@dataclass(frozen=True, kw_only=True)
class BrokenChain(Finding):
    """An object cannot be rebuilt because of its delta base, or the index describes its chain wrongly."""

    base_id: str | None = None
    root_cause: str | None = None                # the damaged object further down the chain, if any


@dataclass(frozen=True, kw_only=True)
class TruncatedPack(Finding):
    """A pack file is shorter than the index says or lost its table and end marker; ``object_id`` is the pack."""

    file: str = ""                               # relative to .ckv/

    @property
    def subject(self) -> str:
        return f"pack {self.file}"


@dataclass(frozen=True, kw_only=True)
class IndexMismatch(Finding):
    """An index row (object, commit or tree entry) disagrees with the stored object, or a manifest with itself."""


@dataclass(frozen=True, kw_only=True)
class DanglingRef(Finding):
    """A ref, HEAD or a reflog entry names something that is not a commit in the index."""

    ref: str = ""
    target: str | None = None

    @property
    def subject(self) -> str:
        return f"ref {self.ref}"


@dataclass(frozen=True, kw_only=True)
class OrphanFile(Finding):
    """A file no index row names: under objects/ (a killed writer's object) or tmp/ (a killed write)."""

    file: str = ""                               # relative to .ckv/
    severity: str = WARNING

    @property
    def subject(self) -> str:
        return f"file {self.file}"


@dataclass(frozen=True)
class FsckReport:
    findings: tuple[Finding, ...]
    objects_checked: int
    commits_checked: int
    quick: bool = False
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == WARNING for f in self.findings)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def summary(self) -> dict[str, Any]:
        return {"mode": "quick" if self.quick else "full", "objects_checked": self.objects_checked,
                "commits_checked": self.commits_checked, "errors": self.errors, "warnings": self.warnings,
                "kinds": self.kinds}

    def to_json(self) -> dict[str, Any]:
        return {"findings": [f.to_json() for f in self.findings], "summary": self.summary()}


__all__ = ["ERROR", "WARNING", "BrokenChain", "DanglingRef", "Finding", "FsckReport", "HashMismatch",
           "IndexMismatch", "MissingObject", "OrphanFile", "TruncatedPack"]
