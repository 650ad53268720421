"""Imported once by the worker pool's fork server (pool.py): the extraction pipeline, built there, is every
worker's that is forked from it (copy-on-write), so no worker waits to build its own. Should building it fail
here, each worker builds its own (and reports the error as it would have)."""

from .partition import extractor

try:
    extractor()
except Exception:
    pass
