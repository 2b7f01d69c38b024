"""What the fronts share: the one assessment path, one chat turn, the completed-check listeners."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Mapping, Optional

from aiohttp import web

from bot.gateway.degraded import DEGRADED_KEY
from bot.gateway.errors import ApiError
from bot.gateway.input_guard import neutralise
from bot.gateway.keys import (
    BLOCKLIST_KEY,
    BUTTONS_KEY,
    CHECK_LISTENERS,
    EXTRACTOR_KEY,
    KB_KEY,
    RASA_KEY,
    SETTINGS_KEY,
    STAGE_MODEL_KEY,
)
from bot.gateway.rasa_client import RasaUnavailable
from bot.kb import assess
from bot.kb.verdict import Verdict

log = logging.getLogger(__name__)
CHANNELS = ("widget", "wechat", "api")


def rasa_unavailable(err: RasaUnavailable) -> ApiError:
    log.warning("Rasa unavailable: %s", err)
    return ApiError(503, "the assistant is starting or busy; please retry in a few seconds")


async def assess_text(
    app: web.Application, text: str, answers: Optional[Mapping[str, bool]] = None, need_nlu: bool = False
) -> Verdict:
    """The one assessment path: Rasa's NLU, then the verdict engine (API, console, cases).

    It never waits on Rasa for long: Rasa only adds the classifier's ranking and its entities.
    Without an answer within `degraded_after_s` the verdict engine decides from the red flags,
    the loss words and the regex indicators alone (bot.kb needs no Rasa) — unless `need_nlu`
    (a stored case keeps the full verdict: 503, the desk retries)."""
    text = neutralise(text)  # never a Rasa command, never a lone surrogate
    try:
        nlu = await asyncio.wait_for(app[RASA_KEY].parse(text), timeout=app[SETTINGS_KEY].degraded_after_s)
    except (RasaUnavailable, asyncio.TimeoutError) as err:
        if need_nlu:
            raise rasa_unavailable(RasaUnavailable(repr(err))) from err
        log.warning("assess without Rasa's NLU (%s): red flags and the KB decide", err.__class__.__name__)
        nlu = {}
    return assess(
        app[KB_KEY], text, ranking=nlu.get("scam_ranking"), entities=nlu.get("entities"), answers=answers,
        blocklist=app[BLOCKLIST_KEY], extractor=app[EXTRACTOR_KEY](), stage_model=app.get(STAGE_MODEL_KEY),
    )


async def notify_completed_check(app: web.Application, verdict: Mapping[str, Any], channel: str) -> None:
    """Tell the listeners (statistics) that a self-check ended; they never break the reply."""
    for listener in app.get(CHECK_LISTENERS, []):
        try:
            await listener(verdict, channel)
        except Exception:  # noqa: BLE001 - counting must never cost a resident their answer
            log.exception("check listener %r failed", listener)


def _chat_message(message: Dict[str, Any]) -> Dict[str, Any]:
    """Rasa REST output → the chat contract: `text`, optional `buttons`, optional `custom`."""
    out: Dict[str, Any] = {"text": message.get("text", "")}
    if message.get("buttons"):
        out["buttons"] = [
            {"title": b.get("title", ""), "payload": b.get("payload", "")} for b in message["buttons"]
        ]
    if message.get("custom") is not None:
        out["custom"] = message["custom"]
    return out


async def chat_turn(app: web.Application, sender: str, message: str, channel: str = "api") -> List[Dict[str, Any]]:
    """One conversation turn, shared by the JSON API, the widget and WeChat."""
    # Rasa's answer, or (Rasa or the action server silent for 3 s) one from bot.kb, the
    # message kept and replayed once Rasa answers again (bot/gateway/degraded.py).
    signer = app[BUTTONS_KEY]
    replies, _degraded = await app[DEGRADED_KEY].turn(sender, signer.admit(sender, message))
    messages = [_chat_message(m) for m in replies if m.get("text") or m.get("custom") or m.get("buttons")]
    signer.sign_buttons(sender, messages)
    for m in messages:
        verdict = m.get("custom", {}).get("verdict") if isinstance(m.get("custom"), dict) else None
        if isinstance(verdict, dict):
            await notify_completed_check(app, verdict, channel)
    return messages
