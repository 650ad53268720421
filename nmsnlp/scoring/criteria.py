"""The 2011 international consensus criteria for NMS (Gurrera et al., contract section 6), from one note.

Each item carries the mentions that support it. A single note cannot always show an item exactly;
the documented choices:

- exposure (20): a dopamine antagonist taken, given, started, increased, or stopped/held (a drug stopped
  because of the reaction was still taken within 72 h), or a dopaminergic drug stopped or held. Mentions
  that are negated, hypothetical, historical, a relative's, or allergy entries do not count. The note
  rarely dates the last dose, so "within 72 hours" is taken as "current in this note".
- hyperthermia (18) "> 38.0 C on at least 2 occasions": two temperature readings above 38.0 C (trend values
  count), or one such reading plus a separate present fever mention, or two present fever mentions.
- rigidity (17), mental status alteration (13): a present mention.
- CK (10): the maximum CK at least 4 times the upper limit of normal (the note's reference range when it
  gives one, else 200 U/L), or a CK described as markedly raised without a number, or rhabdomyolysis present.
- sympathetic lability (10), two or more of: BP elevation (no baseline in one note: a systolic of 150 or
  more, or hypertension present, stands for >= 25% over a 120 baseline); BP fluctuation (systolic
  readings spanning 25 mmHg or more, or labile BP / autonomic instability present); diaphoresis;
  urinary incontinence.
- hypermetabolism (5): heart rate >= 25% over baseline (a reading of 100 or more, or tachycardia present,
  for an 80 baseline) and respiratory rate >= 50% over baseline (24 or more, or tachypnea present, for 16).
- negative work-up (7): at least one alternative cause (infection, sepsis, meningitis, encephalitis,
  serotonin syndrome, malignant hyperthermia, heat stroke, toxidromes, withdrawal) explicitly negated,
  and none asserted as present.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .view import (
    D2_CLASSES,
    DIFFERENTIALS,
    as_m,
    ck_uln_ratio,
    elevated_ck,
    exposure,
    present,
    reading_mentions,
    readings,
    values_of,
)

ITEMS = (
    ("exposure", 20),
    ("hyperthermia", 18),
    ("rigidity", 17),
    ("mental_status", 13),
    ("ck_elevation", 10),
    ("sympathetic_lability", 10),
    ("hypermetabolism", 5),
    ("negative_workup", 7),
)
@dataclass
class CriteriaResult:
    points: int
    items: dict[str, int] = field(default_factory=dict)
    support: dict[str, list[Any]] = field(default_factory=dict)  # item -> supporting mentions


def criteria(mentions: Iterable[Any], drug_classes: dict[str, str]) -> CriteriaResult:
    originals = list(mentions)
    ms = [as_m(m) for m in originals]
    back = {id(mm): o for mm, o in zip(ms, originals)}
    support: dict[str, list[Any]] = {}

    def present_of(*concepts: str) -> list[Any]:
        return [m for m in ms if m.concept in concepts and present(m)]

    d2 = [m for m in ms if drug_classes.get(m.concept) in D2_CLASSES and exposure(m)]
    withdrawn = [m for m in ms if drug_classes.get(m.concept) == "dopaminergic" and exposure(m)
                 and m.drug_status in ("stopped", "held")]
    support["exposure"] = d2 + withdrawn

    temps = readings(ms, "temperature")
    hot = [m for m in reading_mentions(ms, "temperature") if any(v > 38.0 for v in values_of(m))]
    fevers = present_of("fever")
    n_hot = sum(t > 38.0 for t in temps)
    if n_hot >= 2 or (n_hot >= 1 and fevers) or len(fevers) >= 2:
        support["hyperthermia"] = hot + fevers
    support["rigidity"] = present_of("rigidity")
    support["mental_status"] = present_of("altered_mental_status")
    marked = [m for m in ms if elevated_ck(m) and (m.concept == "rhabdomyolysis" or m.qualitative == "very_high")]
    if ck_uln_ratio(ms) >= 4 or marked:
        support["ck_elevation"] = reading_mentions(ms, "ck") + marked

    sbps = readings(ms, "blood_pressure")
    bp_high = [m for m in reading_mentions(ms, "blood_pressure") if m.value is not None and m.value >= 150]
    bp_high += present_of("hypertension")
    bp_fluct = present_of("autonomic_instability")
    if len(sbps) > 1 and max(sbps) - min(sbps) >= 25:
        bp_fluct += reading_mentions(ms, "blood_pressure")
    signs = [s for s in (bp_high, bp_fluct, present_of("diaphoresis"), present_of("incontinence")) if s]
    if len(signs) >= 2:
        support["sympathetic_lability"] = [m for s in signs for m in s]

    hr = [m for m in reading_mentions(ms, "heart_rate") if m.value is not None and m.value >= 100]
    hr += present_of("tachycardia")
    rr = [m for m in reading_mentions(ms, "respiratory_rate") if m.value is not None and m.value >= 24]
    rr += present_of("tachypnea")
    if hr and rr:
        support["hypermetabolism"] = hr + rr

    negated_alt = [m for m in ms if m.concept in DIFFERENTIALS and m.negated and not m.family]
    asserted_alt = [m for m in ms if m.concept in DIFFERENTIALS and present(m) and not m.uncertain]
    if negated_alt and not asserted_alt:
        support["negative_workup"] = negated_alt

    items = {name: pts for name, pts in ITEMS if support.get(name)}
    originals_support = {k: [back[id(m)] for m in v] for k, v in support.items() if v}
    return CriteriaResult(sum(items.values()), items, originals_support)
