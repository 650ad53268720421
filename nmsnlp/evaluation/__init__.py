"""Evaluation, off the runtime path: the annotated corpus, `nmsnlp train` and `nmsnlp evaluate`.

    corpus.py    the corpus in corpora/: notes, mention gold, the fixed patient split, counts
    evaluate.py  training on the train split, evaluation on test beside three baselines
"""
