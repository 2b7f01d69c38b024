"""The gateway: the one web front (API, widget, WeChat, console, outreach)."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional

from aiohttp import web

from bot.gateway.errors import (
    MAX_TEXT_CHARS,
    ApiError,
    json_errors,
    json_response,
    optional_answers,
    read_json_object,
    require_text,
)
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.kb import KnowledgeBase, assess, default_kb
from bot.kb.verdict import Verdict
from bot.privacy import install_log_masking

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
MAX_SENDER_CHARS = 128


@dataclass(frozen=True)
class GatewayConfig:
    rasa_url: str
    actions_url: str
    api_tokens: frozenset = field(default_factory=frozenset)

    @classmethod
    def from_env(cls) -> "GatewayConfig":
        rasa_port = os.environ.get("RASA_PORT", "5005")
        actions_port = os.environ.get("ACTIONS_PORT", "5055")
        tokens = {t.strip() for t in os.environ.get("API_TOKENS", "").split(",") if t.strip()}
        return cls(
            rasa_url=os.environ.get("RASA_URL", f"http://127.0.0.1:{rasa_port}"),
            actions_url=os.environ.get("ACTIONS_URL", f"http://127.0.0.1:{actions_port}"),
            api_tokens=frozenset(tokens),
        )


RASA_KEY = web.AppKey("rasa", RasaClient)
KB_KEY = web.AppKey("kb", KnowledgeBase)
# Called with (verdict as in the assess API, channel) after every completed self-check.
# Listeners get no text and no sender id: the anonymous statistics are built from these.
CheckListener = Callable[[Mapping[str, Any], str], Awaitable[None]]
CHECK_LISTENERS = web.AppKey("check_listeners", list)
CHANNELS = ("widget", "wechat", "api")


def _rasa_unavailable(err: RasaUnavailable) -> ApiError:
    log.warning("Rasa unavailable: %s", err)
    return ApiError(503, "the assistant is starting or busy; please retry in a few seconds")


async def healthz(request: web.Request) -> web.Response:
    components: Dict[str, str] = await request.app[RASA_KEY].health()
    components["gateway"] = "ready"
    ready = all(state == "ready" for state in components.values())
    return json_response(
        {"status": "ok" if ready else "unavailable", "components": components},
        status=200 if ready else 503,
    )


async def assess_text(app: web.Application, text: str, answers: Optional[Mapping[str, bool]] = None) -> Verdict:
    """The one assessment path: Rasa's NLU, then the verdict engine (API, console, cases)."""
    try:
        nlu = await app[RASA_KEY].parse(text)
    except RasaUnavailable as err:
        raise _rasa_unavailable(err) from err
    from bot.runtime.context import get_blocklist, get_extractor

    return assess(app[KB_KEY], text, ranking=nlu.get("scam_ranking"), entities=nlu.get("entities"), answers=answers,
                  blocklist=get_blocklist(), extractor=get_extractor())


async def notify_completed_check(app: web.Application, verdict: Mapping[str, Any], channel: str) -> None:
    """Tell the listeners (statistics) that a self-check ended; they never break the reply."""
    for listener in app.get(CHECK_LISTENERS, []):
        try:
            await listener(verdict, channel)
        except Exception:  # noqa: BLE001 - counting must never cost a resident their answer
            log.exception("check listener %r failed", listener)


async def assess_endpoint(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    text = require_text(body, "text")
    answers = optional_answers(body, set(request.app[KB_KEY].questions))
    verdict = (await assess_text(request.app, text, answers)).to_api()
    await notify_completed_check(request.app, verdict, "api")
    return json_response(verdict)


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
    try:
        replies = await app[RASA_KEY].send(sender, message)
    except RasaUnavailable as err:
        raise _rasa_unavailable(err) from err
    messages = [_chat_message(m) for m in replies if m.get("text") or m.get("custom") or m.get("buttons")]
    for m in messages:
        verdict = m.get("custom", {}).get("verdict") if isinstance(m.get("custom"), dict) else None
        if isinstance(verdict, dict):
            await notify_completed_check(app, verdict, channel)
    return messages


async def chat_endpoint(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    sender = require_text(body, "sender", MAX_SENDER_CHARS)
    message = require_text(body, "message", MAX_TEXT_CHARS)
    channel = body.get("channel", "api")
    if channel not in CHANNELS:
        raise ApiError(400, f"'channel' must be one of {list(CHANNELS)}")
    return json_response(await chat_turn(request.app, sender, message, channel))


async def _start_client(app: web.Application) -> None:
    await app[RASA_KEY].start()


async def _close_client(app: web.Application) -> None:
    await app[RASA_KEY].close()


def create_app(config: GatewayConfig | None = None, kb: KnowledgeBase | None = None) -> web.Application:
    config = config or GatewayConfig.from_env()
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY_BYTES)
    app["max_body"] = MAX_BODY_BYTES
    app["config"] = config
    app[KB_KEY] = kb or default_kb()
    app[RASA_KEY] = RasaClient(config.rasa_url, config.actions_url)
    app.on_startup.append(_start_client)
    app.on_cleanup.append(_close_client)
    app[CHECK_LISTENERS] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/v1/assess", assess_endpoint)
    app.router.add_post("/api/v1/chat", chat_endpoint)
    _setup_fronts(app, config)
    return app


def _setup_fronts(app: web.Application, config: GatewayConfig) -> None:
    # Late imports: these modules import this one for assess_text / chat_turn.
    from bot.gateway.auth import setup_auth
    from bot.gateway.cases_api import setup_cases_api
    from bot.gateway.console import setup_console
    from bot.gateway.openapi import setup_openapi
    from bot.gateway.outreach_drills import setup_outreach_drills
    from bot.gateway.outreach_packs import setup_outreach_packs
    from bot.gateway.pages import setup_pages
    from bot.gateway.stats import setup_stats
    from bot.gateway.wechat import setup_wechat
    from bot.gateway.widget import setup_widget

    setup_widget(app)  # residents (issue 4)
    setup_wechat(app)
    setup_pages(app)  # operators (issue 6) and outreach (issue 7)
    setup_auth(app, config.api_tokens)
    setup_cases_api(app)
    setup_console(app)
    setup_openapi(app)
    setup_outreach_drills(app)
    setup_outreach_packs(app)
    setup_stats(app)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gateway %(levelname)s %(message)s")
    install_log_masking()  # no raw phone, card or ID number ever reaches a log line
    port = int(os.environ.get("GATEWAY_PORT", "8080"))
    host = os.environ.get("GATEWAY_HOST", "127.0.0.1")
    web.run_app(create_app(), host=host, port=port, print=None)


if __name__ == "__main__":
    main()
