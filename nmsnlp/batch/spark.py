"""Screening on Apache Spark: the local engine's per-partition function inside `mapInPandas`.

    screen_dataframe(notes_df, columns) -> (scores_df, mentions_df)   the engine, for any DataFrame of notes
    nmsnlp.batch.spark_run.run_spark_screen(...)                       `nmsnlp screen --engine spark`

How it runs
-----------
* Every note gets its input row number (`row`, 1-based, in input order) before it is screened, from
  `monotonically_increasing_id` and per-partition counts (`numbered`); no window over the whole table.
* The notes are hash-partitioned on that number into partitions of about `partition_notes` notes and
  each partition goes through `mapInPandas` with an iterator of pandas batches. The function shipped to
  the executors (`PartitionScreener`) carries only strings and numbers: column names, the model folder,
  what the driver has installed. Each Python worker builds the spaCy pipeline and loads the model itself,
  once for its life, through `nmsnlp.batch.partition.scorer_for` (the same per-process cache and the same
  `screen_records` as the local engine), so the answers are the local engine's, note for note. Spark's
  Python workers are reused between tasks (`spark.python.worker.reuse`, on by default), so the pipeline
  is built once per worker, not per batch or per row.
* A worker first checks that it runs the driver's nmsnlp (version, patterns hash, model hash) and
  refuses to score otherwise: an executor with another install would give other answers.
* A row that cannot be used (no id, no text, text that is not a string, a line that is not JSON, a CSV
  row with the wrong number of fields) becomes a score record with `error` set, as in the local engine.
* One `mapInPandas` gives every kind of record as one table (`stage_schema`): `row`, `kind` (score,
  mention, note_nlp, or skip for a blank JSONL line), `index` (a mention's place in its note), `source` and `chars`, and one struct
  column per kind. It is written once (to Parquet with `staging=`, else persisted) and every later action
  reads that, so a second action never runs the pipeline again.

Schemas
-------
The Spark types come from the record schema (`nmsnlp.records.SCORE_FIELDS` / `MENTION_FIELDS`) through
the Arrow types every Parquet writer uses (`nmsnlp.outputs.tables.arrow_type`), so a field added to a
record reaches Spark too:

    str, int, float, bool          string, bigint, double, boolean
    floats                         array<double>
    evidence                       array<struct<concept: string, text: string, start: bigint, end: bigint>>
    map_float, map_int, map_str    map<string, double | bigint | string>

Nested values stay nested (arrays, structs and maps), never JSON text; `scores.parquet` written by Spark
has the same columns and types as the local engine's.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import records
from ..errors import NmsnlpError
from ..io.readers import (
    ID_COLUMNS,
    TEXT_COLUMNS,
    Columns,
    NoteRecord,
    meta_columns,
    normalize_datetime,
    pick_column,
    row_record,
    safe_str,
)
from ..outputs.omop import NOTE_NLP_COLUMNS
from ..outputs.tables import arrow_type
from .partition import scorer_for, screen_records

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame
    from pyspark.sql.types import DataType, StructType

log = logging.getLogger(__name__)

PARTITION_NOTES = 2000
"""Notes per Spark task by default: a few seconds to a minute of work per task on one core."""
SUB_BATCH = 256
"""Notes scored between two output batches inside a task (bounds a task's memory)."""
KINDS = ("score", "mention", "note_nlp", "skip")  # skip: a blank JSONL line, which has no record


# --------------------------------------------------------------------------- schemas


def _from_arrow(t: Any) -> DataType:
    """The Spark type of one of the Arrow types the record writers use."""
    import pyarrow as pa
    from pyspark.sql import types as T

    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return T.StringType()
    if pa.types.is_int64(t) or pa.types.is_int32(t):
        return T.LongType()
    if pa.types.is_floating(t):
        return T.DoubleType()
    if pa.types.is_boolean(t):
        return T.BooleanType()
    if pa.types.is_list(t):
        return T.ArrayType(_from_arrow(t.value_type), True)
    if pa.types.is_struct(t):
        return T.StructType([T.StructField(f.name, _from_arrow(f.type), True) for f in t])
    if pa.types.is_map(t):
        return T.MapType(_from_arrow(t.key_type), _from_arrow(t.item_type), True)
    raise TypeError(f"no Spark type for the Arrow type {t}")


def spark_type(f: records.Field) -> DataType:
    """A record field's Spark type, derived from its kind through the Arrow type of the Parquet writers."""
    return _from_arrow(arrow_type(f))


def record_schema(fields: tuple[records.Field, ...]) -> StructType:
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, spark_type(f), True) for f in fields])


def note_nlp_schema() -> StructType:
    """OMOP NOTE_NLP as staged: the integer columns of the OMOP table (nmsnlp.outputs.omop) as bigint, the
    rest as text (note_id as in the scores; the date columns are typed when written)."""
    import sqlalchemy as sa
    from pyspark.sql import types as T

    from ..outputs.omop import note_nlp_table

    table = note_nlp_table(sa.MetaData())
    out = []
    for name in NOTE_NLP_COLUMNS:
        integer = isinstance(table.c[name].type, sa.Integer) and name != "note_id"
        out.append(T.StructField(name, T.LongType() if integer else T.StringType(), True))
    return T.StructType(out)


def stage_schema(note_nlp: bool = False) -> StructType:
    """What one `mapInPandas` gives: every kind of record in one table (see the module docstring)."""
    from pyspark.sql import types as T

    cols = [
        T.StructField("row", T.LongType(), False),
        T.StructField("kind", T.StringType(), False),
        T.StructField("index", T.LongType(), False),
        T.StructField("source", T.StringType(), True),
        T.StructField("chars", T.LongType(), False),
        T.StructField("score", record_schema(records.SCORE_FIELDS), True),
        T.StructField("mention", record_schema(records.MENTION_FIELDS), True),
    ]
    if note_nlp:
        cols.append(T.StructField("note_nlp", note_nlp_schema(), True))
    return T.StructType(cols)


# --------------------------------------------------------------------------- the per-partition function


@dataclass(frozen=True)
class Plan:
    """How a task turns its input rows into `NoteRecord`s, exactly as the local readers do. Plain data only."""

    mode: str = "rows"  # rows (a table), jsonl (raw lines, parsed in the task) or csv (a table of strings)
    label: str | None = None  # the file or table name in error sources (None: "row N")
    id_name: str | None = None
    text_name: str | None = None
    meta_names: dict[str, str] = field(default_factory=dict)  # input column -> person_id, note_datetime, note_title
    row_offset: int = 0  # CSV: the header is row 1
    header_len: int = 0  # CSV: fields in the header
    sep: str = ","  # CSV: the field separator
    date_format: str | None = None  # how slashed dates read (nmsnlp.io.readers.normalize_datetime)
    database: bool = False  # a database table (its date errors are worded as the local database reader's)

    def source(self, row: int) -> str:
        if self.mode == "jsonl":
            return f"{self.label}:{row}"
        prefix = f"{self.label}:" if self.label else ""
        return f"{prefix}row {row + self.row_offset}"

    def record(self, row: int, values: dict[str, Any]) -> NoteRecord | None:
        """The note of one input row, or None for a blank JSONL line (which the local reader skips too),
        with its date in ISO 8601 (a value that is not a date makes it an error record), as the local
        readers give it."""
        rec = self._record(row, values)
        if rec is None:
            return None
        when = rec.meta.get("note_datetime")
        if when not in (None, "") and not rec.error:
            try:
                rec.meta["note_datetime"] = normalize_datetime(when, self.date_format)
            except (ValueError, OverflowError):
                rec.error = (f"{rec.source}: note_datetime {str(when)[:40]!r} is not a date" if self.database else
                             f"{rec.source}: note_datetime {safe_str(str(when))[:40]!r} is not a date (ISO, or set --date-format)")
        return rec

    def _record(self, row: int, values: dict[str, Any]) -> NoteRecord | None:
        source = self.source(row)
        if self.mode == "jsonl":
            import json

            line = values.get("value") or ""
            if row == 1:
                line = line.lstrip("\ufeff")  # a byte-order mark, which the local reader skips
            if not line.strip():
                return None
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError as exc:
                return NoteRecord(None, None, source, error=f"{source}: not valid JSON ({exc.msg})")
            if not isinstance(parsed, dict):
                return NoteRecord(None, None, source, error=f"{source}: expected a JSON object")
            assert self.id_name is not None and self.text_name is not None
            return row_record(parsed, self.id_name, self.text_name, source, self.meta_names)
        assert self.id_name is not None and self.text_name is not None
        if self.mode == "csv":
            raw = values.get("_corrupt_record")
            if raw is not None:
                n = len(next(csv.reader(io.StringIO(raw), delimiter=self.sep), []))
                return NoteRecord(None, None, source,
                                  error=f"{source}: malformed CSV row: {n} fields, header has {self.header_len}")
            # a CSV cell is text: Spark reads an empty cell as null, the local reader as ""
            values = {k: "" if v is None else v for k, v in values.items()}
        return row_record(values, self.id_name, self.text_name, source, self.meta_names)


def _plain(value: Any) -> Any:
    """A pandas cell as the local readers see it: None for nulls, ISO text for dates, Python numbers."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, (str, bool, int)):
        return value
    try:
        import pandas as pd

        if value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


_CHECKED: set[tuple[Any, ...]] = set()


def installed(model_dir: str | None) -> tuple[str, str, str | None]:
    """What this process would screen with: nmsnlp version, patterns hash, model hash."""
    from .. import __version__
    from .manifest import model_meta, patterns_hash

    return __version__, patterns_hash(), model_meta(model_dir).get("model_sha256")


def _check_install(expect: tuple[str, str, str | None], model_dir: str | None) -> None:
    key = (*expect, model_dir)
    if key in _CHECKED:
        return
    have = installed(model_dir)
    if have != expect:
        raise NmsnlpError(
            f"this Spark worker ({sys.executable}) has nmsnlp {have[0]}, patterns {have[1][:12]}, model "
            f"{str(have[2])[:12]}; the driver has nmsnlp {expect[0]}, patterns {expect[1][:12]}, model "
            f"{str(expect[2])[:12]}. Install the same nmsnlp wheel on every node and point PYSPARK_PYTHON at it."
        )
    _CHECKED.add(key)


@dataclass(frozen=True)
class PartitionScreener:
    """The function `mapInPandas` runs: pandas batches of input rows in, pandas batches of stage rows out.

    Picklable and small: no pipeline, no model. The scorer comes from this worker's cache
    (`scorer_for`), built on the first batch the worker sees and kept for its life.
    `fail_once` (tests only): a file path; the first task to find it missing creates it and fails after
    its first output batch, so Spark must retry it (run with local[N,maxFailures])."""

    plan: Plan
    expect: tuple[str, str, str | None]
    model_dir: str | None = None
    note_nlp: tuple[str, str] | None = None
    fail_once: str | None = None

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        _check_install(self.expect, self.model_dir)
        scorer = scorer_for(self.model_dir)
        columns = ["row", "kind", "index", "source", "chars", "score", "mention"]
        if self.note_nlp:
            columns.append("note_nlp")
        sent = 0
        for batch in batches:
            names = list(batch.columns)
            for start in range(0, len(batch), SUB_BATCH):
                rows: list[dict[str, Any]] = []
                for values in batch.iloc[start:start + SUB_BATCH].itertuples(index=False, name=None):
                    cells = dict(zip(names, values))
                    row = int(cells.pop("row"))
                    rec = self.plan.record(row, {k: _plain(v) for k, v in cells.items()})
                    if rec is None:  # a blank line: no record, but its row is noted (input order is kept)
                        rows.append({"row": row, "kind": "skip", "index": 0, "source": None, "chars": 0,
                                     "score": None, "mention": None, "note_nlp": None})
                    else:
                        rows.extend(self._screen(row, rec, scorer))
                yield pd.DataFrame(rows, columns=columns)
                sent += 1
                if self.fail_once and sent == 1:
                    self._fail_once(self.fail_once)

    def _screen(self, row: int, rec: NoteRecord, scorer: Any) -> Iterator[dict[str, Any]]:
        result = screen_records([rec], scorer, self.note_nlp)
        yield {"row": row, "kind": "score", "index": 0, "source": rec.source, "chars": result.chars,
               "score": result.scores[0], "mention": None, "note_nlp": None}
        for i, m in enumerate(result.mentions):
            yield {"row": row, "kind": "mention", "index": i, "source": None, "chars": 0, "score": None, "mention": m,
                   "note_nlp": None}
        for i, n in enumerate(result.note_nlp):
            yield {"row": row, "kind": "note_nlp", "index": i, "source": None, "chars": 0, "score": None,
                   "mention": None, "note_nlp": n}

    @staticmethod
    def _fail_once(marker: str) -> None:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        raise RuntimeError("nmsnlp test: this task fails once on purpose (fail_once)")


# --------------------------------------------------------------------------- numbering, screening, staging


def numbered(df: DataFrame, name: str = "row") -> tuple[DataFrame, int]:
    """`df` with a 1-based row number in its current order (partition by partition), and its row count.

    `monotonically_increasing_id` is (partition << 33) + position; one small job counts the rows of each
    partition, and a broadcast join adds each partition's offset. The order is the scan order, so `df` must
    be deterministic (a file scan, or a sort): it is evaluated once for the counts and again when used."""
    from pyspark.sql import functions as F

    spark = df.sparkSession
    tagged = df.withColumn("_nmsnlp_mid", F.monotonically_increasing_id())
    part = F.shiftright(F.col("_nmsnlp_mid"), 33)
    counts = sorted((int(r[0]), int(r[1])) for r in tagged.groupBy(part.alias("p")).count().collect())
    offsets, total = [], 0
    for p, c in counts:
        offsets.append((p, total))
        total += c
    if not offsets:
        return df.withColumn(name, F.lit(None).cast("long")), 0
    table = spark.createDataFrame(offsets, "_nmsnlp_p long, _nmsnlp_offset long")
    out = (tagged.join(F.broadcast(table), part == F.col("_nmsnlp_p"))
           .withColumn(name, F.col("_nmsnlp_offset") + (F.col("_nmsnlp_mid").bitwiseAND((1 << 33) - 1)) + 1)
           .drop("_nmsnlp_mid", "_nmsnlp_p", "_nmsnlp_offset"))
    return out, total


def partitions_for(n_rows: int, partition_notes: int, parallelism: int) -> int:
    """Tasks for `n_rows` notes: about `partition_notes` each, and at least one per core while there are notes."""
    return max(1, min(max(n_rows, 1), max(math.ceil(n_rows / max(partition_notes, 1)), parallelism)))


def stage(notes: DataFrame, n_rows: int, screener: PartitionScreener, partition_notes: int = PARTITION_NOTES,
          staging: str | None = None) -> DataFrame:
    """Screen numbered notes (a `row` column and the columns `screener.plan` reads) once; returns the staged
    records (`stage_schema`), read back from Parquet at `staging`, or persisted when no path is given."""
    spark = notes.sparkSession
    n_parts = partitions_for(n_rows, partition_notes, spark.sparkContext.defaultParallelism)
    screened = notes.repartition(n_parts, "row").mapInPandas(screener, stage_schema(screener.note_nlp is not None))
    if staging is not None:
        screened.write.mode("overwrite").parquet(staging)
        return spark.read.parquet(staging)
    from pyspark import StorageLevel

    screened = screened.persist(StorageLevel.MEMORY_AND_DISK)
    screened.count()
    return screened


def scores_of(staged: DataFrame) -> DataFrame:
    """The score records of a stage: `row`, `source`, `chars` and every score field."""
    from pyspark.sql import functions as F

    return staged.where(F.col("kind") == "score").select("row", "source", "chars", "score.*")


def mentions_of(staged: DataFrame) -> DataFrame:
    """The mention records of a stage: `row`, `index` (place in the note) and every mention field."""
    from pyspark.sql import functions as F

    return staged.where(F.col("kind") == "mention").select("row", "index", "mention.*")


def table_plan(columns: list[str], cols: Columns, where: str, label: str | None = None) -> Plan:
    """The plan for a table of notes (Parquet, a database table, any DataFrame): the local readers' column choice."""
    id_name = pick_column(columns, cols.id, ID_COLUMNS, "note id", where)
    text_name = pick_column(columns, cols.text, TEXT_COLUMNS, "text", where)
    return Plan("rows", label, id_name, text_name, meta_columns(columns, cols, where))


def note_columns(df: DataFrame, plan: Plan) -> DataFrame:
    """The columns a task reads, with integral ids and meta values as text (pandas would turn an integer
    column holding nulls into floats: 12 -> 12.0)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    integral = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
    types = {f.name: f.dataType for f in df.schema.fields}
    wanted = [c for c in dict.fromkeys([plan.id_name, plan.text_name, *plan.meta_names]) if c]
    out = []
    for c in wanted:
        col = F.col(f"`{c}`")
        out.append(col.cast("string").alias(c) if c != plan.text_name and isinstance(types[c], integral) else col)
    return df.select(*out)


def screen_dataframe(notes_df: DataFrame, columns: Columns = Columns(), model_dir: str | None = None, *,
                     partition_notes: int = PARTITION_NOTES, staging: str | None = None,
                     fail_once: str | None = None) -> tuple[DataFrame, DataFrame]:
    """Screen a DataFrame of notes (OMOP NOTE column names by default; `columns` overrides them) with the
    model in `model_dir` (default: the shipped one, which every worker has installed).

    Returns (scores_df, mentions_df): `row` (the note's 1-based position in `notes_df`), then every score
    field (`SCORE_FIELDS`); `row`, `index` (the mention's place in its note), then every mention field
    (`MENTION_FIELDS`). Both read one stage, written to Parquet at `staging` or persisted, so using them
    again never re-runs the pipeline. Sources in error messages are "row N"."""
    plan = table_plan(notes_df.columns, columns, "notes DataFrame")
    selected, n_rows = numbered(note_columns(notes_df, plan))
    screener = PartitionScreener(plan, installed(model_dir), model_dir, fail_once=fail_once)
    staged = stage(selected, n_rows, screener, partition_notes, staging)
    scores = scores_of(staged).drop("source", "chars")
    return scores, mentions_of(staged)
