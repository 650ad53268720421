"""Assembling a run: the parts, in chunk order, become the final outputs (byte-identical however the run
was interrupted and resumed), with the counts of run.json."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import records
from ..outputs.index import ScoreIndex
from ..outputs.lists import write_patients, write_screening_list
from ..outputs.omop import NOTE_NLP_COLUMNS, write_note_nlp_db
from ..outputs.tables import CsvTable, ParquetTable, spreadsheet_safe
from .parts import SCORES_CSV, parts_in_order, read_lines


def assemble(parts: Path, out: Path, fmt: str, note_nlp: bool, note_nlp_db: str | None, replace: bool = False) -> dict[str, Any]:
    """Write every output from the parts; returns the counts and duplicate ids for run.json."""
    assembler = Assembler(parts, out, fmt)
    try:
        for part in parts_in_order(parts):
            assembler.add(part)
    except BaseException:
        assembler.abort()
        raise
    return assembler.finish(note_nlp, note_nlp_db, replace)


class Assembler:
    """The final outputs, written part by part in chunk order (as a run's parts come in, so that the main
    process assembles while the workers score), then finished: the ranked lists, NOTE_NLP, the counts.
    Given the same parts in the same order, the outputs are the same bytes however they came in."""

    def __init__(self, parts: Path, out: Path, fmt: str):
        self.parts, self.out = parts, out
        self.index = ScoreIndex(parts / "index.sqlite")
        self.counts = {"input_rows": 0, "processed": 0, "errors": 0, "flagged": 0, "mentions": 0, "nms_history": 0}
        self.tmp = {name: out / f"{name}.tmp" for name in ("scores.jsonl", "mentions.jsonl", "errors.jsonl", "scores.csv")}
        self.parquet = ParquetTable(out / "scores.parquet.tmp", records.SCORE_FIELDS) if fmt == "parquet" else None
        self.seq = 0
        self.files = {name: path.open("w", encoding="utf-8", newline="" if name.endswith(".csv") else None)
                      for name, path in self.tmp.items()}
        CsvTable(self.files["scores.csv"], records.SCORE_FIELDS)  # the header; the parts hold the rows

    def add(self, part: Path) -> None:
        counts, fs = self.counts, self.files["scores.jsonl"]
        rows = []
        with (part / "scores.jsonl").open(encoding="utf-8") as src:
            for line in src:  # the worker wrote json_line(record): the line is copied as it is
                rec = json.loads(line)
                self.seq += 1
                counts["input_rows"] += 1
                if rec["error"]:
                    counts["errors"] += 1
                else:
                    counts["processed"] += 1
                    counts["flagged"] += bool(rec["flagged"])
                    counts["nms_history"] += bool(rec["nms_history"])
                fs.write(line)
                if self.parquet is not None:
                    self.parquet.write(rec)
                rows.append((self.seq, rec))
        with (part / SCORES_CSV).open(encoding="utf-8", newline="") as src:
            shutil.copyfileobj(src, self.files["scores.csv"])
        self.index.add(rows)
        fm = self.files["mentions.jsonl"]
        with (part / "mentions.jsonl").open(encoding="utf-8") as src:
            for line in src:
                fm.write(line)
                counts["mentions"] += 1
        with (part / "errors.jsonl").open(encoding="utf-8") as src:
            shutil.copyfileobj(src, self.files["errors.jsonl"])

    def finish(self, note_nlp: bool, note_nlp_db: str | None, replace: bool = False) -> dict[str, Any]:
        out, index, counts = self.out, self.index, self.counts
        for fh in self.files.values():
            fh.close()
        index.finish()
        for name, path in self.tmp.items():
            os.replace(path, out / name)
        if self.parquet is not None:
            self.parquet.close()
            os.replace(out / "scores.parquet.tmp", out / "scores.parquet")
        write_screening_list(index, out)
        n_patients = write_patients(index, out)
        n_dup, duplicates = index.duplicates()
        if note_nlp:
            counts["note_nlp_rows"] = _note_nlp(self.parts, out, note_nlp_db, replace)
        index.close()
        return {
            "counts": counts | {"patients": n_patients, "duplicate_note_ids": n_dup},
            "duplicate_note_ids": duplicates,
            "check": "processed + errors == input_rows" if counts["processed"] + counts["errors"] == counts["input_rows"] else "MISMATCH",
        }

    def abort(self) -> None:
        """Close and remove what was written (a run that fails leaves no half outputs)."""
        for fh in self.files.values():
            fh.close()
        if self.parquet is not None:
            self.parquet.writer.close()
        for path in [*self.tmp.values(), self.out / "scores.parquet.tmp"]:
            path.unlink(missing_ok=True)
        self.index.close()


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
