"""Extraction speed on one worker, beside the blank spaCy tokenizer and medspaCy's default pipeline.

    python bench/throughput.py [--shared ../shared] [--notes 1000] [--skip-medspacy]

Takes the first N distinct non-empty MTSamples transcriptions from ../shared/eval-data/mtsamples and
times, in one run: `nmsnlp` extraction (the fast path of `nmsnlp extract`), the blank spaCy
tokenizer alone, and medspaCy's default pipeline (`medspacy.load()`). Prints characters per second,
the ratios, and the peak resident memory after the nmsnlp pass. Skips when ../shared is absent.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

from common import DEFAULT_SHARED, ROOT, mtsamples_distinct


def load_notes(shared: Path, n: int) -> list[str]:
    return [text for _, text in mtsamples_distinct(shared, n)]


def timed(fn, notes: list[str]) -> float:
    t0 = time.perf_counter()
    for text in notes:
        fn(text)
    return time.perf_counter() - t0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--notes", type=int, default=1000)
    ap.add_argument("--skip-medspacy", action="store_true")
    args = ap.parse_args()
    if not (args.shared / "eval-data" / "mtsamples" / "mtsamples.csv").is_file():
        print(f"skipped: {args.shared}/eval-data/mtsamples/mtsamples.csv not found")
        return 0
    notes = load_notes(args.shared, args.notes)
    chars = sum(len(t) for t in notes)
    print(f"{len(notes)} distinct MTSamples notes, {chars:,} characters, one process")

    sys.path.insert(0, str(ROOT))
    import spacy

    import nmsnlp

    ex = nmsnlp.Extractor()
    ex(notes[0])  # warm up
    n_mentions = sum(len(ex(t)) for t in notes[:50])
    t_nms = timed(ex, notes)
    mem = peak_mb()
    blank = spacy.blank("en")
    t_tok = timed(blank.make_doc, notes)
    rows = [("nmsnlp extract (fast path)", t_nms), ("blank spaCy tokenizer", t_tok)]
    if not args.skip_medspacy:
        with warnings.catch_warnings():
            import medspacy
            from loguru import logger

            logger.disable("PyRuSH")
            med = medspacy.load()
        t_med = timed(med, notes)
        rows.append(("medspaCy default pipeline", t_med))
    print(f"{'':32}{'seconds':>9}{'chars/s':>14}")
    for name, secs in rows:
        print(f"{name:32}{secs:9.2f}{chars / secs:14,.0f}")
    print(f"nmsnlp / blank tokenizer: {t_tok / t_nms:.2f}x")
    if not args.skip_medspacy:
        print(f"nmsnlp / medspaCy default: {t_med / t_nms:.1f}x")
    print(f"peak memory after the nmsnlp pass: {mem:.0f} MB (whole process, max RSS)")
    print(f"(sanity: {n_mentions} mentions in the first 50 notes)")
    print("command: python bench/throughput.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
