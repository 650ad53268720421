"""From note text to mention records (contract section 1).

The fast path: a regex scan splits the raw text into sentences and finds section headers; one
compiled search per sentence tells whether it holds a trigger term (searched only in the sentences an
Aho-Corasick prefilter keeps, a superset of them); only those sentences are tokenized, joined into one
condensed Doc, and run through the pipeline's mention, ConText and assertion components. Every component looks only inside a sentence
(sections come from the header scan of the whole note), so the output equals that of `nlp(text)` on
the whole note, mention for mention; a test checks this on varied notes.
"""

from __future__ import annotations

import bisect
import logging
import re
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from ..errors import NoteError
from ..records import Mention
from .base import BOUNDS_KEY, MAX_TRIGGER_CHARS, SPAN_GROUP, TEXT_KEY, set_sentence_starts
from .text import line_numbers, section_at

log = logging.getLogger(__name__)

MAX_NOTE_CHARS = 50_000_000
# a run of 64 or more characters that are neither word characters nor white space; written with its first
# character apart (the same matches) so that the regex engine skips in C to the next such character
_LONG_RUN = re.compile(r"[^\w\s][^\w\s]{63,}")
# ASCII as bytes: "#" for a character of such a run, " " for any other (made from the regex itself), so
# that an ASCII note is looked through with bytes.find, ten times as fast as the regex
_RUN_CHAR = re.compile(r"[^\w\s]")
_RUN_BYTES = bytes.maketrans(bytes(range(128)), bytes(35 if _RUN_CHAR.fullmatch(chr(c)) else 32 for c in range(128)))


def _has_long_run(text: str) -> bool:
    """Whether _LONG_RUN finds a match in the text."""
    if text.isascii():
        return text.encode("ascii").translate(_RUN_BYTES).find(b"#" * 64) >= 0
    return _LONG_RUN.search(text) is not None


def check_text(text: Any, note_id: str | None = None) -> str:
    """The note text, or a NoteError saying why it cannot be processed."""
    where = f"note {note_id!r}" if note_id is not None else "note"
    if not isinstance(text, str):
        raise NoteError(f"{where}: text must be a string, found {type(text).__name__}")
    if not text.strip():
        raise NoteError(f"{where}: text is empty or whitespace only")
    if len(text) > MAX_NOTE_CHARS:
        raise NoteError(f"{where}: text has {len(text):,} characters, over the limit of {MAX_NOTE_CHARS:,}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"{where}: text holds a character that is not valid Unicode (a lone surrogate at {exc.start})") from exc
    # NUL bytes are read as spaces, and so are long runs of punctuation or symbols ("=====...", emoji), which
    # tokenizers take quadratic time over; both keep the length, so offsets still index the original text
    if "\x00" in text:
        text = text.replace("\x00", " ")
    return _LONG_RUN.sub(lambda m: " " * len(m.group()), text) if _has_long_run(text) else text


def mentions_from_doc(doc: Doc, note_id: str | None = None, offsets: Any = None) -> list[Mention]:
    """Mention records from a processed Doc. `offsets(pos)` maps a Doc offset to the note's offset."""
    out = []
    for span in doc.spans[SPAN_GROUP] if SPAN_GROUP in doc.spans else []:
        a = span._.nmsnlp
        start, end = span.start_char, span.end_char
        if offsets is not None:
            start, end = offsets(start), offsets(end - 1) + 1
        out.append(
            Mention(
                note_id=note_id,
                start=start,
                end=end,
                text="",
                category=a["category"],
                concept=a["concept"],
                negated=a.get("negated", False),
                uncertain=a.get("uncertain", False),
                historical=a.get("historical", False),
                hypothetical=a.get("hypothetical", False),
                family=a.get("family", False),
                section=a.get("section"),
                value=a.get("value"),
                unit=a.get("unit"),
                comparator=a.get("comparator"),
                drug_status=a.get("drug_status"),
                ref_high=a.get("ref_high"),
                values=list(a.get("values", [])),
                diastolic=a.get("diastolic"),
                rule=a.get("rule"),
                qualitative=a.get("qualitative"),
                cues=dict(a.get("cues", {})),
            )
        )
    out.sort(key=lambda m: (m.start, m.end, m.concept))
    return out


class Extractor:
    """Mention extraction over a loaded pipeline, on the fast path (or the full path, for checking)."""

    def __init__(self, nlp: Language | None = None):
        if nlp is None:
            from .pipeline import load

            nlp = load()
        self.nlp = nlp
        self.structure: Any = nlp.get_pipe("nmsnlp_structure")
        self.mentions: Any = nlp.get_pipe("nmsnlp_mentions")
        self._later = [(name, proc) for name, proc in nlp.pipeline if name != "nmsnlp_structure"]

    def full(self, text: str, note_id: str | None = None) -> list[Mention]:
        """The whole note through the whole pipeline (slow; the reference the fast path must equal)."""
        clean = check_text(text, note_id)
        doc = self.nlp(clean)
        return self._finish(mentions_from_doc(doc, note_id), text)

    def __call__(self, original: str, note_id: str | None = None) -> list[Mention]:
        text = check_text(original, note_id)
        headers, sentences = self.structure.analyse(text)
        candidates = self.mentions.sentences_with_trigger(text, sentences)
        if not candidates:
            return []
        doc, to_orig = self.condensed_doc(text, headers, candidates, note_id)
        for _name, proc in self._later:
            doc = proc(doc)
        return self._finish(mentions_from_doc(doc, note_id, to_orig), original)

    def condensed_doc(self, text: str, headers: list[list[Any]], candidates: list[tuple[int, int]],
                      note_id: str | None = None) -> tuple[Doc, Any]:
        """The candidate sentences joined by newlines, tokenized, with their sentence starts, sections and
        line numbers set; and the function that maps a Doc offset back to the note's."""
        pieces, seg_cond, seg_orig = [], [], []
        pos = 0
        for s, e in candidates:
            seg_cond.append(pos)
            seg_orig.append(s)
            pieces.append(text[s:e])
            pos += e - s + 1
        condensed = "\n".join(pieces)
        if len(condensed) > MAX_TRIGGER_CHARS:
            raise NoteError(f"note {note_id!r}: {len(condensed):,} characters of sentences with trigger terms, over the "
                            f"limit of {MAX_TRIGGER_CHARS:,} for one note; split the note")
        doc = self.nlp.make_doc(condensed)
        doc.user_data[TEXT_KEY] = condensed  # equals doc.text (the tokenizer keeps every character)
        set_sentence_starts(doc, seg_cond)
        # what sentence_bounds would read from the tokens: each sentence ends where the next starts (the "\n"
        # between them is a token of its own, the sentence's last), the last at the end
        doc.user_data[BOUNDS_KEY] = list(zip(seg_cond, [*seg_cond[1:], len(condensed)]))
        doc._.nmsnlp_headers = [[c, c, section_at(headers, s)] for (s, _e), c in zip(candidates, seg_cond)]
        doc._.nmsnlp_lines = [[c, n] for c, n in zip(seg_cond, line_numbers(text, seg_orig))]

        def to_orig(p: int) -> int:
            k = bisect.bisect_right(seg_cond, p) - 1
            return seg_orig[k] + (p - seg_cond[k])

        return doc, to_orig

    @staticmethod
    def _finish(mentions: list[Mention], text: str) -> list[Mention]:
        for m in mentions:
            m.text = text[m.start : m.end]
        return mentions
