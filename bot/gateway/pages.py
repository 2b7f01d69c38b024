"""Server-rendered pages (console, outreach): Jinja2 templates, one stylesheet, strict headers.

Templates live in ``bot/gateway/templates`` and extend ``base.html``; their own
CSS and JS go to ``bot/gateway/static/site/`` and are served from ``/site/``.
Nothing comes from a CDN.  Jinja autoescaping is on for every template.
"""
from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SITE_STATIC_DIR = Path(__file__).resolve().parent / "static" / "site"

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@web.middleware
async def page_headers(request: web.Request, handler):
    response = await handler(request)
    if response.content_type == "text/html" and not request.path.startswith("/widget") and request.path != "/":
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def setup_pages(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    app.middlewares.append(page_headers)
    app.router.add_static("/site/", SITE_STATIC_DIR, show_index=False, follow_symlinks=False)
