"""nmsnlp: find Neuroleptic Malignant Syndrome in clinical notes.

    import nmsnlp
    nlp = nmsnlp.load()                      # the spaCy pipeline
    mentions = nmsnlp.extract(text, "n1")    # mention records (contract section 1)
    flags = nmsnlp.assertions(text, [(s, e)])  # the assertion step alone, on spans you give

Importing nmsnlp is cheap: spaCy, medspaCy and scikit-learn load when first needed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .errors import InputSchemaError, ModelLoadError, NmsnlpError, NoteError, PatternFileError
from .records import FLAGS, Mention

if TYPE_CHECKING:
    from spacy.language import Language

    from .extraction.extractor import Extractor

__version__ = "0.1.0"

__all__ = [
    "Extractor",
    "InputSchemaError",
    "Mention",
    "ModelLoadError",
    "NmsnlpError",
    "NoteError",
    "PatternFileError",
    "__version__",
    "assertions",
    "extract",
    "load",
]


def __getattr__(name: str) -> Any:
    if name == "Extractor":
        from .extraction.extractor import Extractor

        return Extractor
    raise AttributeError(f"module 'nmsnlp' has no attribute {name!r}")


def load(patterns_dir: Any = None) -> Language:
    """The spaCy pipeline (nmsnlp.extraction.pipeline.load)."""
    from .extraction.pipeline import load as _load

    return _load(patterns_dir)


@lru_cache(maxsize=1)
def _default_extractor() -> Extractor:
    from .extraction.extractor import Extractor

    return Extractor(load())


def extract(text: str, note_id: str | None = None) -> list[Mention]:
    """The mentions of one note, in note order (contract section 1)."""
    return _default_extractor()(text, note_id)


def assertions(text: str, spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Run only the assertion step (sections, ConText, section rules) on character spans you give.

    Returns, for each (start, end), the five flags of contract section 4 and the section."""
    from .extraction.base import SPAN_GROUP

    ex = _default_extractor()
    nlp = ex.nlp
    doc = nlp.make_doc(text)
    doc = nlp.get_pipe("nmsnlp_structure")(doc)
    group = []
    for start, end in spans:
        if not (0 <= start < end <= len(text)):
            raise ValueError(f"span ({start}, {end}) does not fall within the text of {len(text)} characters")
        span = doc.char_span(start, end, label="SYMPTOM", alignment_mode="expand")
        if span is None:
            raise ValueError(f"span ({start}, {end}) does not fall within the text of {len(text)} characters")
        span._.nmsnlp = {"concept": "target", "category": "symptom", "rule": None}
        group.append(span)
    doc.spans[SPAN_GROUP] = group
    doc = nlp.get_pipe("nmsnlp_context")(doc)
    doc = nlp.get_pipe("nmsnlp_assertion")(doc)
    by_key = {(s.start_char, s.end_char): s._.nmsnlp for s in doc.spans[SPAN_GROUP]}
    out = []
    for start, end in spans:
        span = doc.char_span(start, end, alignment_mode="expand")
        assert span is not None
        a = by_key[(span.start_char, span.end_char)]
        out.append({f: bool(a.get(f, False)) for f in FLAGS} | {"section": a.get("section")})
    return out
