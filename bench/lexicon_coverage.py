"""Drug-lexicon coverage against the ATC/Orange Book lists in ../shared/eval-data/drug_lists.

    python bench/lexicon_coverage.py [--shared ../shared]

For every ATC substance of the NMS-relevant classes that has a US (Orange Book) product, checks that
nmsnlp extracts the generic name and every US brand name (single-ingredient and combination
products) as a drug mention, and prints coverage by category and what is missing. The lists are
read from ../shared at run time and never copied into the project. Skips when ../shared is absent.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared"
# D2-blocking or dopaminergic substances the project tracks; pimavanserin and xanomeline are not D2 blockers
# but are extracted too. Substances with no US product cannot be checked against US brands.


def found(extract, phrase: str) -> bool:
    mentions = extract(f"Patient was given {phrase} yesterday.")
    return any(m.category == "drug" for m in mentions)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = ap.parse_args()
    lexicon = args.shared / "eval-data" / "drug_lists" / "nms_relevant_drug_lexicon.csv"
    if not lexicon.is_file():
        print(f"skipped: {lexicon} not found")
        return 0
    sys.path.insert(0, str(ROOT))
    import nmsnlp

    ex = nmsnlp.Extractor()
    by_cat: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
    with lexicon.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            brands = {b for b in (row["brand_names_all_products_containing_it"] or "").split("|") if b}
            if not brands and not row["orange_book_ingredients"]:
                continue  # no US product
            names = {row["substance"]} | brands
            for name in sorted(names):
                clean = re.sub(r"\s+(KIT|ODT|\d+(-\d+)?)$", "", name.strip()).strip()
                if not clean:
                    continue
                by_cat[row["category"]].append((row["substance"], clean, found(ex, clean.title())))
    total = hit = 0
    print(f"{'category':42}{'names':>7}{'found':>7}{'coverage':>10}")
    for cat, items in sorted(by_cat.items()):
        uniq = {(s, n): ok for s, n, ok in items}
        n_ok = sum(uniq.values())
        total += len(uniq)
        hit += n_ok
        print(f"{cat:42}{len(uniq):7}{n_ok:7}{n_ok / len(uniq):10.1%}")
    print(f"{'all':42}{total:7}{hit:7}{hit / total:10.1%}")
    missing = sorted({(s, n) for items in by_cat.values() for s, n, ok in items if not ok})
    print(f"missing ({len(missing)}): " + ", ".join(f"{n} [{s}]" for s, n in missing))
    print("command: python bench/lexicon_coverage.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
