"""Property tests: extraction and the readers on arbitrary text never crash, never lose a note, and keep
offsets and values sound. Bounded to seconds in CI (the `ci` profile); `HYPOTHESIS_PROFILE=long` for more."""

from __future__ import annotations

import csv
import io
import json
import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nmsnlp
from nmsnlp.errors import NoteError
from nmsnlp.extraction.values import PLAUSIBLE
from nmsnlp.io.readers import read_notes

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
nmsnlp.extract("fever")  # build the pipeline before Hypothesis times or replays the first example

CLINICAL = st.sampled_from(["fever", "T 39.4", "CK 12,450", "rigid", "no ", "haloperidol", "NMS", "[ ] ", "(x) ", "Y/N",
                            "HR 130s", "BP 180/110", "\n", ": no", "Call MD for T > 38.5", "1e308", "-40C", "=" * 70,
                            "\ud800", "\x00", "😀", " ", "2019", "hx of", "CK 60x ULN"])
TEXT = st.lists(st.one_of(CLINICAL, st.text(max_size=20)), max_size=25).map("".join)


@given(TEXT)
def test_extract_on_any_text_keeps_offsets_and_sound_values(text):
    try:
        mentions = nmsnlp.extract(text, "fuzz")
    except NoteError:
        return  # empty, or not valid Unicode: a clear per-note error, never a crash
    for m in mentions:
        assert 0 <= m.start < m.end <= len(text) and m.text == text[m.start : m.end]
        if m.value is not None:
            assert math.isfinite(m.value)
            lo, hi = PLAUSIBLE[m.concept]
            assert lo <= m.value <= hi, (m.concept, m.value)


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=60)), min_size=1, max_size=8))
def test_the_csv_reader_gives_one_record_per_row_whatever_the_cells(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "notes.csv"
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["note_id", "note_text"])
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass"))
    records = list(read_notes(path))
    assert len(records) == len(rows)
    for rec in records:
        assert rec.error or isinstance(rec.text, str)
        json.dumps({"id": rec.note_id, "source": rec.source, "error": rec.error}, ensure_ascii=False).encode("utf-8")


@given(st.lists(st.one_of(st.dictionaries(st.sampled_from(["note_id", "note_text", "x"]),
                                          st.one_of(st.text(max_size=30), st.integers(), st.none()), max_size=3),
                          st.text(max_size=20)), min_size=1, max_size=8))
def test_the_jsonl_reader_never_drops_a_line(tmp_path_factory, items):
    path = tmp_path_factory.mktemp("jsonl") / "notes.jsonl"
    if not (isinstance(items[0], dict) and {"note_id", "note_text"} <= set(items[0])):
        return  # the reader takes its columns from the first object: covered elsewhere
    lines = [json.dumps(i) if isinstance(i, dict) else " ".join(i.splitlines()) for i in items]
    lines = [ln for ln in lines if ln.strip()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    records = list(read_notes(path))
    assert len(records) == len(lines)
    for rec in records:
        json.dumps({"id": rec.note_id, "source": rec.source, "error": rec.error}, ensure_ascii=False).encode("utf-8")
