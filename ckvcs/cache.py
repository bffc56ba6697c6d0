"""A bounded LRU of decoded tensor bits, shared by one Repo's reads and commits.

Decoding a commit's tensor means decoding its delta chain from the last whole
version. Within one process — a training loop committing every N steps, an
evaluation loop loading every checkpoint — the previous version is usually the
one just written or read, so keeping recent results turns a chain of d decodes
into one. Entries are keyed by object id (content-addressed, so never stale)
and stored read-only: a caller that hands bits to a user must copy them.
The budget (``cache_mb`` in config.toml; 0 disables it) bounds the memory.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class BitsCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, oid: str) -> np.ndarray | None:
        with self._lock:
            arr = self._items.get(oid)
            if arr is None:
                self.misses += 1
                return None
            self._items.move_to_end(oid)
            self.hits += 1
            return arr

    def put(self, oid: str, bits: np.ndarray, *, copy: bool = False) -> None:
        """Keep ``bits``, made read-only; ``copy`` when the caller's buffer may change later.

        Without ``copy`` the cache takes the array as it is: the caller must not
        write to it afterwards (it is marked read-only to make sure).
        """
        if bits.nbytes > self.max_bytes or bits.nbytes == 0:
            return
        with self._lock:
            if oid in self._items:
                self._items.move_to_end(oid)
                return
        arr = bits.copy() if copy else bits
        arr.flags.writeable = False
        with self._lock:
            if oid in self._items:
                return
            self._items[oid] = arr
            self._bytes += arr.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
