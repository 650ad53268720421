"""Chart-review decisions back into figures and into the model.

    read_adjudications(path)             the decisions exported from a review report (adjudications.jsonl)
    summarize(decisions, results, other) PPV (Wilson interval), cumulative PPV by rank, sensitivity from the
                                         unflagged sample (weighted by its sampling fraction), counts, and
                                         with a second reviewer Cohen's kappa and the disagreements
    calibrate(decisions, results, ...)   Platt scaling of the frozen model on the site's decisions, folded
                                         into the logistic regression, threshold for a target sensitivity
    train_with_extra(corpus, extra)      `nmsnlp train` on the corpus plus a site's adjudicated notes
    notes_with_decisions(...)            the decided notes' text beside their decisions (for train --extra)

Positive means "NMS, current episode" (what the screen looks for); "NMS history" and "not NMS" are
negative; "unsure" is counted and left out of every figure. The screened population has two strata: the
flagged notes (reviewed from the top of the list) and the unflagged notes (a random sample), so the
sensitivity estimate, and the calibration's sample weights, scale each stratum by its sampling fraction.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputSchemaError, NmsnlpError
from ..outputs.runfiles import (
    check_text,
    input_source,
    iter_scores,
    mention_runs,
    mentions_for,
    read_run,
    read_texts,
    write_private,
)

DECISIONS = ("nms_current", "nms_history", "not_nms", "unsure")
POSITIVE = "nms_current"
MIN_DECISIONS = 30
MIN_POSITIVES = 5
MIN_NEGATIVES = 5
Z95 = 1.959963984540054


# --------------------------------------------------------------------------- reading decisions


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every non-blank line of a JSONL file; a line that is not JSON is refused, named."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputSchemaError(f"{path.name}:{n}: not valid JSON ({exc.msg})") from exc


def read_adjudications(path: Path) -> list[dict[str, Any]]:
    """The decisions of an adjudications.jsonl export, the latest per note (by timestamp) when a note was
    decided more than once; refuses a file that is not one, naming the line."""
    if not path.is_file():
        raise InputSchemaError(f"{path}: no such file")
    latest: dict[Any, dict[str, Any]] = {}
    for n, rec in _json_lines(path):
        if not isinstance(rec, dict) or rec.get("decision") not in DECISIONS or rec.get("note_id") is None:
            raise InputSchemaError(f"{path.name}:{n}: not an adjudication record (needs note_id and a decision, "
                                   f"one of {', '.join(DECISIONS)})")
        key = (rec.get("report_id"), rec.get("row"), str(rec["note_id"]))
        if key not in latest or str(rec.get("timestamp") or "") >= str(latest[key].get("timestamp") or ""):
            latest[key] = rec
    return list(latest.values())


@dataclass
class RunNotes:
    """The notes of a results folder as the figures need them: each row's id, score, flag, and the ranks."""

    run: dict[str, Any]
    rows: dict[int, dict[str, Any]]  # input row -> {note_id, person_id, score, flagged, nms_documented, error}
    by_id: dict[str, list[int]]
    ranked: list[int]  # flagged rows, highest score first (the screening list's order)

    @property
    def n_flagged(self) -> int:
        return len(self.ranked)

    @property
    def n_unflagged(self) -> int:
        return sum(1 for r in self.rows.values() if not r["flagged"] and not r["error"])


def run_notes(results: Path) -> RunNotes:
    run = read_run(results)
    rows: dict[int, dict[str, Any]] = {}
    by_id: dict[str, list[int]] = {}
    for sr in iter_scores(results):
        r = sr.rec
        rows[sr.seq] = {"note_id": r.get("note_id"), "person_id": r.get("person_id"), "score": r.get("score"),
                        "flagged": bool(r.get("flagged")), "nms_documented": bool(r.get("nms_documented")),
                        "error": bool(r.get("error")), "evidence": r.get("evidence") or []}
        by_id.setdefault(str(r.get("note_id")), []).append(sr.seq)
    ranked = sorted((s for s, r in rows.items() if r["flagged"] and not r["error"]),
                    key=lambda s: (-(rows[s]["score"] or 0.0), s))
    return RunNotes(run, rows, by_id, ranked)


def match(decisions: list[dict[str, Any]], notes: RunNotes) -> tuple[dict[int, dict[str, Any]], int]:
    """Decisions by input row of the run: by the row the report recorded when it holds the same note id, else
    by a note id used once. Returns the matched decisions and how many matched no note of the run."""
    sha = notes.run.get("model_sha256")
    foreign = sorted({str(d["model_sha256"]) for d in decisions if d.get("model_sha256") and d["model_sha256"] != sha})
    if foreign:
        raise InputSchemaError(f"these decisions were made on a report of another run (model {foreign[0][:12]}..., "
                               f"this run's is {str(sha)[:12]}...); pass --results with the folder the report was built from")
    out: dict[int, dict[str, Any]] = {}
    unmatched = 0
    for d in sorted(decisions, key=lambda d: str(d.get("timestamp") or "")):
        row = d.get("row")
        nid = str(d["note_id"])
        if isinstance(row, int) and row in notes.rows and str(notes.rows[row]["note_id"]) == nid:
            out[row] = d
        elif len(notes.by_id.get(nid, [])) == 1:
            out[notes.by_id[nid][0]] = d
        else:
            unmatched += 1
    return out, unmatched


# --------------------------------------------------------------------------- figures


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """The proportion k/n with its Wilson score interval (nan when n is 0)."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two raters' labels (1.0 when both always give the same single label)."""
    n = len(a)
    if n == 0:
        return float("nan")
    po = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if pe == 1.0:
        return 1.0 if po == 1.0 else float("nan")
    return (po - pe) / (1 - pe)


def sensitivity_estimate(tp: int, fp: int, k_u: int, n_u: int, n_flagged: int, n_unflagged: int,
                         draws: int = 20000, seed: int = 0) -> tuple[float, float, float]:
    """Sensitivity of the flag from the two strata: flagged notes (tp of tp+fp reviewed are current NMS,
    scaled to all n_flagged) and the unflagged sample (k_u of n_u, scaled to all n_unflagged):

        sens = ppv * n_flagged / (ppv * n_flagged + p_u * n_unflagged)

    with a 95% interval from draws of the two proportions under Jeffreys priors, Beta(k + 1/2, n - k + 1/2)
    (sound when a stratum has no positives, where the bootstrap would give a zero-width interval)."""
    if tp + fp == 0 or n_u == 0:
        return float("nan"), float("nan"), float("nan")
    ppv, pu = tp / (tp + fp), k_u / n_u
    found, missed = ppv * n_flagged, pu * n_unflagged
    point = found / (found + missed) if found + missed else float("nan")
    rng = np.random.default_rng(seed)
    ppv_d = rng.beta(tp + 0.5, fp + 0.5, draws)
    pu_d = rng.beta(k_u + 0.5, n_u - k_u + 0.5, draws)
    sens = ppv_d * n_flagged / (ppv_d * n_flagged + pu_d * n_unflagged)
    lo, hi = np.percentile(sens, [2.5, 97.5])
    return point, float(lo), float(hi)


def summarize(decisions: list[dict[str, Any]], results: Path, second: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every figure of the review: see the module docstring."""
    notes = run_notes(results)
    matched, unmatched = match(decisions, notes)
    rank_of = {s: i for i, s in enumerate(notes.ranked, 1)}
    flagged = {s: d for s, d in matched.items() if notes.rows[s]["flagged"]}
    sample = {s: d for s, d in matched.items() if not notes.rows[s]["flagged"]}
    counts = Counter(d["decision"] for d in matched.values())
    f_counts = Counter(d["decision"] for d in flagged.values())
    u_counts = Counter(d["decision"] for d in sample.values())

    tp = f_counts[POSITIVE]
    fp = f_counts["nms_history"] + f_counts["not_nms"]
    ppv = wilson(tp, tp + fp)
    ppv_any = wilson(tp + f_counts["nms_history"], tp + fp)
    k_u = u_counts[POSITIVE]
    n_u = k_u + u_counts["nms_history"] + u_counts["not_nms"]
    missed_rate = wilson(k_u, n_u)
    sens = sensitivity_estimate(tp, fp, k_u, n_u, notes.n_flagged, notes.n_unflagged)

    by_rank = []
    cum_tp = cum_n = 0
    for s in notes.ranked:
        d = flagged.get(s)
        if d is None or d["decision"] == "unsure":
            continue
        cum_n += 1
        cum_tp += d["decision"] == POSITIVE
        lo_hi = wilson(cum_tp, cum_n)
        by_rank.append({"rank": rank_of[s], "note_id": notes.rows[s]["note_id"], "decision": d["decision"],
                        "decided": cum_n, "current_nms": cum_tp, "cumulative_ppv": cum_tp / cum_n,
                        "ppv_lower": lo_hi[1], "ppv_upper": lo_hi[2]})

    out: dict[str, Any] = {
        "results": str(results),
        "model_sha256": notes.run.get("model_sha256"),
        "screened": {"notes": len(notes.rows), "flagged": notes.n_flagged, "unflagged": notes.n_unflagged},
        "decisions": {"matched": len(matched), "unmatched": unmatched, "flagged": len(flagged),
                      "unflagged_sample": len(sample), "by_decision": {k: counts[k] for k in DECISIONS},
                      "flagged_by_decision": {k: f_counts[k] for k in DECISIONS},
                      "unflagged_by_decision": {k: u_counts[k] for k in DECISIONS},
                      "reviewers": sorted({str(d.get("reviewer")) for d in matched.values()}),
                      "blind": sorted({bool(d.get("blind")) for d in matched.values()})},
        "ppv": _estimate(ppv, tp, tp + fp, "current NMS among decided flagged notes (unsure left out); Wilson 95% interval"),
        "ppv_any_nms": _estimate(ppv_any, tp + f_counts["nms_history"], tp + fp,
                                 "current or past NMS among decided flagged notes; Wilson 95% interval"),
        "unflagged_current_nms_rate": _estimate(missed_rate, k_u, n_u,
                                                "current NMS among the decided unflagged sample; Wilson 95% interval"),
        "sensitivity": {"estimate": sens[0], "lower": sens[1], "upper": sens[2],
                        "estimated_cases_flagged": (tp / (tp + fp) * notes.n_flagged) if tp + fp else None,
                        "estimated_cases_missed": (k_u / n_u * notes.n_unflagged) if n_u else None,
                        "sampling_fraction_unflagged": (n_u / notes.n_unflagged) if notes.n_unflagged else None,
                        "method": "flagged and unflagged strata each scaled to its size (weight = stratum size / "
                                  "decided notes); 95% interval from 20,000 draws under Jeffreys priors"
                                  if n_u else "needs decisions on a random sample of unflagged notes "
                                              "(nmsnlp review --sample-unflagged N)"},
        "ppv_by_rank": by_rank,
    }
    if second is not None:
        out["agreement"] = agreement(matched, match(second, notes)[0], notes)
    return out


def _estimate(t: tuple[float, float, float], k: int, n: int, what: str) -> dict[str, Any]:
    return {"estimate": t[0], "lower": t[1], "upper": t[2], "k": k, "n": n, "what": what}


def agreement(a: dict[int, dict[str, Any]], b: dict[int, dict[str, Any]], notes: RunNotes) -> dict[str, Any]:
    both = sorted(set(a) & set(b))
    la = [a[s]["decision"] for s in both]
    lb = [b[s]["decision"] for s in both]
    binary_a = ["current" if x == POSITIVE else "other" for x in la]
    binary_b = ["current" if x == POSITIVE else "other" for x in lb]
    confusion = {x: {y: sum(1 for p, q in zip(la, lb) if p == x and q == y) for y in DECISIONS} for x in DECISIONS}
    return {
        "notes_decided_by_both": len(both),
        "only_first": len(set(a) - set(b)), "only_second": len(set(b) - set(a)),
        "reviewers": [sorted({str(a[s].get("reviewer")) for s in a}), sorted({str(b[s].get("reviewer")) for s in b})],
        "percent_agreement": (sum(p == q for p, q in zip(la, lb)) / len(both)) if both else float("nan"),
        "kappa": cohen_kappa(la, lb),
        "kappa_current_vs_other": cohen_kappa(binary_a, binary_b),
        "confusion": confusion,
        "disagreements": [{"row": s, "note_id": notes.rows[s]["note_id"], "person_id": notes.rows[s]["person_id"],
                           "first": a[s]["decision"], "second": b[s]["decision"],
                           "first_reviewer": a[s].get("reviewer"), "second_reviewer": b[s].get("reviewer"),
                           "first_comment": a[s].get("comment") or "", "second_comment": b[s].get("comment") or ""}
                          for s in both if a[s]["decision"] != b[s]["decision"]],
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def format_summary(s: dict[str, Any]) -> str:
    """The summary as a terminal table (note ids and decisions only; comments stay in the CSV files)."""
    d, sc = s["decisions"], s["screened"]
    lines = [f"screened {sc['notes']} notes: {sc['flagged']} flagged, {sc['unflagged']} unflagged",
             f"decisions matched: {d['matched']} ({d['flagged']} flagged, {d['unflagged_sample']} from the unflagged sample)"
             + (f"; {d['unmatched']} matched no note of this run" if d["unmatched"] else ""), "",
             f"{'decision':14}{'flagged':>9}{'unflagged':>11}{'all':>6}"]
    for k in DECISIONS:
        lines.append(f"{k:14}{d['flagged_by_decision'][k]:9d}{d['unflagged_by_decision'][k]:11d}{d['by_decision'][k]:6d}")
    lines += ["", f"{'figure':40}{'estimate':>10}{'95% interval':>20}{'k / n':>12}"]
    for key, name in (("ppv", "PPV (current NMS)"), ("ppv_any_nms", "PPV (current or past NMS)"),
                      ("unflagged_current_nms_rate", "current NMS in the unflagged sample")):
        e = s[key]
        lines.append(f"{name:40}{_pct(e['estimate']):>10}{_pct(e['lower']) + ' - ' + _pct(e['upper']):>20}"
                     f"{str(e['k']) + ' / ' + str(e['n']):>12}")
    se = s["sensitivity"]
    lines.append(f"{'sensitivity (estimated)':40}{_pct(se['estimate']):>10}{_pct(se['lower']) + ' - ' + _pct(se['upper']):>20}")
    if math.isnan(se["estimate"]):
        lines.append(f"  {se['method']}")
    if s["ppv_by_rank"]:
        lines += ["", "cumulative PPV by rank:", f"  {'rank':>6}{'decided':>9}{'current':>9}{'PPV':>8}"]
        rows = s["ppv_by_rank"]
        marks = sorted({min(len(rows), m) for m in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)} | {len(rows)})
        for m in marks:
            r = rows[m - 1]
            lines.append(f"  {r['rank']:6d}{r['decided']:9d}{r['current_nms']:9d}{_pct(r['cumulative_ppv']):>8}")
    if "agreement" in s:
        a = s["agreement"]
        lines += ["", f"agreement: {a['notes_decided_by_both']} notes decided by both "
                      f"({' / '.join(', '.join(r) for r in a['reviewers'])})",
                  f"  percent agreement {_pct(a['percent_agreement'])}, Cohen's kappa {a['kappa']:.3f} (four decisions), "
                  f"{a['kappa_current_vs_other']:.3f} (current NMS vs the rest)",
                  f"  disagreements: {len(a['disagreements'])}"]
        for x in a["disagreements"][:20]:
            lines.append(f"    {x['note_id']} (row {x['row']}): {x['first']} vs {x['second']}")
        if len(a["disagreements"]) > 20:
            lines.append(f"    ... {len(a['disagreements']) - 20} more in disagreements.csv")
    return "\n".join(lines)


def write_summary(s: dict[str, Any], out: Path) -> list[Path]:
    """summary.json, summary.csv (one figure a row), ppv_by_rank.csv and, with two reviewers,
    disagreements.csv, into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "summary.json", out / "summary.csv", out / "ppv_by_rank.csv"]
    (out / "summary.json").write_text(json.dumps(_no_nan(s), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    with (out / "summary.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["figure", "estimate", "lower_95", "upper_95", "k", "n", "what"])
        for key in ("ppv", "ppv_any_nms", "unflagged_current_nms_rate"):
            e = s[key]
            w.writerow([key, _num(e["estimate"]), _num(e["lower"]), _num(e["upper"]), e["k"], e["n"], e["what"]])
        se = s["sensitivity"]
        w.writerow(["sensitivity", _num(se["estimate"]), _num(se["lower"]), _num(se["upper"]), "", "", se["method"]])
        for k in DECISIONS:
            d = s["decisions"]
            w.writerow([f"count_{k}", d["by_decision"][k], "", "", d["flagged_by_decision"][k], d["unflagged_by_decision"][k],
                        "all decided notes; k = flagged, n = unflagged sample"])
        if "agreement" in s:
            a = s["agreement"]
            w.writerow(["kappa", _num(a["kappa"]), "", "", "", a["notes_decided_by_both"], "Cohen's kappa, four decisions"])
            w.writerow(["kappa_current_vs_other", _num(a["kappa_current_vs_other"]), "", "", "", a["notes_decided_by_both"],
                        "Cohen's kappa, current NMS vs the rest"])
    with (out / "ppv_by_rank.csv").open("w", encoding="utf-8", newline="") as fh:
        cols = ["rank", "note_id", "decision", "decided", "current_nms", "cumulative_ppv", "ppv_lower", "ppv_upper"]
        dw = csv.DictWriter(fh, fieldnames=cols)
        dw.writeheader()
        for r in s["ppv_by_rank"]:
            dw.writerow({k: _num(v) if isinstance(v, float) else v for k, v in r.items()})
    if "agreement" in s:
        path = out / "disagreements.csv"
        cols = ["row", "note_id", "person_id", "first", "second", "first_reviewer", "second_reviewer", "first_comment",
                "second_comment"]
        with path.open("w", encoding="utf-8", newline="") as fh:
            dw = csv.DictWriter(fh, fieldnames=cols)
            dw.writeheader()
            dw.writerows(s["agreement"]["disagreements"])
        written.append(path)
    return written


def _no_nan(x: Any) -> Any:
    """JSON has no NaN: a figure that cannot be computed is null."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_no_nan(v) for v in x]
    return x


def _num(x: Any) -> Any:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.4f}" if isinstance(x, float) else x


# --------------------------------------------------------------------------- recalibration


@dataclass
class Labelled:
    """The decided notes a model is fitted on: features, labels, sample weights, strata."""

    rows: list[int]
    features: list[dict[str, float]]
    y: np.ndarray
    weight: np.ndarray
    documented: np.ndarray
    flagged: np.ndarray
    counts: dict[str, Any] = field(default_factory=dict)


def labelled_notes(decisions: list[dict[str, Any]], results: Path) -> tuple[Labelled, RunNotes]:
    """The decided notes of a run (unsure left out) with their features, recomputed from the run's mentions
    (nmsnlp.scoring.features.compute: the features that scored them), and stratum weights: stratum size over
    decided notes in it, so the flagged notes and the unflagged sample each stand for their whole stratum."""
    from ..extraction.rules import cached_rules
    from ..scoring.features import compute

    notes = run_notes(results)
    matched, unmatched = match(decisions, notes)
    keep = {s: d for s, d in matched.items() if d["decision"] != "unsure" and not notes.rows[s]["error"]}
    rows = sorted(keep)
    runs = mention_runs(results / "mentions.jsonl", {str(notes.rows[s]["note_id"]) for s in rows})
    classes = cached_rules().drug_classes
    used: dict[str, set[int]] = {}
    feats = []
    for s in rows:
        nid = str(notes.rows[s]["note_id"])
        ms = mentions_for(notes.rows[s], runs.get(nid), used.setdefault(nid, set()))
        feats.append(compute(ms, classes).values)
    flagged = np.array([notes.rows[s]["flagged"] for s in rows], dtype=bool)
    n_f, n_u = int(flagged.sum()), int((~flagged).sum())
    w_f = notes.n_flagged / n_f if n_f else 0.0
    w_u = notes.n_unflagged / n_u if n_u else 0.0
    lab = Labelled(
        rows=rows, features=feats,
        y=np.array([int(keep[s]["decision"] == POSITIVE) for s in rows]),
        weight=np.where(flagged, w_f, w_u).astype(float),
        documented=np.array([notes.rows[s]["nms_documented"] for s in rows], dtype=bool),
        flagged=flagged,
        counts={"decisions": len(matched), "unmatched": unmatched,
                "unsure_left_out": sum(1 for d in matched.values() if d["decision"] == "unsure"),
                "labelled": len(rows), "positive": int(sum(keep[s]["decision"] == POSITIVE for s in rows)),
                "flagged_decided": n_f, "unflagged_decided": n_u,
                "weight_flagged": w_f, "weight_unflagged": w_u,
                "by_decision": dict(Counter(d["decision"] for d in matched.values()))},
    )
    return lab, notes


def weighted_threshold(y: np.ndarray, scores: np.ndarray, weight: np.ndarray, target: float) -> float:
    """The highest threshold whose weighted sensitivity (weight of positives scoring >= t over the weight
    of all positives) reaches the target."""
    pos = np.flatnonzero(y == 1)
    order = pos[np.argsort(-scores[pos], kind="stable")]
    total = weight[order].sum()
    cum = np.cumsum(weight[order])
    k = int(np.searchsorted(cum, target * total - 1e-12))
    return float(scores[order[min(k, len(order) - 1)]])


def calibrate(decisions: list[dict[str, Any]], results: Path, adjudications_sha256: str,
              target_sensitivity: float = 0.95, model_dir: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """A recalibrated copy of the model that scored `results`: Platt scaling (CalibratedClassifierCV on the
    FrozenEstimator of the model's Pipeline, sigmoid) fitted on the site's decided notes with stratum
    weights, folded into the logistic regression (coef *= a; intercept = a * intercept + b), so the saved
    model stays a stock Pipeline(DictVectorizer, LogisticRegression); the threshold is the highest that
    keeps the weighted sensitivity >= target among the decided notes that do not document NMS (those are
    flagged whatever their score). Refuses, with one line, too few decisions or a slope a <= 0."""
    import copy

    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from ..scoring.model import Model, load_model

    if not 0.0 < target_sensitivity <= 1.0:
        raise NmsnlpError(f"--target-sensitivity must be in (0, 1]; got {target_sensitivity}")
    base = load_model(model_dir)
    lab, notes = labelled_notes(decisions, results)
    run_sha = notes.run.get("model_sha256")
    if base.meta.get("model_sha256") != run_sha:
        raise NmsnlpError(f"the run was scored with model {str(run_sha)[:12]}..., not {str(base.meta.get('model_sha256'))[:12]}...; "
                          "pass --model with the folder of the model that scored it")
    c = lab.counts
    negatives = c["labelled"] - c["positive"]
    if c["labelled"] < MIN_DECISIONS or c["positive"] < MIN_POSITIVES or negatives < MIN_NEGATIVES:
        raise NmsnlpError(
            f"too few decisions to recalibrate: {c['labelled']} decided notes ({c['positive']} current NMS, {negatives} not; "
            f"unsure left out); need at least {MIN_DECISIONS}, with {MIN_POSITIVES} current NMS and {MIN_NEGATIVES} not")

    cal = CalibratedClassifierCV(FrozenEstimator(base.pipeline), method="sigmoid")
    with warnings.catch_warnings():
        # the frozen model is not refitted: the weights are meant for the sigmoid alone, which is what this says
        warnings.filterwarnings("ignore", message="Since FrozenEstimator does not appear to accept sample_weight")
        cal.fit(lab.features, lab.y, sample_weight=lab.weight)
    sig = cal.calibrated_classifiers_[0].calibrators[0]
    a, b = -float(sig.a_), -float(sig.b_)  # scikit-learn's sigmoid is 1 / (1 + exp(a_ f + b_))
    if a <= 0:
        raise NmsnlpError(f"the site's decisions run against the model's ranking (Platt slope {a:.3f} <= 0); recalibrating "
                          "would invert it. Check the decisions, or retrain with `nmsnlp train --extra`")

    pipeline = copy.deepcopy(base.pipeline)
    clf = pipeline.named_steps["classify"]
    if list(clf.classes_) != [0, 1]:
        raise NmsnlpError(f"the model's classes are {list(clf.classes_)}, not [0, 1]; it was not made by nmsnlp")
    clf.coef_ = clf.coef_ * a
    clf.intercept_ = clf.intercept_ * a + b
    model = Model(pipeline, 0.0, {})
    scores = model.predict_proba(lab.features)
    expected = cal.predict_proba(lab.features)[:, list(cal.classes_).index(1)]
    if not np.allclose(scores, expected, atol=1e-9):
        raise NmsnlpError("internal error: the folded model does not reproduce the calibrated scores")

    undocumented = ~lab.documented
    on = undocumented if lab.y[undocumented].sum() > 0 else np.ones_like(undocumented)
    threshold = weighted_threshold(lab.y[on], scores[on], lab.weight[on], target_sensitivity)
    model.threshold = threshold

    old_equivalent = _sigmoid((_logit(threshold) - b) / a)  # the same cut on the old score scale
    flagged_now = sum(1 for r in notes.rows.values() if not r["error"] and (
        (r["score"] is not None and r["score"] >= old_equivalent) or r["nms_documented"]))
    predicted = scores >= threshold
    flagged_labelled = predicted | lab.documented
    w_pos = lab.weight[lab.y == 1].sum()
    provenance = {
        "kind": "recalibrated",
        "method": "Platt scaling (sigmoid) of the frozen model: scikit-learn CalibratedClassifierCV(FrozenEstimator(pipeline), "
                  "method='sigmoid') with stratum weights, folded into the logistic regression",
        "base_model_sha256": base.meta.get("model_sha256"),
        "base_threshold": base.threshold,
        "adjudications_sha256": adjudications_sha256,
        "results_input_sha256": (notes.run.get("input") or {}).get("sha256"),
        "results_started": notes.run.get("started"),
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "sigmoid": {"a": a, "b": b, "formula": "calibrated log-odds = a * base log-odds + b"},
        "counts": c,
        "target_sensitivity": target_sensitivity,
    }
    model.meta = {
        "feature_schema_version": base.meta.get("feature_schema_version"),
        "library_versions": _versions(),
        "provenance": provenance,
        "threshold_rule": f"highest threshold with stratum-weighted sensitivity >= {target_sensitivity} on the site's decided "
                          f"notes that do not document NMS ({int(on.sum())} of {len(lab.rows)})",
        "base_model": {k: base.meta.get(k) for k in ("model_sha256", "threshold", "trained_on", "training_data_sha256")},
    }
    report = {
        "a": a, "b": b, "threshold": threshold, "base_threshold": base.threshold,
        "base_threshold_equivalent_new_score": _sigmoid(a * _logit(base.threshold) + b),
        "flagged_in_run_before": notes.n_flagged, "flagged_in_run_after": flagged_now, "notes_in_run": len(notes.rows),
        "weighted_sensitivity_on_decisions": float(lab.weight[(lab.y == 1) & flagged_labelled].sum() / w_pos) if w_pos else None,
        "counts": c,
        "unflagged_sample": c["unflagged_decided"] > 0,
    }
    return model, report


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def _versions() -> dict[str, str]:
    """The library versions the model was made with (from the installed distributions' metadata)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("scikit-learn", "skops", "spacy", "medspacy", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


# --------------------------------------------------------------------------- retraining with a site's notes


def notes_with_decisions(decisions: list[dict[str, Any]], results: Path, out: Path, input_path: Path | None = None,
                         db: str | None = None) -> int:
    """Write the decided notes' text beside their decisions (JSONL, owner-only: it holds PHI), the input of
    `nmsnlp train --extra`. Unsure decisions are kept (training leaves them out)."""
    notes = run_notes(results)
    matched, _ = match(decisions, notes)
    source = input_source(notes.run, input_path, db, verify=True)
    texts = read_texts(source, matched)
    runs = mention_runs(results / "mentions.jsonl", {str(notes.rows[s]["note_id"]) for s in matched})
    used: dict[str, set[int]] = {}
    lines = []
    for s in sorted(matched):
        rec, d = texts.get(s), matched[s]
        if rec is None or rec.text is None:
            raise InputSchemaError(f"row {s}: not found in the run's input; pass --input with the notes the run screened")
        nid = str(notes.rows[s]["note_id"])
        check_text(nid, rec.text, mentions_for(notes.rows[s], runs.get(nid), used.setdefault(nid, set())))
        lines.append(json.dumps({"note_id": nid, "person_id": notes.rows[s]["person_id"],
                                 "note_datetime": rec.meta.get("note_datetime"), "note_title": rec.meta.get("note_title"),
                                 "text": rec.text, "decision": d["decision"], "reviewer": d.get("reviewer"),
                                 "timestamp": d.get("timestamp")}, ensure_ascii=False))
    write_private(out, "".join(line + "\n" for line in lines))
    return len(lines)


LABEL_OF = {"nms_current": "nms_current", "nms_history": "nms_history", "not_nms": "negative"}  # the corpus labels


def read_extra(path: Path) -> list[dict[str, Any]]:
    """A site's adjudicated notes (JSONL: note_id, text or note_text, decision; person_id optional) as corpus
    notes for training; unsure decisions are left out."""
    if not path.is_file():
        raise InputSchemaError(f"{path}: no such file")
    out = []
    for n, rec in _json_lines(path):
        text = rec.get("text", rec.get("note_text")) if isinstance(rec, dict) else None
        decision = rec.get("decision") if isinstance(rec, dict) else None
        if not isinstance(text, str) or not text.strip() or decision not in DECISIONS or rec.get("note_id") is None:
            raise InputSchemaError(f"{path.name}:{n}: needs note_id, text (or note_text) and a decision "
                                   f"({', '.join(DECISIONS)}); make the file with `nmsnlp adjudication notes`")
        if decision == "unsure":
            continue
        person = rec.get("person_id")
        out.append({"note_id": f"site:{rec['note_id']}", "person_id": f"site:{person if person is not None else rec['note_id']}",
                    "text": text, "label": LABEL_OF[decision], "category": "site_adjudicated", "genre": "site"})
    return out


def train_with_extra(corpus_dir: Path, extra_path: Path, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """`nmsnlp train` (train + dev, threshold on their patient-grouped cross-validated scores) with a site's
    adjudicated notes added to the pool; the corpus's test split stays untouched for evaluation."""
    from ..extraction.extractor import Extractor
    from ..extraction.pipeline import drug_classes
    from ..scoring.training import data_hash, fit, undocumented_threshold
    from . import corpus as corpus_mod
    from .evaluate import FOLDS, cross_validated_scores, prepare, training_rows

    extra_notes = read_extra(extra_path)
    n_pos = sum(n["label"] == "nms_current" for n in extra_notes)
    if not extra_notes:
        raise NmsnlpError(f"{extra_path}: no decided notes (unsure ones are left out)")
    ex = Extractor()
    corp = corpus_mod.load_corpus(corpus_dir)
    data = {s: prepare(corp.split(s), ex) for s in corpus_mod.SPLITS}
    extra = prepare(extra_notes, ex)
    pool = data["train"] + data["dev"] + extra
    classes = drug_classes(ex.nlp)
    oof = cross_validated_scores(pool, classes, seed=seed)
    threshold = undocumented_threshold([s.y for s in pool], oof.tolist(), [s.documented for s in pool])
    x, y = training_rows(pool, classes)
    model = fit(x, y, threshold, seed)
    training_sha = data_hash([(s.note["note_id"], s.note["text"], s.y) for s in pool])
    model.meta |= {
        "training_data_sha256": training_sha,
        "n_train": len(pool), "n_train_positive": sum(s.y for s in pool),
        "trained_on": f"train and dev splits of {corpus_dir.name} and {len(extra)} site-adjudicated notes",
        "threshold_rule": f"highest threshold with sensitivity >= 0.95 on the {FOLDS}-fold patient-grouped "
                          f"cross-validated scores of the pooled notes that do not document NMS "
                          f"({sum(not s.documented for s in pool)} of {len(pool)})",
        "provenance": {"kind": "retrained", "corpus": corpus_dir.name, "training_data_sha256": training_sha,
                       "extra_sha256": file_sha256(extra_path), "extra_notes": len(extra), "extra_positive": n_pos,
                       "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat()},
    }
    return model, data
