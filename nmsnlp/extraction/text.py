"""Clinical line structure: sentence boundaries and section headers, found by regex on the raw text.

Both functions are pure and work on character offsets of the text exactly as given, so the spaCy
components and the fast extraction path share them and agree to the character.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .rules import RuleSet, norm_key

# Abbreviations whose trailing period does not end a sentence.
_ABBREV = {
    "dr", "mr", "mrs", "ms", "vs", "v", "e.g", "i.e", "eg", "ie", "approx", "appt", "etc", "st", "no", "pt",
    "pts", "p.o", "po", "b.i.d", "t.i.d", "q.i.d", "q.d", "q.h.s", "h.s", "a.m", "p.m", "am", "pm", "inc",
    "fig", "wt", "ht", "hr", "hrs", "min", "mins", "mg", "mcg", "ml", "dept", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "ca", "cf", "resp", "temp",
    "sr", "jr", "vol", "ref", "avg", "est", "max", "mos", "yo", "y.o", "y/o", "yrs", "wks", "c", "f",
}

# Where a sentence may end inside a line: . ! ? followed by space(s) and then a capital, digit,
# bullet or opening bracket; or two spaces before a numbered item "1) ". Both alternatives start with a
# space or tab, which the pattern takes first so that the regex engine skips in C to the next one (it
# reads "(?<=[.!?])[ \t]+(?=...)|[ \t]{2,}(?=...)", the same matches, 2.5 times as fast).
_INLINE_END = re.compile(
    r"[ \t](?:(?<=[.!?][ \t])[ \t]*(?=[\"'(\[]?[A-Z0-9•\-*#])|[ \t]+(?=\d{1,2}\)[ \t]))"
)
_WORD_BEFORE = re.compile(r"([A-Za-z./]+)\.$")
_BULLET = re.compile(r"[ \t]*(?:[-*•#>]|\d{1,2}[.)]|[a-z][.)]|\[[ xX]?\])[ \t]+")
_WRAPPED_PREV = re.compile(r"[a-z,]$")
_WRAPPED_NEXT = re.compile(r"[ \t]*[a-z]")
# a line that ends on a word that cannot end a sentence continues on the next, whatever its case: "... given
# haloperidol for post-op delirium after" / "CABG, fever/rigidity"
_DANGLING = re.compile(
    r"\b(?:after|for|with|of|to|and|or|the|an|in|on|from|by|at|than|because|due|including|incl|during|following)$", re.I)
_NEXT_CONTENT = re.compile(r"[ \t]*[A-Za-z0-9(]")


# A dated row of a vertical lab or vitals table: "  2/12 AM    38,900", "HD2: 39.4 C", "- 2/13 06:00 41,200 (peak)".
# Rows under a short line ending in ":" stay in that line's sentence, so "CK trend (U/L):" and its rows
# are read as one trend (values.py).
DATED_ROW = re.compile(
    r"[ \t]*(?:[-*•][ \t]*)?"
    r"(?:\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{4}-\d{2}-\d{2}|(?i:hd|pod|day|d)[ \t]?#?\d{1,2})"
    r"(?:[ \t]+(?:\d{1,2}:\d{2}|\d{4}h|(?i:am|pm|ed|er|icu|noon|eve|evening|night|morning|admit|admission)(?![A-Za-z])))?"
    r"[ \t]*[:\-]?[ \t]+(?P<value>[<>]?[ \t]*\d[\d,]*(?:\.\d+)?)(?![\d/:])[^\r\n\d]{0,40}"
)


def _line_spans(text: str) -> list[tuple[int, int]]:
    if "\n" not in text and "\r" not in text:
        return [(0, len(text))]  # one line (many dictated notes): no scan
    spans, start = [], 0
    for m in _LINE_BREAK.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def line_numbers(text: str, starts: list[int]) -> list[int]:
    """The line (0-based, counting every line break) of each offset in `starts`."""
    breaks = [m.end() for m in _LINE_BREAK.finditer(text)]
    return [bisect.bisect_right(breaks, s) for s in starts]


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_sentences(text: str, header_starts: frozenset[int] = frozenset()) -> list[tuple[int, int]]:
    """Sentence (start, end) character spans, trimmed of surrounding whitespace, in text order.

    Boundaries: every line break, except a hard-wrapped narrative line (a line of 60+ characters
    ending in a lower-case letter or comma, followed by a line starting in lower case, or ending on a
    word that cannot end a sentence, such as "after" or "the", followed by any words) and the dated
    rows of a table under a short line ending in ":" (``DATED_ROW``); sentence-final
    punctuation followed by a capital, digit or bullet, unless the word before is an abbreviation;
    and the start of every section header (``header_starts``). Boundaries always fall on whitespace
    or a line break, so tokens never straddle them.
    """
    cuts: list[int] = []
    lines = _line_spans(text)
    in_table = False  # inside the rows of a table headed by a short line ending in ":"
    head = False
    rows: list[int] = []  # the start of every table row (whose line is not looked into)
    for i, (ls, le) in enumerate(lines):
        line = text[ls:le]
        if (in_table or head) and DATED_ROW.fullmatch(line):
            in_table = True  # a row of the table: no boundary before it
            rows.append(ls)
            continue
        stripped = line.rstrip()
        in_table, head = False, 0 < len(stripped) <= 61 and stripped.endswith(":")
        if i > 0:
            prev_s, prev_e = lines[i - 1]
            prev = text[prev_s:prev_e].rstrip()
            wrapped = (
                len(prev) >= 60
                and _BULLET.match(line) is None
                and ((_WRAPPED_PREV.search(prev) is not None and _WRAPPED_NEXT.match(line) is not None)
                     or (_DANGLING.search(prev) is not None and _NEXT_CONTENT.match(line) is not None))
            )
            if not wrapped:
                cuts.append(ls)
    # Inline ends, in one scan of the whole text rather than one per line: a match of _INLINE_END holds
    # only spaces and tabs and looks at no line break, so it finds in the text exactly what it finds in
    # each line; the ends inside a table row are not taken (the rows are not looked into).
    line_starts = [ls for ls, _le in lines]
    many = len(line_starts) > 1  # (one line: it starts at 0, and is no table row)
    ls = 0
    for m in _INLINE_END.finditer(text):
        end = m.start()
        if many:
            ls = line_starts[bisect.bisect_right(line_starts, end) - 1]
            if rows and ls == rows[min(bisect.bisect_left(rows, ls), len(rows) - 1)]:
                continue
        if end > ls and text[end - 1] == ".":
            word = _word_before(text, max(ls, end - 24), end)
            if word and (len(word) == 1 or word.lower().rstrip(".") in _ABBREV):
                continue
        cuts.append(m.end())
    cuts.extend(header_starts)
    n = len(text)
    cuts = sorted({c for c in cuts if 0 < c < n})

    spans = []
    for s, e in itertools.pairwise([0, *cuts, n]):
        seg = text[s:e]
        left = seg.lstrip()
        if left:
            start = e - len(left)
            spans.append((start, start + len(left.rstrip())))
    return spans


_WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz./"  # the characters of _WORD_BEFORE's word


def _word_before(text: str, lo: int, end: int) -> str:
    """`_WORD_BEFORE.search(text, lo, end).group(1)` ("" for no match) where text[end - 1] is ".": the run of
    _WORD_CHARS before that period, from `lo` at the earliest (str.rstrip finds it in C)."""
    chunk = text[lo : end - 1]
    return chunk[len(chunk.rstrip(_WORD_CHARS)) :]


@dataclass(frozen=True)
class Header:
    start: int  # where the header text starts
    end: int  # end of the header including its colon
    section: str | None  # None: no section (a list's lead-in ended before any header)


# the instructions headers that also mark a list's lead-in line: teaching and warning words, not "follow-up"
_TEACHING_WORDS = re.compile(r"side[ \t-]*effects?|warning|help|call|seek|return|come[ \t]+back|watch|emergency|precaution", re.I)
# a form's "Label: value" rows: a past-history field among them ends with its row
_FIELD_SECTIONS = {"past_medical_history", "past_surgical_history", "social_history", "family_history"}
_FIELD_LABEL = re.compile(r"[ \t]*[A-Z][A-Za-z0-9 /&()'+\-]{1,40}:[ \t]*\S")


def _field_row(text: str, end: int) -> bool:
    """Whether the header ending at `end` carries its value on its own line and the next line is another
    "Label: value" row (a form), so that the header is one field, not a section heading."""
    nl = text.find("\n", end)
    return nl != -1 and _value_on_line(text, end) and _FIELD_LABEL.match(text, nl + 1) is not None


def _value_on_line(text: str, end: int) -> bool:
    """Whether the header ending at `end` has its value on its own line ("PMH: schizophrenia, DM2")."""
    nl = text.find("\n", end)
    return text[end : nl if nl != -1 else len(text)].strip() != ""


def _field_end(text: str, end: int) -> int | None:
    """Where a field row is over: the start of the next line."""
    nl = text.find("\n", end)
    return None if nl == -1 else nl + 1


_CONTENT = re.compile(r"\S")
_BLANK_LINE = re.compile(r"\n[ \t]*\r?\n")
_PARAMETER_LEAD = re.compile(
    r"\b(?:call|notify|page|contact|alert|hold|stop)\b[A-Za-z0-9 /&()'+\-]*\b(?:if|for|when|parameters?)[ \t]*$"
    # or a call to someone, opening the line: "NOTIFY PRESCRIBER IMMEDIATELY:", "Call covering MD:", "Page RRT:"
    r"|^(?:please[ \t]+)?(?:call|notify|page|contact|alert|inform|escalate[ \t]+to)[ \t]+(?:the[ \t]+)?(?:covering[ \t]+|on[ \t-]*call[ \t]+|primary[ \t]+)?"
    r"(?:md|do|np|pa|mds|provider|prescriber|physician|doctor|dr|team|ho|house[ \t]+officer|resident|intern|hospitalist|"
    r"attending|rrt|rapid[ \t]+response|charge[ \t]+(?:rn|nurse)|pharmacist|psychiatr[a-z]*|immediately|stat|promptly|right[ \t]+away)\b", re.I)
# a consent form's list of the risks discussed: "Risks/benefits reviewed (check each discussed):", "Side effects
# discussed include:" (not "Risk factors:" or "Risk assessment:", which are the patient's)
_RISK_LEAD = re.compile(
    r"\b(?:risks?(?![ \t-]*(?:factors?|assessment|level|score|stratification))|side[ \t-]*effects?|adverse[ \t]+effects?)\b"
    r"[A-Za-z0-9 /&()'+,\-]*\b(?:reviewed|discussed|explained|counsel(?:l)?ed|covered|include[sd]?|including|consent)\b", re.I)
_PAST_HEADING = re.compile(r"(?:HISTORICAL|PAST|PREVIOUS|PRIOR(?![ \t]+TO\b))[ \t]+[A-Z]")
# a lead-in naming an earlier episode, in any case: "Prior NMS episode (documented, outside records reviewed):",
# "Previous reactions:", "Past admissions:" (its list, to the next blank line, is that time's)
_PAST_EPISODE_LEAD = re.compile(
    r"(?:prior|previous|past|earlier|remote|historical|index)[ \t]+(?:[A-Za-z/\-]+[ \t]+){0,3}?"
    r"(?:episodes?|reactions?|events?|admissions?|hospitali[sz]ations?)\b(?![ \t]*(?:this|today|now))", re.I)
# the parts of a compound header: "Conditional orders / notify", "Labs & imaging"
_HEADER_PARTS = re.compile(r"[ \t]*(?:/|&|\+|\band\b)[ \t]*", re.I)
# a time, a date or a recency word around a header phrase: "Vitals at 1930", "LAST VITAL SIGNS", "Labs (3/4)"
_HEADER_QUALIFIERS = re.compile(
    r"^(?i:last|latest|most[ \t]+recent|recent|initial|repeat|current|today'?s)[ \t]+"
    r"|[ \t]+(?:at|@|on|from)[ \t]+\d[\d:/.\-]*(?:[ \t]*(?:h|hrs|am|pm))?$|[ \t]*\([^()]*\)$", re.I)
_POSSESSIVE = re.compile(r"^(?:his|her|their|the|patient's|pt's|patient)\s+")


class SectionFinder:
    """Finds section headers: a known header phrase at the start of a line (after an optional
    bullet) followed by a colon or dash, or alone on its line in title or upper case; or an
    upper-case header followed by a colon inside a line (dictated reports run them on).

    Two cheap regexes find header-shaped text; a phrase counts only if it is a known header."""

    _LINE = re.compile(
        r"(?m)^(?P<lead>[ \t]*(?:(?:[-*•#>]|\d{1,2}[.)]|\[[ xX]?\])[ \t]+)?)"
        r"(?P<phrase>[A-Za-z][A-Za-z0-9 /&()'+\-]{0,60}?(?:\([^()\n:]{0,60}\))?)[ \t]*(?P<end>:|[-\u2013](?=[ \t])|\r?$)"
    )
    _INLINE = re.compile(r"(?:(?<=[.,;:)])|(?<=[ \t]{2}))[ \t]*(?P<phrase>[A-Z][A-Z0-9 /&()'+\-]{2,60}?)[ \t]*:")
    # _INLINE with the character its look-behind reads taken first, so that the regex engine skips in C
    # to the next one of those: it matches one character before each match of _INLINE, and nowhere else
    _INLINE_AHEAD = re.compile(r"[.,;:) \t]" + _INLINE.pattern)

    def __init__(self, rules: RuleSet):
        self._lookup: dict[str, str] = {}
        self._teaching: list[str] = []  # multi-word instruction headers, also found inside a list's lead-in line
        self._sections: dict[str, str | None] = {}  # phrase -> _section(phrase)
        for rule in rules.sections:
            for term in rule.terms:
                self._lookup.setdefault(norm_key(term), rule.section)
                if rule.section == "discharge_instructions" and " " in term.strip() and _TEACHING_WORDS.search(term):
                    self._teaching.append(" " + re.sub(r"[^a-z0-9]+", " ", term.lower()).strip() + " ")

    def _section(self, phrase: str) -> str | None:
        """The section of a header phrase; a leading possessive is allowed ("HIS SOCIAL HISTORY").
        Remembered, as the same phrases come back note after note (a pure function of the phrase)."""
        if phrase in self._sections:
            return self._sections[phrase]
        section = self._lookup.get(norm_key(phrase)) or self._lookup.get(norm_key(_POSSESSIVE.sub("", phrase.lower())))
        if section is None:  # "Vitals at 1930", "LAST VITAL SIGNS", "Labs (3/4)", "Prior trials (for eligibility)": a known header, qualified
            bare = _HEADER_QUALIFIERS.sub("", phrase)
            if bare != phrase and bare:
                section = self._lookup.get(norm_key(bare))
        if section is None and _HEADER_PARTS.search(phrase):  # "Conditional orders / notify": the one section its known parts name
            known = {self._lookup.get(norm_key(part)) for part in _HEADER_PARTS.split(phrase) if part.strip()} - {None}
            section = known.pop() if len(known) == 1 else None
        if len(self._sections) < 100_000:
            self._sections[phrase] = section
        return section

    def _teaching_lead_in(self, phrase: str) -> bool:
        """A line that introduces a list of teaching points and names them ("Rare but serious side effects --
        get help right away:", "Call your doctor right away if you have:"): it holds a multi-word
        instructions header."""
        low = " " + re.sub(r"[^a-z0-9]+", " ", phrase.lower()).strip() + " "
        return any(t in low for t in self._teaching)

    def _inline_headers(self, text: str) -> Iterator[re.Match[str]]:
        """The matches of `_INLINE.finditer(text)` (the same groups and ends), through _INLINE_AHEAD: a
        search from `pos - 1` finds the first match of _INLINE at `pos` or later."""
        pos = 0
        while (m := self._INLINE_AHEAD.search(text, max(pos - 1, 0))) is not None:
            yield m
            pos = m.end()

    def find(self, text: str) -> list[Header]:
        found: dict[int, Header] = {}
        lead_ins: set[int] = set()  # list lead-ins: their section lasts to the next blank line
        rows: set[int] = set()  # form fields among other "Label: value" rows: their section lasts to the line's end
        for m in self._LINE.finditer(text):
            phrase = m.group("phrase")
            section = known = self._section(phrase)
            if section is None and self._teaching_lead_in(phrase):
                section = "discharge_instructions"
                lead_ins.add(m.start("phrase"))
            if section is None and m.group("end") == ":" and _RISK_LEAD.search(phrase):
                section = "discharge_instructions"  # the risks taught, each a teaching point, checked or not
                lead_ins.add(m.start("phrase"))
            if section is None and m.group("end") == ":" and _PARAMETER_LEAD.search(phrase):
                section = "orders"  # "HOLD CLOZAPINE AND CALL PRESCRIBER IF:", "Notify MD for:"
                lead_ins.add(m.start("phrase"))
            if section is None and phrase.split("(")[0].isupper() and _PAST_HEADING.match(phrase):
                section = "past_medical_history"  # "HISTORICAL ADVERSE DRUG REACTION", "PREVIOUS EPISODES"
            if section is None and m.group("end") == ":" and _PAST_EPISODE_LEAD.match(phrase):
                section = "past_medical_history"  # "Prior NMS episode (outside records):", its list the earlier time's
                lead_ins.add(m.start("phrase"))
            if section is None:
                continue
            if m.group("end") in (":", "-", "\u2013"):
                if m.group("end") != ":" and len(phrase) < 3:
                    continue
            elif not ((head := phrase.split("(")[0].strip()).isupper() or head.istitle()
                      or (known is not None and head[:1].isupper())) or len(phrase) < 3:  # "(reviewed)" aside
                continue  # alone on its line: in upper or title case, or a known header in sentence case ("Case presentation")
            start = m.start("phrase")
            found[start] = Header(start, m.end(), section)
            if m.group("end") == ":" and section in _FIELD_SECTIONS and _field_row(text, m.end()):
                rows.add(start)  # "Medical history: PD, BPH" among other "Label: value" rows: a field
            if section == "allergies" or (section in _FIELD_SECTIONS and m.group("end") == ":" and _value_on_line(text, m.end())):
                # an allergy list, or a past-history field with its value on its line ("PMH: schizophrenia, DM2"),
                # ends at the next blank line: what follows is neither a reaction nor the past
                lead_ins.add(start)
        for m in self._inline_headers(text):
            start = m.start("phrase")
            if start in found:
                continue
            section = self._section(m.group("phrase"))
            if section is not None:
                found[start] = Header(start, m.end(), section)
                if section == "allergies" or section in _FIELD_SECTIONS:  # "... cellulitis. PMH: schizophrenia, DM2"
                    lead_ins.add(start)
        headers = [found[k] for k in sorted(found)]
        if not lead_ins and not rows:
            return headers
        # a list's lead-in governs its list: the section in force outside lists (that of the last header that is not
        # a lead-in) comes back at the next blank line
        out: list[Header] = []
        base: str | None = None
        for i, h in enumerate(headers):
            out.append(h)
            if not (h.start in lead_ins or h.start in rows):
                base = h.section
            else:
                nxt = headers[i + 1].start if i + 1 < len(headers) else len(text)
                end = _field_end(text, h.end) if h.start in rows else None
                if end is None:
                    content = _CONTENT.search(text, h.end)  # the list's first entry (a blank line may come first)
                    blank = _BLANK_LINE.search(text, content.start() if content else h.end)
                    end = blank.end() if blank is not None else None
                if end is not None and end < nxt:
                    out.append(Header(end, end, base))
        return out


def section_at(headers: list[list[Any]], pos: int) -> str | None:
    """The section in force at character `pos`: that of the last header ([start, end, section], in
    text order) starting at or before it."""
    i = bisect.bisect_right(headers, pos, key=lambda h: h[0]) - 1
    return headers[i][2] if i >= 0 else None
