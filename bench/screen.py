"""End-to-end speed of `nmsnlp screen`: one and two workers against the blank spaCy tokenizer, in one run.

    python bench/screen.py [--notes 4714] [--rounds 3] [--scale 4] [--shared ../shared]

Whole processes over the same notes (MTSamples transcriptions from ../shared, cycled to --notes: the 2,357
distinct transcriptions, each twice at the default 4,714, as MTSamples itself holds most of them two or
three times), in alternating rounds, best of --rounds each:
  tokenizer    a process that reads the same JSONL and runs spacy.blank("en").tokenizer over every note
  screen -w 1  `nmsnlp screen NOTES --workers 1`
  screen -w 2  `nmsnlp screen NOTES --workers 2`
  distinct     the tokenizer and `screen -w 1` over the distinct transcriptions only, once each (no note
               repeats: spaCy's tokenizer caches the strings it has seen, so repeats favour it)
  start-up     `nmsnlp screen` over one note: the fixed cost of a process (imports, pipeline, model)
With S the start-up and T1 one worker's time, two workers cannot beat T1 / (S + (T1 - S) / 2) at this input
size: the bench prints that bound beside the measured ratio. With --scale K (K > 1), also one worker and two
workers once each over the notes repeated K times (new ids), where the start-up weighs less.
With --memory 20,2000: only the memory check, `nmsnlp screen --workers 2` once over inputs of those sizes
(MTSamples repeated), peak RSS of the largest process (main or worker) for each, which should stay flat.
Prints characters/s, the ratios the speed issue sets targets for (1 worker / tokenizer >= 1.5, 2 workers /
1 worker >= 1.8), peak memory of the largest single process of each run, `import nmsnlp` and
`nmsnlp --help` wall times, a breakdown of one worker's time by stage (measured in process), and whether
the 1- and 2-worker outputs are byte-identical. Skips when ../shared is absent.
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

from common import DEFAULT_SHARED, ROOT, mtsamples_distinct

TOKENIZE = (
    "import json, sys, spacy\n"
    "nlp = spacy.blank('en')\n"
    "n = 0\n"
    "with open(sys.argv[1], encoding='utf-8') as fh:\n"
    "    for line in fh:\n"
    "        n += len(nlp.tokenizer(json.loads(line)['note_text']))\n"
    "print(n)\n"
)
OUTPUTS = ("scores.jsonl", "scores.csv", "mentions.jsonl", "screening_list.csv", "patients.csv", "errors.jsonl")


# runs a command and prints its wall seconds and the peak RSS of the largest process in its tree: the kernel's
# high-water mark (VmHWM) of every descendant, read every 50 ms while the command runs (the workers of a fork
# server are not children of the command, so the rusage of its children would miss them)
WRAP = (
    "import glob, subprocess, sys, time\n"
    "def tree(pid):\n"
    "    out = [pid]\n"
    "    for f in glob.glob(f'/proc/{pid}/task/*/children'):\n"
    "        try:\n"
    "            out += [q for c in open(f).read().split() for q in tree(int(c))]\n"
    "        except OSError:\n"
    "            pass\n"
    "    return out\n"
    "def hwm(pid):\n"
    "    try:\n"
    "        for line in open(f'/proc/{pid}/status'):\n"
    "            if line.startswith('VmHWM:'):\n"
    "                return int(line.split()[1])\n"
    "    except OSError:\n"
    "        pass\n"
    "    return 0\n"
    "t = time.perf_counter()\n"
    "proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "peaks = {}\n"
    "while proc.poll() is None:\n"
    "    for p in tree(proc.pid):\n"
    "        peaks[p] = max(peaks.get(p, 0), hwm(p))\n"
    "    time.sleep(0.05)\n"
    "secs = time.perf_counter() - t\n"
    "assert proc.returncode == 0, proc.returncode\n"
    "print(secs, max(peaks.values(), default=0))\n"
)


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and the peak RSS (MB) of the largest single process of a command's process tree."""
    out = subprocess.run([sys.executable, "-c", WRAP, *cmd], check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout.split()
    return float(out[0]), int(out[1]) // 1024


def memory(shared: Path, sizes_mb: list[int], work: Path, nmsnlp: str) -> None:
    """Peak memory per process of `nmsnlp screen --workers 2` over inputs of each size (MTSamples notes
    repeated with new ids), measured once each: it should stay flat and under 500 MB."""
    texts = [t for _, t in mtsamples_distinct(shared)]
    print("memory: nmsnlp screen --workers 2, one run per input size")
    print(f"{'input MB':>9}{'notes':>10}{'seconds':>9}{'chars/s':>12}{'peak MB/process':>17}")
    peaks = []
    for mb in sizes_mb:
        src = work / f"mem{mb}.jsonl"
        n = chars = size = 0
        with src.open("w", encoding="utf-8") as fh:
            while size < mb * 1_000_000:
                t = texts[n % len(texts)]
                line = json.dumps({"note_id": f"m{n}", "person_id": f"p{n // 3}", "note_text": t}) + "\n"
                fh.write(line)
                n, chars, size = n + 1, chars + len(t), size + len(line.encode())
        secs, peak = timed([nmsnlp, "screen", str(src), "--out", str(work / f"mem{mb}"), "--workers", "2", "--force", "--no-progress"])
        peaks.append(peak)
        print(f"{size / 1e6:9.0f}{n:10,}{secs:9.1f}{chars / secs:12,.0f}{peak:17d}")
        src.unlink()
        shutil.rmtree(work / f"mem{mb}")
    print(f"largest / smallest input peak: {max(peaks) / min(peaks):.2f}x; max {max(peaks)} MB (target <= 500 MB per worker, flat)")


def breakdown(notes: list[dict], out: Path) -> dict[str, float]:
    """Seconds per stage of one worker's path over the notes, in process."""
    sys.path.insert(0, str(ROOT))
    from nmsnlp.batch.assemble import assemble
    from nmsnlp.batch.partition import ChunkResult, scorer_for
    from nmsnlp.batch.parts import write_part
    from nmsnlp.extraction.extractor import check_text, mentions_from_doc
    from nmsnlp.io.readers import read_notes
    from nmsnlp.scoring.features import compute

    src = out / "breakdown.jsonl"  # exactly the notes the breakdown is about (not the whole bench file)
    src.write_text("".join(json.dumps(n) + "\n" for n in notes), encoding="utf-8")
    stages = dict.fromkeys(("read", "structure", "candidates", "tokenize", "match", "context", "assertion", "features",
                            "model", "write", "assemble"), 0.0)
    t = time.perf_counter()
    records = list(read_notes(src))
    stages["read"] = time.perf_counter() - t
    scorer = scorer_for(None)
    ex = scorer.extractor
    pipes = dict(ex.nlp.pipeline)
    parts = out / "parts"
    parts.mkdir()
    result = ChunkResult()
    for rec in records:
        text = check_text(rec.text, rec.note_id)
        t = time.perf_counter()
        headers, sentences = ex.structure.analyse(text)
        t1 = time.perf_counter()
        candidates = ex.mentions.sentences_with_trigger(text, sentences)
        t2 = time.perf_counter()
        stages["structure"] += t1 - t
        stages["candidates"] += t2 - t1
        if not candidates:
            continue
        doc, to_orig = ex.condensed_doc(text, headers, candidates, rec.note_id)  # the extractor's own steps
        t3 = time.perf_counter()
        stages["tokenize"] += t3 - t2
        for name, key in (("nmsnlp_mentions", "match"), ("nmsnlp_context", "context"), ("nmsnlp_assertion", "assertion")):
            t = time.perf_counter()
            doc = pipes[name](doc)
            stages[key] += time.perf_counter() - t
        mentions = ex._finish(mentions_from_doc(doc, rec.note_id, to_orig), rec.text)
        t = time.perf_counter()
        feats = compute(mentions, scorer.drug_classes)
        t4 = time.perf_counter()
        scorer.model.score_one(feats.values)
        scorer.model.contributions(feats.values)
        t5 = time.perf_counter()
        stages["features"] += t4 - t
        stages["model"] += t5 - t4
        result.mentions.extend(m.to_dict() for m in mentions)
    for rec in records:
        result.scores.append(scorer(rec.text, rec.note_id)[0].to_dict())
    t = time.perf_counter()
    write_part(parts, 0, result, len(records))
    stages["write"] = time.perf_counter() - t
    t = time.perf_counter()
    (out / "asm").mkdir()
    assemble(parts, out / "asm", "csv", False, None)
    stages["assemble"] = time.perf_counter() - t
    return stages


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--notes", type=int, default=4714)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=int, default=1, help="also time 1 and 2 workers once over the notes repeated this many times")
    ap.add_argument("--memory", default="", help="only the memory check, over inputs of these sizes in MB, e.g. 20,2000")
    args = ap.parse_args()
    if not (args.shared / "eval-data" / "mtsamples" / "mtsamples.csv").is_file():
        print(f"skipped: {args.shared}/eval-data/mtsamples not found")
        return 0
    texts = [t for _, t in mtsamples_distinct(args.shared)]
    notes = [{"note_id": str(i + 1), "person_id": str(i % 97), "note_text": texts[i % len(texts)]} for i in range(args.notes)]
    chars = sum(len(n["note_text"]) for n in notes)
    nmsnlp = str(Path(sys.executable).with_name("nmsnlp"))
    if args.memory:
        with tempfile.TemporaryDirectory() as tmp:
            memory(args.shared, [int(x) for x in args.memory.split(",")], Path(tmp), nmsnlp)
        print(f"command: python bench/screen.py --memory {args.memory}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "notes.jsonl"
        src.write_text("".join(json.dumps(n) + "\n" for n in notes), encoding="utf-8")
        distinct = notes[: min(len(notes), len(texts))]
        dsrc = work / "distinct.jsonl"
        dsrc.write_text("".join(json.dumps(n) + "\n" for n in distinct), encoding="utf-8")
        one = work / "one.jsonl"
        one.write_text(json.dumps(notes[0]) + "\n", encoding="utf-8")
        best: dict[str, tuple[float, int]] = {}
        commands = {
            "tokenizer": [sys.executable, "-c", TOKENIZE, str(src)],
            "screen -w 1": [nmsnlp, "screen", str(src), "--out", str(work / "w1"), "--workers", "1", "--force", "--no-progress"],
            "screen -w 2": [nmsnlp, "screen", str(src), "--out", str(work / "w2"), "--workers", "2", "--force", "--no-progress"],
        }
        for _ in range(args.rounds):
            for name, cmd in commands.items():
                secs, peak = timed(cmd)
                if name not in best or secs < best[name][0]:
                    best[name] = (secs, peak)
        identical = all((work / "w1" / f).read_bytes() == (work / "w2" / f).read_bytes() for f in OUTPUTS)
        d_tok = timed([sys.executable, "-c", TOKENIZE, str(dsrc)])[0]
        d_w1 = timed([nmsnlp, "screen", str(dsrc), "--out", str(work / "d1"), "--workers", "1", "--force", "--no-progress"])[0]
        start = min(timed([nmsnlp, "screen", str(one), "--out", str(work / "one"), "--workers", "1", "--force", "--no-progress"])[0]
                    for _ in range(3))
        scaled = None
        if args.scale > 1:
            big = work / "scaled.jsonl"
            with big.open("w", encoding="utf-8") as fh:
                for k in range(args.scale):
                    for n in notes:
                        fh.write(json.dumps({**n, "note_id": f"{k}-{n['note_id']}"}) + "\n")
            scaled = tuple(timed([nmsnlp, "screen", str(big), "--out", str(work / f"s{w}"), "--workers", str(w), "--force",
                                  "--no-progress"])[0] for w in (1, 2))
        imp = min(timed([sys.executable, "-c", "import nmsnlp"])[0] for _ in range(3))
        helps = min(timed([nmsnlp, "--help"])[0] for _ in range(3))
        stages = breakdown(notes[: min(len(notes), 1000)], work)
    print(f"{len(notes):,} notes, {chars:,} characters; best of {args.rounds} alternating rounds, whole processes")
    print(f"{'':14}{'seconds':>9}{'chars/s':>13}{'peak MB':>9}")
    for name, (secs, peak) in best.items():
        print(f"{name:14}{secs:9.2f}{chars / secs:13,.0f}{peak:9d}")
    tok, w1, w2 = (best[k][0] for k in ("tokenizer", "screen -w 1", "screen -w 2"))
    print(f"1 worker / tokenizer: {tok / w1:.2f}x (target >= 1.5)")
    print(f"2 workers / 1 worker: {w1 / w2:.2f}x (target >= 1.8)")
    d_chars = sum(len(n["note_text"]) for n in notes[: min(len(notes), len(texts))])
    print(f"distinct notes only ({min(len(notes), len(texts)):,}, {d_chars:,} characters, one run each): tokenizer {d_tok:.2f} s, "
          f"screen -w 1 {d_w1:.2f} s: 1 worker / tokenizer {d_tok / d_w1:.2f}x")
    bound = w1 / (start + (w1 - start) / 2)
    print(f"start-up (screen of one note): {start:.2f} s; with it, 2 workers / 1 worker is at most {bound:.2f}x at this size")
    if scaled is not None:
        print(f"{args.scale}x the notes ({args.scale * len(notes):,}, one run each): screen -w 1 {scaled[0]:.2f} s, "
              f"screen -w 2 {scaled[1]:.2f} s: 2 workers / 1 worker {scaled[0] / scaled[1]:.2f}x")
    print(f"import nmsnlp: {imp:.2f} s (target < 1.0); nmsnlp --help: {helps:.2f} s (target < 0.5)")
    print(f"1 and 2 workers give byte-identical outputs: {identical}")
    total = sum(stages.values())
    print("one worker's time by stage (in process, first 1,000 notes):")
    for name, secs in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {name:11}{secs:8.2f} s {100 * secs / total:5.1f}%")
    print("command: python bench/screen.py" + (f" --scale {args.scale}" if args.scale > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
