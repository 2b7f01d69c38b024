"""The operator console (issue 6): the live desk (desk.py), what it shows (view.py) and the
case records (cases.py). Every route is behind ``@login_required("operator")``.

- ``/console`` — the desk; ``/console/ws`` and ``POST /console/assess`` assess a draft;
  ``POST /console/cases`` saves it.
- ``/console/cases`` (list, search, paging, CSV), ``/console/cases/{id}`` (masked;
  "显示完整信息" unmasks for that one view and is logged), ``/console/cases/{id}.pdf``.
"""
from __future__ import annotations

from aiohttp import web

from bot.gateway.auth import AUTH_CONFIG_KEY
from bot.gateway.console import cases, desk
from bot.gateway.console.cases import CaseFilters, parse_filters
from bot.gateway.console.desk import DRAFTS_KEY, Draft, DraftStore

__all__ = ["CaseFilters", "Draft", "DraftStore", "parse_filters", "setup_console"]


def setup_console(app: web.Application) -> None:
    """Routes of the operator console; needs setup_pages (templates) and setup_auth (sessions)."""
    # A draft lives no longer than its session (setup_auth runs first).
    app[DRAFTS_KEY] = DraftStore(max_age=app[AUTH_CONFIG_KEY].session_max_age)
    app.router.add_get("/console", desk.desk_page)
    app.router.add_get("/console/ws", desk.desk_socket)
    app.router.add_post("/console/assess", desk.assess_endpoint)
    app.router.add_post("/console/cases", desk.save_case_endpoint)
    app.router.add_get("/console/cases", cases.cases_page)
    app.router.add_get("/console/cases.csv", cases.cases_csv)
    app.router.add_get(r"/console/cases/{case_id:[^/.]+}.pdf", cases.case_pdf)
    app.router.add_get(r"/console/cases/{case_id:[^/.]+}", cases.case_page)
    app.router.add_post(r"/console/cases/{case_id:[^/.]+}/unmask", cases.case_unmasked_page)
