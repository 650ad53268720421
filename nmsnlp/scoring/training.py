"""Fitting the suspicion-score model on scored notes, and choosing its threshold.

    Pipeline([("vectorize", DictVectorizer(sparse=False)), ("classify", LogisticRegression(...))])

The threshold is the highest that keeps sensitivity >= TARGET_SENSITIVITY on the notes it is chosen on
(the corpus's dev split). The corpus-driven `nmsnlp train` is in nmsnlp.evaluation.
"""

from __future__ import annotations

import hashlib
import platform

import numpy as np
import sklearn
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from .features import FEATURE_SCHEMA_VERSION
from .model import Model

TARGET_SENSITIVITY = 0.95


def make_pipeline(seed: int = 0) -> Pipeline:
    return Pipeline(
        [
            ("vectorize", DictVectorizer(sparse=False, sort=True)),
            ("classify", LogisticRegression(C=0.5, max_iter=5000, random_state=seed)),
        ]
    )


def threshold_for_sensitivity(y: np.ndarray, scores: np.ndarray, target: float = TARGET_SENSITIVITY) -> float:
    """The highest score threshold whose sensitivity (score >= t) reaches the target."""
    pos = np.sort(scores[y == 1])[::-1]
    if len(pos) == 0:
        raise ValueError("no positive examples to set a threshold on")
    k = int(np.ceil(target * len(pos)))  # need at least k positives at or above the threshold
    return float(pos[k - 1])


def data_hash(rows: list[tuple[str, str, int]]) -> str:
    h = hashlib.sha256()
    for note_id, text, label in sorted(rows):
        h.update(f"{note_id}\x1f{label}\x1f{text}\x1e".encode())
    return h.hexdigest()


def fit(train_x: list[dict[str, float]], train_y: list[int], dev_x: list[dict[str, float]], dev_y: list[int],
        seed: int = 0) -> Model:
    """A model fitted on the training notes, with its threshold set on the dev notes."""
    pipeline = make_pipeline(seed)
    pipeline.fit(train_x, train_y)
    model = Model(pipeline, 0.5)
    model.threshold = threshold_for_sensitivity(np.array(dev_y), model.predict_proba(dev_x))
    model.meta = {"feature_schema_version": FEATURE_SCHEMA_VERSION, "seed": seed, "n_train": len(train_y),
                  "n_train_positive": int(sum(train_y)), "library_versions": library_versions()}
    return model


def library_versions() -> dict[str, str]:
    import medspacy
    import skops
    import spacy

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "spacy": spacy.__version__,
        "medspacy": medspacy.__version__,
        "numpy": np.__version__,
    }
