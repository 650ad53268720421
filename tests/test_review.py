"""Chart review without a browser: plain-words reasons, the screening list, the report's data and file,
the adjudication summary, recalibration and retraining on a site's decisions (issue 12).

Every results folder here is made by the real pipeline (`nmsnlp screen`, in process); decisions are
written as the report exports them."""

from __future__ import annotations

import csv
import json
import math
import re
import stat
from pathlib import Path

import numpy as np
import pytest
import review_data as rd
from typer.testing import CliRunner

from nmsnlp.cli import app
from nmsnlp.errors import InputSchemaError, NmsnlpError
from nmsnlp.evaluation import adjudication as adj
from nmsnlp.evaluation.corpus import load_corpus
from nmsnlp.extraction.rules import cached_rules
from nmsnlp.outputs.reasons import PHRASES, describe, explain, merged
from nmsnlp.outputs.review import DATA_MARK, ReviewOptions, build_review, write_review
from nmsnlp.scoring.features import FEATURES
from nmsnlp.scoring.model import load_model

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = re.compile(r"\b(?:sym|neg|dx|dxq|dxneg|drug|nms|tx|val|qual|combo):[a-z_0-9]+|criteria_points|past_nms")
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return rd.screen_demo(tmp_path_factory.mktemp("demo"))


def scores_of(results: Path) -> list[dict]:
    return [json.loads(line) for line in (results / "scores.jsonl").read_text().splitlines()]


def report_data(path: Path) -> dict:
    html = path.read_text(encoding="utf-8")
    start = html.index('id="nmsnlp-data">') + len('id="nmsnlp-data">')
    return json.loads(html[start:html.index("</script>", start)])


def decision(rec: dict, row: int, decision: str, reviewer: str = "A", run: dict | None = None) -> dict:
    return {"note_id": rec["note_id"], "person_id": rec["person_id"], "row": row, "decision": decision, "comment": "",
            "reviewer": reviewer, "timestamp": "2026-01-02T03:04:05.000Z", "report_id": "r1",
            "model_sha256": (run or {}).get("model_sha256"), "blind": False}


def write_decisions(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- plain words


def test_every_feature_has_plain_words():
    assert set(PHRASES) == set(FEATURES)
    for name in FEATURES:
        words = describe(name)
        assert words and not INTERNAL.search(words) and "_" not in words, (name, words)


@pytest.mark.parametrize(("feature", "mention", "expected"), [
    ("val:ck_x10", {"concept": "ck", "category": "lab", "value": 41200.0, "unit": "U/L"}, "CK 41,200 U/L, over 10 x the upper limit"),
    ("drug:d2_started_or_increased", {"concept": "haloperidol", "category": "drug", "drug_status": "started"}, "haloperidol started"),
    ("val:temp_over_40", {"concept": "temperature", "category": "vital", "value": 40.2, "unit": "C"}, "temperature 40.2 C, 40 C or more"),
    ("val:hr_over_110", {"concept": "heart_rate", "category": "vital", "value": 128.0, "unit": "bpm"}, "heart rate 128 bpm"),
    ("val:sbp_over_160", {"concept": "blood_pressure", "category": "vital", "value": 172.0, "diastolic": 104.0, "unit": "mmHg"},
     "BP 172/104 mmHg"),
    ("val:wbc_over_12", {"concept": "wbc", "category": "lab", "value": 16.8, "unit": "10^9/L"}, "white count 16.8 x10^9/L"),
    ("drug:dopaminergic_withdrawn", {"concept": "levodopa", "category": "drug", "drug_status": "held"},
     "levodopa held (dopaminergic withdrawal)"),
    ("dxneg:sepsis", {"concept": "sepsis", "category": "diagnosis"}, "sepsis ruled out"),
])
def test_value_and_drug_reasons_say_what_was_counted(feature, mention, expected):
    assert describe(feature, [mention]) == expected


def test_a_real_scores_reasons_are_plain_words_with_their_evidence():
    text = "Haloperidol was started yesterday. Now T 40.2 C, lead-pipe rigidity, diaphoretic. CK 41,200 U/L."
    from nmsnlp.batch.partition import scorer_for

    score, mentions = scorer_for(None)(text, "n1")
    ms = [m.to_dict() for m in mentions]
    reasons = merged(explain(ms, score.contributions, cached_rules().drug_classes))
    words = [r.words for r in reasons]
    # which CK bar carries weight (10x, 50x) is the model's; the words name the value and the bar it passed
    assert any(re.fullmatch(r"CK 41,200 U/L, over (?:4|10|50) x the upper limit", w) for w in words), words
    assert any(w.startswith("fever and rigidity with haloperidol") for w in words)
    assert not any(INTERNAL.search(w) for w in words)
    ck = next(r for r in reasons if r.words.startswith("CK 41,200"))
    assert ms[ck.mentions[0]]["text"] == "CK 41,200 U/L"  # the evidence of the reason is the mention it names


# --------------------------------------------------------------------------- the screening list


def test_screening_list_has_plain_reasons_snippets_note_type_and_threshold(demo):
    rows = list(csv.DictReader((demo / "screening_list.csv").read_text(encoding="utf-8").splitlines()))
    flagged = sorted((s for s in scores_of(demo) if s["flagged"]), key=lambda s: -s["score"])
    assert [r["note_id"] for r in rows] == [s["note_id"] for s in flagged]
    threshold = load_model().threshold
    for r, s in zip(rows, flagged):
        assert float(r["threshold"]) == pytest.approx(threshold, abs=1e-4)
        assert r["note_title"] == s["note_title"] and r["note_title"]
        assert r["nms_documented"] == str(bool(s["nms_documented"]))
        assert r["flagged_by"] in ("score", "documented", "score and documented")
        assert (r["flagged_by"] != "documented") == (s["score"] >= threshold)
        cells = [r["top_evidence"], *(r[f"reason_{i}"] for i in (1, 2, 3))]
        assert r["top_evidence"] and not any(INTERNAL.search(c) for c in cells), cells
        assert "[" in r["snippet_1"] and "\n" not in r["snippet_1"] and len(r["snippet_1"]) < 200
    tricky = next(r for r in rows if r["note_id"] == rd.TRICKY_ID)
    assert tricky["flagged_by"] == "score and documented" or tricky["flagged_by"] == "documented"
    assert "[neuroleptic malignant syndrome]" in tricky["snippet_1"]


# --------------------------------------------------------------------------- the report's data and file


def test_report_file_is_private_self_contained_and_says_phi(demo, tmp_path):
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["review", str(demo), "--out", str(out), "--sample-unflagged", "5", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "PHI" in result.output and "sends nothing" in result.output and str(out) in result.output
    assert "neuroleptic" not in result.output.lower()  # no note text on the terminal
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    html = out.read_text(encoding="utf-8")
    assert DATA_MARK not in html
    for external in ("<script src", "<link rel=\"stylesheet", "@import", "url(http", "fetch(", "XMLHttpRequest", "WebSocket"):
        assert external not in html
    assert "<script>window.pwned" not in html  # note text is data, escaped inside the JSON block
    again = runner.invoke(app, ["review", str(demo), "--out", str(out)])
    assert again.exit_code != 0 and "--force" in again.output


def test_review_set_is_flagged_by_rank_then_a_seeded_sample_and_patients_have_timelines(demo):
    data, res = build_review(demo, ReviewOptions(sample_unflagged=5, seed=7))
    scores = scores_of(demo)
    flagged = sorted(((i, s) for i, s in enumerate(scores, 1) if s["flagged"]), key=lambda t: (-t[1]["score"], t[0]))
    review = [n for n in data["notes"] if n["review"]]
    assert [n["row"] for n in review[:len(flagged)]] == [i for i, _ in flagged]
    assert [n["rank"] for n in review[:len(flagged)]] == list(range(1, len(flagged) + 1))
    sample = review[len(flagged):]
    assert len(sample) == 5 and all(n["stratum"] == "unflagged_sample" and not n["flagged"] for n in sample)
    again, _ = build_review(demo, ReviewOptions(sample_unflagged=5, seed=7))
    assert [n["row"] for n in again["notes"]] == [n["row"] for n in data["notes"]]  # seeded: the same sample
    assert again["report"]["id"] == data["report"]["id"]
    other, _ = build_review(demo, ReviewOptions(sample_unflagged=5, seed=8))
    assert other["report"]["id"] != data["report"]["id"]
    for n in data["notes"]:
        text = n["t"]
        for m in n["m"]:  # offsets index the text (no astral characters in these notes but the tricky one)
            if n["id"] != rd.TRICKY_ID:
                assert 0 <= m[0] < m[1] <= len(text)
        line = data["patients"][n["pid"]]
        assert [e[1] for e in line] == sorted(e[1] for e in line)  # date order
        assert any(e[4] == n["row"] for e in line)
    assert res.n_context == sum(1 for n in data["notes"] if not n["review"]) > 0


def test_report_offsets_are_javascript_offsets(demo):
    data, _ = build_review(demo, ReviewOptions())
    note = next(n for n in data["notes"] if n["id"] == rd.TRICKY_ID)
    js = note["t"].encode("utf-16-le")  # what a JavaScript string indexes
    texts = [js[2 * m[0]:2 * m[1]].decode("utf-16-le") for m in note["m"]]
    assert texts == ["neuroleptic malignant syndrome", "haloperidol", "rigidity", "T 40.2 C", "CK 41,200 U/L"]


def test_criteria_and_reasons_in_the_report_match_the_scores(demo):
    data, _ = build_review(demo, ReviewOptions())
    scores = scores_of(demo)
    for n in (n for n in data["notes"] if n["review"]):
        s = scores[n["row"] - 1]
        assert n["crit"]["points"] == s["criteria_points"] and n["crit"]["items"] == s["criteria_items"]
        for item in s["criteria_items"]:
            assert n["crit"]["support"][item]  # each item met has the mentions behind it
        assert n["reasons"] and not any(INTERNAL.search(r[0]) for r in n["reasons"])
        assert n["score"] == s["score"] and n["doc"] == s["nms_documented"]


def test_blind_report_holds_no_score_reasons_or_rank(demo):
    data, _ = build_review(demo, ReviewOptions(blind=True, sample_unflagged=4, seed=1))
    assert data["report"]["blind"] and "threshold" not in data["report"]
    for n in data["notes"]:
        assert not {"score", "reasons", "rank", "flagged", "doc", "by_score"} & set(n)
    assert all(len(e) == 6 for line in data["patients"].values() for e in line)  # timeline without scores
    ranked = [n["row"] for n in build_review(demo, ReviewOptions(sample_unflagged=4, seed=1))[0]["notes"] if n["review"]]
    assert [n["row"] for n in data["notes"] if n["review"]] != ranked  # shuffled, not by rank


def test_report_refuses_an_input_that_changed(demo, tmp_path):
    src = Path(json.loads((demo / "run.json").read_text())["input"]["path"])
    copy = tmp_path / "copy.jsonl"
    copy.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    write_review(demo, tmp_path / "ok.html", ReviewOptions(input_path=copy))  # a copy with the same content is fine
    copy.write_text(src.read_text(encoding="utf-8").replace("lead-pipe", "lead pipe"), encoding="utf-8")
    with pytest.raises(InputSchemaError, match="SHA-256"):
        write_review(demo, tmp_path / "bad.html", ReviewOptions(input_path=copy))


# --------------------------------------------------------------------------- the adjudication summary


def test_wilson_kappa_and_sensitivity_known_values():
    p, lo, hi = adj.wilson(8, 10)
    assert (round(p, 4), round(lo, 4), round(hi, 4)) == (0.8, 0.4902, 0.9433)
    assert math.isnan(adj.wilson(0, 0)[0])
    # Cohen's kappa: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> po 0.7, pe 0.5, kappa 0.4
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert adj.cohen_kappa(a, b) == pytest.approx(0.4)
    assert adj.cohen_kappa(["x", "x"], ["x", "x"]) == 1.0
    sens, lo, hi = adj.sensitivity_estimate(tp=45, fp=5, k_u=2, n_u=100, n_flagged=50, n_unflagged=1000)
    assert sens == pytest.approx(45 / (45 + 20))  # 0.9 x 50 found, 0.02 x 1000 missed
    assert lo < sens < hi


def test_summary_ppv_by_rank_sensitivity_and_agreement(demo, tmp_path):
    run = json.loads((demo / "run.json").read_text())
    scores = scores_of(demo)
    flagged = sorted(((i, s) for i, s in enumerate(scores, 1) if s["flagged"]), key=lambda t: (-t[1]["score"], t[0]))
    unflagged = [(i, s) for i, s in enumerate(scores, 1) if not s["flagged"]]
    first = [decision(s, i, "nms_current" if k < 5 else "not_nms", "A", run) for k, (i, s) in enumerate(flagged)]
    first += [decision(s, i, "nms_current" if k == 0 else "not_nms", "A", run) for k, (i, s) in enumerate(unflagged[:8])]
    row, rec = unflagged[8]
    first.append(decision(rec, row, "unsure", "A", run))
    second = [dict(d, reviewer="B", decision="not_nms" if d["row"] == flagged[0][0] else d["decision"]) for d in first]
    a = write_decisions(tmp_path / "a.jsonl", first)
    b = write_decisions(tmp_path / "b.jsonl", second)
    result = runner.invoke(app, ["adjudication", "summary", str(a), str(b), "--results", str(demo), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    s = json.loads((tmp_path / "s" / "summary.json").read_text())
    nf = len(flagged)
    assert s["ppv"]["k"] == 5 and s["ppv"]["n"] == nf
    assert s["ppv"]["estimate"] == pytest.approx(5 / nf)
    assert (s["ppv"]["lower"], s["ppv"]["upper"]) == pytest.approx(adj.wilson(5, nf)[1:])
    assert [r["cumulative_ppv"] for r in s["ppv_by_rank"]][:5] == [1.0] * 5
    assert s["ppv_by_rank"][-1]["cumulative_ppv"] == pytest.approx(5 / nf)
    assert s["decisions"]["by_decision"]["unsure"] == 1 and s["unflagged_current_nms_rate"]["k"] == 1
    n_u = len(unflagged)
    expected = (5 / nf * nf) / (5 / nf * nf + 1 / 8 * n_u)
    assert s["sensitivity"]["estimate"] == pytest.approx(expected)
    assert s["sensitivity"]["lower"] < expected < s["sensitivity"]["upper"]
    agree = s["agreement"]
    assert agree["notes_decided_by_both"] == len(first) and len(agree["disagreements"]) == 1
    assert agree["disagreements"][0]["note_id"] == flagged[0][1]["note_id"]
    assert 0 < agree["kappa"] < 1
    assert "PPV (current NMS)" in result.output and "kappa" in result.output
    with (tmp_path / "s" / "ppv_by_rank.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == nf
    assert (tmp_path / "s" / "disagreements.csv").is_file() and (tmp_path / "s" / "summary.csv").is_file()


def test_summary_refuses_decisions_from_another_run(demo, tmp_path):
    rec = decision(scores_of(demo)[0], 1, "not_nms", run={"model_sha256": "0" * 64})
    with pytest.raises(InputSchemaError, match="another run"):
        adj.summarize([rec], demo)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"note_id": "x", "decision": "maybe"}\n')
    with pytest.raises(InputSchemaError, match=r"bad.jsonl:1: not an adjudication record"):
        adj.read_adjudications(bad)


# --------------------------------------------------------------------------- recalibration and retraining


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory) -> tuple[Path, list[dict]]:
    """80 test-split corpus notes screened, and decisions that are their gold labels."""
    folder = tmp_path_factory.mktemp("labelled")
    notes = load_corpus(ROOT / "corpora").split("test")[:80]
    src = rd.write_jsonl(folder / "notes.jsonl", [{"note_id": n["note_id"], "person_id": n["person_id"],
                                                    "note_datetime": n["note_datetime"], "note_type": n["note_type"],
                                                    "text": n["text"]} for n in notes])
    results = rd.screen(src, folder / "results")
    run = json.loads((results / "run.json").read_text())
    label = {n["note_id"]: {"nms_current": "nms_current", "nms_history": "nms_history"}.get(n["label"], "not_nms")
             for n in notes}
    recs = [decision(s, i, label[s["note_id"]], run=run) for i, s in enumerate(scores_of(results), 1)]
    return results, recs


def test_calibrate_refuses_too_few_decisions(labelled_run, tmp_path):
    results, recs = labelled_run
    few = write_decisions(tmp_path / "few.jsonl", recs[:20])
    result = runner.invoke(app, ["calibrate", "--adjudications", str(few), "--results", str(results), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: too few decisions to recalibrate: 20 decided notes")
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "m").exists()


def test_calibrate_refuses_decisions_that_invert_the_ranking(labelled_run):
    results, recs = labelled_run
    flipped = [dict(r, decision="not_nms" if r["decision"] == "nms_current" else "nms_current") for r in recs]
    with pytest.raises(NmsnlpError, match=r"Platt slope .* <= 0"):
        adj.calibrate(flipped, results, "sha")


def test_calibrated_model_is_a_stock_pipeline_that_screen_uses(labelled_run, tmp_path):
    results, recs = labelled_run
    adjudications = write_decisions(tmp_path / "adjudications.jsonl", recs)
    out = tmp_path / "local"
    result = runner.invoke(app, ["calibrate", "--adjudications", str(adjudications), "--results", str(results),
                                 "--out", str(out), "--target-sensitivity", "0.9"])
    assert result.exit_code == 0, result.output
    base, local = load_model(), load_model(out)
    prov = local.meta["provenance"]
    assert prov["kind"] == "recalibrated" and prov["base_model_sha256"] == base.meta["model_sha256"]
    assert prov["adjudications_sha256"] == adj.file_sha256(adjudications)
    assert prov["counts"]["labelled"] == len(recs) and prov["target_sensitivity"] == 0.9
    a, b = prov["sigmoid"]["a"], prov["sigmoid"]["b"]
    assert a > 0
    base_clf, clf = base.pipeline.named_steps["classify"], local.pipeline.named_steps["classify"]
    assert type(local.pipeline).__name__ == "Pipeline" and type(clf).__name__ == "LogisticRegression"
    assert np.allclose(clf.coef_, a * base_clf.coef_) and np.allclose(clf.intercept_, a * base_clf.intercept_ + b)
    # the saved threshold keeps >= 90% of the decided current-NMS notes that do not document NMS at or above it
    rescored = rd.screen(Path(json.loads((results / "run.json").read_text())["input"]["path"]), tmp_path / "again",
                         "--model", str(out))
    old, new = scores_of(results), scores_of(rescored)
    for o, n in zip(old, new):
        z = math.log(o["score"] / (1 - o["score"])) if 0 < o["score"] < 1 else None
        if z is not None and abs(z) < 12:
            expected = 1 / (1 + math.exp(-(a * z + b)))
            # the stored base score is rounded to 6 places: that error, carried through the logit and the sigmoid
            carried = a * 5e-7 / (o["score"] * (1 - o["score"])) * expected * (1 - expected)
            assert n["score"] == pytest.approx(expected, abs=2e-5 + 2 * carried)
        if abs(n["score"] - local.threshold) > 1e-6:  # scores are stored rounded to 6 places
            assert n["flagged"] == (n["score"] >= local.threshold or bool(n["nms_documented"]))
    label = {r["row"]: r["decision"] for r in recs}
    pos = [n for i, n in enumerate(new, 1) if label[i] == "nms_current" and not n["nms_documented"]]
    assert sum(n["score"] >= local.threshold - 1e-6 for n in pos) >= 0.9 * len(pos)
    listed = list(csv.DictReader((rescored / "screening_list.csv").read_text().splitlines()))
    assert listed and all(float(r["threshold"]) == pytest.approx(local.threshold, abs=1e-4) for r in listed)


def test_adjudication_notes_and_train_extra(labelled_run, tmp_path):
    results, recs = labelled_run
    adjudications = write_decisions(tmp_path / "a.jsonl", recs[:12])
    extra = tmp_path / "notes_with_decisions.jsonl"
    result = runner.invoke(app, ["adjudication", "notes", str(adjudications), "--results", str(results), "--out", str(extra)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(extra.stat().st_mode) == 0o600
    rows = [json.loads(line) for line in extra.read_text().splitlines()]
    assert [r["decision"] for r in rows] == [r["decision"] for r in recs[:12]] and all(r["text"] for r in rows)
    # a small corpus keeps this fast: 90 notes of the real one, by patient split
    corpus = tmp_path / "corpus"
    (corpus / "notes").mkdir(parents=True)
    full = load_corpus(ROOT / "corpora")
    picked = {s: [n for n in full.split(s) if n["note_id"] not in {r["note_id"] for r in rows}][:30]
              for s in ("train", "dev", "test")}
    rd.write_jsonl(corpus / "notes" / "W1.jsonl", [n for ns in picked.values() for n in ns])
    people = {n["person_id"]: s for s, ns in picked.items() for n in ns}
    (corpus / "splits.csv").write_text("person_id,split\n" + "".join(f"{p},{s}\n" for p, s in people.items()))
    refused = runner.invoke(app, ["train", "--corpus", str(corpus), "--extra", str(extra), "--out", str(ROOT / "models")])
    assert refused.exit_code != 0 and "own folder" in re.sub(r"[\s│╭╮╰╯─]+", " ", refused.output)
    out = tmp_path / "retrained"
    result = runner.invoke(app, ["train", "--corpus", str(corpus), "--extra", str(extra), "--out", str(out)])
    assert result.exit_code == 0, result.output
    model = load_model(out)
    prov = model.meta["provenance"]
    assert prov["kind"] == "retrained" and prov["extra_notes"] == sum(r["decision"] != "unsure" for r in rows)
    assert prov["extra_sha256"] == adj.file_sha256(extra)
    assert model.meta["n_train"] == 60 + prov["extra_notes"]
