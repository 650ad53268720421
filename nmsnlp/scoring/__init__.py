"""Scoring: mention records -> a per-note suspicion score with the evidence that was counted.

    view.py      the mention view scoring reads (present, exposure, readings) and shared vocabularies
    criteria.py  the 2011 consensus criteria, with the mentions behind each item
    features.py  the documented feature dict, with the mentions behind each feature
    model.py     the scikit-learn model, saved with skops and loaded only with reviewed types
    scorer.py    `Scorer`: note text -> NoteScore, with the model it is given
    training.py  fitting a model on scored notes and choosing its threshold
"""
