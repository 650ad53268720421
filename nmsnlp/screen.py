"""Screening: notes in, per-note scores (contract section 2) and mentions out, in input order."""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import NoteError
from .io import NoteRecord
from .score import NoteScore, Scorer

log = logging.getLogger(__name__)

SCORE_COLUMNS = ["note_id", "person_id", "score", "flagged", "criteria_points", "nms_history", "evidence", "error",
                 "contributions", "criteria_items"]


@dataclass
class ScreenResult:
    score: NoteScore
    mentions: list[Any]
    source: str


def score_records(records: Iterable[NoteRecord], scorer: Scorer) -> Iterator[ScreenResult]:
    for rec in records:
        person = rec.meta.get("person_id")
        person = None if person in (None, "") else str(person)
        if rec.error:
            yield ScreenResult(NoteScore.failed(rec.note_id, person, rec.error), [], rec.source)
            continue
        try:
            score, mentions = scorer(rec.text, rec.note_id, person)  # type: ignore[arg-type]
        except NoteError as exc:
            yield ScreenResult(NoteScore.failed(rec.note_id, person, f"{rec.source}: {exc}"), [], rec.source)
            continue
        yield ScreenResult(score, mentions, rec.source)


def write_outputs(results: Iterable[ScreenResult], out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    counts = {"notes": 0, "scored": 0, "errors": 0, "flagged": 0, "mentions": 0}
    t0 = time.perf_counter()
    with (out / "scores.jsonl").open("w", encoding="utf-8") as fj, \
         (out / "scores.csv").open("w", encoding="utf-8", newline="") as fc, \
         (out / "mentions.jsonl").open("w", encoding="utf-8") as fm, \
         (out / "errors.jsonl").open("w", encoding="utf-8") as fe:
        writer = csv.DictWriter(fc, fieldnames=SCORE_COLUMNS)
        writer.writeheader()
        for res in results:
            rec = res.score.to_dict()
            counts["notes"] += 1
            fj.write(json.dumps(rec, ensure_ascii=False) + "\n")
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v for k, v in rec.items()})
            if res.score.error:
                counts["errors"] += 1
                fe.write(json.dumps({"note_id": res.score.note_id, "source": res.source, "error": res.score.error}) + "\n")
                continue
            counts["scored"] += 1
            counts["flagged"] += bool(res.score.flagged)
            for m in res.mentions:
                fm.write(json.dumps(m.to_dict(), ensure_ascii=False) + "\n")
            counts["mentions"] += len(res.mentions)
    counts["seconds"] = round(time.perf_counter() - t0, 2)
    return counts
