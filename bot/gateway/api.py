"""The residents' JSON API and the health check: /healthz, /api/v1/assess, /api/v1/chat."""
from __future__ import annotations

from typing import Any, Dict

from aiohttp import web

from bot.gateway import services
from bot.gateway.degraded import DEGRADED_KEY
from bot.gateway.errors import MAX_TEXT_CHARS, ApiError, json_response, optional_answers, read_json_object, require_text
from bot.gateway.kb_reload import kb_versions
from bot.gateway.keys import RASA_KEY, current_kb
from bot.gateway.ratelimit import sender_turn

MAX_SENDER_CHARS = 128


async def healthz(request: web.Request) -> web.Response:
    rasa = request.app[RASA_KEY]
    components: Dict[str, str] = await rasa.health()
    components["gateway"] = "ready"
    # A replica loading a new model is out of service on purpose ("rasa" says whether the rest serve).
    ready = all(state in ("ready", "reloading") for state in components.values())
    body: Dict[str, Any] = {"status": "ok" if ready else "unavailable", "components": components,
                            "kb": await kb_versions(request.app)}
    if len(rasa.replicas) > 1:  # the production profile: how turns spread and failed over
        body.update(rasa.replica_report())
        # Senders whose degraded turns Rasa has not stored yet (delivered in the background).
        body["degraded"] = {"delivering": request.app[DEGRADED_KEY].delivering}
    return json_response(body, status=200 if ready else 503)


async def assess_endpoint(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    text = require_text(body, "text")
    kb = current_kb(request.app)  # one KB for the whole request, even if a reload lands meanwhile
    answers = optional_answers(body, set(kb.questions))
    verdict = (await services.assess_text(request.app, text, answers, kb=kb)).to_api()
    await services.notify_completed_check(request.app, verdict, "api")
    return json_response(verdict)


async def chat_endpoint(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    sender = require_text(body, "sender", MAX_SENDER_CHARS)
    message = require_text(body, "message", MAX_TEXT_CHARS)
    channel = body.get("channel", "api")
    if channel not in services.CHANNELS:
        raise ApiError(400, f"'channel' must be one of {list(services.CHANNELS)}")
    async with sender_turn(request, "chat_sender", sender):  # rate and turns at a time, per sender
        return json_response(await services.chat_turn(request.app, sender, message, channel))


def setup_api(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/v1/assess", assess_endpoint)
    app.router.add_post("/api/v1/chat", chat_endpoint)
