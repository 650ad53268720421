"""Structured segments inside a sentence: what the shape and wording of a line say about a mention in it.

Clinical notes mix narrative with structured text, and there the line's shape decides assertion,
whatever the words around the mention say:

- **checklists and templates**: a box before the item (`[ ] Fever`, `[x] Rigidity`, `( )`, `(+)`,
  `(-)`, `☐`, `☒`), a Y/N choice after it (`heat exposure ( ) Y (x) N`, `Fever Y [ ] N [x]`), an
  answer after a colon (`Fever: no`, `Rigidity: denies`, `Confusion: yes`), or a row of Y/N columns
  (`Muscle rigidity   N   N   N`). An unchecked box or a "no" answer negates the item; a checked box
  or a "yes" affirms it (present, whatever a nearby "no" says).
- **parameters and orders**: "call/notify/page MD for", "hold for", "hold if", "PRN temp >", "if SBP <",
  "titrate to", "goal", "keep T <": everything after such a cue in its clause is a threshold or a
  condition, never a reading or a finding (hypothetical). Past tense ("called MD re T 39.2") is an event
  and is not a cue.
- **affirming statements in instructions** ("you were treated for", "you developed", "Diagnosis:"): the
  item is this patient's, even in an instructions or orders section.

Everything here looks only inside one sentence, so the fast path still equals the full pipeline.
"""

from __future__ import annotations

import re

_BOX = r"(?:\[\s*(?P<b1>[xX✓✔*+\-]?)\s*\]|\(\s*(?P<b2>[xX✓✔*+\-]?)\s*\)|(?P<b3>[☐☒☑✓✔]))"
# the box nearest before the item, with only the item's own words between them
_BOX_BEFORE = re.compile(_BOX + r"(?![ \t]*(?:Y|N|Yes|No)\b)[ \t]*(?P<gap>[^\[\]()☐☒☑|;:]{0,40})$")
_YN_MARK = r"[\[(][ \t]*[xX✓✔]?[ \t]*[\])]"
_YN_LABEL = r"(?i:y(?:es)?|no?)"
_YN_PAIR = re.compile(
    rf"^[ \t]*[:\-]?[ \t]*(?:"
    rf"(?P<m1>{_YN_MARK})[ \t]*(?P<l1>{_YN_LABEL})\b[ \t]*(?P<m2>{_YN_MARK})[ \t]*(?P<l2>{_YN_LABEL})\b"
    rf"|(?P<l3>{_YN_LABEL})[ \t]*(?P<m3>{_YN_MARK})[ \t]*(?P<l4>{_YN_LABEL})[ \t]*(?P<m4>{_YN_MARK})"
    r")"
)
_ANSWER = re.compile(
    r"^[ \t]*(?:\([^)]{0,20}\))?[ \t]*[:=][ \t]*(?P<answer>no|none|denies|denied|neg|negative|absent|not present|nil|n|"
    r"yes|y|present|positive|pos|\+)(?![A-Za-z0-9/])",
    re.I,
)
_SIGN_AFTER = re.compile(r"^[ \t]*[:=]?[ \t]*\((?P<sign>[+\-])\)")
_COLUMNS = re.compile(r"[ \t]*(?:\|[ \t]*)?[ \t]{2,}(?P<cells>(?:[YN][ \t|]+)*[YN])[\s|]*$")
_NEGATIVE_ANSWERS = {"no", "none", "denies", "denied", "neg", "negative", "absent", "not present", "nil", "n"}

_PARAMETER = re.compile(
    r"\b(?:call|notify|page|alert|contact|inform|text|message|escalate to)[ \t]+(?:the[ \t]+)?"
    r"(?:md|do|np|pa|provider|physician|doctor|prescriber|team|house[ \t]?officer|ho|resident|on[ \t-]?call|covering|"
    r"primary[ \t]+team|rrt|rapid[ \t]+response|psychiatrist|psych|pharmacy|charge[ \t]+nurse|rn)\b"
    r"(?:[^;]{0,40}?\b(?:for|if|with|when|re:?|should)\b|[ \t]*[:\-])"
    r"|\b(?:call|notify|page)[ \t]+(?:for|if|when)\b"
    r"|\bhold\b[^;.]{0,40}?\b(?:if|when)\b|\bhold[ \t]+parameters?\b"
    r"|\b(?:hold|stop|d/c|discontinue)\b[^;.]{0,40}?\bfor[ \t]+(?=(?:t|temp|sbp|dbp|bp|map|hr|rr|k|qtc|ck|pulse)\b[ \t]*(?:[<>≤≥]|of|above|below|over|under|greater|less))"
    r"|\bprn[ \t]+(?:for[ \t]+)?(?=(?:t|temp|temperature|fever|hr|sbp|dbp|bp|pain|agitation|rigidity|ck)\b)"
    r"|\bif[ \t]+(?=(?:t|temp|temperature|hr|sbp|dbp|bp|map|rr|ck|cpk|wbc|k|potassium|pulse|heart[ \t]+rate)\b)"
    r"|\btitrate\b[^;.]{0,30}?\b(?:to|for)\b|\bgoals?[ \t]*(?:of|is|:)?[ \t]*(?=(?:t|temp|sbp|dbp|bp|map|hr|rr)\b)"
    r"|\b(?:keep|maintain)[ \t]+(?=(?:t|temp|sbp|dbp|bp|map|hr)\b)"
    r"|\bnotify[ \t]+parameters?\b|\bcall[ \t]+parameters?\b|\bparameters?[ \t]*:"
    r"|\b(?:stop(?:ping)?[ \t]+(?:criteria|rules?|if|for)|discontinue[ \t]+(?:if|for)|d/c[ \t]+if|abort[ \t]+if)\b"
    r"|\b(?:notify|call)[ \t]*:",
    re.I,
)
# a word of every match of _PARAMETER, in lower case: a clause of ASCII text with none of them holds no cue
_PARAMETER_WORDS = re.compile(
    r"call|notify|page|alert|contact|inform|text|message|escalate|hold|stop|d/c|discontinue|prn|if[ \t]|titrate|goal|"
    r"keep|maintain|parameter|abort")
_LAST_LOWER: tuple[str | None, str | None] = (None, None)


def ascii_lower(text: str) -> str | None:
    """text.lower() for an ASCII text (the same length, so its offsets are the text's; the last one is kept,
    as a Doc's mentions ask for the same text in turn), None for any other. Only an ASCII text is prefiltered
    by lower-case words, as a case-blind regex also matches "ſ" for "s" and "K" (Kelvin) for "k"."""
    global _LAST_LOWER
    last = _LAST_LOWER
    if last[0] is not text:
        last = (text, text.lower() if text.isascii() else None)
        _LAST_LOWER = last  # one assignment of a tuple: safe across threads
    return last[1]


_AFFIRM = re.compile(
    r"\byou[ \t]+(?:were|have[ \t]+been|was)[ \t]+(?:treated|admitted|hospitali[sz]ed|diagnosed|seen|cared[ \t]+for|found)\b"
    r"|\byou[ \t]+(?:had|developed|have[ \t]+had|got|experienced)\b"
    r"|\b(?:caused|led[ \t]+to|resulted[ \t]+in|brought[ \t]+on)[ \t]+(?:a|an|your|this)\b"
    r"|\b(?:the[ \t]+)?reason[ \t]+(?:for[ \t]+your|you[ \t]+were)\b"
    r"|\b(?:your|the)[ \t]+(?:doctors?|team|care[ \t]+team|providers?)[ \t]+(?:think|thought|believe[ds]?|said|found|diagnosed)\b"
    r"|\bthis[ \t]+(?:was|is)[ \t]+(?:most[ \t]+)?(?:likely|probably)\b"
    r"|\b(?:diagnos[ie]s|dx|indication|reason[ \t]+for[ \t]+(?:admission|hospitali[sz]ation|order|visit))(?:[ \t]*#?[ \t]*\d{1,2})?[ \t]*:",
    re.I,
)


def box_state(text: str, sent_start: int, start: int, end: int, sent_end: int) -> bool | None:
    """True when the line marks the item at text[start:end] present (checked box, "yes"), False when it
    marks it absent (unchecked box, "no", N columns), None when the sentence is not shaped like that.
    An answer after the item wins over a box before it (which may close the previous item)."""
    after = text[end : min(sent_end, end + 80)]
    yn = _YN_PAIR.match(after)
    if yn is not None:
        pairs = [(yn.group("m1"), yn.group("l1")), (yn.group("m2"), yn.group("l2"))] if yn.group("m1") else \
                [(yn.group("m3"), yn.group("l3")), (yn.group("m4"), yn.group("l4"))]
        checked = [label for mark, label in pairs if re.search(r"[xX✓✔]", mark)]
        return checked[0][0].upper() == "Y" if len(checked) == 1 else None
    sign = _SIGN_AFTER.match(after)
    if sign is not None:
        return sign.group("sign") == "+"
    ans = _ANSWER.match(after)
    if ans is not None:
        return ans.group("answer").lower() not in _NEGATIVE_ANSWERS
    m = _BOX_BEFORE.search(text, max(sent_start, start - 60), start)
    if m is not None:
        mark = next(g for g in (m.group("b1"), m.group("b2"), m.group("b3")) if g is not None)
        return mark not in ("", "☐", "-")
    col = _COLUMNS.match(text, end, sent_end)
    if col is not None:
        return "Y" in re.findall(r"[YN]", col.group("cells"))
    return None


def in_parameter(text: str, sent_start: int, start: int, sent_end: int, seen: dict[tuple[int, int], int] | None = None) -> bool:
    """Whether a parameter or order cue ("call MD for", "hold if", "PRN temp >", "titrate to") stands
    before `start` in its sentence, with no ";" between: the mention is then a threshold or a condition.
    `seen` (for one text) keeps each clause's first cue, for the other mentions of that clause."""
    lo = text.rfind(";", sent_start, start) + 1 or sent_start  # the clause: from the last ";" before, to the next
    hi = text.find(";", start, sent_end)
    clause = (lo, sent_end if hi == -1 else hi)
    # search the whole clause (the cue's lookahead may read the mention itself): is its first cue before the mention?
    first = seen.get(clause) if seen is not None else None
    if first is None:
        low = ascii_lower(text)
        m = None if low is not None and _PARAMETER_WORDS.search(low, *clause) is None else _PARAMETER.search(text, *clause)
        first = m.start() if m is not None else len(text)
        if seen is not None:
            seen[clause] = first
    return first < start


# a name being introduced, not a diagnosis made: "a rare reaction called NMS", "a condition known as NMS"
_NAMING = re.compile(r"\b(?:called|known[ \t]+as|termed|referred[ \t]+to[ \t]+as)[ \t]+(?:[(\"'][ \t]*)?$", re.I)


def defined_term(text: str, sent_start: int, start: int) -> bool:
    """Whether the item is a name being taught ("a rare reaction called NMS") rather than stated as the
    patient's: a naming phrase right before it, and no affirming statement ("you had") before that."""
    return _NAMING.search(text, max(sent_start, start - 40), start) is not None and not affirmed_statement(text, sent_start, start)


# a sentence of a case report's discussion that speaks of this patient ("our patient", "in this case", "she")
_PATIENT_REFERENCE = re.compile(
    r"\b(?:our|this|the|index|present)[ \t]+(?:patient|case|man|woman|boy|girl|gentleman|lady)\b"
    r"|\b(?:he|she|him|her|his|hers)\b|\bpt\b",
    re.I,
)


def about_the_patient(text: str, sent_start: int, sent_end: int) -> bool:
    """Whether a sentence speaks of the patient (not of a condition in general)."""
    return _PATIENT_REFERENCE.search(text, sent_start, sent_end) is not None


def affirmed_statement(text: str, sent_start: int, start: int) -> bool:
    """Whether the sentence states the item as this patient's before it ("you were treated for",
    "Diagnosis:"), which an instructions or orders section does not turn hypothetical."""
    m = _AFFIRM.search(text, sent_start, start)
    return m is not None and not _conditioned(text, sent_start, m.start())


def affirmed_directly(text: str, sent_start: int, start: int) -> bool:
    """An affirming statement that governs the item itself: no modal or condition between them ("you had a
    serious reaction called NMS", not "the medicine you got can rarely cause NMS")."""
    last = None
    for m in _AFFIRM.finditer(text, sent_start, start):
        last = m
    return last is not None and not _conditioned(text, sent_start, last.start()) and _MODAL.search(text, last.end(), start) is None


def _conditioned(text: str, sent_start: int, pos: int) -> bool:
    """Whether a condition or a modal stands right before `pos` ("if you had", "could have caused")."""
    return _CONDITION_BEFORE.search(text, max(sent_start, pos - 20), pos) is not None


_MODAL = re.compile(r"\b(?:can|could|may|might|would|rarely|risk|if|unless|should)\b", re.I)


_CONDITION_BEFORE = re.compile(
    r"\b(?:if|unless|should|whether|in[ \t]+case|could|can|may|might|would)(?:[ \t]+(?:have|not|never))?[ \t]+$", re.I)


# a year written right after the item dates it to an earlier episode: "NMS on risperidone (May 2021, ICU)",
# "haloperidol - NMS (03/2021)", "NMS in 2017" (a full date may be this admission's, so it is not a cue)
_DATED_AFTER = re.compile(
    r"[^.;()\n]{0,30}?(?:\([ \t]*(?:[A-Za-z]{3,9}\.?[ \t]+)?(?:19|20)\d{2}(?![\d/])|\([ \t]*\d{1,2}/(?:19|20)\d{2}(?!\d)"
    r"|[ \t,](?:in|during)[ \t]+(?:[A-Za-z]{3,9}\.?[ \t]+|\d{1,2}/)?(?:19|20)\d{2}(?![\d/])"
    r"|[ \t,]\d{1,2}/(?:19|20)\d{2}(?![\d/]))"  # a month and year, no day: "NMS on risperidone 02/2023"
    # a year after an arrow, also past a checklist's answer: "NMS: ( ) no (x) yes -> 2019, after haloperidol"
    r"|[^.;\n]{0,40}?(?:->|→|=>)[ \t]*(?:[A-Za-z]{3,9}\.?[ \t]+|\d{1,2}/)?(?:19|20)\d{2}(?![\d/])"
)
_WORD_GAP = re.compile(r"[ \t]*(?:[-–:,]|on|after|from|with|due[ \t]+to|to)?[ \t]*")
# a sentence that opens with an age: "At 24 she developed NMS", "At age 19, ..."
_AGE_OPENING = re.compile(r"[ \t]*(?:At|at)[ \t]+(?:the[ \t]+)?(?:age[ \t]+(?:of[ \t]+)?)?\d{1,2}\b(?![ \t]*(?:h|hours?|mg|%|:))")
# an order cue after the item: "signs of NMS (fever, rigidity) -> notify MD", "T > 38.5: call MD"
_PARAMETER_AFTER = re.compile(
    r"(?:[^;.]|\.(?=\d)){0,80}?(?:->|→|=>|:|,|-|\bthen\b)[ \t]*(?:please[ \t]+)?"
    r"(?:(?:stop|hold|skip)[ \t]+(?:the[ \t]+)?(?:med(?:ication)?s?|medicines?|dose|pills?|injections?)[ \t]*(?:and|,|&|\+)[ \t]*)?"  # "-> stop med and go to ED"
    r"(?:notify|call|page|contact|alert|report(?:[ \t]+(?:to|same|immediately|promptly|right|at[ \t]+once))|"
    r"(?:go[ \t]+to[ \t]+(?:the[ \t]+)?)?(?:ed|er|emergency)|"
    # an order on the condition: "Fever >= 38.0 during titration: do NOT give next dose", "T > 38.5 -> hold next dose"
    r"(?:do[ \t]+not|don'?t)[ \t]+(?:give|administer)|(?:hold|skip|withhold|omit)[ \t]+(?:the[ \t]+)?(?:next[ \t]+)?"
    r"(?:dose|med(?:ication)?s?|infusion|titration|step))\b(?![ \t]+(?:was|were|placed|made))",
    re.I,
)


def dated_earlier(text: str, end: int, sent_end: int) -> bool:
    """Whether a year follows the item at `end` in its clause ("(May 2021", "in 2017")."""
    return _DATED_AFTER.match(text, end, sent_end) is not None


# a line labelled as an earlier episode: "Prior episode (from allergy note): 2018 ...", "Previous NMS:",
# "Original reaction (2020, case closed):", "Summary of original event:",
# "Episode: 11/2019, haloperidol ..." (a month and year, no day)
_PAST_LABEL = re.compile(
    r"[ \t*\-•>]*(?:(?:summary[ \t]+of[ \t]+(?:the[ \t]+)?)?(?:prior|previous|past|earlier|remote|old|first|index|original)[ \t]+"
    r"(?:episode|admission|hospitali[sz]ation|reaction|event|report|nms|neuroleptic[ \t]+malignant[ \t]+syndrome)\b[^:\n]{0,40}:"
    r"|episode[ \t]*:[ \t]*(?:[A-Za-z]{3,9}\.?[ \t]+|\d{1,2}/)?(?:19|20)\d{2}(?![\d/]))",
    re.I,
)


def opens_with_past_label(text: str, sent_start: int, sent_end: int) -> bool:
    """Whether the sentence opens with a label naming an earlier episode ("Prior episode: ...")."""
    return _PAST_LABEL.match(text, sent_start, sent_end) is not None


def opens_with_age(text: str, sent_start: int, sent_end: int) -> bool:
    return _AGE_OPENING.match(text, sent_start, sent_end) is not None


# a sentence that opens with a time span back from the episode told ("Two years earlier he had been admitted with
# NMS", "Several months ago, ...") or with the authors' earlier report of the patient ("We previously described
# a 52-year-old man who ...", "In 2018 we described ..."; not "We describe", the case at hand); not "for 3 years
# before admission", which dates an exposure up to now
_OPENING_LABEL = r"[ \t]*(?:[A-Z][A-Za-z /]{0,30}:[ \t]*)?"  # after a label: "Interval history: In May 2024 ..."
_PAST_OPENING = re.compile(
    _OPENING_LABEL + r"(?:"
    r"(?:\d{1,2}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|several|many|"
    r"a[ \t]+few|some)[ \t]+(?:years?|months?|decades?)[ \t]+(?:earlier|ago|previously|before(?=[ \t]*,))"
    r"|(?:we|the[ \t]+authors)[ \t]+(?:have[ \t]+)?(?:previously|earlier|once)[ \t]+(?:described|reported|presented|published)"
    r"|in[ \t]+(?:19|20)\d{2},?[ \t]+(?:we|the[ \t]+authors)[ \t]+(?:described|reported|presented|published))\b",
    re.I,
)


def opens_in_the_past(text: str, sent_start: int, start: int) -> bool:
    """Whether the sentence opens with a time span back ("Two years earlier", "Several months ago") or the
    authors' earlier report ("We previously described ..."), with no word of the present before `start`."""
    return _opens_before_present(_PAST_OPENING, text, sent_start, start)


def _opens_before_present(opening_re: re.Pattern[str], text: str, sent_start: int, start: int) -> bool:
    """Whether the sentence opens with a match of `opening_re` and no word of the present stands between it and `start`."""
    opening = opening_re.match(text, sent_start, start)
    return opening is not None and _STRICT_PRESENT.search(text, opening.end(), start) is None


def parameter_after(text: str, end: int, sent_end: int) -> bool:
    """Whether an order cue follows the item in its clause ("... -> notify MD")."""
    return _PARAMETER_AFTER.match(text, end, sent_end) is not None


# a year before the item in its clause dates it too: "his 2019 NMS", "in 2019 ... in the ICU for NMS",
# "Oct 2019 she was admitted with NMS", "2021: admitted for NMS"
_YEAR_BEFORE = re.compile(
    r"(?:\b(?:19|20)\d{2}[ \t]+$"
    r"|\b(?:in|since|during|from)[ \t]+(?:[A-Za-z]{3,9}\.?[ \t]+|\d{1,2}/)?(?:19|20)\d{2}\b(?![/\d])"
    r"|\b(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?[ \t]+(?:19|20)\d{2}\b(?![/\d])"
    # a record or a stay labelled by its year: "per 2012 records, reaction was NMS", "your 2019 hospital stay for"
    r"|(?<![/\d])\b(?:19|20)\d{2}[ \t]+(?i:records?|notes?|chart|admission|hospitali[sz]ation|hospital[ \t]+stay|icu[ \t]+stay|"
    r"stay|episode|discharge[ \t]+summary)\b)"
)
_STAY_BEFORE = re.compile(
    r"\bdischarged\b[^.;]{0,25}?\b(?:after|following)\b"
    r"|\b(?:after|since|following)[ \t]+(?:his|her|their|the|this)?[ \t]*(?:recent|last|previous|prior)?[ \t]*"
    r"(?:discharge|hospitali[sz]ation|hospital[ \t]+stay)\b"
    r"|\bhospitali[sz]ed[ \t]+\d{1,2}/\d{1,2}(?:/\d{2,4})?[ \t]*[-–]",
    re.I,
)
_YEAR_LABEL = re.compile(r"[ \t]*(?:19|20)\d{2}[ \t]*:")


def dated_before(text: str, clause_start: int, start: int) -> bool:
    """Whether a year or an earlier hospital stay ("discharged 4/18 after", "since her last admission")
    stands before the item in its clause (from `clause_start`, the sentence start or the last ';')."""
    lo = text.rfind(";", clause_start, start) + 1 or clause_start  # after the last ";" before the item
    # every match of _YEAR_LABEL and _YEAR_BEFORE holds a year 19xx or 20xx, every match of _STAY_BEFORE
    # "discharge" or "hospital": where they are not, the regexes are not run
    if (text.find("19", lo, start) != -1 or text.find("20", lo, start) != -1) and (
            _YEAR_LABEL.match(text, lo, start) is not None or _YEAR_BEFORE.search(text, lo, start) is not None):
        return True
    low = ascii_lower(text)
    if low is not None and low.find("discharge", lo, start) == -1 and low.find("hospital", lo, start) == -1:
        return False
    return _STAY_BEFORE.search(text, lo, start) is not None


def opens_dated(text: str, sent_start: int, start: int) -> bool:
    """Whether the sentence opens with a year that dates it, across its ';' clauses, up to a word of the present
    ("In May 2024 she was admitted for an obstruction; her levodopa was missed and she developed fever").
    A case report dates its own episode so too: the caller decides when an opening year means the past."""
    return _opens_before_present(_DATED_OPENING, text, sent_start, start)


def date_years(text: str, lo: int, hi: int) -> set[str]:
    """The years of the dates written between lo and hi ("11/06/2020", "04/2016", "(2016)", "in 2016", "May 2016";
    not a bare number such as "CK 2016")."""
    return {m.group(1) for m in _DATE_YEAR.finditer(text, lo, hi)}


def dated_to(text: str, lo: int, hi: int, years: set[str]) -> bool:
    """Whether the sentence lo..hi holds a date of one of `years` and no word of the present."""
    return bool(years & date_years(text, lo, hi)) and _STRICT_PRESENT.search(text, lo, hi) is None


_DATE_YEAR = re.compile(
    r"(?:(?<![\d/.])\d{1,2}/(?:\d{1,2}/)?|\([ \t]*|\b(?i:in|during|since|of)[ \t]+"
    r"|\b(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?[ \t]+)((?:19|20)\d{2})(?![\d/])")
_DATED_OPENING = re.compile(
    _OPENING_LABEL + r"(?i:in|during|on|around|back[ \t]+in|since)[ \t]+(?:(?:early|mid|late)[ \t-]+)?"
    r"(?:(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?[ \t]+|\d{1,2}/)?(?:19|20)\d{2}\b(?![/\d])")
_STRICT_PRESENT = re.compile(
    r"\b(?:now|currently|today|tonight|presents?|presenting|this[ \t]+(?:admission|visit|episode|time)|on[ \t]+arrival|again)\b",
    re.I)


# a clause that tells an earlier NMS episode tells its details too ("NMS on haloperidol 2019, CK peak 41k,
# treated with dantrolene"), unless a present-time word lies between ("hx NMS 2017, now febrile and rigid")
_PRESENT_TIME = re.compile(
    r"\b(?:now|currently|current|today|tonight|presents?|presenting|presented|this[ \t]+(?:admission|time|visit|episode)|"
    r"again|recurren(?:t|ce)|new|since[ \t]+(?:yesterday|admission|this)|on[ \t]+arrival|"
    # an admission dated to a month or a year tells an earlier stay: "admitted 10/2021 for mania"
    r"(?:re)?admitted(?![ \t]+(?:in[ \t]+)?(?:(?:[A-Za-z]{3,9}\.?[ \t]+|\d{1,2}/)(?:19|20)\d{2}|(?:19|20)\d{2})(?![\d/])))\b",
    re.I,
)


def same_clause(text: str, a: int, b: int) -> bool:
    """Whether positions a < b lie in one clause (no ';' between)."""
    return text.find(";", a, b) == -1


def present_time_between(text: str, a: int, b: int) -> bool:
    return _PRESENT_TIME.search(text, a, b) is not None
