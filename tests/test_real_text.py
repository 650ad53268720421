"""Real-world text: EHR genres and case prose, clinician-documented NMS, and a model that evidence for
NMS cannot argue down."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nmsnlp.batch.partition import scorer_for
from nmsnlp.cli import app
from nmsnlp.evaluation.corpus import load_notes
from nmsnlp.scoring.features import FEATURE_DIRECTION, FEATURES, compute
from nmsnlp.scoring.model import load_model
from nmsnlp.scoring.training import fit_sign_constrained

ROOT = Path(__file__).resolve().parents[1]


def score(text: str):
    return scorer_for(None)(text, "n")[0]


# --------------------------------------------------------------------------- clinician-documented NMS


@pytest.mark.parametrize("text", [
    "Pt developed NMS after haloperidol this admission.",
    "Assessment: NMS.",
    "DISCHARGE DIAGNOSES:\n1. Neuroleptic malignant syndrome\n2. Schizophrenia",
    "Problem List:\n1. Neuroleptic malignant syndrome",
    "#NMS - day 4 of dantrolene, improving",
    "Her NMS is improving; CK down to 2,100.",
    "Impression: likely NMS.",
    "Working diagnosis: probable neuroleptic malignant syndrome.",
    "Presumed NMS from olanzapine; continue supportive care.",
])
def test_a_documented_current_nms_is_flagged_whatever_the_bedside_detail(text):
    s = score(text)
    assert s.nms_documented and s.flagged, (text, s.score)


@pytest.mark.parametrize("text", [
    "Possible NMS vs sepsis; cultures pending.",
    "r/o NMS.",
    "NMS ruled out: afebrile, CK 110, no rigidity.",
    "NMS precautions: temps q4h.",
    "Hx of NMS in 2017 on Haldol.",
    "Allergies: haloperidol (NMS 2019).",
    "Mother had NMS on Haldol.",
    "Educated patient on the warning signs of neuroleptic malignant syndrome.",
    "Seen 3 months after hospitalization for NMS; doing well.",
    "Working diagnosis of NMS on admission. Final diagnosis: anti-NMDA receptor encephalitis; NMS was excluded.",
])
def test_nms_that_is_not_a_documented_current_episode_is_not_nms_documented(text):
    assert not score(text).nms_documented, text


def test_nms_documented_reaches_the_scores_and_the_screening_list(tmp_path):
    src = tmp_path / "notes.jsonl"
    rows = [{"note_id": "1", "person_id": "p", "note_text": "Assessment: NMS."},
            {"note_id": "2", "person_id": "p", "note_text": "No fever. Discharged home."}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["screen", str(src), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    scores = [json.loads(line) for line in (tmp_path / "o" / "scores.jsonl").read_text().splitlines()]
    assert [s["nms_documented"] for s in scores] == [True, False]
    listed = list(csv.DictReader((tmp_path / "o" / "screening_list.csv").read_text().splitlines()))
    assert [(r["note_id"], r["nms_documented"]) for r in listed] == [("1", "True")]


# --------------------------------------------------------------------------- genres: templates, orders, instructions


@pytest.mark.parametrize("text", [
    "Nursing care plan, on haloperidol 5 mg BID.\nCall MD for temp > 38.5, HR > 120, SBP > 180 or new rigidity.\n"
    "Notify for CK > 1000. VS: T 36.8, HR 82, BP 124/78.",
    "ROS: [ ] Fever [ ] Rigidity [ ] Confusion [ ] Sweating [x] Anxiety\nMeds: olanzapine 10 mg qhs",
    "Medication guide - haloperidol. Serious side effects: get emergency help if you have high fever, stiff muscles, "
    "confusion or sweating - a rare reaction called neuroleptic malignant syndrome (NMS).",
    "Agitation order set: haloperidol 5 mg IM q6h PRN. Monitor for NMS: notify MD if T > 38.3 or rigidity.",
])
def test_templates_orders_and_instructions_do_not_flag(text):
    s = score(text)
    assert not s.flagged, (text, s.score, s.contributions)


def test_thresholds_in_parameters_are_not_readings():
    s = score("On haloperidol. Call MD for temp > 38.5, HR > 120, SBP > 180. Notify for CK > 1000.")
    assert s.criteria_points <= 20 and "val:ck_x4" not in s.contributions


@pytest.mark.parametrize("text", [
    "A 31-year-old man with schizophrenia presented 5 days after his haloperidol dose was doubled. He had a fever, "
    "recorded at 39.4 °C, marked generalized rigidity and fluctuating consciousness; pulse 130/min, blood pressure "
    "labile between 100/60 and 190/110 mmHg. Creatine kinase was markedly elevated. He improved with dantrolene "
    "and bromocriptine, with resolution of the rigidity and fever over 6 days.",
    "Reglan 10 mg IV q6h since POD1. POD3: T 39.2 C, HR 140s, lead-pipe rigidity, not following commands, CPK 9,800. "
    "Reglan d/c'd, cooling blanket.",
])
def test_an_unnamed_episode_in_prose_or_shorthand_is_flagged(text):
    s = score(text)
    assert s.flagged and not s.nms_documented, (s.score, s.contributions)


def test_a_past_episode_does_not_argue_a_current_one_down():
    current = ("On haloperidol since Monday. T 39.6, lead-pipe rigidity, confused, diaphoretic, CK 18,000. "
               "Haloperidol stopped, dantrolene started.")
    with_past = current + " She had a previous episode of NMS on risperidone in 2019."
    assert score(with_past).score >= score(current).score


# --------------------------------------------------------------------------- the sign-constrained model


def test_every_feature_has_a_direction():
    assert set(FEATURE_DIRECTION) == set(FEATURES)
    assert FEATURE_DIRECTION["nms:documented"] == 1 and FEATURE_DIRECTION["past_nms"] == 1
    assert FEATURE_DIRECTION["neg:rigidity"] == -1 and FEATURE_DIRECTION["dx:serotonin_syndrome"] == -1


def test_the_shipped_model_keeps_the_signs():
    model = load_model()
    vec, clf = model.pipeline.named_steps["vectorize"], model.pipeline.named_steps["classify"]
    for name, coef in zip(vec.get_feature_names_out(), clf.coef_[0]):
        assert coef * FEATURE_DIRECTION[str(name)] >= -1e-9, (name, coef)


def test_adding_evidence_for_nms_never_lowers_a_score_and_evidence_against_never_raises_it():
    model = load_model()
    scorer = scorer_for(None)
    rng = random.Random(7)
    notes = rng.sample(load_notes(ROOT / "corpora"), 60)
    feats = [compute(scorer.extractor(n["text"], n["note_id"]), scorer.drug_classes).values for n in notes]
    for f in feats:
        base = model.score_one(f)
        for name, direction in FEATURE_DIRECTION.items():
            if direction == 0:
                continue
            changed = dict(f)
            changed[name] = 1.0 if direction > 0 else max(changed.get(name, 0.0), 1.0)
            after = model.score_one(changed)
            if direction > 0:
                assert after >= base - 1e-12, (name, base, after)
            else:
                assert after <= base + 1e-12, (name, base, after)


def test_sign_constrained_fit_matches_unconstrained_when_no_bound_binds_and_respects_bounds():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x @ np.array([1.5, -2.0, 0.5]) + rng.normal(size=400) > 0).astype(int)
    w_free, _ = fit_sign_constrained(x, y, np.array([0, 0, 0]))
    w_ok, _ = fit_sign_constrained(x, y, np.array([1, -1, 1]))
    assert np.allclose(w_free, w_ok, atol=1e-4)
    w_flipped, _ = fit_sign_constrained(x, y, np.array([-1, 1, 0]))
    assert w_flipped[0] <= 0 <= w_flipped[1]
