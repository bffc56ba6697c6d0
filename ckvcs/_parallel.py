"""An ordered, bounded parallel map over threads.

zstd, xxhash, numpy and numba (nogil) release the GIL, so threads use both
cores. The window bounds how many results are in memory at once, which keeps
a commit or checkout streaming tensor by tensor.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, window: int | None = None) -> Iterator[R]:
    if workers <= 1:
        yield from map(fn, items)
        return
    window = window or 2 * workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ckv") as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
