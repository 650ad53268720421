"""ConText on case-report prose: nmsnlp's negation against the Ada Health case reports' negation modifiers.

    python bench/case_reports.py [--shared ../shared] [--errors N]

../shared/eval-data/case_reports_adahealth: 53 published case reports with manual finding and condition
annotations and the modifiers that modify them. A finding counts as negated there when a modifier whose
text is a negation cue modifies it (the folder's `negated_by_cue_heuristic`: derived from the manual
modifiers, not an independent gold label). Each annotated span is given to `nmsnlp.assertions`, which
runs sections, ConText and the section rules on the whole report. Prints precision, recall and F1 of
`negated`, and how many of the reports (published cases of other conditions; none names NMS) the shipped
score flags. Skips when ../shared is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import DEFAULT_SHARED, ROOT

_NEGATION_CUES = ("no", "not", "without", "denied", "denies", "deny", "negative", "absent", "absence", "none", "never",
                  "free of", "nor", "neither", "lack", "lacking", "ruled out", "excluded", "unremarkable")


def _is_negation_cue(text: str) -> bool:
    t = text.lower().strip()
    return any(t == c or t.startswith(c + " ") or t.endswith(" " + c) for c in _NEGATION_CUES)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--errors", type=int, default=0, help="print this many disagreements (shows report text)")
    args = ap.parse_args()
    path = args.shared / "eval-data" / "case_reports_adahealth" / "case_report_corpus.jsonl"
    if not path.is_file():
        print(f"skipped: {path} not found")
        return 0
    sys.path.insert(0, str(ROOT))
    import nmsnlp
    from nmsnlp.scoring.scorer import Scorer

    scorer = Scorer()
    tp = fp = fn = tn = 0
    errors = []
    flagged = []  # published case reports of other conditions (none names NMS) that the score flags
    reports = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        report = json.loads(line)
        reports += 1
        score, _ = scorer(report["text"], report["id"])
        if score.flagged:
            flagged.append(f"{report['id']} (score {score.score:.3f}, top {list(score.contributions)[:3]})")
        by_id = {e["id"]: e for e in report["entities"]}
        # findings a normality or value modifier qualifies ("examination was normal") have a third state that
        # the heuristic does not label: left out
        qualified = {r["dependent"] for r in report["relations"] if r["type"] == "modifies"
                     and r["governor"] in by_id and not _is_negation_cue(by_id[r["governor"]]["text"])}
        ents = [e for e in report["entities"] if e["type"] in ("finding", "condition") and e["end"] > e["start"]
                and (e["id"] not in qualified or e.get("negated_by_cue_heuristic"))]
        flags = nmsnlp.assertions(report["text"], [(e["start"], e["end"]) for e in ents])
        for e, f in zip(ents, flags):
            gold, pred = bool(e.get("negated_by_cue_heuristic")), f["negated"]
            tp += gold and pred
            fp += pred and not gold
            fn += gold and not pred
            tn += not (gold or pred)
            if gold != pred and len(errors) < args.errors:
                t = report["text"]
                errors.append(f"{'FN' if gold else 'FP'} {report['id']}: {t[max(0, e['start'] - 60):e['end'] + 30]!r}")
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * p * r / (p + r) if p + r else float("nan")
    print(f"Ada Health case reports: {tp + fp + fn + tn} findings and conditions, {tp + fn} negated by the modifiers")
    print(f"negation / nmsnlp: precision {p:.3f}, recall {r:.3f}, F1 {f1:.3f}")
    for e in errors:
        print(" ", e)
    print(f"suspicion score: {len(flagged)} of {reports} reports flagged (none of them is about NMS)")
    for f in flagged:
        print(" ", f)
    print("command: python bench/case_reports.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
