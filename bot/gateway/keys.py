"""The application's keys: a leaf module every part of the gateway may import.

Modules get what they share (the KB, the Rasa client, the stores …) through these keys,
never by importing the app factory.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping, Optional

from aiohttp import web

from bot.alerts import AlertStore
from bot.alerts.push import AlertPusher
from bot.cases import CaseStore
from bot.gateway.input_guard import ButtonSigner
from bot.gateway.rasa_client import RasaClient
from bot.kb import KnowledgeBase
from bot.kb.blocklist import Blocklist
from bot.kb.extraction.entities import Extractor
from bot.kb.live import LiveKb
from bot.kb.stage import StageModel
from bot.settings import Settings

SETTINGS_KEY = web.AppKey("settings", Settings)
RASA_KEY = web.AppKey("rasa", RasaClient)
# Signs the button payloads a sender is given; only those may reach Rasa as commands.
BUTTONS_KEY = web.AppKey("button_signer", ButtonSigner)
# The KB the gateway serves, replaced as one object by POST /api/v1/kb/reload (bot/gateway/kb_reload.py).
# Read it with `current_kb(app)` once per request and keep that object to the end of the
# request: a reload in the middle does not mix two KBs in one answer.
LIVE_KB_KEY = web.AppKey("live_kb", LiveKb)
BLOCKLIST_KEY = web.AppKey("blocklist", Blocklist)
# The indicator extractor, loaded on first use (the spaCy pipeline takes seconds to load).
EXTRACTOR_KEY = web.AppKey("extractor", Callable[[], Extractor])  # type: ignore[arg-type]
# The loss-stage model loaded at start-up (bot.runtime.context); None: the KB rules alone.
STAGE_MODEL_KEY = web.AppKey("stage_model", Optional[StageModel])  # type: ignore[arg-type]
CASE_STORE_KEY = web.AppKey("case_store", CaseStore)
STATS_STORE_KEY = web.AppKey("stats_store", object)
# Community alerts and WeChat subscriptions (bot/gateway/alerts.py); the pusher is None
# when WeChat's app secret is not set (no push).
ALERT_STORE_KEY = web.AppKey("alert_store", AlertStore)
ALERT_PUSHER_KEY = web.AppKey("alert_pusher", Optional[AlertPusher])  # type: ignore[arg-type]
# Called with (verdict as in the assess API, channel) after every completed self-check.
# Listeners get no text and no sender id: the anonymous statistics are built from these.
CheckListener = Callable[[Mapping[str, Any], str], Awaitable[None]]
CHECK_LISTENERS = web.AppKey("check_listeners", list)
# Reads a picture (issue 15): `await app[IMAGE_READER_KEY](data)` → the messages' text, one
# bubble a line, in order, the app's chrome dropped. Raises bot.vision.ImageRejected (its
# `status`: 400 / 413 / 415) for a bad file and bot.vision.ReaderBusy when too many wait.
# The app holds a bot.vision.ImageReader (RapidOCR off the event loop); tests may put any
# async callable here.
ImageReaderFn = Callable[[bytes], Awaitable[str]]
IMAGE_READER_KEY = web.AppKey("image_reader", ImageReaderFn)  # type: ignore[arg-type]


def current_kb(app: web.Application) -> KnowledgeBase:
    """The KB to use for one request (see LIVE_KB_KEY)."""
    return app[LIVE_KB_KEY].kb
