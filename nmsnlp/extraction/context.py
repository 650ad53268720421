"""nmsnlp_context: medspaCy's ConText, fed the project's rules from patterns/context.jsonl."""

import bisect
from collections.abc import Iterable
from typing import Any

from spacy.attrs import LOWER, ORTH
from spacy.language import Language
from spacy.tokens import Doc

from .base import CONTEXT_ATTRS, SPAN_GROUP, RuleComponent, sentence_starts
from .medspacy_context import context_classes
from .rules import RuleSet


class ContextComponent(RuleComponent):
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
            run_context(self._context, doc)
        return doc


def run_context(context: Any, doc: Doc) -> Doc:
    """medspaCy 1.3.1's `ConText.__call__`, step for step and with its own modifier and graph classes, for a
    ConText with no global max_scope over a span group, sentence by sentence. The graph comes out as
    medspaCy's does, because a modifier's scope never leaves its sentence: a modifier limits the scope only
    of one in its own sentence (for two in different sentences `limit_scope` changes nothing), and modifies
    only a target in its own sentence. Each modifier's scope is set from sentence bounds read once per Doc
    (medspaCy asks `doc[start].sent` per modifier, which walks the tokens). A modifier that runs past the
    end of its sentence (no rule here makes one) sends the Doc through medspaCy's own call."""
    if context.max_scope is not None or context.input_span_type != "group" or context.prune_on_target_overlap:
        return context(doc)  # not a ConText this module builds: medspaCy's own call
    _ConText, _Rule, ConTextModifier, ConTextGraph = context_classes(graph=True)
    targets = list(doc.spans[context.span_group_name])
    matcher = context._ConText__matcher
    rule_map = matcher.rule_map
    strings = doc.vocab.strings
    starts = sentence_starts(doc)
    bounds = list(zip(starts, [*starts[1:], len(doc)]))
    modifiers = []
    by_sentence: dict[int, list[Any]] = {}  # sentence -> its modifiers, in match order
    for match_id, start, end in matcher(doc):
        rule = rule_map[strings[match_id]]
        k = bisect.bisect_right(starts, start) - 1
        lo, hi = bounds[k]
        if end > hi:
            return context(doc)
        scope_start, scope_end = _scope(rule.direction.lower(), rule.max_scope, start, end, lo, hi)
        modifier = ConTextModifier(rule, start, end, doc, scope_start=scope_start, scope_end=scope_end, max_scope=None)
        modifiers.append(modifier)
        by_sentence.setdefault(k, []).append(modifier)
    for group in by_sentence.values():  # ConTextGraph.update_scopes, within each sentence
        for i in range(len(group) - 1):
            for j in range(i + 1, len(group)):
                group[i].limit_scope(group[j])
                group[j].limit_scope(group[i])
    for target in targets:  # ConTextGraph.apply_modifiers (with no pruning)
        k = bisect.bisect_right(starts, target.start) - 1
        near = by_sentence.get(k, ()) if target.end <= bounds[k][1] else modifiers
        for modifier in near:
            if modifier.modifies(target):
                modifier.modify(target)
    edges = []
    for modifier in modifiers:
        modifier.reduce_targets()
        for target in modifier._targets:
            edges.append((target, modifier))
    graph = ConTextGraph(targets=targets, modifiers=modifiers, edges=edges, prune_on_modifier_overlap=False)
    for target, modifier in edges:
        target._.modifiers += (modifier,)
    if context.context_attributes_mapping:
        context.set_context_attributes(edges)
    doc._.context_graph = graph
    return doc


def _scope(direction: str, max_scope: int | None, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    """The scope medspaCy's ConTextModifier gives a modifier of tokens start..end in the sentence lo..hi
    (its `__set_scope` with no global max_scope: the sentence, on the rule's side, cut to the rule's max_scope)."""
    if direction == "forward":
        scope_start, scope_end = end, hi
        if max_scope is not None and scope_end - scope_start > max_scope:
            scope_end = end + max_scope
    elif direction == "backward":
        scope_start, scope_end = lo, start
        if max_scope is not None and scope_end - scope_start > max_scope:
            scope_start = start - max_scope
    else:  # bidirectional (and terminate, pseudo)
        scope_start, scope_end = lo, hi
        if max_scope is not None and start - scope_start > max_scope:
            scope_start = start - max_scope
        if max_scope is not None and scope_end - end > max_scope:
            scope_end = end + max_scope
    return scope_start, scope_end


def build_context(nlp: Language, records: Iterable[dict[str, Any]]) -> Any:
    """A medspaCy ConText object with the given rule records, imported without its process-wide
    warnings filter (medspaCy calls warnings.filterwarnings("ignore") at import)."""
    ConText, ConTextRule = context_classes()[:2]
    context = ConText(
        nlp,
        name="nmsnlp_context_inner",
        rules=None,
        input_span_type="group",
        span_group_name=SPAN_GROUP,
        span_attrs={k: {v: True} for k, v in CONTEXT_ATTRS.items()},
    )
    # medspaCy keys rules by their literal and keeps one modifier per span, so the rule files give
    # each literal one rule; "also" names further categories that rule's modifier sets.
    rules = []
    for rec in records:
        kwargs = {k: v for k, v in rec.items() if k not in ("id", "comment", "also")}
        kwargs["metadata"] = {"id": rec["id"], "also": list(rec.get("also", []))}
        rules.append(ConTextRule(**kwargs))
    context.add(rules)
    # medspaCy 1.3.1 (pinned) keeps its rule matcher in a private attribute; its spaCy token Matcher (the
    # few rules with token patterns) is the costly part of ConText, so it runs only where it can match
    inner = context._ConText__matcher
    inner._MedspacyMatcher__matcher = SentenceScopedMatcher(
        inner._MedspacyMatcher__matcher, [r for r in rules if isinstance(r.pattern, list)], nlp.vocab,
        by_rule=inner._prune)
    return context


_REQUIRED_OPS = (None, "+", "1")


class SentenceScopedMatcher:
    """A spaCy token Matcher run sentence by sentence, and only over the sentences that hold, for some
    pattern, a token of each of that pattern's required word sets (a token with "LOWER"/"TEXT"/"ORTH"
    equal to, or IN, fixed strings, and no optional "OP"), which every match of the pattern must contain.
    Its matches are those of the whole Matcher within sentences, in doc offsets; a match can no longer run
    across a sentence boundary, as no other component's can.

    With by_rule (for a medspaCy matcher that prunes overlapping matches, which first sorts them by start
    and end, so that only the order of matches with the same start and end can matter), a sentence is
    matched by a Matcher of each rule whose word sets it holds rather than by the Matcher of all rules, which
    tries every rule at every token; where two rules match the same tokens, the Matcher of all rules
    matches that sentence, so their order is its own."""

    def __init__(self, matcher: Any, rules: list[Any], vocab: Any, by_rule: bool = False):
        from spacy.matcher import Matcher

        self.matcher = matcher
        sets: dict[tuple[int, frozenset[str]], int] = {}
        self.needs: list[int] = []  # per rule: a bit mask of its required word sets (0: scan everywhere)
        for rule in rules:
            need = 0
            for token in rule.pattern:
                if token.get("OP") not in _REQUIRED_OPS:
                    continue
                for attr, col in (("LOWER", 0), ("TEXT", 1), ("ORTH", 1)):
                    value = token.get(attr)
                    words = [value] if isinstance(value, str) else value.get("IN") if isinstance(value, dict) else None
                    if isinstance(words, list) and all(isinstance(w, str) for w in words):
                        need |= 1 << sets.setdefault((col, frozenset(words)), len(sets))
                        break
            self.needs.append(need)
        # (column, string hash) -> the bits of the word sets it belongs to
        self.bits: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for (col, words), k in sets.items():
            for w in words:
                h = vocab.strings.add(w)
                self.bits[col][h] = self.bits[col].get(h, 0) | 1 << k
        self.by_rule: list[Any] | None = None
        if by_rule and all(r.on_match is None for r in rules):  # a callback would see only its own rule's matches
            self.by_rule = []
            for rule in rules:
                one = Matcher(vocab)
                one.add(rule._rule_id, [rule.pattern])
                self.by_rule.append(one)

    def _have(self, lowers: list[int], orths: list[int]) -> int:
        """The word sets that tokens with these LOWER and ORTH hashes hold, as bits."""
        lower_bits, orth_bits = self.bits
        have = 0
        for h in lower_bits.keys() & lowers:
            have |= lower_bits[h]
        for h in orth_bits.keys() & orths:
            have |= orth_bits[h]
        return have

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
        if not len(doc):
            return []
        arr = doc.to_array([LOWER, ORTH])
        lowers, orths = arr[:, 0].tolist(), arr[:, 1].tolist()
        have = self._have(lowers, orths)
        if not any(have & need == need for need in self.needs):
            return []  # no sentence can hold a match (the Doc as a whole holds no rule's word sets)
        starts = sentence_starts(doc)
        out: list[tuple[int, int, int]] = []
        for lo, hi in zip(starts, [*starts[1:], len(doc)]):
            have = self._have(lowers[lo:hi], orths[lo:hi])
            rules = [k for k, need in enumerate(self.needs) if have & need == need]
            if rules:
                out.extend((key, lo + a, lo + b) for key, a, b in self._match(doc[lo:hi], rules))
        return out

    def _match(self, sentence: Any, rules: list[int]) -> list[tuple[int, int, int]]:
        if self.by_rule is None or len(rules) == len(self.needs):
            return self.matcher(sentence)
        found = [m for k in rules for m in self.by_rule[k](sentence)]
        if len({(a, b) for _key, a, b in found}) < len(found):
            return self.matcher(sentence)  # two rules match the same tokens: the whole Matcher's order
        return sorted(found, key=lambda m: (m[1], m[2]))


@Language.factory(
    "nmsnlp_context",
    assigns=["span._.is_negated", "span._.is_uncertain", "span._.is_historical", "span._.is_hypothetical", "span._.is_family"],
    requires=["doc.spans"],
)
def make_context(nlp: Language, name: str) -> ContextComponent:
    return ContextComponent(nlp, name)
