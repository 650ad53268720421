"""Where notes come from: a file or folder, or a database table, described for the run manifest and
counted cheaply for the progress bar."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .database import read_db
from .readers import Columns, NoteRecord, read_notes


@dataclass(frozen=True)
class Source:
    """Where notes come from: a file or folder, or a database table."""

    path: Path | None = None
    db: str | None = None
    table: str = "note"
    where: str | None = None
    columns: Columns = Columns()  # noqa: RUF009 - a frozen dataclass, safe as a default

    def describe(self) -> dict[str, Any]:
        if self.path is not None:
            st = self.path.stat()
            kind = "folder" if self.path.is_dir() else self.path.suffix.lstrip(".").lower()
            return {"type": kind, "path": str(self.path.resolve()), "bytes": st.st_size if kind != "folder" else None,
                    "mtime": int(st.st_mtime), "columns": self.columns.__dict__}
        import sqlalchemy as sa

        assert self.db is not None
        return {"type": "database", "url": sa.engine.make_url(self.db).render_as_string(hide_password=True),
                "table": self.table, "where": self.where, "columns": self.columns.__dict__}

    def count(self) -> int | None:
        """How many notes the input holds, cheaply, for the progress bar's ETA (None when unknown)."""
        try:
            if self.path is None:
                import sqlalchemy as sa

                engine = sa.create_engine(self.db)  # type: ignore[arg-type]
                try:
                    with engine.connect() as conn:
                        sql = f"select count(*) from {self.table}" + (f" where {self.where}" if self.where else "")
                        return int(conn.execute(sa.text(sql)).scalar() or 0)
                finally:
                    engine.dispose()
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
            return read_db(self.db, self.table, self.where, self.columns)
        assert self.path is not None
        return read_notes(self.path, cols=self.columns)
