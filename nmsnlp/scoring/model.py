"""The suspicion-score model: a stock scikit-learn Pipeline over feature dicts, saved with skops.

    Pipeline([("vectorize", DictVectorizer(sparse=False)), ("classify", LogisticRegression(...))])

Trained on the corpus's train split (label nms_current = 1); the threshold is the highest that keeps
sensitivity >= 0.95 on the dev split. The file models/nmsnlp-model.skops is loaded only with the
package's reviewed list of trusted types (trust.py); metadata (feature schema version,
threshold, training-data hash, library versions, evaluation figures) sit in models/nmsnlp-model.json.
No pickle or joblib anywhere.

Scoring needs only the fitted vocabulary and coefficients, so `load_model` reads those straight from
the skops file (its schema.json and .npy members, with an allowlist of node types and numpy's
allow_pickle=False) without importing scikit-learn, which costs about a second per process; the
scikit-learn Pipeline itself is loaded with skops, on first use, by the commands that need it
(evaluation, recalibration).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelLoadError
from ..resources import data_dir
from .features import FEATURE_DIRECTION, FEATURE_SCHEMA_VERSION, FEATURES
from .trust import PROVENANCE_KINDS, SHIPPED_MODEL_SHA256, TRUSTED_TYPES

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

MODEL_FILE = "nmsnlp-model.skops"
META_FILE = "nmsnlp-model.json"


def default_models_dir() -> Path:
    found = data_dir("models", META_FILE)
    if found is None:
        raise ModelLoadError(f"no models/ folder with {META_FILE} in nmsnlp; reinstall nmsnlp or pass --model")
    return found


@dataclass(frozen=True)
class Linear:
    """What scoring needs of the fitted Pipeline: feature name -> column, the coefficients, the intercept
    and which class is NMS."""

    vocabulary: dict[str, int]
    coef: tuple[float, ...]
    intercept: float
    positive_index: int

    @classmethod
    def of(cls, pipeline: Pipeline) -> Linear:
        vec, clf = pipeline.named_steps["vectorize"], pipeline.named_steps["classify"]
        return cls({str(k): int(v) for k, v in vec.vocabulary_.items()}, tuple(float(c) for c in clf.coef_[0]),
                   float(clf.intercept_[0]), int(list(clf.classes_).index(1)))


class Model:
    """A fitted model: its linear form for scoring, its threshold and metadata, and (on first use of
    `pipeline`) the scikit-learn Pipeline."""

    def __init__(self, pipeline: Pipeline | None = None, threshold: float = 0.0, meta: dict[str, Any] | None = None,
                 linear: Linear | None = None, path: Path | None = None):
        if pipeline is None and (linear is None or path is None):
            raise ValueError("a Model needs a Pipeline, or its linear form and the file it came from")
        self._pipeline, self.threshold, self.meta, self.path = pipeline, threshold, meta or {}, path
        self.linear = linear if linear is not None else Linear.of(pipeline)  # type: ignore[arg-type]

    @property
    def pipeline(self) -> Pipeline:
        """The scikit-learn Pipeline (loaded with skops and the trusted types on first use)."""
        if self._pipeline is None:
            from skops.io import load

            try:
                self._pipeline = load(self.path, trusted=list(TRUSTED_TYPES))
            except Exception as exc:
                raise ModelLoadError(f"{self.path}: cannot be loaded ({type(exc).__name__})") from exc
        return self._pipeline

    @property
    def positive_index(self) -> int:
        return self.linear.positive_index

    def predict_proba(self, feature_dicts: list[dict[str, float]]) -> np.ndarray:
        return self.pipeline.predict_proba(feature_dicts)[:, self.positive_index]

    def score_one(self, features: dict[str, float]) -> float:
        """predict_proba for one note without scikit-learn: the logistic function of the decision value,
        from the fitted vocabulary and coefficients (equal to predict_proba; a test checks)."""
        lin = self.linear
        vocab, coef = lin.vocabulary, lin.coef
        z = lin.intercept + sum(coef[j] * v for k, v in features.items() if (j := vocab.get(k)) is not None)
        p1 = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        return p1 if lin.positive_index == 1 else 1.0 - p1

    def contributions(self, features: dict[str, float]) -> dict[str, float]:
        """Each feature's additive share of the log-odds: coefficient x value (intercept left out)."""
        lin = self.linear
        sign = 1.0 if lin.positive_index == 1 else -1.0
        out = {}
        for name, value in features.items():
            j = lin.vocabulary.get(name)
            if j is not None and value:
                out[name] = float(sign * lin.coef[j] * value)
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
    linear = read_linear(model_path)
    names = sorted(linear.vocabulary, key=linear.vocabulary.__getitem__)
    unknown = set(names) - set(FEATURES)
    if unknown:
        raise ModelLoadError(f"{model_path}: uses features this nmsnlp does not compute: {sorted(unknown)[:5]}")
    sign = 1.0 if linear.positive_index == 1 else -1.0
    broken = [n for n in names if sign * linear.coef[linear.vocabulary[n]] * FEATURE_DIRECTION[n] < -1e-9]
    if broken:
        raise ModelLoadError(f"{model_path}: coefficients break the declared signs of {len(broken)} features "
                             f"(e.g. {broken[0]}); the model was edited or not made by nmsnlp")
    return Model(None, float(meta["threshold"]), meta, linear, model_path)


# The node types a model file may hold: exactly those of nmsnlp's Pipeline (skops' schema names each
# node by module, class and loader); with TRUSTED_TYPES empty, nothing else is accepted.
_NODES = {
    ("builtins", "dict", "DictNode"), ("builtins", "list", "ListNode"), ("builtins", "str", "JsonNode"),
    ("builtins", "str", "TypeNode"), ("builtins", "tuple", "TupleNode"), ("numpy", "float64", "TypeNode"),
    ("numpy", "ndarray", "NdArrayNode"), ("sklearn.pipeline", "Pipeline", "ObjectNode"),
    ("sklearn.feature_extraction._dict_vectorizer", "DictVectorizer", "ObjectNode"),
    ("sklearn.linear_model._logistic", "LogisticRegression", "ObjectNode"),
}


def read_linear(model_path: Path) -> Linear:
    """The vocabulary, coefficients, intercept and classes of the skops file, read without loading it:
    its schema.json is walked (every node must be of a type in _NODES or TRUSTED_TYPES) and the arrays
    are read with numpy's allow_pickle=False, so no code in the file can run."""
    try:
        with zipfile.ZipFile(model_path) as zf:
            schema = json.loads(zf.read("schema.json"))
            members = set(zf.namelist())

            def array(node: Any) -> np.ndarray:
                name = node.get("file") if isinstance(node, dict) else None
                if node.get("__loader__") != "NdArrayNode" or name not in members:
                    raise ModelLoadError(f"{model_path}: an array of the model is missing")
                with zf.open(name) as fh:
                    return np.load(fh, allow_pickle=False)

            found: set[tuple[str, str, str]] = set()
            _walk(schema, found)
            allowed = _NODES | {(t.rpartition(".")[0], t.rpartition(".")[2], "ObjectNode") for t in TRUSTED_TYPES}
            unreviewed = sorted(f"{m}.{c}" for m, c, _ in found - allowed)
            if unreviewed:
                raise ModelLoadError(f"{model_path}: holds types this nmsnlp does not trust: {unreviewed[:5]}")
            if schema.get("__class__") != "Pipeline":
                raise ModelLoadError(f"{model_path}: holds a {schema.get('__class__')}, not nmsnlp's scikit-learn Pipeline")
            steps = {json.loads(t["content"][0]["content"]): t["content"][1]
                     for t in schema["content"]["content"]["steps"]["content"]}
            if set(steps) != {"vectorize", "classify"}:
                raise ModelLoadError(f"{model_path}: holds a Pipeline with steps {sorted(steps)}, not nmsnlp's")
            vec, clf = steps["vectorize"], steps["classify"]
            if vec.get("__class__") != "DictVectorizer" or clf.get("__class__") != "LogisticRegression":
                raise ModelLoadError(f"{model_path}: its steps are not a DictVectorizer and a LogisticRegression")
            vocab = {str(k): int(json.loads(v["content"])) for k, v in vec["content"]["content"]["vocabulary_"]["content"].items()}
            attrs = clf["content"]["content"]
            coef, intercept, classes = array(attrs["coef_"]), array(attrs["intercept_"]), array(attrs["classes_"])
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{model_path}: not a skops model file ({type(exc).__name__})") from exc
    if coef.ndim != 2 or coef.shape != (1, len(vocab)) or intercept.shape != (1,) or sorted(classes.tolist()) != [0, 1]:
        raise ModelLoadError(f"{model_path}: its coefficients do not fit its vocabulary of {len(vocab)} features")
    return Linear(vocab, tuple(float(c) for c in coef[0]), float(intercept[0]), int(classes.tolist().index(1)))


def _walk(node: Any, found: set[tuple[str, str, str]]) -> None:
    if isinstance(node, dict):
        if "__class__" in node:
            found.add((str(node.get("__module__")), str(node["__class__"]), str(node.get("__loader__"))))
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)
