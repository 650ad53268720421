"""Writing records as tables, with the columns and types of their schema (nmsnlp.records).

One schema per record drives every format: JSON lines keep nested values as JSON; CSV cells hold
scalars as text and nested values as JSON; Parquet keeps every field with its Arrow type (lists,
structs and maps stay nested); SQLite holds scalars natively and nested values as JSON text.
"""

from __future__ import annotations

import csv
import json
import re
from typing import IO, Any

from ..records import Field

NESTED = ("floats", "evidence", "map_float", "map_int", "map_str")


def json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def columns(fields: tuple[Field, ...]) -> list[str]:
    return [f.name for f in fields]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ tab or CR gets a leading
    apostrophe (OWASP CSV-injection guidance); numbers, and text that is a plain number, are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Any) -> list[Any]:
    return [spreadsheet_safe(v) for v in values]


def csv_cell(field: Field, value: Any) -> Any:
    if field.kind in NESTED:
        return spreadsheet_safe(json.dumps(value, ensure_ascii=False))
    return spreadsheet_safe(value)


class CsvTable:
    """A CSV file with one column per field, in field order."""

    def __init__(self, fh: IO[str], fields: tuple[Field, ...], header: bool = True):
        self.fields = fields
        self.writer = csv.writer(fh)
        if header:  # a run's part holds rows only: the assembled file has the one header
            self.writer.writerow(columns(fields))

    def write(self, record: dict[str, Any]) -> None:
        self.writer.writerow([csv_cell(f, record.get(f.name)) for f in self.fields])


def arrow_type(field: Field) -> Any:
    import pyarrow as pa

    return {
        "str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
        "floats": pa.list_(pa.float64()),
        "evidence": pa.list_(pa.struct([("concept", pa.string()), ("text", pa.string()), ("start", pa.int64()),
                                        ("end", pa.int64())])),
        "map_float": pa.map_(pa.string(), pa.float64()),
        "map_int": pa.map_(pa.string(), pa.int64()),
        "map_str": pa.map_(pa.string(), pa.string()),
    }[field.kind]


def arrow_schema(fields: tuple[Field, ...]) -> Any:
    import pyarrow as pa

    return pa.schema([pa.field(f.name, arrow_type(f), nullable=True) for f in fields])


def arrow_value(field: Field, value: Any) -> Any:
    if field.kind in ("map_float", "map_int", "map_str"):
        return None if value is None else list(value.items())
    return value


class ParquetTable:
    """A Parquet file with every field of the schema, written in row groups of `rows` records."""

    def __init__(self, path: Any, fields: tuple[Field, ...], rows: int = 10_000):
        import pyarrow.parquet as pq

        self.fields, self.rows = fields, rows
        self.schema = arrow_schema(fields)
        self.writer = pq.ParquetWriter(path, self.schema)
        self.batch: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.batch.append({f.name: arrow_value(f, record.get(f.name)) for f in self.fields})
        if len(self.batch) >= self.rows:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.batch:
            self.writer.write_table(pa.Table.from_pylist(self.batch, self.schema))
            self.batch = []

    def close(self) -> None:
        self._flush()
        self.writer.close()


def sqlite_type(field: Field) -> str:
    return {"str": "text", "int": "integer", "float": "real", "bool": "integer"}.get(field.kind, "text")


def sqlite_value(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.kind == "bool":
        return int(value)
    if field.kind in NESTED:
        return json.dumps(value, ensure_ascii=False)
    return value
