"""Rule files in patterns/: loading, strict validation, and the compiled scanners built from them.

Every file is JSON Lines, one rule per line, with a stable `id`. Unknown keys, unknown concepts,
unknown categories and duplicate ids are errors that name the file, the line and the key.
Loaded rules are frozen dataclasses and tuples, so no loaded rule set can be mutated by a caller.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick_rs

from ..errors import PatternFileError
from ..records import CATEGORIES, DRUG_STATUSES, FLAGS
from ..resources import data_dir

CONTEXT_CATEGORIES = (
    "NEGATED_EXISTENCE",
    "POSSIBLE_EXISTENCE",
    "HISTORICAL",
    "HYPOTHETICAL",
    "FAMILY",
    "PSEUDO",
    "TERMINATE",
)


def default_patterns_dir() -> Path:
    """patterns/ inside the installed wheel, or at the top of a source checkout."""
    found = data_dir("patterns", "concepts.json")
    if found is None:
        raise PatternFileError("no patterns/ folder with concepts.json in nmsnlp; reinstall nmsnlp or pass patterns_dir")
    return found


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class TargetRule:
    id: str
    concept: str | None  # None: a pseudo rule, matched so that its text is not a mention
    category: str | None
    terms: tuple[str, ...]
    case_sensitive: bool = False
    requires_value: bool = False
    assertion: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class SectionRule:
    id: str
    section: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class HabitRule:
    """Substance-use wording ("alcohol", "drug use", "smokes cigarettes"): social history wherever it is written."""

    id: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class StatusRule:
    id: str
    status: str
    position: str  # "before" or "after" the drug
    terms: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    """Everything in one patterns/ folder, validated."""

    concepts: dict[str, str]  # concept -> category
    drug_classes: dict[str, str]  # drug concept -> class
    targets: tuple[TargetRule, ...]
    sections: tuple[SectionRule, ...]
    statuses: tuple[StatusRule, ...]
    context: tuple[dict[str, Any], ...]  # medspaCy ConTextRule keyword arguments, validated
    habits: tuple[HabitRule, ...]
    source: str = field(default="", compare=False)

    def to_records(self) -> dict[str, list[dict[str, Any]]]:
        """The rule set as JSON-ready records (used by the components' to_disk)."""
        return {
            "targets": [
                {
                    "id": r.id,
                    "concept": r.concept,
                    "terms": list(r.terms),
                    **({"case_sensitive": True} if r.case_sensitive else {}),
                    **({"requires_value": True} if r.requires_value else {}),
                    **({"assert": dict(r.assertion)} if r.assertion else {}),
                }
                for r in self.targets
            ],
            "sections": [{"id": r.id, "section": r.section, "terms": list(r.terms)} for r in self.sections],
            "drug_status": [
                {"id": r.id, "status": r.status, "position": r.position, "terms": list(r.terms)}
                for r in self.statuses
            ],
            "context": [dict(r) for r in self.context],
            "habits": [{"id": r.id, "terms": list(r.terms)} for r in self.habits],
        }


# --------------------------------------------------------------------------- validation


def _read_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PatternFileError(f"{path}: cannot read rule file ({exc})") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PatternFileError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise PatternFileError(f"{path}:{lineno}: expected a JSON object, found {type(record).__name__}")
        yield lineno, record


def _check_keys(where: str, record: dict[str, Any], required: set[str], allowed: set[str]) -> None:
    unknown = set(record) - allowed
    if unknown:
        raise PatternFileError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = required - set(record)
    if missing:
        raise PatternFileError(f"{where}: missing key(s) {sorted(missing)}")


def _terms(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) and t.strip() for t in value):
        raise PatternFileError(f"{where}: 'terms' must be a non-empty list of non-empty strings")
    if len(set(value)) != len(value):
        dupes = sorted({t for t in value if value.count(t) > 1})
        raise PatternFileError(f"{where}: duplicate terms {dupes}")
    return tuple(value)


def load_concepts(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PatternFileError(f"{path}: cannot read concept list ({exc})") from exc
    concepts: dict[str, str] = {}
    classes: dict[str, str] = {}
    for category, members in data.items():
        if category.startswith("_"):
            continue
        if category not in CATEGORIES:
            raise PatternFileError(f"{path}: unknown category {category!r}; expected one of {CATEGORIES}")
        names = list(members.keys()) if isinstance(members, dict) else list(members)
        for name in names:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise PatternFileError(f"{path}: concept key {name!r} is not lower snake_case")
            if name in concepts:
                raise PatternFileError(f"{path}: concept {name!r} listed twice")
            concepts[name] = category
        if isinstance(members, dict):
            classes.update(members)
    return concepts, classes


def load_rules(patterns_dir: str | Path | None = None) -> RuleSet:
    """Load and validate every rule file of a patterns/ folder."""
    root = Path(patterns_dir) if patterns_dir else default_patterns_dir()
    concepts, classes = load_concepts(root / "concepts.json")
    ids: dict[str, str] = {}

    def claim(rule_id: Any, where: str) -> str:
        if not isinstance(rule_id, str) or not rule_id:
            raise PatternFileError(f"{where}: 'id' must be a non-empty string")
        if rule_id in ids:
            raise PatternFileError(f"{where}: duplicate id {rule_id!r} (first in {ids[rule_id]})")
        ids[rule_id] = where
        return rule_id

    targets: list[TargetRule] = []
    target_files = sorted((root / "targets").glob("*.jsonl"))
    if not target_files:
        raise PatternFileError(f"{root / 'targets'}: no *.jsonl target rule files")
    for path in target_files:
        for lineno, rec in _read_jsonl(path):
            where = f"{path.name}:{lineno}"
            _check_keys(
                where,
                rec,
                {"id", "concept", "terms"},
                {"id", "concept", "terms", "case_sensitive", "requires_value", "assert", "comment"},
            )
            concept = rec["concept"]
            if concept is not None and concept not in concepts:
                raise PatternFileError(f"{where}: unknown concept {concept!r}; add it to concepts.json first")
            assertion = rec.get("assert", {})
            if not isinstance(assertion, dict) or set(assertion) - set(FLAGS):
                raise PatternFileError(f"{where}: 'assert' must map some of {FLAGS} to booleans")
            targets.append(
                TargetRule(
                    id=claim(rec["id"], where),
                    concept=concept,
                    category=concepts.get(concept) if concept else None,
                    terms=_terms(where, rec["terms"]),
                    case_sensitive=bool(rec.get("case_sensitive", False)),
                    requires_value=bool(rec.get("requires_value", False)),
                    assertion=tuple(sorted((k, bool(v)) for k, v in assertion.items())),
                )
            )

    sections: list[SectionRule] = []
    for lineno, rec in _read_jsonl(root / "sections.jsonl"):
        where = f"sections.jsonl:{lineno}"
        _check_keys(where, rec, {"id", "section", "terms"}, {"id", "section", "terms", "comment"})
        if not re.fullmatch(r"[a-z][a-z_]*", str(rec["section"])):
            raise PatternFileError(f"{where}: section name {rec['section']!r} is not lower snake_case")
        sections.append(SectionRule(claim(rec["id"], where), rec["section"], _terms(where, rec["terms"])))

    statuses: list[StatusRule] = []
    for lineno, rec in _read_jsonl(root / "drug_status.jsonl"):
        where = f"drug_status.jsonl:{lineno}"
        _check_keys(where, rec, {"id", "status", "position", "terms"}, {"id", "status", "position", "terms", "comment"})
        if rec["status"] not in DRUG_STATUSES:
            raise PatternFileError(f"{where}: unknown status {rec['status']!r}; expected one of {DRUG_STATUSES}")
        if rec["position"] not in ("before", "after"):
            raise PatternFileError(f"{where}: position must be 'before' or 'after', found {rec['position']!r}")
        statuses.append(StatusRule(claim(rec["id"], where), rec["status"], rec["position"], _terms(where, rec["terms"])))

    habits: list[HabitRule] = []
    for lineno, rec in _read_jsonl(root / "habits.jsonl"):
        where = f"habits.jsonl:{lineno}"
        _check_keys(where, rec, {"id", "terms"}, {"id", "terms", "comment"})
        habits.append(HabitRule(claim(rec["id"], where), _terms(where, rec["terms"])))

    context: list[dict[str, Any]] = []
    allowed_ctx = {"id", "literal", "category", "direction", "pattern", "max_scope", "max_targets",
                   "allowed_types", "excluded_types", "also", "terminated_by", "comment"}
    for lineno, rec in _read_jsonl(root / "context.jsonl"):
        where = f"context.jsonl:{lineno}"
        _check_keys(where, rec, {"id", "literal", "category", "direction"}, allowed_ctx)
        claim(rec["id"], where)
        if rec["category"] not in CONTEXT_CATEGORIES:
            raise PatternFileError(f"{where}: unknown ConText category {rec['category']!r}")
        if rec["direction"] not in ("FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"):
            raise PatternFileError(f"{where}: unknown direction {rec['direction']!r}")
        for key in ("allowed_types", "excluded_types"):
            for label in rec.get(key, []):
                if label.lower() not in CATEGORIES:
                    raise PatternFileError(f"{where}: {key} names {label!r}, not a mention category")
        if "pattern" in rec:
            _validate_token_pattern(where, rec["pattern"])
        for key in ("also", "terminated_by"):
            for cat in rec.get(key, []):
                if cat not in CONTEXT_CATEGORIES[:5]:
                    raise PatternFileError(f"{where}: {key!r} names {cat!r}, not an assertion category")
        context.append(rec)

    return RuleSet(
        concepts=concepts,
        drug_classes=classes,
        targets=tuple(targets),
        sections=tuple(sections),
        statuses=tuple(statuses),
        context=tuple(context),
        habits=tuple(habits),
        source=str(root),
    )


def _validate_token_pattern(where: str, pattern: Any) -> None:
    from spacy.schemas import validate_token_pattern

    errors = validate_token_pattern(pattern) if isinstance(pattern, list) else ["pattern must be a list"]
    if errors:
        raise PatternFileError(f"{where}: invalid token pattern: {errors}")


# --------------------------------------------------------------------------- scanners

_SEP = "\x00"  # stands for "optional space or hyphen" inside a trie key


_INNER_SEP = re.compile(r"(?<=[A-Za-z0-9])[\s\-]+(?=[A-Za-z0-9])")
# compiled once: norm_key runs for every match of every scanner (re.sub with a pattern string looks the
# compiled pattern up in re's cache on each call)
_SPACES = re.compile(r"\s+")
_SLASH_AMP = re.compile(r"\s*([/&])\s*")


@lru_cache(maxsize=1 << 16)  # a pure function, called on every scanner match; the same phrases come back
def norm_key(text: str, case_sensitive: bool = False) -> str:
    """The lookup key of a matched phrase: spaces and hyphens between words removed, other runs of
    white space made one space, lower-cased unless case-sensitive."""
    key = _SPACES.sub(" ", _INNER_SEP.sub("", _SLASH_AMP.sub(r"\1", text.strip())))
    return key if case_sensitive else key.lower()


def _trie_key(term: str) -> str:
    """A term as the trie spells it: _SEP for a space or hyphen between words, one space for other white space."""
    return _SPACES.sub(" ", _INNER_SEP.sub(_SEP, term.strip()))


def _trie_regex(terms: Iterable[str]) -> str:
    """One regex alternation, factored by prefix, that prefers the longest term at a position."""
    trie: dict[str, Any] = {}
    for term in terms:
        node = trie
        for ch in _trie_key(term):
            node = node.setdefault(ch, {})
        node[""] = True

    def emit(node: dict[str, Any]) -> str:
        end = "" in node
        branches = []
        for ch in sorted(k for k in node if k):
            atom = r"[\s\-]*" if ch == _SEP else r"\s+" if ch == " " else re.escape(ch)
            branches.append(atom + emit(node[ch]))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if end else body

    return emit(trie)


# The prefilter below reads a folded copy of the text, as bytes: letters kept, every digit as "0", every
# other character as " " (a non-ASCII one through encode's "?", one byte per character, so offsets are
# kept); for case-insensitive terms also A-Z as a-z. A term the scanner matches folds to the fold of the
# term, and its word boundaries (?<![A-Za-z0-9]) and (?![A-Za-z]) fold to " ", and " " or "0". Under (?i)
# four non-ASCII letters also match ASCII ones (U+0130 and U+0131 match i, U+017F s, U+212A k;
# tests/test_rules.py checks this against every code point): a text that holds one is not prefiltered.
_FOLD = bytes.maketrans(
    bytes(range(256)), bytes(c if 65 <= c <= 90 or 97 <= c <= 122 else 48 if 48 <= c <= 57 else 32 for c in range(256))
)
_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_FOLD_SPECIAL = re.compile("[\u0130\u0131\u017f\u212a]")
_DEFAULT_RIGHT = r"(?![A-Za-z])"
_LONG_SPAN = 2000  # characters: a longer span is not prefiltered
_COMMON = frozenset("a an and are as at be by for from had has he her his in is it its of on or she that the this to was were with".split())


def fold(text: str, case_sensitive: bool = True) -> bytes:
    """The folded text the prefilter reads: as long as `text`, position for position."""
    folded = text.encode("ascii", "replace").translate(_FOLD)
    return folded if case_sensitive else folded.translate(_LOWER)


class TermPrefilter:
    """Which sentences may hold a match of a TermScanner's regex: a superset, found in one Aho-Corasick
    pass (ahocorasick_rs) over the folded sentences instead of one regex search per sentence.

    A term's needles are its one or two literal chunks with the most letters (the chunks are the runs
    between the spaces and optional separators of its regex), folded, each with one character on either
    side: before it " " (the left boundary, or white space) or, after an optional separator, the fold of
    the previous chunk's last character; after it " " or "0" (the right boundary), " ", or the fold of the
    next chunk's first character. Any match of the term inside a sentence holds one variant of each of
    its needles there, so a sentence that lacks a needle of every term has no match."""

    def __init__(self, terms: Iterable[tuple[str, bool]], right_boundary: str):
        self.usable = True
        self._needs: list[int] = []  # per term: the bits of all its needles
        # by case sensitivity: (needle, bytes after the chunk, chunk length) -> the (term, bit) it stands for
        patterns: dict[bool, dict[tuple[bytes, int, int], list[tuple[int, int]]]] = {False: {}, True: {}}
        ends = [" ", "0"] if right_boundary == _DEFAULT_RIGHT else None
        for term, cs in terms:
            key = _trie_key(term)
            if not key.isascii():
                self.usable = False  # (never so in the shipped rules) no safe needle: keep every sentence
                continue
            chunks = re.split(f"([ {_SEP}])", key)  # chunk, separator, chunk, ...
            # the chunks with the most letters (digits and marks fold to common bytes); the second only if
            # it has two letters and is no common word (which would be found in every other sentence)
            letters = {k: sum(c.isalpha() for c in chunks[k]) for k in range(0, len(chunks), 2)}
            order = sorted(letters, key=lambda k: (-letters[k], -len(chunks[k])))
            second = order[1:2] if len(order) > 1 and letters[order[1]] >= 2 and chunks[order[1]].lower() not in _COMMON else []
            picked = order[:1] + second
            t = len(self._needs)
            self._needs.append((1 << len(picked)) - 1)
            for bit, i in enumerate(picked):
                for before in self._side(chunks, i - 1, i - 2, -1, [" "]):
                    for after in self._side(chunks, i + 1, i + 2, 0, ends):
                        needle = fold(before + chunks[i] + after, cs)
                        patterns[cs].setdefault((needle, len(after), len(chunks[i])), []).append((t, 1 << bit))
        # per pattern: bytes after the chunk, chunk length, whether it alone is a whole term, its (term, bit)s
        self._patterns = {
            cs: [(after, length, any(self._needs[t] == bit for t, bit in members), members)
                 for (_n, after, length), members in patterns[cs].items()]
            for cs in (False, True)
        }
        self._automata = {
            cs: ahocorasick_rs.BytesAhoCorasick([n for n, _a, _l in patterns[cs]], implementation=ahocorasick_rs.Implementation.DFA)
            for cs in (False, True)
        }

    @staticmethod
    def _side(chunks: list[str], sep: int, other: int, edge: int, at_end: list[str] | None) -> list[str]:
        """The characters that can stand next to a chunk: at the term's edge the boundary (`at_end`, or ""
        when it is not known); across a space (\\s+) " "; across an optional separator ([\\s\\-]*) " " or
        the neighbouring chunk's character at `edge`."""
        if not 0 <= sep < len(chunks):
            return at_end if at_end is not None else [""]
        if chunks[sep] == " ":
            return [" "]
        return [" ", chunks[other][edge]]

    def sentences(self, text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """The spans (sorted, not overlapping) that may hold a match: every span that does, maybe more."""
        if not self.usable or (not text.isascii() and _FOLD_SPECIAL.search(text)):
            return list(spans)
        # One string of the folded spans, each as the regex sees it in search(text, start, end): the
        # character before it (which its left boundary looks at; " " at the start of the text), the span,
        # and " " for the end (past which it sees nothing, so the right boundary holds there).
        folded = fold(text)
        keep: set[int] = set()
        pieces, starts, ends, which = [], [], [], []  # which: the index in `spans` of each piece
        pos = 1
        for k, (s, e) in enumerate(spans):
            if e - s > _LONG_SPAN:
                # kept as it is: the regex stops at its first match, where the automaton would list every
                # needle (a long run-on note full of triggers)
                keep.add(k)
                continue
            pieces.append(folded[s - 1 : e] if s else b" " + folded[:e])  # the " " after it: the join's
            starts.append(pos)
            ends.append(pos + e - s)
            which.append(k)
            pos += e - s + 2
        joined = b" ".join(pieces) + b" "
        found: dict[tuple[int, int], int] = {}  # (span, term) -> the bits of the term's needles found in the span
        needs = self._needs
        for cs in (False, True):
            patterns = self._patterns[cs]
            for index, _start, stop in self._automata[cs].find_matches_as_indexes(
                joined if cs else joined.translate(_LOWER), overlapping=True
            ):
                after, length, whole, members = patterns[index]
                end = stop - after  # where the chunk ends in the joined string
                j = bisect.bisect_right(starts, end - length) - 1
                if j < 0 or end > ends[j] or which[j] in keep:
                    continue  # not inside one span, or that span is kept already
                k = which[j]
                if whole:
                    keep.add(k)
                    continue
                for term, bit in members:
                    bits = found.get((k, term), 0) | bit
                    if bits == needs[term]:
                        keep.add(k)
                        break
                    found[(k, term)] = bits
        return [spans[k] for k in sorted(keep)]


@dataclass(frozen=True)
class TermScanner:
    """One compiled regex for a set of phrases; finds them with word boundaries and maps each back."""

    regex: re.Pattern[str]
    lookup: dict[str, Any]  # "i:<key>" or "s:<key>" -> payload
    prefilter: TermPrefilter

    @classmethod
    def build(cls, entries: Iterable[tuple[str, bool, Any]], right_boundary: str = r"(?![A-Za-z])") -> TermScanner:
        """entries: (term, case_sensitive, payload). The first payload for a key wins."""
        lookup: dict[str, Any] = {}
        ci_terms: list[str] = []
        cs_terms: list[str] = []
        for term, cs, payload in entries:
            key = ("s:" if cs else "i:") + norm_key(term, cs)
            if key not in lookup:
                lookup[key] = payload
                (cs_terms if cs else ci_terms).append(term if cs else term.lower())
        parts = []
        if ci_terms:
            parts.append(f"(?P<ci>(?i:{_trie_regex(ci_terms)}))")
        if cs_terms:
            parts.append(f"(?P<cs>{_trie_regex(cs_terms)})")
        pattern = r"(?<![A-Za-z0-9])(?:" + "|".join(parts or ["(?!x)x"]) + ")" + right_boundary
        return cls(re.compile(pattern), lookup, TermPrefilter([*((t, False) for t in ci_terms), *((t, True) for t in cs_terms)], right_boundary))

    def spans_with_match(self, text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """The spans (sorted, not overlapping) in which the regex finds a match: exactly those for which
        `regex.search(text, start, end)` does; only the prefilter's superset is searched."""
        search = self.regex.search
        return [(s, e) for s, e in self.prefilter.sentences(text, spans) if search(text, s, e) is not None]

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None) -> Iterable[tuple[int, int, Any]]:
        end = len(text) if endpos is None else endpos
        for m in self.regex.finditer(text, pos, end):
            if m.group("ci") is not None if "ci" in self.regex.groupindex else False:
                payload = self.lookup.get("i:" + norm_key(m.group(), False))
            else:
                payload = self.lookup.get("s:" + norm_key(m.group(), True))
            if payload is not None:
                yield m.start(), m.end(), payload


@lru_cache(maxsize=8)
def cached_rules(patterns_dir: str | None = None) -> RuleSet:
    return load_rules(patterns_dir)


def write_rules(rules: RuleSet, path: str | Path) -> None:
    """Write a rule set as a patterns/ folder that load_rules() reads back unchanged."""
    root = Path(path)
    (root / "targets").mkdir(parents=True, exist_ok=True)
    concepts: dict[str, Any] = {}
    for concept, category in rules.concepts.items():
        if category == "drug":
            concepts.setdefault("drug", {})[concept] = rules.drug_classes.get(concept, "other")
        else:
            concepts.setdefault(category, []).append(concept)
    (root / "concepts.json").write_text(json.dumps(concepts, indent=1), encoding="utf-8")
    records = rules.to_records()
    files = {
        root / "targets" / "targets.jsonl": records["targets"],
        root / "sections.jsonl": records["sections"],
        root / "drug_status.jsonl": records["drug_status"],
        root / "context.jsonl": records["context"],
        root / "habits.jsonl": records["habits"],
    }
    for file, rows in files.items():
        file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
