"""Per-note scores (contract section 2): score, flag, consensus points, past NMS, evidence, contributions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .criteria import criteria
from .extract import Extractor, Mention
from .features import D2_CLASSES, as_m, exposure, note_features, present
from .model import Model, load_model
from .pipeline import drug_classes

MAX_EVIDENCE = 12


@dataclass
class NoteScore:
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def failed(cls, note_id: str | None, person_id: str | None, error: str) -> NoteScore:
        return cls(note_id, person_id, None, None, None, None, [], error)


_VALUE_FEATURES = {"temp": "temperature", "ck": "ck", "hr": "heart_rate", "rr": "respiratory_rate", "sbp": "blood_pressure",
                   "bp": "blood_pressure", "wbc": "wbc", "creatinine": "creatinine", "potassium": "potassium",
                   "myoglobin": "myoglobin"}


def _supporting(feature: str, mentions: list[Mention], drug_classes: dict[str, str]) -> list[Mention]:
    kind, _, name = feature.partition(":")
    if kind in ("sym", "dx", "dxq"):
        return [m for m in mentions if m.concept == name and present(as_m(m)) and not m.negated]
    if kind in ("neg", "dxneg"):
        return [m for m in mentions if m.concept == name and m.negated]
    if kind == "nms":
        want = {"asserted": lambda m: m.asserted, "asserted_count": lambda m: m.asserted,
                "asserted_only": lambda m: m.asserted, "uncertain": lambda m: m.uncertain and not m.negated,
                "negated": lambda m: m.negated, "historical": lambda m: m.historical,
                "hypothetical": lambda m: m.hypothetical, "family": lambda m: m.family}
        if name == "phs":
            return [m for m in mentions if m.concept == "parkinsonism_hyperpyrexia"]
        return [m for m in mentions if m.concept == "nms" and want[name](m)]
    if kind == "drug" or feature == "tx:stop_drug":
        def cls_ok(m: Mention) -> bool:
            c = drug_classes.get(m.concept)
            if name in ("dopaminergic_withdrawn", "dopaminergic_active"):
                return c == "dopaminergic"
            if name == "lithium":
                return c == "lithium"
            return c in D2_CLASSES if name not in D2_CLASSES else c == name
        return [m for m in mentions if m.category == "drug" and cls_ok(m) and (exposure(as_m(m)) or m.drug_status == "allergy")]
    if kind == "tx":
        concept = {"amantadine_started": "amantadine"}.get(name, name)
        return [m for m in mentions if m.concept == concept and present(as_m(m))]
    if kind == "val":
        value_concept = _VALUE_FEATURES.get(name.split("_")[0])
        return [m for m in mentions if m.concept == value_concept and m.value is not None]
    if feature == "past_nms":
        return [m for m in mentions if m.concept == "nms" and (m.historical or m.section == "allergies")]
    return []


class Scorer:
    """Note text -> (NoteScore, mentions), with the shipped model unless another is given."""

    def __init__(self, extractor: Extractor | None = None, model: Model | None = None):
        self.extractor = extractor or Extractor()
        self.model = model or load_model()
        self.drug_classes = drug_classes(self.extractor.nlp)

    def score_mentions(self, mentions: list[Mention], note_id: str | None = None, person_id: str | None = None) -> NoteScore:
        crit = criteria(mentions, self.drug_classes)
        feats = note_features(mentions, self.drug_classes, crit.points)
        prob = self.model.score_one(feats)
        contrib = self.model.contributions(feats)
        evidence: dict[tuple[int, int, str], Mention] = {}
        for feature, value in contrib.items():
            if value <= 0:
                continue
            support = (
                [m for ms in crit.support.values() for m in ms] if feature == "criteria_points"
                else _supporting(feature, mentions, self.drug_classes)
            )
            for m in support:
                if isinstance(m, Mention):
                    evidence.setdefault((m.start, m.end, m.concept), m)
            if len(evidence) >= MAX_EVIDENCE:
                break
        ev = [{"concept": m.concept, "text": m.text, "start": m.start, "end": m.end}
              for m in sorted(evidence.values(), key=lambda m: (m.start, m.end))][:MAX_EVIDENCE]
        return NoteScore(
            note_id=note_id,
            person_id=person_id,
            score=round(prob, 6),
            flagged=prob >= self.model.threshold,
            criteria_points=crit.points,
            nms_history=bool(feats.get("past_nms")),
            evidence=ev,
            contributions={k: round(v, 4) for k, v in list(contrib.items())[:15]},
            criteria_items=crit.items,
        )

    def __call__(self, text: str, note_id: str | None = None, person_id: str | None = None) -> tuple[NoteScore, list[Mention]]:
        mentions = self.extractor(text, note_id)
        return self.score_mentions(mentions, note_id, person_id), mentions
