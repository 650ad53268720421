"""The suspicion-score model: a stock scikit-learn Pipeline over feature dicts, saved with skops.

    Pipeline([("vectorize", DictVectorizer(sparse=False)), ("classify", LogisticRegression(...))])

Trained on the corpus's train split (label nms_current = 1); the threshold is the highest that keeps
sensitivity >= 0.95 on the dev split. The file models/nmsnlp-model.skops is loaded only with the
package's reviewed list of trusted types (trust.py); metadata (feature schema version,
threshold, training-data hash, library versions, evaluation figures) sit in models/nmsnlp-model.json.
No pickle or joblib anywhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from ..errors import ModelLoadError
from ..resources import data_dir
from .features import FEATURE_DIRECTION, FEATURE_SCHEMA_VERSION, FEATURES
from .trust import PROVENANCE_KINDS, SHIPPED_MODEL_SHA256, TRUSTED_TYPES

log = logging.getLogger(__name__)

MODEL_FILE = "nmsnlp-model.skops"
META_FILE = "nmsnlp-model.json"


def default_models_dir() -> Path:
    found = data_dir("models", META_FILE)
    if found is None:
        raise ModelLoadError(f"no models/ folder with {META_FILE} in nmsnlp; reinstall nmsnlp or pass --model")
    return found


@dataclass
class Model:
    pipeline: Pipeline
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def positive_index(self) -> int:
        return int(list(self.pipeline.classes_).index(1))

    def predict_proba(self, feature_dicts: list[dict[str, float]]) -> np.ndarray:
        return self.pipeline.predict_proba(feature_dicts)[:, self.positive_index]

    def score_one(self, features: dict[str, float]) -> float:
        """predict_proba for one note without scikit-learn's per-call overhead: the logistic function of
        the decision value, from the fitted vocabulary and coefficients (equal to predict_proba)."""
        vec: DictVectorizer = self.pipeline.named_steps["vectorize"]
        clf: LogisticRegression = self.pipeline.named_steps["classify"]
        coef = clf.coef_[0]
        z = float(clf.intercept_[0]) + sum(float(coef[j]) * v for k, v in features.items() if (j := vec.vocabulary_.get(k)) is not None)
        p1 = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        return p1 if self.positive_index == 1 else 1.0 - p1

    def contributions(self, features: dict[str, float]) -> dict[str, float]:
        """Each feature's additive share of the log-odds: coefficient x value (intercept left out)."""
        vec: DictVectorizer = self.pipeline.named_steps["vectorize"]
        clf: LogisticRegression = self.pipeline.named_steps["classify"]
        coef = clf.coef_[0] if self.positive_index == 1 else -clf.coef_[0]
        out = {}
        for name, value in features.items():
            j = vec.vocabulary_.get(name)
            if j is not None and value:
                out[name] = float(coef[j] * value)
        return dict(sorted(out.items(), key=lambda kv: -abs(kv[1])))

    def save(self, folder: Path) -> None:
        from skops.io import dump

        folder.mkdir(parents=True, exist_ok=True)
        dump(self.pipeline, folder / MODEL_FILE)
        _normalize_zip(folder / MODEL_FILE)
        self.meta["model_sha256"] = hashlib.sha256((folder / MODEL_FILE).read_bytes()).hexdigest()
        self.meta["threshold"] = self.threshold
        (folder / META_FILE).write_text(json.dumps(self.meta, indent=2, sort_keys=True) + "\n")


def _normalize_zip(path: Path) -> None:
    """Rewrite a skops zip with fixed timestamps and member order, so the same model gives the same bytes."""
    import zipfile

    with zipfile.ZipFile(path) as zin:
        files = {info.filename: zin.read(info.filename) for info in zin.infolist()}
    # skops names objects and array files by id(): renumber them in a fixed traversal order
    schema = json.loads(files.pop("schema.json"))
    mapping: dict[str, str] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key in sorted(node):
                value = node[key]
                if key == "__id__" and isinstance(value, int):
                    value = int(mapping.setdefault(str(value), str(len(mapping) + 1)))
                elif key == "file" and isinstance(value, str) and value.endswith(".npy") and value[:-4].isdigit():
                    value = mapping.setdefault(value[:-4], str(len(mapping) + 1)) + ".npy"
                else:
                    value = renumber(value)
                out[key] = value
            return out
        if isinstance(node, list):
            return [renumber(v) for v in node]
        return node

    schema = renumber(schema)
    members = sorted(
        [(mapping[name[:-4]] + ".npy" if name[:-4] in mapping else name, data) for name, data in files.items()]
        + [("schema.json", json.dumps(schema, sort_keys=True).encode())]
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)


def load_model(folder: str | Path | None = None) -> Model:
    """Load a model folder (default: the shipped one), trusting only the package's reviewed types.

    Refused, each with a one-line reason: a missing or malformed file; a file built for another feature
    schema; a file whose SHA-256 differs from its metadata; the shipped folder with any other file than
    the pinned one; a local folder without provenance; a file holding types the package does not trust;
    coefficients that break the declared signs (trust.py)."""
    from skops.io import get_untrusted_types, load

    shipped = folder is None or Path(folder).resolve() == default_models_dir().resolve()
    folder = Path(folder) if folder else default_models_dir()
    meta_path, model_path = folder / META_FILE, folder / MODEL_FILE
    for p in (meta_path, model_path):
        if not p.is_file():
            raise ModelLoadError(f"{p}: missing; train one with `nmsnlp train` or reinstall nmsnlp")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{meta_path}: not valid JSON metadata ({type(exc).__name__})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("threshold"), (int, float)):
        raise ModelLoadError(f"{meta_path}: metadata without a numeric threshold")
    if meta.get("feature_schema_version") != FEATURE_SCHEMA_VERSION:
        raise ModelLoadError(
            f"{model_path}: built for feature schema {meta.get('feature_schema_version')!r}, but this nmsnlp "
            f"computes schema {FEATURE_SCHEMA_VERSION!r}; retrain with `nmsnlp train`"
        )
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    if meta.get("model_sha256") != digest:
        raise ModelLoadError(f"{model_path}: its SHA-256 does not match {meta_path.name}; the file was changed or replaced")
    if shipped and SHIPPED_MODEL_SHA256 and digest != SHIPPED_MODEL_SHA256:
        raise ModelLoadError(f"{model_path}: not the model this nmsnlp ships (SHA-256 {digest[:12]}...); reinstall nmsnlp")
    provenance = meta.get("provenance")
    if not shipped and not (isinstance(provenance, dict) and provenance.get("kind") in PROVENANCE_KINDS):
        raise ModelLoadError(f"{meta_path}: a local model must record its provenance ({'/'.join(PROVENANCE_KINDS)}); "
                             "make it with `nmsnlp train` or `nmsnlp calibrate`")
    try:
        untrusted = get_untrusted_types(file=model_path)
    except Exception as exc:
        raise ModelLoadError(f"{model_path}: not a skops model file ({type(exc).__name__})") from exc
    unreviewed = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unreviewed:
        raise ModelLoadError(f"{model_path}: holds types this nmsnlp does not trust: {unreviewed[:5]}")
    try:
        pipeline = load(model_path, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise ModelLoadError(f"{model_path}: cannot be loaded ({type(exc).__name__})") from exc
    if not isinstance(pipeline, Pipeline) or set(pipeline.named_steps) != {"vectorize", "classify"}:
        raise ModelLoadError(f"{model_path}: holds a {type(pipeline).__name__}, not nmsnlp's scikit-learn Pipeline")
    vec, clf = pipeline.named_steps["vectorize"], pipeline.named_steps["classify"]
    if not isinstance(vec, DictVectorizer) or not isinstance(clf, LogisticRegression):
        raise ModelLoadError(f"{model_path}: its steps are not a DictVectorizer and a LogisticRegression")
    names = [str(n) for n in vec.get_feature_names_out()]
    unknown = set(names) - set(FEATURES)
    if unknown:
        raise ModelLoadError(f"{model_path}: uses features this nmsnlp does not compute: {sorted(unknown)[:5]}")
    broken = [n for n, c in zip(names, clf.coef_[0]) if c * FEATURE_DIRECTION[n] < -1e-9]
    if broken:
        raise ModelLoadError(f"{model_path}: coefficients break the declared signs of {len(broken)} features "
                             f"(e.g. {broken[0]}); the model was edited or not made by nmsnlp")
    return Model(pipeline, float(meta["threshold"]), meta)
