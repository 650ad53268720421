"""Shared fixtures: one pipeline per test session (loading takes about two seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def nlp():
    import nmsnlp

    return nmsnlp.load()


@pytest.fixture(scope="session")
def extractor(nlp):
    import nmsnlp

    return nmsnlp.Extractor(nlp)
