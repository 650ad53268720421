"""Fitting the suspicion-score model on scored notes, and choosing its threshold.

    Pipeline([("vectorize", DictVectorizer(sparse=False)), ("classify", LogisticRegression(...))])

The logistic regression is sign-constrained: every feature has a direction (features.FEATURE_DIRECTION),
and its coefficient is bounded to it (>= 0 for evidence for NMS, <= 0 for evidence against, free for
neutral features), so evidence for NMS can never lower a note's score nor evidence against raise it. It
minimises scikit-learn's own objective (0.5 |w|^2 + C * log-loss) with L-BFGS-B under those bounds, and
the result is stored in a stock LogisticRegression, so the saved model is a plain scikit-learn Pipeline.

The threshold is the highest that keeps sensitivity >= TARGET_SENSITIVITY on the notes it is chosen on
(cross-validated scores of the notes that do not document NMS). The corpus-driven `nmsnlp train` is in
nmsnlp.evaluation.
"""

from __future__ import annotations

import hashlib
import platform

import numpy as np
import sklearn
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from .features import FEATURE_DIRECTION, FEATURE_SCHEMA_VERSION
from .model import Model

TARGET_SENSITIVITY = 0.95


C = 0.5


def make_pipeline(seed: int = 0) -> Pipeline:
    return Pipeline(
        [
            ("vectorize", DictVectorizer(sparse=False, sort=True)),
            ("classify", LogisticRegression(C=C, max_iter=5000, random_state=seed)),
        ]
    )


def fit_sign_constrained(x: np.ndarray, y: np.ndarray, directions: np.ndarray, c: float = C) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of L2 logistic regression whose coefficient j has the sign directions[j]
    (+1: >= 0, -1: <= 0, 0: free)."""
    from scipy.optimize import minimize

    s = np.where(y == 1, 1.0, -1.0)

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        margin = s * (x @ w + b)
        loss = np.logaddexp(0.0, -margin)
        g = -s * np.exp(-np.logaddexp(0.0, margin))  # d loss / d z
        return 0.5 * float(w @ w) + c * float(loss.sum()), np.append(w + c * (x.T @ g), c * g.sum())

    bounds = [(0.0, None) if d > 0 else (None, 0.0) if d < 0 else (None, None) for d in directions] + [(None, None)]
    result = minimize(objective, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 20000, "ftol": 1e-12, "gtol": 1e-8})
    return result.x[:-1], float(result.x[-1])


def constrained_pipeline(train_x: list[dict[str, float]], train_y: list[int], direction: dict[str, int],
                         seed: int = 0) -> Pipeline:
    """make_pipeline fitted with the coefficient signs of `direction` (feature -> +1, -1 or 0)."""
    pipeline = make_pipeline(seed)
    vec: DictVectorizer = pipeline.named_steps["vectorize"]
    x = vec.fit_transform(train_x)
    names = vec.get_feature_names_out()
    w, b = fit_sign_constrained(np.asarray(x, dtype=float), np.asarray(train_y),
                                np.array([direction.get(str(n), 0) for n in names]))
    clf: LogisticRegression = pipeline.named_steps["classify"]
    clf.classes_ = np.array([0, 1])
    clf.coef_ = w.reshape(1, -1)
    clf.intercept_ = np.array([b])
    clf.n_features_in_ = len(names)
    clf.n_iter_ = np.array([0], dtype=np.int32)
    return pipeline


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


def fit(train_x: list[dict[str, float]], train_y: list[int], threshold: float, seed: int = 0) -> Model:
    """A sign-constrained model fitted on the training rows, with the given threshold."""
    model = Model(constrained_pipeline(train_x, train_y, FEATURE_DIRECTION, seed), threshold)
    model.meta = {"feature_schema_version": FEATURE_SCHEMA_VERSION, "seed": seed, "library_versions": library_versions()}
    return model


def undocumented_threshold(y: list[int], scores: list[float], documented: list[bool]) -> float:
    """The threshold for the notes that do not document NMS (those are flagged by `nms_documented`
    whatever their score): the highest with sensitivity >= TARGET_SENSITIVITY among them."""
    keep = ~np.array(documented, dtype=bool)
    return threshold_for_sensitivity(np.array(y)[keep], np.array(scores)[keep])


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
