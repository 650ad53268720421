"""The two lists a person opens: the ranked screening list and the patient list (CSV).

The screening list is one flat table, a row per flagged note by rank: the note type, the score and the
threshold it was flagged at (or `nms_documented`), and the score's top reasons in plain words
(nmsnlp.outputs.reasons), each of the first REASONS_WITH_SNIPPETS with a short snippet of the note around
its evidence. The snippets come from the run's input, re-read for the flagged notes only; when it cannot be
re-read (a database input, a moved file) a snippet is the evidence text alone.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path
from typing import Any

from .index import ScoreIndex, _decode
from .tables import safe_row

log = logging.getLogger(__name__)

REASONS_WITH_SNIPPETS = 3
TOP_REASONS = 6
SNIPPET_CONTEXT = 50
SCREENING_COLUMNS = ["rank", "note_id", "person_id", "note_datetime", "note_title", "score", "threshold", "flagged_by",
                     "criteria_points", "nms_history", "nms_documented", "top_evidence",
                     *(f"{k}_{i}" for i in range(1, REASONS_WITH_SNIPPETS + 1) for k in ("reason", "snippet"))]
PATIENT_COLUMNS = ["person_id", "notes", "max_score", "flagged_notes", "first_flagged_datetime",
                   "last_flagged_datetime", "past_nms", "max_criteria_points"]


def write_screening_list(index: ScoreIndex, out: Path, threshold: float | None = None) -> None:
    """screening_list.csv from the run's index, with the mentions in out/mentions.jsonl and the note text
    re-read from the input the run's manifest records. `threshold` defaults to that of the model the
    manifest names (the shipped one, or a folder given to `nmsnlp screen --model`)."""
    from ..extraction.rules import default_patterns_dir, load_concepts
    from .reasons import explain, merged
    from .runfiles import mention_runs, mentions_for, run_model

    cols = ", ".join(f'"{f.name}"' for f in index.fields)
    flagged = [(int(row[0]), {f.name: _decode(f.kind, v) for f, v in zip(index.fields, row[1:])})
               for row in index.db.execute(f"select seq, {cols} from s where flagged = 1 order by score desc, seq")]
    manifest = _manifest(index)
    if threshold is None:
        threshold = run_model(manifest)[1]
    runs = mention_runs(out / "mentions.jsonl", {str(r["note_id"]) for _, r in flagged}) if flagged else {}
    texts = _texts(manifest, [seq for seq, _ in flagged])
    # only the drug classes of concepts.json: the whole rule set would be read and validated (spaCy's token
    # pattern schema imports spaCy) in a process that otherwise never needs the pipeline
    classes = load_concepts(default_patterns_dir() / "concepts.json")[1]
    used: dict[str, set[int]] = {}
    tmp = out / "screening_list.csv.tmp"
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SCREENING_COLUMNS)
        for rank, (seq, rec) in enumerate(flagged, 1):
            key = str(rec["note_id"])
            mentions = mentions_for(rec, runs.get(key), used.setdefault(key, set()))
            reasons = [r for r in merged(explain(mentions, rec["contributions"] or {}, classes)) if r.contribution > 0]
            text = texts.get(seq)
            if text is not None and any(text[m["start"]:m["end"]] != m["text"] for m in mentions):
                text = None  # not the note the run read: no context rather than the wrong context
            cells: list[Any] = []
            for r in reasons[:REASONS_WITH_SNIPPETS]:
                cells += [r.words, _snippet(text, [mentions[i] for i in r.mentions])]
            cells += [""] * (2 * REASONS_WITH_SNIPPETS - len(cells))
            score = rec["score"]
            by_score = threshold is not None and score is not None and score >= threshold
            flagged_by = ("score and documented" if by_score and rec["nms_documented"] else
                          "documented" if rec["nms_documented"] else "score")
            w.writerow(safe_row([rank, rec["note_id"], rec["person_id"], rec["note_datetime"], rec["note_title"] or "",
                        f"{score:.4f}", "" if threshold is None else f"{threshold:.4f}", flagged_by,
                        rec["criteria_points"], bool(rec["nms_history"]), bool(rec["nms_documented"]),
                        "; ".join(r.words for r in reasons[:TOP_REASONS]), *cells]))
    os.replace(tmp, out / "screening_list.csv")


def _manifest(index: ScoreIndex) -> dict[str, Any]:
    """What the run records about its model and input: the manifest beside the index while a run is
    assembled (or run.json of the folder)."""
    for path in (index.path.parent / "manifest.json", index.path.parent / "run.json"):
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(found, dict):
            return found
    return {}


def _texts(manifest: dict[str, Any], seqs: list[int]) -> dict[int, str]:
    """The text of the given input rows, re-read from a file or folder input; nothing for a database input
    (the query is not run twice) or an input that cannot be read again."""
    from ..errors import NmsnlpError
    from .runfiles import input_source, read_texts

    described = manifest.get("input") or {}
    if not seqs or described.get("type") in (None, "database"):
        return {}
    try:
        source = input_source(manifest, verify=False)
        return {seq: rec.text for seq, rec in read_texts(source, seqs).items() if rec.text is not None}
    except (NmsnlpError, OSError) as exc:
        log.warning("screening list: cannot re-read the input for snippets (%s); snippets hold the evidence only",
                    type(exc).__name__)
        return {}


def _snippet(text: str | None, mentions: list[dict[str, Any]]) -> str:
    """The note around the first mention of a reason, the mention in [brackets], on one line; without the
    text, the mentions' own text."""
    if not mentions:
        return ""
    if text is None:
        return " ... ".join(dict.fromkeys(" ".join(m["text"].split()) for m in mentions[:3]))
    m = mentions[0]
    a, b = max(0, m["start"] - SNIPPET_CONTEXT), min(len(text), m["end"] + SNIPPET_CONTEXT)
    while a > 0 and not text[a - 1].isspace() and m["start"] - a < SNIPPET_CONTEXT + 15:
        a -= 1
    while b < len(text) and not text[b].isspace() and b - m["end"] < SNIPPET_CONTEXT + 15:
        b += 1
    body = text[a:m["start"]] + "[" + text[m["start"]:m["end"]] + "]" + text[m["end"]:b]
    return ("..." if a > 0 else "") + " ".join(body.split()) + ("..." if b < len(text) else "")


def write_patients(index: ScoreIndex, out: Path) -> int:
    tmp = out / "patients.csv.tmp"
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(PATIENT_COLUMNS)
        for pid, notes, best, flagged, first, last, past, pts in index.patients():
            n += 1
            w.writerow(safe_row([pid, notes, "" if best is None else f"{best:.4f}", flagged, first or "", last or "", bool(past),
                        "" if pts is None else pts]))
    os.replace(tmp, out / "patients.csv")
    return n
