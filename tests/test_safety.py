"""Trust and data safety: no SQL from a flag, one run per folder, every bad byte a record, spreadsheet-safe
CSV, clear PHI-free errors, forgiving inputs, and resume that knows what it resumes."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nmsnlp.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
SECRET = "Patient Zelda Quartermaine has fever"  # a stand-in for PHI: must never reach a message


def run(*args: str):
    return runner.invoke(app, [*args])


def scores(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "scores.jsonl").read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------- no SQL from flags


def _pg_notes(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("drop table if exists victim; drop table if exists note")
        conn.exec_driver_sql("create table victim (x int)")
        conn.exec_driver_sql("create table note (note_id bigint primary key, person_id bigint, note_text text)")
        conn.exec_driver_sql("insert into note values (1, 7, 'T 39.4, rigid on haloperidol'), (2, 8, 'No fever.')")
    engine.dispose()


def _tables(url: str) -> set[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_table_name_that_carries_sql_runs_none_on_postgresql(postgres, tmp_path):
    _pg_notes(postgres)
    result = run("screen", "--db", postgres, "--table", "note; drop table victim; commit", "--out", str(tmp_path / "o"),
                 "--progress", "--workers", "1")
    assert result.exit_code == 2 and "no table" in result.output
    assert "victim" in _tables(postgres)


def test_where_runs_read_only_on_postgresql(postgres, tmp_path):
    _pg_notes(postgres)
    result = run("screen", "--db", postgres, "--where", "1=1; drop table victim", "--out", str(tmp_path / "o"),
                 "--progress", "--workers", "1")
    assert result.exit_code == 2
    assert "victim" in _tables(postgres)
    ok = run("screen", "--db", postgres, "--where", "note_id = 2", "--out", str(tmp_path / "ok"), "--workers", "1")
    assert ok.exit_code == 0, ok.output
    assert [s["note_id"] for s in scores(tmp_path / "ok")] == ["2"]


def test_where_is_refused_for_a_file(tmp_path):
    src = tmp_path / "n.jsonl"
    src.write_text(json.dumps({"note_id": "1", "note_text": "x"}) + "\n")
    result = run("screen", str(src), "--where", "1=1", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "--where" in result.output


@pytest.mark.parametrize("url, expect", [
    ("cdm.sqlite", "not a database URL"),
    ("sqlite:///{tmp}/nope.sqlite", "no such SQLite database file"),
])
def test_a_bad_database_url_is_a_one_line_error_and_creates_nothing(tmp_path, url, expect):
    url = url.format(tmp=tmp_path)
    result = run("screen", "--db", url, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and expect in result.output and "Traceback" not in result.output
    assert not (tmp_path / "nope.sqlite").exists()


def test_sqlite_where_is_read_only(tmp_path):
    db = tmp_path / "cdm.sqlite"
    con = sqlite3.connect(db)
    con.executescript("create table note (note_id integer primary key, note_text text); create table victim (x);"
                      "insert into note values (1, 'No fever.');")
    con.close()
    result = run("screen", "--db", f"sqlite:///{db}", "--where", "note_id = 1 or (select count(*) from victim) >= 0",
                 "--out", str(tmp_path / "o"), "--workers", "1")
    assert result.exit_code == 0, result.output
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from sqlite_master where name = 'victim'").fetchone()[0] == 1


# --------------------------------------------------------------------------- one run per output folder


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    src = tmp_path / "n.jsonl"
    src.write_text(json.dumps({"note_id": "1", "note_text": "No fever."}) + "\n")
    with (out / ".nmsnlp.lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running screen holds
        fh.write("pid 424242\n")
        fh.flush()
        result = run("screen", str(src), "--out", str(out), "--force", "--workers", "1")
        assert result.exit_code == 2 and "in use by another nmsnlp run" in result.output
    ok = run("screen", str(src), "--out", str(out), "--force", "--workers", "1")
    assert ok.exit_code == 0, ok.output


def test_an_incomplete_part_is_not_trusted_and_resume_recovers(tmp_path):
    src = tmp_path / "n.jsonl"
    src.write_text("".join(json.dumps({"note_id": str(i), "note_text": "T 39.5, rigid."}) + "\n" for i in range(6)))
    full = run("screen", str(src), "--out", str(tmp_path / "full"), "--chunk-size", "2", "--workers", "1")
    assert full.exit_code == 0
    out = tmp_path / "out"
    parts = out / ".nmsnlp-parts"
    from dataclasses import asdict

    from nmsnlp.batch.manifest import build_manifest
    from nmsnlp.batch.screen import Options
    from nmsnlp.io.source import Source

    parts.mkdir(parents=True)
    manifest = build_manifest(Source(path=src), asdict(Options(out=out, chunk=2)))
    (parts / "manifest.json").write_text(json.dumps({**manifest, "started": "2026-01-01T00:00:00+00:00"}))
    broken = parts / "00000000"
    broken.mkdir()
    (broken / "done.json").write_text(json.dumps({"records": 2, "chars": 10}))  # done.json but no scores: a crashed start
    result = run("screen", "--out", str(out), "--resume", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert (out / "scores.jsonl").read_bytes() == (tmp_path / "full" / "scores.jsonl").read_bytes()


def test_a_failed_start_leaves_the_folder_usable(tmp_path):
    src = tmp_path / "n.jsonl"
    src.write_text(json.dumps({"note_id": "1", "note_text": "x"}) + "\n")
    bad = run("screen", str(src), "--out", str(tmp_path / "o"), "--text-col", "nope", "--workers", "1")
    assert bad.exit_code == 2 and "nope" in bad.output
    ok = run("screen", str(src), "--out", str(tmp_path / "o"), "--workers", "1")
    assert ok.exit_code == 0, ok.output


def test_resume_reuses_the_stored_options_and_names_a_differing_flag(tmp_path):
    src = tmp_path / "n.jsonl"
    src.write_text("".join(json.dumps({"note_id": str(i), "note_text": "No fever."}) + "\n" for i in range(3)))
    done = run("screen", str(src), "--out", str(tmp_path / "o"), "--workers", "1")
    assert done.exit_code == 0
    again = run("screen", "--out", str(tmp_path / "o"), "--resume")
    assert again.exit_code == 2 and "already finished" in again.output
    from dataclasses import asdict

    from nmsnlp.batch.manifest import build_manifest
    from nmsnlp.batch.screen import Options
    from nmsnlp.io.source import Source

    out = tmp_path / "p"
    (out / ".nmsnlp-parts").mkdir(parents=True)
    manifest = build_manifest(Source(path=src), asdict(Options(out=out, chunk=2)))
    (out / ".nmsnlp-parts" / "manifest.json").write_text(json.dumps({**manifest, "started": "2026-01-01T00:00:00+00:00"}))
    clash = run("screen", str(src), "--out", str(out), "--resume", "--chunk-size", "5")
    assert clash.exit_code == 2 and "--chunk-size: 2 then, 5 now" in clash.output
    ok = run("screen", "--out", str(out), "--resume", "--workers", "1")
    assert ok.exit_code == 0, ok.output


# --------------------------------------------------------------------------- every bad byte is a record


def test_bad_bytes_in_ids_and_text_become_records_and_the_run_finishes(tmp_path):
    src = tmp_path / "n.csv"
    body = (b"note_id,person_id,note_text\n" + b"a\xe9,p\xff1,No fever.\n" + b"b2,p2,Rigid \xff and febrile.\n"
            + b"c3,p3,T 39.4 on haloperidol.\n")
    src.write_bytes(body)
    result = run("screen", str(src), "--out", str(tmp_path / "o"), "--note-nlp", "--workers", "1")
    assert result.exit_code == 0, result.output
    rows = scores(tmp_path / "o")
    assert len(rows) == 3 and rows[0]["note_id"] == "a\\udce9" and rows[0]["person_id"] == "p\\udcff1"
    assert rows[1]["error"] and "not valid UTF-8" in rows[1]["error"] and rows[2]["error"] is None
    runjson = json.loads((tmp_path / "o" / "run.json").read_text())
    assert runjson["counts"]["processed"] + runjson["counts"]["errors"] == runjson["counts"]["input_rows"] == 3


def test_a_lone_surrogate_is_a_note_error_in_the_api_and_a_record_in_a_run(tmp_path):
    import nmsnlp

    with pytest.raises(nmsnlp.NoteError, match="lone surrogate"):
        nmsnlp.extract("fever \ud83d and rigid")
    src = tmp_path / "n.jsonl"
    src.write_text('{"note_id": "x\\ud800", "note_text": "rigid \\udc00 fever"}\n{"note_id": "ok", "note_text": "No fever."}\n')
    result = run("screen", str(src), "--out", str(tmp_path / "o"), "--workers", "1")
    assert result.exit_code == 0, result.output
    rows = scores(tmp_path / "o")
    assert rows[0]["note_id"] == "x\\ud800" and rows[0]["error"] and rows[1]["error"] is None


def test_long_runs_of_punctuation_are_fast_and_a_slow_note_times_out(tmp_path):
    import time

    import nmsnlp

    t0 = time.perf_counter()
    text = "Fever 39.2. " + "=" * 8000 + " Rigid. " + "😀" * 3000
    mentions = nmsnlp.extract(text)
    assert time.perf_counter() - t0 < 2.0
    assert [m.concept for m in mentions][:2] == ["fever", "temperature"] and all(text[m.start:m.end] == m.text for m in mentions)
    from nmsnlp.batch.partition import scorer_for, screen_records
    from nmsnlp.io.readers import NoteRecord

    # a note of 900,000 characters of triggers: slow enough for the 0.05 s budget
    result = screen_records([NoteRecord("slow", "fever " * 150_000, "t:1"), NoteRecord("fast", "No fever.", "t:2")],
                            scorer_for(None), note_timeout=0.05)
    assert "--note-timeout" in result.scores[0]["error"] and result.scores[1]["error"] is None


def test_a_note_with_too_much_trigger_text_is_one_clear_error_record():
    from nmsnlp.batch.partition import scorer_for, screen_records
    from nmsnlp.io.readers import NoteRecord

    result = screen_records([NoteRecord("huge", "Fever. " * 800_000, "t:1"), NoteRecord("fine", "No fever.", "t:2")],
                            scorer_for(None))
    assert "5,599,999 characters of sentences with trigger terms, over the limit of 5,000,000" in result.scores[0]["error"]
    assert "internal error" not in result.scores[0]["error"] and result.scores[1]["error"] is None


def test_a_fifo_in_a_folder_is_skipped_with_a_record(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("No fever.")
    os.mkfifo(folder / "b.txt")
    result = run("screen", str(folder), "--out", str(tmp_path / "o"), "--workers", "1")
    assert result.exit_code == 0, result.output
    rows = {r["note_id"]: r for r in scores(tmp_path / "o")}
    assert "not a regular file" in rows["b"]["error"] and rows["a"]["error"] is None


# --------------------------------------------------------------------------- spreadsheet-safe CSV


def test_csv_outputs_neutralise_formula_cells(tmp_path):
    src = tmp_path / "n.csv"
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["note_id", "person_id", "note_datetime", "note_text"])
        w.writerow(["=HYPERLINK(\"http://x\")", "+p1", "2024-01-02", "-haloperidol 5 mg IM. T 40.1, rigid, CK 12,000. Likely NMS."])
        w.writerow(["-7", "@p2", "2024-01-03", "No fever."])
    result = run("screen", str(src), "--out", str(tmp_path / "o"), "--workers", "1", "--note-nlp")
    assert result.exit_code == 0, result.output
    for name in ("scores.csv", "screening_list.csv", "patients.csv", "note_nlp.csv"):
        cells = [c for row in csv.reader((tmp_path / "o" / name).read_text().splitlines()) for c in row]
        risky = [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c.lstrip("-").replace(".", "").isdigit())]
        assert not risky, (name, risky[:3])
    ids = [r["note_id"] for r in csv.DictReader((tmp_path / "o" / "scores.csv").read_text().splitlines())]
    assert ids == ["'=HYPERLINK(\"http://x\")", "-7"]  # a number stays a number


# --------------------------------------------------------------------------- clear, short, PHI-free errors


def test_a_missing_input_is_one_line(tmp_path):
    result = run("screen", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "no such file" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o" / ".nmsnlp-parts").exists()


def test_a_headerless_csv_error_shows_no_note_text(tmp_path):
    src = tmp_path / "n.csv"
    src.write_text(f"1,{SECRET} and stiff muscles on haloperidol\n2,No fever\n")
    result = run("screen", str(src), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "does not look like a header" in result.output
    assert SECRET not in result.output


def test_a_stray_quote_that_swallows_rows_is_reported_with_its_lines(tmp_path):
    src = tmp_path / "n.csv"
    lines = ["note_id,note_text"] + [f"{i},note {i} text" for i in range(1, 40)]
    lines[5] = '5,"note 5 has a stray quote'
    src.write_text("\n".join(lines) + "\n")
    result = run("screen", str(src), "--out", str(tmp_path / "o"), "--workers", "1")
    assert result.exit_code == 0, result.output
    rows = scores(tmp_path / "o")
    errs = [r for r in rows if r["error"]]
    assert [r["note_id"] for r in rows][:5] == ["1", "2", "3", "4", "5"]
    assert errs and "quote opened on line 6" in errs[0]["error"] and "look like rows" in errs[0]["error"]
    assert SECRET not in (tmp_path / "o" / "errors.jsonl").read_text()


# --------------------------------------------------------------------------- forgiving inputs


def test_columns_are_matched_without_case_with_aliases_bom_tsv_and_encoding(tmp_path):
    tsv = tmp_path / "export.tsv"
    tsv.write_bytes("\ufeffNOTE_ID\tMRN\tNote_Text\tNote Type\tDate\n".encode() +
                    "7\tM1\tFièvre; T 39.4, rigid on Haldol\tProgress note\t03/04/2024\n".encode("cp1252"))
    result = run("screen", str(tsv), "--out", str(tmp_path / "o"), "--encoding", "cp1252", "--workers", "1")
    assert result.exit_code == 0, result.output
    row = scores(tmp_path / "o")[0]
    assert (row["note_id"], row["person_id"], row["note_title"], row["note_datetime"]) == ("7", "M1", "Progress note", "2024-03-04")
    result = run("screen", str(tsv), "--out", str(tmp_path / "d"), "--encoding", "cp1252", "--date-format", "dmy", "--workers", "1")
    assert scores(tmp_path / "d")[0]["note_datetime"] == "2024-04-03"
    run_json = json.loads((tmp_path / "o" / "run.json").read_text())
    assert 0 < run_json["threshold"] < 1


@pytest.mark.parametrize("value, fmt, iso", [
    ("2024-03-04T10:20:00", None, "2024-03-04T10:20:00"), ("03/04/2024", None, "2024-03-04"),
    ("13/04/2024", None, "2024-04-13"), ("03/04/2024 2:05 PM", None, "2024-03-04T14:05:00"),
    ("04.03.2024", "dmy", "2024-03-04"), ("2024/03/04", None, "2024-03-04"),
])
def test_dates_are_normalized(value, fmt, iso):
    from nmsnlp.io.readers import normalize_datetime

    assert normalize_datetime(value, fmt) == iso


def test_a_date_that_is_not_a_date_is_an_error_record(tmp_path):
    src = tmp_path / "n.jsonl"
    src.write_text(json.dumps({"note_id": "1", "note_text": "x", "note_date": "yesterday"}) + "\n")
    result = run("screen", str(src), "--out", str(tmp_path / "o"), "--workers", "1")
    assert result.exit_code == 0 and "is not a date" in scores(tmp_path / "o")[0]["error"]


def test_subfolders_are_read_with_recursive(tmp_path):
    (tmp_path / "n" / "sub").mkdir(parents=True)
    (tmp_path / "n" / "a.txt").write_text("No fever.")
    (tmp_path / "n" / "sub" / "b.txt").write_text("Rigid.")
    flat = run("screen", str(tmp_path / "n"), "--out", str(tmp_path / "o1"), "--workers", "1")
    deep = run("screen", str(tmp_path / "n"), "--out", str(tmp_path / "o2"), "--workers", "1", "--recursive")
    assert [r["note_id"] for r in scores(tmp_path / "o1")] == ["a"]
    assert [r["note_id"] for r in scores(tmp_path / "o2")] == ["a", "sub/b"]
    assert flat.exit_code == deep.exit_code == 0


# --------------------------------------------------------------------------- NOTE_NLP that can be re-run


def _sqlite_cdm(path: Path) -> str:
    con = sqlite3.connect(path)
    con.executescript("create table note (note_id integer primary key, note_text text);"
                      "insert into note values (1, 'T 39.4, rigid on haloperidol, CK 12,000'), (2, 'No fever.');"
                      "create table note_nlp (note_nlp_id integer, note_id integer, section_concept_id integer, snippet text,"
                      " offset text, lexical_variant text, note_nlp_concept_id integer, note_nlp_source_concept_id integer,"
                      " nlp_system text, nlp_date date, nlp_datetime datetime, term_exists text, term_temporal text,"
                      " term_modifiers text);"  # no primary key: duplicates would go in silently
                      "insert into note_nlp (note_nlp_id, note_id, lexical_variant, nlp_system, nlp_date)"
                      " values (500, 1, 'other tool', 'ctakes 4', '2024-01-01');")
    con.close()
    return f"sqlite:///{path}"


def test_note_nlp_reruns_refuse_without_replace_and_replace_only_their_own_rows(tmp_path):
    url = _sqlite_cdm(tmp_path / "cdm.sqlite")
    first = run("screen", "--db", url, "--note-nlp", "--out", str(tmp_path / "a"), "--workers", "1")
    assert first.exit_code == 0, first.output
    con = sqlite3.connect(tmp_path / "cdm.sqlite")
    ids = [r[0] for r in con.execute("select note_nlp_id from note_nlp where nlp_system like 'nmsnlp%' order by note_nlp_id")]
    assert ids and min(ids) == 501 and len(ids) == len(set(ids))
    n_first = len(ids)
    again = run("screen", "--db", url, "--note-nlp", "--out", str(tmp_path / "b"), "--workers", "1")
    assert again.exit_code == 2 and "--replace" in again.output and not (tmp_path / "b" / "scores.jsonl").exists()
    replaced = run("screen", "--db", url, "--note-nlp", "--replace", "--out", str(tmp_path / "c"), "--workers", "1")
    assert replaced.exit_code == 0, replaced.output
    rows = con.execute("select nlp_system, count(*) from note_nlp group by nlp_system like 'nmsnlp%'").fetchall()
    counts = {("nmsnlp" if s.startswith("nmsnlp") else "other"): n for s, n in rows}
    assert counts == {"nmsnlp": n_first, "other": 1}
    all_ids = [r[0] for r in con.execute("select note_nlp_id from note_nlp")]
    assert len(all_ids) == len(set(all_ids))


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(x) for x in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _pool_processes(pid: int) -> set[int]:
    """The multiprocessing processes below `pid`, at any depth (a fork server's workers are its children)."""
    out: set[int] = set()
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_text(errors="replace")
        except OSError:
            continue
        if "spawn_main" in cmdline or "forkserver" in cmdline:
            out |= {child, *_pool_processes(child)}
    return out


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the worker processes")
def test_workers_die_with_a_killed_parent(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "n.jsonl"
    src.write_text("".join(json.dumps({"note_id": str(i), "note_text": "T 39.5, rigid, CK 9,000. " * 40}) + "\n"
                           for i in range(1500)))
    proc = subprocess.Popen([sys.executable, "-m", "nmsnlp.cli", "screen", str(src), "--out", str(tmp_path / "o"),
                             "--workers", "2", "--chunk-size", "20", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    workers: set[int] = set()  # every process of the pool: a fork server and the workers forked from it (or spawned ones)
    while time.time() < deadline and len(workers) < 2:
        workers = _pool_processes(proc.pid)
        time.sleep(0.2)
    assert len(workers) >= 2, "the run must have started its workers"
    while time.time() < deadline and not (tmp_path / "o" / ".nmsnlp-parts" / "00000001").exists():
        time.sleep(0.1)  # the workers are up and scoring
    workers |= _pool_processes(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    end = time.time() + 10
    while time.time() < end and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in Path(f"/proc/{w}/stat").read_text().split()[2]]
    assert not alive, f"workers outlived their killed parent: {alive}"


@pytest.mark.parametrize("text", ["CK 1e308", "T -40C", "BP 80/120"])
def test_impossible_numbers_are_not_values(text):
    import nmsnlp

    assert all(m.value is None for m in nmsnlp.extract(text))


@pytest.mark.parametrize("span", [(8, 3), (-1, 2), (3, 99)])
def test_assertions_refuse_a_bad_span_with_a_value_error(span):
    import nmsnlp

    with pytest.raises(ValueError, match="does not fall within"):
        nmsnlp.assertions("no fever", [span])


def _one_note(tmp_path: Path) -> Path:
    src = tmp_path / "n.jsonl"
    src.write_text(json.dumps({"note_id": "1", "note_text": "No fever."}) + "\n")
    return src


def test_a_full_disk_is_a_one_line_error_with_the_resume_hint(tmp_path, monkeypatch):
    import errno

    import nmsnlp.batch.screen as screen_mod

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(screen_mod, "write_part", full)  # the disk fills while a part is written
    result = run("screen", str(_one_note(tmp_path)), "--out", str(tmp_path / "o"), "--workers", "1")
    assert result.exit_code == 2 and "disk is full" in result.output and "--resume" in result.output
    assert "Traceback" not in result.output


def test_ctrl_c_says_how_to_resume(tmp_path, monkeypatch):
    import nmsnlp.batch.screen as screen_mod

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(screen_mod, "run_screen", interrupted)
    result = run("screen", str(_one_note(tmp_path)), "--out", str(tmp_path / "o"), "--workers", "1")
    assert result.exit_code == 130 and "--resume" in result.output


def test_correctly_quoted_multiline_notes_with_commas_are_read_as_they_are(tmp_path):
    src = tmp_path / "n.csv"
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["note_id", "note_text"])
        for i in range(60):
            w.writerow([str(i), f"HPI: 34M, febrile.\n{i}, rigid\n2, confused\nPlan: stop haloperidol, cooling.\n1, 2, 3"])
    result = run("screen", str(src), "--out", str(tmp_path / "o"), "--workers", "1")
    assert result.exit_code == 0, result.output
    assert not [r for r in scores(tmp_path / "o") if r["error"]]
