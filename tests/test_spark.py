"""The Spark engine (nmsnlp.batch.spark) against the local engine, on Spark in local mode: the same scores,
flags, mentions, errors and lists on the demo notes plus 1,000 MTSamples-like notes made here, from JSONL,
CSV, Parquet and a PostgreSQL NOTE table over JDBC; the same output after a task that fails once.

One SparkSession serves every test (`spark`, session-scoped): local[2,3] is two cores with up to three
attempts per task, so a task that fails once is retried; small shuffle partitions, no UI."""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nmsnlp import records
from nmsnlp.cli import app

pytestmark = [
    pytest.mark.skipif(shutil.which("java") is None,
                       reason="Java is not installed: the Spark tests need a JVM (.ci/run installs Debian's default-jre-headless)"),
    pytest.mark.slow,
]

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "corpora" / "demo" / "notes.jsonl"
PG_JAR = Path("/usr/share/java/postgresql.jar")
runner = CliRunner()


@pytest.fixture(scope="session")
def spark():
    previous = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the executors' Python workers run this venv, not the system Python
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master("local[2,3]").appName("nmsnlp tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "4").config("spark.sql.session.timeZone", "UTC"))
    if PG_JAR.is_file():
        builder = builder.config("spark.jars", str(PG_JAR))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if previous is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = previous


# --------------------------------------------------------------------------- MTSamples-like notes, made here

SPECIALTIES = ["Orthopedic", "Cardiology", "Gastroenterology", "Psychiatry", "Neurology", "General Medicine",
               "Emergency Room Reports", "Discharge Summary", "Consult - History and Phy.", "Urology"]
COMPLAINTS = ["chest pain", "right knee pain", "abdominal pain", "confusion and fever", "worsening agitation",
              "shortness of breath", "low back pain", "headache", "fall at home", "stiffness and sweating",
              "dysuria", "syncope", "rash", "altered mental status", "medication review"]
DRUGS = ["haloperidol 5 mg IM", "Haldol 2 mg PO BID", "olanzapine 10 mg nightly", "risperidone 2 mg daily",
         "quetiapine 100 mg at bedtime", "aripiprazole 15 mg daily", "metoclopramide 10 mg IV",
         "fluphenazine decanoate 25 mg", "lisinopril 10 mg daily", "metformin 500 mg BID", "atorvastatin 40 mg",
         "aspirin 81 mg", "lithium 300 mg TID", "sertraline 50 mg", "lorazepam 1 mg PRN", "omeprazole 20 mg",
         "clozapine 200 mg", "promethazine 25 mg", "ibuprofen 600 mg", "benztropine 1 mg"]
HISTORY = ["hypertension", "type 2 diabetes", "schizophrenia", "bipolar disorder", "COPD", "asthma",
           "coronary artery disease", "hypothyroidism", "major depression", "chronic kidney disease",
           "osteoarthritis", "GERD", "Parkinson disease", "seizure disorder"]
SIGNS = ["lead-pipe rigidity", "diaphoresis", "tremor", "confusion", "agitation", "muscle rigidity",
         "incontinence", "mutism", "dysphagia", "tachycardia", "labile blood pressure", "somnolence"]
NEGATED = ["Denies fever or chills.", "No rigidity on exam.", "No confusion.", "Negative for tremor.",
           "No diaphoresis.", "She denies muscle stiffness.", "No history of NMS.", "Without fever."]
EXTRAS = ["Family history: father had heart disease; mother with NMS after haloperidol.",
          "History of neuroleptic malignant syndrome in 2015 on haloperidol, resolved.",
          "If fever or rigidity develops, check CK and consider NMS.",
          "Rule out NMS versus serotonin syndrome.",
          "Assessment: neuroleptic malignant syndrome, haloperidol held, dantrolene started.",
          "Patient reports no drug allergies.", "Social history: smokes 1 ppd, occasional alcohol.",
          "Haloperidol was discontinued yesterday.", "Olanzapine increased to 20 mg.",
          "The patient was counseled about side effects of antipsychotics."]
EXAMS = ["Lungs clear to auscultation bilaterally.", "Heart regular rate and rhythm, no murmurs.",
         "Abdomen soft, nontender, nondistended.", "Extremities without edema.",
         "Neuro: alert and oriented x3, strength 5/5 throughout.", "Skin warm and dry.",
         "Neuro: cogwheel rigidity in the upper extremities.", "Neck supple, no meningismus."]


def _vitals(rng: random.Random, sick: bool) -> str:
    temp = round(rng.uniform(38.4, 41.0) if sick else rng.uniform(36.4, 37.6), 1)
    hr = rng.randint(105, 140) if sick else rng.randint(60, 95)
    sbp, dbp = (rng.randint(150, 190), rng.randint(90, 110)) if sick else (rng.randint(105, 135), rng.randint(60, 85))
    unit = rng.choice(["C", " C", ""])
    return f"VITAL SIGNS: Temperature {temp}{unit}, pulse {hr}, blood pressure {sbp}/{dbp}, respirations {rng.randint(12, 28)}, saturation {rng.randint(91, 99)}% on room air."


def _labs(rng: random.Random, sick: bool) -> str:
    ck = rng.choice([rng.randint(2500, 60000), rng.randint(1000, 2500)]) if sick else rng.randint(40, 300)
    parts = [f"CK {ck:,}" if rng.random() < 0.5 else f"creatine kinase {ck} U/L",
             f"WBC {round(rng.uniform(11, 19) if sick else rng.uniform(4, 10), 1)}",
             f"creatinine {round(rng.uniform(0.7, 2.9), 1)}", f"sodium {rng.randint(131, 146)}"]
    if rng.random() < 0.3:
        parts.append(f"myoglobin {rng.randint(80, 3000)}")
    rng.shuffle(parts)
    return "LABORATORY DATA: " + ", ".join(parts) + "."


def mtsamples_like(n: int, seed: int = 13) -> list[dict]:
    """n varied transcribed-report-like notes (sections, medications, vitals, labs, negation, history,
    family history, hypothetical and documented NMS), some near-copies, over persons with several notes."""
    rng = random.Random(seed)
    notes: list[dict] = []
    for i in range(n):
        sick = rng.random() < 0.18
        age, sex = rng.randint(18, 90), rng.choice(["male", "female"])
        meds = rng.sample(DRUGS, rng.randint(1, 5))
        lines = [f"SPECIALTY: {rng.choice(SPECIALTIES)}", "",
                 f"CHIEF COMPLAINT: {rng.choice(COMPLAINTS).capitalize()}.", "",
                 "HISTORY OF PRESENT ILLNESS: "
                 f"This is a {age}-year-old {sex} who presents with {rng.choice(COMPLAINTS)} for {rng.randint(1, 14)} days. "
                 + (f"Over the last {rng.randint(1, 4)} days the family noted {', '.join(rng.sample(SIGNS, 3))} "
                    f"after {meds[0].split()[0]} was started. " if sick else "")
                 + " ".join(rng.sample(NEGATED, rng.randint(0, 3))), "",
                 f"PAST MEDICAL HISTORY: {', '.join(rng.sample(HISTORY, rng.randint(1, 4)))}.", "",
                 "MEDICATIONS:"]
        lines += [f"{k}. {m}" for k, m in enumerate(meds, 1)]
        lines += ["", "ALLERGIES: " + rng.choice(["NKDA.", "Penicillin (rash).", "Sulfa.", "No known drug allergies."]), "",
                  "PHYSICAL EXAMINATION:", _vitals(rng, sick), *rng.sample(EXAMS, rng.randint(2, 5)), ""]
        if rng.random() < 0.7:
            lines += [_labs(rng, sick), ""]
        lines += ["ASSESSMENT AND PLAN:", *rng.sample(EXTRAS, rng.randint(0, 3)),
                  f"Follow up in {rng.randint(1, 6)} weeks." if rng.random() < 0.8 else "Admit to medicine."]
        text = "\n".join(lines)
        if rng.random() < 0.4:
            text = text.replace("\n\n", "\n")
        person = f"P{rng.randint(1, 300):04d}" if rng.random() < 0.97 else None
        notes.append({"note_id": f"MTS-{i + 1:05d}", "person_id": person,
                      "note_datetime": f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
                      "text": text})
    for k in range(0, n, 97):  # near-copies: the same text under another id (equal scores, ranked by input order)
        notes.append({**notes[k], "note_id": f"COPY-{k:05d}"})
    return notes


def demo_rows() -> list[dict]:
    return [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]


BAD_LINES = [
    json.dumps({"note_id": "", "person_id": "P0001", "text": "no id here"}),
    json.dumps({"note_id": "BAD-null", "person_id": "P0002", "text": None}),
    json.dumps({"note_id": "BAD-int", "person_id": "P0002", "text": 5}),
    json.dumps({"note_id": "BAD-empty", "person_id": "P0003", "text": ""}),
    "{not json",
    "[1, 2, 3]",
    "",
    json.dumps({"note_id": "MTS-00001", "person_id": "P0999", "text": "Duplicate id: T 39.4, rigid, on haloperidol. CK 9,000."}),
]


# --------------------------------------------------------------------------- helpers


def screen(*args: str) -> dict:
    result = runner.invoke(app, ["screen", *args, "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = Path(args[args.index("--out") + 1])
    return json.loads((out / "run.json").read_text())


def _decode(fields: tuple[records.Field, ...], row: dict) -> dict:
    """A Parquet row as the JSONL record: maps come back from Arrow as lists of pairs."""
    out = {}
    for f in fields:
        v = row.get(f.name)
        if f.kind.startswith("map_") and v is not None:
            v = dict(v)
        out[f.name] = v
    return out


def parquet_rows(path: Path, fields: tuple[records.Field, ...] | None = None) -> list[dict]:
    import pyarrow.dataset as ds

    rows = ds.dataset(path, format="parquet").to_table().to_pylist()
    return [_decode(fields, r) for r in rows] if fields else rows


def jsonl_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def assert_same_outputs(local: Path, spark_out: Path, *, errors: bool = True) -> None:
    """Scores, mentions, errors and both lists of a Spark run equal the local engine's."""
    local_scores, spark_scores = jsonl_rows(local / "scores.jsonl"), parquet_rows(spark_out / "scores.parquet", records.SCORE_FIELDS)
    assert len(spark_scores) == len(local_scores)
    assert spark_scores == local_scores  # every field, in input order
    local_mentions = jsonl_rows(local / "mentions.jsonl")
    spark_mentions = parquet_rows(spark_out / "mentions.parquet", records.MENTION_FIELDS)
    assert len(spark_mentions) == len(local_mentions) > 0
    assert spark_mentions == local_mentions
    if errors:
        assert parquet_rows(spark_out / "errors.parquet") == jsonl_rows(local / "errors.jsonl")
    for name in ("screening_list.csv", "patients.csv"):
        local_text = (local / name).read_text(encoding="utf-8")
        spark_text = (spark_out / name).read_text(encoding="utf-8")
        assert sorted(spark_text.splitlines()) == sorted(local_text.splitlines()), name  # the same rows
        assert spark_text == local_text, name  # and the same ranking


def assert_same_counts(local_run: dict, spark_run: dict) -> None:
    assert spark_run["counts"] == local_run["counts"]
    assert spark_run["duplicate_note_ids"] == local_run["duplicate_note_ids"]
    assert spark_run["check"] == "processed + errors == input_rows"
    for key in ("nmsnlp_version", "model_sha256", "patterns_sha256"):
        assert spark_run[key] == local_run[key]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """The demo notes, 1,000 MTSamples-like notes (and near-copies) and bad rows, screened by the local engine."""
    folder = tmp_path_factory.mktemp("spark-big")
    rows = demo_rows() + mtsamples_like(1000)
    lines = [json.dumps(r) for r in rows]
    for k, bad in enumerate(BAD_LINES):
        lines.insert(37 + 131 * k, bad)
    src = folder / "notes.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    local_run = screen(str(src), "--out", str(folder / "local"), "--workers", "1")
    return {"src": src, "folder": folder, "local": folder / "local", "local_run": local_run}


# --------------------------------------------------------------------------- same answers


def test_same_answers_as_the_local_engine_on_demo_and_mtsamples_like_notes(spark, big):
    out = big["folder"] / "spark"
    run = screen(str(big["src"]), "--out", str(out), "--engine", "spark", "--partition-notes", "200")
    assert run["spark"]["engine"] == "spark" and run["input"]["type"] == "jsonl"
    c = run["counts"]
    assert c["input_rows"] == 24 + 1000 + 11 + len(BAD_LINES) - 1  # the blank line is not a row
    assert c["errors"] == 6 and c["flagged"] > 8 and c["duplicate_note_ids"] == 1
    assert_same_counts(big["local_run"], run)
    assert_same_outputs(big["local"], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(run["outputs"])
    assert not (out / ".nmsnlp-spark").exists()


def test_a_task_that_fails_once_gives_the_same_output(spark, big, tmp_path):
    from nmsnlp.batch.spark_run import SparkInput, SparkOptions, run_spark_screen

    marker = tmp_path / "failed-once"
    out = tmp_path / "spark"
    run = run_spark_screen(spark, SparkInput(path=str(big["src"])),
                           SparkOptions(out=out, partition_notes=150, fail_once=str(marker)))
    assert marker.exists(), "a task must have failed (and been retried)"
    assert_same_counts(big["local_run"], run)
    assert_same_outputs(big["local"], out)


# --------------------------------------------------------------------------- other inputs


def _table_rows() -> list[dict]:
    rows = []
    for i, r in enumerate(demo_rows() + mtsamples_like(150, seed=7)[:150], 1):
        rows.append({"note_id": i, "person_id": (i % 23) if i % 17 else None, "note_date": r["note_datetime"][:10],
                     "note_title": "progress note" if i % 3 else None, "note_text": r["text"]})
    return rows


def test_parquet_input_with_integer_ids_dates_and_nulls(spark, tmp_path):
    from datetime import date

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _table_rows()
    for r in rows:
        r["note_date"] = date.fromisoformat(r["note_date"])
    rows[5]["note_text"] = None
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "notes.parquet", row_group_size=40)
    local = screen(str(tmp_path / "notes.parquet"), "--out", str(tmp_path / "local"), "--workers", "1")
    run = screen(str(tmp_path / "notes.parquet"), "--out", str(tmp_path / "spark"), "--engine", "spark",
                 "--partition-notes", "60")
    assert_same_counts(local, run)
    assert_same_outputs(tmp_path / "local", tmp_path / "spark")
    scores = parquet_rows(tmp_path / "spark" / "scores.parquet", records.SCORE_FIELDS)
    assert scores[0]["note_id"] == "1" and scores[0]["note_datetime"] == rows[0]["note_date"].isoformat()
    assert scores[16]["person_id"] is None and scores[1]["person_id"] == "2"  # 2, not 2.0


def _csv_text(text: str) -> str:
    """Quotes and newlines in a field, and commas on its first line only: no later line of a note reads like
    a CSV row of its own (the local reader refuses a field that seems to swallow rows)."""
    first, _, rest = text.partition("\n")
    return f'{first}, "quoted", and more\n' + rest.replace(",", ";").replace("Temperature", 'Temperature "oral"')


def test_csv_input_with_quotes_newlines_and_malformed_rows(spark, tmp_path):
    rows = _table_rows()[:60]
    path = tmp_path / "notes.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["note_id", "person_id", "note_date", "note_title", "note_text"])
        for r in rows:
            w.writerow([r["note_id"], r["person_id"] or "", r["note_date"], r["note_title"] or "", _csv_text(r["note_text"])])
        w.writerow(["61", "p9"])  # too few fields
        w.writerow(["62", "p9", "2024-01-01", "", "T 39.1, rigid", "extra"])  # too many
        w.writerow(["63", "p9", "2024-01-01", "", ""])  # empty text
        w.writerow(["64", "p9", "03/04/2024 10:30 PM", "", "T 38.9 on haloperidol"])  # a US date, read as ISO
        w.writerow(["65", "p9", "someday", "", "T 38.9 on haloperidol"])  # not a date
    local = screen(str(path), "--out", str(tmp_path / "local"), "--workers", "1", "--date-format", "dmy")
    run = screen(str(path), "--out", str(tmp_path / "spark"), "--engine", "spark", "--partition-notes", "25",
                 "--date-format", "dmy")
    assert local["counts"]["errors"] == 4
    assert next(r for r in jsonl_rows(tmp_path / "local" / "scores.jsonl") if r["note_id"] == "64")["note_datetime"] == "2024-04-03T22:30:00"
    assert_same_counts(local, run)
    assert_same_outputs(tmp_path / "local", tmp_path / "spark")


def test_screen_dataframe_is_screen_table_on_a_dataframe(spark):
    from nmsnlp.batch.partition import screen_table
    from nmsnlp.batch.spark import screen_dataframe

    rows = [{"note_id": r["note_id"], "person_id": r["person_id"], "note_datetime": r["note_datetime"], "text": r["text"]}
            for r in demo_rows()[:10]]
    rows.append({"note_id": "none", "person_id": "x", "note_datetime": None, "text": None})
    expected_scores, expected_mentions = screen_table(rows)
    df = spark.createDataFrame(rows, "note_id string, person_id string, note_datetime string, text string")
    scores_df, mentions_df = screen_dataframe(df, partition_notes=4)
    assert scores_df.columns == ["row", *(f.name for f in records.SCORE_FIELDS)]
    assert mentions_df.columns == ["row", "index", *(f.name for f in records.MENTION_FIELDS)]
    scores = [_decode(records.SCORE_FIELDS, r.asDict(recursive=True)) for r in scores_df.orderBy("row").collect()]
    mentions = [_decode(records.MENTION_FIELDS, r.asDict(recursive=True))
                for r in mentions_df.orderBy("row", "index").collect()]
    assert scores == expected_scores and mentions == expected_mentions
    assert scores[-1]["error"] == "row 11: missing text in column 'text'"
    assert scores_df.count() == 11  # a second action reads the stage: no second run of the pipeline


def test_numbered_gives_input_order_across_partitions(spark):
    from nmsnlp.batch.spark import numbered

    df = spark.range(0, 1000, numPartitions=7)
    out, n = numbered(df)
    assert n == 1000
    assert [(r["id"], r["row"]) for r in out.orderBy("row").collect()] == [(i, i + 1) for i in range(1000)]


# --------------------------------------------------------------------------- schemas and installs


def test_spark_schemas_come_from_the_record_schema(monkeypatch):
    from dataclasses import dataclass

    import pyarrow as pa
    from pyspark.sql import types as T

    from nmsnlp.batch.spark import record_schema, stage_schema
    from nmsnlp.outputs.tables import arrow_schema

    schema = record_schema(records.SCORE_FIELDS)
    assert [f.name for f in schema.fields] == [f.name for f in records.SCORE_FIELDS]
    kinds = {f.name: f.kind for f in records.SCORE_FIELDS}
    types = {f.name: f.dataType for f in schema.fields}
    assert types["evidence"] == T.ArrayType(T.StructType([T.StructField("concept", T.StringType()), T.StructField("text", T.StringType()),
                                                          T.StructField("start", T.LongType()), T.StructField("end", T.LongType())]))
    assert types["contributions"] == T.MapType(T.StringType(), T.DoubleType()) and kinds["contributions"] == "map_float"
    assert types["criteria_items"] == T.MapType(T.StringType(), T.LongType())
    mention = {f.name: f.dataType for f in record_schema(records.MENTION_FIELDS).fields}
    assert mention["values"] == T.ArrayType(T.DoubleType()) and mention["cues"] == T.MapType(T.StringType(), T.StringType())
    assert len(arrow_schema(records.SCORE_FIELDS)) == len(schema.fields)
    assert isinstance(pa.schema([]), pa.Schema)

    @dataclass
    class ScoreWithSite(records.NoteScore):
        site: str | None = "north"

    monkeypatch.setattr(records, "SCORE_FIELDS", records.record_fields(ScoreWithSite))
    score_type = next(f.dataType for f in stage_schema().fields if f.name == "score")
    assert score_type["site"].dataType == T.StringType()  # a field added to the record reaches Spark


def test_a_worker_with_another_install_refuses_to_score():
    from nmsnlp.batch.spark import _check_install, installed
    from nmsnlp.errors import NmsnlpError

    _check_install(installed(None), None)
    with pytest.raises(NmsnlpError, match="Install the same nmsnlp wheel on every node"):
        _check_install(("0.0.0", "0" * 64, "0" * 64), None)


# --------------------------------------------------------------------------- bad requests


def test_clear_errors(spark, tmp_path):
    src = tmp_path / "n.jsonl"
    src.write_text(json.dumps({"note_id": "1", "words": "x"}) + "\n")
    result = runner.invoke(app, ["screen", str(src), "--out", str(tmp_path / "a"), "--engine", "spark", "--no-progress"])
    assert result.exit_code == 2 and "no text column" in result.output
    result = runner.invoke(app, ["screen", "--db", "postgresql+psycopg://u@h/db", "--out", str(tmp_path / "b"),
                                 "--engine", "spark", "--no-progress"])
    assert result.exit_code == 2 and "jdbc:" in result.output
    result = runner.invoke(app, ["screen", str(src), "--out", str(tmp_path / "c"), "--engine", "spark", "--resume",
                                 "--no-progress"])
    assert result.exit_code == 2 and "--force" in result.output
    (tmp_path / "x.txt").write_text("T 39")
    result = runner.invoke(app, ["screen", str(tmp_path / "x.txt"), "--out", str(tmp_path / "d"), "--engine", "spark",
                                 "--no-progress"])
    assert result.exit_code == 2 and "local engine" in result.output


# --------------------------------------------------------------------------- PostgreSQL over JDBC, for real


@pytest.fixture(scope="module")
def pg_jdbc(postgres):
    """The session's PostgreSQL server (tests/conftest.py) as (SQLAlchemy URL, JDBC URL)."""
    if not PG_JAR.is_file():
        pytest.skip(f"no PostgreSQL JDBC driver at {PG_JAR}; .ci/run installs Debian's libpostgresql-jdbc-java")
    import sqlalchemy as sa

    u = sa.engine.make_url(postgres)
    return postgres, f"jdbc:postgresql://{u.host}:{u.port}/{u.database}?user={u.username}&password=unused-secret"


def _note_nlp_rows(engine) -> list[dict]:
    import sqlalchemy as sa

    with engine.connect() as conn:
        rows = conn.execute(sa.text("select * from note_nlp order by note_nlp_id")).mappings().all()
    return [{k: v for k, v in r.items() if k not in ("nlp_datetime", "nlp_date")} for r in rows]


def test_postgresql_note_table_over_jdbc_and_note_nlp(spark, pg_jdbc, tmp_path):
    from datetime import date

    import sqlalchemy as sa

    url, jdbc = pg_jdbc
    engine = sa.create_engine(url)
    md = sa.MetaData()
    note = sa.Table("note", md, sa.Column("note_id", sa.BigInteger, primary_key=True), sa.Column("person_id", sa.BigInteger),
                    sa.Column("note_date", sa.Date), sa.Column("note_title", sa.String), sa.Column("note_text", sa.Text))
    md.drop_all(engine)
    md.create_all(engine)
    rows = _table_rows()
    with engine.begin() as conn:
        conn.execute(sa.text("drop table if exists note_nlp"))
        conn.execute(note.insert(), [{**r, "note_date": date.fromisoformat(r["note_date"])} for r in rows[::-1]])
    where = "note_id <= 150"
    local = screen("--db", url, "--where", where, "--out", str(tmp_path / "local"), "--note-nlp", "--workers", "1")
    local_nlp = _note_nlp_rows(engine)
    spark_args = ["--db", jdbc, "--where", where, "--out", str(tmp_path / "spark"), "--note-nlp", "--engine", "spark",
                  "--partition-notes", "50"]
    refused = runner.invoke(app, ["screen", *spark_args, "--no-progress"])
    n_notes = len({r["note_id"] for r in local_nlp})
    assert refused.exit_code == 2 and f"already holds nmsnlp rows for {n_notes} of these notes" in refused.output
    with engine.begin() as conn:  # another system's row: this run's ids come after it, as in the local engine
        conn.execute(sa.text("delete from note_nlp"))
        conn.execute(sa.text("insert into note_nlp (note_nlp_id, note_id, lexical_variant, nlp_system, nlp_date) "
                             "values (1000, 1, 'x', 'other system', '2024-01-01')"))
    run = screen(*spark_args, "--force")
    assert run["counts"]["input_rows"] == 150 and run["input"]["type"] == "jdbc"
    assert "unused-secret" not in json.dumps(run) and "password=***" in run["input"]["url"]
    assert_same_counts(local, run)
    assert_same_outputs(tmp_path / "local", tmp_path / "spark", errors=False)
    spark_nlp = [r for r in _note_nlp_rows(engine) if r["nlp_system"] != "other system"]
    assert len(spark_nlp) == run["counts"]["note_nlp_rows"] == run["counts"]["mentions"] == len(local_nlp)
    assert spark_nlp == [{**r, "note_nlp_id": r["note_nlp_id"] + 1000} for r in local_nlp]  # offsets, snippets, modifiers
    engine.dispose()
    result = runner.invoke(app, ["screen", "--db", jdbc, "--table", "no_such_table", "--out", str(tmp_path / "x"),
                                 "--engine", "spark", "--no-progress"])
    assert result.exit_code == 2 and "no_such_table" in result.output and "unused-secret" not in result.output
