"""Shared by the bench scripts: the public evaluation data in ../shared, read in place (never copied)."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared"


def mtsamples_distinct(shared: Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(note_id, transcription) for the distinct non-empty MTSamples transcriptions, in file order."""
    csv.field_size_limit(2**31 - 1)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    with (shared / "eval-data" / "mtsamples" / "mtsamples.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = (row.get("transcription") or "").strip()
            if text and text not in seen:
                seen.add(text)
                out.append((row["note_id"], text))
                if limit is not None and len(out) == limit:
                    break
    return out


def write_mtsamples_notes(shared: Path, n: int, path: Path) -> tuple[int, int]:
    """Write n notes cycling the distinct MTSamples reports to a JSONL file (note_id, person_id, note_text);
    returns (characters, distinct reports)."""
    import json

    texts = [t for _, t in mtsamples_distinct(shared)]
    chars = 0
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            t = texts[i % len(texts)]
            chars += len(t)
            fh.write(json.dumps({"note_id": str(i + 1), "person_id": str(i // 3 + 1), "note_text": t}) + "\n")
    return chars, len(texts)
