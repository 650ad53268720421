"""Evaluation, off the runtime path: the annotated corpus, `nmsnlp train` and `nmsnlp evaluate`.

    corpus.py    the corpus in corpora/: notes, mention gold, the fixed patient split, counts
    evaluate.py  training on train+dev, evaluation on test beside three baselines, per genre
    adjudication.py  reviewers' decisions: summary statistics, recalibration, retraining notes
"""
