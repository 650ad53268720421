"""nmsnlp_structure: sentence starts and section headers, from the raw-text scan of text.py."""

from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from .base import RuleComponent, set_sentence_starts
from .rules import RuleSet
from .text import SectionFinder, line_numbers, split_sentences


class StructureComponent(RuleComponent):
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
        starts = [s for s, _ in sentences]
        doc._.nmsnlp_lines = [[s, n] for s, n in zip(starts, line_numbers(doc.text, starts))]
        set_sentence_starts(doc, starts)
        return doc



@Language.factory(
    "nmsnlp_structure",
    assigns=["token.is_sent_start", "doc._.nmsnlp_headers", "doc._.nmsnlp_lines"],
    requires=[],
)
def make_structure(nlp: Language, name: str) -> StructureComponent:
    return StructureComponent(nlp, name)
