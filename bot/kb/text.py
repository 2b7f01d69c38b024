"""Text normalisation shared by the NLU pipeline, the verdict engine and the gateway.

Residents write Traditional as well as Simplified Chinese and often type full-width
digits (１３８…); every rule in the knowledge base is written for Simplified, half-width
text, so everything is normalised once, the same way, before matching.
"""
from __future__ import annotations

import re
from functools import lru_cache

import opencc

# Full-width ASCII block U+FF01..U+FF5E maps one-to-one onto U+0021..U+007E.
_FULLWIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH_TO_ASCII[0x3000] = 0x20  # ideographic space


# Lone surrogates (invalid in UTF-8: they make OpenCC and every encoder raise) and control
# characters other than tab and newlines. Zero-width and format characters stay: they are
# text (emoji joiners), and the KB's patterns see through the ones evasive spellings use.
_UNSAFE_CHARS = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """The text without lone surrogates and control characters (tab and newlines kept)."""
    return _UNSAFE_CHARS.sub("", text)


# OpenCC keeps the variant 帐 of 帳; standard Simplified money words use 账.
_VARIANT_WORDS = {"帐户": "账户", "帐号": "账号", "转帐": "转账", "帐单": "账单", "到帐": "到账"}


@lru_cache(maxsize=None)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (identity on Simplified text)."""
    simplified = _converter("t2s").convert(text)
    if simplified != text:
        # Traditional input: tw2sp also converts Taiwanese phrases (軟體 → 软件, 簡訊 → 短信).
        # It is not used on Simplified input, where it would turn 什么 into 什幺.
        simplified = _converter("tw2sp").convert(text)
    for variant, standard in _VARIANT_WORDS.items():
        simplified = simplified.replace(variant, standard)
    return simplified


def normalize(text: str) -> str:
    """Simplified Chinese with half-width ASCII; keeps character offsets where possible."""
    return to_simplified(clean(text).translate(_FULLWIDTH_TO_ASCII))
