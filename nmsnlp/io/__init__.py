"""Input: note exports -> `NoteRecord`s, streamed, never dropping a note.

    readers.py   column mapping and the file readers (JSONL, CSV, Parquet, .txt files and folders)
    database.py  an OMOP NOTE table through SQLAlchemy
    source.py    `Source`: a file, folder or table, described and counted for a run
"""
