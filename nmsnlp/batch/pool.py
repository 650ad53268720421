"""An ordered, bounded process pool, and chunking."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int = 1, initializer: Callable[[], None] | None = None,
    window: int | None = None, pool: ProcessPoolExecutor | None = None,
) -> Iterator[R]:
    """fn over items, results in input order. With workers > 1, a process pool with at most `window`
    items in flight, so a large input is never read ahead into memory: `pool` (from start_pool, with
    `workers` processes; ordered_map shuts it down) or a new one."""
    if workers <= 1:
        if initializer:
            initializer()
        for item in items:
            yield fn(item)
        return
    window = window or 2 * workers
    pool = pool or ProcessPoolExecutor(workers, mp_context=_context(), initializer=initializer)
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


def start_pool(workers: int, initializer: Callable[[], None]) -> ProcessPoolExecutor:
    """A pool whose `workers` processes start now, each running `initializer`, while the caller goes on (a
    worker's start, imports and pipeline, takes most of a second: it overlaps the main process's own)."""
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=initializer)

    def spawn() -> None:  # in a thread: a fork server's first worker waits for the server to import the pipeline
        try:
            for _ in range(workers):
                pool.submit(_nothing)  # a process is spawned per task submitted while none is idle
        except Exception:  # a pool broken or shut down meanwhile: the caller's own submit says so
            pass

    threading.Thread(target=spawn, name="nmsnlp-pool-start", daemon=True).start()
    return pool


def _nothing() -> None:
    pass


def _context() -> BaseContext:
    """Where workers come from: a fork server (on Unix), a clean single-threaded process that imports the
    pipeline once (batch/preload.py) and forks every worker from itself, so that workers share it and start
    at once; elsewhere, spawned processes, each building its own. Never a fork of the calling process, whose
    threads and state a worker must not inherit."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["__main__", "nmsnlp.batch.preload"])  # read when the server starts (once per process)
    return ctx


def warm_screening(model_dir: str | None) -> None:
    """A screening worker's start: it dies with its parent and loads the pipeline and the model."""
    die_with_parent()
    from .partition import scorer_for

    scorer_for(model_dir)


def die_with_parent() -> None:
    """In a worker process: end it when the process that started the pool dies (even by kill -9), so no
    orphan goes on writing parts. A thread waits on multiprocessing's sentinel of that process (its end of
    a pipe, closed by the kernel when it dies); the worker's parent, the fork server, outlives it while
    any worker does. A no-op outside a worker."""
    parent = mp.parent_process()
    if parent is None or parent.sentinel is None:
        return
    import os
    from multiprocessing.connection import wait

    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os._exit(1)  # no cleanup: the part being written is left unfinished, and never counted as done

    threading.Thread(target=watch, name="nmsnlp-die-with-parent", daemon=True).start()


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
