"""Inline markup for mention-level test cases: `No <m c=fever neg>fever</m>.` (see tests/cases/README.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FLAG_NAMES = {"neg": "negated", "unc": "uncertain", "hist": "historical", "hyp": "hypothetical", "fam": "family"}
_ATTR = re.compile(r"\s+(\w+)(?:=(>|<|[^\s>]+))?")


@dataclass
class Gold:
    concept: str
    start: int
    end: int
    flags: dict[str, bool]
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Case:
    id: str
    text: str
    gold: list[Gold]


def parse(line: str, case_id: str = "") -> Case:
    line = line.replace("\\n", "\n")
    out: list[str] = []
    stack: list[tuple[int, dict[str, str], set[str]]] = []
    gold: list[Gold] = []
    pos = 0
    i = 0
    while i < len(line):
        if line.startswith("<m", i) and (i + 2 < len(line) and line[i + 2] in " \t>"):
            j = i + 2
            attrs: dict[str, str] = {}
            flags: set[str] = set()
            while True:
                m = _ATTR.match(line, j)
                if not m:
                    break
                key, val = m.group(1), m.group(2)
                if val is None:
                    if key not in FLAG_NAMES:
                        raise ValueError(f"{case_id}: unknown flag {key!r}")
                    flags.add(FLAG_NAMES[key])
                else:
                    attrs[key] = val
                j = m.end()
            close = re.compile(r"\s*>").match(line, j)
            if not close or "c" not in attrs:
                raise ValueError(f"{case_id}: malformed tag at column {i}")
            stack.append((pos, attrs, flags))
            i = close.end()
        elif line.startswith("</m>", i):
            if not stack:
                raise ValueError(f"{case_id}: </m> without <m>")
            start, attrs, flags = stack.pop()
            concept = attrs.pop("c")
            gold.append(Gold(concept, start, pos, {f: f in flags for f in FLAG_NAMES.values()}, attrs))
            i += 4
        else:
            out.append(line[i])
            pos += 1
            i += 1
    if stack:
        raise ValueError(f"{case_id}: unclosed <m>")
    return Case(case_id, "".join(out), sorted(gold, key=lambda g: (g.start, g.end)))


def load_cases(folder: Path) -> list[Case]:
    cases = []
    for path in sorted(folder.glob("*.txt")):
        if path.name == "known_failures.txt":
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cases.append(parse(line, f"{path.name}:{lineno}"))
    return cases


def check(case: Case, mentions: list) -> list[str]:
    """Differences between the gold of a case and predicted mentions (empty when it passes)."""
    problems: list[str] = []
    used: set[int] = set()
    for g in case.gold:
        idx = next(
            (k for k, m in enumerate(mentions)
             if k not in used and m.concept == g.concept and m.start < g.end and g.start < m.end),
            None,
        )
        label = f"{g.concept} {case.text[g.start:g.end]!r}"
        if idx is None:
            problems.append(f"missing {label}")
            continue
        used.add(idx)
        m = mentions[idx]
        for flag, want in g.flags.items():
            if getattr(m, flag) != want:
                problems.append(f"{label}: {flag}={getattr(m, flag)}, expected {want}")
        want_v = g.attrs.get("v")
        if want_v is None:
            if m.value is not None and m.category in ("lab", "vital"):
                problems.append(f"{label}: value={m.value}, expected none")
        elif m.value is None or abs(m.value - float(want_v)) > 0.05:
            problems.append(f"{label}: value={m.value}, expected {want_v}")
        if "u" in g.attrs and m.unit != g.attrs["u"]:
            problems.append(f"{label}: unit={m.unit}, expected {g.attrs['u']}")
        if (g.attrs.get("cmp") or None) != m.comparator:
            problems.append(f"{label}: comparator={m.comparator}, expected {g.attrs.get('cmp')}")
        if m.category == "drug" and g.attrs.get("ds") != m.drug_status:
            problems.append(f"{label}: drug_status={m.drug_status}, expected {g.attrs.get('ds')}")
        if "sec" in g.attrs and m.section != g.attrs["sec"]:
            problems.append(f"{label}: section={m.section}, expected {g.attrs['sec']}")
        if "q" in g.attrs and m.qualitative != g.attrs["q"]:
            problems.append(f"{label}: qualitative={m.qualitative}, expected {g.attrs['q']}")
        if "ref" in g.attrs and (m.ref_high is None or abs(m.ref_high - float(g.attrs["ref"])) > 0.05):
            problems.append(f"{label}: ref_high={m.ref_high}, expected {g.attrs['ref']}")
    for k, m in enumerate(mentions):
        if k not in used:
            problems.append(f"unexpected {m.concept} {m.text!r}")
    return problems
