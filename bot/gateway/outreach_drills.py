"""Quiz and scam-drill pages for outreach events: /outreach/quiz, /outreach/simulate.

Public (no login): residents use them on a phone or a projector at an event. The pages
are small scripts (static/site/quiz.js, simulate.js, both on drills-common.js) over JSON
endpoints under /outreach/api/; every rule lives in bot.outreach (the same code the chat
runs). The session state travels with each request (it holds no personal data), so the
gateway keeps nothing and any replica can answer. The quiz's result card has its own plain
page, /outreach/quiz/card?…, whose link can be shared; it is re-drawn from the link's
values, which are checked like any other input.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from bot.gateway.errors import ApiError, json_response, read_json_object
from bot.gateway.keys import current_kb
from bot.kb import KnowledgeBase, default_kb
from bot.outreach.quiz import (
    DEFAULT_COUNT,
    LETTERS,
    QuizBank,
    QuizResult,
    QuizSession,
    QuizStateError,
    default_quiz_bank,
    load_quiz_bank,
    question_view,
    result_card,
)
from bot.outreach.simulation import (
    DrillSession,
    DrillStateError,
    SimulationLibrary,
    default_simulations,
    load_simulations,
    step_view,
)
from bot.privacy import mask_text

CONTENT_KEY = web.AppKey("outreach_drills_content", dict)
MAX_REPLY_CHARS = 500
CARD_PATH = "/outreach/quiz/card"


def _content(app: web.Application) -> Tuple[QuizBank, SimulationLibrary]:
    """The question banks and drill scripts for the app's KB, loaded on first use."""
    cache = app[CONTENT_KEY]
    kb = current_kb(app)
    if cache.get("kb") is not kb:  # first use, or the KB was reloaded
        if not isinstance(kb, KnowledgeBase) or kb is default_kb():
            cache["bank"], cache["library"] = default_quiz_bank(), default_simulations()
        else:
            cache["bank"], cache["library"] = load_quiz_bank(kb), load_simulations(kb)
        cache["kb"] = kb
    return cache["bank"], cache["library"]


def _card_url(card: QuizResult) -> str:
    query = {"a": card.audience, "s": card.score, "n": card.total, "d": card.date}
    if card.tip_type:
        query["t"] = card.tip_type
    return f"{CARD_PATH}?{urlencode(query)}"


def _int_field(body: Mapping[str, Any], name: str, default: Optional[int] = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"'{name}' must be a whole number")
    return value


def _string_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"'{name}' is required and must be a non-empty string")
    return value.strip()


# -- quiz API -------------------------------------------------------------------------------------

def _quiz_payload(bank: QuizBank, session: QuizSession) -> Dict[str, Any]:
    question = session.current(bank)
    out: Dict[str, Any] = {
        "state": session.to_dict(),
        "score": session.score,
        "answered": session.index,
        "total": session.total,
        "question": question_view(question, session.index + 1, session.total) if question else None,
        "card": None,
    }
    if question is None:
        card = session.result(bank)
        out["card"] = {**card.to_dict(), "url": _card_url(card)}
    return out


async def quiz_audiences(request: web.Request) -> web.Response:
    bank, _ = _content(request.app)
    return json_response({"audiences": bank.audiences(), "count": DEFAULT_COUNT})


async def quiz_start(request: web.Request) -> web.Response:
    bank, _ = _content(request.app)
    body = await read_json_object(request)
    audience = _string_field(body, "audience")
    count = _int_field(body, "count", DEFAULT_COUNT)
    try:
        session = QuizSession.start(bank, audience, count)
    except QuizStateError as err:
        raise ApiError(400, str(err)) from err
    return json_response({**_quiz_payload(bank, session), "title": bank.titles[audience]})


async def quiz_answer(request: web.Request) -> web.Response:
    bank, _ = _content(request.app)
    body = await read_json_object(request)
    choice = _string_field(body, "choice").lower()
    if len(choice) != 1 or choice not in LETTERS:
        raise ApiError(400, "'choice' must be one of a, b, c, d")
    try:
        session = QuizSession.from_dict(bank, body.get("state"))
        result = session.answer(bank, LETTERS.index(choice))
    except QuizStateError as err:
        raise ApiError(400, str(err)) from err
    return json_response({**_quiz_payload(bank, session), "answer": result.to_dict()})


# -- drill API ------------------------------------------------------------------------------------

def _drill_payload(library: SimulationLibrary, session: DrillSession) -> Dict[str, Any]:
    finished = session.finished(library)
    return {
        "state": session.to_dict(),
        "step": step_view(library, session),
        "result": session.result(library).to_dict() if finished else None,
    }


async def drill_menu(request: web.Request) -> web.Response:
    _, library = _content(request.app)
    return json_response({"drills": library.menu()})


async def drill_start(request: web.Request) -> web.Response:
    _, library = _content(request.app)
    body = await read_json_object(request)
    type_id = _string_field(body, "type")
    try:
        session = DrillSession.start(library, type_id)
    except DrillStateError as err:
        raise ApiError(400, str(err)) from err
    script = session.script(library)
    return json_response({**_drill_payload(library, session), "title": script.title,
                          "intro": script.intro.strip(), "scammer": script.scammer,
                          "name": library.kb.scam_types[type_id].short_name})


async def drill_reply(request: web.Request) -> web.Response:
    """{state, choice: 1..n} for a button, or {state, text} for the resident's own words."""
    _, library = _content(request.app)
    body = await read_json_object(request)
    try:
        session = DrillSession.from_dict(library, body.get("state"))
        if "choice" in body:
            reply = session.choose(library, _int_field(body, "choice") - 1)
            said = None
        else:
            text = _string_field(body, "text")
            if len(text) > MAX_REPLY_CHARS:
                raise ApiError(413, f"'text' is too long (max {MAX_REPLY_CHARS} characters)")
            reply = session.reply_text(library, text)
            said = mask_text(text)  # echoed back masked: a real number is never shown again
    except DrillStateError as err:
        raise ApiError(400, str(err)) from err
    return json_response({**_drill_payload(library, session), "reply": reply.to_dict(), "said": said})


# -- pages ---------------------------------------------------------------------------------------

@aiohttp_jinja2.template("outreach_quiz.html")
async def quiz_page(request: web.Request) -> Dict[str, Any]:
    bank, _ = _content(request.app)
    return {"audiences": bank.audiences(), "count": DEFAULT_COUNT}


@aiohttp_jinja2.template("outreach_simulate.html")
async def simulate_page(request: web.Request) -> Dict[str, Any]:
    _, library = _content(request.app)
    return {"drills": library.menu()}


async def quiz_card_page(request: web.Request) -> web.Response:
    """The shareable result card, drawn from its link (audience, score, total, date, tip)."""
    bank, _ = _content(request.app)
    query = request.query
    try:
        card = result_card(bank.kb, query.get("a", ""), int(query.get("s", "")), int(query.get("n", "")),
                           date.fromisoformat(query.get("d", "")), query.get("t") or None)
    except (ValueError, QuizStateError):
        return aiohttp_jinja2.render_template("outreach_quiz_card.html", request, {"card": None}, status=400)
    return aiohttp_jinja2.render_template("outreach_quiz_card.html", request, {"card": card})


def setup_outreach_drills(app: web.Application) -> None:
    app[CONTENT_KEY] = {}
    app.router.add_get("/outreach/quiz", quiz_page)
    app.router.add_get(CARD_PATH, quiz_card_page)
    app.router.add_get("/outreach/simulate", simulate_page)
    app.router.add_get("/outreach/api/quiz/audiences", quiz_audiences)
    app.router.add_post("/outreach/api/quiz/start", quiz_start)
    app.router.add_post("/outreach/api/quiz/answer", quiz_answer)
    app.router.add_get("/outreach/api/simulations", drill_menu)
    app.router.add_post("/outreach/api/simulate/start", drill_start)
    app.router.add_post("/outreach/api/simulate/reply", drill_reply)

