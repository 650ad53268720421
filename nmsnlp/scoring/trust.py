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
SHIPPED_MODEL_SHA256 = "0d0219a9d2cb9803bed899b3f108643f33ca8e7ff72ef1f3f0004d20faeeef2a"
PROVENANCE_KINDS = ("trained", "recalibrated", "retrained")
