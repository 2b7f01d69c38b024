"""What residents send, made safe before anything reaches Rasa or the verdict engine.

- JSON bodies: nesting depth and integer length are bounded before and while parsing
  (a `[` × 2,000 body would hit Python's recursion limit; a 5,000-digit integer its
  integer-string limit).
- Text: lone surrogates and control characters removed (`bot.kb.text.clean`).
- Commands: Rasa reads a message starting with "/" as `/intent{entities}` and skips NLU.
  A resident's typed text must never drive the dialogue, so a leading "/" is neutralised,
  except for the payload of a button the gateway itself handed out: each button payload
  leaves the gateway signed for its sender (`<payload>#<tag>`), and only a signed payload
  whose intent and entities are on the allowlist reaches Rasa as a command.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from bot.kb.text import clean

MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 30
COMMAND_PREFIX = "/"
NEUTRAL_PREFIX = "／"  # full-width solidus: reads the same, never a Rasa command
TAG_SEPARATOR = "#"
TAG_CHARS = 16
MAX_ENTITY_VALUE_CHARS = 64
_COMMAND = re.compile(r"^/([a-z_]+)(\{.*\})?$", re.DOTALL)

# Intents and entities the gateway's buttons use (actions/texts.py, faq.py, outreach.py).
BUTTON_INTENTS: FrozenSet[str] = frozenset({
    "affirm", "deny", "unsure", "start_check", "report_loss", "ask_scam_type", "ask_which_number",
    "continue_check", "restart", "start_quiz", "start_drill", "choose_option",
})
BUTTON_ENTITIES: FrozenSet[str] = frozenset({"scam_type", "audience", "choice"})


class UnsafeJson(ValueError):
    """A body nested too deeply or carrying an oversized number."""


def _depth_within(raw: str, limit: int) -> bool:
    depth, in_string, escaped = 0, False, False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise UnsafeJson(f"number too long (max {MAX_INT_DIGITS} digits)")
    return int(literal)


def _bounded_float(literal: str) -> float:
    if len(literal) > MAX_INT_DIGITS * 2:
        raise UnsafeJson(f"number too long (max {MAX_INT_DIGITS * 2} characters)")
    return float(literal)


def loads_bounded(raw: str) -> Any:
    """json.loads with the depth and number bounds; UnsafeJson or JSONDecodeError on bad input."""
    if not _depth_within(raw, MAX_JSON_DEPTH):
        raise UnsafeJson(f"JSON nested too deeply (max depth {MAX_JSON_DEPTH})")
    try:
        return json.loads(raw, parse_int=_bounded_int, parse_float=_bounded_float)
    except RecursionError as err:  # belt and braces: the scan above should make this unreachable
        raise UnsafeJson("JSON nested too deeply") from err


def neutralise(text: str) -> str:
    """Clean text that can never be read as a Rasa command."""
    text = clean(text)
    stripped = text.lstrip()
    if stripped.startswith(COMMAND_PREFIX):
        return NEUTRAL_PREFIX + stripped[len(COMMAND_PREFIX):]
    return text


class ButtonSigner:
    """Signs the button payloads handed to one sender and admits only those back."""

    def __init__(self, secret: Optional[bytes] = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _tag(self, sender: str, payload: str) -> str:
        mac = hmac.new(self._secret, f"{sender}\n{payload}".encode("utf-8", "surrogatepass"), hashlib.sha256)
        return mac.hexdigest()[:TAG_CHARS]

    def sign(self, sender: str, payload: str) -> str:
        if not payload.startswith(COMMAND_PREFIX):
            return payload  # a plain-text button is sent as text anyway
        return f"{payload}{TAG_SEPARATOR}{self._tag(sender, payload)}"

    def sign_buttons(self, sender: str, messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        for message in messages:
            for button in message.get("buttons") or []:
                button["payload"] = self.sign(sender, str(button.get("payload") or ""))
        return messages

    def admit(self, sender: str, message: str) -> str:
        """What to send to Rasa for what the sender sent: a vetted command, or neutral text."""
        command = self._verified(sender, message.strip())
        return command if command is not None else neutralise(message)

    def _verified(self, sender: str, message: str) -> Optional[str]:
        payload, sep, tag = message.rpartition(TAG_SEPARATOR)
        if not sep or not payload.startswith(COMMAND_PREFIX):
            return None
        if not hmac.compare_digest(tag, self._tag(sender, payload)):
            return None
        return payload if allowed_command(payload) else None


def parse_command(payload: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    match = _COMMAND.match(payload)
    if not match:
        return None
    entities: Dict[str, Any] = {}
    if match.group(2):
        try:
            entities = loads_bounded(match.group(2))
        except (ValueError, UnsafeJson):
            return None
        if not isinstance(entities, dict):
            return None
    return match.group(1), entities


def allowed_command(payload: str) -> bool:
    """A button payload on the allowlist: known intent, known entities, short string values."""
    parsed = parse_command(payload)
    if parsed is None:
        return False
    intent, entities = parsed
    return intent in BUTTON_INTENTS and all(
        key in BUTTON_ENTITIES and isinstance(value, str) and len(value) <= MAX_ENTITY_VALUE_CHARS
        for key, value in entities.items()
    )
