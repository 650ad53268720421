"""Reading an OMOP CDM NOTE table (or any table with an id and a text column) through SQLAlchemy.

No SQL is ever pasted from a flag: the table and its columns are found by reflection and quoted by
SQLAlchemy. `--where` is the one raw filter, documented as such, and it runs only inside a read-only
transaction where the database supports one (PostgreSQL: `SET TRANSACTION READ ONLY`; SQLite:
`PRAGMA query_only`). A URL that does not name a database, or names an SQLite file that does not exist,
is refused: nothing is ever created.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import InputSchemaError
from .readers import (
    ID_COLUMNS,
    TEXT_COLUMNS,
    Columns,
    NoteRecord,
    meta_columns,
    normalize_datetime,
    pick_column,
    row_record,
)


def safe_url(url: str) -> str:
    """The URL with its password hidden, or a placeholder when it is not a URL at all."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the --db value"


def open_engine(url: str) -> Any:
    """An engine for `url`, refusing what is not a database URL and SQLite files that do not exist."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:
        raise InputSchemaError(
            f"--db {url!r} is not a database URL; give e.g. postgresql+psycopg://user@host/db or sqlite:///path/cdm.sqlite"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if db in ("", ":memory:") or not Path(db).is_file():
            raise InputSchemaError(f"{safe_url(url)}: no such SQLite database file (nmsnlp never creates one)")
    try:
        return sa.create_engine(url)
    except Exception as exc:
        raise InputSchemaError(f"{safe_url(url)}: cannot use this database ({type(exc).__name__})") from exc


@contextmanager
def read_only(url: str) -> Iterator[Any]:
    """A connection inside a transaction the database itself keeps read-only where it can."""
    import sqlalchemy as sa

    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            dialect = conn.dialect.name
            if dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            elif dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = ON")
            try:
                yield conn
            finally:
                conn.rollback()
    except sa.exc.SQLAlchemyError as exc:
        raise InputSchemaError(f"{safe_url(url)}: database error ({type(exc).__name__}: {str(exc).splitlines()[0]})") from exc
    finally:
        engine.dispose()


def reflect_table(conn: Any, table: str, url: str) -> Any:
    """The table named `table` (a name, never SQL), found by reflection."""
    import sqlalchemy as sa

    insp = sa.inspect(conn)
    if not insp.has_table(table):
        names = sorted(insp.get_table_names())
        raise InputSchemaError(f"{safe_url(url)}: no table {table!r}; tables are {names[:20]}")
    return sa.Table(table, sa.MetaData(), autoload_with=conn)


def _filtered(query: Any, where: str | None) -> Any:
    import sqlalchemy as sa

    return query.where(sa.text(where)) if where else query


def count_notes(url: str, table: str, where: str | None) -> int:
    import sqlalchemy as sa

    with read_only(url) as conn:
        tbl = reflect_table(conn, table, url)
        return int(conn.execute(_filtered(sa.select(sa.func.count()).select_from(tbl), where)).scalar() or 0)


def fingerprint(url: str, table: str, where: str | None, cols: Columns) -> dict[str, Any]:
    """What a resumed run checks it reads again: the row count and a hash of the note ids in order."""
    import sqlalchemy as sa

    with read_only(url) as conn:
        tbl = reflect_table(conn, table, url)
        id_name = pick_column([c.name for c in tbl.columns], cols.id, ID_COLUMNS, "note id", f"{safe_url(url)} table {table}")
        h = hashlib.sha256()
        n = 0
        query = _filtered(sa.select(tbl.c[id_name]), where).order_by(tbl.c[id_name])
        for (note_id,) in conn.execution_options(stream_results=True, yield_per=10_000).execute(query):
            h.update(f"{note_id}\x1f".encode("utf-8", "backslashreplace"))
            n += 1
        return {"rows": n, "ids_sha256": h.hexdigest()}


def read_db(url: str, table: str, where: str | None, cols: Columns, batch_rows: int = 1000,
            date_format: str | None = None) -> Iterator[NoteRecord]:
    """The notes of a table, streamed in id order, read in a read-only transaction."""
    import sqlalchemy as sa

    where_name = f"{safe_url(url)} table {table}"
    with read_only(url) as conn:
        tbl = reflect_table(conn, table, url)
        columns = [c.name for c in tbl.columns]
        id_name = pick_column(columns, cols.id, ID_COLUMNS, "note id", where_name)
        text_name = pick_column(columns, cols.text, TEXT_COLUMNS, "text", where_name)
        meta_names = meta_columns(columns, cols, where_name)
        query = _filtered(sa.select(*(tbl.c[c] for c in (id_name, text_name, *meta_names))), where).order_by(tbl.c[id_name])
        result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
        row_no = 0
        for row in result.mappings():
            row_no += 1
            rec = row_record(dict(row), id_name, text_name, f"{table}:row {row_no}", meta_names)
            when = rec.meta.get("note_datetime")
            if when not in (None, "") and not rec.error:
                try:
                    rec.meta["note_datetime"] = normalize_datetime(when, date_format)
                except (ValueError, OverflowError):
                    rec.error = f"{rec.source}: note_datetime {str(when)[:40]!r} is not a date"
            yield rec
