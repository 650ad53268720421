"""`nmsnlp screen --engine spark`: a note export or an OMOP NOTE table in, the local engine's outputs out.

    read_input(spark, source)          Parquet, CSV, JSONL or a table over JDBC -> numbered notes and their Plan
    run_spark_screen(spark, source, opts)  screen, aggregate and rank in Spark, write the outputs and run.json

Outputs in `opts.out` (a folder the driver and every executor can write: local mode, or a shared mount):

    scores.parquet/    one record per input row (every score field, nested values nested), in input order
    mentions.parquet/  every mention (every mention field), in input order
    errors.parquet/    note_id, source, error for each row that could not be screened (also in scores)
    screening_list.csv, patients.csv   the local engine's columns and formatting (nmsnlp.outputs.lists),
                       ranked and aggregated in Spark and streamed to the driver one partition at a time
    note_nlp.parquet/  OMOP NOTE_NLP rows with --note-nlp (or appended to `note_nlp` over JDBC with a jdbc: --db)
    run.json           version, model and patterns hashes, input, counts (processed + errors = input rows), timings

The reading mirrors the local readers (nmsnlp.io.readers) so the answers and the error records are the
same; the differences are Spark's: bytes that are not UTF-8 are read as U+FFFD (the local engine makes
them an error record), and a blank line in a CSV file is not counted in the row numbers of later errors.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .. import __version__, records
from ..errors import InputSchemaError, NmsnlpError
from ..io.readers import ID_COLUMNS, TEXT_COLUMNS, Columns, meta_columns, pick_column
from ..io.source import Source
from ..outputs.lists import write_patients, write_screening_list
from ..outputs.omop import NLP_SYSTEM_PREFIX, NOTE_NLP_COLUMNS, note_nlp_table
from .screen import OUTPUTS
from .spark import (
    PARTITION_NOTES,
    PartitionScreener,
    Plan,
    installed,
    mentions_of,
    note_columns,
    numbered,
    scores_of,
    stage,
    table_plan,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..outputs.index import ScoreIndex

STAGE = ".nmsnlp-spark"
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")
SPARK_OUTPUTS = ("scores.parquet", "mentions.parquet", "errors.parquet", "note_nlp.parquet", "screening_list.csv",
                 "patients.csv", "run.json")
JDBC_DRIVERS = {"jdbc:postgresql:": "org.postgresql.Driver", "jdbc:sqlite:": "org.sqlite.JDBC",
                "jdbc:sqlserver:": "com.microsoft.sqlserver.jdbc.SQLServerDriver", "jdbc:oracle:": "oracle.jdbc.OracleDriver",
                "jdbc:mysql:": "com.mysql.cj.jdbc.Driver"}


@dataclass(frozen=True)
class SparkInput:
    """Where the notes come from: a Parquet, CSV or JSONL file (a local path or a URI Spark reads), or a
    table over JDBC."""

    path: str | None = None
    jdbc: str | None = None
    table: str = "note"
    where: str | None = None
    columns: Columns = Columns()  # noqa: RUF009 - a frozen dataclass, safe as a default
    jdbc_partitions: int | None = None  # parallel reads of the table (default: one per core, at most 64)
    sep: str | None = None  # CSV field separator (default: comma; tab for .tsv)
    date_format: str | None = None  # mdy (default), dmy or ymd for slashed dates

    def describe(self) -> dict[str, Any]:
        if self.jdbc is not None:
            return {"type": "jdbc", "url": redact_jdbc(self.jdbc), "table": self.table, "where": self.where,
                    "columns": self.columns.__dict__}
        assert self.path is not None
        if Path(self.path).exists():
            return Source(path=Path(self.path), columns=self.columns, sep=self.sep, date_format=self.date_format).describe()
        return {"type": kind_of(self.path), "path": self.path, "columns": self.columns.__dict__}


@dataclass(frozen=True)
class SparkOptions:
    out: Path
    note_nlp: bool = False
    force: bool = False
    model_dir: str | None = None
    partition_notes: int = PARTITION_NOTES
    fail_once: str | None = None  # tests: see PartitionScreener


def redact_jdbc(url: str) -> str:
    """A JDBC URL without its password (user:password@host, password=... parameters)."""
    url = re.sub(r"(?i)(password=)[^&;]*", r"\1***", url)
    return re.sub(r"(//[^/:@]+:)[^@/]*@", r"\1***@", url)


def kind_of(path: str) -> str:
    suffix = os.path.splitext(path.rstrip("/"))[1].lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    local = Path(path)
    if local.is_dir():
        if any(local.glob("*.parquet")):
            return "parquet"
        raise InputSchemaError(f"{path}: the Spark engine reads Parquet, CSV or JSONL; this folder has no .parquet "
                               "files (screen a folder of .txt files with the local engine)")
    if suffix == ".txt":
        raise InputSchemaError(f"{path}: the Spark engine reads Parquet, CSV or JSONL; screen .txt files with the local engine")
    if suffix == "" and "://" in path:
        return "parquet"  # a dataset folder on a cluster file system
    raise InputSchemaError(f"{path}: unknown input type {suffix!r}; expected .jsonl, .csv or .parquet")


def _uri(path: str) -> str:
    local = Path(path)
    return local.resolve().as_uri() if local.exists() else path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# --------------------------------------------------------------------------- reading


def read_input(spark: SparkSession, src: SparkInput) -> tuple[DataFrame, Plan, int]:
    """Numbered notes (`row`, 1-based in input order, and the columns the plan reads), the plan, the row count."""
    if src.jdbc is not None:
        return _read_jdbc(spark, src)
    assert src.path is not None
    if "://" not in src.path and not Path(src.path).exists():
        raise InputSchemaError(f"{src.path}: no such file or folder")
    kind, name, uri = kind_of(src.path), os.path.basename(src.path.rstrip("/")), _uri(src.path)
    if kind == "jsonl":
        notes, plan, n = _read_jsonl(spark, uri, name, src.columns)
    elif kind == "csv":
        sep = src.sep or ("\t" if src.path.lower().endswith(".tsv") else ",")
        notes, plan, n = _read_csv(spark, uri, name, src.columns, sep)
    else:
        try:
            df = spark.read.parquet(uri)
            columns = df.columns
        except Exception as exc:
            raise InputSchemaError(f"{name}: not a readable Parquet file ({_first_line(exc)})") from exc
        plan = table_plan(columns, src.columns, name, label=name)
        notes, n = numbered(note_columns(df, plan))
    return notes, replace(plan, date_format=src.date_format), n


def _read_jsonl(spark: SparkSession, uri: str, name: str, cols: Columns) -> tuple[DataFrame, Plan, int]:
    from pyspark.sql import functions as F

    lines = spark.read.text(uri)  # one row per line, blank lines too, so row numbers are line numbers
    first = _first_object(lines.where(F.trim("value") != ""))
    id_name = text_name = None
    meta: dict[str, str] = {}
    if first is not None:  # the local reader takes the columns from the first JSON object
        id_name = pick_column(first, cols.id, ID_COLUMNS, "note id", name)
        text_name = pick_column(first, cols.text, TEXT_COLUMNS, "text", name)
        meta = meta_columns(first, cols, name)
    notes, n = numbered(lines)
    return notes, Plan("jsonl", name, id_name, text_name, meta), n


def _first_object(lines: DataFrame) -> list[str] | None:
    """The keys of the first line that is a JSON object (None if none is), reading only as far as needed."""
    for limit in (100, 10_000):
        rows = lines.limit(limit).collect()
        for row in rows:
            keys = _object_keys(row[0])
            if keys is not None:
                return keys
        if len(rows) < limit:
            return None
    for row in lines.toLocalIterator():
        keys = _object_keys(row[0])
        if keys is not None:
            return keys
    return None


def _object_keys(line: str) -> list[str] | None:
    try:
        parsed = json.loads(line)
    except json.JSONDecodeError:
        return None
    return list(parsed) if isinstance(parsed, dict) else None


def _read_csv(spark: SparkSession, uri: str, name: str, cols: Columns, sep: str) -> tuple[DataFrame, Plan, int]:
    from pyspark.sql import types as T

    def reader() -> Any:  # RFC 4180 as Python's csv module reads it: "" escapes a quote, newlines inside quotes
        return spark.read.option("header", True).option("multiLine", True).option("escape", '"').option("sep", sep)

    try:
        header = reader().csv(uri).columns
    except Exception as exc:
        raise InputSchemaError(f"{name}: cannot read the CSV header ({_first_line(exc)})") from exc
    id_name = pick_column(header, cols.id, ID_COLUMNS, "note id", name)
    text_name = pick_column(header, cols.text, TEXT_COLUMNS, "text", name)
    meta = meta_columns(header, cols, name)
    schema = T.StructType([T.StructField(c, T.StringType(), True) for c in header]
                          + [T.StructField("_corrupt_record", T.StringType(), True)])
    df = (reader().schema(schema).option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", "_corrupt_record")
          .csv(uri))
    notes, n = numbered(df)  # every column parsed, so a row with too many or too few fields is marked
    wanted = list(dict.fromkeys([id_name, text_name, *meta, "_corrupt_record"]))
    plan = Plan("csv", name, id_name, text_name, meta, row_offset=1, header_len=len(header), sep=sep)
    return notes.select("row", *(f"`{c}`" for c in wanted)), plan, n


def jdbc_driver(url: str) -> str | None:
    return next((cls for prefix, cls in JDBC_DRIVERS.items() if url.startswith(prefix)), None)


def _jdbc_reader(spark: SparkSession, url: str) -> Any:
    """A JDBC reader that streams (fetchsize), keeps timestamps as written, and on PostgreSQL reads in
    read-only transactions (--where is SQL: it may filter, never change the database)."""
    reader = spark.read.format("jdbc").option("url", url).option("fetchsize", "1000").option("preferTimestampNTZ", "true")
    if url.startswith("jdbc:postgresql:"):
        reader = reader.option("sessionInitStatement", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    driver = jdbc_driver(url)
    return reader.option("driver", driver) if driver else reader


def _read_jdbc(spark: SparkSession, src: SparkInput) -> tuple[DataFrame, Plan, int]:
    """A NOTE table over JDBC, read in parallel ranges of a numeric note id and put in note id order (as the
    local engine reads it), without a shuffle: each range is sorted within its partition."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    assert src.jdbc is not None
    safe = redact_jdbc(src.jdbc)
    if not TABLE_NAME.fullmatch(src.table):
        raise InputSchemaError(f"--table {src.table!r}: expected a table name, optionally with its schema (cdm.note)")

    def relation(alias: str) -> str:
        return f"(select * from {src.table} where {src.where}) {alias}" if src.where else src.table

    base = relation("nmsnlp_note")
    try:
        probe = _jdbc_reader(spark, src.jdbc).option("dbtable", base).load()
        columns = probe.columns
    except Exception as exc:
        message = _first_line(exc)
        if "No suitable driver" in message or "ClassNotFoundException" in message:
            message += (". Put the JDBC driver on Spark's classpath: --spark-conf spark.jars=/path/to/driver.jar "
                        "(Debian: libpostgresql-jdbc-java gives /usr/share/java/postgresql.jar)")
        raise InputSchemaError(f"{safe}: cannot read table {src.table!r} over JDBC ({message})") from exc
    plan = table_plan(columns, src.columns, f"{safe} table {src.table}", label=src.table)
    assert plan.id_name is not None
    id_type = next(f.dataType for f in probe.schema.fields if f.name == plan.id_name)
    df = probe
    if isinstance(id_type, (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.DecimalType)):
        q = f'"{plan.id_name}"'
        bounds = (_jdbc_reader(spark, src.jdbc)
                  .option("dbtable", f"(select min({q}) as lo, max({q}) as hi, count(*) as n from {relation('nmsnlp_b')}) nmsnlp_bounds")
                  .load().first())
        parts = src.jdbc_partitions or min(64, spark.sparkContext.defaultParallelism)
        if bounds is not None and bounds["lo"] is not None and int(bounds["n"]) > 1 and parts > 1:
            lo, hi = int(bounds["lo"]), int(bounds["hi"])
            df = (_jdbc_reader(spark, src.jdbc).option("dbtable", base).option("partitionColumn", plan.id_name)
                  .option("lowerBound", str(lo)).option("upperBound", str(hi + 1))
                  .option("numPartitions", str(max(1, min(parts, hi - lo + 1)))).load())
    df = df.sortWithinPartitions(F.col(f"`{plan.id_name}`"))
    notes, n = numbered(note_columns(df, plan))
    return notes, replace(plan, date_format=src.date_format, database=True), n


# --------------------------------------------------------------------------- the run


class RankedLists:
    """The ranked screening list and the patient list, computed in Spark and streamed to the driver one
    partition at a time: `flagged()` gives the flagged score records by rank (score, then input order),
    `patients()` the patient rows the local list writer reads (nmsnlp.outputs.lists.write_patients)."""

    def __init__(self, scores: DataFrame):
        from pyspark.sql import functions as F

        self.fields = [f.name for f in records.SCORE_FIELDS]
        self.flagged_df = (scores.where(F.col("flagged")).orderBy(F.col("score").desc(), F.col("row").asc())
                           .select("row", *self.fields))
        flagged = F.col("flagged").cast("long")
        self.patients_df = (
            scores.where(F.col("person_id").isNotNull()).groupBy("person_id")
            .agg(F.count(F.lit(1)).alias("notes"), F.max("score").alias("max_score"),
                 F.coalesce(F.sum(flagged), F.lit(0)).alias("flagged_notes"),
                 F.min(F.when(F.col("flagged"), F.col("note_datetime"))).alias("first"),
                 F.max(F.when(F.col("flagged"), F.col("note_datetime"))).alias("last"),
                 F.coalesce(F.max(F.col("nms_history").cast("long")), F.lit(0)).alias("past"),
                 F.max("criteria_points").alias("points"))
            .orderBy(F.col("flagged_notes").desc(), F.col("max_score").desc(), F.col("person_id").asc()))

    def flagged(self) -> Iterator[dict[str, Any]]:
        for row in self.flagged_df.toLocalIterator():
            yield row.asDict(recursive=True)

    def patients(self) -> Iterator[tuple[Any, ...]]:
        for row in self.patients_df.toLocalIterator():
            yield tuple(row)


def _write_lists(staged: DataFrame, scores: DataFrame, out: Path, manifest: dict[str, Any]) -> int:
    """screening_list.csv and patients.csv by the local engine's writers (nmsnlp.outputs.lists), from the
    ranked result: the flagged notes (a run's small part) go into a run index of their own, with their
    mentions and the run's manifest beside it, as the local engine's assembly leaves them; the patient rows
    stream from Spark. Returns the number of patients."""
    from pyspark.sql import functions as F

    from ..outputs.index import ScoreIndex
    from ..outputs.tables import json_line

    ranked = RankedLists(scores)
    folder = out / STAGE / "lists"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    skipped = sorted(int(r[0]) for r in staged.where(F.col("kind") == "skip").select("row").collect())

    def seq(row: int) -> int:  # the local engine's 1-based record number (blank JSONL lines have none)
        return row - bisect.bisect_left(skipped, row)

    index = ScoreIndex(folder / "index.sqlite")
    batch: list[tuple[int, dict[str, Any]]] = []
    for rec in ranked.flagged():
        batch.append((seq(int(rec.pop("row"))), rec))
        if len(batch) >= 1000:
            index.add(batch)
            batch = []
    index.add(batch)
    index.finish()
    flagged_rows = scores.where(F.col("flagged")).select("row")
    mentions = mentions_of(staged).join(flagged_rows, "row", "left_semi").orderBy("row", "index")
    names = [f.name for f in records.MENTION_FIELDS]
    with (folder / "mentions.jsonl").open("w", encoding="utf-8") as fh:
        last: tuple[int, Any] | None = None
        for m in mentions.toLocalIterator():
            rec = m.asDict(recursive=True)
            if last is not None and last[0] != rec["row"] and last[1] == rec["note_id"]:
                fh.write(json_line({"note_id": None}))  # two notes with one id stay two runs, as in the local file
            last = (rec["row"], rec["note_id"])
            fh.write(json_line({k: rec[k] for k in names}))
    write_screening_list(index, folder)
    os.replace(folder / "screening_list.csv", out / "screening_list.csv")
    index.close()
    return write_patients(cast("ScoreIndex", ranked), out)  # duck-typed: the writer reads patients() only


def _prepare_out(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()) and not force:
        raise InputSchemaError(f"{out} is not empty; pass --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)
    for name in {*OUTPUTS, *SPARK_OUTPUTS, STAGE, ".nmsnlp-parts"}:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def note_nlp_base(spark: SparkSession, jdbc: str, notes: DataFrame, plan: Plan) -> int:
    """Before scoring, as the local engine: the largest note_nlp_id already in the database's note_nlp
    table (this run's rows take the ids after it; 0 when there is no table), and a refusal when the table
    already holds nmsnlp rows for these notes (the local engine's --replace deletes them; Spark writes only)."""
    from pyspark.sql import functions as F

    try:
        existing = _jdbc_reader(spark, jdbc).option("dbtable", "note_nlp").load()
        existing.schema  # noqa: B018 - resolves the table: fails when there is none
    except Exception:
        return 0
    top = existing.agg(F.max("note_nlp_id")).first()
    ours = (existing.where(F.col("nlp_system").startswith(NLP_SYSTEM_PREFIX))
            .select(F.col("note_id").cast("long").alias("nid")).distinct())
    assert plan.id_name is not None
    wanted = notes.select(F.col(f"`{plan.id_name}`").try_cast("long").alias("nid")).distinct()
    found = wanted.join(ours, "nid", "left_semi")
    n_found = found.count()
    if n_found:
        example = found.first()
        raise NmsnlpError(f"note_nlp already holds nmsnlp rows for {n_found} of these notes (e.g. note_id "
                          f"{example[0] if example else '?'}); delete them first, or write them with the local engine's "
                          "--replace")
    return int(top[0] or 0) if top is not None else 0


def _note_nlp(staged: DataFrame, out: Path, jdbc: str | None, base: int = 0) -> int:
    """NOTE_NLP rows numbered base+1.. in input order (note, then mention), as Parquet or appended over JDBC."""
    from pyspark.sql import functions as F

    rows = staged.where(F.col("kind") == "note_nlp").select("row", "index", "note_nlp.*")
    ordered, n = numbered(rows.orderBy("row", "index"), "_nmsnlp_id")
    cols = []
    for c in NOTE_NLP_COLUMNS:
        if c == "note_nlp_id":
            cols.append((F.col("_nmsnlp_id") + F.lit(base)).alias(c))
        elif c == "nlp_date":
            cols.append(F.to_date(F.col(c)).alias(c))
        elif c == "nlp_datetime":
            cols.append(F.to_timestamp_ntz(F.col(c)).alias(c))
        else:
            cols.append(F.col(f"`{c}`"))
    table = ordered.select(*cols)
    if jdbc is None:
        table.write.parquet((out / "note_nlp.parquet").resolve().as_uri())
        return n
    as_id = F.col("note_id").try_cast("long")
    bad = table.where(as_id.isNull() & F.col("note_id").isNotNull()).select("note_id").first()
    if bad is not None:
        raise InputSchemaError(f"NOTE_NLP in a database needs integer note ids (OMOP); found {bad[0]!r}")
    writer = (table.withColumn("note_id", as_id).write.format("jdbc").option("url", jdbc).option("dbtable", "note_nlp")
              .option("createTableColumnTypes", _omop_column_types()).mode("append"))
    driver = jdbc_driver(jdbc)
    try:
        (writer.option("driver", driver) if driver else writer).save()
    except Exception as exc:
        raise NmsnlpError(f"writing NOTE_NLP over JDBC to {redact_jdbc(jdbc)} failed: {_first_line(exc)}") from exc
    return n


def _omop_column_types() -> str:
    """The OMOP column types of NOTE_NLP (nmsnlp.outputs.omop) for a table Spark creates."""
    import sqlalchemy as sa

    out = []
    for c in note_nlp_table(sa.MetaData()).columns:
        t = c.type
        if isinstance(t, sa.String) and t.length:
            spark_t = f"VARCHAR({t.length})"
        elif isinstance(t, sa.BigInteger):
            spark_t = "BIGINT"
        elif isinstance(t, sa.Integer):
            spark_t = "INT"
        elif isinstance(t, sa.DateTime):
            spark_t = "TIMESTAMP"
        elif isinstance(t, sa.Date):
            spark_t = "DATE"
        else:
            continue
        out.append(f"`{c.name}` {spark_t}")
    return ", ".join(out)


def run_spark_screen(spark: SparkSession, src: SparkInput, opts: SparkOptions) -> dict[str, Any]:
    """Screen every note of `src` on `spark` into `opts.out`; returns the run summary (also run.json)."""
    from pyspark.sql import functions as F

    out = opts.out
    _prepare_out(out, opts.force)
    t_start = time.perf_counter()
    expect = installed(opts.model_dir)
    started = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    nlp_params = (f"nmsnlp {__version__} patterns {expect[1][:12]}", started[:19]) if opts.note_nlp else None
    notes, plan, n_rows = read_input(spark, src)
    base = note_nlp_base(spark, src.jdbc, notes, plan) if opts.note_nlp and src.jdbc else 0
    screener = PartitionScreener(plan, expect, opts.model_dir, nlp_params, opts.fail_once)
    t0 = time.perf_counter()
    try:
        staged = stage(notes, n_rows, screener, opts.partition_notes, (out / STAGE / "records.parquet").resolve().as_uri())
    except Exception as exc:
        found = re.search(r"nmsnlp\.errors\.\w+: (.*)", str(exc))
        if found:  # a worker refused (another install): say so without Spark's stack trace
            raise NmsnlpError(found.group(1)) from exc
        raise
    score_secs = time.perf_counter() - t0

    scores = scores_of(staged)
    fields = [f.name for f in records.SCORE_FIELDS]
    scores.orderBy("row").select(*fields).write.parquet((out / "scores.parquet").resolve().as_uri())
    mentions_of(staged).orderBy("row", "index").select(*(f.name for f in records.MENTION_FIELDS)) \
        .write.parquet((out / "mentions.parquet").resolve().as_uri())
    scores.where(F.col("error").isNotNull()).orderBy("row").select("note_id", "source", "error") \
        .write.parquet((out / "errors.parquet").resolve().as_uri())

    is_score, ok = F.col("kind") == "score", F.col("score.error").isNull()
    total = staged.agg(
        F.sum(is_score.cast("long")).alias("input_rows"),
        F.sum((is_score & ok).cast("long")).alias("processed"),
        F.sum((is_score & ~ok).cast("long")).alias("errors"),
        F.sum((is_score & ok & F.coalesce(F.col("score.flagged"), F.lit(False))).cast("long")).alias("flagged"),
        F.sum((F.col("kind") == "mention").cast("long")).alias("mentions"),
        F.sum((is_score & ok & F.coalesce(F.col("score.nms_history"), F.lit(False))).cast("long")).alias("nms_history"),
        F.sum("chars").alias("chars"),
    ).first()
    assert total is not None
    counts = {k: int(total[k] or 0) for k in ("input_rows", "processed", "errors", "flagged", "mentions", "nms_history")}
    chars = int(total["chars"] or 0)

    manifest = {"nmsnlp_version": expect[0], "model_sha256": expect[2], "patterns_sha256": expect[1],
                "input": src.describe(), "started": started}
    n_patients = _write_lists(staged, scores, out, manifest)
    dups = (scores.where(F.col("note_id").isNotNull()).groupBy("note_id")
            .agg(F.count(F.lit(1)).alias("n"), F.min("row").alias("first")).where(F.col("n") > 1))
    n_dup = dups.count()
    duplicates = [r["note_id"] for r in dups.orderBy("first").limit(100).collect()]
    if opts.note_nlp:
        counts["note_nlp_rows"] = _note_nlp(staged, out, src.jdbc, base)
    shutil.rmtree(out / STAGE, ignore_errors=True)

    total_secs = time.perf_counter() - t_start
    sc = spark.sparkContext
    summary: dict[str, Any] = {
        **manifest,
        "counts": counts | {"patients": n_patients, "duplicate_note_ids": n_dup},
        "duplicate_note_ids": duplicates,
        "check": "processed + errors == input_rows" if counts["processed"] + counts["errors"] == counts["input_rows"] else "MISMATCH",
    }
    summary["outputs"] = sorted({*(p.name for p in out.iterdir() if not p.name.startswith(".")), "run.json"})
    summary["timings"] = {
        "scoring_seconds": round(score_secs, 2),
        "total_seconds": round(total_secs, 2),
        "notes_scored_this_run": counts["input_rows"],
        "notes_per_second": round(counts["input_rows"] / score_secs, 1) if score_secs and counts["input_rows"] else None,
        "characters_per_second": round(chars / score_secs) if score_secs and counts["input_rows"] else None,
    }
    summary["spark"] = {"engine": "spark", "version": spark.version, "master": sc.master,
                        "default_parallelism": sc.defaultParallelism, "partition_notes": opts.partition_notes}
    (out / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# --------------------------------------------------------------------------- the session


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> tuple[SparkSession, bool]:
    """The active SparkSession (under spark-submit, a notebook or a test), or a new one; True when new
    (the caller stops it). A local master runs the executors' Python workers with this interpreter."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    conf = dict(conf or {})
    if master is None and "spark.master" not in conf and "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = "local[*]"  # not under spark-submit
    if (master or conf.get("spark.master", "")).startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("nmsnlp screen")
    if master:
        builder = builder.master(master)
    conf.setdefault("spark.sql.session.timeZone", "UTC")
    conf.setdefault("spark.ui.showConsoleProgress", "true" if sys.stderr.isatty() else "false")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate(), True


def parse_conf(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputSchemaError(f"--spark-conf {pair!r}: expected key=value, e.g. spark.executor.memory=4g")
        out[key.strip()] = value
    return out
