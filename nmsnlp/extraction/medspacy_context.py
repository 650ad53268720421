"""medspaCy's ConText, imported without the rest of medspaCy.

`import medspacy` runs medspacy/__init__.py, which imports every medspaCy component, among them the
target matcher, which imports QuickUMLS, which imports NLTK: about two seconds that nmsnlp, which uses
only ConText, does not need. medspaCy's files are left as they are; instead, before importing
`medspacy.context`, the `medspacy` and `quickumls` packages are entered in `sys.modules` as modules that
run their own `__init__` the first time anyone asks them for something they lack (so a later
`import medspacy; medspacy.load()` still works; lazy.py), and QuickUMLS's spaCy component, which medspacy.util
imports by name, is loaded lazily (it runs on first use). medspaCy's `warnings.filterwarnings("ignore")`
(in medspacy.common.medspacy_matcher) is undone by importing under `warnings.catch_warnings()`.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

from .lazy import defer, lazy_submodule


@functools.cache
def context_classes(graph: bool = False) -> tuple[Any, ...]:
    """(ConText, ConTextRule), and with graph=True also (ConTextModifier, ConTextGraph), imported without
    medspaCy's other components or the process-wide warnings filter."""
    quickumls = defer("quickumls")
    if quickumls is not None:
        lazy_submodule(quickumls, "spacy_component")
    defer("medspacy")
    with warnings.catch_warnings():
        from medspacy.context import ConText, ConTextGraph, ConTextModifier, ConTextRule
    return (ConText, ConTextRule, ConTextModifier, ConTextGraph) if graph else (ConText, ConTextRule)
