"""Per-note scores (contract section 2): score, flag, consensus points, past NMS, evidence, contributions.

A `Scorer` is given its extractor and its model; nothing global decides which model scores. The
evidence of a score is the mentions its positive contributions counted (`features.compute`), never
re-derived from a feature's name. A note is flagged when its score reaches the model's threshold, or
when a clinician documents a current NMS episode in it (`nms_documented`): case finding must not miss
a case the chart names, whatever its bedside detail.
"""

from __future__ import annotations

from typing import Any

from ..extraction.extractor import Extractor
from ..extraction.pipeline import drug_classes
from ..records import Mention, NoteScore
from .features import compute
from .model import Model, load_model

MAX_EVIDENCE = 12
MAX_CONTRIBUTIONS = 15


class Scorer:
    """Note text -> (NoteScore, mentions) with the model it is given (the shipped one when none is)."""

    def __init__(self, extractor: Extractor | None = None, model: Model | None = None):
        self.extractor = extractor or Extractor()
        self.model = model if model is not None else load_model()
        self.drug_classes = drug_classes(self.extractor.nlp)

    def score_mentions(self, mentions: list[Mention], note_id: str | None = None, person_id: str | None = None,
                       note_datetime: str | None = None) -> NoteScore:
        feats = compute(mentions, self.drug_classes)
        prob = self.model.score_one(feats.values)
        contrib = self.model.contributions(feats.values)
        evidence: dict[int, Mention] = {}
        for feature, value in contrib.items():
            if value <= 0:
                continue
            for i in feats.support.get(feature, ()):
                evidence.setdefault(i, mentions[i])
            if len(evidence) >= MAX_EVIDENCE:
                break
        ev = [{"concept": m.concept, "text": m.text, "start": m.start, "end": m.end}
              for m in sorted(evidence.values(), key=lambda m: (m.start, m.end))][:MAX_EVIDENCE]
        documented = bool(feats.values.get("nms:documented"))
        return NoteScore(
            note_id=note_id,
            person_id=person_id,
            score=round(prob, 6),
            flagged=prob >= self.model.threshold or documented,
            criteria_points=feats.criteria.points,
            nms_history=bool(feats.values.get("past_nms")),
            evidence=ev,
            contributions={k: round(v, 4) for k, v in list(contrib.items())[:MAX_CONTRIBUTIONS]},
            criteria_items=feats.criteria.items,
            note_datetime=note_datetime,
            nms_documented=documented,
        )

    def __call__(self, text: str, note_id: str | None = None, person_id: str | None = None,
                 note_datetime: str | None = None) -> tuple[NoteScore, list[Mention]]:
        mentions = self.extractor(text, note_id)
        return self.score_mentions(mentions, note_id, person_id, note_datetime), mentions

    def describe(self) -> dict[str, Any]:
        return {"model_sha256": self.model.meta.get("model_sha256"), "threshold": self.model.threshold}
