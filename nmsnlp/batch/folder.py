"""The output folder of a run: its lock, and whether a new run may write there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputSchemaError

LOCK = ".nmsnlp.lock"


def takes(out: Path, force: bool) -> bool:
    """Whether a new run (not --resume) may write to `out`: it is missing or holds nothing but the lock, or
    --force says to overwrite it."""
    return force or not out.is_dir() or all(p.name == LOCK for p in out.iterdir())


@contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """An exclusive OS lock on OUT/.nmsnlp.lock for the life of the run (released when the process ends)."""
    import fcntl

    fh = (out / LOCK).open("a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.seek(0)
            raise InputSchemaError(f"{out} is in use by another nmsnlp run ({fh.read().strip() or 'unknown pid'}); "
                                   "wait for it to finish or choose another --out") from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()
