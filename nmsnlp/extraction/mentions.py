"""nmsnlp_mentions: trigger terms from patterns/targets as mentions, with their values (values.py)."""

import re
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from .base import SPAN_GROUP, RuleComponent, doc_text, sentence_bounds
from .rules import RuleSet, TermScanner
from .values import SYMPTOM_VALUE_CONCEPT, UNITS, parse_value, qualitative


class MentionComponent(RuleComponent):
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

    def sentences_with_trigger(self, text: str, sentences: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """The sentences for which `has_trigger` holds, in order, found through the scanner's prefilter."""
        assert self.scanner is not None
        return self.scanner.spans_with_match(text, sentences)

    def __call__(self, doc: Doc) -> Doc:
        self._require_rules()
        assert self.scanner is not None and self.rules is not None
        text = doc_text(doc)
        spans: list[Span] = []
        for s_start, s_end in sentence_bounds(doc):
            for start, end, rule in self.scanner.finditer(text, s_start, s_end):
                if rule.concept is None:
                    continue  # a pseudo rule: this text is not a mention
                spans.extend(self._mentions(doc, text, rule, start, end, s_start, s_end))
        doc.spans[SPAN_GROUP] = spans
        return doc

    def _mentions(self, doc: Doc, text: str, rule: Any, start: int, end: int, sent_start: int, limit: int) -> list[Span]:
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
            else:
                qual = qualitative(text, start, end, sent_start, limit)
                if qual is not None:
                    attrs["qualitative"] = qual
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
