"""The repository's writer lock: ``flock`` on ``.ckv/lock``.

The kernel drops the lock when the holder dies, so a kill -9 never leaves a
stale lock behind. Readers take no lock: objects are immutable and the index
is read in its own transactions.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from .errors import LockedError, StorageError


class WriterLock:
    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.path, self.timeout = path, timeout
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> "WriterLock":
        if self._depth == 0:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise StorageError(str(self.path), e.strerror or str(e)) from e
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        raise LockedError(str(self.path)) from None
                    time.sleep(0.05)
            self._fd = fd
        self._depth += 1
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
