"""The per-partition functions: a chunk of notes in, score, mention, error (and NOTE_NLP) records out.

`screen_table(notes, model_dir=...)` is the pure core a distributed engine calls per partition: a
table of notes (dicts with note_id, text and optionally person_id, note_datetime) in, tables of scores
and mentions out, as lists of dicts. The pipeline is built once per process and each model once per
process and model folder (`scorer_for`), never shipped between processes.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NoteError
from ..io.readers import NoteRecord, row_record
from ..outputs.omop import note_nlp_row
from ..records import Mention, NoteScore
from ..scoring.model import META_FILE, default_models_dir, load_model
from .pool import chunked, ordered_map

if TYPE_CHECKING:  # spaCy is imported only by the processes that extract (not by a pool's main process)
    from ..extraction.extractor import Extractor
    from ..scoring.scorer import Scorer

log = logging.getLogger(__name__)

_EXTRACTOR: Extractor | None = None
_SCORERS: dict[tuple[str, str], Scorer] = {}


def extractor() -> Extractor:
    """This process's extraction pipeline (built on first use)."""
    global _EXTRACTOR
    if _EXTRACTOR is None:
        from ..extraction.extractor import Extractor

        _EXTRACTOR = Extractor()
    return _EXTRACTOR


def model_key(model_dir: str | Path | None) -> tuple[str, str]:
    """A model folder's identity: its resolved path and the hash of its metadata (which holds the model
    file's SHA-256), so a model retrained into the same folder is a new model."""
    folder = (Path(model_dir) if model_dir else default_models_dir()).resolve()
    meta = folder / META_FILE
    digest = hashlib.sha256(meta.read_bytes()).hexdigest() if meta.is_file() else ""
    return str(folder), digest


def scorer_for(model_dir: str | Path | None = None) -> Scorer:
    """This process's scorer for the model in `model_dir` (default: the shipped model), loaded once per
    folder and model."""
    key = model_key(model_dir)
    if key not in _SCORERS:
        from ..scoring.scorer import Scorer

        _SCORERS[key] = Scorer(extractor(), load_model(key[0]))
    return _SCORERS[key]


# --------------------------------------------------------------------------- extraction (nmsnlp extract)


@dataclass
class NoteResult:
    note_id: str | None
    source: str
    mentions: list[Mention]
    error: str | None = None
    meta: dict[str, Any] | None = None


def process_record(rec: NoteRecord, ex: Extractor | None = None) -> NoteResult:
    ex = ex or extractor()
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


def _warm_extractor() -> None:
    extractor()


def run(records: Iterable[NoteRecord], workers: int = 1, chunksize: int = 32) -> Iterator[NoteResult]:
    """Extraction results in input order, in one process or a bounded pool."""
    for results in ordered_map(_extract_chunk, chunked(records, chunksize), workers, _warm_extractor):
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


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Raise NoteError when the block runs longer than `seconds` (on the main thread of a Unix process,
    where a timer signal can interrupt it; elsewhere the block runs unbounded)."""
    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise NoteError(f"took longer than {seconds:g} s (--note-timeout)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def screen_records(records: list[NoteRecord], scorer: Scorer, note_nlp: tuple[str, str] | None = None,
                   note_timeout: float | None = None) -> ChunkResult:
    """Score one chunk of notes, each within `note_timeout` seconds. With note_nlp=(nlp_system,
    nlp_datetime), also make OMOP NOTE_NLP rows (their note_nlp_id is set when the run is assembled)."""
    out = ChunkResult()
    for rec in records:
        person = rec.meta.get("person_id")
        person = None if person in (None, "") else str(person)
        when = rec.meta.get("note_datetime")
        when = None if when in (None, "") else str(when)
        title = rec.meta.get("note_title")
        title = None if title in (None, "") else str(title)
        score = None
        if not rec.error:
            try:
                with time_budget(note_timeout):
                    score, mentions = scorer(rec.text, rec.note_id, person, when)  # type: ignore[arg-type]
                score.note_title = title
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
            score = NoteScore.failed(rec.note_id, person, rec.error, when, title)
            out.errors.append({"note_id": rec.note_id, "source": rec.source, "error": rec.error})
        assert score is not None
        out.scores.append(score.to_dict())
    return out


def screen_table(notes: Iterable[dict[str, Any]], model_dir: str | Path | None = None,
                 scorer: Scorer | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pure batch function: notes (note_id, text, optional person_id and note_datetime) in,
    (scores, mentions) out, scored by `scorer`, or by the model in `model_dir` (default: the shipped
    one), loaded once per process and folder."""
    scorer = scorer or scorer_for(model_dir)
    records = [
        row_record(dict(n), "note_id", "text" if "text" in n else "note_text", f"row {i}",
                   {"person_id": "person_id", "note_datetime": "note_datetime", "note_title": "note_title"})
        for i, n in enumerate(notes, 1)
    ]
    result = screen_records(records, scorer)
    return result.scores, result.mentions
