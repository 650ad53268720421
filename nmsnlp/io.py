"""Reading notes: JSONL, CSV, a .txt file, or a folder of .txt files. Streams; never drops a note.

Each input row becomes a `NoteRecord`; a row that cannot be used (no id, no text, text that is not a
string, invalid UTF-8, ...) still becomes a record, with `error` set and naming the file and row, so
the caller writes an error record and goes on. A file that lacks a needed column altogether raises
InputSchemaError, naming the file and the columns it has.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputSchemaError

log = logging.getLogger(__name__)

ID_COLUMNS = ("note_id",)
TEXT_COLUMNS = ("text", "note_text")


@dataclass
class NoteRecord:
    note_id: str | None
    text: str | None
    source: str  # "file:row" for the error messages
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _pick(columns: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, where: str) -> str:
    if wanted:
        if wanted not in columns:
            raise InputSchemaError(f"{where}: no column {wanted!r} for the {what}; columns are {columns}")
        return wanted
    for name in defaults:
        if name in columns:
            return name
    raise InputSchemaError(
        f"{where}: no {what} column (looked for {list(defaults)}); columns are {columns}. "
        f"Name it with --{'id' if what == 'note id' else 'text'}-col."
    )


def _row_record(row: dict[str, Any], id_col: str, text_col: str, source: str) -> NoteRecord:
    raw_id = row.get(id_col)
    text = row.get(text_col)
    meta = {k: v for k, v in row.items() if k not in (id_col, text_col)}
    note_id = None if raw_id is None or str(raw_id).strip() == "" else str(raw_id)
    rec = NoteRecord(note_id, text if isinstance(text, str) else None, source, meta)
    if note_id is None:
        rec.error = f"{source}: missing note id in column {id_col!r}"
    elif text is None:
        rec.error = f"{source}: missing text in column {text_col!r}"
    elif not isinstance(text, str):
        rec.error = f"{source}: text is {type(text).__name__}, not a string"
    elif any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text):
        rec.text = None
        rec.error = f"{source}: text is not valid UTF-8"
    return rec


def read_jsonl(path: Path, id_col: str | None = None, text_col: str | None = None) -> Iterator[NoteRecord]:
    columns: list[str] | None = None
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            source = f"{path.name}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield NoteRecord(None, None, source, error=f"{source}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                yield NoteRecord(None, None, source, error=f"{source}: expected a JSON object")
                continue
            if columns is None:
                columns = list(row)
                id_name = _pick(columns, id_col, ID_COLUMNS, "note id", path.name)
                text_name = _pick(columns, text_col, TEXT_COLUMNS, "text", path.name)
            yield _row_record(row, id_name, text_name, source)


def read_csv(path: Path, id_col: str | None = None, text_col: str | None = None) -> Iterator[NoteRecord]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputSchemaError(f"{path.name}: cannot read the CSV header ({exc})") from exc
        id_name = _pick(header, id_col, ID_COLUMNS, "note id", path.name)
        text_name = _pick(header, text_col, TEXT_COLUMNS, "text", path.name)
        row_no = 1
        while True:
            row_no += 1
            source = f"{path.name}:row {row_no}"
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield NoteRecord(None, None, source, error=f"{source}: malformed CSV row ({exc})")
                continue
            if not values:
                continue
            if len(values) != len(header):
                yield NoteRecord(
                    None, None, source,
                    error=f"{source}: malformed CSV row: {len(values)} fields, header has {len(header)}",
                )
                continue
            yield _row_record(dict(zip(header, values)), id_name, text_name, source)


def read_txt(path: Path) -> Iterator[NoteRecord]:
    source = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield NoteRecord(path.stem, None, source, error=f"{source}: cannot read file ({exc.strerror or exc})")
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield NoteRecord(path.stem, None, source, error=f"{source}: not valid UTF-8 (byte {exc.start})")
        return
    yield _row_record({"note_id": path.stem, "text": text}, "note_id", "text", source)


def read_notes(path: str | Path, id_col: str | None = None, text_col: str | None = None) -> Iterator[NoteRecord]:
    """Every note of an input: a .jsonl, .csv or .txt file, or a folder of .txt files (sorted by name)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".txt")
        if not files:
            raise InputSchemaError(f"{p}: folder has no .txt files")
        for f in files:
            yield from read_txt(f)
        return
    if not p.exists():
        raise InputSchemaError(f"{p}: no such file or folder")
    suffix = p.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            yield from read_jsonl(p, id_col, text_col)
        elif suffix in (".csv", ".tsv"):
            yield from read_csv(p, id_col, text_col)
        elif suffix == ".txt":
            yield from read_txt(p)
        else:
            raise InputSchemaError(f"{p}: unknown input type {suffix!r}; expected .jsonl, .csv, .txt or a folder")
    except PermissionError as exc:
        raise InputSchemaError(f"{p}: cannot read ({exc.strerror})") from exc
