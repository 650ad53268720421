"""The annotated corpus in corpora/: notes, mention gold, the fixed patient-level split, and counts.

    python -m nmsnlp.evaluation.corpus counts      # print the counts tables of corpora/README.md
    python -m nmsnlp.evaluation.corpus readme      # rewrite those tables in corpora/README.md

The split lives in corpora/splits.csv (person_id,split) and is fixed: it was drawn once by
`draw_split` (seeded, stratified by each patient's strongest label) and is never redrawn, so
figures stay comparable. A patient's notes never straddle splits.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABELS = ("nms_current", "nms_history", "negative")
CATEGORIES = {
    "named_confirmed": "nms_current",
    "named_probable": "nms_current",
    "unnamed_features": "nms_current",
    "history_only": "nms_history",
    "rechallenge_after_nms": "nms_history",
    **{
        c: "negative"
        for c in (
            "mimic_serotonin", "mimic_mh", "mimic_heatstroke", "mimic_sepsis", "mimic_meningitis_encephalitis",
            "mimic_anticholinergic", "mimic_withdrawal", "mimic_catatonia", "mimic_lithium", "mimic_stimulant",
            "mimic_eps_dystonia", "mimic_parkinsonism_no_fever", "ruled_out", "hypothetical_precaution",
            "negated_screen", "exposed_no_nms", "unrelated",
        )
    },
}
NOTE_TYPES = (
    "ed_provider_note", "icu_progress_note", "admission_hp", "discharge_summary", "psychiatry_progress_note",
    "cl_psychiatry_consult", "nursing_shift_note", "pharmacy_consult", "neurology_consult",
    "movement_disorders_clinic", "nursing_home_transfer", "rapid_response", "anesthesia_event", "telephone_encounter",
    "case_report", "adverse_event_report", "patient_instructions", "order_set",
)
GENRES = (
    "clinical_note",  # W1-W5 and the demo: narrative and SOAP notes of the 14 clinical note types
    "terse",  # W6: problem lists, sign-outs, coding summaries, addenda with little bedside detail
    "template_checklist", "nursing_parameters", "med_rec_flowsheet", "order_set", "discharge_instructions",
    "adr_report", "diagnosis_list", "followup", "case_narrative",  # W7-W11: docs/briefs/genre_writer.md
)
NOTE_FIELDS = ("note_id", "person_id", "note_datetime", "note_type", "genre", "text", "label", "category", "evidence")
SPLITS = ("train", "dev", "test")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "corpora"


@dataclass(frozen=True)
class Corpus:
    notes: list[dict[str, Any]]
    splits: dict[str, str]  # person_id -> split

    def split(self, name: str) -> list[dict[str, Any]]:
        return [n for n in self.notes if self.splits.get(n["person_id"]) == name]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_notes(root: Path = DEFAULT_DIR) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = []
    for path in sorted((root / "notes").glob("*.jsonl")):
        notes.extend(read_jsonl(path))
    return notes


def load_gold(root: Path = DEFAULT_DIR) -> list[dict[str, Any]]:
    gold: list[dict[str, Any]] = []
    for path in sorted((root / "gold").glob("*.jsonl")):
        gold.extend(read_jsonl(path))
    return gold


def load_splits(root: Path = DEFAULT_DIR) -> dict[str, str]:
    with (root / "splits.csv").open(encoding="utf-8", newline="") as fh:
        return {row["person_id"]: row["split"] for row in csv.DictReader(fh)}


def load_corpus(root: Path = DEFAULT_DIR) -> Corpus:
    return Corpus(load_notes(root), load_splits(root))


def _strongest(labels: list[str]) -> str:
    return next(label for label in LABELS if label in labels)


def draw_split(notes: list[dict[str, Any]], shares: tuple[float, float, float] = (0.55, 0.15, 0.30), seed: str = "nmsnlp-2026") -> dict[str, str]:
    """Patients to splits: within each stratum (strongest label of the patient), patients in a seeded
    hash order fill test, then dev, then train, by note count."""
    by_person: dict[str, list[str]] = {}
    for n in notes:
        by_person.setdefault(n["person_id"], []).append(n["label"])
    out: dict[str, str] = {}
    for stratum in LABELS:
        persons = sorted(
            (p for p, labels in by_person.items() if _strongest(labels) == stratum),
            key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).hexdigest(),
        )
        total = sum(len(by_person[p]) for p in persons)
        targets = {"test": shares[2] * total, "dev": shares[1] * total}
        filled = {"test": 0, "dev": 0}
        for p in persons:
            k = len(by_person[p])
            split = next((s for s in ("test", "dev") if filled[s] + k / 2 <= targets[s]), "train")
            if split != "train":
                filled[split] += k
            out[p] = split
    return out


def counts(notes: list[dict[str, Any]], splits: dict[str, str], gold: list[dict[str, Any]]) -> dict[str, Counter]:
    return {
        "label": Counter(n["label"] for n in notes),
        "category": Counter(n["category"] for n in notes),
        "note_type": Counter(n["note_type"] for n in notes),
        "genre": Counter(n["genre"] for n in notes),
        "split_genre": Counter(f"{splits[n['person_id']]}/{n['genre']}" for n in notes),
        "split": Counter(splits[n["person_id"]] for n in notes),
        "split_label": Counter(f"{splits[n['person_id']]}/{n['label']}" for n in notes),
        "gold": Counter({"notes": len({g["note_id"] for g in gold}), "mentions": len(gold)}),
    }


def counts_markdown(root: Path = DEFAULT_DIR) -> str:
    notes, splits, gold = load_notes(root), load_splits(root), load_gold(root)
    c = counts(notes, splits, gold)
    unnamed = c["category"]["unnamed_features"]
    lines = [
        f"{len(notes)} notes, {len({n['person_id'] for n in notes})} patients; "
        f"{c['gold']['mentions']} gold mentions in {c['gold']['notes']} notes; "
        f"{unnamed} of {c['label']['nms_current']} current-NMS notes never name NMS.",
        "",
    ]
    for key, title in (("label", "label"), ("split", "split"), ("split_label", "split / label"),
                       ("note_type", "note type"), ("genre", "genre"), ("split_genre", "split / genre"),
                       ("category", "category")):
        lines += [f"| {title} | notes |", "| --- | ---: |"]
        lines += [f"| {k} | {v} |" for k, v in sorted(c[key].items())]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


_START, _END = "<!-- counts:start -->", "<!-- counts:end -->"


def readme_counts(readme: Path) -> str:
    text = readme.read_text(encoding="utf-8")
    return text[text.index(_START) + len(_START) : text.index(_END)].strip() + "\n"


def write_readme_counts(root: Path = DEFAULT_DIR) -> None:
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(_START, 1)
    _, tail = rest.split(_END, 1)
    readme.write_text(f"{head}{_START}\n{counts_markdown(root)}{_END}{tail}", encoding="utf-8")


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "counts"
    if cmd == "counts":
        print(counts_markdown(), end="")
    elif cmd == "readme":
        write_readme_counts()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
