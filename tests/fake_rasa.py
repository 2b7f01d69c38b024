"""A stand-in for the Rasa server and the action server, for gateway tests without a model."""
from __future__ import annotations

from typing import Any, Dict, List

from aiohttp import web

POLICE_RANKING = {"police_impersonation": 0.8, "customer_service_impersonation": 0.1, "none": 0.05, "unknown": 0.05}


def fake_rasa_app(replies: List[Dict[str, Any]] | None = None, ranking: Dict[str, float] | None = None) -> web.Application:
    app = web.Application()
    app["received"] = []
    app["model_file"] = "current.tar.gz"

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

    async def status(_request: web.Request) -> web.Response:
        return web.json_response({"model_file": app["model_file"], "model_id": app["model_file"]})

    async def load_model(request: web.Request) -> web.Response:
        # Rasa's PUT /model: loads the named file and answers 204 (the gateway's model reload).
        body = await request.json()
        app["received"].append(("model", body))
        app["model_file"] = str(body.get("model_file", "")).rsplit("/", 1)[-1]
        return web.Response(status=204)

    app.router.add_post("/model/parse", parse)
    app.router.add_post("/webhooks/rest/webhook", webhook)
    # Sanic's match: any segment (aiohttp ≥ 3.10's default {name} refuses braces).
    app.router.add_get("/conversations/{sender:[^/]+}/tracker", tracker)
    app.router.add_get("/status", status)
    app.router.add_put("/model", load_model)
    app.router.add_get("/health", ok)
    return app
