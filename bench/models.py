"""Model candidates compared with patient-grouped cross-validation on the corpus's train and dev splits.

    python bench/models.py [--folds 5] [--boot 1000]

Candidates (each fitted on the training folds only; augmentation copies are made from training folds):
  lr            unconstrained logistic regression (scikit-learn, C=0.5)
  lr_signs      sign-constrained logistic regression (features.FEATURE_DIRECTION), the shipped kind
  lr_signs_aug  the same, trained with terse and unnamed copies of the named cases (what `nmsnlp train` does)
  hgb_mono      HistGradientBoosting with monotonic_cst from FEATURE_DIRECTION, Platt-calibrated (5-fold inner CV)

For each: out-of-fold AUROC over all notes, over the genre notes (W7-W11), and current episodes that never
name NMS against all negatives, each with a 95% patient-level bootstrap interval. The test split is not used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    from nmsnlp.evaluation.corpus import load_corpus
    from nmsnlp.evaluation.evaluate import prepare, terse_copy, unnamed_copy
    from nmsnlp.extraction.extractor import Extractor
    from nmsnlp.extraction.pipeline import drug_classes
    from nmsnlp.scoring.features import FEATURE_DIRECTION
    from nmsnlp.scoring.training import constrained_pipeline, make_pipeline

    ex = Extractor()
    classes = drug_classes(ex.nlp)
    corp = load_corpus(ROOT / "corpora")
    data = prepare(corp.split("train") + corp.split("dev"), ex)
    y = np.array([s.y for s in data])
    groups = np.array([s.note["person_id"] for s in data])
    genre = np.array([s.note["genre"] not in ("clinical_note", "terse") for s in data])
    unnamed = np.array([s.note["category"] == "unnamed_features" for s in data])

    def augmented(idx: np.ndarray) -> tuple[list[dict[str, float]], list[int]]:
        xs = [data[i].features for i in idx]
        ys = [int(y[i]) for i in idx]
        named = [data[i] for i in idx if data[i].y and data[i].documented]
        return xs + [terse_copy(s, classes) for s in named] + [unnamed_copy(s, classes) for s in named], \
            ys + [1] * (2 * len(named))

    def fit_predict(name: str, tr: np.ndarray, te: np.ndarray) -> np.ndarray:
        xs, ys = ([data[i].features for i in tr], [int(y[i]) for i in tr]) if name != "lr_signs_aug" else augmented(tr)
        test_x = [data[i].features for i in te]
        if name == "lr":
            pipe = make_pipeline().fit(xs, ys)
        elif name in ("lr_signs", "lr_signs_aug"):
            pipe = constrained_pipeline(xs, ys, FEATURE_DIRECTION)
        else:
            vec = DictVectorizer(sparse=False, sort=True)
            x = vec.fit_transform(xs)
            cst = [FEATURE_DIRECTION.get(str(n), 0) for n in vec.get_feature_names_out()]
            hgb = HistGradientBoostingClassifier(monotonic_cst=cst, max_iter=200, learning_rate=0.1, random_state=0)
            cal = CalibratedClassifierCV(hgb, method="sigmoid", cv=5).fit(x, ys)
            return cal.predict_proba(vec.transform(test_x))[:, 1]
        return pipe.predict_proba(test_x)[:, 1]

    rng = np.random.default_rng(0)
    persons = np.unique(groups)
    by_person = {p: np.flatnonzero(groups == p) for p in persons}

    def boot_auc(p: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
        point = roc_auc_score(y[mask], p[mask])
        stats = []
        for _ in range(args.boot):
            pick = np.concatenate([by_person[q] for q in rng.choice(persons, len(persons))])
            pick = pick[mask[pick]]
            if len(set(y[pick])) == 2:
                stats.append(roc_auc_score(y[pick], p[pick]))
        lo, hi = np.percentile(stats, [2.5, 97.5])
        return point, lo, hi

    print(f"{len(data)} train+dev notes ({int(y.sum())} current NMS, {int(genre.sum())} genre notes, "
          f"{int(unnamed.sum())} never naming NMS), {args.folds}-fold cross-validation grouped by patient")
    print(f"{'candidate':14}{'AUROC all':>24}{'AUROC genre notes':>26}{'AUROC unnamed vs negatives':>30}")
    for name in ("lr", "lr_signs", "lr_signs_aug", "hgb_mono"):
        oof = np.zeros(len(data))
        for tr, te in GroupKFold(args.folds).split(np.zeros(len(data)), y, groups):
            oof[te] = fit_predict(name, tr, te)
        cells = []
        for mask in (np.ones(len(data), bool), genre, unnamed | (y == 0)):
            a, lo, hi = boot_auc(oof, mask)
            cells.append(f"{a:.3f} [{lo:.3f}, {hi:.3f}]")
        print(f"{name:14}{cells[0]:>24}{cells[1]:>26}{cells[2]:>30}")
    print("command: python bench/models.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
