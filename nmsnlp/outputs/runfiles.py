"""Reading a finished (or assembling) run folder back: its summary, its score records with their input row,
the mentions of chosen notes, and the text of chosen notes re-read from the run's input.

The results folder holds no note text; the screening list's snippets and the review report re-read the
input that run.json (or the run's manifest, while it is being assembled) records, through nmsnlp.io. A
re-read note is checked against the run: every mention's text must equal the text at its offsets, so a
changed input is refused instead of misplacing highlights. Nothing here logs note text.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputSchemaError
from ..io.readers import Columns, NoteRecord
from ..io.source import Source

log = logging.getLogger(__name__)

_ID_PREFIX = '{"note_id": '
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ScoreRow:
    """A score record and its 1-based input row (the order of scores.jsonl, which is input order)."""

    seq: int
    rec: dict[str, Any]


def read_run(folder: Path) -> dict[str, Any]:
    """run.json of a results folder, or a clear error when the folder is not one."""
    path = folder / "run.json"
    if not path.is_file():
        raise InputSchemaError(f"{folder}: no run.json; give the --out folder of a finished `nmsnlp screen` run")
    try:
        run: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputSchemaError(f"{path}: not valid JSON ({exc.msg})") from exc
    for name in ("scores.jsonl", "mentions.jsonl"):
        if not (folder / name).is_file():
            if (folder / "scores.parquet").exists() and not (folder / "scores.jsonl").exists():
                raise InputSchemaError(f"{folder}: a run with Parquet outputs only (--engine spark); the review reads "
                                       "scores.jsonl and mentions.jsonl: screen with the local engine for a review")
            raise InputSchemaError(f"{folder}: no {name}; give the --out folder of a finished `nmsnlp screen` run")
    return run


def iter_scores(folder: Path) -> Iterator[ScoreRow]:
    with (folder / "scores.jsonl").open(encoding="utf-8") as fh:
        for seq, line in enumerate(fh, 1):
            yield ScoreRow(seq, json.loads(line))


def _line_note_id(line: str) -> str | None:
    """The note id of a mention line, decoded from its start only (mention records open with note_id)."""
    if line.startswith(_ID_PREFIX):
        rest = line[len(_ID_PREFIX):]
        if rest.startswith("null"):
            return None
        if rest.startswith('"'):
            value, _ = _DECODER.raw_decode(rest)
            return str(value)
    return json.loads(line).get("note_id")


def mention_runs(path: Path, wanted: set[str]) -> dict[str, list[list[dict[str, Any]]]]:
    """For each wanted note id, its mentions as runs of consecutive lines (a run per note; an id used by
    several input rows gives several runs, in input order). Lines of other notes are not parsed."""
    out: dict[str, list[list[dict[str, Any]]]] = {}
    previous: str | None = None
    current: list[dict[str, Any]] | None = None
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            note_id = _line_note_id(line)
            if note_id != previous or current is None:
                previous = note_id
                current = None
                if note_id in wanted:
                    current = []
                    out.setdefault(note_id, []).append(current)
            if current is not None:
                current.append(json.loads(line))
    return out


def mentions_for(rec: dict[str, Any], runs: list[list[dict[str, Any]]] | None, used: set[int]) -> list[dict[str, Any]]:
    """The mentions of one score record among the runs of its id: the first unused run holding all of its
    evidence (so duplicate note ids still get their own note's mentions)."""
    if not runs:
        return []
    evidence = {(e["start"], e["end"], e["concept"]) for e in rec.get("evidence") or []}
    for i, run in enumerate(runs):
        if i in used:
            continue
        if evidence <= {(m["start"], m["end"], m["concept"]) for m in run}:
            used.add(i)
            return run
    return []


def _reading_options(run: dict[str, Any]) -> dict[str, Any]:
    """How the run read its input (encoding, separator, ...), for the Source fields this nmsnlp has."""
    import dataclasses

    spec = run.get("source") or {}
    known = {f.name for f in dataclasses.fields(Source)}
    return {k: spec[k] for k in ("encoding", "sep", "recursive", "date_format") if k in known and spec.get(k) is not None}


def input_source(run: dict[str, Any], path: Path | None = None, db: str | None = None, verify: bool = True) -> Source:
    """The input of a run (run.json, or the manifest of a run being assembled) as a Source: the file or
    folder it records (or `path`, a copy of it), or the database table (with `db`, a URL holding the
    password the run never stores). With `verify`, a file or folder must have the content the run read
    (the SHA-256 run.json records)."""
    described = run.get("input") or {}
    spec = run.get("source") or {}
    cols = Columns(**{k: (spec.get("columns") or described.get("columns") or {}).get(k)
                      for k in ("id", "text", "person", "datetime", "title")})
    options = _reading_options(run)
    if described.get("type") == "database" and path is None:
        url = db or spec.get("db") or described.get("url")
        if not url or "***" in url:
            raise InputSchemaError("the run read a database table; pass --db with its URL (and password) to re-read the notes")
        return Source(db=url, table=spec.get("table") or described.get("table") or "note",
                      where=spec.get("where", described.get("where")), columns=cols, **options)
    if db is not None:
        raise InputSchemaError("--db given, but the run read a file; pass --input instead")
    if path is None:
        recorded = spec.get("path") or described.get("path")
        if not recorded:
            raise InputSchemaError("the run records no input path; pass --input with the notes the run screened")
        path = Path(recorded)
        if not path.exists():
            raise InputSchemaError(f"{path}: the run's input is not there any more; pass --input with a copy of it")
    source = Source(path=path, columns=cols, **options)
    if verify and described.get("sha256"):
        if source.describe().get("sha256") != described["sha256"]:
            raise InputSchemaError(f"{path}: not the content the run screened (its SHA-256 differs from run.json); "
                                   "pass --input with the notes the run screened, or screen again")
    elif verify and described.get("bytes") is not None and path.is_file() and path.stat().st_size != described["bytes"]:
        raise InputSchemaError(f"{path}: changed since the run ({path.stat().st_size} bytes, the run read "
                               f"{described['bytes']}); pass --input with the notes the run screened")
    return source


def read_texts(source: Source, seqs: Iterable[int]) -> dict[int, NoteRecord]:
    """The input records at the given 1-based rows (the rows of scores.jsonl), in one pass over the input."""
    wanted = set(seqs)
    out: dict[int, NoteRecord] = {}
    if not wanted:
        return out
    last = max(wanted)
    records = source.records()
    try:
        for seq, rec in enumerate(records, 1):
            if seq in wanted:
                out[seq] = rec
            if seq >= last:
                break
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()
    return out


def check_text(note_id: Any, text: str, mentions: list[dict[str, Any]]) -> None:
    """Refuse a re-read note whose text does not carry the run's mentions at their offsets."""
    for m in mentions:
        if text[m["start"]:m["end"]] != m["text"]:
            raise InputSchemaError(
                f"note {note_id!r}: its text differs from the run's mentions (offset {m['start']}); the input "
                "changed since the run; pass --input with the notes the run screened, or screen again")


def run_model(run: dict[str, Any], model_dir: Path | None = None) -> tuple[dict[str, Any] | None, float | None]:
    """The metadata and threshold of the model that scored a run (run.json or a manifest): the threshold
    the run recorded, else the model folder it names (or `model_dir`, or the shipped one) whose SHA-256 is
    the run's. (None, None) when neither is found."""
    from ..errors import ModelLoadError
    from ..scoring.model import META_FILE, default_models_dir

    sha = run.get("model_sha256")
    folders: list[Path] = [model_dir] if model_dir is not None else []
    named = (run.get("options") or {}).get("model_dir")
    if named:
        folders.append(Path(named))
    try:
        folders.append(default_models_dir())
    except ModelLoadError:
        pass
    meta = None
    for folder in folders:
        try:
            found = json.loads((Path(folder) / META_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(found, dict) and sha and found.get("model_sha256") == sha:
            meta = found
            break
    recorded = run.get("threshold")
    if isinstance(recorded, (int, float)):
        return meta, float(recorded)
    return meta, float(meta["threshold"]) if meta and isinstance(meta.get("threshold"), (int, float)) else None


def write_private(path: Path, text: str) -> None:
    """Write a file that holds note text (PHI) with owner-only permissions (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fd = -1
            fh.write(text)
    finally:
        if fd != -1:
            os.close(fd)
    os.replace(tmp, path)
