"""Community alerts (社区预警): what an outreach worker writes, checked before it is stored.

Plain data in and out: `new_alert(fields, known_types, now)` returns an `Alert` or raises
`AlertValidationError` naming the field, which the API turns into a 400 and the page into
a message next to the form. Who an alert reaches is `reaches()`: the one rule the widget,
the chat, the tip sheets and the WeChat push all use.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, Mapping, Optional

EVERYONE = "所有人"
AUDIENCES = ("老年人", "家长", "学生", EVERYONE)
# The tip sheets' and quizzes' slugs name the same groups; both spellings are accepted.
AUDIENCE_SLUGS = {"elderly": "老年人", "parents": "家长", "students": "学生", "all": EVERYONE}
MAX_TITLE_CHARS = 40  # one line on a phone and in a WeChat notification
MAX_TEXT_CHARS = 500  # what a resident reads through; WeChat's text limit is far above it
MAX_DAYS = 90  # a warning older than a season is stale: write a new one
DEFAULT_DAYS = 14
DEFAULT_TYPE = "unknown"  # 可疑但类型不明: a new script that fits no known type yet


class AlertValidationError(ValueError):
    """An alert field is missing or wrong; `field` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Alert:
    id: str
    title: str
    text: str
    scam_type: str
    audience: str
    created_at: datetime
    expires_at: datetime
    author: str = ""  # the outreach account's username; "" through the API

    def is_active(self, now: datetime) -> bool:
        return self.created_at <= now < self.expires_at

    def reaches(self, audience: Optional[str]) -> bool:
        return reaches(self.audience, audience)

    def to_api(self, scam_name: str = "") -> Dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "text": self.text, "scam_type": self.scam_type,
            "scam_name": scam_name, "audience": self.audience,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "expires_at": self.expires_at.isoformat(timespec="seconds"),
        }

    def to_json(self) -> str:
        record = asdict(self)
        record["created_at"] = self.created_at.isoformat()
        record["expires_at"] = self.expires_at.isoformat()
        return json.dumps(record, ensure_ascii=True, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> "Alert":
        data = json.loads(raw)
        for key in ("created_at", "expires_at"):
            data[key] = datetime.fromisoformat(data[key])
        return cls(**data)


def reaches(alert_audience: str, audience: Optional[str]) -> bool:
    """Whether an alert for `alert_audience` concerns someone in `audience` (None: everyone's
    alerts, e.g. a subscriber who named no group)."""
    return alert_audience == EVERYONE or audience in (None, EVERYONE) or alert_audience == audience


def audience_named(value: str) -> Optional[str]:
    """The audience label for a label or slug ("老年人", "elderly"), or None."""
    value = value.strip()
    return value if value in AUDIENCES else AUDIENCE_SLUGS.get(value.lower())


def _text(fields: Mapping[str, Any], name: str, max_chars: int) -> str:
    value = fields.get(name)
    if value is None:
        raise AlertValidationError(name, "required")
    if not isinstance(value, str):
        raise AlertValidationError(name, "must be a string")
    if "\x00" in value:
        raise AlertValidationError(name, "must not contain NUL characters")
    value = "\n".join(line.rstrip() for line in value.strip().replace("\r\n", "\n").split("\n"))
    if not value:
        raise AlertValidationError(name, "must not be empty")
    if len(value) > max_chars:
        raise AlertValidationError(name, f"too long: {len(value)} characters (max {max_chars})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate from a JSON \ud800 escape
        raise AlertValidationError(name, "contains characters that are not valid Unicode text") from err
    return value


def _scam_type(fields: Mapping[str, Any], known_types: Iterable[str]) -> str:
    value = fields.get("scam_type")
    if value is None or value == "":
        return DEFAULT_TYPE
    known = list(known_types)
    if not isinstance(value, str) or value not in known:
        raise AlertValidationError("scam_type", f"unknown scam type {value!r}; use one of the KB's ids ({', '.join(known)})")
    if value == "none":
        raise AlertValidationError("scam_type", "'none' means no scam: an alert is about one")
    return value


def _audience(fields: Mapping[str, Any]) -> str:
    value = fields.get("audience")
    if value is None or value == "":
        return EVERYONE
    label = audience_named(value) if isinstance(value, str) else None
    if label is None:
        raise AlertValidationError("audience", f"must be one of {', '.join(AUDIENCES)}")
    return label


def _expiry(fields: Mapping[str, Any], now: datetime) -> datetime:
    value = fields.get("expires_at")
    if value is None or value == "":
        return now + timedelta(days=DEFAULT_DAYS)
    if not isinstance(value, str):
        raise AlertValidationError("expires_at", "must be a date-time string like 2026-12-31T23:59:00+08:00")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise AlertValidationError("expires_at", f"not a date-time: {value!r} (write 2026-12-31T23:59:00+08:00)") from None
    if moment.tzinfo is None:
        raise AlertValidationError("expires_at", "needs a time zone, e.g. 2026-12-31T23:59:00+08:00")
    moment = moment.astimezone(timezone.utc)
    if moment <= now:
        raise AlertValidationError("expires_at", "must be in the future")
    if moment > now + timedelta(days=MAX_DAYS):
        raise AlertValidationError("expires_at", f"at most {MAX_DAYS} days from now")
    return moment


def new_alert(fields: Mapping[str, Any], known_types: Iterable[str], now: Optional[datetime] = None,
              author: str = "") -> Alert:
    """A new alert from the fields a worker sent (title, text, scam_type?, audience?, expires_at?)."""
    now = now or utc_now()
    return Alert(
        id=secrets.token_hex(6),
        title=_text(fields, "title", MAX_TITLE_CHARS),
        text=_text(fields, "text", MAX_TEXT_CHARS),
        scam_type=_scam_type(fields, known_types),
        audience=_audience(fields),
        created_at=now,
        expires_at=_expiry(fields, now),
        author=author,
    )


@dataclass(frozen=True)
class PushProgress:
    """How far the WeChat push of one alert has got (no OpenID in here, only counts)."""

    state: str = "off"  # off (WeChat push not configured), sending, done
    total: int = 0
    sent: int = 0
    failed: int = 0

    def to_api(self) -> Dict[str, Any]:
        return asdict(self)
