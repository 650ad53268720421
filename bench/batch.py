"""Batch screening speed and memory: `nmsnlp screen` on a 100,000-note file built from MTSamples.

    python bench/batch.py [--shared ../shared] [--notes 100000] [--workers 1 2]

Builds a JSONL file of N notes (the distinct MTSamples transcriptions, cycled, each with its own
note_id and person_id) in a temporary folder, runs `nmsnlp screen` on it once per worker count, and
prints notes/s, characters/s and the peak resident memory of the whole process tree (main process
and workers, sampled from /proc every 0.2 s), with the command that reproduces them.
Skips when ../shared is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_SHARED, ROOT, write_mtsamples_notes


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--notes", type=int, default=100_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    src_csv = args.shared / "eval-data" / "mtsamples" / "mtsamples.csv"
    if not src_csv.is_file():
        print(f"skipped: {src_csv} not found")
        return 0
    work = Path(tempfile.mkdtemp(prefix="nmsnlp-batch-"))
    notes = work / "notes.jsonl"
    chars, n_texts = write_mtsamples_notes(args.shared, args.notes, notes)
    size_mb = notes.stat().st_size / 1e6
    print(f"input: {args.notes:,} notes from {n_texts:,} distinct MTSamples reports, {chars:,} characters, {size_mb:.0f} MB")
    exe = [sys.executable, "-m", "nmsnlp.cli", "screen"]
    results = {}
    for w in args.workers:
        out = work / f"out-{w}"
        cmd = [*exe, str(notes), "--out", str(out), "--workers", str(w), "--no-progress", "--force"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(0.2)
        secs = time.perf_counter() - t0
        if proc.returncode:
            print(proc.stderr.read().decode()[-2000:])
            return 1
        run = json.loads((out / "run.json").read_text())
        results[w] = secs
        print(f"workers={w}: {secs:7.1f} s wall, {args.notes / secs:7.1f} notes/s, {chars / secs:11,.0f} chars/s, "
              f"peak memory {peak:5.0f} MB (process tree); scoring alone {run['timings']['notes_per_second']} notes/s; "
              f"flagged {run['counts']['flagged']}, errors {run['counts']['errors']}")
    if 1 in results and 2 in results:
        print(f"2 workers vs 1: {results[1] / results[2]:.2f}x")
    print(f"command: python bench/batch.py --notes {args.notes} --workers {' '.join(map(str, args.workers))}")
    print(f"(work folder {work} can be deleted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
