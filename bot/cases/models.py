"""Case records: what an operator (or a desk system) saved, with the verdict at that time."""
from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional

from bot.cases.masking import CaseMasker

# How the caller reached the desk.
CASE_CHANNELS = ("phone", "wechat", "widget", "walk_in", "api", "other")
RISK_LEVELS = ("high", "medium", "low")
MAX_NOTES_CHARS = 5000
MAX_IDENTITY_CHARS = 200
MAX_OPERATOR_CHARS = 64
MAX_ANSWER_ID_CHARS = 100


class CaseValidationError(ValueError):
    """A case field is missing or wrong; `field` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def _check_text(name: str, value: Any, max_chars: int, required: bool) -> None:
    if not isinstance(value, str):
        raise CaseValidationError(name, "must be a string")
    if required and not value.strip():
        raise CaseValidationError(name, "must not be empty")
    if len(value) > max_chars:
        raise CaseValidationError(name, f"too long: {len(value)} characters (max {max_chars})")
    if "\x00" in value:
        raise CaseValidationError(name, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate from a JSON \\ud800 escape
        raise CaseValidationError(name, "contains characters that are not valid Unicode text") from err


def _check_answers(answers: Any) -> None:
    if not isinstance(answers, dict):
        raise CaseValidationError("answers", "must be a mapping of question id → true / false / null")
    for qid, value in answers.items():
        if not isinstance(qid, str) or not qid or len(qid) > MAX_ANSWER_ID_CHARS:
            raise CaseValidationError("answers", f"bad question id {qid!r}")
        if value is not None and not isinstance(value, bool):
            raise CaseValidationError(f"answers.{qid}", "must be true, false or null (unknown)")


def _check_verdict(verdict: Any) -> None:
    if not isinstance(verdict, dict):
        raise CaseValidationError("verdict", "must be the verdict as the assess API returns it")
    if not isinstance(verdict.get("scam_type"), str) or not verdict["scam_type"]:
        raise CaseValidationError("verdict.scam_type", "required")
    if verdict.get("risk_level") not in RISK_LEVELS:
        raise CaseValidationError("verdict.risk_level", f"must be one of {list(RISK_LEVELS)}")


@dataclass(frozen=True)
class CaseDraft:
    """A case before it is stored. `verdict` is `Verdict.to_api()` at save time."""

    notes: str
    verdict: Dict[str, Any]
    channel: str = "phone"
    answers: Dict[str, Optional[bool]] = field(default_factory=dict)
    claimed_identity: str = ""  # who the other side claimed to be (警官, 客服 …)
    operator: str = ""  # the operator's username; "" when saved through the API

    def __post_init__(self) -> None:
        _check_text("notes", self.notes, MAX_NOTES_CHARS, required=True)
        if self.channel not in CASE_CHANNELS:
            raise CaseValidationError("channel", f"must be one of {list(CASE_CHANNELS)}")
        _check_answers(self.answers)
        _check_text("claimed_identity", self.claimed_identity, MAX_IDENTITY_CHARS, required=False)
        _check_text("operator", self.operator, MAX_OPERATOR_CHARS, required=False)
        _check_verdict(self.verdict)


def new_case_id() -> str:
    """16 hex characters (64 random bits): short enough to read out, not guessable."""
    return secrets.token_hex(8)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Case(CaseDraft):
    id: str = ""
    created_at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.id:
            raise CaseValidationError("id", "required")
        if self.created_at.tzinfo is None:
            raise CaseValidationError("created_at", "must be timezone-aware")
        object.__setattr__(self, "created_at", self.created_at.astimezone(timezone.utc))

    @classmethod
    def from_draft(cls, draft: CaseDraft, case_id: Optional[str] = None, created_at: Optional[datetime] = None) -> "Case":
        return cls(**asdict(draft), id=case_id or new_case_id(), created_at=created_at or utc_now())

    # -- derived -------------------------------------------------------------------

    @property
    def scam_type(self) -> str:
        return self.verdict["scam_type"]

    @property
    def scam_name(self) -> str:
        return str(self.verdict.get("scam_name", ""))

    @property
    def risk_level(self) -> str:
        return self.verdict["risk_level"]

    @property
    def indicators(self) -> List[Dict[str, str]]:
        return [dict(i) for i in self.verdict.get("indicators", []) if isinstance(i, Mapping)]

    @property
    def amounts(self) -> List[str]:
        return [i["value"] for i in self.indicators if i.get("kind") == "amount"]

    @property
    def created_us(self) -> int:
        """Microseconds since the epoch: the sort key every store uses."""
        return datetime_to_us(self.created_at)

    # -- output --------------------------------------------------------------------

    def to_api(self, unmask: bool = False) -> Dict[str, Any]:
        """The case as the API and the console show it; personal data masked unless `unmask`."""
        masker = None if unmask else CaseMasker(self.indicators)
        text = (lambda s: s) if masker is None else masker.text
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "channel": self.channel,
            "notes": text(self.notes),
            "claimed_identity": text(self.claimed_identity),
            "operator": self.operator,
            "answers": dict(self.answers),
            "verdict": self.verdict if masker is None else masker.data(self.verdict),
            "masked": not unmask,
        }

    def search_text(self) -> str:
        """What a search `query` looks in (raw, normalised, lower case): never shown."""
        from bot.kb.text import normalize

        parts = [self.notes, self.claimed_identity, self.operator, self.scam_name]
        parts += [i.get("value", "") for i in self.indicators]
        return normalize("\n".join(parts)).lower()

    # -- storage -------------------------------------------------------------------

    def to_record(self) -> Dict[str, Any]:
        """Everything, unmasked, as JSON-ready data (what the stores keep)."""
        record = asdict(self)
        record["created_at"] = self.created_at.isoformat()
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Case":
        data = dict(record)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**data)


def datetime_to_us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def normalize_query(query: str) -> str:
    from bot.kb.text import normalize

    return normalize(query).lower()
