"""What a model folder may contain, decided here in the package source, never by the folder itself.

- `TRUSTED_TYPES`: the reviewed types, beyond skops' own defaults, that a model file may hold. The shipped
  model needs none (a stock DictVectorizer + LogisticRegression Pipeline); a test compares this list
  with what the shipped model needs. A model folder cannot widen it.
- `SHIPPED_MODEL_SHA256`: the SHA-256 of models/nmsnlp-model.skops as released. The shipped folder is
  accepted only with exactly that file. After `nmsnlp train --out models`, update it (the test
  `test_shipped_model_hash_is_pinned` says to).
- A local model (another folder: trained, recalibrated or retrained on a site's decisions) must record
  its provenance in its metadata (`provenance.kind`), hold only trusted types, and keep the coefficient
  signs the features declare (features.FEATURE_DIRECTION), so a payload, a foreign file or coefficients
  edited to argue NMS down are refused, whatever hashes were rewritten beside them.
"""

TRUSTED_TYPES: tuple[str, ...] = ()
SHIPPED_MODEL_SHA256 = "5901847a0fccc77945b7e03b7115563a134aa8834648a8b721a4206a7d593a84"
PROVENANCE_KINDS = ("trained", "recalibrated", "retrained")
