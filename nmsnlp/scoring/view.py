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

from ..extraction.values import CK_DEFAULT_ULN as DEFAULT_CK_ULN  # U/L, when the note gives no reference range
from ..records import NMS_CONCEPTS, Mention, present

D2_CLASSES = ("typical_high_potency", "typical_other", "atypical", "antiemetic_d2", "other_d2", "vmat2")
DIFFERENTIALS = (
    "serotonin_syndrome", "malignant_hyperthermia", "heat_stroke", "sepsis", "meningitis", "encephalitis",
    "anticholinergic_toxicity", "alcohol_withdrawal", "benzodiazepine_withdrawal", "lithium_toxicity",
    "stimulant_toxicity", "infection",
)
"""The alternative causes of an NMS-like picture (features dx:*, the consensus criteria's work-up item)."""

__all__ = ["D2_CLASSES", "DEFAULT_CK_ULN", "DIFFERENTIALS", "LEADING_HEDGES", "M", "as_m", "ck_uln_ratio", "documents_nms",
           "elevated_ck", "exposure", "present",
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
    qualitative: str | None = None
    cues: tuple[tuple[str, str], ...] = ()

    def cue(self, flag: str) -> str:
        return dict(self.cues).get(flag, "")


def as_m(m: Any) -> M:
    if isinstance(m, M):
        return m
    if isinstance(m, Mention):  # the common case, its attributes read directly (what the general form below gives it)
        return M(
            concept=str(m.concept), category=str(m.category), negated=bool(m.negated), uncertain=bool(m.uncertain),
            historical=bool(m.historical), hypothetical=bool(m.hypothetical), family=bool(m.family), value=m.value,
            drug_status=m.drug_status, ref_high=m.ref_high, values=tuple(m.values or ()), section=m.section,
            text=m.text or "", qualitative=m.qualitative, cues=tuple(sorted((m.cues or {}).items())),
        )
    get = m.get if isinstance(m, dict) else lambda k, d=None: getattr(m, k, d)
    return M(
        concept=str(get("concept")), category=str(get("category")), negated=bool(get("negated", False)),
        uncertain=bool(get("uncertain", False)), historical=bool(get("historical", False)),
        hypothetical=bool(get("hypothetical", False)), family=bool(get("family", False)), value=get("value"),
        drug_status=get("drug_status"), ref_high=get("ref_high"), values=tuple(get("values", None) or ()),
        section=get("section"), text=get("text", "") or "", qualitative=get("qualitative"),
        cues=tuple(sorted((get("cues", None) or {}).items())),
    )


# hedges that still make NMS the leading diagnosis ("likely NMS"), unlike "possible", "r/o", "vs" or "?"
LEADING_HEDGES = frozenset({
    "probable", "probably", "likely", "most likely", "more likely", "suspect", "suspected", "is suspected",
    "was suspected", "presumed", "presumptive", "presumably", "working diagnosis", "working diagnosis of",
    "leading diagnosis", "leading differential", "high suspicion for", "is likely", "is probable", "likely c/w",
    "likely consistent with", "more likely than", "suggestive of", "working dx", "working dx of", "leading dx",
    "dx likely", "most likely dx",
})


def documents_nms(m: M) -> bool:
    """A clinician documents a current NMS episode (or its dopaminergic-withdrawal form, parkinsonism-
    hyperpyrexia syndrome): NMS present (not negated, hypothetical, historical or
    a relative's) and either unhedged or hedged as the leading diagnosis ("likely", "probable", "presumed",
    "working diagnosis")."""
    if m.concept not in NMS_CONCEPTS or not present(m):
        return False
    return not m.uncertain or any(c in LEADING_HEDGES for c in m.cue("uncertain").split("; "))


def elevated_ck(m: M) -> bool:
    """A current CK described in words as raised ("markedly elevated CK"), or rhabdomyolysis present."""
    if m.concept == "rhabdomyolysis":
        return present(m)
    return m.concept == "ck" and m.value is None and m.qualitative in ("high", "very_high") and present(m)


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
