"""Features, consensus criteria, the saved model and screening (issue: suspicion score)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import nmsnlp
from nmsnlp.cli import app
from nmsnlp.errors import ModelLoadError
from nmsnlp.extraction.rules import load_rules
from nmsnlp.scoring.criteria import criteria
from nmsnlp.scoring.features import FEATURES, note_features
from nmsnlp.scoring.model import META_FILE, MODEL_FILE, default_models_dir, load_model

ROOT = Path(__file__).resolve().parents[1]
CLASSES = load_rules(ROOT / "patterns").drug_classes
NMS_NOTE = (
    "HPI: 34M on haloperidol decanoate, dose increased last week. Now T 39.4, repeat temp 39.8 C, lead-pipe rigidity, "
    "confused and not following commands, diaphoretic, BP 182/104 then 128/70, HR 128, RR 28. "
    "CK 18,450 U/L (ref 30-200). Haldol stopped; dantrolene started; cooling blanket. Blood cultures negative, no sepsis."
)


def feats(text: str) -> dict[str, float]:
    return note_features(nmsnlp.extract(text), CLASSES)


def test_features_are_documented_and_bounded():
    f = feats(NMS_NOTE)
    assert set(f) <= set(FEATURES)
    assert all(0.0 <= v <= 1.0 for v in f.values())
    for key in ("drug:typical_high_potency", "drug:depot", "drug:d2_stopped", "sym:rigidity", "sym:fever" if "sym:fever" in f else "val:temp_over_38",
                "val:ck_x10", "tx:dantrolene", "tx:cooling", "dxneg:sepsis", "combo:exposure_fever_rigidity"):
        assert key in f, key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("No NMS. Afebrile, no rigidity.", "nms:negated"),
        ("NMS precautions while on Haldol.", "nms:hypothetical"),
        ("Hx NMS in 2017 on fluphenazine.", "nms:historical"),
        ("Concern for NMS vs serotonin syndrome.", "nms:uncertain"),
        ("Mother had NMS.", "nms:family"),
        ("Sinemet held since NPO.", "drug:dopaminergic_withdrawn"),
    ],
)
def test_how_nms_is_asserted_is_kept_apart(text, key):
    assert key in feats(text)


@pytest.mark.parametrize(("text", "key"), [
    ("Bromocriptine 2.5 mg BID started for hyperprolactinemia and amenorrhea on risperidone.", "tx:bromocriptine"),
    ("Dantrolene 25 mg daily for spasticity after his stroke.", "tx:dantrolene"),
    ("Amantadine 100 mg BID started for fatigue in multiple sclerosis.", "tx:amantadine_started"),
])
def test_a_treatment_counts_only_beside_the_syndrome(text, key):
    """A drug that treats NMS is no evidence of it alone; with a sign of the syndrome it is."""
    assert key not in feats(text)
    assert key in feats(text + " Now febrile to 39.4 C and rigid.")


def test_history_is_not_presence():
    f = feats("PMH: NMS 2019 (haloperidol). Allergies: Haldol (NMS). Today: ankle sprain, afebrile.")
    assert "past_nms" in f and "nms:asserted" not in f and "drug:d2_any" not in f and "neg:fever" in f


def test_consensus_criteria_items_and_support():
    result = criteria(nmsnlp.extract(NMS_NOTE), CLASSES)
    assert result.items == {"exposure": 20, "hyperthermia": 18, "rigidity": 17, "mental_status": 13, "ck_elevation": 10,
                            "sympathetic_lability": 10, "hypermetabolism": 5, "negative_workup": 7}
    assert result.points == 100
    assert {m.concept for m in result.support["ck_elevation"]} == {"ck"}


def test_ck_multiple_uses_the_note_reference_range():
    low_uln = criteria(nmsnlp.extract("CK 1,000 U/L (ref 20-200)"), CLASSES)
    high_uln = criteria(nmsnlp.extract("CK 1,000 U/L (ref 20-400)"), CLASSES)
    assert "ck_elevation" in low_uln.items and "ck_elevation" not in high_uln.items


def test_one_fever_reading_needs_a_second_occasion():
    assert "hyperthermia" not in criteria(nmsnlp.extract("T 38.6 once."), CLASSES).items
    assert "hyperthermia" in criteria(nmsnlp.extract("T 38.6, later T 39.1."), CLASSES).items


def test_shipped_model_loads_with_the_reviewed_trusted_types():
    from skops.io import get_untrusted_types

    from nmsnlp.scoring.trust import TRUSTED_TYPES

    folder = default_models_dir()
    assert sorted(get_untrusted_types(file=folder / MODEL_FILE)) == sorted(TRUSTED_TYPES) == []
    assert not (folder / "trusted-types.json").exists(), "a model folder never lists what it trusts"
    model = load_model(folder)
    meta = json.loads((folder / META_FILE).read_text())
    for key in ("feature_schema_version", "threshold", "training_data_sha256", "library_versions", "evaluation_test_split"):
        assert key in meta
    assert list(model.pipeline.classes_) == [0, 1]


@pytest.fixture()
def model_copy(tmp_path):
    dest = tmp_path / "models"
    shutil.copytree(default_models_dir(), dest)
    return dest


def test_a_model_for_another_feature_schema_is_refused(model_copy):
    meta = json.loads((model_copy / META_FILE).read_text())
    meta["feature_schema_version"] = "0"
    (model_copy / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=r"feature schema .0.*retrain"):
        load_model(model_copy)


def test_a_tampered_model_file_is_refused(model_copy):
    data = bytearray((model_copy / MODEL_FILE).read_bytes())
    data[-30] ^= 0xFF
    (model_copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="SHA-256 does not match"):
        load_model(model_copy)


def test_a_foreign_file_is_refused(model_copy):
    (model_copy / MODEL_FILE).write_bytes(b"not a model at all")
    meta = json.loads((model_copy / META_FILE).read_text())
    import hashlib

    meta["model_sha256"] = hashlib.sha256(b"not a model at all").hexdigest()
    (model_copy / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="not a skops model file"):
        load_model(model_copy)


def test_training_is_reproducible(tmp_path):
    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(app, ["train", "--corpus", str(ROOT / "corpora"), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / MODEL_FILE).read_bytes() == (tmp_path / "b" / MODEL_FILE).read_bytes()
    assert "AUROC" in result.output


def test_scores_rank_nms_above_mimics():
    from nmsnlp.scoring.scorer import Scorer

    scorer = Scorer()
    nms, _ = scorer(NMS_NOTE, "n1", "p1")
    ss, _ = scorer("On sertraline and linezolid. T 38.4, inducible clonus, hyperreflexia, diarrhea. "
                   "Serotonin syndrome; NMS unlikely, no rigidity. Cyproheptadine started.", "n2")
    hx, _ = scorer("Allergies: haloperidol (NMS 2018). Seen for knee pain. Afebrile, no stiffness.", "n3")
    assert nms.flagged and not ss.flagged and not hx.flagged
    assert nms.score > 0.9 > 0.2 > max(ss.score, hx.score)
    assert hx.nms_history and not nms.nms_history
    assert nms.person_id == "p1" and nms.criteria_points == 100
    assert {e["concept"] for e in nms.evidence} >= {"rigidity", "ck"}
    assert all(NMS_NOTE[e["start"]:e["end"]] == e["text"] for e in nms.evidence)
    assert max(nms.contributions.values()) > 0


def test_screen_writes_one_record_per_note(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [
        {"note_id": "a", "person_id": "p1", "text": NMS_NOTE},
        {"note_id": "b", "person_id": "p2", "text": ""},
        {"note_id": "c", "person_id": "p3", "text": "Knee pain. No fever."},
    ]))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["screen", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert [r["note_id"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["flagged"] and rows[1]["score"] is None and "empty" in rows[1]["error"] and not rows[2]["flagged"]
    header = (out / "scores.csv").read_text().splitlines()[0].split(",")
    assert header[:8] == ["note_id", "person_id", "score", "flagged", "criteria_points", "nms_history", "evidence", "error"]
    assert "lead-pipe" not in result.output  # evidence (note text) only with --show-evidence


def test_single_note_scoring_equals_predict_proba():
    model = load_model()
    texts = [NMS_NOTE, "Knee pain. No fever.", "Hx NMS 2019. On quetiapine.", "T 38.9, rigid, CK 9000, on Reglan."]
    feature_dicts = [feats(t) for t in texts]
    batch = model.predict_proba(feature_dicts)
    assert [round(model.score_one(f), 9) for f in feature_dicts] == [round(float(p), 9) for p in batch]


def test_evaluate_prints_the_model_beside_three_baselines():
    result = CliRunner().invoke(app, ["evaluate", "--corpus", str(ROOT / "corpora")])
    assert result.exit_code == 0, result.output
    for text in ("nmsnlp model", "keyword", "consensus points", "4 of 6", "AUROC", "Brier", "reliability",
                 "unnamed_features", "never name NMS", "history-only"):
        assert text in result.output, text
    model_line = next(line for line in result.output.splitlines() if line.startswith("nmsnlp model"))
    auroc = float(model_line.split(")")[1].split()[0])
    assert auroc >= 0.95


@pytest.mark.parametrize(("text", "final"), [
    ("On haloperidol; T 40.1, rigid, CK 9,000. Working diagnosis NMS. Final diagnosis: serotonin syndrome.", True),
    ("Febrile and rigid on haloperidol. NMS ruled out. Impression: methamphetamine toxicity.", True),
    ("Sepsis was considered first. Then NMS after haloperidol, treated with dantrolene.", False),
    ("NMS after haloperidol, complicated by aspiration pneumonia.", False),  # an infection often complicates NMS
    ("NMS after haloperidol. Serotonin syndrome unlikely.", False),
])
def test_the_latest_word_on_the_diagnosis_is_a_feature(text, final):
    from nmsnlp.extraction.pipeline import drug_classes, load

    features = note_features(nmsnlp.extract(text), drug_classes(load()))
    assert bool(features.get("dx:final_alternative")) is final
