"""Readers and the extract command: every row becomes mentions or an error record; nothing is dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nmsnlp.cli import app
from nmsnlp.errors import InputSchemaError
from nmsnlp.io.readers import read_notes

runner = CliRunner()


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_rows_with_problems_become_error_records(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text(
        json.dumps({"note_id": "a", "text": "fever"}) + "\n"
        + "{not json\n"
        + json.dumps({"note_id": "b", "text": 12}) + "\n"
        + json.dumps({"note_id": "", "text": "x"}) + "\n"
        + json.dumps({"note_id": "c"}) + "\n",
        encoding="utf-8",
    )
    recs = list(read_notes(path))
    assert [r.error is None for r in recs] == [True, False, False, False, False]
    assert "notes.jsonl:2" in recs[1].error and "not valid JSON" in recs[1].error
    assert "not a string" in recs[2].error and "missing note id" in recs[3].error and "missing text" in recs[4].error


def test_omop_note_text_column_and_overrides(tmp_path):
    path = _write_jsonl(tmp_path / "n.jsonl", [{"note_id": 1, "note_text": "rigid", "person_id": 9}])
    rec = next(read_notes(path))
    assert (rec.note_id, rec.text, rec.meta["person_id"]) == ("1", "rigid", 9)
    other = _write_jsonl(tmp_path / "o.jsonl", [{"id": "x", "body": "rigid"}])
    assert next(read_notes(other, id_col="id", text_col="body")).text == "rigid"


def test_missing_column_is_a_clear_error(tmp_path):
    path = _write_jsonl(tmp_path / "n.jsonl", [{"note_id": "a", "blob": "x"}])
    with pytest.raises(InputSchemaError, match=r"n.jsonl: no text column .*columns are \['note_id', 'blob'\]"):
        list(read_notes(path))


def test_csv_malformed_rows_and_invalid_utf8(tmp_path):
    path = tmp_path / "n.csv"
    path.write_bytes(b'note_id,text\na,"fever 39"\nb,"bad \xff byte"\nc,too,many\nd,"rigid"\n')
    recs = list(read_notes(path))
    assert [r.note_id for r in recs if not r.error] == ["a", "d"]
    errors = [r.error for r in recs if r.error]
    assert any("row 3" in e and "UTF-8" in e for e in errors)
    assert any("row 4" in e and "malformed" in e for e in errors)


def test_folder_of_txt_files(tmp_path):
    (tmp_path / "a.txt").write_text("fever", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe rigid")
    (tmp_path / "c.txt").write_text("", encoding="utf-8")
    recs = list(read_notes(tmp_path))
    assert [r.note_id for r in recs] == ["a", "b", "c"]
    assert recs[0].error is None and "b.txt" in recs[1].error and recs[2].error is None  # empty: caught at extraction


def test_unreadable_file_is_an_error_record(tmp_path):
    (tmp_path / "a.txt").mkdir()  # a folder named like a note: reading it fails
    (tmp_path / "b.txt").write_text("rigid", encoding="utf-8")
    recs = list(read_notes(tmp_path))
    assert recs[0].error and "a.txt" in recs[0].error and recs[1].error is None


def test_extract_command_writes_mentions_and_errors(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", [
        {"note_id": "n1", "text": "T 104.2F, lead-pipe rigidity on Haldol dec."},
        {"note_id": "n2", "text": "   "},
        {"note_id": "n3", "text": "No fever."},
    ])
    out = tmp_path / "out" / "m.jsonl"
    result = runner.invoke(app, ["extract", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    mentions = [json.loads(line) for line in out.read_text().splitlines()]
    assert {m["note_id"] for m in mentions} == {"n1", "n3"}
    assert [m["value"] for m in mentions if m["concept"] == "temperature"] == [40.1]
    errors = [json.loads(line) for line in (tmp_path / "out" / "m.errors.jsonl").read_text().splitlines()]
    assert [e["note_id"] for e in errors] == ["n2"] and "empty" in errors[0]["error"]
    assert "3 notes" in result.output and "1 errors" in result.output
    assert "lead-pipe" not in result.output  # no note text on the console


def test_extract_refuses_to_overwrite_without_force(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", [{"note_id": "n1", "text": "fever"}])
    out = tmp_path / "m.jsonl"
    out.write_text("keep")
    result = runner.invoke(app, ["extract", str(src), "--out", str(out)])
    assert result.exit_code != 0 and out.read_text() == "keep"
    assert runner.invoke(app, ["extract", str(src), "--out", str(out), "--force"]).exit_code == 0


def test_extract_missing_column_exits_with_message(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", [{"ident": "n1", "blob": "fever"}])
    result = runner.invoke(app, ["extract", str(src), "--out", str(tmp_path / "m.jsonl")])
    assert result.exit_code == 2 and "no note id column" in result.output


def test_two_workers_give_the_same_output(tmp_path):
    rows = [{"note_id": f"n{i}", "text": f"Day {i}: T 39.{i % 10}, rigid, on haloperidol. No clonus."} for i in range(40)]
    src = _write_jsonl(tmp_path / "in.jsonl", rows)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert runner.invoke(app, ["extract", str(src), "--out", str(one)]).exit_code == 0
    assert runner.invoke(app, ["extract", str(src), "--out", str(two), "--workers", "2"]).exit_code == 0
    assert one.read_text() == two.read_text() and one.read_text().count("\n") == 40 * 4
