"""Batch screening: inputs (CSV, JSONL, Parquet, folders, SQLite, PostgreSQL), outputs, workers, resume
after kill -9, bad input, OMOP NOTE_NLP, and the pure per-partition function."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nmsnlp.cli import app
from nmsnlp.evaluation.corpus import load_notes

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
OUTPUT_FILES = ("scores.jsonl", "scores.csv", "mentions.jsonl", "screening_list.csv", "patients.csv", "errors.jsonl")


def corpus_rows(n: int) -> list[dict]:
    notes = load_notes(ROOT / "corpora")
    rows = []
    for i in range(n):
        note = notes[i % len(notes)]
        rows.append({"note_id": f"{i + 1}", "person_id": note["person_id"], "note_datetime": note["note_datetime"],
                     "note_title": note["note_type"], "note_text": note["text"]})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def screen(*args: str) -> dict:
    result = runner.invoke(app, ["screen", *args, "--no-progress"])
    assert result.exit_code == 0, result.output
    out = Path(args[args.index("--out") + 1])
    return json.loads((out / "run.json").read_text())


def csv_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def read_scores(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]


def test_outputs_and_run_summary(tmp_path):
    src = write_jsonl(tmp_path / "notes.jsonl", corpus_rows(60))
    run = screen(str(src), "--out", str(tmp_path / "out"), "--workers", "1")
    out = tmp_path / "out"
    for name in (*OUTPUT_FILES, "run.json"):
        assert (out / name).is_file(), name
    assert not (out / ".nmsnlp-parts").exists()
    c = run["counts"]
    assert c["input_rows"] == 60 == c["processed"] + c["errors"] and run["check"] == "processed + errors == input_rows"
    scores = read_scores(out)
    assert [s["note_id"] for s in scores] == [str(i) for i in range(1, 61)]  # input order
    flagged = [s for s in scores if s["flagged"]]
    ranked = (csv_rows(out / "screening_list.csv"))
    assert [r["note_id"] for r in ranked] == [s["note_id"] for s in sorted(flagged, key=lambda s: -s["score"])]
    assert all(r["top_evidence"] for r in ranked)
    patients = {r["person_id"]: r for r in csv_rows(out / "patients.csv")}
    for pid, p in patients.items():
        mine = [s for s in scores if s["person_id"] == pid]
        assert int(p["notes"]) == len(mine) and int(p["flagged_notes"]) == sum(bool(s["flagged"]) for s in mine)
        assert float(p["max_score"]) == pytest.approx(max(s["score"] for s in mine), abs=1e-4)
    for key in ("nmsnlp_version", "model_sha256", "patterns_sha256", "input", "timings"):
        assert key in run
    assert run["timings"]["notes_per_second"] > 0


def test_two_workers_equal_one(tmp_path):
    src = write_jsonl(tmp_path / "notes.jsonl", corpus_rows(90))
    screen(str(src), "--out", str(tmp_path / "one"), "--workers", "1", "--chunk-size", "20")
    screen(str(src), "--out", str(tmp_path / "two"), "--workers", "2", "--chunk-size", "20")
    for name in OUTPUT_FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_resume_after_kill_9_gives_identical_outputs(tmp_path):
    src = write_jsonl(tmp_path / "notes.jsonl", corpus_rows(700))
    screen(str(src), "--out", str(tmp_path / "whole"), "--workers", "1", "--chunk-size", "40")
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "nmsnlp.cli", "screen", str(src), "--out", str(out), "--workers", "1",
           "--chunk-size", "40", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = out / ".nmsnlp-parts"
    deadline = time.time() + 120
    while time.time() < deadline:
        if parts.is_dir() and sum(p.name.isdigit() for p in parts.iterdir()) >= 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = sum(p.name.isdigit() for p in parts.iterdir())
    assert 3 <= done_before < 18, "the kill must land mid-run"
    assert runner.invoke(app, ["screen", str(src), "--out", str(out), "--no-progress"]).exit_code != 0  # refuses without --resume
    run = screen(str(src), "--out", str(out), "--workers", "1", "--chunk-size", "40", "--resume")
    for name in OUTPUT_FILES:
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert run["timings"]["notes_from_earlier_run"] == 40 * done_before
    assert run["counts"]["input_rows"] == 700 and run["counts"]["duplicate_note_ids"] == 0


def test_resume_refuses_a_different_input(tmp_path):
    src = write_jsonl(tmp_path / "notes.jsonl", corpus_rows(5))
    out = tmp_path / "out"
    (out / ".nmsnlp-parts").mkdir(parents=True)
    (out / ".nmsnlp-parts" / "manifest.json").write_text(json.dumps({"input": "other", "started": "2026-01-01T00:00:00"}))
    result = runner.invoke(app, ["screen", str(src), "--out", str(out), "--resume", "--no-progress"])
    assert result.exit_code == 2 and "would mix two runs" in result.output and "the input's content changed" in result.output


def test_bad_input_each_gets_an_error_record_and_the_run_finishes(tmp_path):
    path = tmp_path / "notes.csv"
    big = "Pt stable. " * (20_000_000 // 11) + "Febrile 39.5, rigid, on haloperidol."
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["note_id", "person_id", "note_text"])
        w.writerow(["1", "p1", "T 39.2 and rigid on Haldol"])
        w.writerow(["2", "p1", ""])
        w.writerow(["3", "p2"])  # malformed: too few fields
        w.writerow(["1", "p3", "duplicate id, scored separately"])
        w.writerow(["4", "p4", "NUL\x00 byte and \x07 bell, fever 38.9"])
        w.writerow(["5", "p5", big])
    with path.open("ab") as fh:
        fh.write(b'6,p6,"invalid \xff\xfe utf-8"\n')
    run = screen(str(path), "--out", str(tmp_path / "out"), "--workers", "1")
    c = run["counts"]
    assert c["input_rows"] == 7 and c["processed"] + c["errors"] == 7 and c["errors"] == 3
    assert run["duplicate_note_ids"] == ["1"] and c["duplicate_note_ids"] == 1
    errors = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    messages = " | ".join(e["error"] for e in errors)
    assert "empty" in messages and "malformed" in messages and "UTF-8" in messages
    scores = read_scores(tmp_path / "out")
    assert len(scores) == 7 and [s["note_id"] for s in scores].count("1") == 2
    assert next(s for s in scores if s["note_id"] == "5")["score"] is not None  # the 20 MB note was scored


def test_parquet_in_and_out_and_a_wrong_schema(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = corpus_rows(30)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "notes.parquet")
    run = screen(str(tmp_path / "notes.parquet"), "--out", str(tmp_path / "out"), "--format", "parquet", "--workers", "1")
    table = pq.read_table(tmp_path / "out" / "scores.parquet")
    assert table.num_rows == 30 == run["counts"]["input_rows"]
    pq.write_table(pa.Table.from_pylist([{"note_id": 1, "blob": "x"}]), tmp_path / "wrong.parquet")
    result = runner.invoke(app, ["screen", str(tmp_path / "wrong.parquet"), "--out", str(tmp_path / "o2"), "--no-progress"])
    assert result.exit_code == 2 and "no text column" in result.output
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    result = runner.invoke(app, ["screen", str(tmp_path / "junk.parquet"), "--out", str(tmp_path / "o3"), "--no-progress"])
    assert result.exit_code == 2 and "not a readable Parquet file" in result.output


def _sqlite_note_table(path: Path, rows: list[dict], text_col: str = "note_text") -> str:
    import sqlalchemy as sa

    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    md = sa.MetaData()
    note = sa.Table("note", md, sa.Column("note_id", sa.BigInteger, primary_key=True), sa.Column("person_id", sa.BigInteger),
                    sa.Column("note_date", sa.Date), sa.Column("note_title", sa.String), sa.Column(text_col, sa.Text))
    md.create_all(engine)
    from datetime import date

    with engine.begin() as conn:
        conn.execute(note.insert(), [{"note_id": int(r["note_id"]), "person_id": i % 7, "note_date": date(2024, 1, 1 + i % 28),
                                      "note_title": r["note_title"], text_col: r["note_text"]} for i, r in enumerate(rows)])
    engine.dispose()
    return url


def test_sqlite_note_table_and_note_nlp_rows(tmp_path):
    import sqlalchemy as sa

    url = _sqlite_note_table(tmp_path / "cdm.db", corpus_rows(25))
    run = screen("--db", url, "--where", "note_id <= 20", "--out", str(tmp_path / "out"), "--note-nlp", "--workers", "1")
    assert run["counts"]["input_rows"] == 20 and run["input"]["type"] == "database"
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select * from note_nlp order by note_nlp_id")).mappings().all()
    engine.dispose()
    assert len(rows) == run["counts"]["note_nlp_rows"] == run["counts"]["mentions"]
    assert list(rows[0].keys()) == ["note_nlp_id", "note_id", "section_concept_id", "snippet", "offset", "lexical_variant",
                                    "note_nlp_concept_id", "note_nlp_source_concept_id", "nlp_system", "nlp_date",
                                    "nlp_datetime", "term_exists", "term_temporal", "term_modifiers"]
    first = rows[0]
    assert first["nlp_system"].startswith("nmsnlp ") and "patterns" in first["nlp_system"]
    assert "concept=" in first["term_modifiers"] and "negated=" in first["term_modifiers"]
    assert any("value=" in r["term_modifiers"] and "unit=" in r["term_modifiers"] for r in rows)
    assert {r["term_exists"] for r in rows} <= {"Y", "N"} and {r["term_temporal"] for r in rows} <= {"past", "present"}


def test_note_nlp_to_a_file_without_a_database(tmp_path):
    src = write_jsonl(tmp_path / "n.jsonl", corpus_rows(5))
    run = screen(str(src), "--out", str(tmp_path / "out"), "--note-nlp", "--workers", "1")
    rows = (csv_rows(tmp_path / "out" / "note_nlp.csv"))
    assert len(rows) == run["counts"]["note_nlp_rows"] > 0 and rows[0]["offset"].count("-") == 1


def test_database_errors_are_clear(tmp_path):
    url = _sqlite_note_table(tmp_path / "cdm.db", corpus_rows(3), text_col="blob")
    result = runner.invoke(app, ["screen", "--db", url, "--out", str(tmp_path / "a"), "--no-progress"])
    assert result.exit_code == 2 and "no text column" in result.output
    result = runner.invoke(app, ["screen", "--db", url, "--table", "notes_x", "--out", str(tmp_path / "b"), "--no-progress"])
    assert result.exit_code == 2 and "no table 'notes_x'" in result.output
    bad = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2"
    result = runner.invoke(app, ["screen", "--db", bad, "--out", str(tmp_path / "c"), "--no-progress"])
    assert result.exit_code == 2 and "database error" in result.output and "secret" not in result.output


def test_the_pure_batch_function():
    from nmsnlp.batch.partition import screen_table

    rows = corpus_rows(4)
    scores, mentions = screen_table([{"note_id": r["note_id"], "person_id": r["person_id"], "text": r["note_text"]} for r in rows])
    assert [s["note_id"] for s in scores] == ["1", "2", "3", "4"]
    assert {m["note_id"] for m in mentions} <= {"1", "2", "3", "4"} and mentions
    scores2, _ = screen_table([{"note_id": "x", "text": None}])
    assert scores2[0]["score"] is None and scores2[0]["error"]


def test_no_progress_bar_when_not_a_terminal(tmp_path):
    src = write_jsonl(tmp_path / "n.jsonl", corpus_rows(3))
    result = runner.invoke(app, ["screen", str(src), "--out", str(tmp_path / "o"), "--workers", "1"])
    assert result.exit_code == 0 and "notes/s" not in result.output and "it/s" not in result.output


# --------------------------------------------------------------------------- PostgreSQL, for real


def test_postgresql_note_table_and_note_nlp(postgres, tmp_path):
    from datetime import date

    import sqlalchemy as sa

    engine = sa.create_engine(postgres)
    md = sa.MetaData()
    note = sa.Table("note", md, sa.Column("note_id", sa.BigInteger, primary_key=True), sa.Column("person_id", sa.BigInteger),
                    sa.Column("note_date", sa.Date), sa.Column("note_text", sa.Text))
    md.drop_all(engine)
    md.create_all(engine)
    rows = corpus_rows(12)
    with engine.begin() as conn:
        conn.execute(sa.text("drop table if exists note_nlp"))
        conn.execute(note.insert(), [{"note_id": int(r["note_id"]), "person_id": i % 3, "note_date": date(2024, 2, 1 + i),
                                      "note_text": r["note_text"]} for i, r in enumerate(rows)])
    run = screen("--db", postgres, "--out", str(tmp_path / "out"), "--note-nlp", "--workers", "1")
    assert run["counts"]["input_rows"] == 12 and run["counts"]["errors"] == 0
    with engine.connect() as conn:
        n = conn.execute(sa.text("select count(*) from note_nlp")).scalar()
        offset = conn.execute(sa.text('select "offset" from note_nlp order by note_nlp_id limit 1')).scalar()
    assert n == run["counts"]["mentions"] and "-" in offset
    engine.dispose()
    patients = csv_rows(tmp_path / "out" / "patients.csv")
    assert len(patients) == 3


def test_progress_bar_shows_rate_and_eta_when_asked(tmp_path):
    src = write_jsonl(tmp_path / "n.jsonl", corpus_rows(30))
    proc = subprocess.run([sys.executable, "-m", "nmsnlp.cli", "screen", str(src), "--out", str(tmp_path / "o"),
                           "--workers", "1", "--progress", "--chunk-size", "10"], capture_output=True, text=True, check=True)
    assert "30/30" in proc.stderr and "notes/s" in proc.stderr and "<" in proc.stderr  # count, rate, ETA


def test_input_counts_for_the_eta(tmp_path):
    from nmsnlp.io.source import Source

    rows = corpus_rows(7)
    assert Source(path=write_jsonl(tmp_path / "n.jsonl", rows)).count() == 7
    with (tmp_path / "n.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert Source(path=tmp_path / "n.csv").count() == 7
    url = _sqlite_note_table(tmp_path / "cdm.db", rows)
    assert Source(db=url, where="note_id > 2").count() == 5
