"""The shape of the house: one record schema drives every writer, scoring state is explicit, and a
score's evidence is what its features counted."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import nmsnlp
from nmsnlp import records
from nmsnlp.batch.assemble import assemble
from nmsnlp.batch.partition import ChunkResult, scorer_for, screen_table
from nmsnlp.batch.parts import write_part
from nmsnlp.cli import app
from nmsnlp.evaluation.corpus import load_notes
from nmsnlp.outputs.index import ScoreIndex
from nmsnlp.outputs.omop import note_nlp_row
from nmsnlp.scoring.features import compute
from nmsnlp.scoring.model import load_model
from nmsnlp.scoring.scorer import Scorer

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nmsnlp"
NOTE = "Haldol 5 mg IM x2. T 40.1, HR 128, rigid, confused, CK 12,000. Likely NMS."


@pytest.fixture(scope="module")
def other_model(tmp_path_factory):
    """The shipped model with a shifted intercept and threshold, saved as a model folder of its own."""
    model = load_model()
    model.pipeline.named_steps["classify"].intercept_ = model.pipeline.named_steps["classify"].intercept_ - 3.0
    model.threshold = 0.05
    folder = tmp_path_factory.mktemp("other-model")
    model.save(folder)
    return folder


def test_two_models_in_one_process_each_score_with_their_own(other_model):
    notes = [{"note_id": "1", "text": NOTE}]
    shipped_first, _ = screen_table(notes)
    other, _ = screen_table(notes, model_dir=other_model)
    shipped_again, _ = screen_table(notes)
    assert shipped_first == shipped_again
    assert other[0]["score"] < shipped_first[0]["score"]
    expected, _ = Scorer(model=load_model(other_model))(NOTE, "1")
    assert other[0]["score"] == expected.score
    assert scorer_for(other_model) is scorer_for(other_model), "one scorer per model folder and process"
    assert scorer_for(other_model) is not scorer_for(None)


def test_screen_records_the_model_it_scored_with(tmp_path, other_model):
    src = tmp_path / "notes.jsonl"
    src.write_text(json.dumps({"note_id": "1", "note_text": NOTE}) + "\n")
    runner = CliRunner()
    for name, model in (("shipped", None), ("other", other_model), ("shipped2", None)):
        args = ["screen", str(src), "--out", str(tmp_path / name), "--workers", "1", "--no-progress"]
        result = runner.invoke(app, [*args, "--model", str(model)] if model else args)
        assert result.exit_code == 0, result.output
    runs = {n: json.loads((tmp_path / n / "run.json").read_text()) for n in ("shipped", "other", "shipped2")}
    scores = {n: json.loads((tmp_path / n / "scores.jsonl").read_text()) for n in runs}
    assert runs["other"]["model_sha256"] == load_model(other_model).meta["model_sha256"] != runs["shipped"]["model_sha256"]
    assert scores["other"]["score"] == Scorer(model=load_model(other_model))(NOTE, "1")[0].score
    assert scores["shipped"] == scores["shipped2"] != scores["other"]


HISTORICAL_READINGS = [
    "PMH: rhabdomyolysis 2019 with CK 85,000 and T 41.2.\n\nHPI: on haloperidol 5 mg, now T 38.9, rigid, CK 9,000.",
    "Past medical history: NMS 2017 (CK 60,000, HR 150).\nToday: olanzapine started, T 38.4, HR 96, CK 300.",
    "Family history: brother had CK 40,000 with fever to 40.5.\nPatient on Haldol, T 39.2, lead-pipe rigidity.",
]


@pytest.mark.parametrize("text", HISTORICAL_READINGS)
def test_a_reading_that_is_not_current_is_never_evidence_for_a_value_feature(text):
    scorer = scorer_for(None)
    mentions = scorer.extractor(text, "n")
    stale = [m for m in mentions if m.value is not None and (m.historical or m.hypothetical or m.family)]
    assert stale, "the note must hold a reading that is not current"
    feats = compute(mentions, scorer.drug_classes)
    for key, support in feats.support.items():
        if key.startswith("val:"):
            assert not {id(mentions[i]) for i in support} & {id(m) for m in stale}, key
    score, _ = scorer(text, "n")
    cited = {(e["start"], e["end"]) for e in score.evidence}
    assert not cited & {(m.start, m.end) for m in stale}


def test_evidence_is_the_support_of_the_positive_contributions():
    scorer = scorer_for(None)
    for note in load_notes(ROOT / "corpora")[:120]:
        mentions = scorer.extractor(note["text"], note["note_id"])
        feats = compute(mentions, scorer.drug_classes)
        score = scorer.score_mentions(mentions, note["note_id"])
        counted = {(mentions[i].start, mentions[i].end) for k, v in scorer.model.contributions(feats.values).items()
                   if v > 0 for i in feats.support.get(k, ())}
        assert {(e["start"], e["end"]) for e in score.evidence} <= counted, note["note_id"]


# --------------------------------------------------------------------------- one schema, every writer


@dataclass
class ScoreWithSite(records.NoteScore):
    site: str | None = "north"


@dataclass
class MentionWithLaterality(records.Mention):
    laterality: str | None = "left"


def test_a_field_added_to_the_records_reaches_every_output(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "SCORE_FIELDS", records.record_fields(ScoreWithSite))
    monkeypatch.setattr(records, "MENTION_FIELDS", records.record_fields(MentionWithLaterality))
    scorer = scorer_for(None)
    result = ChunkResult()
    for i, text in enumerate([NOTE, "No fever."], 1):
        base, mentions = scorer(text, str(i), "p1", f"2024-01-0{i}")
        result.scores.append(ScoreWithSite(**vars(base)).to_dict())
        for m in mentions:
            rec = MentionWithLaterality(**vars(m)).to_dict()
            result.mentions.append(rec)
            result.note_nlp.append(note_nlp_row(rec, text, 0, "nmsnlp test", "2024-01-01T00:00:00"))
    parts = tmp_path / "parts"
    parts.mkdir()
    write_part(parts, 0, result, 2)
    out = tmp_path / "out"
    out.mkdir()
    assemble(parts, out, "parquet", note_nlp=True, note_nlp_db=None)

    assert all(json.loads(line)["site"] == "north" for line in (out / "scores.jsonl").read_text().splitlines())
    assert (out / "scores.csv").read_text().splitlines()[0].split(",")[-1] == "site"
    table = pq.read_table(out / "scores.parquet")
    assert table.column("site").to_pylist() == ["north", "north"]
    assert all(json.loads(line)["laterality"] == "left" for line in (out / "mentions.jsonl").read_text().splitlines())
    assert "laterality=left" in (out / "note_nlp.csv").read_text()
    index = ScoreIndex(tmp_path / "index.sqlite")
    assert "site" in index.column_names()
    index.close()


def test_parquet_keeps_every_score_field(tmp_path):
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps({"note_id": str(i), "person_id": "p", "note_text": t}) + "\n"
                           for i, t in enumerate([NOTE, "No fever.", ""], 1)))
    result = CliRunner().invoke(app, ["screen", str(src), "--out", str(tmp_path / "o"), "--format", "parquet",
                                      "--workers", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "o" / "scores.parquet")
    assert table.column_names == [f.name for f in records.SCORE_FIELDS]
    jsonl = [json.loads(line) for line in (tmp_path / "o" / "scores.jsonl").read_text().splitlines()]
    for row, rec in zip(table.to_pylist(), jsonl):
        row["contributions"] = dict(row["contributions"] or [])
        row["criteria_items"] = dict(row["criteria_items"] or [])
        assert row == rec


def test_the_sqlite_index_has_a_column_per_score_field(tmp_path):
    index = ScoreIndex(tmp_path / "i.sqlite")
    assert index.column_names() == ["seq", *(f.name for f in records.SCORE_FIELDS)]
    index.close()
    assert not (tmp_path / "i.sqlite").exists()
    sqlite3.connect(tmp_path / "x.sqlite").close()


# --------------------------------------------------------------------------- one definition per vocabulary


@pytest.mark.parametrize("literal", [
    r'"negated",\s*"uncertain",\s*"historical",\s*"hypothetical",\s*"family"',  # the assertion flags
    r'"serotonin_syndrome",\s*"malignant_hyperthermia",\s*"heat_stroke"',  # the differential list
    r"def present\(",
])
def test_each_vocabulary_is_defined_once(literal):
    found = [p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py") if re.search(literal, p.read_text())]
    assert len(found) == 1, found


def test_public_api_is_unchanged():
    assert {"load", "extract", "assertions", "Extractor", "Mention", "NoteError"} <= set(nmsnlp.__all__)
    assert nmsnlp.Mention is records.Mention
