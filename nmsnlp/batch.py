"""Batch processing: an ordered, bounded process pool, and the pure per-partition functions.

`screen_table(notes)` is the core a distributed engine calls per partition: a table of notes
(dicts with note_id, text and optionally person_id, note_datetime) in, tables of scores and
mentions out, as lists of dicts. Everything else (reading, chunking, resuming, writing) is plumbing
around it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import NoteError
from .extract import Extractor, Mention
from .io import NoteRecord

log = logging.getLogger(__name__)
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
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=initializer) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --------------------------------------------------------------------------- extraction (nmsnlp extract)


@dataclass
class NoteResult:
    note_id: str | None
    source: str
    mentions: list[Mention]
    error: str | None = None
    meta: dict[str, Any] | None = None


_EXTRACTOR: Extractor | None = None
_SCORER: Any = None


def _init_extractor() -> None:
    global _EXTRACTOR
    if _EXTRACTOR is None:
        _EXTRACTOR = Extractor()


def process_record(rec: NoteRecord, extractor: Extractor | None = None) -> NoteResult:
    ex = extractor or _EXTRACTOR
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


def _extract_chunk(chunk: list[NoteRecord]) -> list[NoteResult]:
    return [process_record(rec) for rec in chunk]


def run(records: Iterable[NoteRecord], workers: int = 1, chunksize: int = 32) -> Iterator[NoteResult]:
    """Extraction results in input order, in one process or a bounded pool."""
    for results in ordered_map(_extract_chunk, chunked(records, chunksize), workers, _init_extractor):
        yield from results


# --------------------------------------------------------------------------- screening


@dataclass
class ChunkResult:
    """What one chunk of notes gives: score records, mention records and error records, in order."""

    scores: list[dict[str, Any]] = field(default_factory=list)
    mentions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    note_nlp: list[dict[str, Any]] = field(default_factory=list)
    chars: int = 0


def _init_scorer(model_dir: str | None = None) -> None:
    global _SCORER
    if _SCORER is None:
        from .model import load_model
        from .score import Scorer

        _SCORER = Scorer(model=load_model(model_dir))


def screen_records(records: list[NoteRecord], note_nlp: tuple[str, str] | None = None) -> ChunkResult:
    """Score one chunk of notes (in a worker or in process). With note_nlp=(nlp_system, nlp_datetime),
    also make OMOP NOTE_NLP rows (their note_nlp_id is set when the run is assembled)."""
    from .omop import note_nlp_row
    from .score import NoteScore

    assert _SCORER is not None
    out = ChunkResult()
    for rec in records:
        person = rec.meta.get("person_id")
        person = None if person in (None, "") else str(person)
        when = rec.meta.get("note_datetime")
        score = None
        if not rec.error:
            try:
                score, mentions = _SCORER(rec.text, rec.note_id, person)
                out.chars += len(rec.text or "")
                records_m = [m.to_dict() for m in mentions]
                out.mentions.extend(records_m)
                if note_nlp:
                    out.note_nlp.extend(note_nlp_row(m, rec.text, 0, *note_nlp) for m in records_m)
            except NoteError as exc:
                rec.error = f"{rec.source}: {exc}"
            except Exception as exc:
                log.exception("note %s (%s): unexpected error", rec.note_id, rec.source)
                rec.error = f"{rec.source}: internal error {type(exc).__name__}"
        if rec.error:
            score = NoteScore.failed(rec.note_id, person, rec.error)
            out.errors.append({"note_id": rec.note_id, "source": rec.source, "error": rec.error})
        assert score is not None
        record = score.to_dict()
        record["note_datetime"] = None if when in (None, "") else str(when)
        out.scores.append(record)
    return out


def screen_table(notes: Iterable[dict[str, Any]], model_dir: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pure batch function: notes (note_id, text, optional person_id and note_datetime) in,
    (scores, mentions) out. Loads the model once per process."""
    from .io import _row_record

    _init_scorer(model_dir)
    records = [
        _row_record(dict(n), "note_id", "text" if "text" in n else "note_text", f"row {i}",
                    {"person_id": "person_id", "note_datetime": "note_datetime"})
        for i, n in enumerate(notes, 1)
    ]
    result = screen_records(records)
    return result.scores, result.mentions
