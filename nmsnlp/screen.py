"""`nmsnlp screen`: a note export in, scores, mentions, a screening list and a patient list out.

Streaming and resumable. Notes are read in input order and cut into chunks of CHUNK notes; each
chunk is scored (in a bounded pool of workers) and written to DIR/.nmsnlp-parts/NNNNNNNN/ by an atomic
rename, so after a crash (even kill -9) `--resume` scores only the chunks that are missing. The final
files are then assembled from the parts in chunk order, through an on-disk SQLite index for the ranked
screening list, the patient list and duplicate ids, so memory stays bounded whatever the input size
and the outputs are byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .batch import ChunkResult, _init_scorer, chunked, ordered_map, screen_records
from .errors import InputSchemaError, NmsnlpError
from .io import Columns, NoteRecord, read_db, read_notes

log = logging.getLogger(__name__)

CHUNK = 256
PARTS = ".nmsnlp-parts"
SCORE_COLUMNS = ["note_id", "person_id", "score", "flagged", "criteria_points", "nms_history", "evidence", "error",
                 "contributions", "criteria_items", "note_datetime"]
OUTPUTS = ("scores.jsonl", "scores.csv", "scores.parquet", "mentions.jsonl", "screening_list.csv", "patients.csv",
           "errors.jsonl", "note_nlp.csv", "run.json")


@dataclass(frozen=True)
class Source:
    """Where notes come from: a file or folder, or a database table."""

    path: Path | None = None
    db: str | None = None
    table: str = "note"
    where: str | None = None
    columns: Columns = Columns()  # noqa: RUF009 - a frozen dataclass, safe as a default

    def describe(self) -> dict[str, Any]:
        if self.path is not None:
            st = self.path.stat()
            kind = "folder" if self.path.is_dir() else self.path.suffix.lstrip(".").lower()
            return {"type": kind, "path": str(self.path.resolve()), "bytes": st.st_size if kind != "folder" else None,
                    "mtime": int(st.st_mtime), "columns": self.columns.__dict__}
        import sqlalchemy as sa

        assert self.db is not None
        return {"type": "database", "url": sa.engine.make_url(self.db).render_as_string(hide_password=True),
                "table": self.table, "where": self.where, "columns": self.columns.__dict__}

    def count(self) -> int | None:
        """How many notes the input holds, cheaply, for the progress bar's ETA (None when unknown)."""
        try:
            if self.path is None:
                import sqlalchemy as sa

                engine = sa.create_engine(self.db)  # type: ignore[arg-type]
                try:
                    with engine.connect() as conn:
                        sql = f"select count(*) from {self.table}" + (f" where {self.where}" if self.where else "")
                        return int(conn.execute(sa.text(sql)).scalar() or 0)
                finally:
                    engine.dispose()
            if self.path.is_dir():
                return sum(1 for f in self.path.iterdir() if f.suffix.lower() == ".txt")
            suffix = self.path.suffix.lower()
            if suffix in (".parquet", ".pq"):
                import pyarrow.parquet as pq

                return int(pq.ParquetFile(self.path).metadata.num_rows)
            if suffix in (".jsonl", ".ndjson", ".json"):
                with self.path.open("rb") as fh:
                    return sum(1 for line in fh if line.strip())
            if suffix in (".csv", ".tsv"):
                csv.field_size_limit(2**31 - 1)
                with self.path.open(encoding="utf-8", errors="replace", newline="") as fh:
                    return max(sum(1 for _ in csv.reader(fh)) - 1, 0)
        except Exception:
            return None
        return None

    def records(self) -> Iterator[NoteRecord]:
        if self.db is not None and self.path is None:
            return read_db(self.db, self.table, self.where, self.columns)
        assert self.path is not None
        return read_notes(self.path, cols=self.columns)


@dataclass(frozen=True)
class Options:
    out: Path
    workers: int = 1
    fmt: str = "csv"  # scores table format besides JSONL: csv or parquet
    note_nlp: bool = False
    note_nlp_db: str | None = None
    resume: bool = False
    force: bool = False
    model_dir: str | None = None
    progress: bool | None = None  # None: only when stderr is a terminal
    chunk: int = CHUNK


def patterns_hash() -> str:
    from .rules import default_patterns_dir

    h = hashlib.sha256()
    root = default_patterns_dir()
    for f in sorted(root.rglob("*.json*")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _write_part(parts: Path, index: int, result: ChunkResult, n_records: int) -> None:
    final = parts / f"{index:08d}"
    tmp = parts / f"{index:08d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name, rows in (("scores", result.scores), ("mentions", result.mentions), ("errors", result.errors),
                       ("note_nlp", result.note_nlp)):
        with (tmp / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
    (tmp / "done.json").write_text(json.dumps({"records": n_records, "chars": result.chars}))
    os.replace(tmp, final)


_NOTE_NLP_PARAMS: tuple[str, str] | None = None
_PARTS_DIR: Path | None = None


def _worker_init(model_dir: str | None, note_nlp: tuple[str, str] | None, parts: str) -> None:
    global _NOTE_NLP_PARAMS, _PARTS_DIR
    _NOTE_NLP_PARAMS = note_nlp
    _PARTS_DIR = Path(parts)
    _init_scorer(model_dir)


def _score_chunk(task: tuple[int, list[NoteRecord]]) -> tuple[int, int, int]:
    """Score a chunk and write its part (in the worker, so results never travel back through a pipe)."""
    index, records = task
    assert _PARTS_DIR is not None
    result = screen_records(records, _NOTE_NLP_PARAMS)
    _write_part(_PARTS_DIR, index, result, len(records))
    return index, len(records), result.chars


def run_screen(source: Source, opts: Options) -> dict[str, Any]:
    """Screen every note of `source` into `opts.out`; returns the run summary (also run.json)."""
    from .model import META_FILE, default_models_dir

    out = opts.out
    parts = out / PARTS
    models = Path(opts.model_dir) if opts.model_dir else default_models_dir()
    model_meta = json.loads((models / META_FILE).read_text()) if (models / META_FILE).is_file() else {}
    manifest = {
        "nmsnlp_version": __version__,
        "model_sha256": model_meta.get("model_sha256"),
        "patterns_sha256": patterns_hash(),
        "input": source.describe(),
        "chunk": opts.chunk,
        "note_nlp": opts.note_nlp,
    }
    if opts.resume and (parts / "manifest.json").is_file():
        previous = json.loads((parts / "manifest.json").read_text())
        started: str = str(previous.pop("started"))
        if previous != manifest:
            raise InputSchemaError(
                f"{out}: --resume needs the same input, model, patterns and options as the interrupted run; "
                f"they differ ({sorted(k for k in manifest if manifest[k] != previous.get(k))})"
            )
    else:
        if out.exists() and any(out.iterdir()) and not opts.force:
            raise InputSchemaError(f"{out} is not empty; pass --force to overwrite or --resume to finish an interrupted run")
        for name in (*OUTPUTS, PARTS):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        parts.mkdir(parents=True, exist_ok=True)
        started = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        (parts / "manifest.json").write_text(json.dumps({**manifest, "started": started}, indent=1))
    patterns_sha = str(manifest["patterns_sha256"])
    nlp_params = (f"nmsnlp {__version__} patterns {patterns_sha[:12]}", started[:19]) if opts.note_nlp else None

    done = {int(p.name) for p in parts.iterdir() if p.is_dir() and p.name.isdigit()}
    t0 = time.perf_counter()
    progress = _progress(opts.progress, source)
    skipped = 0

    def tasks() -> Iterator[tuple[int, list[NoteRecord]]]:
        nonlocal skipped
        for index, records in enumerate(chunked(source.records(), opts.chunk)):
            if index in done:
                skipped += len(records)
                progress.update(len(records))
                continue
            yield index, records

    n_new = chars = 0
    try:
        for _index, n, n_chars in ordered_map(_score_chunk, tasks(), opts.workers,
                                              _Init(opts.model_dir, nlp_params, str(parts))):
            n_new += n
            chars += n_chars
            progress.update(n)
    finally:
        progress.close()
    score_secs = time.perf_counter() - t0
    summary = _assemble(parts, out, opts, manifest, started)
    summary["timings"] = {
        "scoring_seconds": round(score_secs, 2),
        "notes_scored_this_run": n_new,
        "notes_from_earlier_run": skipped,
        "notes_per_second": round(n_new / score_secs, 1) if score_secs and n_new else None,
        "characters_per_second": round(chars / score_secs) if score_secs and n_new else None,
        "workers": opts.workers,
    }
    summary["outputs"] = sorted({*summary["outputs"], "run.json"})
    (out / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(parts)  # the run is complete: nothing left to resume
    return summary


class _Init:
    """A picklable initializer for the worker processes."""

    def __init__(self, model_dir: str | None, note_nlp: tuple[str, str] | None, parts: str):
        self.args = (model_dir, note_nlp, parts)

    def __call__(self) -> None:
        _worker_init(*self.args)


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(enabled: bool | None, source: Source) -> Any:
    """A progress bar with notes/s and ETA on stderr, only when it is a terminal (or asked for)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=source.count(), unit=" notes", desc="screening", smoothing=0.05, file=sys.stderr)


# --------------------------------------------------------------------------- assembly


def _parts_in_order(parts: Path) -> list[Path]:
    return sorted((p for p in parts.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def _assemble(parts: Path, out: Path, opts: Options, manifest: dict[str, Any], started: str) -> dict[str, Any]:
    index_path = parts / "index.sqlite"
    if index_path.exists():
        index_path.unlink()
    db = sqlite3.connect(index_path)
    db.execute("create table s (seq integer primary key, note_id text, person_id text, note_datetime text, score real, "
               "flagged integer, criteria_points integer, nms_history integer, evidence text, error text)")
    counts = {"input_rows": 0, "processed": 0, "errors": 0, "flagged": 0, "mentions": 0, "nms_history": 0}
    tmp = {name: out / f"{name}.tmp" for name in ("scores.jsonl", "mentions.jsonl", "errors.jsonl", "scores.csv")}
    seq = 0
    with tmp["scores.jsonl"].open("w", encoding="utf-8") as fs, tmp["mentions.jsonl"].open("w", encoding="utf-8") as fm, \
         tmp["errors.jsonl"].open("w", encoding="utf-8") as fe, tmp["scores.csv"].open("w", encoding="utf-8", newline="") as fc:
        writer = csv.DictWriter(fc, fieldnames=SCORE_COLUMNS)
        writer.writeheader()
        for part in _parts_in_order(parts):
            rows = []
            for rec in _lines(part / "scores.jsonl"):
                seq += 1
                counts["input_rows"] += 1
                if rec["error"]:
                    counts["errors"] += 1
                else:
                    counts["processed"] += 1
                    counts["flagged"] += bool(rec["flagged"])
                    counts["nms_history"] += bool(rec["nms_history"])
                fs.write(json.dumps(rec, ensure_ascii=False) + "\n")
                writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                                 for k, v in rec.items()})
                rows.append((seq, rec["note_id"], rec["person_id"], rec.get("note_datetime"), rec["score"],
                             None if rec["flagged"] is None else int(rec["flagged"]), rec["criteria_points"],
                             None if rec["nms_history"] is None else int(rec["nms_history"]),
                             json.dumps(rec["evidence"], ensure_ascii=False), rec["error"]))
            db.executemany("insert into s values (?,?,?,?,?,?,?,?,?,?)", rows)
            with (part / "mentions.jsonl").open(encoding="utf-8") as src:
                for line in src:
                    fm.write(line)
                    counts["mentions"] += 1
            with (part / "errors.jsonl").open(encoding="utf-8") as src:
                shutil.copyfileobj(src, fe)
    db.commit()
    db.execute("create index s_person on s(person_id)")
    for name, path in tmp.items():
        os.replace(path, out / name)
    if opts.fmt == "parquet":
        _scores_parquet(out)
    _screening_list(db, out)
    n_patients = _patients(db, out)
    duplicates = [r[0] for r in db.execute(
        "select note_id from s where note_id is not null group by note_id having count(*) > 1 order by min(seq) limit 100")]
    n_dup = db.execute("select count(*) from (select note_id from s where note_id is not null "
                       "group by note_id having count(*) > 1)").fetchone()[0]
    if opts.note_nlp:
        counts["note_nlp_rows"] = _note_nlp(parts, out, opts)
    db.close()
    index_path.unlink()
    return {
        "nmsnlp_version": manifest["nmsnlp_version"],
        "model_sha256": manifest["model_sha256"],
        "patterns_sha256": manifest["patterns_sha256"],
        "input": manifest["input"],
        "started": started,
        "counts": counts | {"patients": n_patients, "duplicate_note_ids": n_dup},
        "duplicate_note_ids": duplicates,
        "check": "processed + errors == input_rows" if counts["processed"] + counts["errors"] == counts["input_rows"] else "MISMATCH",
        "outputs": sorted(p.name for p in out.iterdir() if p.is_file()),
    }


def _scores_parquet(out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("note_id", pa.string()), ("person_id", pa.string()), ("score", pa.float64()),
                        ("flagged", pa.bool_()), ("criteria_points", pa.int64()), ("nms_history", pa.bool_()),
                        ("evidence", pa.string()), ("error", pa.string()), ("note_datetime", pa.string())])
    tmp = out / "scores.parquet.tmp"
    with pq.ParquetWriter(tmp, schema) as writer:
        batch: list[dict[str, Any]] = []
        for rec in _lines(out / "scores.jsonl"):
            batch.append({k: (json.dumps(rec[k], ensure_ascii=False) if k == "evidence" else rec.get(k)) for k in schema.names})
            if len(batch) == 10_000:
                writer.write_table(pa.Table.from_pylist(batch, schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema))
    os.replace(tmp, out / "scores.parquet")


def _screening_list(db: sqlite3.Connection, out: Path) -> None:
    tmp = out / "screening_list.csv.tmp"
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["rank", "note_id", "person_id", "note_datetime", "score", "criteria_points", "nms_history", "top_evidence"])
        rows = db.execute("select note_id, person_id, note_datetime, score, criteria_points, nms_history, evidence "
                          "from s where flagged = 1 order by score desc, seq")
        for rank, (nid, pid, when, score, pts, hist, ev) in enumerate(rows, 1):
            snippets = "; ".join(f"{e['text']} [{e['concept']}]" for e in json.loads(ev)[:6])
            w.writerow([rank, nid, pid, when, f"{score:.4f}", pts, bool(hist), snippets])
    os.replace(tmp, out / "screening_list.csv")


def _patients(db: sqlite3.Connection, out: Path) -> int:
    tmp = out / "patients.csv.tmp"
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", "notes", "max_score", "flagged_notes", "first_flagged_datetime", "last_flagged_datetime",
                    "past_nms", "max_criteria_points"])
        rows = db.execute(
            "select person_id, count(*), max(score), coalesce(sum(flagged), 0), "
            "min(case when flagged = 1 then note_datetime end), max(case when flagged = 1 then note_datetime end), "
            "coalesce(max(nms_history), 0), max(criteria_points) "
            "from s where person_id is not null group by person_id "
            "order by coalesce(sum(flagged), 0) desc, max(score) desc, person_id")
        for pid, notes, best, flagged, first, last, past, pts in rows:
            n += 1
            w.writerow([pid, notes, "" if best is None else f"{best:.4f}", flagged, first or "", last or "", bool(past),
                        "" if pts is None else pts])
    os.replace(tmp, out / "patients.csv")
    return n


def _note_nlp(parts: Path, out: Path, opts: Options) -> int:
    from .omop import NOTE_NLP_COLUMNS

    def rows() -> Iterator[dict[str, Any]]:
        next_id = 0
        for part in _parts_in_order(parts):
            for row in _lines(part / "note_nlp.jsonl"):
                next_id += 1
                row["note_nlp_id"] = next_id
                yield row

    if opts.note_nlp_db:
        return _note_nlp_to_db(rows(), opts.note_nlp_db)
    tmp = out / "note_nlp.csv.tmp"
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(NOTE_NLP_COLUMNS))
        w.writeheader()
        for row in rows():
            w.writerow(row)
            n += 1
    os.replace(tmp, out / "note_nlp.csv")
    return n


def _note_nlp_to_db(rows: Iterator[dict[str, Any]], url: str) -> int:
    import sqlalchemy as sa

    from .omop import note_nlp_table

    engine = sa.create_engine(url)
    table = note_nlp_table(sa.MetaData())
    n = 0
    try:
        with engine.begin() as conn:
            table.create(conn, checkfirst=True)
            batch: list[dict[str, Any]] = []
            for row in rows:
                try:
                    row["note_id"] = int(row["note_id"])
                except (TypeError, ValueError) as exc:
                    raise InputSchemaError(f"NOTE_NLP in a database needs integer note ids (OMOP); found {row['note_id']!r}") from exc
                row["nlp_date"] = datetime.fromisoformat(row["nlp_date"]).date()
                row["nlp_datetime"] = datetime.fromisoformat(row["nlp_datetime"])
                batch.append(row)
                if len(batch) == 5000:
                    conn.execute(table.insert(), batch)
                    n += len(batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
                n += len(batch)
    except sa.exc.SQLAlchemyError as exc:
        raise NmsnlpError(f"writing NOTE_NLP failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    finally:
        engine.dispose()
    return n
