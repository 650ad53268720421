"""Out-of-fold errors on the training notes: where to look for rule gaps without touching the test split.

    python bench/cv_errors.py [--corpus corpora] [--show 40]

Scores every train+dev note with a model fitted on the other folds (5-fold cross-validation grouped by
patient, the same fitting and threshold rule as `nmsnlp train`), flags it as `nmsnlp screen` would (score
at or over the cross-validated threshold, or `nms_documented`), and prints sensitivity and specificity by
genre, then the misjudged notes with their largest feature contributions. The test split is never read.
The notes are the project's synthetic corpus, so printing their ids and features exposes no patient.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from common import ROOT


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpora")
    ap.add_argument("--show", type=int, default=40, help="how many misjudged notes to list")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from nmsnlp.evaluation import corpus as corpus_mod
    from nmsnlp.evaluation.evaluate import cross_validated_scores, prepare
    from nmsnlp.extraction.extractor import Extractor
    from nmsnlp.extraction.pipeline import drug_classes
    from nmsnlp.scoring.training import undocumented_threshold

    ex = Extractor()
    corp = corpus_mod.load_corpus(args.corpus)
    pool = prepare(corp.split("train") + corp.split("dev"), ex)
    oof = cross_validated_scores(pool, drug_classes(ex.nlp))
    threshold = undocumented_threshold([s.y for s in pool], oof.tolist(), [s.documented for s in pool])
    by_genre: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # positives, flagged, negatives, passed
    errors = []
    for s, p in zip(pool, oof):
        flagged = bool(p >= threshold or s.documented)
        row = by_genre[s.note["genre"]]
        if s.y:
            row[0] += 1
            row[1] += flagged
        else:
            row[2] += 1
            row[3] += not flagged
        if flagged != bool(s.y):
            errors.append((s, float(p)))
    print(f"{len(pool)} train+dev notes, 5-fold patient-grouped CV, threshold {threshold:.3f}")
    print(f"{'genre':24}{'sensitivity':>14}{'specificity':>14}")
    for genre, (pos, tp, neg, tn) in sorted(by_genre.items()):
        print(f"{genre:24}{f'{tp}/{pos}':>14}{f'{tn}/{neg}':>14}")
    pos = sum(r[0] for r in by_genre.values())
    neg = sum(r[2] for r in by_genre.values())
    sens = sum(r[1] for r in by_genre.values()) / max(pos, 1)
    spec = sum(r[3] for r in by_genre.values()) / max(neg, 1)
    print(f"{'all':24}{sens:14.3f}{spec:14.3f}")
    print(f"{len(errors)} misjudged notes (note, label / category, out-of-fold score, documented, its first features):")
    for s, p in sorted(errors, key=lambda e: e[0].note["note_id"])[: args.show]:
        top = sorted(((k, v) for k, v in s.features.items() if v), key=lambda kv: -abs(kv[1]))[:6]
        print(f"  {s.note['note_id']:10} {s.note['label']}/{s.note['category']:24} {p:.3f} "
              f"{'documented' if s.documented else '':10} {', '.join(k for k, _ in top)}")
    print("command: python bench/cv_errors.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
