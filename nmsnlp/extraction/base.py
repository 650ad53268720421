"""What every nmsnlp spaCy component shares: the span group and Doc/Span extensions (registered once,
JSON-friendly), sentence-start helpers, and rule handling that survives `nlp.to_disk()` -> `spacy.load()`.

The components, one module each, in pipeline order:

    structure.py  nmsnlp_structure  -> sentence starts and section headers          (token.is_sent_start, doc._.nmsnlp_headers)
    mentions.py   nmsnlp_mentions   -> drug/symptom/lab/vital/... mentions + values (doc.spans["nmsnlp"], span._.nmsnlp)
    context.py    nmsnlp_context    -> medspaCy ConText with the project's rules     (span._.is_negated, ...)
    assertion.py  nmsnlp_assertion  -> final flags, section, drug status             (span._.nmsnlp)

Each loads its rules in `initialize()` from a patterns/ folder and writes them in `to_disk()`.
"""

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy
from spacy.attrs import IDX, LENGTH, SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Span

from ..errors import PatternFileError
from ..records import FLAGS
from .rules import RuleSet, load_rules, write_rules

SPAN_GROUP = "nmsnlp"
MAX_TRIGGER_CHARS = 5_000_000  # the sentences with a trigger of one note, tokenized at once (spaCy max_length)
TEXT_KEY = "nmsnlp_text"  # doc.user_data key: the text the fast path made the Doc from
BOUNDS_KEY = "nmsnlp_sentence_bounds"  # doc.user_data key: sentence_bounds(doc), once read
STARTS_KEY = "nmsnlp_sentence_starts"  # doc.user_data key: sentence_starts(doc), once read
CONTEXT_ATTRS = {
    "NEGATED_EXISTENCE": "is_negated",
    "POSSIBLE_EXISTENCE": "is_uncertain",
    "HISTORICAL": "is_historical",
    "HYPOTHETICAL": "is_hypothetical",
    "FAMILY": "is_family",
}
CATEGORY_FLAG = dict(zip(CONTEXT_ATTRS, FLAGS))  # ConText category -> assertion flag


def register_extensions() -> None:
    """The few extensions nmsnlp uses, registered once, with JSON-friendly values."""
    if not Doc.has_extension("nmsnlp_headers"):
        Doc.set_extension("nmsnlp_headers", default=None)  # list of [start, end, section]
    if not Doc.has_extension("nmsnlp_lines"):
        Doc.set_extension("nmsnlp_lines", default=None)  # per sentence: [start in the doc, line number in the note]
    if not Span.has_extension("nmsnlp"):
        Span.set_extension("nmsnlp", default=None)  # dict of the mention's attributes
    for attr in CONTEXT_ATTRS.values():
        if not Span.has_extension(attr):
            Span.set_extension(attr, default=False)


register_extensions()


class RuleComponent:
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

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> "RuleComponent":
        self.set_rules(load_rules(path))
        return self



def sentence_starts(doc: Doc) -> list[int]:
    """The index of every sentence's first token (the Doc's first token always starts one), from the
    sentence-start flags in one array read. Kept in the Doc for the next reader; `set_sentence_starts`
    drops it."""
    kept = doc.user_data.get(STARTS_KEY)
    if kept is not None:
        return kept
    starts = numpy.flatnonzero(doc.to_array([SENT_START]).reshape(-1) == 1).tolist() if len(doc) else []
    if len(doc) and (not starts or starts[0] != 0):
        starts.insert(0, 0)
    doc.user_data[STARTS_KEY] = starts
    return starts


def sentence_bounds(doc: Doc) -> list[tuple[int, int]]:
    """(start_char, end_char) of every sentence (the end from the last token's offset and length, in numpy
    rather than a Token object per sentence). Kept in the Doc for the next component; `set_sentence_starts`
    drops it."""
    if not len(doc):
        return []
    kept = doc.user_data.get(BOUNDS_KEY)
    if kept is not None:
        return kept
    arr = doc.to_array([IDX, LENGTH]).astype("int64")
    first = numpy.asarray(sentence_starts(doc))
    last = numpy.append(first[1:], len(doc)) - 1
    bounds = list(zip(arr[first, 0].tolist(), (arr[last, 0] + arr[last, 1]).tolist()))
    doc.user_data[BOUNDS_KEY] = bounds
    return bounds


def doc_text(doc: Doc) -> str:
    """doc.text, which spaCy joins from every token on each read: the text the fast path made the Doc
    from (doc.user_data[TEXT_KEY]) when it is there."""
    text = doc.user_data.get(TEXT_KEY)
    return text if isinstance(text, str) else doc.text


def set_sentence_starts(doc: Doc, starts: list[int]) -> None:
    """Mark the token at each start offset as a sentence start, and every other token not."""
    doc.user_data.pop(BOUNDS_KEY, None)
    doc.user_data.pop(STARTS_KEY, None)
    if not len(doc):
        return
    idx = doc.to_array([IDX]).astype("int64")  # ascending: token offsets
    # the tokens whose offset is a start: searchsorted finds where each start would go, a token there
    # that has that offset is one (numpy.isin gives the same flags, with more overhead on short docs)
    wanted = numpy.asarray(starts, dtype="int64")
    at = numpy.searchsorted(idx, wanted)
    inside = at < len(idx)
    at = at[inside][idx[at[inside]] == wanted[inside]]
    flags = numpy.full(len(idx), -1, dtype="int64")
    flags[at] = 1
    flags[0] = 1
    doc.from_array([SENT_START], flags.astype("uint64").reshape(-1, 1))  # type: ignore[arg-type]

