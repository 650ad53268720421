"""Rule files in patterns/ are data with a schema, validated strictly."""

from __future__ import annotations

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
