"""Results folders for the chart-review tests, made by the real pipeline (`nmsnlp screen`, in process).

- `screen_demo(folder)`: the bundled demo notes plus one note with characters JavaScript counts differently
  (an emoji before the mentions) and markup that must stay text, screened with their note types.
- `replicate(results, folder, copies)`: a large results folder made of copies of a screened run's notes
  (new note and person ids; the same text, mentions and scores), with its own input file and run.json,
  for the load-time budget of a 5,000-note report.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nmsnlp.cli import app

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "corpora" / "demo" / "notes.jsonl"
TRICKY_ID = "DEMO-X-EMOJI"
TRICKY_TEXT = ("ED NOTE 😀 pt says 🤒 <b>feels hot</b> <script>window.pwned = 1</script>\n"
               "Assessment: neuroleptic malignant syndrome after haloperidol was started. No rigidity.\n"
               "T 40.2 C, CK 41,200 U/L.\n")


def demo_rows() -> list[dict]:
    rows = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows.append({"note_id": TRICKY_ID, "person_id": "D-0099", "note_datetime": "2024-05-01T08:00:00",
                 "note_type": "ed_provider_note", "text": TRICKY_TEXT})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def screen(src: Path, out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(app, ["screen", str(src), "--out", str(out), "--workers", "1", "--no-progress",
                                      "--title-col", "note_type", *extra])
    assert result.exit_code == 0, result.output
    return out


def screen_demo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    src = write_jsonl(folder / "notes.jsonl", demo_rows())
    return screen(src, folder / "results")


def replicate(results: Path, folder: Path, copies: int, flagged_only: bool = True) -> Path:
    """A results folder of `copies` copies of the (flagged) notes of `results`."""
    from nmsnlp.io.readers import Columns
    from nmsnlp.io.source import Source

    run = json.loads((results / "run.json").read_text())
    scores = [json.loads(line) for line in (results / "scores.jsonl").read_text().splitlines()]
    mentions: dict[str, list[str]] = {}
    for line in (results / "mentions.jsonl").read_text(encoding="utf-8").splitlines():
        mentions.setdefault(json.loads(line)["note_id"], []).append(line)
    src = Path(run["input"]["path"])
    notes = {r["note_id"]: r for r in (json.loads(line) for line in src.read_text(encoding="utf-8").splitlines())}
    keep = [s for s in scores if s["flagged"] or not flagged_only]
    out = folder / "results"
    out.mkdir(parents=True)
    with (folder / "notes.jsonl").open("w", encoding="utf-8") as fn, (out / "scores.jsonl").open("w") as fs, \
         (out / "mentions.jsonl").open("w", encoding="utf-8") as fm:
        for c in range(copies):
            for s in keep:
                nid, pid = f"{s['note_id']}-c{c}", f"{s['person_id']}-c{c}"
                note = dict(notes[s["note_id"]], note_id=nid, person_id=pid)
                fn.write(json.dumps(note, ensure_ascii=False) + "\n")
                fs.write(json.dumps(dict(s, note_id=nid, person_id=pid)) + "\n")
                for line in mentions.get(s["note_id"], []):
                    rec = json.loads(line)
                    rec["note_id"] = nid
                    fm.write(json.dumps(rec, ensure_ascii=False) + "\n")
    source = Source(path=folder / "notes.jsonl", columns=Columns(title="note_type"))
    run["input"] = source.describe()
    run.pop("source", None)
    (out / "run.json").write_text(json.dumps(run, indent=2))
    return out


def replicate_report(data: dict, n_notes: int) -> dict:
    """Report data (nmsnlp.outputs.review.build_review) with its review notes copied until there are
    `n_notes` (new note ids, rows and patients; the same text, mentions, criteria and reasons)."""
    review = [note for note in data["notes"] if note["review"]]
    notes, patients = [], {}
    for k in range(n_notes):
        src, copy = review[k % len(review)], k // len(review)
        pid = f"{src['pid']}-c{copy}"
        note = dict(src, k=k, row=k + 1, id=f"{src['id']}-c{copy}", pid=pid, rank=k + 1)
        notes.append(note)
        patients.setdefault(pid, []).append([k, note["dt"], note["title"], note["id"], note["row"], True,
                                             note.get("score"), note.get("flagged")])
    for line in patients.values():
        line.sort(key=lambda e: (e[1] or "", e[4]))
    report = dict(data["report"], id=data["report"]["id"][:10] + f"x{n_notes}", n_review=n_notes, n_flagged=n_notes,
                  n_sampled=0)
    return {**data, "report": report, "notes": notes, "patients": patients}
