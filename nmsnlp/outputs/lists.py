"""The two lists a person opens: the ranked screening list and the patient list (CSV)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from .index import ScoreIndex

SCREENING_COLUMNS = ["rank", "note_id", "person_id", "note_datetime", "score", "criteria_points", "nms_history",
                     "nms_documented", "top_evidence"]
PATIENT_COLUMNS = ["person_id", "notes", "max_score", "flagged_notes", "first_flagged_datetime",
                   "last_flagged_datetime", "past_nms", "max_criteria_points"]


def write_screening_list(index: ScoreIndex, out: Path) -> None:
    tmp = out / "screening_list.csv.tmp"
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SCREENING_COLUMNS)
        for rank, rec in enumerate(index.flagged(), 1):
            snippets = "; ".join(f"{e['text']} [{e['concept']}]" for e in rec["evidence"][:6])
            w.writerow([rank, rec["note_id"], rec["person_id"], rec["note_datetime"], f"{rec['score']:.4f}",
                        rec["criteria_points"], bool(rec["nms_history"]), bool(rec["nms_documented"]), snippets])
    os.replace(tmp, out / "screening_list.csv")


def write_patients(index: ScoreIndex, out: Path) -> int:
    tmp = out / "patients.csv.tmp"
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(PATIENT_COLUMNS)
        for pid, notes, best, flagged, first, last, past, pts in index.patients():
            n += 1
            w.writerow([pid, notes, "" if best is None else f"{best:.4f}", flagged, first or "", last or "", bool(past),
                        "" if pts is None else pts])
    os.replace(tmp, out / "patients.csv")
    return n
