"""Share with family ("发给家人看看"): POST /api/v1/share, the page /s/<id> and its PNG.

- `POST /api/v1/share {"sender"}` → 201 `{"url": "/s/<id>", "image_url", "expires_at"}` for
  the sender's latest verdict; 404 when the conversation has none (400 bad input, 503 Rasa
  down). The latest verdict is read from where the chat keeps it: Rasa's tracker (the last
  bot message carrying a verdict card). The tracker is shared by every Rasa replica and
  survives a gateway restart; the check listeners (anonymous, no sender) and the case store
  (operators' cases) do not know the sender's conversations.
- WeChat's verdict reply gets its link from `share_verdict` directly (the verdict is in hand).
- `GET /s/<id>`: the card for the family (bot.kb.share: KB wording only, nothing the
  resident wrote), noindex (meta + X-Robots-Tag), no referrer, gone after seven days (404).
- `GET /s/<id>.png`: the same card as a picture for saving (bot.share.image).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any, AsyncIterator, Dict, Mapping, Optional, Sequence

import aiohttp_jinja2
from aiohttp import web

from bot.gateway.errors import ApiError, json_response, read_json_object, require_text
from bot.gateway.keys import RASA_KEY, SETTINGS_KEY, current_kb
from bot.gateway.outreach_packs import PUBLIC_URL_KEY
from bot.gateway.rasa_client import RasaUnavailable
from bot.kb.share import ShareCardError, card_from_verdict, share_view
from bot.outreach.packs import qr_data_uri, widget_url
from bot.share import Share, ShareStore, open_share_store, valid_share_id
from bot.share.image import card_png

log = logging.getLogger(__name__)
SHARE_STORE_KEY = web.AppKey("share_store", ShareStore)
MAX_SENDER_CHARS = 128  # as the chat API
ROBOTS = "noindex, nofollow, noarchive"
PAGE_HEADERS = {"X-Robots-Tag": ROBOTS, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
SHARE_BUTTON = "发给家人看看"
GONE_TEXT = "这个分享页面不存在，或者已经过期（分享七天后自动失效）。"


def share_paths(share: Share) -> Dict[str, str]:
    return {"url": f"/s/{share.id}", "image_url": f"/s/{share.id}.png"}


def latest_verdict(events: Sequence[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The verdict of the last bot message that carried one (actions/render.py sends it as
    `json_message={"verdict": ...}`), or None."""
    for event in reversed(events):
        if event.get("event") != "bot":
            continue
        custom = (event.get("data") or {}).get("custom")
        verdict = custom.get("verdict") if isinstance(custom, dict) else None
        if isinstance(verdict, dict):
            return verdict
    return None


async def share_verdict(app: web.Application, verdict: Mapping[str, Any]) -> Share:
    """Store the derived fields of `verdict`; raises ShareCardError for a non-verdict."""
    card = card_from_verdict(current_kb(app), verdict)
    return await app[SHARE_STORE_KEY].add(card)


def origin_of(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def public_base(app: web.Application, origin: str) -> str:
    """PUBLIC_URL when set and usable, else the address the request came to (no trailing /)."""
    return widget_url(app.get(PUBLIC_URL_KEY) or None, origin).rstrip("/")


async def create_share(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    sender = require_text(body, "sender", MAX_SENDER_CHARS)
    try:
        events = await request.app[RASA_KEY].tracker_events(sender)
    except RasaUnavailable as err:
        log.warning("share: Rasa unavailable: %s", err)
        raise ApiError(503, "the assistant is starting or busy; please retry in a few seconds") from err
    verdict = latest_verdict(events)
    if verdict is None:
        raise ApiError(404, "this sender has no verdict to share yet")
    try:
        share = await share_verdict(request.app, verdict)
    except ShareCardError as err:  # a verdict of a KB reloaded since: nothing we can describe
        raise ApiError(404, f"this sender's verdict cannot be shared: {err}") from err
    body_out = {**share_paths(share), "expires_at": share.expires_at.isoformat()}
    return json_response(body_out, status=201)


async def _find(request: web.Request) -> Optional[Share]:
    share_id = request.match_info["share_id"]
    if not valid_share_id(share_id):
        return None
    return await request.app[SHARE_STORE_KEY].get(share_id)


def _gone(request: web.Request) -> web.Response:
    response = aiohttp_jinja2.render_template("share.html", request, {"view": None, "gone": GONE_TEXT}, status=404)
    response.headers.update(PAGE_HEADERS)
    return response


async def share_page(request: web.Request) -> web.Response:
    share = await _find(request)
    if share is None:
        return _gone(request)
    url = public_base(request.app, origin_of(request)) + "/"
    context = {"view": share_view(current_kb(request.app), share.card), "gone": None,
               "qr": qr_data_uri(url), "widget_url": url, "image_url": share_paths(share)["image_url"]}
    response = aiohttp_jinja2.render_template("share.html", request, context)
    response.headers.update(PAGE_HEADERS)
    return response


async def share_image(request: web.Request) -> web.Response:
    share = await _find(request)
    if share is None:
        raise web.HTTPNotFound(text=GONE_TEXT, headers={"X-Robots-Tag": ROBOTS})
    view = share_view(current_kb(request.app), share.card)
    url = public_base(request.app, origin_of(request)) + "/"
    png = await asyncio.to_thread(card_png, view, url)  # tens of ms of drawing: off the event loop
    headers = {**PAGE_HEADERS, "Content-Disposition": 'inline; filename="fanzha-card.png"'}
    return web.Response(body=png, content_type="image/png", headers=headers)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[SHARE_STORE_KEY].close()


def setup_share(app: web.Application, store: Optional[ShareStore] = None) -> None:
    """`store`: the share store (default: Redis at REDIS_URL, else SQLite at SHARE_DB)."""
    settings = app[SETTINGS_KEY]
    app[SHARE_STORE_KEY] = store or open_share_store(
        settings.redis_url, settings.share_db, settings.share_redis_prefix, timedelta(seconds=settings.share_ttl_s)
    )
    app.cleanup_ctx.append(_store_ctx)
    app.router.add_post("/api/v1/share", create_share)
    app.router.add_get("/s/{share_id:[^/.]+}.png", share_image)
    app.router.add_get("/s/{share_id:[^/.]+}", share_page)
