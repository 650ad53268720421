"""A note's mentions -> a documented feature dict, with the mentions behind every feature (pure: no I/O,
no model, no spaCy).

Every key is listed in FEATURES with what it means; `compute` returns only those keys (a feature
that does not apply is left out, which DictVectorizer reads as 0), each with the indices of the
mentions that produced it, so a score's evidence is what was counted (never re-derived from the
feature's name). Values are bounded (0/1 flags, capped counts, clipped magnitudes) so a linear
model's coefficients stay comparable.

Assertion: features count *present* mentions (`nmsnlp.records.present`: not negated, hypothetical,
historical or a relative's; uncertain counts), except the NMS diagnosis itself, which is split by how
it is asserted, and the negated findings (neg:*, dxneg:*). Values count *readings* (view.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..records import NMS_CONCEPTS
from .criteria import CriteriaResult, criteria
from .view import (
    D2_CLASSES,
    DIFFERENTIALS,
    M,
    as_m,
    ck_uln,
    documents_nms,
    elevated_ck,
    exposure,
    present,
    reading_mentions,
    values_of,
)

FEATURE_SCHEMA_VERSION = "7"

SYMPTOMS = (
    "fever", "rigidity", "altered_mental_status", "diaphoresis", "tachycardia", "autonomic_instability",
    "tachypnea", "tremor", "dysphagia", "incontinence", "mutism", "catatonia", "sialorrhea", "clonus",
    "hyperreflexia", "dystonia", "bradykinesia", "leukocytosis", "myoglobinuria", "hypertension", "hypotension",
)
EXTRAPYRAMIDAL = ("tremor", "dysphagia", "sialorrhea", "dystonia", "bradykinesia", "mutism")
NEGATED_SIGNS = ("fever", "rigidity", "altered_mental_status", "clonus", "hyperreflexia")

FEATURES: dict[str, str] = {
    **{f"sym:{c}": f"{c} present (asserted, not historical)" for c in SYMPTOMS},
    **{f"neg:{c}": f"{c} stated absent and nowhere stated present" for c in NEGATED_SIGNS},
    **{f"dx:{c}": f"{c} asserted as present (not uncertain)" for c in DIFFERENTIALS},
    **{f"dxq:{c}": f"{c} uncertain (in the differential)" for c in DIFFERENTIALS},
    **{f"dxneg:{c}": f"{c} negated / ruled out" for c in DIFFERENTIALS},
    **{f"drug:{c}": f"exposure to a {c} drug (not negated, hypothetical, historical, family or allergy)" for c in (*D2_CLASSES, "lithium")},
    "drug:d2_any": "exposure to any dopamine antagonist",
    "drug:depot": "a long-acting injectable antipsychotic is mentioned as exposure",
    "drug:d2_count": "number of distinct dopamine-antagonist drugs, capped at 3, divided by 3",
    "drug:d2_started_or_increased": "a dopamine antagonist started, given or increased",
    "drug:d2_stopped": "a dopamine antagonist stopped or held (often because of the reaction)",
    "drug:dopaminergic_withdrawn": "a dopaminergic drug stopped or held (withdrawal trigger)",
    "drug:dopaminergic_active": "a dopaminergic drug taken",
    "drug:allergy_d2": "a dopamine antagonist in an allergy list",
    "nms:asserted": "NMS named and asserted",
    "nms:uncertain": "NMS named as possible, suspected, in the differential",
    "nms:negated": "NMS named and ruled out or denied",
    "nms:latest_negated": "the note's latest assessment of NMS rules it out (an earlier 'r/o NMS' or 'likely NMS' was revised)",
    "dx:final_alternative": "the note's latest diagnosis among NMS and its look-alikes is a look-alike, stated without a hedge",
    "nms:historical": "NMS named as a past episode",
    "nms:hypothetical": "NMS named as a risk, precaution or education",
    "nms:family": "NMS in a relative",
    "nms:asserted_count": "number of asserted NMS mentions, capped at 4, divided by 4",
    "nms:asserted_only": "NMS asserted and never hedged, negated, hypothetical or historical in the note",
    "nms:phs": "parkinsonism-hyperpyrexia / dopaminergic withdrawal syndrome asserted or suspected",
    "nms:documented": "the note's latest assessment of NMS documents a current episode: unhedged, or hedged as the leading diagnosis",
    "past_nms": "the note documents a past NMS episode (historical NMS or an allergy entry with NMS)",
    "tx:dantrolene": "dantrolene given or started, in a note with a sign of the syndrome (fever, rigidity, AMS, autonomic, CK) or NMS named",
    "tx:bromocriptine": "bromocriptine given or started, in a note with a sign of the syndrome or NMS named",
    "tx:amantadine_started": "amantadine started (as a treatment), in a note with a sign of the syndrome or NMS named",
    "tx:cooling": "cooling measures",
    "tx:ect": "electroconvulsive therapy",
    "tx:stop_drug": "the dopamine antagonist was stopped or held",
    "val:temp_max": "maximum temperature above 37.5 C, clipped to 0..4, divided by 4",
    "val:temp_over_38": "number of temperature readings above 38.0 C, capped at 3, divided by 3",
    "val:temp_over_40": "a temperature reading of 40.0 C or more",
    "val:ck_log": "log10 of the maximum CK (U/L) minus 2, clipped to 0..3, divided by 3",
    "val:ck_x4": "maximum CK at least 4 times the upper limit of normal",
    "val:ck_x10": "maximum CK at least 10 times the upper limit of normal",
    "val:ck_x50": "maximum CK at least 50 times the upper limit of normal",
    "val:hr_over_110": "a heart rate of 110 or more",
    "val:rr_over_24": "a respiratory rate of 24 or more",
    "val:sbp_over_160": "a systolic blood pressure of 160 or more",
    "val:bp_range_40": "systolic readings spanning 40 mmHg or more",
    "val:wbc_over_12": "a white count above 12 x10^9/L",
    "val:creatinine_over_1_5": "a creatinine above 1.5 mg/dL",
    "val:potassium_over_5_5": "a potassium above 5.5 mmol/L",
    "val:myoglobin": "a myoglobin value or myoglobinuria mentioned",
    "qual:ck_high": "CK described as raised without a number, or rhabdomyolysis present",
    "qual:ck_very_high": "CK described as markedly raised without a number (markedly, massively, severely ...)",
    "qual:wbc_high": "the white count described as raised without a number, or leukocytosis present",
    "combo:ss_with_signs": "serotonin syndrome considered and clonus or hyperreflexia present",
    "combo:mh_with_anesthesia": "malignant hyperthermia considered with anesthesia / succinylcholine",
    "combo:sepsis_with_source": "sepsis with an infection source asserted",
    "combo:exposure_fever_rigidity": "dopamine-antagonist exposure or dopaminergic withdrawal, with fever and rigidity",
    "combo:exposure_and_core": "exposure or withdrawal, with the number of core features (fever, rigidity, AMS, autonomic, CK x4) / 5",
    "criteria_points": "2011 consensus criteria points / 100 (nmsnlp.criteria)",
    "criteria:over_74": "2011 consensus criteria points at or over 74, the best cut-off of the 2017 validation",
    "combo:full_picture": "exposure or withdrawal, with fever, rigidity and altered mental status or a CK rise, no alternative diagnosis asserted",
}


# How each feature may move the score (the model is constrained to these signs): +1 evidence for a current
# NMS episode, -1 evidence against it (ruled out, negated findings, an asserted alternative diagnosis, a
# discriminating sign), 0 neutral (free). A past episode never argues a current one down (>= 0).
_AGAINST = {
    *(f"neg:{c}" for c in NEGATED_SIGNS), *(f"dx:{c}" for c in DIFFERENTIALS), "nms:negated", "nms:latest_negated",
    "dx:final_alternative", "sym:clonus", "sym:hyperreflexia", "combo:ss_with_signs", "combo:mh_with_anesthesia", "combo:sepsis_with_source",
}
_NEUTRAL = {
    *(f"dxq:{c}" for c in DIFFERENTIALS), *(f"sym:{c}" for c in (*EXTRAPYRAMIDAL, "catatonia", "hypotension")),
    "nms:hypothetical", "nms:family", "drug:lithium", "drug:dopaminergic_active", "drug:vmat2",
}
_FINAL_ALTERNATIVES = frozenset(c for c in DIFFERENTIALS if c != "infection")  # an infection often complicates NMS
_NEEDS_SYNDROME = ("tx:dantrolene", "tx:bromocriptine", "tx:amantadine_started")
_SYNDROME_SIGNS = ("sym:fever", "val:temp_over_38", "sym:rigidity", "sym:altered_mental_status", "sym:autonomic_instability",
                   "sym:diaphoresis", "sym:tachycardia", "val:ck_x4", "qual:ck_high", "qual:ck_very_high",
                   "nms:asserted", "nms:uncertain", "nms:phs")
FEATURE_DIRECTION: dict[str, int] = {k: -1 if k in _AGAINST else 0 if k in _NEUTRAL else 1 for k in FEATURES}

_DEPOT_WORDS = ("decanoate", " dec", "consta", "sustenna", "trinza", "hafyera", "maintena", "aristada", "relprevv",
                "perseris", "uzedy", "rykindo", "lai", "depot", "enanthate", "asimtufii", "erzofri")
_VALUE_LIMITS = (("heart_rate", "val:hr_over_110", 110.0, True), ("respiratory_rate", "val:rr_over_24", 24.0, True),
                 ("blood_pressure", "val:sbp_over_160", 160.0, True), ("wbc", "val:wbc_over_12", 12.0, False),
                 ("creatinine", "val:creatinine_over_1_5", 1.5, False),
                 ("potassium", "val:potassium_over_5_5", 5.5, False))


@dataclass
class Features:
    """A note's feature values, and for each the indices (into the note's mentions) of what produced it."""

    values: dict[str, float] = field(default_factory=dict)
    support: dict[str, tuple[int, ...]] = field(default_factory=dict)
    criteria: CriteriaResult = field(default_factory=lambda: CriteriaResult(0))


def note_features(mentions: Iterable[Any], drug_classes: dict[str, str]) -> dict[str, float]:
    """The feature dict of one note (see `compute` for the mentions behind each)."""
    return compute(mentions, drug_classes).values


def compute(mentions: Iterable[Any], drug_classes: dict[str, str]) -> Features:
    """The features of one note, the mentions behind each, and the note's consensus criteria.
    `drug_classes` maps drug concepts to classes (patterns/concepts.json)."""
    ms = [as_m(m) for m in mentions]
    index = {id(m): i for i, m in enumerate(ms)}
    f: dict[str, float] = {}
    sup: dict[str, list[int]] = {}

    def put(key: str, value: float, support: Iterable[M] = ()) -> None:
        f[key] = value
        sup.setdefault(key, []).extend(index[id(m)] for m in support)

    def flag(key: str, support: Iterable[M]) -> bool:
        """Set key to 1 when `support` is not empty; the support is what counted."""
        found = list(support)
        if found:
            put(key, 1.0, found)
        return bool(found)

    found = {m.concept for m in ms if present(m)}
    for m in ms:
        if m.category == "symptom":
            if m.negated and m.concept in NEGATED_SIGNS:
                if m.concept not in found:  # stated absent, and nowhere stated present
                    put(f"neg:{m.concept}", 1.0, [m])
            elif present(m):
                put(f"sym:{m.concept}", 1.0, [m])
        elif m.category == "diagnosis" and m.concept in DIFFERENTIALS:
            if m.negated:
                put(f"dxneg:{m.concept}", 1.0, [m])
            elif present(m):
                put(f"dxq:{m.concept}" if m.uncertain else f"dx:{m.concept}", 1.0, [m])
        elif m.concept == "nms":
            if m.family:
                put("nms:family", 1.0, [m])
            elif m.hypothetical:
                put("nms:hypothetical", 1.0, [m])
            elif m.negated:
                put("nms:negated", 1.0, [m])
            elif m.historical:
                put("nms:historical", 1.0, [m])
            elif m.uncertain:
                put("nms:uncertain", 1.0, [m])
            else:
                put("nms:asserted", 1.0, [m])
        elif m.concept == "parkinsonism_hyperpyrexia" and present(m):
            put("nms:phs", 1.0, [m])
    nms = [m for m in ms if m.concept == "nms"]
    asserted = [m for m in nms if not (m.negated or m.uncertain or m.historical or m.hypothetical or m.family)]
    if asserted:
        put("nms:asserted_count", min(len(asserted), 4) / 4, asserted)
        if len(asserted) == len(nms):
            put("nms:asserted_only", 1.0, asserted)

    assessed = [m for m in ms if m.concept in NMS_CONCEPTS and not (m.hypothetical or m.family or m.historical)]
    # the latest word on the diagnosis: a look-alike stated after every naming of NMS ("Dx: methamphetamine toxicity")
    verdicts = [m for m in ms if (m.concept in _FINAL_ALTERNATIVES or m.concept in NMS_CONCEPTS)
                and not (m.hypothetical or m.family or m.historical)]
    final_alternative = bool(verdicts) and verdicts[-1].concept in _FINAL_ALTERNATIVES and present(verdicts[-1]) \
        and not verdicts[-1].uncertain
    if final_alternative:
        put("dx:final_alternative", 1.0, [verdicts[-1]])
    if assessed and assessed[-1].negated and assessed[-1].concept == "nms":
        put("nms:latest_negated", 1.0, [assessed[-1]])
    # the note's latest assessment of a current episode decides; a look-alike stated without a hedge after NMS was
    # only ever suspected replaces it ("transferred with suspected NMS ... antibodies established encephalitis")
    if assessed and documents_nms(assessed[-1]) and not (
            final_alternative and all(m.uncertain for m in assessed if present(m))):
        put("nms:documented", 1.0, [m for m in assessed if documents_nms(m)])

    # drugs
    d2 = [m for m in ms if m.category == "drug" and drug_classes.get(m.concept) in D2_CLASSES]
    d2_exposed = [m for m in d2 if exposure(m)]
    for m in ms:
        cls = drug_classes.get(m.concept)
        if cls and exposure(m) and (cls in D2_CLASSES or cls == "lithium"):
            put(f"drug:{cls}", 1.0, [m])
    flag("drug:d2_any", d2_exposed)
    flag("drug:depot", [m for m in d2_exposed if any(w in m.text.lower() for w in _DEPOT_WORDS)])
    if d2_exposed:
        put("drug:d2_count", min(len({m.concept for m in d2_exposed}), 3) / 3, d2_exposed)
    flag("drug:d2_started_or_increased", [m for m in d2_exposed if m.drug_status in ("started", "increased")])
    d2_stopped = [m for m in d2_exposed if m.drug_status in ("stopped", "held")]
    flag("drug:d2_stopped", d2_stopped)
    flag("tx:stop_drug", d2_stopped)
    dopaminergic = [m for m in ms if m.category == "drug" and drug_classes.get(m.concept) == "dopaminergic" and exposure(m)]
    withdrawn = [m for m in dopaminergic if m.drug_status in ("stopped", "held")]
    flag("drug:dopaminergic_withdrawn", withdrawn)
    flag("drug:dopaminergic_active", [m for m in dopaminergic if m.concept not in ("bromocriptine", "amantadine")
                                      and m.drug_status not in ("stopped", "held")])
    flag("drug:allergy_d2", [m for m in d2 if m.drug_status == "allergy" and not m.negated])
    for concept, key in (("dantrolene", "tx:dantrolene"), ("bromocriptine", "tx:bromocriptine")):
        flag(key, [m for m in ms if m.concept == concept and exposure(m) and m.drug_status not in ("stopped", "held")])
    flag("tx:amantadine_started", [m for m in ms if m.concept == "amantadine" and exposure(m) and m.drug_status == "started"])
    flag("tx:cooling", [m for m in ms if m.concept == "cooling" and present(m)])
    flag("tx:ect", [m for m in ms if m.concept == "ect" and present(m)])

    # past NMS
    flag("past_nms", [m for m in nms if (m.section == "allergies" or m.historical) and not m.negated and not m.family])

    # values: each feature is supported by the readings that pass its bar
    temps = reading_mentions(ms, "temperature")
    temp_values = [(v, m) for m in temps for v in values_of(m)]
    if temp_values:
        hottest = max(v for v, _ in temp_values)
        put("val:temp_max", min(max(hottest - 37.5, 0.0), 4.0) / 4, [m for m in temps if hottest in values_of(m)])
        over = [(v, m) for v, m in temp_values if v > 38.0]
        if over:
            put("val:temp_over_38", min(len(over), 3) / 3, _unique(m for _, m in over))
        flag("val:temp_over_40", _unique(m for v, m in temp_values if v >= 40.0))
    cks = reading_mentions(ms, "ck")
    if cks:
        uln = ck_uln(ms)
        ck_values = [(v, m) for m in cks for v in values_of(m)]
        peak = max(v for v, _ in ck_values)
        put("val:ck_log", min(max(math.log10(max(peak, 1.0)) - 2, 0.0), 3.0) / 3,
            _unique(m for v, m in ck_values if v == peak))
        for times in (4, 10, 50):
            flag(f"val:ck_x{times}", _unique(m for v, m in ck_values if v / uln >= times))
    for concept, key, limit, inclusive in _VALUE_LIMITS:
        vals = [(v, m) for m in reading_mentions(ms, concept) for v in values_of(m)]
        flag(key, _unique(m for v, m in vals if (v >= limit if inclusive else v > limit)))
    sbps = [(v, m) for m in reading_mentions(ms, "blood_pressure") for v in values_of(m)]
    if len(sbps) > 1 and max(v for v, _ in sbps) - min(v for v, _ in sbps) >= 40:
        put("val:bp_range_40", 1.0, _unique(m for _, m in sbps))
    flag("val:myoglobin", reading_mentions(ms, "myoglobin")
         + [m for m in ms if m.category == "symptom" and m.concept == "myoglobinuria" and present(m)])

    raised_ck = [m for m in ms if elevated_ck(m)]
    flag("qual:ck_high", raised_ck)
    flag("qual:ck_very_high", [m for m in raised_ck if m.qualitative == "very_high"])
    flag("qual:wbc_high", [m for m in ms if present(m) and (m.concept == "leukocytosis" or (
        m.concept == "wbc" and m.value is None and m.qualitative in ("high", "very_high")))])

    # combinations that separate NMS from its mimics
    def backing(*keys: str) -> list[M]:
        return [ms[i] for k in keys for i in sup.get(k, ())]

    def considered(c: str) -> list[M]:
        return backing(f"dx:{c}", f"dxq:{c}")

    signs = backing("sym:clonus", "sym:hyperreflexia")
    if considered("serotonin_syndrome") and signs:
        put("combo:ss_with_signs", 1.0, considered("serotonin_syndrome") + signs)
    anesthesia = [m for m in ms if m.concept == "anesthesia" and present(m)]
    if considered("malignant_hyperthermia") and anesthesia:
        put("combo:mh_with_anesthesia", 1.0, considered("malignant_hyperthermia") + anesthesia)
    if considered("sepsis") and "dx:infection" in f:
        put("combo:sepsis_with_source", 1.0, considered("sepsis") + backing("dx:infection"))
    trigger = backing("drug:d2_any", "drug:dopaminergic_withdrawn")
    fever = backing("sym:fever", "val:temp_over_38")
    rigid = backing("sym:rigidity")
    if trigger and fever and rigid:
        put("combo:exposure_fever_rigidity", 1.0, trigger + fever + rigid)
    if trigger:
        core = [fever, rigid, backing("sym:altered_mental_status"),
                backing("sym:autonomic_instability", "sym:diaphoresis", "sym:tachycardia", "val:bp_range_40"),
                backing("val:ck_x4", "qual:ck_very_high", "qual:ck_high")]
        put("combo:exposure_and_core", sum(bool(c) for c in core) / 5, trigger + [m for c in core for m in c])

        alternative = any(k.startswith("dx:") and k[3:] in DIFFERENTIALS for k in f)
        if fever and rigid and (core[2] or core[4]) and not alternative:
            put("combo:full_picture", 1.0, trigger + fever + rigid + core[2] + core[4])

    # a treatment is evidence only beside the syndrome: bromocriptine for hyperprolactinemia, dantrolene for
    # spasticity, amantadine for influenza say nothing of NMS alone
    if not any(k in f for k in _SYNDROME_SIGNS):
        for k in _NEEDS_SYNDROME:
            f.pop(k, None)
            sup.pop(k, None)

    crit = criteria(ms, drug_classes)
    support = [m for s in crit.support.values() for m in s]
    put("criteria_points", crit.points / 100, support)
    if crit.points >= 74:
        put("criteria:over_74", 1.0, support)
    unknown = set(f) - set(FEATURES)
    assert not unknown, f"undocumented features {unknown}"
    return Features(f, {k: tuple(dict.fromkeys(v)) for k, v in sup.items()}, crit)


def _unique(ms: Iterable[M]) -> list[M]:
    return list({id(m): m for m in ms}.values())
