"""What produced a run's parts, recorded when it starts and checked before `--resume` reuses them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..extraction.rules import default_patterns_dir
from ..io.source import Source
from ..scoring.model import META_FILE, default_models_dir


def patterns_hash() -> str:
    h = hashlib.sha256()
    root = default_patterns_dir()
    for f in sorted(root.rglob("*.json*")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def model_meta(model_dir: str | None) -> dict[str, Any]:
    models = Path(model_dir) if model_dir else default_models_dir()
    return json.loads((models / META_FILE).read_text()) if (models / META_FILE).is_file() else {}


def build_manifest(source: Source, model_dir: str | None, chunk: int, note_nlp: bool) -> dict[str, Any]:
    return {
        "nmsnlp_version": __version__,
        "model_sha256": model_meta(model_dir).get("model_sha256"),
        "patterns_sha256": patterns_hash(),
        "input": source.describe(),
        "chunk": chunk,
        "note_nlp": note_nlp,
    }
