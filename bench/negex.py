"""Assertion accuracy on the Chapman NegEx/ConText test set, beside medspaCy's default rules.

    python bench/negex.py [--shared ../shared] [--errors N]

Runs `nmsnlp.assertions` on every (sentence, condition span) pair of
../shared/eval-data/negex_context_testset/context_testset.jsonl and prints precision, recall and F1
for negation and for historical, and the same for medspaCy's default ConText rules on the same pairs.
Skips (exit 0) when the shared folder is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared"


def prf(gold: list[bool], pred: list[bool]) -> tuple[float, float, float]:
    tp = sum(g and p for g, p in zip(gold, pred))
    fp = sum(p and not g for g, p in zip(gold, pred))
    fn = sum(g and not p for g, p in zip(gold, pred))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def load_pairs(shared: Path) -> list[dict]:
    path = shared / "eval-data" / "negex_context_testset" / "context_testset.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("concept_start") is not None]


def nmsnlp_flags(rows: list[dict]) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    import nmsnlp

    return [nmsnlp.assertions(r["sentence"], [(r["concept_start"], r["concept_end"])])[0] for r in rows]


def medspacy_flags(rows: list[dict]) -> list[dict]:
    with warnings.catch_warnings():
        import medspacy
        from loguru import logger

        logger.disable("PyRuSH")
        nlp = medspacy.load(medspacy_enable=["medspacy_pyrush", "medspacy_context"])
    out = []
    for r in rows:
        doc = nlp.make_doc(r["sentence"])
        doc = nlp.get_pipe("medspacy_pyrush")(doc)
        span = doc.char_span(r["concept_start"], r["concept_end"], label="CONDITION", alignment_mode="expand")
        doc.ents = [span]
        doc = nlp.get_pipe("medspacy_context")(doc)
        e = doc.ents[0]
        out.append({"negated": e._.is_negated, "historical": e._.is_historical})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--errors", type=int, default=0, help="print up to N disagreements of each kind")
    args = ap.parse_args()
    if not (args.shared / "eval-data" / "negex_context_testset").is_dir():
        print(f"skipped: {args.shared}/eval-data/negex_context_testset not found")
        return 0
    rows = load_pairs(args.shared)
    gold_neg = [r["negation"] == "negated" for r in rows]
    gold_hist = [r["temporality"] == "historical" for r in rows]
    ours = nmsnlp_flags(rows)
    theirs = medspacy_flags(rows)
    print(f"NegEx/ConText test set: {len(rows)} (sentence, condition) pairs with a span")
    print(f"{'':28}{'precision':>10}{'recall':>10}{'F1':>8}")
    for name, key, gold in (("negation", "negated", gold_neg), ("historical", "historical", gold_hist)):
        for system, flags in (("nmsnlp", ours), ("medspaCy default rules", theirs)):
            p, r, f = prf(gold, [bool(x[key]) for x in flags])
            print(f"{name + ' / ' + system:28}{p:10.3f}{r:10.3f}{f:8.3f}")
    if args.errors:
        for key, gold in (("negated", gold_neg), ("historical", gold_hist)):
            fps = [(row, f) for row, f, g in zip(rows, ours, gold) if f[key] and not g][: args.errors]
            fns = [(row, f) for row, f, g in zip(rows, ours, gold) if g and not f[key]][: args.errors]
            for label, items in (("false positive", fps), ("false negative", fns)):
                for row, _f in items:
                    s = row["sentence"]
                    a, b = row["concept_start"], row["concept_end"]
                    print(f"{key} {label}: {s[:a]}[[{s[a:b]}]]{s[b:]}")
    print("command: python bench/negex.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
