"""Training and evaluation on the corpus, with the three baselines of the issue, side by side.

`train` fits on the train and dev splits and sets the threshold on their cross-validated scores; `evaluate` reports on test. The test
split is used for nothing but these final figures.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from ..extraction.extractor import Extractor
from ..extraction.pipeline import drug_classes
from ..records import NMS_CONCEPTS, Mention, present
from ..scoring.criteria import criteria
from ..scoring.features import note_features
from ..scoring.model import Model
from ..scoring.training import data_hash, fit, undocumented_threshold
from ..scoring.view import as_m, ck_uln_ratio
from . import corpus as corpus_mod

KEYWORD = re.compile(r"\bNMS\b|neuroleptic\s+malignant", re.I)
SEED = 0
FOLDS = 5


@dataclass
class Scored:
    note: dict[str, Any]
    mentions: list[Mention]
    features: dict[str, float]

    @property
    def y(self) -> int:
        return int(self.note["label"] == "nms_current")

    @property
    def documented(self) -> bool:
        return bool(self.features.get("nms:documented"))


BEDSIDE = ("symptom", "lab", "vital")




def terse_copy(s: Scored, classes: dict[str, str]) -> dict[str, float]:
    """The features of a note with its bedside mentions (signs, labs, vitals) removed: what a terse note
    naming the same episode would give (training augmentation, so a named case needs no bedside detail)."""
    return note_features([m for m in s.mentions if m.category not in BEDSIDE], classes)


def unnamed_copy(s: Scored, classes: dict[str, str]) -> dict[str, float]:
    """The features of a note with every naming of NMS removed: the same episode documented without being
    named (training augmentation, so the bedside picture carries weight of its own)."""
    return note_features([m for m in s.mentions if m.concept not in NMS_CONCEPTS], classes)


def prepare(notes: list[dict[str, Any]], extractor: Extractor) -> list[Scored]:
    classes = drug_classes(extractor.nlp)
    out = []
    for n in notes:
        mentions = extractor(n["text"], n["note_id"])
        out.append(Scored(n, mentions, note_features(mentions, classes)))
    return out


def training_rows(notes: list[Scored], classes: dict[str, str]) -> tuple[list[dict[str, float]], list[int]]:
    """The feature rows a model is fitted on: every note, plus a terse and an unnamed copy of each named case."""
    named = [s for s in notes if s.y and s.documented]
    x = [s.features for s in notes] + [terse_copy(s, classes) for s in named] + [unnamed_copy(s, classes) for s in named]
    return x, [s.y for s in notes] + [1] * (2 * len(named))


def cross_validated_scores(notes: list[Scored], classes: dict[str, str], folds: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Each note's score from a model fitted on the other folds (folds grouped by patient)."""
    from sklearn.model_selection import GroupKFold

    from ..scoring.features import FEATURE_DIRECTION
    from ..scoring.training import constrained_pipeline

    out = np.zeros(len(notes))
    groups = [s.note["person_id"] for s in notes]
    for fit_idx, score_idx in GroupKFold(folds).split(np.zeros(len(notes)), groups=groups):
        x, y = training_rows([notes[i] for i in fit_idx], classes)
        pipeline = constrained_pipeline(x, y, FEATURE_DIRECTION, seed)
        out[score_idx] = pipeline.predict_proba([notes[i].features for i in score_idx])[:, 1]
    return out


def train(corpus_dir: Path, seed: int = SEED, extractor: Extractor | None = None) -> tuple[Model, dict[str, list[Scored]]]:
    """Fit on train + dev; set the threshold on their patient-grouped cross-validated scores. Test is untouched."""
    ex = extractor or Extractor()
    corp = corpus_mod.load_corpus(corpus_dir)
    data = {s: prepare(corp.split(s), ex) for s in corpus_mod.SPLITS}
    pool = data["train"] + data["dev"]
    classes = drug_classes(ex.nlp)
    oof = cross_validated_scores(pool, classes, seed=seed)
    threshold = undocumented_threshold([s.y for s in pool], oof.tolist(), [s.documented for s in pool])
    x, y = training_rows(pool, classes)
    model = fit(x, y, threshold, seed)
    n_named = len(x) - len(pool)
    model.meta |= {
        "training_data_sha256": data_hash([(s.note["note_id"], s.note["text"], s.y) for s in pool]),
        "n_train": len(pool),
        "n_train_positive": sum(s.y for s in pool),
        "n_train_terse_copies": n_named // 2,
        "n_train_unnamed_copies": n_named // 2,
        "trained_on": "train and dev splits",
        "provenance": {"kind": "trained", "corpus": str(corpus_dir.name),
                       "training_data_sha256": data_hash([(s.note["note_id"], s.note["text"], s.y) for s in pool])},
        "threshold_rule": f"highest threshold with sensitivity >= 0.95 on the {FOLDS}-fold patient-grouped "
                          f"cross-validated scores of the train+dev notes that do not document NMS "
                          f"({sum(not s.documented for s in pool)} of {len(pool)})",
    }
    return model, data


# --------------------------------------------------------------------------- metrics


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float, flag: np.ndarray | None = None) -> dict[str, float]:
    flag = p >= threshold if flag is None else flag
    tp = int((flag & (y == 1)).sum())
    fp = int((flag & (y == 0)).sum())
    fn = int((~flag & (y == 1)).sum())
    tn = int((~flag & (y == 0)).sum())
    both = len(set(y.tolist())) == 2
    return {
        "auroc": float(roc_auc_score(y, p)) if both else float("nan"),
        "auprc": float(average_precision_score(y, p)) if both else float("nan"),
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "specificity": tn / (tn + fp) if tn + fp else float("nan"),
        "ppv": tp / (tp + fp) if tp + fp else float("nan"),
        "brier": float(brier_score_loss(y, np.clip(p, 0, 1))),
        "flagged": int(flag.sum()),
        "n": len(y),
    }


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        sel = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if sel.any():
            rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(sel.sum()), "mean_score": float(p[sel].mean()),
                         "observed": float(y[sel].mean())})
    return rows


def core_features(s: Scored) -> int:
    """The 'at least 4 of 6' baseline: fever, rigidity, other extrapyramidal signs, autonomic instability,
    altered consciousness, raised CK."""
    f = s.features
    ms = [as_m(m) for m in s.mentions]
    raised_ck = ck_uln_ratio(ms) > 1 or any(m.concept == "rhabdomyolysis" and present(m) for m in ms)
    return sum([
        "sym:fever" in f or "val:temp_over_38" in f,
        "sym:rigidity" in f,
        any(f"sym:{c}" in f for c in ("tremor", "dysphagia", "sialorrhea", "dystonia", "bradykinesia", "mutism", "catatonia")),
        any(k in f for k in ("sym:autonomic_instability", "sym:diaphoresis", "sym:tachycardia", "sym:incontinence",
                             "val:bp_range_40", "val:hr_over_110")),
        "sym:altered_mental_status" in f,
        raised_ck,
    ])


def best_cutoff(y: np.ndarray, values: np.ndarray) -> float:
    """The cut-off with the highest Youden index (sensitivity + specificity - 1)."""
    best, best_j = float(values.min()), -1.0
    for t in sorted(set(values.tolist())):
        flag = values >= t
        sens = (flag & (y == 1)).sum() / max((y == 1).sum(), 1)
        spec = (~flag & (y == 0)).sum() / max((y == 0).sum(), 1)
        if sens + spec - 1 > best_j:
            best, best_j = t, sens + spec - 1
    return best


def evaluate(model: Model, data: dict[str, list[Scored]], drug_classes: dict[str, str]) -> dict[str, Any]:
    test, dev = data["test"], data["dev"]
    y = np.array([s.y for s in test])
    p = model.predict_proba([s.features for s in test])
    report: dict[str, Any] = {"split": "test", "n": len(test), "n_positive": int(y.sum())}
    flagged = (p >= model.threshold) | np.array([s.documented for s in test], dtype=bool)
    report["model"] = binary_metrics(y, p, model.threshold, flagged) | {"threshold": model.threshold}
    report["reliability"] = reliability(y, p)

    kw = np.array([1.0 if KEYWORD.search(s.note["text"]) else 0.0 for s in test])
    report["keyword"] = binary_metrics(y, kw, 0.5)
    pts = lambda ss: np.array([criteria(s.mentions, drug_classes).points for s in ss], dtype=float)  # noqa: E731
    cut = best_cutoff(np.array([s.y for s in dev]), pts(dev))
    report["criteria"] = binary_metrics(y, pts(test) / 100, cut / 100) | {"cutoff_points": cut, "cutoff_chosen_on": "dev"}
    core = np.array([core_features(s) for s in test], dtype=float)
    report["core4of6"] = binary_metrics(y, core / 6, 4 / 6)

    systems = {"model": flagged, "keyword": kw >= 0.5, "criteria": pts(test) >= cut, "core4of6": core >= 4}
    by_cat: dict[str, dict[str, int]] = {}
    for i, s in enumerate(test):
        row = by_cat.setdefault(s.note["category"], {"n": 0, **dict.fromkeys(systems, 0)})
        row["n"] += 1
        for name, flags in systems.items():
            row[name] += int(flags[i])
    report["flag_rate_by_category"] = dict(sorted(by_cat.items()))
    unnamed = [fl for s, fl in zip(test, flagged) if s.note["category"] == "unnamed_features"]
    report["recall_unnamed"] = sum(unnamed) / len(unnamed) if unnamed else float("nan")
    hist = [(fl, bool(s.features.get("past_nms"))) for s, fl in zip(test, flagged) if s.note["label"] == "nms_history"]
    report["history_flagged_rate"] = sum(f for f, _ in hist) / len(hist) if hist else float("nan")
    report["history_nms_history_rate"] = sum(h for _, h in hist) / len(hist) if hist else float("nan")
    report["errors"] = {
        "missed": sorted(s.note["note_id"] for s, fl in zip(test, flagged) if s.y and not fl),
        "false_alarms": sorted(s.note["note_id"] for s, fl in zip(test, flagged) if not s.y and fl),
    }
    report["label_counts"] = dict(Counter(s.note["label"] for s in test))
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(test):
        groups.setdefault(s.note.get("genre", "clinical_note"), []).append(i)
        groups.setdefault("first test split (clinical_note)" if s.note.get("genre", "clinical_note") == "clinical_note"
                          else "genre batch (W7-W11)", []).append(i)
    report["by_genre"] = {g: binary_metrics(y[ix], p[ix], model.threshold, flagged[ix]) | {"n_positive": int(y[ix].sum())}
                          for g, ix in sorted(groups.items())}
    return report


def format_report(r: dict[str, Any]) -> str:
    lines = [f"Test split: {r['n']} notes, {r['n_positive']} with current NMS", ""]
    head = f"{'system':34}{'AUROC':>7}{'AUPRC':>7}{'sens':>7}{'spec':>7}{'PPV':>7}{'Brier':>7}{'flagged':>9}"
    lines.append(head)
    names = {"model": f"nmsnlp model (threshold {r['model']['threshold']:.3f})",
             "keyword": "keyword 'NMS'/'neuroleptic malignant'",
             "criteria": f"consensus points >= {r['criteria']['cutoff_points']:.0f} (dev)",
             "core4of6": ">= 4 of 6 core features"}
    for key, name in names.items():
        m = r[key]
        lines.append(f"{name:34}{m['auroc']:7.3f}{m['auprc']:7.3f}{m['sensitivity']:7.3f}{m['specificity']:7.3f}"
                     f"{m['ppv']:7.3f}{m['brier']:7.3f}{m['flagged']:9d}")
    lines += ["", f"recall on notes that never name NMS: {r['recall_unnamed']:.3f}",
              f"history-only notes flagged as current: {r['history_flagged_rate']:.3f}; given nms_history: {r['history_nms_history_rate']:.3f}",
              "", "reliability (test):", f"{'bin':10}{'n':>5}{'mean score':>12}{'observed':>10}"]
    lines += [f"{b['bin']:10}{b['n']:5d}{b['mean_score']:12.3f}{b['observed']:10.3f}" for b in r["reliability"]]
    lines += ["", "flagged by category (test; recall for current-NMS categories, false alarms for the rest):",
              f"  {'category':32}{'n':>4}{'model':>7}{'keyword':>9}{'criteria':>10}{'4 of 6':>8}"]
    lines += [f"  {c:32}{v['n']:4d}{v['model']:7d}{v['keyword']:9d}{v['criteria']:10d}{v['core4of6']:8d}"
              for c, v in r["flag_rate_by_category"].items()]
    lines += ["", "by genre (test; flagged = score >= threshold or nms_documented):",
              f"  {'genre':36}{'n':>4}{'pos':>5}{'AUROC':>7}{'sens':>7}{'spec':>7}{'PPV':>7}"]
    lines += [f"  {g:36}{m['n']:4d}{m['n_positive']:5d}{m['auroc']:7.3f}{m['sensitivity']:7.3f}{m['specificity']:7.3f}"
              f"{m['ppv']:7.3f}" for g, m in r["by_genre"].items()]
    lines += ["", f"missed: {', '.join(r['errors']['missed']) or 'none'}",
              f"false alarms: {', '.join(r['errors']['false_alarms']) or 'none'}"]
    return "\n".join(lines)
