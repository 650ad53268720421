"""The record types nmsnlp writes, each defined once: mention records (contract section 1) and note
scores (contract section 2), with the extension fields the README lists.

Every writer (JSONL, CSV, Parquet, the SQLite index of a run, OMOP NOTE_NLP) takes its columns from
`MENTION_FIELDS` / `SCORE_FIELDS`, which are read off the dataclasses below, so a field added here
reaches every output. Each field has a *kind* that says how a writer stores it:

    str, int, float, bool      a scalar (or null)
    floats                     a list of numbers
    evidence                   a list of {concept, text, start, end}
    map_float, map_int, map_str  an object of name -> number or text

The vocabularies shared by every layer live here too: the five assertion flags and what "present" means.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")
NMS_CONCEPTS = ("nms", "parkinsonism_hyperpyrexia")  # NMS by name, and its dopaminergic-withdrawal form
"""The five assertion flags of contract section 4, in contract order."""

CATEGORIES = ("drug", "symptom", "lab", "vital", "diagnosis", "procedure")
DRUG_STATUSES = ("active", "started", "increased", "decreased", "held", "stopped", "allergy")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    nullable: bool = True
    modifier: bool = False  # mentions: written into OMOP NOTE_NLP term_modifiers


def _kind(name: str, annotation: Any) -> str:
    text = str(annotation)
    for token, kind in (("dict[str, float]", "map_float"), ("dict[str, int]", "map_int"), ("dict[str, str]", "map_str"),
                        ("list[dict", "evidence"), ("list[float]", "floats"), ("bool", "bool"), ("float", "float"),
                        ("int", "int"), ("str", "str")):
        if token in text:
            return kind
    raise TypeError(f"record field {name!r}: no writer kind for annotation {text!r}")


def record_fields(cls: type) -> tuple[Field, ...]:
    """The writer schema of a record dataclass: name, kind, nullability and the NOTE_NLP modifier mark
    (`metadata={"modifier": False}` keeps a field out of term_modifiers; every other field goes in)."""
    out = []
    for f in fields(cls):
        text = str(f.type)
        out.append(Field(f.name, _kind(f.name, text), "None" in text, bool(f.metadata.get("modifier", True))))
    return tuple(out)


_PLAIN = {"modifier": False}  # a field that is not a NOTE_NLP term modifier


@dataclass
class Mention:
    """One mention record, contract section 1 (plus the extension fields at the end)."""

    note_id: str | None = field(metadata=_PLAIN)
    start: int = field(metadata=_PLAIN)
    end: int = field(metadata=_PLAIN)
    text: str = field(metadata=_PLAIN)
    category: str = field(metadata=_PLAIN)
    concept: str = field(metadata=_PLAIN)
    negated: bool = False
    uncertain: bool = False
    historical: bool = False
    hypothetical: bool = False
    family: bool = False
    section: str | None = None
    value: float | None = None
    unit: str | None = None
    comparator: str | None = None
    drug_status: str | None = None
    # extensions
    ref_high: float | None = None
    values: list[float] = field(default_factory=list, metadata=_PLAIN)
    diastolic: float | None = field(default=None, metadata=_PLAIN)
    rule: str | None = field(default=None, metadata=_PLAIN)
    qualitative: str | None = None  # a lab or vital described in words: very_high, high, normal, low
    cues: dict[str, str] = field(default_factory=dict, metadata=_PLAIN)  # flag -> what set it (a ConText literal, ...)

    def to_dict(self) -> dict[str, Any]:
        return _plain_dict(self)

    @property
    def asserted(self) -> bool:
        """Stated as existing now, certainly, in the patient: no flag set."""
        return not any(getattr(self, f) for f in FLAGS)


def present(m: Any) -> bool:
    """The one meaning of *present*: stated as existing now in this patient, that is not negated,
    hypothetical, historical or a relative's. Uncertain mentions are present (a suspected fever is
    still evidence); `Mention.asserted` is the stricter reading with no flag at all."""
    return not (m.negated or m.hypothetical or m.historical or m.family)


@dataclass
class NoteScore:
    """One note score, contract section 2 (plus the extension fields at the end)."""

    note_id: str | None
    person_id: str | None
    score: float | None
    flagged: bool | None
    criteria_points: int | None
    nms_history: bool | None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    # extensions
    contributions: dict[str, float] = field(default_factory=dict)
    criteria_items: dict[str, int] = field(default_factory=dict)
    note_datetime: str | None = None
    nms_documented: bool | None = None  # a clinician documents a current NMS diagnosis (flagged whatever the score)
    note_title: str | None = None  # the input's note type or title (OMOP note_title), as given

    def to_dict(self) -> dict[str, Any]:
        return _plain_dict(self)

    @classmethod
    def failed(cls, note_id: str | None, person_id: str | None, error: str, note_datetime: str | None = None,
               note_title: str | None = None) -> NoteScore:
        return cls(note_id, person_id, None, None, None, None, [], error, note_datetime=note_datetime, note_title=note_title)


def _copy(value: Any) -> Any:
    """What dataclasses.asdict makes of a field value here: lists and dicts copied (their dicts too),
    scalars as they are."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _plain_dict(record: Any) -> dict[str, Any]:
    """dataclasses.asdict(record) for these flat records (scalars, and lists and dicts of scalars or of
    flat dicts), written out: asdict's generic recursion and deepcopy of every scalar were a tenth of the
    time of a screening run."""
    names = _NAMES.get(type(record)) or tuple(f.name for f in fields(record))
    return {name: _copy(getattr(record, name)) for name in names}


MENTION_FIELDS = record_fields(Mention)
SCORE_FIELDS = record_fields(NoteScore)
_NAMES = {cls: tuple(f.name for f in fields(cls)) for cls in (Mention, NoteScore)}
