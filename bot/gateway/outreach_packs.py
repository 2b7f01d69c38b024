"""Outreach index and the printable tip sheets: /outreach, /outreach/packs/<audience>[.pdf].

Public pages (no login): community workers print them, residents scan the QR code.
The sheet content comes from bot.outreach.packs; this module only adapts it to HTTP.
"""
from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web

from bot.gateway.alerts import active_alerts
from bot.gateway.keys import current_kb
from bot.gateway.pdf import pdf_response
from bot.outreach.packs import AUDIENCES, TipSheet, UnknownAudience, build_sheet, widget_url

log = logging.getLogger(__name__)
PUBLIC_URL_KEY = web.AppKey("public_url", str)
PDF_SUFFIX = ".pdf"
# People type the Chinese name too: /outreach/packs/老年人 → /outreach/packs/elderly.
_BY_LABEL = {name: a.slug for a in AUDIENCES.values() for name in (a.label, a.kb_group) if name != a.slug}


def _usable_public_url(value: str) -> str:
    """PUBLIC_URL if it is a usable address; otherwise '' (each request's own host is used)."""
    value = value.strip()
    if not value:
        return ""
    try:
        return widget_url(value, "")
    except ValueError as err:
        log.error("%s; the tip sheets' QR codes will use the address each request came to", err)
        return ""


def _request_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _audience_links() -> list:
    return [{"slug": a.slug, "label": a.label, "intro": a.intro} for a in AUDIENCES.values()]


@aiohttp_jinja2.template("outreach_index.html")
async def outreach_index(request: web.Request) -> dict:
    return {"audiences": _audience_links(), "not_found": None}


async def _sheet_for(request: web.Request, slug: str) -> TipSheet:
    url = widget_url(request.app[PUBLIC_URL_KEY] or None, _request_origin(request))
    return build_sheet(current_kb(request.app), slug, url, await active_alerts(request.app))


def _not_found(request: web.Request, name: str) -> web.Response:
    context = {"audiences": _audience_links(), "not_found": name}
    return aiohttp_jinja2.render_template("outreach_index.html", request, context, status=404)


async def tip_sheet(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    wants_pdf = name.endswith(PDF_SUFFIX)
    slug = name[: -len(PDF_SUFFIX)] if wants_pdf else name
    if slug in _BY_LABEL:
        raise web.HTTPFound(f"/outreach/packs/{_BY_LABEL[slug]}{PDF_SUFFIX if wants_pdf else ''}")
    try:
        sheet = await _sheet_for(request, slug)
    except UnknownAudience:
        return _not_found(request, slug)
    context = {"sheet": sheet, "for_pdf": wants_pdf}
    if not wants_pdf:
        return aiohttp_jinja2.render_template("outreach_pack.html", request, context)
    html = aiohttp_jinja2.render_string("outreach_pack.html", request, context)
    return await pdf_response(html, f"fanzha-tips-{slug}.pdf", public=True)


def setup_outreach_packs(app: web.Application, public_url: str = "") -> None:
    """`public_url`: the settings' PUBLIC_URL ('' or an unusable one: each request's own host)."""
    app[PUBLIC_URL_KEY] = _usable_public_url(public_url)
    app.router.add_get("/outreach", outreach_index)
    app.router.add_get("/outreach/", outreach_index)
    app.router.add_get("/outreach/packs/{name}", tip_sheet)
