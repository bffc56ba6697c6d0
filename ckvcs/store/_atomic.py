"""Atomic file writes: tmp → fsync → rename → fsync the directory.

A reader (or a crash) sees either no file or the whole file, never a part.
OS errors become :class:`~ckvcs.errors.StorageError`, a full disk named as such.
"""
from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import StorageError


def storage_error(path: Path | str, err: OSError) -> StorageError:
    if err.errno == errno.ENOSPC:
        return StorageError(str(path), "no space left on device")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(str(path), f"permission denied ({err.strerror})")
    return StorageError(str(path), err.strerror or str(err))


def remove(path: Path) -> None:
    """Delete a file; one that is already gone is not an error."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise storage_error(path, e) from e


_libc = None


def syncfs(path: Path) -> bool:
    """Flush the whole filesystem holding ``path`` with one syncfs(2); False where unavailable."""
    global _libc
    try:
        if _libc is None:
            import ctypes
            import ctypes.util
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = os.open(path, os.O_RDONLY)
    except (OSError, AttributeError):
        return False
    try:
        return getattr(_libc, "syncfs", None) is not None and _libc.syncfs(fd) == 0
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def write_atomic(final: Path, chunks: Iterable[bytes | memoryview], tmp_dir: Path, *,
                 mode: int | None = None, durable: bool = True,
                 before_rename: Callable[[], None] | None = None) -> int:
    """Write ``chunks`` to ``final`` atomically; returns the byte count.

    The temporary file is made in ``tmp_dir``, which must be on the same
    filesystem as ``final``. On any failure the temporary file is removed and
    ``final`` is untouched. ``before_rename`` may raise to abandon the write
    (checkout uses it to refuse a file whose hash does not match).
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=".w-")
    written = 0
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
                written += len(memoryview(c).cast("B"))
            f.flush()
            if durable:
                os.fsync(f.fileno())
        if before_rename is not None:
            before_rename()
        if mode is not None:
            os.chmod(tmp_name, mode)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_name, final)
        if durable:
            fsync_dir(final.parent)
    except OSError as e:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise storage_error(final, e) from e
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    return written
