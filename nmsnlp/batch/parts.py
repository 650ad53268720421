"""A run's parts: each chunk's records, written by the worker that scored it into
OUT/.nmsnlp-parts/NNNNNNNN/ with an atomic rename, read back in chunk order when the run is assembled."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import records
from ..outputs.tables import CsvTable, json_line
from .partition import ChunkResult

PARTS = ".nmsnlp-parts"
KINDS = ("scores", "mentions", "errors", "note_nlp")
SCORES_CSV = "scores.csv"


def part_path(parts: Path, index: int) -> Path:
    return parts / f"{index:08d}"


def write_part(parts: Path, index: int, result: ChunkResult, n_records: int) -> None:
    final = part_path(parts, index)
    tmp = parts / f"{index:08d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name in KINDS:
        with (tmp / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in getattr(result, name):
                fh.write(json_line(row))
    with (tmp / SCORES_CSV).open("w", encoding="utf-8", newline="") as fh:  # the scores' CSV rows, made here in the worker
        table = CsvTable(fh, records.SCORE_FIELDS, header=False)
        for row in result.scores:
            table.write(row)
    (tmp / "done.json").write_text(json.dumps({"records": n_records, "chars": result.chars}))
    os.replace(tmp, final)


def done_parts(parts: Path) -> set[int]:
    """The chunks whose parts are complete; an incomplete one (a crash or a concurrent start) is removed."""
    done = set()
    for p in parts.iterdir() if parts.is_dir() else ():
        if not (p.is_dir() and p.name.isdigit()):
            continue
        if part_is_complete(p):
            done.add(int(p.name))
        else:
            shutil.rmtree(p, ignore_errors=True)
    return done


def part_is_complete(part: Path) -> bool:
    try:
        info = json.loads((part / "done.json").read_text())
        with (part / "scores.jsonl").open(encoding="utf-8") as fh:
            n = sum(1 for _ in fh)
        return n == info["records"] and all((part / f"{k}.jsonl").is_file() for k in KINDS) and (part / SCORES_CSV).is_file()
    except (OSError, ValueError, KeyError, TypeError):
        return False


def parts_in_order(parts: Path) -> list[Path]:
    done = done_parts(parts)
    return [part_path(parts, i) for i in sorted(done)]


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)
