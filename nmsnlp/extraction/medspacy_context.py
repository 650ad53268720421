"""medspaCy's ConText, imported without the rest of medspaCy.

`import medspacy` runs medspacy/__init__.py, which imports every medspaCy component, among them the
target matcher, which imports QuickUMLS, which imports NLTK: about two seconds that nmsnlp, which uses
only ConText, does not need. medspaCy's files are left as they are; instead, before importing
`medspacy.context`, the `medspacy` and `quickumls` packages are entered in `sys.modules` as modules that
run their own `__init__` the first time anyone asks them for something they lack (so a later
`import medspacy; medspacy.load()` still works), and QuickUMLS's spaCy component, which medspacy.util
imports by name, is loaded lazily (it runs on first use). medspaCy's `warnings.filterwarnings("ignore")`
(in medspacy.common.medspacy_matcher) is undone by importing under `warnings.catch_warnings()`.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import types
import warnings
from typing import Any

_MACHINERY = frozenset({"__path__", "__spec__", "__file__", "__loader__", "__package__", "__name__", "__wrapped__"})


class _Deferred(types.ModuleType):
    """A package whose own __init__ runs the first time a missing attribute is asked for."""

    def __getattr__(self, name: str) -> Any:
        spec = self.__dict__.get("__spec__")
        if name in _MACHINERY or spec is None or self.__dict__.get("_nmsnlp_ran"):
            raise AttributeError(name)
        sub = f"{self.__name__}.{name}"
        if sub in sys.modules or importlib.util.find_spec(sub) is not None:
            return importlib.import_module(sub)  # a submodule ("from . import toolbox"): no need for __init__
        self._nmsnlp_ran = True
        spec.loader.exec_module(self)
        return getattr(self, name)


def _defer(name: str) -> types.ModuleType | None:
    if name in sys.modules:
        return None
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        return None
    module = _Deferred(name)
    module.__spec__, module.__path__, module.__file__ = spec, list(spec.submodule_search_locations), spec.origin
    module.__package__ = name
    sys.modules[name] = module
    return module


def _lazy_submodule(parent: types.ModuleType, name: str) -> None:
    full = f"{parent.__name__}.{name}"
    spec = importlib.util.find_spec(full)
    if spec is None or spec.loader is None:
        return
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    loader.exec_module(module)
    setattr(parent, name, module)


@functools.cache
def context_classes(graph: bool = False) -> tuple[Any, ...]:
    """(ConText, ConTextRule), and with graph=True also (ConTextModifier, ConTextGraph), imported without
    medspaCy's other components or the process-wide warnings filter."""
    quickumls = _defer("quickumls")
    if quickumls is not None:
        _lazy_submodule(quickumls, "spacy_component")
    _defer("medspacy")
    with warnings.catch_warnings():
        from medspacy.context import ConText, ConTextGraph, ConTextModifier, ConTextRule
    return (ConText, ConTextRule, ConTextModifier, ConTextGraph) if graph else (ConText, ConTextRule)
