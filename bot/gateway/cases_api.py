"""Case records on the gateway: the store's life cycle, `save_case`, and `/api/v1/cases`.

`save_case` is the one path that assesses notes and stores a case; the operator
console calls it too (and reads `app[CASE_STORE_KEY]` for lists and exports).
The API is for desk systems: bearer token, and cases always come out masked.
"""
from __future__ import annotations

import logging
from datetime import date
from functools import partial
from typing import AsyncIterator, Mapping, Optional
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.cases import Case, CaseDraft, CaseFilter, CaseValidationError, open_case_store
from bot.cases.models import MAX_IDENTITY_CHARS
from bot.cases.store import MAX_OFFSET
from bot.gateway.auth import require_api_token
from bot.gateway.errors import ApiError, json_response, optional_answers, read_json_object, require_text
from bot.gateway.keys import CASE_STORE_KEY, KB_KEY
from bot.gateway.services import assess_text
from bot.settings import Settings

log = logging.getLogger(__name__)

CASES_PATH = "/api/v1/cases"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_QUERY_CHARS = 200
Answers = Mapping[str, Optional[bool]]


# -- the one way to save a case ------------------------------------------------------


def _check_answer_ids(app: web.Application, answers: Answers) -> None:
    known = app[KB_KEY].questions
    for qid in answers:
        if qid not in known:
            raise ApiError(400, f"answers: unknown question id '{qid}'")


async def save_case(
    app: web.Application,
    notes: str,
    answers: Optional[Answers],
    channel: str,
    claimed_identity: str = "",
    operator: str = "",
) -> Case:
    """Assess `notes` with the answers given (None = unknown) and store the case.

    Raises `ApiError` (400 bad field, 503 Rasa not ready), which the gateway renders as JSON.
    """
    answers = dict(answers or {})
    try:
        # Check every field before assessing, so a bad channel costs no NLU call.
        CaseDraft(notes, {"scam_type": "unknown", "risk_level": "low"}, channel, answers, claimed_identity, operator)
    except CaseValidationError as err:
        raise ApiError(400, str(err)) from err
    _check_answer_ids(app, answers)
    known_answers = {qid: yes for qid, yes in answers.items() if yes is not None}
    verdict = (await assess_text(app, notes, known_answers, need_nlu=True)).to_api()
    draft = CaseDraft(notes, verdict, channel, answers, claimed_identity, operator)
    case = await app[CASE_STORE_KEY].add(draft)
    log.info("case %s saved (%s, %s, channel %s)", case.id, case.scam_type, case.risk_level, channel)
    return case


# -- request parsing -------------------------------------------------------------------


def _optional_string(body: Mapping, name: str, default: str, max_chars: int) -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a string")
    if len(value) > max_chars:
        raise ApiError(400, f"'{name}' is too long: {len(value)} characters (max {max_chars})")
    return value


def _date_param(request: web.Request, name: str) -> Optional[date]:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"'{name}' must be a date written YYYY-MM-DD") from None


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ApiError(400, f"'{name}' must be an integer from {low} to {high}")
    return int(raw)


def _type_param(request: web.Request) -> Optional[str]:
    scam_type = request.query.get("type") or None
    if scam_type is not None and scam_type not in request.app[KB_KEY].scam_types:
        raise ApiError(400, f"'type': unknown scam type '{scam_type}'")
    return scam_type


def _query_param(request: web.Request) -> Optional[str]:
    query = request.query.get("q") or None
    if query is not None and len(query) > MAX_QUERY_CHARS:
        raise ApiError(400, f"'q' is too long (max {MAX_QUERY_CHARS} characters)")
    if query is not None and "\x00" in query:
        raise ApiError(400, "'q' must not contain NUL characters")
    return query


# -- routes ------------------------------------------------------------------------------


@require_api_token
async def create_case(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    notes = require_text(body, "notes")
    case = await save_case(
        request.app,
        notes,
        optional_answers(body, allow_unknown=True),  # ids are checked in save_case
        _optional_string(body, "channel", "phone", 20),
        _optional_string(body, "claimed_identity", "", MAX_IDENTITY_CHARS),
    )
    location = f"{CASES_PATH}/{case.id}"
    return json_response(case.to_api(), status=201, headers={"Location": location})


@require_api_token
async def list_cases(request: web.Request) -> web.Response:
    since, until = _date_param(request, "since"), _date_param(request, "until")
    if since and until and since > until:
        raise ApiError(400, "'since' is after 'until'")
    filters = CaseFilter(since, until, _type_param(request), _query_param(request))
    limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 0, MAX_OFFSET)
    store = request.app[CASE_STORE_KEY]
    cases = await store.list(filters, limit=limit, offset=offset)
    total = await store.count(filters)
    return json_response({"cases": [c.to_api() for c in cases], "total": total, "limit": limit, "offset": offset})


@require_api_token
async def get_case(request: web.Request) -> web.Response:
    case = await request.app[CASE_STORE_KEY].get(request.match_info["id"])
    if case is None:
        raise ApiError(404, "no case with this id")
    return json_response(case.to_api())


# -- set-up ------------------------------------------------------------------------------


async def _case_store_ctx(app: web.Application, settings: Settings) -> AsyncIterator[None]:
    """Open the store at start-up (a wrong `CASES_URL` stops the gateway there), close it at the end."""
    store = await open_case_store(settings.cases_url, tz=ZoneInfo(settings.cases_tz))
    app[CASE_STORE_KEY] = store
    log.info("case store: %s", type(store).__name__)
    yield
    await store.close()


def setup_cases_api(app: web.Application, settings: Settings) -> None:
    """The case store (opened at start-up from `CASES_URL`) and the `/api/v1/cases` routes."""
    app.cleanup_ctx.append(partial(_case_store_ctx, settings=settings))
    app.router.add_post(CASES_PATH, create_case)
    app.router.add_get(CASES_PATH, list_cases)
    app.router.add_get(CASES_PATH + "/{id}", get_case)
