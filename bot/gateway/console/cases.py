"""Case records for operators: the list (search, paging, CSV), one case (masked; "显示完整信息"
unmasks it for that one view and is logged), and its PDF."""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from bot.cases import CaseFilter, CaseStore
from bot.gateway.auth import login_required
from bot.gateway.console.view import (
    ANSWER_LABELS,
    CHANNEL_LABELS,
    INDICATOR_LABELS,
    check_same_origin,
    nav_context,
)
from bot.gateway.keys import CASE_STORE_KEY, SETTINGS_KEY, current_kb
from bot.gateway.pdf import pdf_response
from bot.kb import RISK_LABELS, KnowledgeBase

log = logging.getLogger(__name__)
# Who unmasked which case, never the data: kept apart so it can go to its own log file.
audit = logging.getLogger("bot.gateway.console.audit")
MAX_QUERY_CHARS = 100
PAGE_SIZE = 20
CSV_MAX_ROWS = 5000


@dataclass
class CaseFilters:
    since: Optional[date] = None
    until: Optional[date] = None
    scam_type: Optional[str] = None
    query: Optional[str] = None
    page: int = 1
    errors: List[str] = field(default_factory=list)

    def case_filter(self) -> CaseFilter:
        """What the store filters by."""
        return CaseFilter(self.since, self.until, self.scam_type, self.query)

    def query_string(self, **override: Any) -> str:
        values = {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "type": self.scam_type or "", "q": self.query or "", "page": str(self.page),
        }
        values.update({k: str(v) for k, v in override.items()})
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == "1")})


def _parse_date(raw: str, label: str, errors: List[str]) -> Optional[date]:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{label}“{raw[:20]}”不是日期，请按 2024-05-01 这样写；这一项没有用上。")
        return None


def parse_filters(query: Mapping[str, str], kb: KnowledgeBase) -> CaseFilters:
    """Search form → filters; a bad field is dropped with a message (the page still answers)."""
    errors: List[str] = []
    since = _parse_date(query.get("since", "").strip(), "开始日期", errors)
    until = _parse_date(query.get("until", "").strip(), "结束日期", errors)
    if since and until and since > until:
        errors.append("开始日期晚于结束日期，已对调。")
        since, until = until, since
    scam_type = query.get("type", "").strip() or None
    if scam_type and scam_type not in kb.scam_types:
        errors.append("没有这个诈骗类型，已按全部类型查。")
        scam_type = None
    text = query.get("q", "").strip()[:MAX_QUERY_CHARS] or None
    try:
        page = max(1, min(int(query.get("page", "1") or "1"), 100000))
    except ValueError:
        page = 1
    return CaseFilters(since, until, scam_type, text, page, errors)


def _local_time(value: Any, tz: tzinfo) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return ""


def _amounts(verdict: Mapping[str, Any]) -> List[str]:
    return [i.get("value", "") for i in verdict.get("indicators") or [] if i.get("kind") == "amount"]


def case_summary(case_api: Mapping[str, Any], kb: KnowledgeBase, tz: tzinfo) -> Dict[str, Any]:
    """A stored case (``Case.to_api()``, masked or not) as the list, the page and the PDF show it."""
    verdict: Mapping[str, Any] = case_api.get("verdict") or {}
    scam_type = verdict.get("scam_type", "unknown")
    scam = kb.scam_types.get(scam_type)
    risk = verdict.get("risk_level", "low")
    answers = case_api.get("answers") or {}
    channel = case_api.get("channel", "other")
    return {
        "id": case_api.get("id", ""),
        "created": _local_time(case_api.get("created_at"), tz),
        "channel": CHANNEL_LABELS.get(channel, channel),
        "claimed_identity": case_api.get("claimed_identity") or "",
        "operator": case_api.get("operator") or "",
        "notes": case_api.get("notes") or "",
        "scam_type": scam_type,
        "scam_name": verdict.get("scam_name") or (scam.name if scam else scam_type),
        "short_name": scam.short_name if scam else scam_type,
        "risk": risk,
        "risk_label": RISK_LABELS.get(risk, risk),
        "confidence": round(float(verdict.get("confidence") or 0) * 100),
        "money_lost": bool(verdict.get("money_lost")),
        "amounts": _amounts(verdict),
        "indicators": [
            {"label": INDICATOR_LABELS.get(i.get("kind", ""), i.get("kind", "")), "value": i.get("value", "")}
            for i in verdict.get("indicators") or [] if i.get("kind") != "amount"
        ],
        "red_flags": list(verdict.get("red_flags") or []),
        "answers": [
            {"text": kb.questions[qid][1].text if qid in kb.questions else qid, "answer": ANSWER_LABELS[yes]}
            for qid, yes in answers.items()
        ],
        "advice": list(verdict.get("advice") or []),
        "hotlines": list(verdict.get("hotlines") or []),
    }


def _store(request: web.Request) -> CaseStore:
    return request.app[CASE_STORE_KEY]


def _timezone(request: web.Request) -> tzinfo:
    """The operators' own days (CASES_TZ)."""
    return ZoneInfo(request.app[SETTINGS_KEY].cases_tz)


@login_required("operator")
async def cases_page(request: web.Request) -> web.Response:
    kb = current_kb(request.app)
    filters = parse_filters(request.query, kb)
    store = _store(request)
    total = await store.count(filters.case_filter())
    pages = max(1, -(-total // PAGE_SIZE))
    filters.page = min(filters.page, pages)
    cases = await store.list(filters.case_filter(), limit=PAGE_SIZE, offset=(filters.page - 1) * PAGE_SIZE)
    tz = _timezone(request)
    context = {
        **nav_context(request, "cases"),
        "filters": filters,
        "cases": [case_summary(c.to_api(), kb, tz) for c in cases],
        "total": total,
        "pages": pages,
        "types": [(t.id, t.short_name) for t in kb.scam_types.values()],
        "prev_qs": filters.query_string(page=filters.page - 1) if filters.page > 1 else None,
        "next_qs": filters.query_string(page=filters.page + 1) if filters.page < pages else None,
        "csv_qs": filters.query_string(page=1),
    }
    return aiohttp_jinja2.render_template("console_cases.html", request, context)


def _csv_cell(value: str) -> str:
    # A cell starting with = + - @ would run as a formula in a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@login_required("operator")
async def cases_csv(request: web.Request) -> web.Response:
    """The filtered list as CSV, always masked (opens in Excel: UTF-8 with BOM)."""
    kb = current_kb(request.app)
    filters = parse_filters(request.query, kb)
    cases = await _store(request).list(filters.case_filter(), limit=CSV_MAX_ROWS, offset=0)
    tz = _timezone(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["编号", "时间", "渠道", "类型", "风险", "涉案金额", "自称身份", "接警人", "接警记录"])
    for case in cases:
        s = case_summary(case.to_api(), kb, tz)
        writer.writerow([_csv_cell(str(v)) for v in (
            s["id"], s["created"], s["channel"], s["short_name"], s["risk_label"], "、".join(s["amounts"]),
            s["claimed_identity"], s["operator"], s["notes"],
        )])
    log.info("operator %s exported %d cases as CSV", request["operator"].username, len(cases))
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),
        content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="cases.csv"', "Cache-Control": "no-store"},
    )


async def _case_context(request: web.Request, unmask: bool) -> Dict[str, Any]:
    case_id = request.match_info["case_id"]
    case = await _store(request).get(case_id)
    if case is None:
        raise web.HTTPNotFound(text="没有这条案件记录", content_type="text/plain")
    if unmask:
        audit.info("operator %s unmasked case %s", request["operator"].username, case_id)
    summary = case_summary(case.to_api(unmask=unmask), current_kb(request.app), _timezone(request))
    return {**nav_context(request, "cases"), "case": summary, "unmasked": unmask,
            "printed": datetime.now(_timezone(request)).strftime("%Y-%m-%d %H:%M")}


@login_required("operator")
async def case_page(request: web.Request) -> web.Response:
    context = await _case_context(request, unmask=False)
    return aiohttp_jinja2.render_template("console_case.html", request, {**context, "pdf": False})


@login_required("operator")
async def case_unmasked_page(request: web.Request) -> web.Response:
    """POST: the full data for this one view (not bookmarkable, not cached), logged."""
    check_same_origin(request)
    context = await _case_context(request, unmask=True)
    return aiohttp_jinja2.render_template("console_case.html", request, {**context, "pdf": False})


@login_required("operator")
async def case_pdf(request: web.Request) -> web.Response:
    unmask = request.query.get("unmask") == "1"
    context = await _case_context(request, unmask=unmask)
    html = aiohttp_jinja2.render_string("console_case.html", request, {**context, "pdf": True})
    return await pdf_response(html, f"case-{context['case']['id']}.pdf")

