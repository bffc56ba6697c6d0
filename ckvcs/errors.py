"""The one exception tree of ckv.

Every error ckv raises on purpose derives from :class:`CkvError`. Errors from
zstandard, SQLAlchemy, the OS or torch are converted where they cross into ckv
(``raise ... from``), so a caller catches one root. Each class carries an
``exit_code`` that the CLI returns; docs/cli.md lists them.

::

    CkvError                         1  anything else ckv detected
    ├── RepoNotFoundError            3  no .ckv/ here or above, or --repo is not a repository
    ├── RepoExistsError              3  ckv init where a repository already is
    ├── UnsupportedFormatError       8  the repository's format version is not one this ckv reads
    ├── BadInputError                4  input that cannot be committed (missing path, bad safetensors)
    │   └── BadSafetensorsError      4  a truncated safetensors file or a header that lies
    ├── RefError                     5  a ref that does not resolve, or an ambiguous id prefix
    ├── ConflictError                6  refusing to act: a ref exists, nothing changed, a file would be clobbered
    ├── IntegrityError               7  stored data is damaged
    │   ├── CorruptObjectError       7  a frame that fails its checks, or a hash that does not match
    │   ├── MissingObjectError       7  an object the index names is not in the store
    │   └── UnknownCodecError        7  a frame names a codec this ckv does not know
    ├── StorageError                 9  the disk or store failed (full disk, permission, I/O)
    └── LockedError                 10  another ckv process holds the repository's writer lock
"""
from __future__ import annotations


class CkvError(Exception):
    """Root of every error ckv raises on purpose."""

    exit_code: int = 1


class RepoNotFoundError(CkvError):
    exit_code = 3

    def __init__(self, path: str) -> None:
        super().__init__(f"not a ckv repository (or any parent up to /): {path}")
        self.path = path


class RepoExistsError(CkvError):
    exit_code = 3

    def __init__(self, path: str) -> None:
        super().__init__(f"a ckv repository already exists at {path}")
        self.path = path


class UnsupportedFormatError(CkvError):
    exit_code = 8

    def __init__(self, path: str, found: object, supported: object) -> None:
        super().__init__(
            f"repository {path} has format version {found!r}; this ckv reads version {supported!r}"
            " (upgrade ckv, or use the ckv that made it)"
        )
        self.path, self.found, self.supported = path, found, supported


class BadInputError(CkvError):
    exit_code = 4

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


class BadSafetensorsError(BadInputError):
    """A safetensors file whose header or size is inconsistent."""


def check_text(value: str, where: str, what: str) -> str:
    """``value`` if it is valid Unicode (ids hash UTF-8 JSON); BadInputError otherwise."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInputError(where, f"{what} {value!r} is not valid UTF-8") from None
    return value


class RefError(CkvError):
    exit_code = 5

    def __init__(self, ref: str, reason: str = "unknown revision") -> None:
        super().__init__(f"{reason}: {ref}")
        self.ref, self.reason = ref, reason


class ConflictError(CkvError):
    exit_code = 6


class IntegrityError(CkvError):
    exit_code = 7


class CorruptObjectError(IntegrityError):
    def __init__(self, object_id: str, reason: str) -> None:
        super().__init__(f"object {object_id}: {reason}")
        self.object_id, self.reason = object_id, reason


class MissingObjectError(IntegrityError):
    def __init__(self, object_id: str) -> None:
        super().__init__(f"object {object_id} is missing from the store")
        self.object_id = object_id


class UnknownCodecError(IntegrityError):
    def __init__(self, codec: object) -> None:
        super().__init__(f"unknown codec {codec!r}")
        self.codec = codec


class StorageError(CkvError):
    exit_code = 9

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


class LockedError(CkvError):
    exit_code = 10

    def __init__(self, path: str) -> None:
        super().__init__(f"another ckv process is writing to this repository ({path} is locked)")
        self.path = path
