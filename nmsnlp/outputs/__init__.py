"""Outputs: records -> the files and tables people and downstream tools read.

    tables.py  JSONL, CSV, Parquet and SQLite encodings from a record schema (nmsnlp.records)
    index.py   the SQLite index of a run's scores (ranking, patients, duplicates)
    lists.py   screening_list.csv and patients.csv
    omop.py    OMOP CDM NOTE_NLP rows, table and database writer
    reasons.py a score's reasons in plain words
    runfiles.py reading a finished run's files back (manifest, mentions, the input's note text)
    review.py  the self-contained chart-review report (review_template.html)
"""
