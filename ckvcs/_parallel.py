"""An ordered, bounded parallel map over threads.

zstd, xxhash, numpy and numba (nogil) release the GIL, so threads use both
cores. Work in flight is bounded by bytes, not by count: one large tensor must
not stop the other core from working through the small ones after it (MiniLM's
word embeddings are half the model), and the bound still keeps a commit or
checkout streaming tensor by tensor. An item larger than the bound runs alone.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_INFLIGHT_BYTES = 256 << 20


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, *,
                size: Callable[[T], int] = lambda _: 1, max_inflight: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads, results in order.

    At most ``max_inflight`` (default: 256 MiB when ``size`` gives bytes, else
    4 × workers items) is submitted and not yet consumed at any time.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    limit = max_inflight if max_inflight is not None else 4 * workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ckv") as pool:
        pending: deque[tuple[Future[R], int]] = deque()
        inflight = 0
        try:
            for item in items:
                cost = max(1, size(item))
                while pending and inflight + cost > limit:
                    fut, c = pending.popleft()
                    inflight -= c
                    yield fut.result()
                pending.append((pool.submit(fn, item), cost))
                inflight += cost
            while pending:
                yield pending.popleft()[0].result()
        finally:
            for f, _ in pending:
                f.cancel()
