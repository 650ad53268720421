"""The chart-review report: one self-contained HTML file a reviewer works in (`nmsnlp review`).

    write_review(results_dir, ReviewOptions(...)) -> ReviewResult (path, counts, report id)

The review set is the run's flagged notes by rank, plus, with `sample_unflagged`, a seeded random sample of
the unflagged notes (a sampled note is marked as such only once it is decided, so sensitivity can be
estimated from it). Each note carries its full text (re-read from the run's input through nmsnlp.io and
checked against the run's mentions), every mention with its assertion flags and the cue that set each, the
section headers, the consensus-criteria items with the mentions behind them, and, unless `blind`, the
score, the threshold, `nms_documented` and the top reasons in plain words. The patient's other notes form
a timeline; the text of up to `context_notes` of them per patient (the nearest in date) is included too.

The page (review_template.html, package data) has all script and style inline and makes no network
request; decisions autosave in the browser's local storage under the report id and are exported as
adjudications.jsonl. The file holds note text (PHI): it is written with owner-only permissions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputSchemaError, ModelLoadError
from ..records import FLAGS
from .runfiles import (
    check_text,
    input_source,
    iter_scores,
    mention_runs,
    mentions_for,
    read_run,
    read_texts,
    run_model,
    write_private,
)

log = logging.getLogger(__name__)

TEMPLATE = "review_template.html"
DATA_MARK = "/*__NMSNLP_DATA__*/"
DECISIONS = ("nms_current", "nms_history", "not_nms", "unsure")
MAX_REASONS = 8


@dataclass(frozen=True)
class ReviewOptions:
    sample_unflagged: int = 0
    seed: int = 0
    blind: bool = False
    context_notes: int = 10  # per patient: other notes whose text is included (nearest in date)
    input_path: Path | None = None  # a copy of the run's input, when it moved
    db: str | None = None  # the database URL with its password, for a database input
    model_dir: Path | None = None  # the model that scored the run, when it is not the shipped one


@dataclass
class ReviewResult:
    path: Path
    report_id: str
    n_review: int
    n_flagged: int
    n_sampled: int
    n_context: int
    bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Row:
    seq: int
    note_id: str | None
    person_id: str | None
    when: str | None
    title: str | None
    score: float | None
    flagged: bool
    error: bool


def write_review(results: Path, out: Path | None = None, opts: ReviewOptions | None = None) -> ReviewResult:
    """Build the review report of a results folder and write it (default RESULTS/review.html), mode 0600."""
    opts = opts or ReviewOptions()
    data, result = build_review(results, opts)
    path = out or results / "review.html"
    html = render(data)
    write_private(path, html)
    result.path = path
    result.bytes = len(html.encode("utf-8"))
    return result


def render(data: dict[str, Any]) -> str:
    template = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    if template.count(DATA_MARK) != 1:
        raise RuntimeError(f"{TEMPLATE}: expected one data mark")
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # safe inside <script>: no "</script", "<!--" or stray line separators can end or confuse it
    payload = payload.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return template.replace(DATA_MARK, payload)


# --------------------------------------------------------------------------- building the data


def build_review(results: Path, opts: ReviewOptions) -> tuple[dict[str, Any], ReviewResult]:
    run = read_run(results)
    rows: list[_Row] = []
    for sr in iter_scores(results):
        got = sr.rec.get
        rows.append(_Row(sr.seq, got("note_id"), got("person_id"), got("note_datetime"), got("note_title"),
                         got("score"), bool(got("flagged")), bool(got("error"))))
    threshold = _threshold(run, opts)

    flagged = sorted((r for r in rows if r.flagged and not r.error), key=lambda r: (-(r.score or 0.0), r.seq))
    unflagged = [r for r in rows if not r.flagged and not r.error]
    rng = random.Random(opts.seed)
    sample = rng.sample(unflagged, min(max(opts.sample_unflagged, 0), len(unflagged)))
    review = [(r, "flagged") for r in flagged] + [(r, "unflagged_sample") for r in sample]
    if opts.blind:
        rng.shuffle(review)
    review_seqs = {r.seq for r, _ in review}

    # the patients' timelines and the context notes whose text is included
    by_person: dict[str, list[_Row]] = {}
    for r in rows:
        if r.person_id is not None:
            by_person.setdefault(str(r.person_id), []).append(r)
    people = {str(r.person_id) for r, _ in review if r.person_id is not None}
    timelines = {p: sorted(by_person[p], key=lambda r: (r.when or "", r.seq)) for p in people}
    context: set[int] = set()
    for line in timelines.values():
        context |= _nearest_context(line, review_seqs, opts.context_notes)
    wanted = review_seqs | context

    full = {sr.seq: sr.rec for sr in iter_scores(results) if sr.seq in wanted}
    source = input_source(run, opts.input_path, opts.db, verify=True)
    texts = read_texts(source, wanted)
    runs = mention_runs(results / "mentions.jsonl", {str(full[s]["note_id"]) for s in wanted})

    from ..extraction.rules import cached_rules
    from ..extraction.text import SectionFinder

    rules = cached_rules()
    finder = SectionFinder(rules)
    vocab = _Vocab()
    notes: list[dict[str, Any]] = []
    key_of: dict[int, int] = {}
    used: dict[str, set[int]] = {}
    rank_of = {r.seq: i for i, r in enumerate(flagged, 1)}
    stratum_of = {r.seq: s for r, s in review}
    order = [r.seq for r, _ in review] + sorted(context)
    for seq in sorted(wanted):  # input order, so duplicate ids find their own mentions
        rec = full[seq]
        nr = texts.get(seq)
        if nr is None or nr.text is None:
            raise InputSchemaError(f"note {rec.get('note_id')!r} (row {seq}): not found in the run's input; pass "
                                   "--input with the notes the run screened")
        if str(nr.note_id) != str(rec.get("note_id")):
            raise InputSchemaError(f"row {seq}: the input has note {nr.note_id!r} where the run scored "
                                   f"{rec.get('note_id')!r}; pass --input with the notes the run screened")
        mentions = mentions_for(rec, runs.get(str(rec.get("note_id"))), used.setdefault(str(rec.get("note_id")), set()))
        check_text(rec.get("note_id"), nr.text, mentions)
        note = _note(rec, seq, nr.text, mentions, finder, rules.drug_classes, vocab, opts.blind,
                     threshold, rank_of.get(seq), stratum_of.get(seq))
        notes.append(note)
    position = {s: i for i, s in enumerate(order)}
    notes.sort(key=lambda n: position[n["row"]])  # the review set in review order, then the context notes
    for k, n in enumerate(notes):
        n["k"] = k
        key_of[n["row"]] = k

    patients = {}
    for p, line in timelines.items():
        patients[p] = [_timeline_entry(r, key_of.get(r.seq, -1), opts.blind, r.seq in review_seqs) for r in line]

    report_id = _report_id(run, opts, [r.seq for r, _ in review])
    counts = {"flagged": len(flagged), "unflagged": len(unflagged), "errors": sum(r.error for r in rows),
              "notes": len(rows)}
    data: dict[str, Any] = {
        "report": {
            "id": report_id, "nmsnlp_version": __version__, "results": results.resolve().name,
            "model_sha256": run.get("model_sha256"), "patterns_sha256": run.get("patterns_sha256"),
            "blind": opts.blind, "seed": opts.seed, "n_review": len(review), "n_flagged": len(flagged),
            "n_unflagged": len(unflagged), "n_sampled": len(sample),
            "sample_fraction": (len(sample) / len(unflagged)) if unflagged and sample else None,
            "decisions": list(DECISIONS), "flags": list(FLAGS),
            "criteria": [[name, pts, _criteria_words(name)] for name, pts in _criteria_items()],
        },
        "vocab": vocab.items,
        "notes": notes,
        "patients": patients,
    }
    if not opts.blind:
        data["report"]["threshold"] = threshold
    result = ReviewResult(Path(), report_id, len(review), len(flagged), len(sample), len(context), counts=counts)
    return data, result


def _threshold(run: dict[str, Any], opts: ReviewOptions) -> float:
    _meta, threshold = run_model(run, opts.model_dir)
    if threshold is None:
        sha = str(run.get("model_sha256"))[:12]
        if opts.model_dir is not None:
            raise ModelLoadError(f"{opts.model_dir}: not the model that scored this run (SHA-256 {sha}...)")
        raise ModelLoadError(f"this run was scored with a model that is not the shipped one (SHA-256 {sha}...); "
                             "pass --model with its folder")
    return threshold


def _nearest_context(line: list[_Row], review: set[int], cap: int) -> set[int]:
    """Up to `cap` notes of a patient's timeline that are not in the review set, nearest to one that is."""
    if cap <= 0:
        return set()
    marks = [i for i, r in enumerate(line) if r.seq in review]
    others = [(min(abs(i - j) for j in marks), i) for i, r in enumerate(line) if r.seq not in review and not r.error]
    return {line[i].seq for _, i in sorted(others)[:cap]}


def _timeline_entry(r: _Row, key: int, blind: bool, in_review: bool) -> list[Any]:
    entry: list[Any] = [key, r.when, r.title, r.note_id, r.seq, in_review]
    if not blind:
        entry += [r.score, r.flagged]
    return entry


def _report_id(run: dict[str, Any], opts: ReviewOptions, review: list[int]) -> str:
    basis = {"model": run.get("model_sha256"), "patterns": run.get("patterns_sha256"),
             "input": (run.get("input") or {}).get("sha256") or (run.get("input") or {}).get("path"),
             "blind": opts.blind, "seed": opts.seed, "sample": opts.sample_unflagged, "review": review}
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:16]


def _criteria_items() -> tuple[tuple[str, int], ...]:
    from ..scoring.criteria import ITEMS

    return ITEMS


def _criteria_words(name: str) -> str:
    from .reasons import CRITERIA_WORDS

    return CRITERIA_WORDS.get(name, name.replace("_", " "))


class _Vocab:
    """Strings used many times (concepts, sections, units, cues) stored once; mentions hold their index."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, s: str | None) -> int:
        if s is None:
            return -1
        i = self._index.get(s)
        if i is None:
            i = self._index[s] = len(self.items)
            self.items.append(s)
        return i


def _utf16(text: str) -> Any:
    """Code point offset -> UTF-16 offset (what JavaScript strings index), or None when they agree."""
    if len(text.encode("utf-16-le", "surrogatepass")) == 2 * len(text):
        return None
    table = [0] * (len(text) + 1)
    pos = 0
    for i, c in enumerate(text):
        table[i] = pos
        pos += 2 if ord(c) > 0xFFFF else 1
    table[len(text)] = pos
    return table


def _note(rec: dict[str, Any], seq: int, text: str, mentions: list[dict[str, Any]], finder: Any,
          classes: dict[str, str], vocab: _Vocab, blind: bool, threshold: float | None, rank: int | None,
          stratum: str | None) -> dict[str, Any]:
    from ..scoring.features import compute
    from ..scoring.view import as_m
    from .reasons import explain, merged

    u16 = _utf16(text)

    def off(i: int) -> int:
        return u16[i] if u16 is not None else i

    ms = []
    for m in mentions:
        flags = sum(1 << b for b, f in enumerate(FLAGS) if m.get(f))
        cues = [vocab((m.get("cues") or {}).get(f) or "") for f in FLAGS if m.get(f)]
        ms.append(_trim([off(m["start"]), off(m["end"]), vocab(m["concept"]), vocab(m["category"]), flags, cues,
                         m.get("value"), vocab(m.get("unit")), vocab(m.get("section")), vocab(m.get("drug_status")),
                         vocab(m.get("qualitative")), m.get("diastolic"), vocab(m.get("comparator"))]))
    headers = [[off(h.start), off(h.end), vocab(h.section)] for h in finder.find(text.replace("\x00", " "))]
    view = [as_m(m) for m in mentions]  # criteria support holds these very objects: indexed by identity
    feats = compute(view, classes)
    crit = feats.criteria
    index = {id(m): i for i, m in enumerate(view)}
    support = {name: sorted({index[id(m)] for m in found}) for name, found in crit.support.items()}
    note: dict[str, Any] = {
        "row": seq, "id": rec.get("note_id"), "pid": rec.get("person_id"), "dt": rec.get("note_datetime"),
        "title": rec.get("note_title"), "t": text, "m": ms, "h": headers,
        "crit": {"points": crit.points, "items": crit.items, "support": support},
        "review": stratum is not None,
    }
    if stratum is not None:
        note["stratum"] = stratum
    if not blind:
        reasons = merged(explain(mentions, rec.get("contributions") or {}, classes, feats))
        pos = [r for r in reasons if r.contribution > 0][:MAX_REASONS]
        neg = [r for r in reasons if r.contribution < 0][: MAX_REASONS // 2]
        note |= {
            "score": rec.get("score"), "flagged": bool(rec.get("flagged")), "doc": bool(rec.get("nms_documented")),
            "hist": bool(rec.get("nms_history")), "rank": rank,
            "by_score": threshold is not None and rec.get("score") is not None and rec["score"] >= threshold,
            "reasons": [[r.words, round(r.contribution, 3), list(r.mentions[:6])] for r in (*pos, *neg)],
        }
    return note


def _trim(values: list[Any]) -> list[Any]:
    """Drop the trailing empty fields of a mention row (None, or -1 for a vocabulary index; field 6, the
    value, is a number and is dropped only when None)."""
    while len(values) > 6 and (values[-1] is None or (len(values) != 7 and values[-1] == -1)):
        values.pop()
    return values

