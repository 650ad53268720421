"""Model trust that does not certify itself: the package decides what a model folder may hold."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nmsnlp.cli import app
from nmsnlp.errors import ModelLoadError
from nmsnlp.scoring.model import META_FILE, MODEL_FILE, _normalize_zip, default_models_dir, load_model
from nmsnlp.scoring.trust import SHIPPED_MODEL_SHA256


@pytest.fixture()
def local(tmp_path):
    dest = tmp_path / "local-model"
    shutil.copytree(default_models_dir(), dest)
    return dest


def rehash(folder: Path) -> None:
    """What an attacker with write access to a folder does: make the metadata match the file again."""
    meta = json.loads((folder / META_FILE).read_text())
    meta["model_sha256"] = hashlib.sha256((folder / MODEL_FILE).read_bytes()).hexdigest()
    (folder / META_FILE).write_text(json.dumps(meta))


def test_shipped_model_hash_is_pinned():
    digest = hashlib.sha256((default_models_dir() / MODEL_FILE).read_bytes()).hexdigest()
    assert digest == SHIPPED_MODEL_SHA256, "after `nmsnlp train --out models`, pin the new hash in nmsnlp/scoring/trust.py"


def test_a_copy_of_the_shipped_model_loads_as_a_local_model_with_provenance(local):
    model = load_model(local)
    assert model.meta["provenance"]["kind"] == "trained"


def test_a_payload_is_refused_even_with_its_hash_and_a_trusted_list_beside_it(local, tmp_path):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer
    from skops.io import dump

    marker = tmp_path / "pwned"
    evil = Pipeline([("vectorize", FunctionTransformer(os.system, kw_args={"command": f"touch {marker}"})),
                     ("classify", FunctionTransformer())])
    dump(evil, local / MODEL_FILE)
    rehash(local)
    (local / "trusted-types.json").write_text(json.dumps(["posix.system", "sklearn.preprocessing._function_transformer.FunctionTransformer"]))
    with pytest.raises(ModelLoadError, match="does not trust"):
        load_model(local)
    result = CliRunner().invoke(app, ["screen", str(default_models_dir().parent / "corpora" / "demo" / "notes.jsonl"),
                                      "--out", str(tmp_path / "out"), "--model", str(local), "--no-progress"])
    assert result.exit_code == 2 and "does not trust" in result.output
    assert not marker.exists()


def test_coefficients_edited_to_flag_nothing_are_refused_even_when_rehashed(local):
    model = load_model(local)
    model.pipeline.named_steps["classify"].coef_ = np.full_like(model.pipeline.named_steps["classify"].coef_, -10.0)
    from skops.io import dump

    dump(model.pipeline, local / MODEL_FILE)
    _normalize_zip(local / MODEL_FILE)
    rehash(local)
    with pytest.raises(ModelLoadError, match="break the declared signs"):
        load_model(local)


def test_a_local_model_without_provenance_is_refused(local):
    meta = json.loads((local / META_FILE).read_text())
    del meta["provenance"]
    (local / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="provenance"):
        load_model(local)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", json.dumps({"feature_schema_version": "3"}), "\udcff"])
def test_broken_metadata_is_a_one_line_refusal(local, content):
    (local / META_FILE).write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(ModelLoadError) as err:
        load_model(local)
    assert "\n" not in str(err.value)


def test_the_shipped_folder_accepts_only_the_pinned_file(monkeypatch, local):
    import nmsnlp.scoring.model as model_mod

    monkeypatch.setattr(model_mod, "SHIPPED_MODEL_SHA256", "0" * 64)
    with pytest.raises(ModelLoadError, match="not the model this nmsnlp ships"):
        load_model()
    assert load_model(local).threshold > 0  # a local folder is judged by its provenance instead
