"""The on-disk SQLite index of a run's note scores, with one column per score field (nmsnlp.records),
so the ranked screening list, the patient list and the duplicate ids come from SQL, with memory
bounded whatever the run's size."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import records
from .tables import sqlite_type, sqlite_value


class ScoreIndex:
    def __init__(self, path: Path):
        if path.exists():
            path.unlink()
        self.path = path
        self.fields = records.SCORE_FIELDS
        self.db = sqlite3.connect(path)
        cols = ", ".join(f'"{f.name}" {sqlite_type(f)}' for f in self.fields)
        self.db.execute(f"create table s (seq integer primary key, {cols})")
        self._insert = (f"insert into s (seq, {', '.join(chr(34) + f.name + chr(34) for f in self.fields)}) "
                        f"values ({', '.join('?' for _ in range(len(self.fields) + 1))})")

    def add(self, rows: Iterable[tuple[int, dict[str, Any]]]) -> None:
        self.db.executemany(self._insert, [(seq, *(sqlite_value(f, rec.get(f.name)) for f in self.fields))
                                           for seq, rec in rows])

    def finish(self) -> None:
        self.db.commit()
        self.db.execute("create index s_person on s(person_id)")

    def column_names(self) -> list[str]:
        return [r[1] for r in self.db.execute("pragma table_info(s)")]

    def flagged(self) -> Iterator[dict[str, Any]]:
        """Flagged notes, highest score first (input order breaks ties), as score records."""
        cur = self.db.execute(f"select {', '.join(chr(34) + f.name + chr(34) for f in self.fields)} "
                              "from s where flagged = 1 order by score desc, seq")
        for row in cur:
            yield {f.name: _decode(f.kind, v) for f, v in zip(self.fields, row)}

    def patients(self) -> Iterator[tuple[Any, ...]]:
        return self.db.execute(
            "select person_id, count(*), max(score), coalesce(sum(flagged), 0), "
            "min(case when flagged = 1 then note_datetime end), max(case when flagged = 1 then note_datetime end), "
            "coalesce(max(nms_history), 0), max(criteria_points) "
            "from s where person_id is not null group by person_id "
            "order by coalesce(sum(flagged), 0) desc, max(score) desc, person_id")

    def duplicates(self, limit: int = 100) -> tuple[int, list[str]]:
        ids = [r[0] for r in self.db.execute(
            "select note_id from s where note_id is not null group by note_id having count(*) > 1 "
            f"order by min(seq) limit {int(limit)}")]
        n = self.db.execute("select count(*) from (select note_id from s where note_id is not null "
                            "group by note_id having count(*) > 1)").fetchone()[0]
        return int(n), ids

    def close(self) -> None:
        self.db.close()
        self.path.unlink()


def _decode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bool":
        return bool(value)
    if kind in ("floats", "evidence", "map_float", "map_int", "map_str"):
        return json.loads(value)
    return value
