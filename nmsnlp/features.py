"""A note's mentions -> a documented feature dict (pure: no I/O, no model, no spaCy).

Every key is listed in FEATURES with what it means; `note_features` returns only those keys (a
feature that does not apply is left out, which DictVectorizer reads as 0). Values are bounded
(0/1 flags, capped counts, clipped magnitudes) so a linear model's coefficients stay comparable.

Assertion: a mention is *present* when it is not negated, hypothetical or family and not historical;
uncertain mentions count as present except for the NMS diagnosis itself, which is split by how it
is asserted. Historical mentions are kept apart (hist:*).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

FEATURE_SCHEMA_VERSION = "2"
DEFAULT_CK_ULN = 200.0  # U/L, used when the note gives no reference range for CK

D2_CLASSES = ("typical_high_potency", "typical_other", "atypical", "antiemetic_d2", "other_d2", "vmat2")
SYMPTOMS = (
    "fever", "rigidity", "altered_mental_status", "diaphoresis", "tachycardia", "autonomic_instability",
    "tachypnea", "tremor", "dysphagia", "incontinence", "mutism", "catatonia", "sialorrhea", "clonus",
    "hyperreflexia", "dystonia", "bradykinesia", "leukocytosis", "myoglobinuria", "hypertension", "hypotension",
)
DIFFERENTIALS = (
    "serotonin_syndrome", "malignant_hyperthermia", "heat_stroke", "sepsis", "meningitis", "encephalitis",
    "anticholinergic_toxicity", "alcohol_withdrawal", "benzodiazepine_withdrawal", "lithium_toxicity",
    "stimulant_toxicity", "infection",
)
EXTRAPYRAMIDAL = ("tremor", "dysphagia", "sialorrhea", "dystonia", "bradykinesia", "mutism")

FEATURES: dict[str, str] = {
    **{f"sym:{c}": f"{c} present (asserted, not historical)" for c in SYMPTOMS},
    **{f"neg:{c}": f"{c} stated absent" for c in ("fever", "rigidity", "altered_mental_status", "clonus", "hyperreflexia")},
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
    "nms:historical": "NMS named as a past episode",
    "nms:hypothetical": "NMS named as a risk, precaution or education",
    "nms:family": "NMS in a relative",
    "nms:asserted_count": "number of asserted NMS mentions, capped at 4, divided by 4",
    "nms:asserted_only": "NMS asserted and never hedged, negated, hypothetical or historical in the note",
    "nms:phs": "parkinsonism-hyperpyrexia / dopaminergic withdrawal syndrome asserted or suspected",
    "past_nms": "the note documents a past NMS episode (historical NMS or an allergy entry with NMS)",
    "tx:dantrolene": "dantrolene given or started",
    "tx:bromocriptine": "bromocriptine given or started",
    "tx:amantadine_started": "amantadine started (as a treatment)",
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
    "combo:ss_with_signs": "serotonin syndrome considered and clonus or hyperreflexia present",
    "combo:mh_with_anesthesia": "malignant hyperthermia considered with anesthesia / succinylcholine",
    "combo:sepsis_with_source": "sepsis with an infection source asserted",
    "combo:exposure_fever_rigidity": "dopamine-antagonist exposure or dopaminergic withdrawal, with fever and rigidity",
    "combo:exposure_and_core": "exposure or withdrawal, with the number of core features (fever, rigidity, AMS, autonomic, CK x4) / 5",
    "criteria_points": "2011 consensus criteria points / 100 (nmsnlp.criteria)",
}


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
    get = m.get if isinstance(m, dict) else lambda k, d=None: getattr(m, k, d)
    return M(
        concept=str(get("concept")), category=str(get("category")), negated=bool(get("negated", False)),
        uncertain=bool(get("uncertain", False)), historical=bool(get("historical", False)),
        hypothetical=bool(get("hypothetical", False)), family=bool(get("family", False)), value=get("value"),
        drug_status=get("drug_status"), ref_high=get("ref_high"), values=tuple(get("values", None) or ()),
        section=get("section"), text=get("text", "") or "",
    )


def present(m: M) -> bool:
    return not (m.negated or m.hypothetical or m.family or m.historical)


def exposure(m: M) -> bool:
    return m.category == "drug" and present(m) and m.drug_status != "allergy"


_DEPOT_WORDS = ("decanoate", " dec", "consta", "sustenna", "trinza", "hafyera", "maintena", "aristada", "relprevv",
                "perseris", "uzedy", "rykindo", "lai", "depot", "enanthate", "asimtufii", "erzofri")


def readings(ms: Iterable[M], concept: str) -> list[float]:
    out: list[float] = []
    for m in ms:
        if m.concept == concept and m.value is not None and not (m.hypothetical or m.family or m.historical):
            out.extend(m.values or (m.value,))
    return out


def note_features(mentions: Iterable[Any], drug_classes: dict[str, str], points: int | None = None) -> dict[str, float]:
    """The feature dict of one note. `drug_classes` maps drug concepts to classes (patterns/concepts.json);
    `points`, the note's consensus-criteria points when the caller already has them."""
    ms = [as_m(m) for m in mentions]
    f: dict[str, float] = {}

    def flag(key: str, on: bool = True) -> None:
        if on:
            f[key] = 1.0

    for m in ms:
        if m.category == "symptom":
            if m.negated and m.concept in ("fever", "rigidity", "altered_mental_status", "clonus", "hyperreflexia"):
                flag(f"neg:{m.concept}")
            elif present(m):
                flag(f"sym:{m.concept}")
        elif m.category in ("diagnosis",) and m.concept in DIFFERENTIALS:
            if m.negated:
                flag(f"dxneg:{m.concept}")
            elif present(m):
                flag(f"dxq:{m.concept}" if m.uncertain else f"dx:{m.concept}")
        elif m.concept == "nms":
            if m.family:
                flag("nms:family")
            elif m.hypothetical:
                flag("nms:hypothetical")
            elif m.negated:
                flag("nms:negated")
            elif m.historical:
                flag("nms:historical")
            elif m.uncertain:
                flag("nms:uncertain")
            else:
                flag("nms:asserted")
        elif m.concept == "parkinsonism_hyperpyrexia" and present(m) and not m.negated:
            flag("nms:phs")
    nms = [m for m in ms if m.concept == "nms"]
    asserted = [m for m in nms if not (m.negated or m.uncertain or m.historical or m.hypothetical or m.family)]
    if asserted:
        f["nms:asserted_count"] = min(len(asserted), 4) / 4
        flag("nms:asserted_only", len(asserted) == len(nms))
    if any(m.category == "symptom" and m.concept == "myoglobinuria" and present(m) for m in ms):
        flag("val:myoglobin")

    # drugs
    d2 = [m for m in ms if m.category == "drug" and drug_classes.get(m.concept) in D2_CLASSES]
    d2_exposed = [m for m in d2 if exposure(m)]
    for m in ms:
        cls = drug_classes.get(m.concept)
        if cls and exposure(m) and (cls in D2_CLASSES or cls == "lithium"):
            flag(f"drug:{cls}")
    flag("drug:d2_any", bool(d2_exposed))
    flag("drug:depot", any(any(w in m.text.lower() for w in _DEPOT_WORDS) for m in d2_exposed))
    if d2_exposed:
        f["drug:d2_count"] = min(len({m.concept for m in d2_exposed}), 3) / 3
    flag("drug:d2_started_or_increased", any(m.drug_status in ("started", "increased") for m in d2_exposed))
    flag("drug:d2_stopped", any(m.drug_status in ("stopped", "held") for m in d2_exposed))
    flag("tx:stop_drug", any(m.drug_status in ("stopped", "held") for m in d2_exposed))
    dopaminergic = [m for m in ms if m.category == "drug" and drug_classes.get(m.concept) == "dopaminergic"
                    and m.concept not in ("bromocriptine", "amantadine") and exposure(m)]
    withdrawn = [m for m in ms if m.category == "drug" and drug_classes.get(m.concept) == "dopaminergic"
                 and exposure(m) and m.drug_status in ("stopped", "held")]
    flag("drug:dopaminergic_withdrawn", bool(withdrawn))
    flag("drug:dopaminergic_active", any(m.drug_status not in ("stopped", "held") for m in dopaminergic))
    flag("drug:allergy_d2", any(m.drug_status == "allergy" and not m.negated for m in d2))
    for concept, key in (("dantrolene", "tx:dantrolene"), ("bromocriptine", "tx:bromocriptine")):
        flag(key, any(m.concept == concept and exposure(m) and m.drug_status not in ("stopped", "held") for m in ms))
    flag("tx:amantadine_started", any(m.concept == "amantadine" and exposure(m) and m.drug_status == "started" for m in ms))
    flag("tx:cooling", any(m.concept == "cooling" and present(m) for m in ms))
    flag("tx:ect", any(m.concept == "ect" and present(m) for m in ms))

    # past NMS
    allergy_nms = any(
        m.concept == "nms" and (m.section == "allergies" or m.historical) and not m.negated and not m.family for m in ms
    )
    flag("past_nms", allergy_nms or "nms:historical" in f)

    # values
    temps = readings(ms, "temperature")
    if temps:
        f["val:temp_max"] = min(max(max(temps) - 37.5, 0.0), 4.0) / 4
        over = sum(t > 38.0 for t in temps)
        if over:
            f["val:temp_over_38"] = min(over, 3) / 3
        flag("val:temp_over_40", max(temps) >= 40.0)
    ck_ratio = ck_uln_ratio(ms)
    cks = readings(ms, "ck")
    if cks:
        f["val:ck_log"] = min(max(math.log10(max(max(cks), 1.0)) - 2, 0.0), 3.0) / 3
        flag("val:ck_x4", ck_ratio >= 4)
        flag("val:ck_x10", ck_ratio >= 10)
        flag("val:ck_x50", ck_ratio >= 50)
    hrs, rrs, sbps = readings(ms, "heart_rate"), readings(ms, "respiratory_rate"), readings(ms, "blood_pressure")
    flag("val:hr_over_110", bool(hrs) and max(hrs) >= 110)
    flag("val:rr_over_24", bool(rrs) and max(rrs) >= 24)
    flag("val:sbp_over_160", bool(sbps) and max(sbps) >= 160)
    flag("val:bp_range_40", len(sbps) > 1 and max(sbps) - min(sbps) >= 40)
    for concept, key, limit in (("wbc", "val:wbc_over_12", 12.0), ("creatinine", "val:creatinine_over_1_5", 1.5),
                                ("potassium", "val:potassium_over_5_5", 5.5)):
        vals = readings(ms, concept)
        flag(key, bool(vals) and max(vals) > limit)
    flag("val:myoglobin", bool(readings(ms, "myoglobin")) or "val:myoglobin" in f)

    # combinations that separate NMS from its mimics
    considered = lambda c: f"dx:{c}" in f or f"dxq:{c}" in f  # noqa: E731
    flag("combo:ss_with_signs", considered("serotonin_syndrome") and ("sym:clonus" in f or "sym:hyperreflexia" in f))
    flag("combo:mh_with_anesthesia", considered("malignant_hyperthermia") and any(m.concept == "anesthesia" and present(m) for m in ms))
    flag("combo:sepsis_with_source", considered("sepsis") and "dx:infection" in f)
    trigger = "drug:d2_any" in f or "drug:dopaminergic_withdrawn" in f
    fever = "sym:fever" in f or "val:temp_over_38" in f
    rigid = "sym:rigidity" in f
    flag("combo:exposure_fever_rigidity", trigger and fever and rigid)
    if trigger:
        core = [fever, rigid, "sym:altered_mental_status" in f,
                any(k in f for k in ("sym:autonomic_instability", "sym:diaphoresis", "sym:tachycardia", "val:bp_range_40")),
                ck_ratio >= 4]
        f["combo:exposure_and_core"] = sum(core) / 5

    if points is None:
        from .criteria import criteria  # local import: criteria uses this module's mention helpers

        points = criteria(ms, drug_classes).points
    f["criteria_points"] = points / 100
    unknown = set(f) - set(FEATURES)
    assert not unknown, f"undocumented features {unknown}"
    return f


def ck_uln_ratio(ms: list[M]) -> float:
    """Maximum CK over the note's reference upper limit (the default when the note gives none)."""
    best = 0.0
    refs = [m.ref_high for m in ms if m.concept == "ck" and m.ref_high]
    uln = max(refs) if refs else DEFAULT_CK_ULN
    for v in readings(ms, "ck"):
        best = max(best, v / uln)
    return best
