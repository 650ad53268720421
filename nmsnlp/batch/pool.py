"""An ordered, bounded process pool, and chunking."""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int = 1, initializer: Callable[[], None] | None = None,
    window: int | None = None,
) -> Iterator[R]:
    """fn over items, results in input order. With workers > 1, a process pool with at most `window`
    items in flight, so a large input is never read ahead into memory."""
    if workers <= 1:
        if initializer:
            initializer()
        for item in items:
            yield fn(item)
        return
    window = window or 2 * workers
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=initializer)
    try:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    # every result is in: the workers exit while the caller goes on (the interpreter joins them at its exit)
    pool.shutdown(wait=False)


def die_with_parent() -> None:
    """In a worker process: ask Linux to end it when its parent dies (even by kill -9), so no orphan
    goes on writing parts. A no-op elsewhere."""
    import sys

    if sys.platform.startswith("linux") and mp.parent_process() is not None:
        import ctypes
        import signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
