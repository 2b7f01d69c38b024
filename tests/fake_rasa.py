"""A stand-in for the Rasa server and the action server, for gateway tests without a model."""
from __future__ import annotations

from typing import Any, Dict, List

from aiohttp import web

POLICE_RANKING = {"police_impersonation": 0.8, "customer_service_impersonation": 0.1, "none": 0.05, "unknown": 0.05}


def fake_rasa_app(replies: List[Dict[str, Any]] | None = None, ranking: Dict[str, float] | None = None) -> web.Application:
    app = web.Application()
    app["received"] = []

    async def parse(request: web.Request) -> web.Response:
        body = await request.json()
        app["received"].append(("parse", body))
        return web.json_response({"text": body["text"], "intent": {"name": "describe_situation"},
                                  "entities": [], "scam_ranking": ranking or POLICE_RANKING})

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        app["received"].append(("webhook", body))
        return web.json_response(replies or [{"recipient_id": body["sender"], "text": "您好"}])

    async def tracker(request: web.Request) -> web.Response:
        # Rasa answers an unknown sender with an empty conversation (no verdict to share).
        return web.json_response({"sender_id": request.match_info["sender"], "events": []})

    async def ok(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_post("/model/parse", parse)
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_get("/conversations/{sender}/tracker", tracker)
    app.router.add_get("/status", ok)
    app.router.add_get("/health", ok)
    return app
