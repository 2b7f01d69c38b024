"""The live desk: drafts, the assessment over the websocket (or POST), saving a case.

The operator types notes while a caller talks; the page sends them (debounced) over the
websocket ``/console/ws``, or ``POST /console/assess`` when websockets are blocked, and
shows the desk view (view.py) of ``services.assess_text`` — the same engine as the chat
and the API. Drafts (notes, answers, channel, claimed identity) are kept per login
session: in the page and, server-side, under a random key stored in the operator's
encrypted session cookie. A new login gets a new key, so nothing of a draft is ever
shared between sessions; nothing of a draft goes to localStorage, which a shared desk
computer would hand to the next operator.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Dict, Mapping, Optional, Tuple

import aiohttp_jinja2
from aiohttp import WSMsgType, web
from aiohttp_session import get_session
from cachetools import TTLCache

from bot.cases.models import CASE_CHANNELS, MAX_IDENTITY_CHARS
from bot.gateway.auth import login_required
from bot.gateway.cases_api import save_case
from bot.gateway.console.view import CHANNEL_LABELS, check_same_origin, desk_view, nav_context
from bot.gateway.errors import MAX_TEXT_CHARS, ApiError, json_response, optional_answers, read_json_object
from bot.gateway.input_guard import UnsafeJson, loads_bounded
from bot.gateway.keys import KB_KEY
from bot.gateway.services import assess_text
from bot.kb import KnowledgeBase

log = logging.getLogger(__name__)
DESK_CHANNELS = ("phone", "walk_in", "wechat", "other")
WS_MAX_BYTES = 64 * 1024
SESSION_DRAFT = "console_draft"
DraftKey = Tuple[str, str]  # (operator, session key)


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
        # The timer looks time.monotonic up on each call (tests move the clock); past
        # `max_drafts` the least recently used draft goes first.
        self._drafts: TTLCache = TTLCache(max_drafts, max_age, timer=lambda: time.monotonic())

    def get(self, key: DraftKey) -> Optional[Draft]:
        return self._drafts.get(key)

    def put(self, key: DraftKey, draft: Draft) -> None:
        self._drafts.pop(key, None)  # a put starts the draft's lifetime again
        self._drafts[key] = draft

    def clear(self, key: DraftKey) -> None:
        self._drafts.pop(key, None)


DRAFTS_KEY = web.AppKey("console_drafts", DraftStore)


async def _draft_key(request: web.Request, create: bool = False) -> Optional[DraftKey]:
    """This login session's draft key; `create` only where a cookie can still be set."""
    session = await get_session(request)
    token = session.get(SESSION_DRAFT)
    if not token and create:
        token = session[SESSION_DRAFT] = secrets.token_urlsafe(18)
    return (request["operator"].username, token) if token else None


async def _remember(request: web.Request, draft: Draft, key: Optional[DraftKey] = None) -> None:
    key = key or await _draft_key(request)
    if key:
        request.app[DRAFTS_KEY].put(key, draft)


async def assess_draft(app: web.Application, draft: Draft) -> Optional[Dict[str, Any]]:
    """The desk view for a draft; None while the notes are still empty."""
    if not draft.notes.strip():
        return None
    verdict = await assess_text(app, draft.notes, draft.answers)
    return desk_view(app[KB_KEY], draft.notes, verdict)


@login_required("operator")
async def desk_page(request: web.Request) -> web.Response:
    key = await _draft_key(request, create=True)
    draft = request.app[DRAFTS_KEY].get(key) if key else None
    context = {
        **nav_context(request, "desk"),
        "draft": (draft or Draft()).to_json(),
        "channels": [(c, CHANNEL_LABELS[c]) for c in DESK_CHANNELS],
    }
    return aiohttp_jinja2.render_template("console_desk.html", request, context)


@login_required("operator")
async def assess_endpoint(request: web.Request) -> web.Response:
    """The fetch fallback of the websocket: one draft in, the desk view out."""
    check_same_origin(request)
    draft = parse_draft(await read_json_object(request), request.app[KB_KEY])
    await _remember(request, draft)
    view = await assess_draft(request.app, draft)
    return json_response({"view": view})


def _session_deadline(session) -> Optional[float]:
    return session.created + session.max_age if session.max_age else None


@login_required("operator")
async def desk_socket(request: web.Request) -> web.WebSocketResponse:
    """Live assessment: each text message is a draft (with `seq`); each answer a desk view."""
    check_same_origin(request)
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


async def _socket_reply(request: web.Request, raw: str, key: Optional[DraftKey]) -> Dict[str, Any]:
    seq: Any = None
    try:
        body = loads_bounded(raw)
        if not isinstance(body, dict):
            raise ApiError(400, "send a JSON object")
        seq = body.get("seq")
        draft = parse_draft(body, request.app[KB_KEY])
        await _remember(request, draft, key)  # first: a reload during a slow assessment keeps the draft
        view = await assess_draft(request.app, draft)
        return {"type": "verdict", "seq": seq, "view": view}
    except (json.JSONDecodeError, UnsafeJson):
        return {"type": "error", "seq": seq, "status": 400, "error": "not valid JSON"}
    except ApiError as err:
        return {"type": "error", "seq": seq, "status": err.status, "error": err.message}
    except Exception:  # noqa: BLE001 - one bad turn must not drop the operator's connection
        log.exception("console websocket: assessment failed")
        return {"type": "error", "seq": seq, "status": 500, "error": "internal error; please try again"}


@login_required("operator")
async def save_case_endpoint(request: web.Request) -> web.Response:
    """Save the desk's case (assessed again by the one path, save_case) and forget the draft."""
    check_same_origin(request)
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


