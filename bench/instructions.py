"""Instructions, not seconds: the CPU work of screening notes, counted by valgrind's callgrind, so that two
versions of the code compare exactly on a noisy machine (the same count twice for the same code and notes).

    python bench/instructions.py [--notes 400] [--against REF] [--shared ../shared]

For this working tree, and with --against for a git commit (checked out in a temporary worktree), two
processes under callgrind: one that builds the pipeline and loads the model, one that does so and then
screens the first --notes distinct MTSamples transcriptions in process (`screen_records`, what a worker
runs). Their difference is the instructions of screening; start-up is the first. Prints both for each
version and the ratio of the screening instructions. Outputs are not compared here (bench/screen.py and the
tests do that). Skips when valgrind or ../shared is absent. About a minute per process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import DEFAULT_SHARED, ROOT, mtsamples_distinct

LOAD = "from nmsnlp.batch.partition import scorer_for\nscorer_for(None)\n"
SCREEN = (
    "import sys, pathlib\n"
    "from nmsnlp.batch.partition import scorer_for, screen_records\n"
    "from nmsnlp.io.readers import read_notes\n"
    "scorer = scorer_for(None)\n"
    "screen_records(list(read_notes(pathlib.Path(sys.argv[1]))), scorer)\n"
)


def count(code: str, args: list[str], tree: Path, work: Path) -> int:
    """Instructions callgrind counts for `python -c code args` with the nmsnlp of `tree` first on the path."""
    out = work / "callgrind.out"
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONWARNINGS": "ignore"}
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", code, *args],
                         capture_output=True, text=True, env=env, cwd=work)
    if run.returncode != 0:
        raise SystemExit(f"callgrind run failed: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode}")
    found = re.search(r"Collected : (\d+)", run.stderr)
    out.unlink(missing_ok=True)
    if not found:
        raise SystemExit("callgrind printed no instruction count")
    return int(found.group(1))


def measure(tree: Path, notes: Path, work: Path) -> tuple[int, int]:
    """(start-up, screening) instructions for the code in `tree`."""
    load = count(LOAD, [], tree, work)
    return load, count(SCREEN, [str(notes)], tree, work) - load


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=400)
    ap.add_argument("--against", help="a git commit to compare with (checked out in a temporary worktree)")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("skipped: valgrind not found")
        return 0
    if not (args.shared / "eval-data" / "mtsamples" / "mtsamples.csv").is_file():
        print(f"skipped: {args.shared}/eval-data/mtsamples not found")
        return 0
    texts = mtsamples_distinct(args.shared, limit=args.notes)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        notes = work / "notes.jsonl"
        notes.write_text("".join(json.dumps({"note_id": nid, "note_text": t}) + "\n" for nid, t in texts), encoding="utf-8")
        results = {"this tree": measure(ROOT, notes, work)}
        if args.against:
            other = work / "against"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(other), args.against],
                           check=True, capture_output=True)
            try:
                results[args.against] = measure(other, notes, work)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], capture_output=True)
    chars = sum(len(t) for _, t in texts)
    print(f"{len(texts)} distinct MTSamples notes, {chars:,} characters; instructions counted by callgrind")
    print(f"{'':14}{'start-up':>16}{'screening':>16}{'per character':>15}")
    for name, (load, work_) in results.items():
        print(f"{name[:14]:14}{load:16,}{work_:16,}{work_ / chars:15,.0f}")
    if args.against:
        mine, theirs = results["this tree"][1], results[args.against][1]
        print(f"screening instructions, this tree / {args.against}: {mine / theirs:.3f} ({theirs / mine:.2f}x fewer)")
    print("command: python bench/instructions.py" + (f" --notes {args.notes}" if args.notes != 400 else "")
          + (f" --against {args.against}" if args.against else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
