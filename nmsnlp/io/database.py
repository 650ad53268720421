"""Reading an OMOP CDM NOTE table (or any table with an id and a text column) through SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import InputSchemaError
from .readers import ID_COLUMNS, TEXT_COLUMNS, Columns, NoteRecord, meta_columns, pick_column, row_record


def read_db(url: str, table: str, where: str | None, cols: Columns, batch_rows: int = 1000) -> Iterator[NoteRecord]:
    """An OMOP CDM NOTE table (or any table with an id and a text column) through SQLAlchemy, streamed."""
    import sqlalchemy as sa

    safe_url = sa.engine.make_url(url).render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            if not insp.has_table(table):
                raise InputSchemaError(f"{safe_url}: no table {table!r}; tables are {sorted(insp.get_table_names())}")
            columns = [c["name"] for c in insp.get_columns(table)]
            id_name = pick_column(columns, cols.id, ID_COLUMNS, "note id", f"{safe_url} table {table}")
            text_name = pick_column(columns, cols.text, TEXT_COLUMNS, "text", f"{safe_url} table {table}")
            meta_names = meta_columns(columns, cols, f"{safe_url} table {table}")
            tbl = sa.Table(table, sa.MetaData(), autoload_with=conn)
            query = sa.select(*(tbl.c[c] for c in (id_name, text_name, *meta_names)))
            if where:
                query = query.where(sa.text(where))
            query = query.order_by(tbl.c[id_name])
            result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
            row_no = 0
            for row in result.mappings():
                row_no += 1
                yield row_record(dict(row), id_name, text_name, f"{table}:row {row_no}", meta_names)
    except sa.exc.SQLAlchemyError as exc:
        raise InputSchemaError(f"{safe_url}: database error ({type(exc).__name__}: {str(exc).splitlines()[0]})") from exc
    finally:
        if "engine" in locals():
            engine.dispose()
