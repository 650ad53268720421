"""nmsnlp_assertion: the final five flags, the section and the drug status of every mention, from the
ConText modifiers, section rules, substance-use wording and drug-status cues."""

import bisect
import re

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..records import FLAGS, NMS_CONCEPTS
from .base import CATEGORY_FLAG, SPAN_GROUP, RuleComponent, doc_text, sentence_bounds
from .rules import RuleSet, TermScanner, norm_key
from .segments import (
    about_the_patient,
    affirmed_directly,
    affirmed_statement,
    box_state,
    date_years,
    dated_before,
    dated_earlier,
    dated_to,
    defined_term,
    in_parameter,
    opens_dated,
    opens_in_the_past,
    opens_with_age,
    opens_with_past_label,
    parameter_after,
    present_time_between,
    same_clause,
)
from .text import section_at

_STATUS_PRECEDENCE = ("allergy", "stopped", "held", "increased", "decreased", "started", "active")
_LIST_SECTIONS = {"medications", "discharge_medications"}
_EPISODE_CONCEPTS = frozenset(NMS_CONCEPTS)
_EPISODE_TREATMENTS = {"dantrolene", "bromocriptine"}
_CURRENT_SECTIONS = {"assessment_plan", "problem_list"}  # where a note states its current diagnoses
_ONGOING = re.compile(r"\b(?:resolving|improving|ongoing|evolving|worsening|hospital[ \t]+day|hd[ \t]*#?\d|day[ \t]+\d)", re.I)
_HISTORICAL_SECTIONS = {"past_medical_history", "past_surgical_history", "social_history"}
# sections whose findings are conditions, thresholds or teaching unless a sentence states them as the patient's
_CONDITIONAL_SECTIONS = {"discharge_instructions": ("symptom", "diagnosis"),
                         "orders": ("symptom", "diagnosis", "lab", "vital")}
# the general part of a case report: its findings are statements about a condition unless a sentence is the patient's
_GENERAL_SECTIONS = {"discussion": ("symptom", "diagnosis", "lab", "vital")}


class AssertionComponent(RuleComponent):
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
        text = doc_text(doc)  # Doc.text joins every token: read it once, or the fast path's copy
        bounds = sentence_bounds(doc)
        sent_starts = [b[0] for b in bounds]
        clause_cues: dict[tuple[int, int], int] = {}  # in_parameter's first cue of each clause
        episode = False  # whether a mention is of an NMS episode
        for span in spans:
            attrs = dict(span._.nmsnlp)
            section = section_at(headers, span.start_char)
            sent = bounds[bisect.bisect_right(sent_starts, span.start_char) - 1]
            flags, cues = _modifier_flags(span)
            fixed = attrs.pop("fixed", {})
            flags.update(fixed)
            for f, on in fixed.items():  # the rule's own flag, beside the cue of any modifier ("likely ... NMS-like")
                if on:
                    cues[f] = f"{cues[f]}; rule {attrs['rule']}" if f in cues else f"rule {attrs['rule']}"

            if flags["hypothetical"] and attrs["category"] in ("diagnosis", "symptom") and affirmed_directly(
                text, sent[0], span.start_char
            ):  # "you had a serious reaction called NMS": the patient's, whatever teaching words surround it
                _set(flags, cues, "hypothetical", False, "")
            box = box_state(text, sent[0], span.start_char, span.end_char, sent[1])
            if box is not None:  # a checklist item: the box or answer decides presence
                _set(flags, cues, "negated", not box, "checklist: not marked")
                _set(flags, cues, "uncertain", False, "")
            if attrs["category"] != "drug" and (in_parameter(text, sent[0], span.start_char, sent[1], clause_cues)
                                                or parameter_after(text, span.end_char, sent[1])):
                _set(flags, cues, "hypothetical", True, "order or parameter")  # a threshold or condition, never a finding
            if attrs["category"] == "diagnosis" and defined_term(text, sent[0], span.start_char):
                _set(flags, cues, "hypothetical", True, "a name being taught")
            if not flags["negated"] and (
                dated_earlier(text, span.end_char, sent[1]) or dated_before(text, sent[0], span.start_char)
            ):
                _set(flags, cues, "historical", True, "dated earlier")
            if opens_with_age(text, sent[0], sent[1]):
                _set(flags, cues, "historical", True, "at an earlier age")
            if attrs["category"] != "drug" and not flags["negated"] and opens_in_the_past(text, sent[0], span.start_char):
                _set(flags, cues, "historical", True, "an earlier time opens the sentence")  # a drug then may be taken still
            if not flags["negated"] and opens_with_past_label(text, sent[0], sent[1]):
                _set(flags, cues, "historical", True, "labelled an earlier episode")
            if section in _HISTORICAL_SECTIONS:
                _set(flags, cues, "historical", True, f"section {section}")
            elif attrs["category"] != "drug" and norm_key(text[span.start_char : span.end_char].strip(_EDGE_PUNCT)) in self._habits:
                _set(flags, cues, "historical", True, "substance use")  # social history wherever it is written
            elif section == "family_history":
                _set(flags, cues, "family", True, f"section {section}")
            elif attrs["category"] in _CONDITIONAL_SECTIONS.get(section or "", ()) and not affirmed_statement(
                text, sent[0], span.start_char
            ):  # a checked box there selects an order or a teaching point, not a finding
                _set(flags, cues, "hypothetical", True, f"section {section}")
            elif attrs["category"] in _GENERAL_SECTIONS.get(section or "", ()) and not about_the_patient(text, sent[0], sent[1]):
                _set(flags, cues, "hypothetical", True, f"section {section}: a general statement")
            status = None
            if attrs["category"] == "drug":
                status = "allergy" if section == "allergies" else self._drug_status(text, span, drugs, sent)
                if status is None and section in _LIST_SECTIONS:
                    status = "active"
                if status in ("stopped", "held", "allergy") and box is not False:
                    _set(flags, cues, "negated", False, "")
            elif section == "allergies" or _follows_allergy(text, span, drugs):
                _set(flags, cues, "historical", True, "allergy entry")
            if attrs.get("value") is not None:  # a measured value is neither absent nor in doubt
                _set(flags, cues, "negated", False, "")
                _set(flags, cues, "uncertain", False, "")
            attrs.update(flags)
            attrs["cues"] = {f: cues[f] for f in FLAGS if flags[f] and f in cues}
            attrs["section"] = section
            attrs["drug_status"] = status
            span._.nmsnlp = attrs
            episode = episode or attrs["concept"] in _EPISODE_CONCEPTS
        if not episode:
            return doc  # the passes below each start from an NMS mention (their concept is never changed)
        self._earlier_episode_details(text, spans, bounds, sent_starts)
        lines = {start: line for start, line in (doc._.nmsnlp_lines or [])}
        self._earlier_episode_course(text, spans, bounds, sent_starts, lines)
        if self._only_an_earlier_episode(text, spans, bounds, sent_starts):
            self._earlier_episode_details(text, spans, bounds, sent_starts)  # the details told with those mentions
        self._dated_sentences_of_an_earlier_episode(text, spans, bounds, sent_starts)
        return doc

    @staticmethod
    def _dated_sentences_of_an_earlier_episode(text: str, spans: list[Span], bounds: list[tuple[int, int]],
                                               sent_starts: list[int]) -> None:
        """In a note whose NMS episode is an earlier one only (every NMS mention that is present is historical, one
        not only in an allergy entry), a sentence that opens with a year tells that time: its mentions are
        historical ("In May 2024 she was admitted ...; her levodopa was missed and she developed fever to 39.6");
        so does a sentence, with no word of the present, dated to a year the NMS mentions give the episode
        ("Reaction: NMS (2016)" ... "Details: outside records, ICU 04/2016 -- fever/rigidity, CK >30k")."""
        episode = _episode_mentions(spans)
        if not episode or not all(s._.nmsnlp["historical"] for s in episode) or not any(
                _tells_earlier_episode(s) for s in episode):
            return
        years: set[str] = set()
        for s in episode:
            years |= date_years(text, *bounds[bisect.bisect_right(sent_starts, s.start_char) - 1])
        for span in spans:
            a = span._.nmsnlp
            if a["historical"] or a["negated"] or a["family"] or a["hypothetical"]:
                continue
            lo, hi = bounds[bisect.bisect_right(sent_starts, span.start_char) - 1]
            drug = a["category"] == "drug" and a["concept"] not in _EPISODE_TREATMENTS  # a drug there may be taken now
            if opens_dated(text, lo, span.start_char) or (not drug and dated_to(text, lo, hi, years)):
                span._.nmsnlp = {**a, "historical": True, "cues": {**a.get("cues", {}), "historical": "a dated sentence of the earlier episode"}}

    @staticmethod
    def _earlier_episode_details(text: str, spans: list[Span], bounds: list[tuple[int, int]], sent_starts: list[int]) -> None:
        """The mentions in a clause that tells an earlier NMS episode are that episode's: historical."""
        past = [s for s in spans if s._.nmsnlp["concept"] in _EPISODE_CONCEPTS and s._.nmsnlp["historical"]
                and not s._.nmsnlp["negated"]]
        for anchor in past:
            sent = bounds[bisect.bisect_right(sent_starts, anchor.start_char) - 1]
            for span in spans:
                a = span._.nmsnlp
                if span is anchor or a["historical"] or a["negated"] or a["family"] or a["hypothetical"]:
                    continue
                if a["category"] == "drug" and a["concept"] not in _EPISODE_TREATMENTS:
                    continue  # a drug there may be the one taken now ("NMS 2019, on clozapine since")
                if not (sent[0] <= span.start_char < sent[1]):
                    continue
                lo, hi = sorted((anchor.end_char, span.start_char))
                if present_time_between(text, lo, hi):
                    continue
                # its clause, or a later clause of the sentence that tells a course already run ("...; at that time
                # he had fever of 39.6 °C, severe rigidity and CK of 18,000 U/L")
                if same_clause(text, lo, hi) or (span.start_char > anchor.end_char
                                                 and _course_clause(text, sent[0], span.start_char)):
                    span._.nmsnlp = {**a, "historical": True, "cues": {**a.get("cues", {}), "historical": "earlier episode"}}

    @staticmethod
    def _earlier_episode_course(text: str, spans: list[Span], bounds: list[tuple[int, int]], sent_starts: list[int],
                                lines: dict[int, int]) -> None:
        """The sentences that go on telling an earlier NMS episode on its line are that episode's too ("Hx NMS:
        03/2021 after haloperidol. ICU 6 days, CK peaked ~40k, treated w/ dantrolene, recovered."): after a
        historical NMS mention with no present-time word after it in its sentence, each next sentence that
        holds a mention, on the same line, with a completed-course word and no present-time word, until one
        does not. Only sentences holding a mention count, so the fast path and the full pipeline agree."""
        by_sent: dict[int, list[Span]] = {}
        for span in spans:
            by_sent.setdefault(bisect.bisect_right(sent_starts, span.start_char) - 1, []).append(span)
        for anchor in spans:
            a = anchor._.nmsnlp
            if a["concept"] not in _EPISODE_CONCEPTS or not a["historical"] or a["negated"]:
                continue
            k = bisect.bisect_right(sent_starts, anchor.start_char) - 1
            line = lines.get(bounds[k][0])
            if line is None or present_time_between(text, anchor.end_char, bounds[k][1]):
                continue
            for j in sorted(i for i in by_sent if i > k):
                lo, hi = bounds[j]
                if (lines.get(lo) != line or present_time_between(text, lo, hi) or _COMPLETED_COURSE.search(text, lo, hi) is None
                        or any(m._.nmsnlp["concept"] in _EPISODE_CONCEPTS and not m._.nmsnlp["historical"] for m in by_sent[j])):
                    break
                for span in by_sent[j]:
                    b = span._.nmsnlp
                    if b["historical"] or b["negated"] or b["family"] or b["hypothetical"]:
                        continue
                    if b["category"] == "drug" and b["concept"] not in _EPISODE_TREATMENTS:
                        continue
                    span._.nmsnlp = {**b, "historical": True, "cues": {**b.get("cues", {}), "historical": "earlier episode's course"}}

    @staticmethod
    def _only_an_earlier_episode(text: str, spans: list[Span], bounds: list[tuple[int, int]], sent_starts: list[int]) -> bool:
        """A note that marks NMS as an earlier episode and nowhere speaks of it in present time: its NMS mentions
        with no cue of their own are that episode too ("We previously cared for a man who developed NMS ..."),
        except in an assessment or a problem list, which state the current diagnoses. One present-time word in
        the sentence of any of its NMS mentions (now, presents, again, recurrent, this admission) keeps them all.
        Whether it marked any."""
        episode = _episode_mentions(spans)
        if not any(_tells_earlier_episode(s) for s in episode):
            return False
        bare = [s for s in episode if not s._.nmsnlp["historical"]]
        for span in bare:
            lo, hi = bounds[bisect.bisect_right(sent_starts, span.start_char) - 1]
            if present_time_between(text, lo, hi) or _ONGOING.search(text, lo, hi) or affirmed_statement(text, lo, span.start_char):
                return False
        marked = False
        for span in bare:
            a = span._.nmsnlp
            if a.get("section") in _CURRENT_SECTIONS:
                continue
            span._.nmsnlp = {**a, "historical": True, "cues": {**a.get("cues", {}), "historical": "the note's earlier episode"}}
            marked = True
        return marked

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
        # a relative clause after the drug does not count against the window: "Haloperidol, which had been
        # requested by the emergency team, was withheld"
        rel = _RELATIVE_CLAUSE.match(text, end, hi_limit)
        hi = min(hi_limit, (rel.end() if rel else end) + self.status_window)
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
# words that tell a course already run: "CK peaked ~40k", "ICU 6 days", "required dialysis", "fully recovered"
_COMPLETED_COURSE = re.compile(
    r"\b(?:peaked|peak|required|requiring|recovered|recovery|treated|icu[ \t]+(?:x[ \t]*)?\d+|at[ \t]+that[ \t]+time|back[ \t]+then|"
    r"per[ \t]+(?:the[ \t]+)?(?:pt'?s|patient'?s|outside|old|prior)[ \t]+(?:hospital[ \t]+)?records?)\b",
    re.I,
)
_RELATIVE_CLAUSE = re.compile(r",[ \t]+(?:which|that|who)\b[^,;.()]{0,80},", re.I)
def _episode_mentions(spans: list[Span]) -> list[Span]:
    """The NMS (or parkinsonism-hyperpyrexia) mentions that speak of this patient's episode: not negated, not
    hypothetical, not a relative's."""
    return [s for s in spans if s._.nmsnlp["concept"] in _EPISODE_CONCEPTS
            and not (s._.nmsnlp["negated"] or s._.nmsnlp["family"] or s._.nmsnlp["hypothetical"])]


def _tells_earlier_episode(span: Span) -> bool:
    """A historical episode mention that is not only an allergy entry (the current episode is often entered
    there already)."""
    a = span._.nmsnlp
    return a["historical"] and a.get("section") != "allergies" and a.get("cues", {}).get("historical") != "allergy entry"


def _course_clause(text: str, sent_start: int, pos: int) -> bool:
    """Whether the clause (between ';'s) holding `pos` has a completed-course word before `pos`."""
    lo = max(sent_start, text.rfind(";", sent_start, pos) + 1)
    return _COMPLETED_COURSE.search(text, lo, pos) is not None


_JOINER = re.compile(r"\s*(?:,|/|&|\+|and|or|,\s*and|,\s*or)\s*", re.I)
_CLAUSE_BREAK = re.compile(r";|\.(?=\s|$)|\bbut\b|\bhowever\b|\bwhile\b(?!\s+npo)|\bwhereas\b", re.I)


def _set(flags: dict[str, bool], cues: dict[str, str], flag: str, value: bool, cue: str) -> None:
    """Set or clear a flag, keeping what set it."""
    flags[flag] = value
    if value:
        cues[flag] = cue
    else:
        cues.pop(flag, None)


def _modifier_flags(span: Span) -> tuple[dict[str, bool], dict[str, str]]:
    """The five flags from the ConText modifiers of a span, and for each flag set the cue that set it (the
    rule's literal), leaving out modifiers that lie inside the span itself ("without" in "seen without
    complication" does not negate that phrase)."""
    flags = dict.fromkeys(FLAGS, False)
    cues: dict[str, str] = {}
    for modifier in getattr(span._, "modifiers", ()):
        m_start, m_end = modifier.modifier_span
        if m_start < span.end and span.start < m_end:
            continue
        for cat in (modifier.category, *(modifier.rule.metadata or {}).get("also", ())):
            if cat in CATEGORY_FLAG:
                flag, literal = CATEGORY_FLAG[cat], modifier.rule.literal
                flags[flag] = True
                if literal not in cues.get(flag, "").split("; "):
                    cues[flag] = f"{cues[flag]}; {literal}" if flag in cues else literal
    return flags, cues


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
