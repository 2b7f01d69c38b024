"""The residents' web chat widget: a WeChat-style page at ``/``.

- ``GET /``: the chat page (``/widget/`` redirects there).  ``/?embed=1`` is the
  same page inside the iframe that ``embed.js`` injects (it then shows a close
  button).  The page refers to its assets, and to the API, with relative URLs,
  so the gateway also works behind a reverse proxy under a path prefix.
- ``GET /widget/<file>``: the widget's own assets from ``bot/gateway/static``
  (CSS, JS, SVG avatars, ``embed.js``).  Nothing is loaded from a CDN and no
  external font is used, so the widget works offline.
- A community website embeds the widget with one line::

      <script src="https://GATEWAY/widget/embed.js" defer></script>

  which adds a floating button and an iframe pointing back at the gateway.

The page talks to ``POST /api/v1/chat``.  Its Content-Security-Policy allows
scripts, styles, images and requests from the gateway only, and the scripts
put the bot's text on the page with ``textContent`` only.
"""
from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from bot.kb import RISK_LABELS

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX_FILE = STATIC_DIR / "index.html"

# The page is framed by community websites (that is what embed.js does): its
# frame-ancestors come from EMBED_ORIGINS (bot/gateway/security_headers.py);
# everything else is same-origin.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def widget_page(request: web.Request) -> web.Response:
    return web.Response(
        body=INDEX_FILE.read_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


async def _asset_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/widget/"):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-cache")
        # embed.js is loaded by other websites' pages: its CORS header follows EMBED_ORIGINS
        # (bot/gateway/security_headers.py).


# The risk levels' names, from the one place they are written (bot.kb.RISK_LABELS).
RISK_LABELS_JS = f"window.FZZC_RISK_LABELS = {json.dumps(RISK_LABELS, ensure_ascii=False)};\n"


async def risk_labels_script(request: web.Request) -> web.Response:
    return web.Response(text=RISK_LABELS_JS, content_type="application/javascript", charset="utf-8")


async def widget_dir(request: web.Request) -> web.Response:
    raise web.HTTPFound("../")


def setup_widget(app: web.Application) -> None:
    """Serve the widget at ``/`` and its assets under ``/widget/``."""
    app.router.add_get("/", widget_page)
    app.router.add_get("/widget/", widget_dir)
    app.router.add_get("/widget/risk-labels.js", risk_labels_script)
    app.router.add_static("/widget/", STATIC_DIR, show_index=False, follow_symlinks=False)
    app.on_response_prepare.append(_asset_headers)
