"""Packages entered in `sys.modules` so that their heavy, unused parts are not imported (their files are left
as they are on disk).

`defer(name)` enters a package whose own `__init__` runs the first time anyone asks it for something it
lacks (a submodule is imported on its own without it), so a later full import of that package still works.

Two uses:
- medspaCy (medspacy_context.py): `import medspacy` imports every medspaCy component, among them the target
  matcher, which imports QuickUMLS, which imports NLTK: about two seconds for the ConText that nmsnlp uses.
- spaCy's command line: `import spacy` runs `from .cli.info import info`, which imports `spacy.cli` and with
  it every spaCy command and what they need (requests, jinja2, weasel...): about 0.1 s of every process's
  start, for a command nmsnlp never runs. `without_spacy_cli()` defers `spacy.cli` and enters
  `spacy.cli.info` as a module that reads its own file the first time anything is asked of it; its `info`
  until then is a function that does so and calls the real one, so `spacy.info()` works as before.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any


class Deferred(types.ModuleType):
    """A module whose own code runs the first time a missing attribute is asked for (a package's missing
    attribute that is a submodule is imported as that submodule, without the package's __init__, unless
    `_nmsnlp_submodules` is False)."""

    def __getattr__(self, name: str) -> Any:
        if (name.startswith("__") and name.endswith("__")) or self.__dict__.get("__spec__") is None or self.__dict__.get("_nmsnlp_ran"):
            raise AttributeError(name)  # the import machinery's own attributes ("__cached__", "__path__") do not run it
        if "__path__" in self.__dict__ and self.__dict__.get("_nmsnlp_submodules", True):
            sub = f"{self.__name__}.{name}"
            if sub in sys.modules or importlib.machinery.PathFinder.find_spec(sub, self.__path__) is not None:
                return importlib.import_module(sub)  # a submodule ("from . import toolbox"): no need for __init__
        self.run()
        return getattr(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # (its own flags first: asking a lazily loaded module for its name would load it)
        if (self.__dict__.get("_nmsnlp_submodules") is False and not self.__dict__.get("_nmsnlp_ran")
                and isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}"):
            return  # a submodule imported before the package's code ran: the package binds its names when it runs
        super().__setattr__(name, value)

    def run(self) -> None:
        """Run the module's own code (once), after its parent's if that is a Deferred one not yet run (the
        order of a plain import)."""
        if self.__dict__.get("_nmsnlp_ran"):
            return
        parent = sys.modules.get(self.__name__.rpartition(".")[0])
        if isinstance(parent, Deferred):
            parent.run()
        self._nmsnlp_ran = True
        spec: Any = self.__spec__
        spec.loader.exec_module(self)


def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of a module, found without importing its parent packages."""
    parent, _, _ = name.rpartition(".")
    if not parent:
        return importlib.util.find_spec(name)
    if parent in sys.modules:
        path = getattr(sys.modules[parent], "__path__", None)
    else:
        outer = _spec(parent)
        path = outer.submodule_search_locations if outer is not None else None
    return importlib.machinery.PathFinder.find_spec(name, path) if path else None


def defer(name: str) -> Deferred | None:
    """Enter the module `name` in sys.modules as a Deferred one (None: it is imported already, or absent)."""
    if name in sys.modules:
        return None
    spec = _spec(name)
    if spec is None or spec.loader is None:
        return None
    module = Deferred(name)
    module.__spec__, module.__file__, module.__loader__ = spec, spec.origin, spec.loader
    if spec.submodule_search_locations is not None:
        module.__path__ = list(spec.submodule_search_locations)
        module.__package__ = name
    else:
        module.__package__ = name.rpartition(".")[0]
    sys.modules[name] = module
    return module


def lazy_submodule(parent: types.ModuleType, name: str) -> None:
    """Enter `parent.name` as a module loaded on first use (importlib's LazyLoader)."""
    full = f"{parent.__name__}.{name}"
    spec = _spec(full)
    if spec is None or spec.loader is None:
        return
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    loader.exec_module(module)
    setattr(parent, name, module)


class _DeferringFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the named packages and modules as Deferred ones through the import system itself, so that
    unlike an entry made in sys.modules beforehand each is known to its parent package; `prepare` may give a
    deferred module stand-in attributes. Their submodules are not deferred (`_nmsnlp_submodules` False: a
    submodule imported early is bound on its package only when the package's own code runs, which binds
    names as it binds them). Leaves sys.meta_path once it has made them all."""

    def __init__(self, names: frozenset[str], prepare: Any = None):
        self.names, self.prepare = set(names), prepare
        self.loaders: dict[str, Any] = {}

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        self.loaders[fullname] = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = Deferred(spec.name)
        module._nmsnlp_submodules = False
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        spec: Any = module.__spec__
        spec.loader = module.__loader__ = self.loaders.pop(module.__name__)  # its own loader, for run()
        self.names.discard(module.__name__)
        if self.prepare is not None:
            self.prepare(module)
        if not self.names and self in sys.meta_path:
            sys.meta_path.remove(self)


def _stand_in_info(module: types.ModuleType) -> None:
    if module.__name__ != "spacy.cli.info":
        return
    deferred: Any = module

    def info(*args: Any, **kwargs: Any) -> Any:
        deferred.run()
        return deferred.__dict__["info"](*args, **kwargs)

    info.__doc__ = "spaCy's `info` (spacy.cli.info), read on its first call."
    deferred.info = info


def without_spacy_cli() -> None:
    """Before spaCy is first imported: keep its command line off the import path (see the module's doc)."""
    if "spacy" in sys.modules or any(isinstance(f, _DeferringFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _DeferringFinder(frozenset({"spacy.cli", "spacy.cli.info"}), _stand_in_info))
