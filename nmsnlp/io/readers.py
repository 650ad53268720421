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
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputSchemaError

log = logging.getLogger(__name__)

# Column names, matched without regard to case, spaces or dashes; the first of each list that a file has wins.
ID_COLUMNS = ("note_id", "noteid", "id", "document_id", "doc_id", "report_id", "note_key")
TEXT_COLUMNS = ("text", "note_text", "notetext", "body", "note_body", "report_text", "document_text", "note", "content")
PERSON_COLUMNS = ("person_id", "patient_id", "mrn", "subject_id", "pat_id", "personid", "patientid", "empi")
DATETIME_COLUMNS = ("note_datetime", "note_date", "datetime", "date", "service_date", "note_dt", "document_date")
TITLE_COLUMNS = ("note_title", "note_type", "title", "document_type", "note_class")


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


def _key(name: str) -> str:
    name = name.strip().lstrip("\ufeff")
    name = name[3:] if name.startswith("ï»¿") else name  # a UTF-8 BOM read in a one-byte encoding
    return re.sub(r"[\s\-]+", "_", name.lower())


def _shown(columns: list[str]) -> str:
    """The columns for a message, unless the first line is not a header (then it may be note text)."""
    if any(len(c) > 40 or len(c.split()) > 3 for c in columns):
        return f"{len(columns)} columns, and the first line does not look like a header (it is not shown: it may hold note text)"
    return f"columns are {columns}"


def _find(columns: list[str], name: str) -> str | None:
    key = _key(name)
    return next((c for c in columns if _key(c) == key), None)


def pick_column(columns: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, where: str) -> str:
    if wanted:
        found = _find(columns, wanted)
        if found is None:
            raise InputSchemaError(f"{where}: no column {wanted!r} for the {what}; {_shown(columns)}")
        return found
    for name in defaults:
        found = _find(columns, name)
        if found is not None:
            return found
    raise InputSchemaError(
        f"{where}: no {what} column (looked for {', '.join(defaults[:4])}, ...); {_shown(columns)}. "
        f"Name it with --{'id' if what == 'note id' else 'text'}-col."
    )


def optional_column(columns: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, where: str) -> str | None:
    if wanted:
        return pick_column(columns, wanted, defaults, what, where)
    return next((f for name in defaults if (f := _find(columns, name)) is not None), None)


def meta_columns(columns: list[str], cols: Columns, where: str) -> dict[str, str]:
    """Input column -> the standard meta key (person_id, note_datetime, note_title)."""
    names = {}
    for wanted, defaults, key in ((cols.person, PERSON_COLUMNS, "person_id"), (cols.datetime, DATETIME_COLUMNS, "note_datetime"),
                                  (cols.title, TITLE_COLUMNS, "note_title")):
        found = optional_column(columns, wanted, defaults, key, where)
        if found:
            names[found] = key
    return names


def safe_str(value: Any) -> Any:
    """A string that can be written as UTF-8: undecodable bytes and lone surrogates become backslash
    escapes ("\\udcff"), so an id, a file name or a date never stops a run."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def row_record(row: dict[str, Any], id_col: str, text_col: str, source: str,
               meta_names: dict[str, str] | None = None) -> NoteRecord:
    source = safe_str(source)
    raw_id = safe_str(row.get(id_col))
    text = row.get(text_col)
    if meta_names is None:
        meta = {k: safe_str(v) for k, v in row.items() if k not in (id_col, text_col)}
    else:
        meta = {key: safe_str(_plain(row.get(col))) for col, key in meta_names.items()}
    note_id = None if raw_id is None or str(raw_id).strip() == "" else str(raw_id)
    rec = NoteRecord(note_id, text if isinstance(text, str) else None, source, meta)
    if note_id is None:
        rec.error = f"{source}: missing note id in column {id_col!r}"
    elif text is None:
        rec.error = f"{source}: missing text in column {text_col!r}"
    elif not isinstance(text, str):
        rec.error = f"{source}: text is {type(text).__name__}, not a string"
    elif not text.isascii() and _ESCAPED_BYTE.search(text):  # bytes that were not UTF-8, kept by surrogateescape
        rec.text = None
        rec.error = f"{source}: text is not valid UTF-8"
    return rec


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_SLASHED = re.compile(r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?[ ]*([AaPp][Mm])?)?")
DATE_FORMATS = ("mdy", "dmy", "ymd")


def normalize_datetime(value: Any, date_format: str | None = None) -> str | None:
    """An ISO 8601 date or date-time from ISO and the common US and European forms (03/04/2024 is read
    month first unless `date_format` is "dmy"; a first number over 12 is always the day). Raises
    ValueError when the value is not a date."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if _ISO.fullmatch(text):
        return text.replace(" ", "T")
    m = _SLASHED.fullmatch(text)
    if not m:
        raise ValueError(text)
    a, b, c = (int(x) for x in m.group(1, 2, 3))
    if len(m.group(1)) == 4 or date_format == "ymd":
        y, mo, d = a, b, c
    elif date_format == "dmy" or (a > 12 >= b):
        d, mo, y = a, b, c
    else:
        mo, d, y = a, b, c
    if y < 100:
        y += 2000 if y < 70 else 1900
    hour, minute, sec = int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0)
    if m.group(7):
        hour = hour % 12 + (12 if m.group(7).lower() == "pm" else 0)
    from datetime import datetime

    stamp = datetime(y, mo, d, hour, minute, sec)  # raises ValueError on 13/45/2024
    return stamp.isoformat() if m.group(4) else stamp.date().isoformat()


def _plain(value: Any) -> Any:
    """JSON-friendly scalars (dates and numpy/arrow values become strings or Python numbers)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def read_jsonl(path: Path, id_col: str | None = None, text_col: str | None = None, cols: Columns | None = None,
               encoding: str = "utf-8-sig") -> Iterator[NoteRecord]:
    columns: list[str] | None = None
    meta_names: dict[str, str] | None = None
    with path.open("r", encoding=encoding, errors="surrogateescape", newline="") as fh:
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


def read_csv(path: Path, id_col: str | None = None, text_col: str | None = None, cols: Columns | None = None,
             encoding: str = "utf-8-sig", sep: str | None = None) -> Iterator[NoteRecord]:
    """CSV (or TSV: the separator is a tab for .tsv, or `sep`). A quoted field that swallows what look
    like whole rows (a stray quote) becomes an error record naming the lines it took."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    delimiter = sep or ("\t" if path.suffix.lower() == ".tsv" else ",")
    with path.open("r", encoding=encoding, errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
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
            first_line = reader.line_num + 1
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
            swallowed = _swallowed_rows(values, len(header), delimiter, values[header.index(id_name)])
            if swallowed:
                yield NoteRecord(
                    safe_str(values[header.index(id_name)]) or None, None, source,
                    error=f"{source}: a quote opened on line {first_line} runs to line {reader.line_num} and takes in "
                          f"{swallowed} lines that look like rows of their own; fix the quoting (the note is not scored)",
                )
                continue
            yield row_record(dict(zip(header, values)), id_name, text_name, source, meta_names)


def _shape(cell: str) -> str:
    """An id's shape: letters as a, digits as 9, runs collapsed ("W7-0001" -> "a9-9")."""
    return re.sub(r"(.)\1+", r"\1", re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", cell.strip())))


def _swallowed_rows(values: list[str], width: int, delimiter: str, id_value: str = "") -> int:
    """How many lines inside the row's fields look like whole rows of their own: `width` fields, the first
    shaped like this row's id. When two or more do, and they are nearly all of the field's lines, a stray
    quote took in the rows after it; a note's own lines (commas in text) are mostly something else."""
    shape = _shape(id_value)
    if not shape or len(id_value) > 40:
        return 0
    n = inner = 0
    for value in values:
        if "\n" not in value:
            continue
        for line in value.splitlines()[1:]:
            if not line.strip():
                continue
            inner += 1
            try:
                cells = next(csv.reader([line], delimiter=delimiter))
            except (csv.Error, StopIteration):
                continue
            if len(cells) == width and _shape(cells[0]) == shape:
                n += 1
    return n if n >= 2 and n >= 0.8 * inner else 0


def read_txt(path: Path, encoding: str = "utf-8-sig", folder: Path | None = None) -> Iterator[NoteRecord]:
    name = path.relative_to(folder).as_posix() if folder else path.name
    source = safe_str(name)
    note_id = safe_str(path.relative_to(folder).with_suffix("").as_posix() if folder else path.stem)
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            yield NoteRecord(note_id, None, source, error=f"{source}: not a regular file (a pipe, socket or device); skipped")
            return
        data = path.read_bytes()
    except OSError as exc:
        yield NoteRecord(note_id, None, source, error=f"{source}: cannot read file ({exc.strerror or type(exc).__name__})")
        return
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        yield NoteRecord(note_id, None, source, error=f"{source}: not valid {encoding} (byte {exc.start}); try --encoding")
        return
    yield row_record({"note_id": note_id, "text": text}, "note_id", "text", source)


def read_parquet(path: Path, cols: Columns, batch_rows: int = 2048) -> Iterator[NoteRecord]:
    """Parquet, streamed in record batches."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise InputSchemaError(f"{path.name}: not a readable Parquet file ({type(exc).__name__})") from exc
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


def _txt_files(folder: Path, recursive: bool) -> list[Path]:
    if recursive:
        return sorted(f for f in folder.rglob("*") if f.suffix.lower() == ".txt")
    subfolders = [d for d in folder.iterdir() if d.is_dir() and d.suffix.lower() != ".txt"]
    if subfolders:
        log.warning("%s: %d subfolder(s) not read; pass --recursive to read them", folder, len(subfolders))
    return sorted(f for f in folder.iterdir() if f.suffix.lower() == ".txt")  # a folder named *.txt: an error record


def read_notes(
    path: str | Path, id_col: str | None = None, text_col: str | None = None, cols: Columns | None = None,
    encoding: str = "utf-8-sig", sep: str | None = None, recursive: bool = False, date_format: str | None = None,
) -> Iterator[NoteRecord]:
    """Every note of an input: a .jsonl, .csv, .tsv, .parquet or .txt file, or a folder of .txt files
    (sorted by name; subfolders with `recursive`). Dates are normalized to ISO 8601; a note whose date is
    not a date gets an error record."""
    for rec in _read(Path(path), cols or Columns(id_col, text_col), encoding, sep, recursive):
        when = rec.meta.get("note_datetime")
        if when not in (None, "") and not rec.error:
            try:
                rec.meta["note_datetime"] = normalize_datetime(when, date_format)
            except (ValueError, OverflowError):
                rec.error = f"{rec.source}: note_datetime {safe_str(str(when))[:40]!r} is not a date (ISO, or set --date-format)"
        yield rec


def _read(p: Path, cols: Columns, encoding: str, sep: str | None, recursive: bool) -> Iterator[NoteRecord]:
    if p.is_dir():
        files = _txt_files(p, recursive)
        if not files:
            raise InputSchemaError(f"{p}: folder has no .txt files" + ("" if recursive else " (subfolders need --recursive)"))
        for f in files:
            yield from read_txt(f, encoding, p if recursive else None)
        return
    if not p.exists():
        raise InputSchemaError(f"{p}: no such file or folder")
    suffix = p.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            yield from read_jsonl(p, cols.id, cols.text, cols, encoding)
        elif suffix in (".csv", ".tsv", ".tab"):
            yield from read_csv(p, cols.id, cols.text, cols, encoding, sep)
        elif suffix in (".parquet", ".pq"):
            yield from read_parquet(p, cols)
        elif suffix == ".txt":
            yield from read_txt(p, encoding)
        else:
            raise InputSchemaError(f"{p}: unknown input type {suffix!r}; expected .jsonl, .csv, .tsv, .parquet, .txt or a folder")
    except PermissionError as exc:
        raise InputSchemaError(f"{p}: cannot read ({exc.strerror})") from exc
    except LookupError as exc:
        raise InputSchemaError(f"--encoding {encoding!r} is not an encoding Python knows") from exc
