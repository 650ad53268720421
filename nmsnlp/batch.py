"""Running extraction over a stream of notes, in one process or several, in input order."""

from __future__ import annotations

import logging
import multiprocessing as mp
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import NoteError
from .extract import Extractor, Mention
from .io import NoteRecord

log = logging.getLogger(__name__)


@dataclass
class NoteResult:
    note_id: str | None
    source: str
    mentions: list[Mention]
    error: str | None = None
    meta: dict[str, Any] | None = None


_WORKER: Extractor | None = None


def _init_worker() -> None:
    global _WORKER
    _WORKER = Extractor()


def process_record(rec: NoteRecord, extractor: Extractor | None = None) -> NoteResult:
    ex = extractor or _WORKER
    assert ex is not None
    if rec.error:
        return NoteResult(rec.note_id, rec.source, [], rec.error, rec.meta)
    try:
        mentions = ex(rec.text, rec.note_id)  # type: ignore[arg-type]
    except NoteError as exc:
        return NoteResult(rec.note_id, rec.source, [], f"{rec.source}: {exc}", rec.meta)
    except Exception as exc:  # a bug must not lose the rest of the batch; report it per note
        log.exception("note %s (%s): unexpected error", rec.note_id, rec.source)
        return NoteResult(rec.note_id, rec.source, [], f"{rec.source}: internal error {type(exc).__name__}", rec.meta)
    return NoteResult(rec.note_id, rec.source, mentions, None, rec.meta)


def _process(rec: NoteRecord) -> NoteResult:
    return process_record(rec)


def run(records: Iterable[NoteRecord], workers: int = 1, chunksize: int = 16) -> Iterator[NoteResult]:
    """Results in input order. workers > 1 uses a process pool, each worker loading the pipeline once."""
    if workers <= 1:
        ex = Extractor()
        for rec in records:
            yield process_record(rec, ex)
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap(_process, records, chunksize=chunksize)
