"""The object-store interface every backend implements (local folder now, S3 later).

Objects are immutable frames addressed by their 32-hex-digit id. ``put`` of an
id that exists is a no-op that returns False: content addressing makes the
existing copy identical. Every backend passes tests/conformance/test_store.py.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator


class ObjectStore(ABC):
    @abstractmethod
    def put(self, oid: str, data: bytes, *, replace: bool = False) -> bool:
        """Store ``data`` under ``oid``, atomically; False if it was already there.

        The object is complete or absent at any instant; it is durable (survives
        power loss) after ``sync()``.

        ``replace`` rewrites an existing copy (atomically): the commit path uses
        it for a file that no index row names, the leftover of a killed writer.
        """

    def sync(self) -> None:
        """Make every ``put`` so far durable. Writers call it before the index names the objects."""

    @abstractmethod
    def get(self, oid: str) -> bytes:
        """The whole object; MissingObjectError if absent."""

    @abstractmethod
    def get_range(self, oid: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``; MissingObjectError if absent, CorruptObjectError if short."""

    @abstractmethod
    def has(self, oid: str) -> bool: ...

    @abstractmethod
    def size(self, oid: str) -> int: ...

    @abstractmethod
    def delete(self, oid: str) -> None:
        """Remove ``oid``; deleting an absent object is not an error."""

    @abstractmethod
    def list(self) -> Iterator[str]:
        """Every stored id, in no particular order."""
