"""The spaCy pipeline: tokenizer, sentences, sections, factories, serialization, fast path = full path."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import spacy
from hypothesis import example, given, settings
from hypothesis import strategies as st

import nmsnlp
from nmsnlp.extraction.pipeline import PIPE_NAMES

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("T39.8", ["T", "39.8"]),
        ("HR130s", ["HR", "130", "s"]),
        ("104.2F", ["104.2", "F"]),
        ("CK:12,450", ["CK", ":", "12,450"]),
        ("BP180/110", ["BP", "180", "/", "110"]),
        ("d/c'd", ["d", "/", "c", "'", "d"]),
        ("s/p", ["s", "/", "p"]),
        ("c/o", ["c", "/", "o"]),
        ("q2wk", ["q", "2", "wk"]),
        ("x2", ["x", "2"]),
        ("2,100->8,450", ["2,100", "->", "8,450"]),
        ("?NMS", ["?", "NMS"]),
    ],
)
def test_tokenizer_splits_clinical_run_ons(nlp, text, tokens):
    assert [t.text for t in nlp.make_doc(text)] == tokens


def _sentences(nlp, text):
    doc = nlp(text)
    return [s.text.strip() for s in doc.sents]


def test_sentences_follow_line_structure(nlp):
    text = "HPI: 45M with fever.\nMeds:\n- haloperidol 5 mg\n- Sinemet 25/100\nVitals: T 39.4, HR 124"
    assert _sentences(nlp, text) == [
        "HPI: 45M with fever.", "Meds:", "- haloperidol 5 mg", "- Sinemet 25/100", "Vitals: T 39.4, HR 124",
    ]


def test_sentences_split_inline_but_not_after_abbreviations(nlp):
    text = "Seen by Dr. Lee today. Pt on haldol 5 mg p.o. daily. CK rising."
    assert _sentences(nlp, text) == ["Seen by Dr. Lee today.", "Pt on haldol 5 mg p.o. daily.", "CK rising."]


def test_wrapped_narrative_lines_stay_one_sentence(nlp):
    text = "The patient was brought in by ambulance after being found confused and\nrigid at home by his sister."
    assert len(_sentences(nlp, text)) == 1


@pytest.mark.parametrize(
    ("header", "section"),
    [
        ("HPI:", "hpi"), ("History of Present Illness:", "hpi"), ("PMH:", "past_medical_history"),
        ("Past Medical History:", "past_medical_history"), ("Meds:", "medications"),
        ("Home medications:", "medications"), ("Allergies:", "allergies"),
        ("ALLERGIES/ADVERSE REACTIONS:", "allergies"), ("FHx:", "family_history"),
        ("Family History:", "family_history"), ("A/P:", "assessment_plan"),
        ("Assessment and Plan:", "assessment_plan"), ("Impression:", "assessment_plan"),
        ("Hospital Course:", "hospital_course"), ("Discharge Medications:", "discharge_medications"),
        ("HOSPITAL COURSE", "hospital_course"),
    ],
)
def test_section_headers(extractor, header, section):
    mentions = extractor(f"{header}\nfever and rigidity")
    assert {m.section for m in mentions} == {section}


def test_inline_upper_case_headers(extractor):
    text = "Seen today. PAST MEDICAL HISTORY: NMS in 2015. FAMILY HISTORY: mother with NMS."
    by_section = {m.section: m for m in extractor(text)}
    assert by_section["past_medical_history"].historical
    assert by_section["family_history"].family


def test_factories_declare_what_they_assign_and_require(nlp):
    analysis = nlp.analyze_pipes()
    assert analysis["problems"] == {name: [] for name in PIPE_NAMES}
    assert nlp.pipe_names == list(PIPE_NAMES)


def test_unknown_config_key_is_rejected():
    nlp = spacy.blank("en")
    with pytest.raises(Exception, match="treshold"):
        nlp.add_pipe("nmsnlp_mentions", config={"treshold": 3})


def test_round_trip_to_disk_keeps_rules(tmp_path, nlp):
    text = "Started Haldol dec; T 104.2F, lead-pipe rigidity. No clonus. Allergies: Reglan (NMS)"
    before = [(s.start_char, s.end_char, s.label_, dict(s._.nmsnlp)) for s in nlp(text).spans["nmsnlp"]]
    nlp.to_disk(tmp_path / "pipe")
    loaded = spacy.load(tmp_path / "pipe")
    after = [(s.start_char, s.end_char, s.label_, dict(s._.nmsnlp)) for s in loaded(text).spans["nmsnlp"]]
    assert before == after and len(before) >= 6


def test_round_trip_keeps_custom_rules(tmp_path):
    """Rules from another patterns folder travel with the saved pipeline."""
    import shutil

    custom = tmp_path / "patterns"
    shutil.copytree(ROOT / "patterns", custom)
    with (custom / "targets" / "drugs.jsonl").open("a") as fh:
        fh.write(json.dumps({"id": "drug.haloperidol.local", "concept": "haloperidol", "terms": ["halo-x"]}) + "\n")
    nlp = nmsnlp.load(custom)
    nlp.to_disk(tmp_path / "pipe")
    loaded = spacy.load(tmp_path / "pipe")
    doc = loaded("Given halo-x 5 mg")
    assert [s._.nmsnlp["concept"] for s in doc.spans["nmsnlp"]] == ["haloperidol"]


def _varied_notes() -> list[str]:
    notes = []
    for path in [*sorted((ROOT / "corpora" / "notes").glob("*.jsonl")), ROOT / "corpora" / "demo" / "notes.jsonl"]:
        if path.exists():
            notes += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    from markup import load_cases

    notes += [c.text for c in load_cases(Path(__file__).parent / "cases")][::5]
    notes += [
        "HPI:\r\nFever to 104.5\r\nPMH: NMS 2019\r\n",  # CRLF
        "Pt café-au-lait, naïve to Haldol → febrile 39.2°C, CK 14 320? NMS — r/o.",  # non-ASCII
        "no fever\n\n\nrigidity\tpresent   HR130s BP180/110",
    ]
    return notes


def test_the_condensed_docs_sentence_bounds_are_those_its_tokens_give(extractor):
    """The fast path sets each condensed Doc's sentence bounds from the candidate sentences; they equal what
    sentence_bounds reads from the Doc's tokens."""
    from nmsnlp.extraction.base import BOUNDS_KEY, sentence_bounds
    from nmsnlp.extraction.extractor import check_text

    checked = 0
    for text in _varied_notes():
        clean = check_text(text)
        headers, sentences = extractor.structure.analyse(clean)
        candidates = extractor.mentions.sentences_with_trigger(clean, sentences)
        if not candidates:
            continue
        doc, _ = extractor.condensed_doc(clean, headers, candidates)
        given = doc.user_data.pop(BOUNDS_KEY)
        assert given == sentence_bounds(doc), text[:80]
        checked += len(given)
    assert checked > 1000


def test_fast_path_equals_full_path(extractor):
    notes = _varied_notes()
    assert len(notes) > 100
    total = 0
    for text in notes:
        fast, full = extractor(text), extractor.full(text)
        assert [m.to_dict() for m in fast] == [m.to_dict() for m in full], text[:80]
        total += len(fast)
    assert total > 1000


@pytest.mark.parametrize(
    "text",
    ["Fever 39.2\r\nrigid\r\nCK 14,320\r\n", "Pt naïve → fever, rigidité, CK 18k, Haldol…", "\ufeffT 104.2F\u2028HR 130s"],
)
def test_offsets_index_the_original_text(extractor, text):
    mentions = extractor(text, "n1")
    assert mentions
    for m in mentions:
        assert text[m.start : m.end] == m.text


def test_importing_nmsnlp_leaves_no_global_ignore_filter():
    import subprocess
    import sys

    code = ("import warnings, nmsnlp; nmsnlp.extract('no fever'); "
            "print(any(f[0] == 'ignore' and f[1] is None and f[2] is Warning for f in warnings.filters))")  # a blanket ignore
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_note_text_in_logs(extractor, caplog):
    secret = "Zyxwvut Qwertyson fever 39.9 haloperidol"
    with caplog.at_level(logging.DEBUG):
        extractor(secret, "n1")
        extractor.full(secret, "n1")
    assert "Zyxwvut" not in caplog.text and "Qwertyson" not in caplog.text


def test_warnings_are_errors_in_this_suite():
    with pytest.raises(UserWarning):
        warnings.warn("x", UserWarning, stacklevel=1)


def test_import_is_cheap_and_medspacy_extras_stay_unloaded():
    code = ("import sys, time; t = time.perf_counter(); import nmsnlp; t = time.perf_counter() - t; "
            "heavy = [m for m in ('spacy', 'medspacy', 'sklearn') if m in sys.modules]; "
            "nmsnlp.extract('no fever'); "
            "print(heavy, 'quickumls.core' in sys.modules, 'nltk' in sys.modules, 'medspacy.target_matcher' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] False False False", out


def test_spacy_command_line_stays_unloaded_and_still_works():
    """spaCy's command line (every spaCy command, requests, jinja2) is not imported with spaCy; asked for, it is
    all there as spaCy makes it: spacy.info(), spacy.cli's commands and app."""
    code = ("import sys, nmsnlp; nmsnlp.extract('no fever'); "
            "print([m for m in ('spacy.cli.download', 'spacy.cli.init_config', 'requests', 'jinja2') if m in sys.modules]); "
            "import spacy; print(sorted(spacy.info())[:2]); "
            "from spacy.cli import download; import spacy.cli; "
            "print(download.__module__, type(spacy.cli.app).__name__, 'spacy.cli.download' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["[]", "['location', 'pipelines']", "spacy.cli.download Typer True"], out


def test_medspacy_still_loads_in_full_after_nmsnlp():
    code = ("import warnings, nmsnlp; nmsnlp.extract('no fever'); import medspacy; "
            "nlp = medspacy.load(medspacy_enable=['medspacy_context']); print(type(nlp).__name__)")
    with_filters = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    assert with_filters.stdout.strip() == "English"


def test_scoring_imports_no_scikit_learn_and_a_pool_main_process_no_spacy():
    """Screening reads the model's coefficients without scikit-learn (about a second per process), and
    the main process of a worker pool, which only reads, chunks and assembles, never imports spaCy."""
    code = ("import sys\n"
            "from nmsnlp.batch.screen import ChunkTask\n"
            "task = ChunkTask(None, None, '')\n"
            "threshold = task.threshold()\n"
            "main = [m for m in ('spacy', 'sklearn', 'scipy', 'pandas') if m in sys.modules]\n"
            "from nmsnlp.batch.partition import scorer_for\n"
            "score, _ = scorer_for(None)('Assessment: NMS on haloperidol. Temp 40.1 C, lead-pipe rigidity, CK 9,000.', '1')\n"
            "print(main, [m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules], 0 < threshold < 1, score.flagged)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] [] True True", out


def test_scores_from_the_file_read_without_scikit_learn_equal_its_pipeline():
    from nmsnlp.scoring.model import load_model

    model = load_model()
    rows = [{"fever": 1.0, "rigidity": 1.0}, {"combo:exposure_and_core": 1.0, "ck_max_log": 3.2}, {}]
    rows = [{k: v for k, v in r.items() if k in model.linear.vocabulary} for r in rows]
    assert [round(model.score_one(r), 12) for r in rows] == [round(float(p), 12) for p in model.predict_proba(rows)]
    clf = model.pipeline.named_steps["classify"]
    assert model.linear.coef == tuple(float(c) for c in clf.coef_[0]) and model.linear.intercept == float(clf.intercept_[0])


_STRUCTURE_TEXT = st.lists(
    st.sampled_from(["a", "A", ".", "!", "?", ":", ",", ")", "(", " ", "  ", "\t", "\n", "1", "12) ", "HPI", "MEDS", "Dr.", "#", "-"]),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_STRUCTURE_TEXT)
@example("(x)HPI:.MEDS: ,HPI  :;  HPI:\tMEDS:")
@example("Seen.  12) Next! A? 1) x\t\t12) y.\t#z")
def test_the_fast_structure_regexes_match_as_their_plain_forms(text):
    """text.py reorders two regexes so the engine can skip ahead in C; they must match exactly as the
    plain forms did."""
    import re

    from nmsnlp.extraction.text import _INLINE_END, SectionFinder

    plain_end = re.compile(r"(?<=[.!?])[ \t]+(?=[\"'(\[]?[A-Z0-9•\-*#])|[ \t]{2,}(?=\d{1,2}\)[ \t])")
    assert [m.span() for m in _INLINE_END.finditer(text)] == [m.span() for m in plain_end.finditer(text)]
    finder = SectionFinder.__new__(SectionFinder)
    fast = [(m.start("phrase"), m.group("phrase"), m.end()) for m in finder._inline_headers(text)]
    assert fast == [(m.start("phrase"), m.group("phrase"), m.end()) for m in SectionFinder._INLINE.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["=", "-", "_", " ", "a", "\x00", "\x1f", "\x7f", "é", "😀", "=" * 30, "#" * 64]), max_size=12).map("".join))
@example("=" * 64)
@example("=" * 63 + "a")
@example("\x7f" * 64)
def test_the_long_run_check_agrees_with_its_regex(text):
    from nmsnlp.extraction.extractor import _LONG_RUN, _has_long_run

    assert _has_long_run(text) == (_LONG_RUN.search(text) is not None)


_CLAUSE_TEXT = st.lists(
    st.sampled_from(["call MD for ", "notify ", "hold if ", "ſtop if ", "\u212aeep T < ", "if temp ", "prn ", "goal SBP ",
                     "fever ", "T 39.2 ", "; ", ". ", "in 2019 ", "2021: ", "Oct 2018 ", "discharged 4/18 after ",
                     "since her last hospitalization ", "hospitalized 3/2-", "DISCHARGED ", "a", " ", "1920 ", "20"]),
    max_size=14,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_CLAUSE_TEXT, st.integers(0, 400), st.integers(0, 400))
@example("\u212aeep T < fever ", 0, 10)
@example("ſtop if fever ", 0, 8)
def test_the_prefiltered_segment_checks_equal_their_regexes(text, a, b):
    """segments.py skips the parameter, year and hospital-stay regexes where a word every match holds is
    absent (in ASCII text only, as a case-blind regex also reads "ſ" as "s" and the Kelvin sign as "k")."""
    from nmsnlp.extraction import segments as S

    start = min(a, len(text))
    sent_end = max(start, min(b, len(text)))
    lo = text.rfind(";", 0, start) + 1
    hi = text.find(";", start, sent_end)
    plain = any(m.start() < start for m in S._PARAMETER.finditer(text, lo, sent_end if hi == -1 else hi))
    seen: dict[tuple[int, int], int] = {}
    assert S.in_parameter(text, 0, start, sent_end) == plain
    assert S.in_parameter(text, 0, start, sent_end, seen) == plain == S.in_parameter(text, 0, start, sent_end, seen)
    dated = (S._YEAR_LABEL.match(text, lo, start) is not None or S._YEAR_BEFORE.search(text, lo, start) is not None
             or S._STAY_BEFORE.search(text, lo, start) is not None)
    assert S.dated_before(text, 0, start) == dated


@settings(max_examples=400, deadline=None)
@given(st.text(st.sampled_from("aZ./ \t1é-"), max_size=30).map(lambda t: t + "."), st.integers(0, 30))
def test_the_word_before_a_period_equals_its_regex(text, lo):
    """text.py reads the word before a sentence's period with str.rstrip, as _WORD_BEFORE's search finds it."""
    from nmsnlp.extraction import text as T

    lo = min(lo, len(text) - 1)
    m = T._WORD_BEFORE.search(text, lo, len(text))
    assert T._word_before(text, lo, len(text)) == (m.group(1) if m else "")


def test_context_matching_rule_by_rule_equals_the_matcher_of_all_rules(nlp):
    """ConText's token-pattern rules, matched by a Matcher of each rule a sentence may hold, give the matches of
    the Matcher of all rules over that sentence; after medspaCy's pruning (which sorts them), the same list."""
    from medspacy.common.util import prune_overlapping_matches

    from nmsnlp.extraction.context import SentenceScopedMatcher

    context = nlp.get_pipe("nmsnlp_context")._context
    scoped = context._ConText__matcher._MedspacyMatcher__matcher
    assert scoped.by_rule is not None and context._ConText__matcher._prune
    whole = SentenceScopedMatcher(scoped.matcher, [r for r in context.rules if isinstance(r.pattern, list)], nlp.vocab)
    before = [proc for name, proc in nlp.pipeline if name in ("nmsnlp_structure", "nmsnlp_mentions")]
    texts = [*_varied_notes(), "She is a 45-year-old woman, NMS in March 2019 per her husband; in 1998 probable NMS."]
    compared = 0
    for text in texts:
        doc = nlp.make_doc(text)
        for proc in before:
            doc = proc(doc)
        by_rule, all_rules = scoped(doc), whole(doc)
        assert sorted(by_rule) == sorted(all_rules), text[:80]
        assert prune_overlapping_matches(by_rule) == prune_overlapping_matches(all_rules), text[:80]
        compared += len(by_rule)
    assert compared > 50
    # two rules that match the same tokens: the sentence is matched by the Matcher of all rules, in its order
    ConTextRule = type(context.rules[0])
    twins = [ConTextRule("one two", "NEGATED_EXISTENCE", pattern=[{"LOWER": "one"}, {"LOWER": "two"}]) for _ in range(2)]
    from spacy.matcher import Matcher

    matcher = Matcher(nlp.vocab)
    for i, rule in enumerate(twins):
        rule._rule_id = f"twin_{i}"
        matcher.add(rule._rule_id, [rule.pattern])
    doc = nlp.make_doc("one two three")
    assert SentenceScopedMatcher(matcher, twins, nlp.vocab, by_rule=True)(doc) == matcher(doc)


def test_context_sentence_by_sentence_equals_medspacy_call(nlp):
    """run_context gives every mention the modifiers, with the same rules, spans and scopes, that
    medspaCy's own ConText call gives it."""
    from nmsnlp.extraction.base import SPAN_GROUP
    from nmsnlp.extraction.context import run_context

    context = nlp.get_pipe("nmsnlp_context")._context
    before = [proc for name, proc in nlp.pipeline if name in ("nmsnlp_structure", "nmsnlp_mentions")]
    compared = 0
    for text in _varied_notes():
        docs = []
        for run in (run_context, lambda ctx, d: ctx(d)):
            doc = nlp.make_doc(text)
            for proc in before:
                doc = proc(doc)
            run(context, doc)
            docs.append([[(m.rule.literal, m.category, m.modifier_span, m.scope_span) for m in span._.modifiers]
                         + [getattr(span._, a) for a in ("is_negated", "is_uncertain", "is_historical", "is_hypothetical", "is_family")]
                         for span in doc.spans.get(SPAN_GROUP, [])])
        assert docs[0] == docs[1], text[:80]
        compared += sum(len(d) for d in docs[0])
    assert compared > 1000
