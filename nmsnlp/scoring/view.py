"""The mention view that scoring reads, and the vocabularies scoring shares.

`as_m` turns a Mention (or a contract record dict) into the frozen `M` that features and criteria
read. What counts:

- *present* (`nmsnlp.records.present`): not negated, hypothetical, historical or a relative's;
  uncertain mentions are present.
- *exposure*: a present drug mention that is not an allergy entry.
- *reading*: a lab or vital value that is not hypothetical (a threshold), historical or a relative's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..records import present

DEFAULT_CK_ULN = 200.0  # U/L, used when the note gives no reference range for CK

D2_CLASSES = ("typical_high_potency", "typical_other", "atypical", "antiemetic_d2", "other_d2", "vmat2")
DIFFERENTIALS = (
    "serotonin_syndrome", "malignant_hyperthermia", "heat_stroke", "sepsis", "meningitis", "encephalitis",
    "anticholinergic_toxicity", "alcohol_withdrawal", "benzodiazepine_withdrawal", "lithium_toxicity",
    "stimulant_toxicity", "infection",
)
"""The alternative causes of an NMS-like picture (features dx:*, the consensus criteria's work-up item)."""

__all__ = ["D2_CLASSES", "DEFAULT_CK_ULN", "DIFFERENTIALS", "M", "as_m", "ck_uln_ratio", "exposure", "present",
           "reading_mentions", "readings", "values_of"]


@dataclass(frozen=True)
class M:
    """The fields of a mention that features read (a Mention or a contract record dict both work)."""

    concept: str
    category: str
    negated: bool
    uncertain: bool
    historical: bool
    hypothetical: bool
    family: bool
    value: float | None
    drug_status: str | None
    ref_high: float | None
    values: tuple[float, ...]
    section: str | None
    text: str


def as_m(m: Any) -> M:
    if isinstance(m, M):
        return m
    get = m.get if isinstance(m, dict) else lambda k, d=None: getattr(m, k, d)
    return M(
        concept=str(get("concept")), category=str(get("category")), negated=bool(get("negated", False)),
        uncertain=bool(get("uncertain", False)), historical=bool(get("historical", False)),
        hypothetical=bool(get("hypothetical", False)), family=bool(get("family", False)), value=get("value"),
        drug_status=get("drug_status"), ref_high=get("ref_high"), values=tuple(get("values", None) or ()),
        section=get("section"), text=get("text", "") or "",
    )


def exposure(m: M) -> bool:
    return m.category == "drug" and present(m) and m.drug_status != "allergy"


def is_reading(m: M, concept: str) -> bool:
    return m.concept == concept and m.value is not None and not (m.hypothetical or m.family or m.historical)


def values_of(m: M) -> tuple[float, ...]:
    """Every number of a mention: the trend or range when it has one, else its value."""
    if m.values:
        return m.values
    return () if m.value is None else (m.value,)


def reading_mentions(ms: Iterable[M], concept: str) -> list[M]:
    """The mentions whose values are readings of `concept`."""
    return [m for m in ms if is_reading(m, concept)]


def readings(ms: Iterable[M], concept: str) -> list[float]:
    """Every reading of `concept` (all numbers of a trend)."""
    out: list[float] = []
    for m in reading_mentions(ms, concept):
        out.extend(values_of(m))
    return out


def ck_uln(ms: Iterable[M]) -> float:
    refs = [m.ref_high for m in ms if m.concept == "ck" and m.ref_high]
    return max(refs) if refs else DEFAULT_CK_ULN


def ck_uln_ratio(ms: list[M]) -> float:
    """Maximum CK over the note's reference upper limit (the default when the note gives none)."""
    uln = ck_uln(ms)
    return max((v / uln for v in readings(ms, "ck")), default=0.0)
