"""The shipped model on real public text it never saw: MTSamples reports and BC5CDR case abstracts.

    python bench/external.py [--shared ../shared]

- MTSamples (../shared/eval-data/mtsamples): de-duplicated transcriptions, none about NMS: the share
  flagged (target: at most 0.3%), with the flagged ones listed by id and top features.
- BC5CDR (../shared/eval-data/case_reports_bc5cdr): the 7 NMS case abstracts (how many flagged, and the
  evidence of each missed one), the 7 look-alikes, and the 83 exposure-without-NMS abstracts.
Skips when ../shared is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import DEFAULT_SHARED, ROOT, mtsamples_distinct


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = ap.parse_args()
    data = args.shared / "eval-data"
    if not (data / "mtsamples" / "mtsamples.csv").is_file():
        print(f"skipped: {data} not found")
        return 0
    sys.path.insert(0, str(ROOT))
    from nmsnlp.scoring.scorer import Scorer

    scorer = Scorer()
    seen = {text: nid for nid, text in mtsamples_distinct(data.parent)}
    flagged = []
    for text, nid in seen.items():
        s, _ = scorer(text, nid)
        if s.flagged:
            flagged.append((nid, s.score, list(s.contributions)[:4]))
    rate = len(flagged) / len(seen)
    print(f"MTSamples: {len(seen)} distinct reports, {len(flagged)} flagged ({rate:.2%}); target <= 0.3%")
    for nid, score, top in flagged:
        print(f"  note_id {nid}: score {score:.3f}, top features {top}")

    bc = data / "case_reports_bc5cdr"
    groups: dict[str, list[dict]] = {}
    for name in ("nms_and_lookalike_abstracts.jsonl", "dopamine_antagonist_exposure_no_nms_abstracts.jsonl"):
        for line in (bc / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                groups.setdefault(r["group"], []).append(r)
    for group, rows in groups.items():
        results = [(r, scorer(r["text"], r["id"])[0]) for r in rows]
        n_flag = sum(bool(s.flagged) for _, s in results)
        print(f"BC5CDR {group}: {n_flag} of {len(rows)} flagged")
        if group == "nms":
            for r, s in results:
                state = "flagged" if s.flagged else "MISSED"
                print(f"  PMID {r['pmid']} {state}: score {s.score:.3f}, consensus points {s.criteria_points}, "
                      f"top features {list(s.contributions)[:5]}")
        else:
            for r, s in results:
                if s.flagged:
                    print(f"  PMID {r['pmid']} flagged: score {s.score:.3f} ({r.get('condition')})")
    print("command: python bench/external.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
