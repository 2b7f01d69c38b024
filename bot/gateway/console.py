"""The operator console (issue 6): the live desk, case records, print and PDF.

Every route here is behind ``@login_required("operator")``.

- ``/console`` — the desk.  The operator types notes while a caller talks; the page
  sends them (debounced) over the websocket ``/console/ws``, or ``POST
  /console/assess`` when websockets are blocked, and shows the verdict of
  ``bot.gateway.app.assess_text`` — the same engine as the chat and the API —
  together with what to say (the type's dissuasion script, the urgent checklist
  once money has moved).
- Drafts (notes, answers, channel, claimed identity) are kept per login session:
  in the page and, server-side, under a random key stored in the operator's
  encrypted session cookie.  A new login gets a new key, so nothing of a draft is
  ever shared between sessions.  Nothing of a draft goes to localStorage, which a
  shared desk computer would hand to the next operator.
- ``/console/cases`` (list, search, paging, CSV), ``/console/cases/{id}`` (masked;
  "显示完整信息" unmasks for that one view and is logged), ``/console/cases/{id}.pdf``.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone, tzinfo
from functools import partial
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlencode, urlsplit

import aiohttp_jinja2
from aiohttp import WSMsgType, web
from aiohttp_session import get_session

from bot.cases import CaseStore
from bot.cases.models import CASE_CHANNELS, MAX_IDENTITY_CHARS
from bot.cases.store import case_timezone
from bot.gateway.app import KB_KEY, assess_text
from bot.gateway.cases_api import CASE_STORE_KEY, save_case
from bot.gateway.auth import AUTH_CONFIG_KEY, login_required
from bot.gateway.errors import MAX_TEXT_CHARS, ApiError, json_response, optional_answers, read_json_object
from bot.gateway.pdf import pdf_response
from bot.kb import KnowledgeBase
from bot.kb.blocklist import Blocklist
from bot.runtime.context import get_blocklist
from bot.kb.text import normalize
from bot.kb.verdict import Verdict

log = logging.getLogger(__name__)
# Who unmasked which case, never the data: kept apart so it can go to its own log file.
audit = logging.getLogger("bot.gateway.console.audit")

CHANNEL_LABELS = {
    "phone": "电话", "walk_in": "来访", "wechat": "微信", "widget": "网页自查", "api": "接口", "other": "其他",
}
DESK_CHANNELS = ("phone", "walk_in", "wechat", "other")
ANSWER_LABELS = {True: "是", False: "不是", None: "不确定"}
RISK_LABELS = {"high": "高危", "medium": "中危", "low": "低危"}
INDICATOR_LABELS = {
    "phone": "电话号码", "url": "链接", "bank_card": "银行卡号/账号", "id_number": "身份证号", "amount": "金额",
    "qq": "QQ号", "wechat_id": "微信号", "app": "App/软件", "organization": "单位/机构",
}
MAX_QUERY_CHARS = 100
PAGE_SIZE = 20
CSV_MAX_ROWS = 5000
WS_MAX_BYTES = 64 * 1024
SESSION_DRAFT = "console_draft"


# -- desk input ------------------------------------------------------------------------------


@dataclass
class Draft:
    """What the operator has typed and ticked so far."""

    notes: str = ""
    answers: Dict[str, bool] = field(default_factory=dict)
    channel: str = "phone"
    claimed_identity: str = ""

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)


def parse_draft(body: Mapping[str, Any], kb: KnowledgeBase, require_notes: bool = False) -> Draft:
    """The desk's JSON (websocket message or POST body), checked; bad input → ApiError 4xx."""
    notes = body.get("notes", "")
    if not isinstance(notes, str):
        raise ApiError(400, "'notes' must be a string")
    if len(notes) > MAX_TEXT_CHARS:
        raise ApiError(413, f"'notes' is too long: {len(notes)} characters (max {MAX_TEXT_CHARS})")
    if require_notes and not notes.strip():
        raise ApiError(400, "'notes' must not be empty")
    channel = body.get("channel") or "phone"
    if channel not in CASE_CHANNELS:
        raise ApiError(400, f"'channel' must be one of {list(CASE_CHANNELS)}")
    identity = body.get("claimed_identity") or ""
    if not isinstance(identity, str) or len(identity) > MAX_IDENTITY_CHARS:
        raise ApiError(400, f"'claimed_identity' must be a string of at most {MAX_IDENTITY_CHARS} characters")
    answers = optional_answers(body, set(kb.questions))
    return Draft(notes, answers, channel, identity.strip())


class DraftStore:
    """Desk drafts by (operator, session key), in memory, forgotten after `max_age` seconds.

    One gateway process holds them; with several replicas a reload may land on
    another one and start from the page's own copy, which the desk keeps anyway.
    """

    def __init__(self, max_age: float, max_drafts: int = 2000) -> None:
        self.max_age, self.max_drafts = max_age, max_drafts
        self._drafts: "OrderedDict[Tuple[str, str], Tuple[float, Draft]]" = OrderedDict()

    def get(self, key: Tuple[str, str]) -> Optional[Draft]:
        entry = self._drafts.get(key)
        if entry is None or time.monotonic() - entry[0] > self.max_age:
            self._drafts.pop(key, None)
            return None
        return entry[1]

    def put(self, key: Tuple[str, str], draft: Draft) -> None:
        self._drafts.pop(key, None)
        self._drafts[key] = (time.monotonic(), draft)
        while len(self._drafts) > self.max_drafts:
            self._drafts.popitem(last=False)  # the longest-idle draft goes first

    def clear(self, key: Tuple[str, str]) -> None:
        self._drafts.pop(key, None)


DRAFTS_KEY = web.AppKey("console_drafts", DraftStore)


async def _draft_key(request: web.Request, create: bool = False) -> Optional[Tuple[str, str]]:
    """This login session's draft key; `create` only where a cookie can still be set."""
    session = await get_session(request)
    token = session.get(SESSION_DRAFT)
    if not token and create:
        token = session[SESSION_DRAFT] = secrets.token_urlsafe(18)
    return (request["operator"].username, token) if token else None


async def _remember(request: web.Request, draft: Draft, key: Optional[Tuple[str, str]] = None) -> None:
    key = key or await _draft_key(request)
    if key:
        request.app[DRAFTS_KEY].put(key, draft)


# -- the desk's view of a verdict --------------------------------------------------------------


def mirror_segments(notes: str, verdict: Verdict) -> List[Dict[str, Any]]:
    """The notes cut into segments; those quoted by a red flag or naming an indicator are marked.

    The page builds the read-only mirror from these with textContent, never HTML.
    """
    flags: List[List[str]] = [[] for _ in notes]
    indicator = [False] * len(notes)
    for hit in verdict.red_flags:
        if hit.source == "answer" or not hit.quote:
            continue
        start = notes.find(hit.quote)
        while start >= 0:
            for i in range(start, start + len(hit.quote)):
                if hit.id not in flags[i]:
                    flags[i].append(hit.id)
            start = notes.find(hit.quote, start + len(hit.quote))
    for ind in verdict.indicators:
        if notes[ind.start:ind.end] == ind.value:
            for i in range(ind.start, ind.end):
                indicator[i] = True
    segments: List[Dict[str, Any]] = []
    for i, ch in enumerate(notes):
        mark = (tuple(flags[i]), indicator[i])
        if segments and (tuple(segments[-1]["flags"]), segments[-1]["indicator"]) == mark:
            segments[-1]["text"] += ch
        else:
            segments.append({"text": ch, "flags": list(mark[0]), "indicator": mark[1]})
    return segments


def indicator_rows(verdict: Verdict, blocklist: Blocklist) -> List[Dict[str, Any]]:
    """Indicators with their list status: the verdict raises `ind_reported` for blocked ones."""
    reported = {h.quote for h in verdict.red_flags if h.id == "ind_reported"}
    rows = []
    for ind in verdict.indicators:
        entry = blocklist.check(ind)
        status = "block" if ind.value in reported or (entry is not None and entry.list == "block") else (
            "allow" if entry is not None and entry.list == "allow" else None
        )
        rows.append({
            "kind": ind.kind, "label": INDICATOR_LABELS.get(ind.kind, ind.kind), "value": ind.value,
            "list": status, "note": entry.note if entry is not None else "",
        })
    return rows


def question_rows(kb: KnowledgeBase, verdict: Verdict) -> List[Dict[str, Any]]:
    """The top type's questions (open, answered, or already told by the notes), then any
    answered question of another type, so every tick can still be changed."""
    open_ids = {q.id for q in verdict.questions}
    rows = []

    def row(qid: str, text: str, state: str, owner: str) -> Dict[str, Any]:
        return {"id": qid, "text": text, "state": state, "type_name": kb.scam_types[owner].short_name}

    top = kb.scam_types[verdict.scam_type]
    for question in top.questions:
        if question.id in verdict.answers:
            state = "yes" if verdict.answers[question.id] else "no"
        else:
            state = "open" if question.id in open_ids else "implied"
        rows.append(row(question.id, question.text, state, top.id))
    shown = {q.id for q in top.questions}
    for qid, yes in verdict.answers.items():
        if qid not in shown:
            owner, question = kb.questions[qid]
            rows.append(row(qid, question.text, "yes" if yes else "no", owner))
    return rows


def loss_checklist(kb: KnowledgeBase, notes: str) -> Dict[str, Any]:
    """What to do once money has moved: 110 first, then the bank (its number when named)."""
    copy = kb.common.loss_checklist
    banks = kb.banks_named_in(normalize(notes))
    bank_steps = [copy.bank_named.format(bank=b.name, number=b.number) for b in banks] or [copy.bank_unknown]
    return {
        "title": copy.title,
        "steps": [copy.police, *bank_steps],
        "banks": [{"name": b.name, "number": b.number} for b in banks],
        "evidence_title": copy.evidence_title,
        "evidence": list(copy.evidence),
        "warning": copy.recovery_warning,
    }


def desk_view(kb: KnowledgeBase, notes: str, verdict: Verdict, blocklist: Blocklist) -> Dict[str, Any]:
    """Everything the desk panel shows, from one verdict."""
    scam = kb.scam_types[verdict.scam_type]
    api = verdict.to_api()
    return {
        "verdict": api,
        "type": {"id": scam.id, "name": scam.name, "short_name": scam.short_name,
                 "confidence": api["confidence"]},
        "alternatives": [
            {"id": t, "name": kb.scam_types[t].short_name, "confidence": round(c, 4)}
            for t, c in verdict.alternatives
        ],
        "risk": {"level": verdict.risk_level, "label": RISK_LABELS[verdict.risk_level]},
        "red_flags": api["red_flags"],
        "mirror": mirror_segments(notes, verdict),
        "indicators": indicator_rows(verdict, blocklist),
        "questions": question_rows(kb, verdict),
        "script": list(scam.dissuasion_script),
        "money_lost": verdict.money_lost,
        "checklist": loss_checklist(kb, notes) if verdict.money_lost else None,
        "hotlines": api["hotlines"],
    }


async def assess_draft(app: web.Application, draft: Draft) -> Optional[Dict[str, Any]]:
    """The desk view for a draft; None while the notes are still empty."""
    if not draft.notes.strip():
        return None
    verdict = await assess_text(app, draft.notes, draft.answers)
    return desk_view(app[KB_KEY], draft.notes, verdict, get_blocklist())


# -- desk routes --------------------------------------------------------------------------------


def _check_same_origin(request: web.Request) -> None:
    """Websocket and JSON posts only from our own pages (the session cookie is SameSite too)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise ApiError(403, "cross-site request refused")


def _nav_context(request: web.Request, active: str) -> Dict[str, Any]:
    return {"operator": request["operator"], "active": active}


@login_required("operator")
async def desk_page(request: web.Request) -> web.Response:
    key = await _draft_key(request, create=True)
    draft = request.app[DRAFTS_KEY].get(key) if key else None
    context = {
        **_nav_context(request, "desk"),
        "draft": (draft or Draft()).to_json(),
        "channels": [(c, CHANNEL_LABELS[c]) for c in DESK_CHANNELS],
    }
    return aiohttp_jinja2.render_template("console_desk.html", request, context)


@login_required("operator")
async def assess_endpoint(request: web.Request) -> web.Response:
    """The fetch fallback of the websocket: one draft in, the desk view out."""
    _check_same_origin(request)
    draft = parse_draft(await read_json_object(request), request.app[KB_KEY])
    await _remember(request, draft)
    view = await assess_draft(request.app, draft)
    return json_response({"view": view})


def _session_deadline(session) -> Optional[float]:
    return session.created + session.max_age if session.max_age else None


@login_required("operator")
async def desk_socket(request: web.Request) -> web.WebSocketResponse:
    """Live assessment: each text message is a draft (with `seq`); each answer a desk view."""
    _check_same_origin(request)
    key = await _draft_key(request)
    deadline = _session_deadline(await get_session(request))
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=WS_MAX_BYTES)
    await ws.prepare(request)
    send = partial(ws.send_json, dumps=partial(json.dumps, ensure_ascii=False))
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            if deadline is not None and time.time() > deadline:
                await send({"type": "expired"})
                await ws.close(code=4401, message=b"session expired")
                break
            await send(await _socket_reply(request, msg.data, key))
        except ConnectionResetError:  # the page went away while we were assessing
            break
    return ws


async def _socket_reply(request: web.Request, raw: str, key: Optional[Tuple[str, str]]) -> Dict[str, Any]:
    seq: Any = None
    try:
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ApiError(400, "send a JSON object")
        seq = body.get("seq")
        draft = parse_draft(body, request.app[KB_KEY])
        await _remember(request, draft, key)  # first: a reload during a slow assessment keeps the draft
        view = await assess_draft(request.app, draft)
        return {"type": "verdict", "seq": seq, "view": view}
    except json.JSONDecodeError:
        return {"type": "error", "seq": seq, "status": 400, "error": "not valid JSON"}
    except ApiError as err:
        return {"type": "error", "seq": seq, "status": err.status, "error": err.message}
    except Exception:  # noqa: BLE001 - one bad turn must not drop the operator's connection
        log.exception("console websocket: assessment failed")
        return {"type": "error", "seq": seq, "status": 500, "error": "internal error; please try again"}


@login_required("operator")
async def save_case_endpoint(request: web.Request) -> web.Response:
    """Save the desk's case (assessed again by the one path, save_case) and forget the draft."""
    _check_same_origin(request)
    draft = parse_draft(await read_json_object(request), request.app[KB_KEY], require_notes=True)
    operator = request["operator"].username
    case = await save_case(
        request.app, draft.notes, draft.answers, draft.channel,
        claimed_identity=draft.claimed_identity, operator=operator,
    )
    key = await _draft_key(request)
    if key:
        request.app[DRAFTS_KEY].clear(key)
    log.info("operator %s saved case %s", operator, case.id)
    return json_response({"id": case.id, "url": f"/console/cases/{case.id}"}, status=201)


# -- case records ----------------------------------------------------------------------------------


@dataclass
class CaseFilters:
    since: Optional[date] = None
    until: Optional[date] = None
    scam_type: Optional[str] = None
    query: Optional[str] = None
    page: int = 1
    errors: List[str] = field(default_factory=list)

    def store_args(self) -> Dict[str, Any]:
        return {"since": self.since, "until": self.until, "scam_type": self.scam_type, "query": self.query}

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


@login_required("operator")
async def cases_page(request: web.Request) -> web.Response:
    kb = request.app[KB_KEY]
    filters = parse_filters(request.query, kb)
    store = _store(request)
    total = await store.count(**filters.store_args())
    pages = max(1, -(-total // PAGE_SIZE))
    filters.page = min(filters.page, pages)
    cases = await store.list(**filters.store_args(), limit=PAGE_SIZE, offset=(filters.page - 1) * PAGE_SIZE)
    tz = case_timezone()
    context = {
        **_nav_context(request, "cases"),
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
    kb = request.app[KB_KEY]
    filters = parse_filters(request.query, kb)
    cases = await _store(request).list(**filters.store_args(), limit=CSV_MAX_ROWS, offset=0)
    tz = case_timezone()
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
    summary = case_summary(case.to_api(unmask=unmask), request.app[KB_KEY], case_timezone())
    return {**_nav_context(request, "cases"), "case": summary, "unmasked": unmask,
            "printed": datetime.now(case_timezone()).strftime("%Y-%m-%d %H:%M")}


@login_required("operator")
async def case_page(request: web.Request) -> web.Response:
    context = await _case_context(request, unmask=False)
    return aiohttp_jinja2.render_template("console_case.html", request, {**context, "pdf": False})


@login_required("operator")
async def case_unmasked_page(request: web.Request) -> web.Response:
    """POST: the full data for this one view (not bookmarkable, not cached), logged."""
    _check_same_origin(request)
    context = await _case_context(request, unmask=True)
    return aiohttp_jinja2.render_template("console_case.html", request, {**context, "pdf": False})


@login_required("operator")
async def case_pdf(request: web.Request) -> web.Response:
    unmask = request.query.get("unmask") == "1"
    context = await _case_context(request, unmask=unmask)
    html = aiohttp_jinja2.render_string("console_case.html", request, {**context, "pdf": True})
    return await pdf_response(html, f"case-{context['case']['id']}.pdf")


def setup_console(app: web.Application) -> None:
    """Routes of the operator console; needs setup_pages (templates) and setup_auth (sessions)."""
    # A draft lives no longer than its session (setup_auth runs first).
    app[DRAFTS_KEY] = DraftStore(max_age=app[AUTH_CONFIG_KEY].session_max_age)
    app.router.add_get("/console", desk_page)
    app.router.add_get("/console/ws", desk_socket)
    app.router.add_post("/console/assess", assess_endpoint)
    app.router.add_post("/console/cases", save_case_endpoint)
    app.router.add_get("/console/cases", cases_page)
    app.router.add_get("/console/cases.csv", cases_csv)
    app.router.add_get(r"/console/cases/{case_id:[^/.]+}.pdf", case_pdf)
    app.router.add_get(r"/console/cases/{case_id:[^/.]+}", case_page)
    app.router.add_post(r"/console/cases/{case_id:[^/.]+}/unmask", case_unmasked_page)

