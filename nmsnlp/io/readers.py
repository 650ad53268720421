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

from ..errors import InputSchemaError

log = logging.getLogger(__name__)

ID_COLUMNS = ("note_id",)
TEXT_COLUMNS = ("text", "note_text")
PERSON_COLUMNS = ("person_id",)
DATETIME_COLUMNS = ("note_datetime", "note_date")
TITLE_COLUMNS = ("note_title",)


@dataclass(frozen=True)
class Columns:
    """Which input columns hold what; None means the OMOP default names (note_id, note_text, ...)."""

    id: str | None = None
    text: str | None = None
    person: str | None = None
    datetime: str | None = None
    title: str | None = None


@dataclass
class NoteRecord:
    note_id: str | None
    text: str | None
    source: str  # "file:row" for the error messages
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def pick_column(columns: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, where: str) -> str:
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


def optional_column(columns: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, where: str) -> str | None:
    if wanted:
        return pick_column(columns, wanted, defaults, what, where)
    return next((c for c in defaults if c in columns), None)


def meta_columns(columns: list[str], cols: Columns, where: str) -> dict[str, str]:
    """Input column -> the standard meta key (person_id, note_datetime, note_title)."""
    names = {}
    for wanted, defaults, key in ((cols.person, PERSON_COLUMNS, "person_id"), (cols.datetime, DATETIME_COLUMNS, "note_datetime"),
                                  (cols.title, TITLE_COLUMNS, "note_title")):
        found = optional_column(columns, wanted, defaults, key, where)
        if found:
            names[found] = key
    return names


def row_record(row: dict[str, Any], id_col: str, text_col: str, source: str,
                meta_names: dict[str, str] | None = None) -> NoteRecord:
    raw_id = row.get(id_col)
    text = row.get(text_col)
    if meta_names is None:
        meta = {k: v for k, v in row.items() if k not in (id_col, text_col)}
    else:
        meta = {key: _plain(row.get(col)) for col, key in meta_names.items()}
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


def _plain(value: Any) -> Any:
    """JSON-friendly scalars (dates and numpy/arrow values become strings or Python numbers)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def read_jsonl(path: Path, id_col: str | None = None, text_col: str | None = None, cols: Columns | None = None) -> Iterator[NoteRecord]:
    columns: list[str] | None = None
    meta_names: dict[str, str] | None = None
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
                id_name = pick_column(columns, id_col, ID_COLUMNS, "note id", path.name)
                text_name = pick_column(columns, text_col, TEXT_COLUMNS, "text", path.name)
                meta_names = meta_columns(columns, cols, path.name) if cols else None
            yield row_record(row, id_name, text_name, source, meta_names)


def read_csv(path: Path, id_col: str | None = None, text_col: str | None = None, cols: Columns | None = None) -> Iterator[NoteRecord]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputSchemaError(f"{path.name}: cannot read the CSV header ({exc})") from exc
        id_name = pick_column(header, id_col, ID_COLUMNS, "note id", path.name)
        text_name = pick_column(header, text_col, TEXT_COLUMNS, "text", path.name)
        meta_names = meta_columns(header, cols, path.name) if cols else None
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
            yield row_record(dict(zip(header, values)), id_name, text_name, source, meta_names)


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
    yield row_record({"note_id": path.stem, "text": text}, "note_id", "text", source)


def read_parquet(path: Path, cols: Columns, batch_rows: int = 2048) -> Iterator[NoteRecord]:
    """Parquet, streamed in record batches."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise InputSchemaError(f"{path.name}: not a readable Parquet file ({type(exc).__name__}: {exc})") from exc
    columns = pf.schema_arrow.names
    id_name = pick_column(columns, cols.id, ID_COLUMNS, "note id", path.name)
    text_name = pick_column(columns, cols.text, TEXT_COLUMNS, "text", path.name)
    meta_names = meta_columns(columns, cols, path.name)
    wanted = [id_name, text_name, *meta_names]
    row_no = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=wanted):
        for row in batch.to_pylist():
            row_no += 1
            yield row_record(row, id_name, text_name, f"{path.name}:row {row_no}", meta_names)


def read_notes(
    path: str | Path, id_col: str | None = None, text_col: str | None = None, cols: Columns | None = None
) -> Iterator[NoteRecord]:
    """Every note of an input: a .jsonl, .csv, .parquet or .txt file, or a folder of .txt files (sorted by name)."""
    if cols is not None:
        id_col, text_col = cols.id, cols.text
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
            yield from read_jsonl(p, id_col, text_col, cols)
        elif suffix in (".csv", ".tsv"):
            yield from read_csv(p, id_col, text_col, cols)
        elif suffix in (".parquet", ".pq"):
            yield from read_parquet(p, cols or Columns(id_col, text_col))
        elif suffix == ".txt":
            yield from read_txt(p)
        else:
            raise InputSchemaError(f"{p}: unknown input type {suffix!r}; expected .jsonl, .csv, .parquet, .txt or a folder")
    except PermissionError as exc:
        raise InputSchemaError(f"{p}: cannot read ({exc.strerror})") from exc
