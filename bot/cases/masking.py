"""Masking personal data in a case: the notes, the claimed identity and the verdict.

`bot.privacy.mask_text` finds phone, card and ID numbers and names by their shape.
QQ numbers and WeChat ids have no shape of their own, so the indicators the verdict
engine found (which know their kind) are masked wherever their value appears.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping

from bot.privacy import mask_text

# Indicator kinds that identify a person (or their account).
PERSONAL_KINDS = frozenset({"phone", "bank_card", "id_number", "qq", "wechat_id"})
# Verdict keys holding knowledge-base ids, names and official numbers, never the caller's words.
_KB_KEYS = frozenset({"scam_type", "scam_name", "risk_level", "kind", "id", "hotlines", "confidence", "money_lost", "stage"})
# Service numbers (110, 96110, 95588 …) are public, not personal.
_SHORT_NUMBER_DIGITS = 6


def mask_account(value: str) -> str:
    """An account id with only its first and last two characters left."""
    if len(value) <= 4:
        return value[0] + "*" * (len(value) - 1) if value else value
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_indicator(kind: str, value: str) -> str:
    if kind not in PERSONAL_KINDS:
        return mask_text(value)
    if kind in ("qq", "wechat_id"):
        return mask_account(value)
    masked = mask_text(value)
    digits = sum(ch.isdigit() for ch in value)
    if masked == value and digits > _SHORT_NUMBER_DIGITS:
        return mask_account(value)  # a number in a shape mask_text does not know
    return masked


class CaseMasker:
    """Masks free text, knowing the personal indicators found in this case."""

    def __init__(self, indicators: Iterable[Mapping[str, Any]]) -> None:
        pairs: Dict[str, str] = {}
        for ind in indicators:
            kind, value = ind.get("kind"), ind.get("value")
            if kind in PERSONAL_KINDS and isinstance(value, str) and value:
                masked = mask_indicator(kind, value)
                if masked != value:
                    pairs[value] = masked
        # Longest first, so a value inside a longer one does not leave the rest readable.
        self._pairs = sorted(pairs.items(), key=lambda kv: -len(kv[0]))

    def text(self, value: str) -> str:
        for raw, masked in self._pairs:
            value = value.replace(raw, masked)
        return mask_text(value)

    def data(self, value: Any, key: str | None = None) -> Any:
        """A copy of a JSON-like verdict with the caller's words masked, KB content kept."""
        if key in _KB_KEYS:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            if "kind" in value and isinstance(value.get("value"), str):
                return {**value, "value": self.text(mask_indicator(value["kind"], value["value"]))}
            return {k: self.data(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value
