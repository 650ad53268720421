"""Assembling a run: the parts, in chunk order, become the final outputs (byte-identical however the run
was interrupted and resumed), with the counts of run.json."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import records
from ..outputs.index import ScoreIndex
from ..outputs.lists import write_patients, write_screening_list
from ..outputs.omop import NOTE_NLP_COLUMNS, write_note_nlp_db
from ..outputs.tables import CsvTable, ParquetTable, json_line, spreadsheet_safe
from .parts import parts_in_order, read_lines


def assemble(parts: Path, out: Path, fmt: str, note_nlp: bool, note_nlp_db: str | None, replace: bool = False) -> dict[str, Any]:
    """Write every output from the parts; returns the counts and duplicate ids for run.json."""
    fields = records.SCORE_FIELDS
    index = ScoreIndex(parts / "index.sqlite")
    counts = {"input_rows": 0, "processed": 0, "errors": 0, "flagged": 0, "mentions": 0, "nms_history": 0}
    tmp = {name: out / f"{name}.tmp" for name in ("scores.jsonl", "mentions.jsonl", "errors.jsonl", "scores.csv")}
    parquet = ParquetTable(out / "scores.parquet.tmp", fields) if fmt == "parquet" else None
    seq = 0
    with tmp["scores.jsonl"].open("w", encoding="utf-8") as fs, tmp["mentions.jsonl"].open("w", encoding="utf-8") as fm, \
         tmp["errors.jsonl"].open("w", encoding="utf-8") as fe, tmp["scores.csv"].open("w", encoding="utf-8", newline="") as fc:
        table = CsvTable(fc, fields)
        for part in parts_in_order(parts):
            rows = []
            for rec in read_lines(part / "scores.jsonl"):
                seq += 1
                counts["input_rows"] += 1
                if rec["error"]:
                    counts["errors"] += 1
                else:
                    counts["processed"] += 1
                    counts["flagged"] += bool(rec["flagged"])
                    counts["nms_history"] += bool(rec["nms_history"])
                fs.write(json_line(rec))
                table.write(rec)
                if parquet is not None:
                    parquet.write(rec)
                rows.append((seq, rec))
            index.add(rows)
            with (part / "mentions.jsonl").open(encoding="utf-8") as src:
                for line in src:
                    fm.write(line)
                    counts["mentions"] += 1
            with (part / "errors.jsonl").open(encoding="utf-8") as src:
                shutil.copyfileobj(src, fe)
    index.finish()
    for name, path in tmp.items():
        os.replace(path, out / name)
    if parquet is not None:
        parquet.close()
        os.replace(out / "scores.parquet.tmp", out / "scores.parquet")
    write_screening_list(index, out)
    n_patients = write_patients(index, out)
    n_dup, duplicates = index.duplicates()
    if note_nlp:
        counts["note_nlp_rows"] = _note_nlp(parts, out, note_nlp_db, replace)
    index.close()
    return {
        "counts": counts | {"patients": n_patients, "duplicate_note_ids": n_dup},
        "duplicate_note_ids": duplicates,
        "check": "processed + errors == input_rows" if counts["processed"] + counts["errors"] == counts["input_rows"] else "MISMATCH",
    }


def _note_nlp(parts: Path, out: Path, db: str | None, replace: bool = False) -> int:
    def rows() -> Iterator[dict[str, Any]]:
        next_id = 0
        for part in parts_in_order(parts):
            for row in read_lines(part / "note_nlp.jsonl"):
                next_id += 1
                row["note_nlp_id"] = next_id
                yield row

    if db:
        ids = [r["note_id"] for part in parts_in_order(parts) for r in read_lines(part / "scores.jsonl") if not r["error"]]
        return write_note_nlp_db(rows(), db, ids, replace)
    import csv

    tmp = out / "note_nlp.csv.tmp"
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(NOTE_NLP_COLUMNS))
        w.writeheader()
        for row in rows():
            w.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
            n += 1
    os.replace(tmp, out / "note_nlp.csv")
    return n
