"""`nmsnlp screen`: a note export in, scores, mentions, a screening list and a patient list out.

Streaming and resumable. Notes are read in input order and cut into chunks of CHUNK notes; each
chunk is scored (in a bounded pool of workers) and written to DIR/.nmsnlp-parts/NNNNNNNN/ by an atomic
rename, so after a crash (even kill -9) `--resume` scores only the chunks that are missing. The final
files are assembled from the parts in chunk order as they come in, through an on-disk SQLite index for the ranked
screening list, the patient list and duplicate ids, so memory stays bounded whatever the input size
and the outputs are byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import errno
import json
import logging
import shutil
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputSchemaError, NmsnlpError
from ..io.readers import NoteRecord
from ..io.source import Source
from ..outputs.omop import check_note_nlp_target
from ..scoring.model import load_model
from .assemble import Assembler
from .folder import LOCK, folder_lock, takes
from .manifest import build_manifest, differences
from .partition import scorer_for, screen_records
from .parts import PARTS, done_parts, part_path, write_part
from .pool import chunked, ordered_map, warm_screening

log = logging.getLogger(__name__)

CHUNK = 256
NOTE_TIMEOUT = 60.0  # seconds one note may take before it becomes an error record
OUTPUTS = ("scores.jsonl", "scores.csv", "scores.parquet", "mentions.jsonl", "screening_list.csv", "patients.csv",
           "errors.jsonl", "note_nlp.csv", "run.json")


@dataclass(frozen=True)
class Options:
    out: Path
    workers: int = 1
    fmt: str = "csv"  # scores table format besides JSONL: csv or parquet
    note_nlp: bool = False
    note_nlp_db: str | None = None
    resume: bool = False
    force: bool = False
    model_dir: str | None = None
    progress: bool | None = None  # None: only when stderr is a terminal
    chunk: int = CHUNK
    note_timeout: float = NOTE_TIMEOUT
    date_format: str | None = None
    replace: bool = False  # NOTE_NLP to a database: replace this tool's earlier rows for these notes


class ChunkTask:
    """Scores a chunk and writes its part, in the worker, so results never travel back through a pipe.
    Picklable: it carries only the model folder and options; each process loads the model itself."""

    def __init__(self, model_dir: str | None, note_nlp: tuple[str, str] | None, parts: str, note_timeout: float = NOTE_TIMEOUT):
        self.model_dir, self.note_nlp, self.parts, self.note_timeout = model_dir, note_nlp, parts, note_timeout

    def warm(self) -> None:
        warm_screening(self.model_dir)

    def threshold(self) -> float:
        return load_model(self.model_dir).threshold  # the model alone: the main process needs no pipeline

    def __call__(self, task: tuple[int, list[NoteRecord]]) -> tuple[int, int, int]:
        index, records = task
        result = screen_records(records, scorer_for(self.model_dir), self.note_nlp, self.note_timeout)
        write_part(Path(self.parts), index, result, len(records))
        return index, len(records), result.chars


def run_screen(source: Source, opts: Options, pool: ProcessPoolExecutor | None = None) -> dict[str, Any]:
    """Screen every note of `source` into `opts.out`; returns the run summary (also run.json). `pool`: the
    opts.workers processes to score in, started already (pool.start_pool with warm_screening for
    opts.model_dir), or None to start them here.

    One run per output folder: an OS lock in the folder refuses a second run (and a crashed run's lock
    goes with its process). A part counts as done only when it is complete; a failed start leaves nothing
    behind that would block the next run."""
    out = opts.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NmsnlpError(f"{out}: cannot create the output folder ({exc.strerror or type(exc).__name__})") from exc
    with folder_lock(out):
        try:
            return _run_locked(source, opts, pool)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise NmsnlpError(f"{out}: the disk is full; free space and finish with --resume") from exc
            raise


def _run_locked(source: Source, opts: Options, pool: ProcessPoolExecutor | None) -> dict[str, Any]:
    out = opts.out
    parts = out / PARTS
    manifest = build_manifest(source, asdict(opts))
    if opts.resume:
        if not (parts / "manifest.json").is_file():
            if (out / "run.json").is_file():
                raise InputSchemaError(f"{out}: this run already finished; its outputs are there (run.json)")
            raise InputSchemaError(f"{out}: nothing to resume (no interrupted run there)")
        previous = json.loads((parts / "manifest.json").read_text())
        started: str = str(previous.pop("started"))
        diff = differences(previous, manifest)
        if diff:
            raise InputSchemaError(f"{out}: --resume would mix two runs: " + "; ".join(diff))
    else:
        if not takes(out, opts.force):
            raise InputSchemaError(f"{out} is not empty; pass --force to overwrite or --resume to finish an interrupted run")
        for name in (*OUTPUTS, PARTS):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        parts.mkdir(parents=True, exist_ok=True)
        started = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        (parts / "manifest.json").write_text(json.dumps({**manifest, "started": started}, indent=1))
    if opts.note_nlp and opts.note_nlp_db:  # the database write is checked before any scoring
        check_note_nlp_target(opts.note_nlp_db, [r.note_id for r in source.records() if r.note_id and not r.error],
                              opts.replace)
    patterns_sha = str(manifest["patterns_sha256"])
    nlp_params = (f"nmsnlp {__version__} patterns {patterns_sha[:12]}", started[:19]) if opts.note_nlp else None

    done = done_parts(parts)
    t0 = time.perf_counter()
    progress = _progress(opts.progress, source)
    skipped = 0

    def tasks() -> Iterator[tuple[int, list[NoteRecord]]]:
        nonlocal skipped
        for index, records in enumerate(chunked(source.records(), opts.chunk)):
            if index in done:
                skipped += len(records)
                progress.update(len(records))
                continue
            yield index, records

    # the outputs are assembled from the parts in chunk order as they come in (an earlier run's parts in
    # their place), so that the main process assembles while the workers score
    assembler = Assembler(parts, out, opts.fmt)
    earlier = deque(sorted(done))
    assembling = 0.0

    def add_parts(before: int) -> None:
        nonlocal assembling
        t = time.perf_counter()
        while earlier and earlier[0] < before:
            assembler.add(part_path(parts, earlier.popleft()))
        if before < sys.maxsize:
            assembler.add(part_path(parts, before))
        assembling += time.perf_counter() - t

    n_new = chars = 0
    try:
        task = ChunkTask(opts.model_dir, nlp_params, str(parts), opts.note_timeout)
        for index, n, n_chars in ordered_map(task, tasks(), opts.workers, task.warm, pool=pool):
            n_new += n
            chars += n_chars
            progress.update(n)
            add_parts(index)
        add_parts(sys.maxsize)
    except BaseException:
        assembler.abort()
        if not done_parts(parts) and not opts.resume:
            shutil.rmtree(parts, ignore_errors=True)  # a failed start leaves the folder as it found it
        raise
    finally:
        progress.close()
    score_secs = time.perf_counter() - t0 - assembling
    summary = {k: manifest[k] for k in ("nmsnlp_version", "model_sha256", "patterns_sha256", "input")}
    summary["threshold"] = ChunkTask(opts.model_dir, None, "").threshold()
    summary["started"] = started
    summary |= assembler.finish(opts.note_nlp, opts.note_nlp_db, opts.replace)
    summary["outputs"] = sorted(p.name for p in out.iterdir() if p.is_file() and p.name != LOCK)
    summary["timings"] = {
        "scoring_seconds": round(score_secs, 2),
        "notes_scored_this_run": n_new,
        "notes_from_earlier_run": skipped,
        "notes_per_second": round(n_new / score_secs, 1) if score_secs and n_new else None,
        "characters_per_second": round(chars / score_secs) if score_secs and n_new else None,
        "workers": opts.workers,
    }
    summary["outputs"] = sorted({*summary["outputs"], "run.json"})
    (out / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(parts)  # the run is complete: nothing left to resume
    return summary


def resumed(out: Path, db: str | None, opts: Options) -> tuple[Source, Options]:
    """The source and output-changing options of the interrupted run in `out`, so `--resume` needs
    nothing repeated (a database URL's password is never stored: give --db again)."""
    path = out / PARTS / "manifest.json"
    if not path.is_file():
        if (out / "run.json").is_file():
            raise InputSchemaError(f"{out}: this run already finished; its outputs are there (run.json)")
        raise InputSchemaError(f"{out}: nothing to resume (no interrupted run there)")
    manifest = json.loads(path.read_text())
    spec = manifest["source"]
    if spec.get("db") and not db:
        raise InputSchemaError(f"{out}: the interrupted run read a database; give --db again (passwords are not stored)")
    stored = manifest.get("options", {})
    fields = {k: stored[k] for k in ("fmt", "note_nlp", "note_nlp_db", "chunk", "model_dir", "note_timeout", "date_format")
              if k in stored}
    if fields.get("note_nlp_db"):
        fields["note_nlp_db"] = db
    return Source.from_spec(spec, db), replace(opts, **fields)


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(enabled: bool | None, source: Source) -> Any:
    """A progress bar with notes/s and ETA on stderr, only when it is a terminal (or asked for)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=source.count(), unit=" notes", desc="screening", smoothing=0.05, file=sys.stderr)


