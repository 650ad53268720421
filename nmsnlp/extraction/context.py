"""nmsnlp_context: medspaCy's ConText, fed the project's rules from patterns/context.jsonl."""

from collections.abc import Iterable
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from .base import CONTEXT_ATTRS, SPAN_GROUP, RuleComponent
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
            self._context(doc)
        return doc


def build_context(nlp: Language, records: Iterable[dict[str, Any]]) -> Any:
    """A medspaCy ConText object with the given rule records, imported without its process-wide
    warnings filter (medspaCy calls warnings.filterwarnings("ignore") at import)."""
    ConText, ConTextRule = context_classes()
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
    return context


@Language.factory(
    "nmsnlp_context",
    assigns=["span._.is_negated", "span._.is_uncertain", "span._.is_historical", "span._.is_hypothetical", "span._.is_family"],
    requires=["doc.spans"],
)
def make_context(nlp: Language, name: str) -> ContextComponent:
    return ContextComponent(nlp, name)
