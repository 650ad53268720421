"""Numbers attached to lab and vital mentions, normalized to the units of contract section 5.

`parse_value(concept, text, pos, limit)` reads what follows a trigger at `pos` (not past `limit`):
connector words, a comparator, the number(s), a unit, a trend, a reference range. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .text import DATED_ROW

UNITS = {
    "temperature": "C",
    "ck": "U/L",
    "wbc": "10^9/L",
    "heart_rate": "bpm",
    "blood_pressure": "mmHg",
    "respiratory_rate": "/min",
    "creatinine": "mg/dL",
    "potassium": "mmol/L",
    "myoglobin": "ng/mL",
}

# Plausible range of each normalized value; anything outside is not taken as the value.
PLAUSIBLE = {
    "temperature": (25.0, 46.0),
    "ck": (1.0, 3_000_000.0),
    "wbc": (0.1, 500.0),
    "heart_rate": (20.0, 300.0),
    "blood_pressure": (30.0, 320.0),
    "respiratory_rate": (3.0, 90.0),
    "creatinine": (0.05, 40.0),
    "potassium": (1.0, 12.0),
    "myoglobin": (0.0, 5_000_000.0),
}

CK_DEFAULT_ULN = 200.0  # U/L: the upper limit of normal assumed when a note gives none ("CK 60x ULN")

# A symptom written with a value carries a vital or lab of its own: "febrile to 104.5".
SYMPTOM_VALUE_CONCEPT = {
    "fever": "temperature",
    "tachycardia": "heart_rate",
    "tachypnea": "respiratory_rate",
    "leukocytosis": "wbc",
    "hypertension": "blood_pressure",
    "hypotension": "blood_pressure",
    "rhabdomyolysis": "ck",
}

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_CONNECTOR = re.compile(
    r"(?:[ \t]+|[:=|~]|(?<![ \t])-(?=[ \t]*\d)|\((?=[ \t]*[<>\d])|"
    r"(?i:of|was|were|is|are|at|to|now|level|levels|value|peaked|peaking|peak|up|max|maximum|reached|"
    r"rose|rising|increased|elevated|went|came|back|measured|initially|approximately|approx|about|around|"
    r"nearly|high|highest|currently|today|this|am|morning|on|admission|arrival|the|in|range|ranging|from|"
    r"total|serum|recheck|repeat|returned|markedly|significantly|mildly|trending|trended|climbed|climbing|"
    r"spiked|spiking|with|reading|readings|checked|noted|documented|recorded|into|trend|down|ranged|dropped|fell|"
    r"improved|improving|downtrending|uptrending|still|remains|remained|persistently|persistent|s|"
    r"drawn|sent|obtained|result|results|resulted|showed|revealed|demonstrated|measuring|came[ \t]+back)(?![A-Za-z]))"
    r"|,(?=[ \t])|[-–](?=[ \t])"
    # a time window or a date is not the value: "Tmax past 24 h 38.2", "CK 2/7: 104"
    r"|(?i:(?:in\s+the\s+)?(?:past|last|prior|previous|over\s+(?:the\s+)?(?:past|last))?[ \t]*\(?\d{1,2}[ \t]*(?:h|hr|hrs|hours)\)?(?![A-Za-z]))"
    r"|\d{1,2}/\d{1,2}(?:/\d{2,4})?(?=[ \t]*[:,)-]|[ \t]+\d)"
)
_COMPARATOR = re.compile(
    r"(?P<cmp>>=|<=|≥|≤|>|<|(?i:greater[ \t]+than|more[ \t]+than|less[ \t]+than|over|above|below|under|at[ \t]+least))[ \t]*"
)
_CMP_MAP = {">=": ">", "≥": ">", ">": ">", "<=": "<", "≤": "<", "<": "<", "greater than": ">",
            "more than": ">", "over": ">", "above": ">", "at least": ">", "less than": "<", "below": "<",
            "under": "<"}

_UNIT = {
    "temperature": r"(?:°|º|˚|deg(?:rees?)?\.?)?[ \t]*(?P<u>[FfCc](?![a-z])|(?i:fahrenheit|celsius|centigrade))",
    "ck": r"(?P<u>(?i:iu/l|u/l|units/l|units?/liter|iu|units?|u))(?![a-z])",
    "wbc": r"(?P<u>(?i:x[ \t]*10\^?9/l|x[ \t]*10\^?3/[uµμ]l|10\^?9/l|10\^?3/[uµμ]l|k/[uµμ]l|k/mm3|thou/[uµμ]l|"
           r"/[uµμ]l|/mm3|cells/[uµμ]l|k|x10e9/l|x10e3/ul))(?![a-z])",
    "heart_rate": r"(?P<u>(?i:bpm|beats[ \t]*/[ \t]*min|beats[ \t]+per[ \t]+minute|/min|per[ \t]+min(?:ute)?))",
    "blood_pressure": r"(?P<u>(?i:mm[ \t]*hg))",
    "respiratory_rate": r"(?P<u>(?i:breaths[ \t]*/[ \t]*min|breaths[ \t]+per[ \t]+minute|/min|bpm|per[ \t]+min(?:ute)?))",
    "creatinine": r"(?P<u>(?i:mg/dl|[uµμ]mol/l|micromol/l))",
    "potassium": r"(?P<u>(?i:mmol/l|meq/l|mEq/L))",
    "myoglobin": r"(?P<u>(?i:ng/ml|mcg/l|[uµμ]g/l))",
}
_UNIT_RE = {k: re.compile(r"[ \t]*" + v) for k, v in _UNIT.items()}

_LAB_FLAG = re.compile(r"[ \t]*(?:\((?:HH?|LL?|high|low|crit(?:ical)?|abn(?:ormal)?|A|\*|!)\)|(?<=[ \t])(?:HH?|LL?)(?![A-Za-z])|\*+|!+)")
_TABLE_REF = re.compile(r"(?:[ \t]{2,}|\t|[ \t]*\|[ \t]*)(?P<lo>\d[\d,]*(?:\.\d+)?)[ \t]*[-–][ \t]*(?P<hi>\d[\d,]*(?:\.\d+)?)[ \t]*(?:\||$|\n)")
_REF = re.compile(
    r"[ \t]*[(\[][ \t]*(?:(?i:ref(?:erence)?(?:[ \t]+range)?|normal(?:[ \t]+range)?|nl|rr|uln|range|n)[ \t:=]*)?"
    r"(?:(?P<lo>\d[\d,]*(?:\.\d+)?)[ \t]*(?:-|–|to)[ \t]*)?(?P<hi>\d[\d,]*(?:\.\d+)?)[^)\]]{0,20}[)\]]"
)
# the rest of a table's header line after its trigger: "CK trend (U/L):" (the rows follow on the next lines)
_TABLE_HEAD = re.compile(
    r"(?:[ \t]+(?i:trend|trends|values?|levels?|results?|series|daily|serial|over[ \t]+time))*"
    r"[ \t]*(?:\([ \t]*(?P<u>[^()\r\n]{1,12}?)[ \t]*\))?[ \t]*:[ \t]*(?=\r?\n)"
)
_LINE = re.compile(r"\r?\n([^\r\n]*)")
_NUMBER_SPACES = re.compile(r"[ \u00a0\u2009\u202f]")
_BLANKS = re.compile(r"[ \t]+")
_THOUSANDS_CLOSE = re.compile(r"[kK]\s*[)\]]")
_RANGE_DASH = re.compile(r"[ \t]*[-–][ \t]*")
_DIASTOLIC = re.compile(r"[ \t]*/[ \t]*(\d+(?:\.\d+)?)(?:'?s)?")
_TREND_STEP = re.compile(
    r"[ \t]*(?:->|-->|→|=>|⇒|>|(?i:to|then|and[ \t]+then|,[ \t]*then|up[ \t]+to|rising[ \t]+to|rose[ \t]+to|"
    r"increased[ \t]+to|now|trending[ \t]+to|,))[ \t]*"
)


# what a number is when it is not a lab or vital value: an age or sex ("34M", "22 yo"), a dose, a duration
_NOT_A_VALUE = re.compile(
    r"[ \t]?(?i:yo|y/o|y\.o\.?|years?|yrs?|-years?|-yo|mg|mcg|µg|ml|kg|lbs?|ms|msec|mins?|minutes|hours|days?|"
    r"weeks?|wks?|months?|mos)(?![A-Za-z/])"
)
_VITALS = frozenset({"temperature", "heart_rate", "blood_pressure", "respiratory_rate"})
_EXPONENT = re.compile(r"[eE][+-]?\d")
_CLOCK_TIME = re.compile(r"0\d{3}")  # four digits with a leading zero: a 24-hour time (0900), never a reading
_SEX_AFTER = re.compile(r"[MF](?![A-Za-z])")
_SPACED_THOUSANDS = re.compile(r"\d{1,3}(?:[ \u00a0\u2009\u202f]\d{3})+(?!\d|[,.]\d)")
_ULN_MULTIPLE = re.compile(r"[ \t]*(?:x|×|times|-fold|fold)[ \t]*(?:the[ \t]+)?(?i:uln|upper[ \t]+limit(?:[ \t]+of[ \t]+normal)?|normal)")


@dataclass(frozen=True)
class ValueMatch:
    value: float
    unit: str
    comparator: str | None
    end: int  # end of the first value (and its unit) in the text
    values: tuple[float, ...] = ()
    ref_high: float | None = None
    diastolic: float | None = None


def _num(text: str) -> float:
    return float(text.replace(",", ""))


_DECIMAL_COMMA = re.compile(r"(\d{2,3}),(\d)(?!\d)")
_NUMBER = re.compile(rf"(?:{_NUM})")
_K_SUFFIX = re.compile(r"[ \t]?[kK](?![A-Za-z/])")
_S_SUFFIX = re.compile(r"'?s(?![A-Za-z])")
_SLASH_NUMBER = re.compile(r"[ \t]*/[ \t]*\d")


def _number_at(concept: str, text: str, pos: int, limit: int) -> tuple[float, int, str] | None:
    """A number at pos: returns (number, end, suffix) where suffix is 'k' or 's' (as in '130s') or ''."""
    if concept == "temperature":
        m = _DECIMAL_COMMA.match(text, pos, limit)
        if m:  # a European decimal comma: 39,5
            return float(f"{m.group(1)}.{m.group(2)}"), m.end(), ""
    m = None
    if concept in ("ck", "myoglobin"):  # "CK 12 450": thousands grouped by a space
        m = _SPACED_THOUSANDS.match(text, pos, limit)
    m = m or _NUMBER.match(text, pos, limit)
    if not m:
        return None
    if _CLOCK_TIME.fullmatch(m.group()):
        return None  # "Repeat CK 0900": a clock time, not a value
    n = _num(_NUMBER_SPACES.sub("", m.group()))
    end = m.end()
    if _NOT_A_VALUE.match(text, end, limit) or (concept != "temperature" and _SEX_AFTER.match(text, end, limit)):
        return None
    if _EXPONENT.match(text, end, limit) or (pos > 0 and text[pos - 1] == "-" and (pos < 2 or text[pos - 2] in " \t(")):
        return None  # "1e308" is no lab value, and "T -40C" is no temperature
    suffix = ""
    if concept == "ck":
        x = _ULN_MULTIPLE.match(text, end, limit)
        if x:  # "CK 60x ULN": a multiple of the upper limit
            return n, x.end(), "uln"
    k = _K_SUFFIX.match(text, end, limit)
    if k and concept in ("ck", "wbc", "myoglobin"):
        suffix, end = "k", k.end()
    else:
        s = _S_SUFFIX.match(text, end, limit)
        if s and concept in ("heart_rate", "blood_pressure", "respiratory_rate", "temperature"):
            suffix, end = "s", s.end()
    return n, end, suffix


def _normalize(concept: str, number: float, suffix: str, unit_text: str | None) -> tuple[float, str] | None:
    u = (unit_text or "").lower().replace(" ", "")
    v = number
    if concept == "temperature":
        if u in ("f", "fahrenheit"):
            v = (v - 32) * 5 / 9
        elif u in ("c", "celsius", "centigrade"):
            pass
        elif 80 <= v <= 115:
            v = (v - 32) * 5 / 9
        elif v > 46:
            return None
        v = round(v, 1)
    elif concept == "ck":
        if suffix == "k":
            v *= 1000
        elif suffix == "uln":
            v *= CK_DEFAULT_ULN
    elif concept == "wbc":
        if suffix == "k" or u in ("k", "k/ul", "k/µl", "k/μl", "k/mm3", "thou/ul"):
            pass
        elif u in ("/ul", "/µl", "/μl", "/mm3", "cells/ul", "cells/µl") or v >= 500:
            v = v / 1000
        v = round(v, 2)
    elif concept == "creatinine":
        if "mol" in u or (not u and v > 30):
            v = round(v / 88.4, 2)
    elif concept == "myoglobin" and suffix == "k":
        v *= 1000
    lo, hi = PLAUSIBLE[concept]
    if not lo <= v <= hi:
        return None
    return v, UNITS[concept]


def parse_value(
    concept: str, text: str, pos: int, limit: int, max_gap: int = 30, systolic_only: bool = False
) -> ValueMatch | None:
    """Read the value written after a trigger ending at `pos`; None when there is none."""
    if concept not in UNITS:
        return None
    head = _TABLE_HEAD.match(text, pos, limit)
    if head:
        return _table(concept, text, head, limit)
    # connectors: words and punctuation between the trigger and the number, at most max_gap chars
    i = pos
    while i < limit and i - pos <= max_gap:
        m = _CONNECTOR.match(text, i, limit)
        if m and concept == "blood_pressure" and "/" in m.group():
            break
        if not m or m.end() == i:
            break
        # a connector word must stand alone, not be the start of another word
        if m.group()[-1:].isalpha() and m.end() < limit and text[m.end()].isalpha():
            break
        i = m.end()
    comparator = None
    c = _COMPARATOR.match(text, i, limit)
    if c:
        comparator = _CMP_MAP.get(_BLANKS.sub(" ", c.group("cmp").lower()))
        i = c.end()
    if i - pos > max_gap + 12:
        return None
    first = _number_at(concept, text, i, limit)
    if first is None:
        return None
    number, end, suffix = first
    if i > pos and text[i - 1].isalpha():  # "CK2" glued to a word other than the trigger: not a value
        if text[pos:i].strip():
            return None
    diastolic = None
    if concept == "blood_pressure":
        d = _DIASTOLIC.match(text, end, limit)
        if d:
            diastolic = _num(d.group(1))
            if diastolic >= number:  # "BP 80/120": the systolic is the larger number; this is not a pressure
                return None
            end = d.end()
        elif not systolic_only:
            return None
    elif _SLASH_NUMBER.match(text, end, limit) and concept in ("heart_rate", "respiratory_rate", "temperature"):
        return None  # "HR 120/80" is a blood pressure written under the wrong label: not a heart rate
    unit_text = None
    um = _UNIT_RE[concept].match(text, end, limit)
    if um and not (concept == "temperature" and um.group("u").lower() == "c" and _looks_like_word(text, um.end(), limit)):
        unit_text = um.group("u")
        end_with_unit = um.end()
    else:
        end_with_unit = end
    norm = _normalize(concept, number, suffix, unit_text)
    if norm is None:
        return None
    value, unit = norm
    if suffix == "uln":
        return ValueMatch(value=value, unit=unit, comparator=comparator, end=end_with_unit, ref_high=CK_DEFAULT_ULN)
    values = [value]
    # a range "118-140" or a trend "2,100 -> 8,450 -> 23,000"
    trend = _trend(concept, text, end_with_unit, limit, suffix, unit_text, with_end=True)
    values.extend(trend[0])
    j = trend[1]
    ref_high = None
    f = _LAB_FLAG.match(text, j, limit)
    if f and f.end() > j:
        j = f.end()
        if unit_text is None:  # "27,900 (H)  U/L": the unit after the flag
            u3 = _UNIT_RE[concept].match(text, j, limit)
            if u3:
                j = u3.end()
    # labs have reference ranges; a vital's bracket is a conversion or a note ("T 40.2 C (104.4 F)")
    r = None if concept in _VITALS else (_REF.match(text, j, limit) or _TABLE_REF.match(text, j, limit))
    if r:
        ref_high = _num(r.group("hi"))
        if concept == "ck" and _THOUSANDS_CLOSE.search(r.group()):
            ref_high *= 1000
        if len(values) == 1:  # a trend may follow the reference range: "CK 4,300 (ref 20-200) -> 14,320"
            values.extend(_trend(concept, text, r.end(), limit, suffix, unit_text))
    return ValueMatch(
        value=value,
        unit=unit,
        comparator=comparator,
        end=end_with_unit,
        values=tuple(values) if len(values) > 1 else (),
        ref_high=ref_high,
        diastolic=diastolic,
    )


def _table(concept: str, text: str, head: re.Match[str], limit: int) -> ValueMatch | None:
    """A vertical table under its header line, "CK trend (U/L):" then dated rows "2/11 ED  14,320":
    read as a trend, so the value is the first row's number and `values` holds every row's. The
    mention stays on the header trigger (corpora/GUIDELINES.md section 8, point 6)."""
    unit_text = head.group("u")
    values: list[float] = []
    comparator = None
    for line in _LINE.finditer(text, head.end(), limit):
        row = DATED_ROW.fullmatch(text, line.start(1), line.end(1))
        if row is None:
            break
        i = row.start("value")
        c = _COMPARATOR.match(text, i, row.end())
        if c:
            i = c.end()
        got = _number_at(concept, text, i, row.end())
        if got is None:
            break
        number, end, suffix = got
        um = _UNIT_RE[concept].match(text, end, row.end())
        norm = _normalize(concept, number, suffix, um.group("u") if um else unit_text)
        if norm is None:
            break
        if not values and c:
            comparator = _CMP_MAP.get(c.group("cmp").lower())
        values.append(norm[0])
    if not values:
        return None
    return ValueMatch(value=values[0], unit=UNITS[concept], comparator=comparator, end=head.start(),
                      values=tuple(values) if len(values) > 1 else ())


def _trend(concept: str, text: str, j: int, limit: int, suffix: str, unit_text: str | None, with_end: bool = False) -> Any:
    """The further numbers of a range or trend starting at j: their normalized values (and the end)."""
    values: list[float] = []
    while j < limit:
        step = _TREND_STEP.match(text, j, limit) or _RANGE_DASH.match(text, j, limit)
        if not step:
            break
        nxt = _number_at(concept, text, step.end(), limit)
        if nxt is None:
            break
        n2, e2, s2 = nxt
        if concept == "blood_pressure":
            d2 = _DIASTOLIC.match(text, e2, limit)
            if not d2:
                break
            e2 = d2.end()
        u2 = _UNIT_RE[concept].match(text, e2, limit)
        norm2 = _normalize(concept, n2, s2 or suffix, u2.group("u") if u2 else unit_text)
        if norm2 is None:
            break
        values.append(norm2[0])
        j = u2.end() if u2 else e2
    return (values, j) if with_end else values


def _looks_like_word(text: str, end: int, limit: int) -> bool:
    return end < limit and text[end].isalpha()


# A lab or vital described without a number: "markedly elevated CK", "CK was raised", "normal CK".
_MARKED = r"(?:markedly|massively|significantly|severely|very|extremely|highly|greatly|grossly|hugely|dramatically)"
_QUAL_WORD = r"(?P<word>elevated|raised|high|increased|rising|abnormal|normal|unremarkable|low)"
_QUAL_BEFORE = re.compile(
    rf"(?i:(?P<marked>{_MARKED})?[ \t]*(?:and[ \t]+rising[ \t]+|,[ \t]*)?{_QUAL_WORD}[ \t]+(?:serum[ \t]+|plasma[ \t]+|blood[ \t]+)?)$"
)
_QUAL_AFTER = re.compile(
    rf"(?i:[ \t]+(?:levels?[ \t]+|values?[ \t]+)?(?:was|were|is|are|remained|remains|became|being|now)?[ \t]*"
    rf"(?:(?P<marked>{_MARKED})[ \t]+)?{_QUAL_WORD})(?![A-Za-z])"
)


def qualitative(text: str, start: int, end: int, lo: int, hi: int) -> str | None:
    """'very_high', 'high', 'normal' or 'low' when a lab or vital at text[start:end] is described in words
    (in the sentence text[lo:hi]), else None."""
    m = _QUAL_BEFORE.search(text, max(lo, start - 40), start) or _QUAL_AFTER.match(text, end, min(hi, end + 40))
    if m is None:
        return None
    word = m.group("word").lower()
    if word in ("normal", "unremarkable"):
        return "normal"
    if word == "low":
        return "low"
    return "very_high" if m.group("marked") else "high"
