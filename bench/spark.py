"""The Spark engine against the local engine: `nmsnlp screen` on the same MTSamples notes, in one run.

    python bench/spark.py [--shared ../shared] [--notes 3000] [--workers 1 2] [--masters local[1] local[2]]
                          [--partition-notes 500]

Builds a JSONL file of N notes (the distinct MTSamples transcriptions, cycled, each with its own note_id and
person_id) in a temporary folder and screens it with the local engine (once per --workers) and with the
Spark engine (once per --masters), each as a whole `nmsnlp screen` process: start-up (the JVM, the pipeline
in every Python worker), screening, ranking and writing included. Prints, for each: wall seconds, notes/s
and characters/s over the wall time and over the screening stage alone, and Spark's overhead against the
local engine on as many cores; then checks that every run gave the same scores and lists.
Skips when ../shared is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_SHARED, ROOT, write_mtsamples_notes


def _cores(label: str) -> int:
    """local[2] -> 2, workers 2 -> 2."""
    digits = "".join(ch for ch in label.split(",")[0] if ch.isdigit())
    return int(digits) if digits else os.cpu_count() or 1


def _scores(out: Path) -> list[dict]:
    if (out / "scores.jsonl").is_file():
        return [json.loads(line) for line in (out / "scores.jsonl").read_text(encoding="utf-8").splitlines()]
    import pyarrow.dataset as ds

    rows = ds.dataset(out / "scores.parquet", format="parquet").to_table().to_pylist()
    for r in rows:
        for key in ("contributions", "criteria_items"):
            r[key] = dict(r[key]) if r[key] is not None else None
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--notes", type=int, default=3000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="local engine worker counts")
    ap.add_argument("--masters", nargs="+", default=["local[1]", "local[2]"], help="Spark masters")
    ap.add_argument("--partition-notes", type=int, default=500)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    src_csv = args.shared / "eval-data" / "mtsamples" / "mtsamples.csv"
    if not src_csv.is_file():
        print(f"skipped: {src_csv} not found")
        return 0
    if shutil.which("java") is None:
        print("skipped: no java (the Spark engine needs a JVM)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="nmsnlp-spark-bench-"))
    notes = work / "notes.jsonl"
    chars, n_texts = write_mtsamples_notes(args.shared, args.notes, notes)
    print(f"input: {args.notes:,} notes from {n_texts:,} distinct MTSamples reports, {chars:,} characters, "
          f"{notes.stat().st_size / 1e6:.1f} MB; machine: {os.cpu_count()} cores")
    exe = [sys.executable, "-m", "nmsnlp.cli", "screen", str(notes), "--no-progress", "--force"]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    runs: list[tuple[str, int, float, dict, Path]] = []
    plans = [(f"local engine, {w} worker{'s' if w > 1 else ''}", w, ["--workers", str(w)]) for w in args.workers]
    plans += [(f"Spark {m}", _cores(m), ["--engine", "spark", "--spark-master", m, "--partition-notes",
                                          str(args.partition_notes)]) for m in args.masters]
    for i, (label, cores, extra) in enumerate(plans):
        out = work / f"out-{i}"
        t0 = time.perf_counter()
        proc = subprocess.run([*exe, "--out", str(out), *extra], capture_output=True, text=True, cwd=ROOT, env=env)
        secs = time.perf_counter() - t0
        if proc.returncode:
            print(f"{label}: failed\n{proc.stderr[-3000:]}")
            return 1
        runs.append((label, cores, secs, json.loads((out / "run.json").read_text()), out))
        print(f"  {label}: {secs:.1f} s", flush=True)

    print(f"\n{'run':<26}{'wall s':>8}{'notes/s':>10}{'chars/s':>12}{'stage s':>9}{'stage notes/s':>15}{'stage chars/s':>15}")
    for label, _cores_n, secs, run, _out in runs:
        t = run["timings"]
        print(f"{label:<26}{secs:>8.1f}{args.notes / secs:>10.1f}{chars / secs:>12,.0f}{t['scoring_seconds']:>9.1f}"
              f"{t['notes_per_second'] or 0:>15.1f}{t['characters_per_second'] or 0:>15,}")
    local = {cores: (secs, run) for label, cores, secs, run, _ in runs if label.startswith("local")}
    print("\nSpark's overhead against the local engine on as many cores (whole process; screening stage):")
    for label, cores, secs, run, _ in runs:
        if label.startswith("Spark") and cores in local:
            lsecs, lrun = local[cores]
            ls, ss = lrun["timings"]["scoring_seconds"], run["timings"]["scoring_seconds"]
            print(f"  {label} vs {cores} worker{'s' if cores > 1 else ''}: +{secs - lsecs:.1f} s ({secs / lsecs:.2f}x); "
                  f"stage {ss:.1f} s vs {ls:.1f} s ({ss / ls:.2f}x)")
    base = _scores(runs[0][4])
    lists = {name: (runs[0][4] / name).read_text(encoding="utf-8") for name in ("screening_list.csv", "patients.csv")}
    same = all(_scores(out) == base and all((out / n).read_text(encoding="utf-8") == v for n, v in lists.items())
               for *_, out in runs[1:])
    print(f"\nsame scores, screening list and patient list in every run: {same}")
    cmd = (f"python bench/spark.py --notes {args.notes} --workers {' '.join(map(str, args.workers))} "
           f"--masters {' '.join(args.masters)} --partition-notes {args.partition_notes}")
    print(f"command: {cmd}")
    if args.keep:
        print(f"outputs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
