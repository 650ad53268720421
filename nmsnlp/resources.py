"""Where the data shipped with nmsnlp lives: patterns/ and models/ sit inside the installed wheel
(nmsnlp/patterns, nmsnlp/models) or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str, marker: str) -> Path | None:
    """The shipped folder `name` that holds `marker`, or None when neither place has it."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if (candidate / marker).is_file():
            return candidate
    return None
