"""Batch: many notes through the per-partition function, in a bounded pool, resumable.

    pool.py       the ordered, bounded process pool (its workers forked from a fork server) and chunking
    preload.py    what the fork server imports: the pipeline, built once for every worker
    partition.py  the per-partition functions (`screen_table`, `screen_records`) and the per-process
                  caches of the pipeline and of each model
    parts.py      each chunk's records on disk, written atomically by the worker that scored it
    folder.py     the output folder's lock, and whether a new run may write there
    manifest.py   what produced a run (code, patterns, model, input, options)
    assemble.py   parts -> the final outputs, byte-identical after a resume
    screen.py     `run_screen`: `nmsnlp screen` from input to run.json
    spark.py      the Spark engine: `screen_dataframe`, the same per-partition function in `mapInPandas`
    spark_run.py  `run_spark_screen`: `nmsnlp screen --engine spark` from input to run.json
"""
