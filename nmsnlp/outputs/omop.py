"""OMOP CDM v5.4 NOTE_NLP rows from mention records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from .. import records
from ..errors import InputSchemaError, NmsnlpError

NOTE_NLP_COLUMNS = (
    "note_nlp_id", "note_id", "section_concept_id", "snippet", "offset", "lexical_variant", "note_nlp_concept_id",
    "note_nlp_source_concept_id", "nlp_system", "nlp_date", "nlp_datetime", "term_exists", "term_temporal",
    "term_modifiers",
)
SNIPPET_CONTEXT = 60


def term_modifiers(m: dict[str, Any]) -> str:
    """key=value pairs (MedTagger's precedent): the concept and category, then every mention field marked
    as a modifier in nmsnlp.records (the five flags always, the others when set)."""
    parts = [f"concept={m['concept']}", f"category={m['category']}"]
    for f in records.MENTION_FIELDS:
        if not f.modifier:
            continue
        value = m.get(f.name)
        if f.kind == "bool":
            parts.append(f"{f.name}={'true' if value else 'false'}")
        elif value is not None:
            parts.append(f"{f.name}={value}")
    return ",".join(parts)


def note_nlp_row(m: dict[str, Any], text: str | None, note_nlp_id: int, nlp_system: str, nlp_datetime: str) -> dict[str, Any]:
    if text is not None:
        a, b = max(0, m["start"] - SNIPPET_CONTEXT), min(len(text), m["end"] + SNIPPET_CONTEXT)
        snippet = " ".join(text[a:b].split())[:250]
    else:
        snippet = m["text"][:250]
    return {
        "note_nlp_id": note_nlp_id,
        "note_id": m["note_id"],
        "section_concept_id": 0,
        "snippet": snippet,
        "offset": f"{m['start']}-{m['end']}",
        "lexical_variant": m["text"][:250],
        "note_nlp_concept_id": 0,
        "note_nlp_source_concept_id": 0,
        "nlp_system": nlp_system[:250],
        "nlp_date": nlp_datetime[:10],
        "nlp_datetime": nlp_datetime,
        "term_exists": "N" if (m["negated"] or m["hypothetical"] or m["family"]) else "Y",
        "term_temporal": "past" if m["historical"] else "present",
        "term_modifiers": term_modifiers(m)[:2000],
    }


def note_nlp_table(metadata: Any, name: str = "note_nlp") -> Any:
    import sqlalchemy as sa

    return sa.Table(
        name, metadata,
        sa.Column("note_nlp_id", sa.BigInteger, primary_key=True),
        sa.Column("note_id", sa.BigInteger, nullable=False),
        sa.Column("section_concept_id", sa.Integer),
        sa.Column("snippet", sa.String(250)),
        sa.Column("offset", sa.String(50)),
        sa.Column("lexical_variant", sa.String(250), nullable=False),
        sa.Column("note_nlp_concept_id", sa.Integer),
        sa.Column("note_nlp_source_concept_id", sa.Integer),
        sa.Column("nlp_system", sa.String(250)),
        sa.Column("nlp_date", sa.Date, nullable=False),
        sa.Column("nlp_datetime", sa.DateTime),
        sa.Column("term_exists", sa.String(1)),
        sa.Column("term_temporal", sa.String(50)),
        sa.Column("term_modifiers", sa.String(2000)),
    )


NLP_SYSTEM_PREFIX = "nmsnlp"
_ID_CHUNK = 1000


def _int_ids(note_ids: list[Any]) -> list[int]:
    out = []
    for nid in note_ids:
        try:
            out.append(int(nid))
        except (TypeError, ValueError) as exc:
            raise InputSchemaError(f"NOTE_NLP in a database needs integer note ids (OMOP); found {str(nid)[:40]!r}") from exc
    return out


def _ours(table: Any, ids: list[int]) -> Any:
    return table.c.nlp_system.like(f"{NLP_SYSTEM_PREFIX}%") & table.c.note_id.in_(ids)


def check_note_nlp_target(url: str, note_ids: list[Any], replace: bool) -> None:
    """Before any scoring: the table can be written (created if missing, in a transaction that is then
    rolled back), and it holds no earlier nmsnlp rows for these notes unless `replace` is given."""
    import sqlalchemy as sa

    from ..io.database import open_engine

    ids = _int_ids(note_ids)
    engine = open_engine(url)
    table = note_nlp_table(sa.MetaData())
    try:
        with engine.connect() as conn:
            with conn.begin() as txn:
                table.create(conn, checkfirst=True)
                found = 0
                example = None
                for k in range(0, len(ids), _ID_CHUNK):
                    rows = conn.execute(sa.select(table.c.note_id).where(_ours(table, ids[k:k + _ID_CHUNK])).distinct()).all()
                    found += len(rows)
                    example = example if example is not None or not rows else rows[0][0]
                txn.rollback()
    except sa.exc.SQLAlchemyError as exc:
        raise NmsnlpError(f"NOTE_NLP table at {url.split('@')[-1]} cannot be written: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]}") from exc
    finally:
        engine.dispose()
    if found and not replace:
        raise NmsnlpError(f"note_nlp already holds nmsnlp rows for {found} of these notes (e.g. note_id {example}); "
                          "pass --replace to replace them (only nmsnlp's own rows for these notes)")


def write_note_nlp_db(rows: Iterator[dict[str, Any]], url: str, note_ids: list[Any] | None = None,
                      replace: bool = False) -> int:
    """Insert NOTE_NLP rows into the `note_nlp` table at `url` (created if missing), in one transaction.

    note_nlp_id scheme: this run's rows take the ids after the table's largest one, in note order, so they
    never collide with existing rows. With `replace`, this tool's earlier rows for these notes (and no others:
    nlp_system starts with "nmsnlp") are deleted in the same transaction."""
    import sqlalchemy as sa

    from ..io.database import open_engine

    engine = open_engine(url)
    table = note_nlp_table(sa.MetaData())
    n = 0
    try:
        with engine.begin() as conn:
            table.create(conn, checkfirst=True)
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE note_nlp IN EXCLUSIVE MODE")
            if replace and note_ids:
                ids = _int_ids(note_ids)
                for k in range(0, len(ids), _ID_CHUNK):
                    conn.execute(table.delete().where(_ours(table, ids[k:k + _ID_CHUNK])))
            base = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.note_nlp_id), 0))).scalar() or 0)
            batch: list[dict[str, Any]] = []
            for row in rows:
                row["note_id"] = _int_ids([row["note_id"]])[0]
                row["note_nlp_id"] = base + int(row["note_nlp_id"])
                row["nlp_date"] = datetime.fromisoformat(row["nlp_date"]).date()
                row["nlp_datetime"] = datetime.fromisoformat(row["nlp_datetime"])
                batch.append(row)
                if len(batch) == 5000:
                    conn.execute(table.insert(), batch)
                    n += len(batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
                n += len(batch)
    except sa.exc.SQLAlchemyError as exc:
        raise NmsnlpError(f"writing NOTE_NLP failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    finally:
        engine.dispose()
    return n
