"""Building the nmsnlp spaCy pipeline from the rule files in patterns/."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from . import assertion as _assertion  # noqa: F401  (each component module registers its factory)
from . import context as _context  # noqa: F401
from . import mentions as _mentions  # noqa: F401
from . import structure as _structure  # noqa: F401
from . import tokenizer as _tokenizer  # noqa: F401  (registers the tokenizer)
from .base import MAX_TRIGGER_CHARS
from .rules import default_patterns_dir, load_rules

PIPE_NAMES = ("nmsnlp_structure", "nmsnlp_mentions", "nmsnlp_context", "nmsnlp_assertion")


def load(patterns_dir: str | Path | None = None) -> Language:
    """A spaCy pipeline (blank English + the clinical tokenizer + nmsnlp's components) with the rules
    of `patterns_dir` (default: the patterns/ shipped with nmsnlp). `nlp(text)` gives a Doc whose
    `doc.spans["nmsnlp"]` are the mentions; `nmsnlp.extract` is the fast way to get mention records."""
    with warnings.catch_warnings():  # spaCy may import medspaCy while scanning entry points
        nlp = spacy.blank("en", config={"nlp": {"tokenizer": {"@tokenizers": "nmsnlp.clinical_tokenizer.v1"}}})
    nlp.max_length = MAX_TRIGGER_CHARS  # only trigger sentences are tokenized, and there is no parser
    for name in PIPE_NAMES:
        nlp.add_pipe(name)
    # the rule files are read and validated once, for all four components (what each one's initialize()
    # would do on its own); a RuleSet is frozen, so sharing it is safe
    rules = load_rules(patterns_dir or default_patterns_dir())
    for name in PIPE_NAMES:
        component: Any = nlp.get_pipe(name)
        component.set_rules(rules)
    return nlp


def drug_classes(nlp: Language) -> dict[str, str]:
    """Drug concept -> drug class, from the rules loaded in the pipeline's mention component."""
    component: Any = nlp.get_pipe("nmsnlp_mentions")
    return dict(component.rules.drug_classes)
