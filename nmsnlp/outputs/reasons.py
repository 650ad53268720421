"""A score's reasons in plain words: feature name -> what a clinician would write ("CK 41,200 U/L, over
10 x the upper limit", "haloperidol started"), never the internal name (`val:ck_x10`).

Every feature of nmsnlp.scoring.features.FEATURES has a phrase (a test checks it). A feature about a value
says the value, read from the mentions that produced it (features.compute gives them), so a reason is what
was counted. Used by the screening list and the review report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..scoring.features import FEATURES, Features, compute
from ..scoring.view import DEFAULT_CK_ULN

CONCEPT_WORDS = {
    "altered_mental_status": "altered mental status", "autonomic_instability": "autonomic instability",
    "ck": "CK", "wbc": "white count", "nms": "NMS", "ect": "ECT", "heart_rate": "heart rate",
    "blood_pressure": "blood pressure", "respiratory_rate": "respiratory rate",
    "serotonin_syndrome": "serotonin syndrome", "malignant_hyperthermia": "malignant hyperthermia",
    "heat_stroke": "heat stroke", "anticholinergic_toxicity": "anticholinergic toxicity",
    "alcohol_withdrawal": "alcohol withdrawal", "benzodiazepine_withdrawal": "benzodiazepine withdrawal",
    "lithium_toxicity": "lithium toxicity", "stimulant_toxicity": "stimulant toxicity",
    "parkinsonism_hyperpyrexia": "parkinsonism-hyperpyrexia syndrome", "xanomeline_trospium": "xanomeline-trospium",
    "cooling": "cooling measures", "anesthesia": "anesthesia", "infection": "an infection",
}
CLASS_WORDS = {
    "typical_high_potency": "high-potency typical antipsychotic", "typical_other": "typical antipsychotic",
    "atypical": "atypical antipsychotic", "antiemetic_d2": "dopamine-blocking antiemetic",
    "other_d2": "dopamine-blocking drug", "vmat2": "dopamine-depleting drug (VMAT2 inhibitor)", "lithium": "lithium",
}
CRITERIA_WORDS = {
    "exposure": "dopamine antagonist exposure (or dopaminergic withdrawal)",
    "hyperthermia": "hyperthermia over 38.0 C on two occasions",
    "rigidity": "rigidity",
    "mental_status": "altered mental status",
    "ck_elevation": "CK at least 4 x the upper limit",
    "sympathetic_lability": "sympathetic nervous system lability",
    "hypermetabolism": "tachycardia and tachypnea",
    "negative_workup": "other causes worked up and negative",
}
STATUS_WORDS = {"started": "started", "increased": "increased", "decreased": "decreased", "held": "held",
                "stopped": "stopped", "active": "taken", "allergy": "in the allergy list"}


@dataclass(frozen=True)
class M:
    """The fields of a mention a phrase reads (from a Mention or a mention record dict)."""

    concept: str
    category: str
    uncertain: bool
    value: float | None
    values: tuple[float, ...]
    unit: str | None
    comparator: str | None
    diastolic: float | None
    drug_status: str | None


def as_m(m: Any) -> M:
    if isinstance(m, M):
        return m
    get = m.get if isinstance(m, dict) else lambda k, d=None: getattr(m, k, d)
    return M(str(get("concept")), str(get("category")), bool(get("uncertain", False)), get("value"),
             tuple(get("values", None) or ()), get("unit"), get("comparator"), get("diastolic"), get("drug_status"))


def values_of(m: M) -> tuple[float, ...]:
    if m.values:
        return m.values
    return () if m.value is None else (m.value,)


def words(concept: str) -> str:
    """A concept key in plain words."""
    return CONCEPT_WORDS.get(concept, concept.replace("_", " "))


def number(v: float) -> str:
    """41200 -> '41,200'; 39.85 -> '39.9'; 1.25 -> '1.25'."""
    if float(v).is_integer():
        return f"{int(v):,}"
    if abs(v) >= 10:
        return f"{v:,.1f}"
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _names(ms: Sequence[M]) -> str:
    seen = list(dict.fromkeys(words(m.concept) for m in ms))
    if len(seen) > 3:
        seen = [*seen[:3], f"{len(seen) - 3} more"]
    return ", ".join(seen)


def _peak(ms: Sequence[M]) -> tuple[float, M] | None:
    best: tuple[float, M] | None = None
    for m in ms:
        for v in values_of(m):
            if best is None or v > best[0]:
                best = (v, m)
    return best


UNIT_WORDS = {"10^9/L": "x10^9/L"}


def _unit(m: M, default: str) -> str:
    u = m.unit or default
    return UNIT_WORDS.get(u, u)


def _reading(ms: Sequence[M], what: str, unit: str) -> str:
    found = _peak(ms)
    if found is None:
        return what
    v, m = found
    cmp = f"{m.comparator} " if m.comparator else ""
    return f"{what} {cmp}{number(v)} {_unit(m, unit)}".rstrip()


def _bp(ms: Sequence[M], what: str) -> str:
    found = _peak(ms)
    if found is None:
        return what
    v, m = found
    dia = m.diastolic
    return f"{what} {number(v)}/{number(dia)} mmHg" if dia and v == m.value else f"{what} {number(v)} mmHg"


def _statuses(ms: Sequence[M], default: str) -> str:
    parts: dict[str, list[str]] = {}
    for m in ms:
        parts.setdefault(words(m.concept), []).append(STATUS_WORDS.get(m.drug_status or "", default))
    out = [f"{name} {' and '.join(dict.fromkeys(st))}" for name, st in parts.items()]
    return ", ".join(out[:3]) + (f" and {len(out) - 3} more" if len(out) > 3 else "") if out else f"a dopamine antagonist {default}"


def _temps_over(ms: Sequence[M], limit: float) -> list[float]:
    return sorted((v for m in ms for v in values_of(m) if v > limit), reverse=True)


Phrase = Callable[[Sequence[M], float, dict[str, Any]], str]


def _ck(times: int) -> Phrase:
    def phrase(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
        found = _peak(ms)
        if found is None:
            return f"CK over {times} x the upper limit"
        v, m = found
        return f"CK {number(v)} {m.unit or 'U/L'}, over {times} x the upper limit"
    return phrase


def _symptom(c: str) -> Phrase:
    def phrase(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
        hedged = ms and all(m.uncertain for m in ms)
        return f"{words(c)} {'possibly ' if hedged else ''}present"
    return phrase


def _fixed(text: str) -> Phrase:
    return lambda ms, value, ctx: text


def _drug_class(cls: str) -> Phrase:
    def phrase(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
        return f"{_names(ms)} ({CLASS_WORDS.get(cls, words(cls))})" if ms else f"a {CLASS_WORDS.get(cls, words(cls))} taken"
    return phrase


def _core(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
    trigger = [m for m in ms if m.category == "drug"]
    n = round(value * 5)
    return f"{n} of 5 core features (fever, rigidity, mental status, autonomic signs, CK) with {_names(trigger) or 'exposure'}"


def _exposure_fever_rigidity(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
    trigger = [m for m in ms if m.category == "drug"]
    return f"fever and rigidity with {_names(trigger)}" if trigger else "fever and rigidity after exposure"


def _bp_range(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
    vals = [v for m in ms for v in values_of(m)]
    return f"systolic BP swinging {number(min(vals))}-{number(max(vals))} mmHg" if vals else "systolic BP swinging 40 mmHg or more"


def _temp_max(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
    found = _peak(ms)
    return f"temperature up to {number(found[0])} C" if found else "temperature above 37.5 C"


def _temp_over_38(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
    over = _temps_over(ms, 38.0)
    if not over:
        return "temperatures over 38 C"
    if len(over) == 1:
        return f"temperature {number(over[0])} C, over 38 C"
    return f"{len(over)} temperatures over 38 C (up to {number(over[0])} C)"


def _temp_over_40(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
    found = _peak(ms)
    return f"temperature {number(found[0])} C, 40 C or more" if found else "temperature 40 C or more"


def _ck_log(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
    found = _peak(ms)
    if found is None:
        return "CK raised"
    v, m = found
    uln = ctx.get("ck_uln") or DEFAULT_CK_ULN
    return f"CK peak {number(v)} {m.unit or 'U/L'} ({number(v / uln)} x the upper limit of {number(uln)})"


def _count(noun: str) -> Phrase:
    def phrase(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
        n = len([m for m in ms if m.concept == "nms"]) or round(value * 4)
        return f"NMS named {n} time{'s' if n != 1 else ''} {noun}".rstrip()
    return phrase


def _d2_count(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
    names = list(dict.fromkeys(m.concept for m in ms))
    n = len(names) or round(value * 3)
    return f"{n} dopamine antagonist{'s' if n != 1 else ''}: {_names(ms)}" if names else f"{n} dopamine antagonists"


def _myoglobin(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
    reading = [m for m in ms if m.concept == "myoglobin" and m.value is not None]
    if reading:
        return _reading(reading, "myoglobin", "ng/mL")
    return "myoglobinuria (dark urine)" if ms else "myoglobin raised"


def _qual(high: str, other: str) -> Phrase:
    def phrase(ms: Sequence[M], value: float, ctx: dict[str, Any]) -> str:
        concepts = {m.concept for m in ms}
        return other if concepts and not (concepts & {"ck", "wbc"}) else high
    return phrase


def _phrases() -> dict[str, Phrase]:
    from ..scoring.features import NEGATED_SIGNS, SYMPTOMS
    from ..scoring.view import D2_CLASSES, DIFFERENTIALS

    p: dict[str, Phrase] = {}
    for c in SYMPTOMS:
        p[f"sym:{c}"] = _symptom(c)
    for c in NEGATED_SIGNS:
        p[f"neg:{c}"] = _fixed(f"no {words(c)} (stated absent)")
    for c in DIFFERENTIALS:
        p[f"dx:{c}"] = _fixed(f"{words(c)} diagnosed")
        p[f"dxq:{c}"] = _fixed(f"{words(c)} considered")
        p[f"dxneg:{c}"] = _fixed(f"{words(c)} ruled out")
    for cls in (*D2_CLASSES, "lithium"):
        p[f"drug:{cls}"] = _drug_class(cls)
    p["drug:lithium"] = _fixed("lithium taken")
    p |= {
        "drug:d2_any": lambda ms, v, c: f"taking a dopamine antagonist: {_names(ms)}" if ms else "taking a dopamine antagonist",
        "drug:depot": lambda ms, v, c: f"long-acting injectable {_names(ms)}" if ms else "a long-acting injectable antipsychotic",
        "drug:d2_count": _d2_count,
        "drug:d2_started_or_increased": lambda ms, v, c: _statuses(ms, "started or increased"),
        "drug:d2_stopped": lambda ms, v, c: _statuses(ms, "stopped or held"),
        "drug:dopaminergic_withdrawn": lambda ms, v, c: (f"{_statuses(ms, 'stopped or held')} (dopaminergic withdrawal)"
                                                         if ms else "a dopaminergic drug stopped or held"),
        "drug:dopaminergic_active": lambda ms, v, c: f"taking {_names(ms)} (dopaminergic)" if ms else "taking a dopaminergic drug",
        "drug:allergy_d2": lambda ms, v, c: f"{_names(ms)} in the allergy list" if ms else "a dopamine antagonist in the allergy list",
        "nms:asserted": _fixed("NMS named as current"),
        "nms:uncertain": _fixed("NMS suspected or in the differential"),
        "nms:negated": _fixed("NMS ruled out"),
        "nms:latest_negated": _fixed("the latest assessment rules NMS out"),
        "dx:final_alternative": _fixed("the latest diagnosis is a look-alike"),
        "nms:historical": _fixed("a past NMS episode mentioned"),
        "nms:hypothetical": _fixed("NMS mentioned as a risk or precaution"),
        "nms:family": _fixed("NMS in a relative"),
        "nms:asserted_count": _count("as current"),
        "nms:asserted_only": _fixed("NMS named and never hedged or negated"),
        "nms:phs": _fixed("parkinsonism-hyperpyrexia syndrome (dopaminergic withdrawal)"),
        "nms:documented": _fixed("the clinician documents current NMS"),
        "past_nms": _fixed("a past NMS episode documented"),
        "tx:dantrolene": _fixed("dantrolene given"),
        "tx:bromocriptine": _fixed("bromocriptine given"),
        "tx:amantadine_started": _fixed("amantadine started"),
        "tx:cooling": _fixed("cooling measures"),
        "tx:ect": _fixed("ECT"),
        "tx:stop_drug": lambda ms, v, c: f"offending drug stopped: {_names(ms)}" if ms else "offending drug stopped",
        "val:temp_max": _temp_max,
        "val:temp_over_38": _temp_over_38,
        "val:temp_over_40": _temp_over_40,
        "val:ck_log": _ck_log,
        "val:ck_x4": _ck(4),
        "val:ck_x10": _ck(10),
        "val:ck_x50": _ck(50),
        "val:hr_over_110": lambda ms, v, c: _reading(ms, "heart rate", "bpm"),
        "val:rr_over_24": lambda ms, v, c: _reading(ms, "respiratory rate", "/min"),
        "val:sbp_over_160": lambda ms, v, c: _bp(ms, "BP"),
        "val:bp_range_40": _bp_range,
        "val:wbc_over_12": lambda ms, v, c: _reading(ms, "white count", "x10^9/L"),
        "val:creatinine_over_1_5": lambda ms, v, c: _reading(ms, "creatinine", "mg/dL"),
        "val:potassium_over_5_5": lambda ms, v, c: _reading(ms, "potassium", "mmol/L"),
        "val:myoglobin": _myoglobin,
        "qual:ck_high": _qual("CK raised (in words)", "rhabdomyolysis"),
        "qual:ck_very_high": _fixed("CK markedly raised (in words)"),
        "qual:wbc_high": _qual("white count raised (in words)", "leukocytosis"),
        "combo:ss_with_signs": _fixed("serotonin syndrome considered, with clonus or brisk reflexes"),
        "combo:mh_with_anesthesia": _fixed("malignant hyperthermia considered, with anesthesia"),
        "combo:sepsis_with_source": _fixed("sepsis with an infection source"),
        "combo:exposure_fever_rigidity": _exposure_fever_rigidity,
        "combo:exposure_and_core": _core,
        "criteria_points": lambda ms, v, c: f"consensus criteria {round(v * 100)} of 100 points",
        "criteria:over_74": _fixed("consensus criteria at or over 74 points (the validated cut-off)"),
        "combo:full_picture": _fixed("the full picture after exposure: fever, rigidity, and altered mental status or a CK rise, with no other diagnosis"),
    }
    return p


PHRASES: dict[str, Phrase] = _phrases()
missing = set(FEATURES) - set(PHRASES)
assert not missing, f"features without plain words: {sorted(missing)}"


def describe(feature: str, support: Sequence[Any] = (), value: float = 1.0, ck_uln: float | None = None) -> str:
    """One feature in plain words, with the values of the mentions that produced it."""
    phrase = PHRASES.get(feature)
    if phrase is None:
        return "another feature"
    return phrase([as_m(m) for m in support], value, {"ck_uln": ck_uln})


@dataclass(frozen=True)
class Reason:
    feature: str
    words: str
    contribution: float  # the feature's share of the log-odds (negative: it lowered the score)
    mentions: tuple[int, ...]  # indices into the note's mentions


def explain(mentions: Sequence[Any], contributions: dict[str, float], drug_classes: dict[str, str],
            features: Features | None = None) -> list[Reason]:
    """The score's reasons, largest share first: each contribution in plain words with its mentions."""
    from ..scoring.view import as_m as scoring_view
    from ..scoring.view import ck_uln

    feats = features or compute(mentions, drug_classes)
    ms = [as_m(m) for m in mentions]
    uln = ck_uln([scoring_view(m) for m in mentions])
    out = []
    for feature, share in sorted(contributions.items(), key=lambda kv: -abs(kv[1])):
        idx = feats.support.get(feature, ())
        text = describe(feature, [ms[i] for i in idx], feats.values.get(feature, 1.0), uln)
        out.append(Reason(feature, text, float(share), tuple(idx)))
    return out


# features that say one thing at several strengths: shown once, in the words of the strongest present
FAMILIES = (
    ("val:ck_x50", "val:ck_x10", "val:ck_x4", "val:ck_log", "qual:ck_very_high", "qual:ck_high"),
    ("val:temp_over_40", "val:temp_over_38", "val:temp_max"),
    ("nms:documented", "nms:asserted_only", "nms:asserted", "nms:asserted_count"),
    ("tx:stop_drug", "drug:d2_stopped"),
    (*(f"drug:{c}" for c in ("typical_high_potency", "typical_other", "atypical", "antiemetic_d2", "other_d2", "vmat2")),
     "drug:d2_count", "drug:d2_any"),
    ("combo:exposure_fever_rigidity", "combo:exposure_and_core"),
    ("val:sbp_over_160", "val:bp_range_40"),
)
_FAMILY = {f: (i, rank) for i, fam in enumerate(FAMILIES) for rank, f in enumerate(fam)}
MIN_SHARE = 0.005


def merged(reasons: Sequence[Reason]) -> list[Reason]:
    """One reason per family of features (CK over 4, 10, 50 x the upper limit: the strongest) and per
    wording, with their shares added; shares below MIN_SHARE left out; largest share first."""
    groups: dict[Any, list[Reason]] = {}
    for r in reasons:
        if abs(r.contribution) < MIN_SHARE:
            continue
        fam = _FAMILY.get(r.feature)
        key: Any = ("family", fam[0], r.contribution > 0) if fam else ("words", r.words, r.contribution > 0)
        groups.setdefault(key, []).append(r)
    out = []
    for members in groups.values():
        lead = min(members, key=lambda r: _FAMILY.get(r.feature, (0, 0))[1])
        members = [lead, *(r for r in members if r is not lead)]  # the lead's evidence first
        out.append(Reason(lead.feature, lead.words, sum(r.contribution for r in members),
                          tuple(dict.fromkeys(i for r in members for i in r.mentions))))
    return sorted(out, key=lambda r: -abs(r.contribution))
