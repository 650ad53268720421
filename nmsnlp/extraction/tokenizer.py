"""A tokenizer that splits clinical run-ons: HR130s, 104.2F, CK:12,450, BP180/110, d/c'd, s/p, c/o, q2wk, x2, ->."""


from collections.abc import Callable

import spacy
from spacy.lang.en import English
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex

_EXTRA_INFIXES = [
    r"(?<=[A-Za-z])(?=\d)",  # HR130s, T39.8, q2wk, x2
    r"(?<=\d)(?=[A-Za-z])",  # 104.2F, 130s, 2wk
    r"(?<=[A-Za-z0-9])(?:->|-->|=>|→|<-)(?=[A-Za-z0-9])?",  # 2,100->8,450
    r"(?<=[A-Za-z])[:=](?=[\d<>])",  # CK:12,450, K=5.9
    r"(?<=[A-Za-z])/(?=[A-Za-z])",  # s/p, c/o, d/c, r/o
    r"(?<=[A-Za-z])'(?=[a-z]\b)",  # d/c'd
    r"(?<=\d)/(?=[\dA-Za-zµμ])",  # 180/110, 21,300/uL
    r"(?<=[A-Za-z0-9])[|;](?=[A-Za-z0-9])",  # table cells and run-on lists
    r"(?<=[a-z])\.(?=[A-Z])",  # fever.Pt
    r"(?<=[A-Za-z0-9])[~≥≤](?=[A-Za-z0-9])",
]
_EXTRA_PREFIXES = [r"\?", r">=", r"<=", r"[<>~≥≤]", r"->", r"-->", r"→", r"\|", r"\+", r"#", r"•", r"\*"]
_EXTRA_SUFFIXES = [r"->", r"\?", r"\|", r"[:;]", r"(?<=[A-Za-z])\.", r"\.$"]


@spacy.registry.tokenizers("nmsnlp.clinical_tokenizer.v1")
def create_clinical_tokenizer() -> Callable[[Language], Tokenizer]:
    def make(nlp: Language) -> Tokenizer:
        defaults = English.Defaults
        infixes = list(defaults.infixes or []) + _EXTRA_INFIXES
        prefixes = _EXTRA_PREFIXES + list(defaults.prefixes or [])
        suffixes = _EXTRA_SUFFIXES + list(defaults.suffixes or [])
        return Tokenizer(
            nlp.vocab,
            rules={},  # no exceptions: "d/c'd" must not be glued by English contractions rules
            prefix_search=compile_prefix_regex(prefixes).search,
            suffix_search=compile_suffix_regex(suffixes).search,
            infix_finditer=compile_infix_regex(infixes).finditer,
            token_match=None,
            url_match=None,
        )

    return make
