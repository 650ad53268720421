"""Rule files in patterns/ are data with a schema, validated strictly."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from nmsnlp.errors import PatternFileError
from nmsnlp.extraction.rules import load_rules, write_rules

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_rule_file_loads():
    rules = load_rules(ROOT / "patterns")
    concepts = {r.concept for r in rules.targets if r.concept}
    assert concepts == set(rules.concepts), "every concept needs a target rule, and every rule a known concept"
    assert len(rules.context) > 500 and len(rules.sections) > 10 and len(rules.statuses) == 14


def test_context_literals_are_unique():
    """medspaCy keys ConText rules by literal: a repeated literal would silently drop a rule."""
    rules = load_rules(ROOT / "patterns")
    literals = [r["literal"].lower() for r in rules.context]
    assert len(literals) == len(set(literals))


@pytest.fixture()
def patterns(tmp_path):
    dest = tmp_path / "patterns"
    shutil.copytree(ROOT / "patterns", dest)
    return dest


def _append(path: Path, record: dict) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


@pytest.mark.parametrize(
    ("file", "record", "message"),
    [
        ("targets/drugs.jsonl", {"id": "x.1", "concept": "haldolx", "terms": ["a"]}, "unknown concept 'haldolx'"),
        ("targets/drugs.jsonl", {"id": "x.2", "concept": "haloperidol", "terms": ["a"], "colour": 1}, "unknown key"),
        ("targets/drugs.jsonl", {"id": "drug.haloperidol", "concept": "haloperidol", "terms": ["a"]}, "duplicate id"),
        ("targets/drugs.jsonl", {"id": "x.3", "concept": "haloperidol", "terms": []}, "non-empty list"),
        ("targets/drugs.jsonl", {"id": "x.4", "concept": "haloperidol", "terms": ["a", "a"]}, "duplicate terms"),
        ("drug_status.jsonl", {"id": "x.5", "status": "paused", "position": "before", "terms": ["a"]}, "unknown status"),
        ("context.jsonl", {"id": "x.6", "literal": "q", "category": "MAYBE", "direction": "FORWARD"}, "unknown ConText category"),
        ("context.jsonl", {"id": "x.7", "literal": "q", "category": "FAMILY", "direction": "FORWARD", "pattern": [{"LOWR": "q"}]}, "invalid token pattern"),
        ("sections.jsonl", {"id": "x.8", "section": "Bad Name", "terms": ["a"]}, "not lower snake_case"),
        ("context.jsonl", {"id": "x.9", "literal": "q", "category": "HISTORICAL", "direction": "FORWARD", "terminated_by": ["NEGATION"]}, "'terminated_by' names 'NEGATION'"),
        ("habits.jsonl", {"id": "x.10", "terms": ["khat"], "flags": ["historical"]}, "unknown key"),
        ("habits.jsonl", {"id": "x.11", "terms": []}, "non-empty list"),
    ],
)
def test_bad_rules_are_rejected_naming_file_line_and_key(patterns, file, record, message):
    _append(patterns / file, record)
    with pytest.raises(PatternFileError, match=message) as info:
        load_rules(patterns)
    assert Path(file).name in str(info.value)


def test_invalid_json_names_the_line(patterns):
    (patterns / "sections.jsonl").write_text('{"id": "a", "section": "hpi", "terms": ["x"]}\n{oops\n')
    with pytest.raises(PatternFileError, match=r"sections.jsonl:2: not valid JSON"):
        load_rules(patterns)


def test_write_rules_reads_back_unchanged(tmp_path):
    rules = load_rules(ROOT / "patterns")
    assert rules.habits and any("terminated_by" in r for r in rules.context)
    write_rules(rules, tmp_path / "copy")
    assert load_rules(tmp_path / "copy") == rules


def test_the_prefilter_fold_knows_every_letter_that_case_insensitive_matching_reads_as_ascii():
    """rules.fold reads only ASCII letters as letters; the non-ASCII code points that (?i) matches to an
    ASCII character must be exactly those after which a note is not prefiltered."""
    import re
    import sys

    from nmsnlp.extraction.rules import _FOLD_SPECIAL

    ascii_class = re.compile("(?i)[\x00-\x7f]")
    found = {chr(c) for c in range(128, sys.maxunicode + 1) if ascii_class.fullmatch(chr(c))}
    assert found == set(_FOLD_SPECIAL.pattern[1:-1])  # "[İıſK]"


def _variants(term: str) -> list[str]:
    """A term as notes write it: in other cases, with other separators, at the edge of a sentence or
    inside punctuation and digits."""
    spaced = term.replace(" ", "  ").replace("-", " - ")
    joined = term.replace(" ", "").replace("-", "")
    out = []
    for t in {term, term.upper(), term.title(), spaced, joined}:
        out += [t, f"x {t} y", f"({t})", f"{t}1", f"1{t}", f"a.{t}.b", f"-{t}-", f"\t{t}\n", f"é{t}é"]
    return out


def test_the_prefilter_keeps_every_sentence_the_trigger_regex_finds():
    """The fast path searches only the sentences the Aho-Corasick prefilter keeps: it must keep each
    one where the scanner's regex finds a trigger (a superset), for every shipped term."""
    from nmsnlp.extraction.mentions import MentionComponent
    from nmsnlp.extraction.text import split_sentences

    mentions = MentionComponent(None, "m", 30)  # type: ignore[arg-type]
    mentions.set_rules(load_rules(ROOT / "patterns"))
    scanner = mentions.scanner
    assert scanner is not None and scanner.prefilter.usable
    terms = [t for r in mentions.rules.targets for t in r.terms]  # type: ignore[union-attr]
    checked = 0
    for i in range(0, len(terms), 8):
        # several terms to a text, some sentences touching (no space between them, as at a run-on header)
        parts = [v for t in terms[i : i + 8] for v in _variants(t)]
        text = " ".join(parts) + ". Next: " + ".".join(parts[::3])
        spans = split_sentences(text)
        cuts = sorted({0, *(m for m in range(0, len(text), 7)), len(text)})  # spans that cut through words too
        long_first = sorted({0, *(m for m in range(2500, len(text), 9)), len(text)})  # one span not prefiltered
        for spans_ in (spans, list(itertools.pairwise(cuts)), list(itertools.pairwise(long_first))):
            expected = [(s, e) for s, e in spans_ if scanner.regex.search(text, s, e)]
            assert scanner.spans_with_match(text, spans_) == expected, terms[i : i + 8]
            checked += len(expected)
    assert checked > len(terms)
