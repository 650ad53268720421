"""What produced a run's parts, recorded when it starts and checked before `--resume` reuses them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..extraction.rules import default_patterns_dir
from ..io.database import safe_url
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


def code_hash() -> str:
    """SHA-256 over the package's own source files: code edited between a crash and `--resume` is another code."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


# the options a resumed run takes from the manifest, with the flag that sets each
RESUMED_OPTIONS = {"fmt": "--format", "note_nlp": "--note-nlp", "note_nlp_db": "--db (NOTE_NLP)", "chunk": "--chunk-size",
                   "model_dir": "--model", "note_timeout": "--note-timeout", "date_format": "--date-format"}
SOURCE_FLAGS = {"path": "INPUT", "db": "--db", "table": "--table", "where": "--where", "columns": "--*-col",
                "encoding": "--encoding", "sep": "--sep", "recursive": "--recursive"}


def build_manifest(source: Source, options: dict[str, Any]) -> dict[str, Any]:
    """What produced the run's parts: code, patterns, model, the input (with a fingerprint of its content)
    and the options that change outputs."""
    return {
        "nmsnlp_version": __version__,
        "code_sha256": code_hash(),
        "model_sha256": model_meta(options.get("model_dir")).get("model_sha256"),
        "patterns_sha256": patterns_hash(),
        "source": source.spec(),
        "input": source.describe(),
        "options": {k: safe_url(options[k]) if k == "note_nlp_db" and options.get(k) else options.get(k)
                    for k in RESUMED_OPTIONS},
    }


def differences(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between two manifests, each named by its flag with both values."""
    out = []
    for key, what in (("code_sha256", "the nmsnlp code"), ("model_sha256", "the model"),
                      ("patterns_sha256", "the rules in patterns/"), ("input", "the input's content")):
        if previous.get(key) != current.get(key):
            out.append(f"{what} changed")
    for key, flag in SOURCE_FLAGS.items():
        a, b = previous.get("source", {}).get(key), current.get("source", {}).get(key)
        if a != b:
            out.append(f"{flag}: {a!r} then, {b!r} now")
    for key, flag in RESUMED_OPTIONS.items():
        a, b = previous.get("options", {}).get(key), current.get("options", {}).get(key)
        if a != b:
            out.append(f"{flag}: {a!r} then, {b!r} now")
    return out
