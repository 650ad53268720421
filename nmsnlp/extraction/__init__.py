"""Extraction: note text -> mention records (contract section 1).

    rules.py      the rule files of patterns/, validated, and the compiled term scanner
    text.py       sentence and section-header scan of the raw text
    tokenizer.py  the clinical tokenizer
    values.py     numbers, units, comparators, ranges and trends after a lab or vital trigger
    base.py       what the components share (span group, extensions, rule handling)
    structure.py, mentions.py, context.py, assertion.py   one spaCy component each, in pipeline order
    pipeline.py   `load()`: the spaCy pipeline
    extractor.py  `Extractor`: the fast path over the pipeline
    lazy.py, medspacy_context.py   spaCy and medSpaCy without their heavy parts nmsnlp does not use
"""

from .lazy import without_spacy_cli

without_spacy_cli()  # before anything here imports spaCy
