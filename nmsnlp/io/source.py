"""Where notes come from: a file or folder, or a database table, described for the run manifest and
counted cheaply for the progress bar."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputSchemaError
from .database import count_notes, fingerprint, read_db, safe_url
from .readers import Columns, NoteRecord, read_notes


@dataclass(frozen=True)
class Source:
    """Where notes come from: a file or folder, or a database table."""

    path: Path | None = None
    db: str | None = None
    table: str = "note"
    where: str | None = None
    columns: Columns = Columns()  # noqa: RUF009 - a frozen dataclass, safe as a default
    encoding: str = "utf-8-sig"
    sep: str | None = None
    recursive: bool = False
    date_format: str | None = None

    def spec(self) -> dict[str, Any]:
        """The source as the flags gave it (what `--resume` reuses), with the database password hidden."""
        return {"path": str(self.path.resolve()) if self.path else None, "db": safe_url(self.db) if self.db else None,
                "table": self.table if self.db else None, "where": self.where, "columns": self.columns.__dict__,
                "encoding": self.encoding, "sep": self.sep, "recursive": self.recursive, "date_format": self.date_format}

    @classmethod
    def from_spec(cls, spec: dict[str, Any], db: str | None = None) -> Source:
        """The source of an interrupted run (the database URL, whose password the manifest never holds,
        comes from --db again)."""
        return cls(path=Path(spec["path"]) if spec.get("path") else None, db=db if spec.get("db") else None,
                   table=spec.get("table") or "note", where=spec.get("where"), columns=Columns(**spec.get("columns", {})),
                   encoding=spec.get("encoding", "utf-8-sig"), sep=spec.get("sep"), recursive=bool(spec.get("recursive")),
                   date_format=spec.get("date_format"))

    def describe(self) -> dict[str, Any]:
        """What the input is, with a fingerprint of its content (a resumed run must read the same notes):
        a SHA-256 of the file (or of every file of a folder), or a database query's row count and id hash."""
        if self.path is not None:
            if not self.path.exists():
                raise InputSchemaError(f"{self.path}: no such file or folder")
            kind = "folder" if self.path.is_dir() else self.path.suffix.lstrip(".").lower()
            files = sorted(p for p in self.path.rglob("*") if p.is_file()) if kind == "folder" else [self.path]
            h = hashlib.sha256()
            size = 0
            for f in files:
                h.update(f.relative_to(self.path).as_posix().encode("utf-8", "backslashreplace") if kind == "folder" else b"")
                try:
                    with f.open("rb") as fh:
                        while block := fh.read(1 << 20):
                            h.update(block)
                            size += len(block)
                except OSError as exc:
                    raise InputSchemaError(f"{f}: cannot read ({exc.strerror or type(exc).__name__})") from exc
            return {"type": kind, "path": str(self.path.resolve()), "bytes": size, "sha256": h.hexdigest(),
                    "columns": self.columns.__dict__}
        assert self.db is not None
        return {"type": "database", "url": safe_url(self.db), "table": self.table, "where": self.where,
                "columns": self.columns.__dict__, **fingerprint(self.db, self.table, self.where, self.columns)}

    def count(self) -> int | None:
        """How many notes the input holds, cheaply, for the progress bar's ETA (None when unknown)."""
        try:
            if self.path is None:
                assert self.db is not None
                return count_notes(self.db, self.table, self.where)
            if self.path.is_dir():
                return sum(1 for f in self.path.iterdir() if f.suffix.lower() == ".txt")
            suffix = self.path.suffix.lower()
            if suffix in (".parquet", ".pq"):
                import pyarrow.parquet as pq

                return int(pq.ParquetFile(self.path).metadata.num_rows)
            if suffix in (".jsonl", ".ndjson", ".json"):
                with self.path.open("rb") as fh:
                    return sum(1 for line in fh if line.strip())
            if suffix in (".csv", ".tsv"):
                csv.field_size_limit(2**31 - 1)
                with self.path.open(encoding="utf-8", errors="replace", newline="") as fh:
                    return max(sum(1 for _ in csv.reader(fh)) - 1, 0)
        except Exception:
            return None
        return None

    def records(self) -> Iterator[NoteRecord]:
        if self.db is not None and self.path is None:
            return read_db(self.db, self.table, self.where, self.columns, date_format=self.date_format)
        assert self.path is not None
        return read_notes(self.path, cols=self.columns, encoding=self.encoding, sep=self.sep, recursive=self.recursive,
                          date_format=self.date_format)
