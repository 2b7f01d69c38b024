"""Security headers on every response of the gateway, and CORS for the embed snippet (issue 13).

Every response the app prepares — pages, the JSON API, /api/openapi.json, static files,
redirects and error pages (404, 405, 413, a 500) — gets, unless its handler set them:

- ``Content-Security-Policy``: pages set their own (no ``unsafe-inline``: bot/gateway/pages.py,
  bot/gateway/widget.py); anything else gets ``default-src 'none'`` (JSON, files, errors
  are never documents that run code). A CSP without ``frame-ancestors`` gets one:
  the widget page (``/``, framed by embed.js) the origins of ``EMBED_ORIGINS``, every
  other response ``'none'`` (plus ``X-Frame-Options: DENY`` for old browsers);
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy`` (``no-referrer``);
- ``Server: fzzc-gateway`` — no aiohttp or Python version (also for the protocol's own
  400 pages: `hide_server_version`).

CORS: ``/widget/embed.js`` is fetched by other sites' pages; with ``EMBED_ORIGINS=*``
(default) any site may load it (``Access-Control-Allow-Origin: *``), otherwise only the
listed origins (echoed, ``Vary: Origin``). ``POST /api/v1/chat`` and ``/api/v1/assess``
answer cross-origin calls (and their ``OPTIONS`` preflight) only from listed origins —
never for ``*``: the widget itself calls the API from the gateway's own origin.
"""
from __future__ import annotations

from typing import Awaitable, Callable, List

from aiohttp import web, web_response

from bot.settings import Settings

SERVER_NAME = "fzzc-gateway"
DEFAULT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'"
WIDGET_PATHS = frozenset({"/"})  # the page embed.js frames (/?embed=1)
EMBED_SCRIPT = "/widget/embed.js"
CORS_API_PATHS = frozenset({"/api/v1/chat", "/api/v1/assess"})
PREFLIGHT_MAX_AGE_S = "600"

EMBED_ORIGINS_KEY = web.AppKey("embed_origins", list)


def hide_server_version() -> None:
    """aiohttp names itself and Python's version in `Server`; responses that no handler
    prepared (the protocol's 400 for a broken request line) use this module default."""
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]


def frame_ancestors(origins: List[str]) -> str:
    return "frame-ancestors *" if origins == ["*"] else "frame-ancestors 'self' " + " ".join(origins)


def _origin_allowed(origins: List[str], origin: str) -> bool:
    return bool(origin) and origin.rstrip("/") in origins


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    origins = request.app[EMBED_ORIGINS_KEY]
    headers = response.headers
    headers["Server"] = SERVER_NAME
    csp = headers.get("Content-Security-Policy") or DEFAULT_CSP
    widget = request.path in WIDGET_PATHS
    if "frame-ancestors" not in csp:
        csp += "; " + (frame_ancestors(origins) if widget else "frame-ancestors 'none'")
    headers["Content-Security-Policy"] = csp
    if not widget:
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    origin = request.headers.get("Origin", "")
    if request.path == EMBED_SCRIPT:
        if origins == ["*"]:
            headers["Access-Control-Allow-Origin"] = "*"
        else:
            headers.add("Vary", "Origin")
            if _origin_allowed(origins, origin):
                headers["Access-Control-Allow-Origin"] = origin
            else:
                headers.popall("Access-Control-Allow-Origin", None)
    elif request.path in CORS_API_PATHS and origins != ["*"]:
        headers.add("Vary", "Origin")
        if _origin_allowed(origins, origin):
            headers["Access-Control-Allow-Origin"] = origin


@web.middleware
async def cors_preflight(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """``OPTIONS`` on the chat and assess API from a listed origin: 204 with what it may send."""
    if request.method == "OPTIONS" and request.path in CORS_API_PATHS:
        origins = request.app[EMBED_ORIGINS_KEY]
        origin = request.headers.get("Origin", "")
        if origins != ["*"] and _origin_allowed(origins, origin):
            return web.Response(status=204, headers={
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE_S,
            })
    return await handler(request)


def setup_security_headers(app: web.Application, settings: Settings) -> None:
    hide_server_version()
    app[EMBED_ORIGINS_KEY] = settings.embed_origin_list
    app.middlewares.append(cors_preflight)
    app.on_response_prepare.append(_add_headers)
