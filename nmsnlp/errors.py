"""The project's error hierarchy: each says what was expected, what was found, where, and what to do."""


class NmsnlpError(Exception):
    """Base class for every error nmsnlp raises on purpose."""


class PatternFileError(NmsnlpError):
    """A rule file in patterns/ is malformed: names the file, the record and the key."""


class InputSchemaError(NmsnlpError):
    """An input file or table lacks what nmsnlp needs (a column, a readable encoding, ...)."""


class ModelLoadError(NmsnlpError):
    """A saved model is missing, foreign, tampered with, or built for another feature schema."""


class NoteError(NmsnlpError):
    """One note cannot be processed (empty, not text, ...). The batch goes on; this becomes an error record."""
