"""Value objects produced by the verdict engine and shared by every front end."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

INDICATOR_KINDS = (
    "phone", "url", "bank_card", "id_number", "amount", "qq", "wechat_id", "app", "organization",
)


@dataclass(frozen=True)
class Indicator:
    """A piece of evidence in the text: `value` is the text as written, `start`/`end` its span."""

    kind: str
    value: str
    start: int
    end: int
    # Its blocklist status once the verdict engine looked it up: "block", "allow" or ""
    # (on neither list); None before. `list_note` is the entry's note.
    listed: Optional[str] = field(default=None, compare=False)
    list_note: str = field(default="", compare=False)

    def to_api(self) -> dict:
        return {"kind": self.kind, "value": self.value}


@dataclass(frozen=True)
class RedFlagHit:
    """A red flag found in the text (or implied by an answer), quoting what triggered it."""

    id: str
    description: str
    weight: int
    quote: str = ""
    scam_type: Optional[str] = None  # None for shared red flags
    source: str = "text"  # text | answer | indicator

    def to_api(self) -> dict:
        return {"id": self.id, "description": self.description, "quote": self.quote}
