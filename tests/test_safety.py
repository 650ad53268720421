"""Trust and data safety: no SQL from a flag, one run per folder, every bad byte a record, spreadsheet-safe
CSV, clear PHI-free errors, forgiving inputs, and resume that knows what it resumes."""

from __future__ import annotations

import json
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
