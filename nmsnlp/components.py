"""The spaCy components of the nmsnlp pipeline, in pipeline order:

    nmsnlp_structure  -> sentence starts and section headers          (token.is_sent_start, doc._.nmsnlp_headers)
    nmsnlp_mentions   -> drug/symptom/lab/vital/... mentions + values (doc.spans["nmsnlp"], span._.nmsnlp)
    nmsnlp_context    -> medspaCy ConText with the project's rules     (span._.is_negated, ...)
    nmsnlp_assertion  -> final flags, section, drug status             (span._.nmsnlp)

Each loads its rules in `initialize()` from a patterns/ folder and writes them in `to_disk()`, so a
pipeline saved with `nlp.to_disk()` loads with `spacy.load()` with the same rules.
"""


import bisect
import re
import shutil
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy
from spacy.attrs import IDX, SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Span

from .errors import PatternFileError
from .rules import RuleSet, TermScanner, load_rules, norm_key, write_rules
from .text import SectionFinder, section_at, split_sentences
from .values import SYMPTOM_VALUE_CONCEPT, UNITS, parse_value

SPAN_GROUP = "nmsnlp"
FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")
_CONTEXT_ATTRS = {
    "NEGATED_EXISTENCE": "is_negated",
    "POSSIBLE_EXISTENCE": "is_uncertain",
    "HISTORICAL": "is_historical",
    "HYPOTHETICAL": "is_hypothetical",
    "FAMILY": "is_family",
}


def register_extensions() -> None:
    """The few extensions nmsnlp uses, registered once, with JSON-friendly values."""
    if not Doc.has_extension("nmsnlp_headers"):
        Doc.set_extension("nmsnlp_headers", default=None)  # list of [start, end, section]
    if not Span.has_extension("nmsnlp"):
        Span.set_extension("nmsnlp", default=None)  # dict of the mention's attributes
    for attr in _CONTEXT_ATTRS.values():
        if not Span.has_extension(attr):
            Span.set_extension(attr, default=False)


register_extensions()


class _RuleComponent:
    """Shared rule handling: rules come from initialize(), and travel with to_disk()/from_disk()."""

    name: str
    rules: RuleSet | None

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Any]] | None = None,
        *,
        nlp: Language | None = None,
        patterns_dir: str | None = None,
    ) -> None:
        self.set_rules(load_rules(patterns_dir))

    def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules

    def _require_rules(self) -> RuleSet:
        if self.rules is None:
            raise PatternFileError(
                f"component {self.name!r} has no rules: call nlp.initialize() or use nmsnlp.load()"
            )
        return self.rules

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        if path.exists():
            shutil.rmtree(path)
        write_rules(self._require_rules(), path)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> "_RuleComponent":
        self.set_rules(load_rules(path))
        return self


# --------------------------------------------------------------------------- structure


class StructureComponent(_RuleComponent):
    def __init__(self, nlp: Language, name: str):
        self.name = name
        self.rules = None
        self.finder: SectionFinder | None = None

    def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules
        self.finder = SectionFinder(rules)

    def analyse(self, text: str) -> tuple[list[list[Any]], list[tuple[int, int]]]:
        """Headers as [start, end, section] and sentence spans of a raw text."""
        self._require_rules()
        assert self.finder is not None
        headers = self.finder.find(text)
        sentences = split_sentences(text, frozenset(h.start for h in headers))
        return [[h.start, h.end, h.section] for h in headers], sentences

    def __call__(self, doc: Doc) -> Doc:
        headers, sentences = self.analyse(doc.text)
        doc._.nmsnlp_headers = headers
        set_sentence_starts(doc, [s for s, _ in sentences])
        return doc


def sentence_bounds(doc: Doc) -> list[tuple[int, int]]:
    """(start_char, end_char) of every sentence, from the sentence-start flags, in one array read."""
    if not len(doc):
        return []
    arr = doc.to_array([SENT_START, IDX]).astype("int64")
    first = [i for i in numpy.flatnonzero(arr[:, 0] == 1).tolist()]
    if not first or first[0] != 0:
        first = [0, *first]
    bounds = []
    for k, i in enumerate(first):
        j = first[k + 1] if k + 1 < len(first) else len(doc)
        last = doc[j - 1]
        bounds.append((int(arr[i, 1]), last.idx + len(last.text)))
    return bounds


def set_sentence_starts(doc: Doc, starts: list[int]) -> None:
    """Mark the token at each start offset as a sentence start, and every other token not."""
    if not len(doc):
        return
    idx = doc.to_array([IDX]).astype("int64")
    flags = numpy.where(numpy.isin(idx, numpy.asarray(starts, dtype="int64")), 1, -1).astype("int64")
    flags[0] = 1
    doc.from_array([SENT_START], flags.astype("uint64").reshape(-1, 1))  # type: ignore[arg-type]


@Language.factory(
    "nmsnlp_structure",
    assigns=["token.is_sent_start", "doc._.nmsnlp_headers"],
    requires=[],
)
def make_structure(nlp: Language, name: str) -> StructureComponent:
    return StructureComponent(nlp, name)


# --------------------------------------------------------------------------- mentions


class MentionComponent(_RuleComponent):
    def __init__(self, nlp: Language, name: str, max_value_gap: int):
        self.name = name
        self.rules = None
        self.scanner: TermScanner | None = None
        self.max_value_gap = max_value_gap

    def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules
        self.scanner = TermScanner.build(
            (term, r.case_sensitive, r) for r in rules.targets for term in r.terms
        )

    def has_trigger(self, text: str, start: int, end: int) -> bool:
        """Whether the sentence text[start:end] holds any trigger (pseudo rules too): the cheap test of
        the fast path, scanning exactly what __call__ scans for that sentence."""
        assert self.scanner is not None
        return self.scanner.regex.search(text, start, end) is not None

    def __call__(self, doc: Doc) -> Doc:
        self._require_rules()
        assert self.scanner is not None and self.rules is not None
        text = doc.text
        spans: list[Span] = []
        for s_start, s_end in sentence_bounds(doc):
            for start, end, rule in self.scanner.finditer(text, s_start, s_end):
                if rule.concept is None:
                    continue  # a pseudo rule: this text is not a mention
                spans.extend(self._mentions(doc, text, rule, start, end, s_end))
        doc.spans[SPAN_GROUP] = spans
        return doc

    def _mentions(self, doc: Doc, text: str, rule: Any, start: int, end: int, limit: int) -> list[Span]:
        attrs: dict[str, Any] = {"concept": rule.concept, "category": rule.category, "rule": rule.id}
        out = []
        if rule.concept in UNITS:
            systolic = rule.concept == "blood_pressure" and _SYSTOLIC.search(text[start:end]) is not None
            vm = parse_value(rule.concept, text, end, limit, self.max_value_gap, systolic_only=systolic)
            if vm is None and rule.requires_value:
                return []
            if vm is not None:
                end = vm.end
                attrs.update(_value_attrs(vm))
        elif rule.concept in SYMPTOM_VALUE_CONCEPT:
            derived = SYMPTOM_VALUE_CONCEPT[rule.concept]
            vm = parse_value(derived, text, end, limit, min(self.max_value_gap, 16))
            if vm is not None:
                category = "vital" if derived in ("temperature", "heart_rate", "respiratory_rate", "blood_pressure") else "lab"
                d_attrs = {"concept": derived, "category": category, "rule": rule.id, **_value_attrs(vm)}
                span = _char_span(doc, start, vm.end, category)
                if span is not None:
                    span._.nmsnlp = d_attrs
                    out.append(span)
        if rule.assertion:
            attrs["fixed"] = dict(rule.assertion)
        span = _char_span(doc, start, end, rule.category)
        if span is None:
            return out
        span._.nmsnlp = attrs
        return [span, *out]


_SYSTOLIC = re.compile(r"(?i)\bs(?:ystolic|bp)")


def _value_attrs(vm: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {"value": vm.value, "unit": vm.unit, "comparator": vm.comparator}
    if vm.values:
        attrs["values"] = list(vm.values)
    if vm.ref_high is not None:
        attrs["ref_high"] = vm.ref_high
    if vm.diastolic is not None:
        attrs["diastolic"] = vm.diastolic
    return attrs


def _char_span(doc: Doc, start: int, end: int, category: str) -> Span | None:
    span = doc.char_span(start, end, label=category.upper(), alignment_mode="expand")
    if span is None or len(span) == 0:
        return None
    return span


@Language.factory(
    "nmsnlp_mentions",
    default_config={"max_value_gap": 30},
    assigns=["doc.spans", "span._.nmsnlp"],
    requires=["token.is_sent_start"],
)
def make_mentions(nlp: Language, name: str, max_value_gap: int) -> MentionComponent:
    return MentionComponent(nlp, name, max_value_gap)


# --------------------------------------------------------------------------- context


class ContextComponent(_RuleComponent):
    """medspaCy's ConText, fed the project's rules from patterns/context.jsonl."""

    def __init__(self, nlp: Language, name: str):
        self.name = name
        self.nlp = nlp
        self.rules = None
        self._context: Any = None

    def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules
        self._context = build_context(self.nlp, rules.context)

    def __call__(self, doc: Doc) -> Doc:
        self._require_rules()
        spans = doc.spans[SPAN_GROUP] if SPAN_GROUP in doc.spans else []
        if len(spans):
            self._context(doc)
        return doc


def build_context(nlp: Language, records: Iterable[dict[str, Any]]) -> Any:
    """A medspaCy ConText object with the given rule records, imported without its process-wide
    warnings filter (medspaCy calls warnings.filterwarnings("ignore") at import)."""
    with warnings.catch_warnings():
        from medspacy.context import ConText, ConTextRule
    context = ConText(
        nlp,
        name="nmsnlp_context_inner",
        rules=None,
        input_span_type="group",
        span_group_name=SPAN_GROUP,
        span_attrs={k: {v: True} for k, v in _CONTEXT_ATTRS.items()},
    )
    # medspaCy keys rules by their literal and keeps one modifier per span, so the rule files give
    # each literal one rule; "also" names further categories that rule's modifier sets.
    rules = []
    for rec in records:
        kwargs = {k: v for k, v in rec.items() if k not in ("id", "comment", "also")}
        kwargs["metadata"] = {"id": rec["id"], "also": list(rec.get("also", []))}
        rules.append(ConTextRule(**kwargs))
    context.add(rules)
    return context


@Language.factory(
    "nmsnlp_context",
    assigns=["span._.is_negated", "span._.is_uncertain", "span._.is_historical", "span._.is_hypothetical", "span._.is_family"],
    requires=["doc.spans"],
)
def make_context(nlp: Language, name: str) -> ContextComponent:
    return ContextComponent(nlp, name)


# --------------------------------------------------------------------------- assertion

_STATUS_PRECEDENCE = ("allergy", "stopped", "held", "increased", "decreased", "started", "active")
_LIST_SECTIONS = {"medications", "discharge_medications"}
_HISTORICAL_SECTIONS = {"past_medical_history", "past_surgical_history", "social_history"}


class AssertionComponent(_RuleComponent):
    def __init__(self, nlp: Language, name: str, status_window: int):
        self.name = name
        self.rules = None
        self.status_window = status_window
        self._habits: frozenset[str] = frozenset()
        self._before: TermScanner | None = None
        self._after: TermScanner | None = None

    def set_rules(self, rules: RuleSet) -> None:
        self.rules = rules
        self._habits = frozenset(norm_key(t) for r in rules.habits for t in r.terms)
        self._before = TermScanner.build(
            ((t, False, r.status) for r in rules.statuses if r.position == "before" for t in r.terms),
            right_boundary=r"(?![A-Za-z])",
        )
        self._after = TermScanner.build(
            ((t, False, r.status) for r in rules.statuses if r.position == "after" for t in r.terms),
            right_boundary=r"(?![A-Za-z])",
        )

    def __call__(self, doc: Doc) -> Doc:
        self._require_rules()
        if SPAN_GROUP not in doc.spans:
            return doc
        headers = doc._.nmsnlp_headers or []
        spans = sorted(doc.spans[SPAN_GROUP], key=lambda s: (s.start_char, -s.end_char))
        drugs = [s for s in spans if s._.nmsnlp["category"] == "drug"]
        text = doc.text  # Doc.text joins every token: read it once
        bounds = sentence_bounds(doc) if drugs else []
        sent_starts = [b[0] for b in bounds]
        for span in spans:
            attrs = dict(span._.nmsnlp)
            section = section_at(headers, span.start_char)
            flags = _modifier_flags(span)
            flags.update(attrs.pop("fixed", {}))
            if section in _HISTORICAL_SECTIONS or (
                attrs["category"] != "drug" and norm_key(span.text.strip(_EDGE_PUNCT)) in self._habits
            ):  # substance-use wording is social history wherever it is written
                flags["historical"] = True
            elif section == "family_history":
                flags["family"] = True
            elif section == "discharge_instructions" and attrs["category"] in ("symptom", "diagnosis"):
                flags["hypothetical"] = True
            status = None
            if attrs["category"] == "drug":
                sent = bounds[bisect.bisect_right(sent_starts, span.start_char) - 1]
                status = "allergy" if section == "allergies" else self._drug_status(text, span, drugs, sent)
                if status is None and section in _LIST_SECTIONS:
                    status = "active"
                if status in ("stopped", "held", "allergy"):
                    flags["negated"] = False
            elif section == "allergies" or _follows_allergy(text, span, drugs):
                flags["historical"] = True
            if attrs.get("value") is not None:  # a measured value is neither absent nor in doubt
                flags["negated"] = flags["uncertain"] = False
            attrs.update(flags)
            attrs["section"] = section
            attrs["drug_status"] = status
            span._.nmsnlp = attrs
        return doc

    def _drug_status(self, text: str, span: Span, drugs: list[Span], sent: tuple[int, int]) -> str | None:
        """The status cue nearest the drug: before it (back to the previous drug, a ';' or 'but'),
        or after it (up to the next drug); drugs joined by 'and' or commas share their cues."""
        assert self._before is not None and self._after is not None
        sent_start, sent_end = sent
        same = [d for d in drugs if sent_start <= d.start_char < sent_end]
        k = next(i for i, d in enumerate(same) if d.start_char == span.start_char and d.end_char == span.end_char)
        # extend over a coordinated list: "dantrolene and bromocriptine started"
        first, last = k, k
        while first > 0 and _JOINER.fullmatch(text[same[first - 1].end_char : same[first].start_char]):
            first -= 1
        while last + 1 < len(same) and _JOINER.fullmatch(text[same[last].end_char : same[last + 1].start_char]):
            last += 1
        lo_limit = same[first - 1].end_char if first > 0 else sent_start
        hi_limit = same[last + 1].start_char if last + 1 < len(same) else sent_end
        start, end = same[first].start_char, same[last].end_char
        lo = max(lo_limit, start - self.status_window)
        hi = min(hi_limit, end + self.status_window)
        cut = None
        for brk in _CLAUSE_BREAK.finditer(text, lo, start):
            cut = brk.end()
        if cut is not None:
            lo = cut
        after_break = _CLAUSE_BREAK.search(text, end, hi)
        if after_break:
            hi = after_break.start()
        # the nearest strong cue wins; dose-frequency words ("BID", "daily") only say "active"
        cues = [(start - e, status) for _s, e, status in self._before.finditer(text, lo, start)]
        cues += [(s_ - end, status) for s_, _e, status in self._after.finditer(text, end, hi)]
        strong = [c for c in cues if c[1] != "active"]
        if strong:
            return min(strong, key=lambda c: (c[0], _STATUS_PRECEDENCE.index(c[1])))[1]
        return "active" if cues else None


_EDGE_PUNCT = " \t\r\n.,;:()[]"
_JOINER = re.compile(r"\s*(?:,|/|&|\+|and|or|,\s*and|,\s*or)\s*", re.I)
_CLAUSE_BREAK = re.compile(r";|\.(?=\s|$)|\bbut\b|\bhowever\b|\bwhile\b(?!\s+npo)|\bwhereas\b", re.I)


_CATEGORY_FLAG = dict(zip(_CONTEXT_ATTRS, FLAGS))


def _modifier_flags(span: Span) -> dict[str, bool]:
    """The five flags from the ConText modifiers of a span, leaving out modifiers that lie inside
    the span itself ("without" in "seen without complication" does not negate that phrase)."""
    flags = dict.fromkeys(FLAGS, False)
    for modifier in getattr(span._, "modifiers", ()):
        m_start, m_end = modifier.modifier_span
        if m_start < span.end and span.start < m_end:
            continue
        for cat in (modifier.category, *(modifier.rule.metadata or {}).get("also", ())):
            if cat in _CATEGORY_FLAG:
                flags[_CATEGORY_FLAG[cat]] = True
    return flags


def _follows_allergy(text: str, span: Span, drugs: list[Span]) -> bool:
    """A reaction written in brackets right after a drug in an allergy entry: 'Haldol (NMS)'."""
    for d in drugs:
        if d.end_char <= span.start_char <= d.end_char + 4 and d._.nmsnlp.get("drug_status") == "allergy":
            return "(" in text[d.end_char : span.start_char] or "-" in text[d.end_char : span.start_char]
    return False


@Language.factory(
    "nmsnlp_assertion",
    default_config={"status_window": 60},
    assigns=["span._.nmsnlp"],
    requires=["span._.is_negated", "doc._.nmsnlp_headers"],
)
def make_assertion(nlp: Language, name: str, status_window: int) -> AssertionComponent:
    return AssertionComponent(nlp, name, status_window)
