"""Mention-level accuracy of `nmsnlp.extract` against the corpus's gold mentions, by split.

    python bench/mentions.py [--split test] [--errors N]

A predicted mention matches a gold one when the concept is the same and the spans overlap (each gold
mention is matched at most once, the largest overlap first). Prints precision, recall and F1 of
(concept, span) by category, then, over the matched pairs, how often each assertion flag, the drug
status, the value (within 1% or 0.15, the larger) and the unit agree with gold, and the pairs where a flag
disagrees, by flag. The corpus is the project's own synthetic notes (corpora/README.md): no ../shared data.
With --errors, prints up to N disagreements per kind, with their corpus sentence (synthetic text, not PHI).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")


def match(gold: list[dict[str, Any]], pred: list[dict[str, Any]]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """Pairs (gold, predicted) of the same concept with overlapping spans, largest overlap first; then the
    unmatched gold and unmatched predicted mentions."""
    candidates = []
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            overlap = min(g["end"], p["end"]) - max(g["start"], p["start"])
            if g["concept"] == p["concept"] and overlap > 0:
                candidates.append((-overlap, gi, pi))
    used_g: set[int] = set()
    used_p: set[int] = set()
    pairs = []
    for _, gi, pi in sorted(candidates):
        if gi not in used_g and pi not in used_p:
            used_g.add(gi)
            used_p.add(pi)
            pairs.append((gold[gi], pred[pi]))
    return pairs, [g for i, g in enumerate(gold) if i not in used_g], [p for i, p in enumerate(pred) if i not in used_p]


def value_agrees(g: Any, p: Any) -> bool:
    if g is None or p is None:
        return g is None and p is None
    return abs(float(g) - float(p)) <= max(0.15, 0.01 * abs(float(g)))


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("train", "dev", "test", "all"), default="all")
    ap.add_argument("--errors", type=int, default=0, help="print up to N disagreements of each kind")
    args = ap.parse_args()

    import nmsnlp
    from nmsnlp.evaluation.corpus import load_corpus, load_gold

    corpus = load_corpus()
    by_note: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in load_gold():
        by_note[m["note_id"]].append(m)
    texts = {n["note_id"]: n["text"] for n in corpus.notes}
    person = {n["note_id"]: n["person_id"] for n in corpus.notes}
    splits = ("train", "dev", "test") if args.split == "all" else (args.split,)

    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)  # (split, category) -> tp/fp/fn
    agree: dict[str, Counter] = defaultdict(Counter)  # split -> field -> agreements; "_pairs" -> pairs
    errors: dict[str, list[str]] = defaultdict(list)
    notes_in = Counter()
    for note_id, gold in sorted(by_note.items()):
        split = corpus.splits.get(person[note_id], "?")
        if split not in splits:
            continue
        notes_in[split] += 1
        text = texts[note_id]
        pred = [m.to_dict() for m in nmsnlp.extract(text, note_id=note_id)]
        pairs, missed, extra = match(gold, pred)
        for g, p in pairs:
            counts[(split, g["category"])]["tp"] += 1
            a = agree[split]
            a["_pairs"] += 1
            for f in FLAGS:
                if bool(g[f]) == bool(p[f]):
                    a[f] += 1
                else:
                    a[f"_{f}_{'fn' if g[f] else 'fp'}"] += 1
                    errors[f"{f} {'missed' if g[f] else 'extra'}"].append(_show(text, g))
            if g["category"] == "drug":
                a["_drugs"] += 1
                if g.get("drug_status") == p.get("drug_status"):
                    a["drug_status"] += 1
                else:
                    errors["drug_status"].append(f"gold {g.get('drug_status')} / ours {p.get('drug_status')}: " + _show(text, g))
            if g["category"] in ("lab", "vital"):
                a["_values"] += 1
                if value_agrees(g.get("value"), p.get("value")) and g.get("unit") == p.get("unit"):
                    a["value"] += 1
                else:
                    errors["value"].append(f"gold {g.get('value')} {g.get('unit')} / ours {p.get('value')} {p.get('unit')}: " + _show(text, g))
        for g in missed:
            counts[(split, g["category"])]["fn"] += 1
            errors["missed mention"].append(f"{g['concept']}: " + _show(text, g))
        for p in extra:
            counts[(split, p["category"])]["fp"] += 1
            errors["extra mention"].append(f"{p['concept']}: " + _show(text, p))

    categories = sorted({c for _, c in counts})
    for split in splits:
        if not notes_in[split]:
            continue
        total = Counter()
        print(f"\n{split}: {notes_in[split]} notes with gold mentions")
        print(f"  {'category':12}{'gold':>6}{'ours':>6}{'P':>7}{'R':>7}{'F1':>7}")
        for c in categories:
            k = counts[(split, c)]
            total.update(k)
            p, r, f = prf(k["tp"], k["fp"], k["fn"])
            print(f"  {c:12}{k['tp'] + k['fn']:6}{k['tp'] + k['fp']:6}{p:7.3f}{r:7.3f}{f:7.3f}")
        p, r, f = prf(total["tp"], total["fp"], total["fn"])
        print(f"  {'all':12}{total['tp'] + total['fn']:6}{total['tp'] + total['fp']:6}{p:7.3f}{r:7.3f}{f:7.3f}")
        a = agree[split]
        n = a["_pairs"]
        print(f"  on the {n} matched mentions, agreement with gold:")
        for fl in FLAGS:
            print(f"    {fl:14}{a[fl] / n:7.3f}   (ours missed {a[f'_{fl}_fn']}, ours extra {a[f'_{fl}_fp']})")
        if a["_drugs"]:
            print(f"    {'drug_status':14}{a['drug_status'] / a['_drugs']:7.3f}   ({a['_drugs']} drug mentions)")
        if a["_values"]:
            print(f"    {'value + unit':14}{a['value'] / a['_values']:7.3f}   ({a['_values']} lab and vital mentions)")
    if args.errors:
        for kind in sorted(errors):
            print(f"\n== {kind} ({len(errors[kind])})")
            for line in errors[kind][: args.errors]:
                print("  " + line)
    print(f"\ncommand: python bench/mentions.py{'' if args.split == 'all' else ' --split ' + args.split}")
    return 0


def _show(text: str, m: dict[str, Any]) -> str:
    lo = max(text.rfind("\n", 0, m["start"]) + 1, m["start"] - 70)
    hi = text.find("\n", m["end"])
    hi = min(hi if hi != -1 else len(text), m["end"] + 50)
    return f"{m.get('note_id')}: " + " ".join((text[lo:m["start"]] + "[[" + text[m["start"]:m["end"]] + "]]" + text[m["end"]:hi]).split())


if __name__ == "__main__":
    sys.exit(main())
