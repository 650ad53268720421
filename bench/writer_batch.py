"""A writer batch scored as unseen text: the shipped rules and model on labelled notes they never saw.

    python bench/writer_batch.py BATCH.jsonl [BATCH.jsonl ...]

Each file holds notes in the corpus schema (note_id, person_id, text, label, category, genre, ...), as a
writer delivers them before they join `corpora/notes/`. Every note is scored as `nmsnlp screen` would
(flagged: score at or over the model's threshold, or `nms_documented`); prints sensitivity for
`nms_current` and specificity for the rest, per file and per genre, and the misjudged notes with their
score and largest contributions. Score a batch here once, before its errors are used for rules or it
joins the corpus: after that its figure is no longer an unseen one. The notes are synthetic, so their
ids and features may be printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from common import ROOT


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batches", type=Path, nargs="+")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from nmsnlp.scoring.scorer import Scorer

    scorer = Scorer()
    for path in args.batches:
        by_genre: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp, pos, tn, neg
        wrong = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            note = json.loads(line)
            score, _ = scorer(note["text"], note["note_id"], note.get("person_id"), note.get("note_datetime"))
            current = note["label"] == "nms_current"
            counts = by_genre[note.get("genre", "?")]
            counts[0 if current else 2] += score.flagged == current
            counts[1 if current else 3] += 1
            if score.flagged != current:
                wrong.append(f"  {'missed' if current else 'false alarm'} {note['note_id']} {note['category']}: score "
                             f"{score.score:.3f}, documented {score.nms_documented}, top {list(score.contributions)[:4]}")
        total = [sum(c[i] for c in by_genre.values()) for i in range(4)]
        print(f"{path.name}: sensitivity {total[0]}/{total[1]}, specificity {total[2]}/{total[3]}")
        for genre, c in sorted(by_genre.items()):
            print(f"  {genre:24s} sensitivity {c[0]}/{c[1]}  specificity {c[2]}/{c[3]}")
        print("\n".join(wrong))
    print("command: python bench/writer_batch.py " + " ".join(str(p) for p in args.batches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
