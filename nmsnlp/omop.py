"""OMOP CDM v5.4 NOTE_NLP rows from mention records."""

from __future__ import annotations

from typing import Any

NOTE_NLP_COLUMNS = (
    "note_nlp_id", "note_id", "section_concept_id", "snippet", "offset", "lexical_variant", "note_nlp_concept_id",
    "note_nlp_source_concept_id", "nlp_system", "nlp_date", "nlp_datetime", "term_exists", "term_temporal",
    "term_modifiers",
)
SNIPPET_CONTEXT = 60


def term_modifiers(m: dict[str, Any]) -> str:
    """key=value pairs (MedTagger's precedent), including value and unit."""
    parts = [f"concept={m['concept']}", f"category={m['category']}"]
    parts += [f"{k}={'true' if m[k] else 'false'}" for k in ("negated", "uncertain", "historical", "hypothetical", "family")]
    for key in ("section", "value", "unit", "comparator", "drug_status", "ref_high"):
        if m.get(key) is not None:
            parts.append(f"{key}={m[key]}")
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
