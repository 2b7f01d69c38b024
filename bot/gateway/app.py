"""The gateway: the one web front (API, widget, WeChat, console, outreach) — wiring only.

`create_app` puts what the parts share under the keys of bot/gateway/keys.py, mounts
each part, and starts and stops everything through `cleanup_ctx` (start-up code before
the `yield`, clean-up after it). The parts never import this module.
"""
from __future__ import annotations

import asyncio
import logging
import platform
from typing import AsyncIterator, Optional

import aiohttp
from aiohttp import web

from bot.gateway.alerts import setup_alerts
from bot.gateway.api import setup_api
from bot.gateway.auth import AuthConfig, setup_auth
from bot.gateway.cases_api import setup_cases_api
from bot.gateway.config import GatewayConfig
from bot.gateway.console import setup_console
from bot.gateway.degraded import setup_degraded
from bot.gateway.errors import json_errors, quiet_protocol_errors, request_guard
from bot.gateway.image_api import setup_image_api
from bot.gateway.input_guard import ButtonSigner
from bot.gateway.kb_reload import setup_kb_reload
from bot.gateway.keys import (  # noqa: F401 - tests and tools read these keys from here too
    BLOCKLIST_KEY,
    BUTTONS_KEY,
    CHECK_LISTENERS,
    EXTRACTOR_KEY,
    IMAGE_READER_KEY,
    LIVE_KB_KEY,
    RASA_KEY,
    SETTINGS_KEY,
    STAGE_MODEL_KEY,
)
from bot.gateway.model_reload import setup_model_reload
from bot.gateway.openapi import setup_openapi
from bot.gateway.outreach_drills import setup_outreach_drills
from bot.gateway.outreach_packs import setup_outreach_packs
from bot.gateway.pages import setup_pages
from bot.gateway.rasa_client import RasaClient
from bot.gateway.ratelimit import setup_ratelimits
from bot.gateway.security_headers import setup_security_headers
from bot.gateway.share import setup_share
from bot.gateway.stats import setup_stats
from bot.gateway.wechat import setup_wechat
from bot.gateway.widget import setup_widget
from bot.kb import KnowledgeBase
from bot.kb.live import LiveKb
from bot.privacy import install_log_masking
from bot.runtime.context import get_blocklist, get_extractor, get_stage_model, open_live_kb
from bot.settings import Settings
from bot.vision import ImageReader

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024

__all__ = ["GatewayConfig", "create_app", "main"]


async def _rasa_client_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[RASA_KEY].start()
    yield
    await app[RASA_KEY].close()


async def _image_reader_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    close = getattr(app[IMAGE_READER_KEY], "close", None)
    if close is not None:
        close()  # the OCR worker thread


async def _preload_ocr(app: web.Application) -> None:
    """The running gateway loads the OCR models at start (about a second, in the background),
    so a resident's first picture does not pay for it; test apps skip this."""
    warm = getattr(app[IMAGE_READER_KEY], "warm_up", None)
    if warm is not None:
        app["ocr_preload"] = asyncio.get_running_loop().create_task(warm())


def create_app(
    config: Optional[GatewayConfig] = None,
    kb: Optional[KnowledgeBase] = None,
    settings: Optional[Settings] = None,
) -> web.Application:
    settings = settings or Settings()
    config = config or GatewayConfig.from_settings(settings)
    quiet_protocol_errors()
    app = web.Application(middlewares=[json_errors, request_guard], client_max_size=MAX_BODY_BYTES)
    app["max_body"] = MAX_BODY_BYTES
    app["config"] = config
    app[SETTINGS_KEY] = settings
    # The KB of settings KB_DIR (or the one handed in), reloaded by POST /api/v1/kb/reload.
    app[LIVE_KB_KEY] = LiveKb.of(kb) if kb is not None else open_live_kb(settings.kb_dir)
    app[RASA_KEY] = RasaClient(config.rasa_url, config.actions_url, config.timeout_s, rasa_urls=config.rasa_urls,
                               token=config.rasa_token, single_turn_timeout_s=settings.single_rasa_turn_timeout_s)
    app[BLOCKLIST_KEY] = get_blocklist(settings)
    # Keyed by the session secret when one is set, so buttons survive a restart.
    app[BUTTONS_KEY] = ButtonSigner(settings.session_secret.encode() or None)
    app[EXTRACTOR_KEY] = lambda: get_extractor(settings)
    app[STAGE_MODEL_KEY] = get_stage_model(settings)
    app[CHECK_LISTENERS] = []
    # Screenshots read offline (issue 15): RapidOCR, loaded on first use or by main() at start.
    app[IMAGE_READER_KEY] = ImageReader()
    app.cleanup_ctx.append(_rasa_client_ctx)
    app.cleanup_ctx.append(_image_reader_ctx)
    setup_security_headers(app, settings)  # every response, error pages included
    setup_ratelimits(app, settings)  # before the parts: auth and WeChat use the limiter
    setup_degraded(app)  # Rasa silent: answers from bot.kb, messages kept (issue 13)
    setup_api(app)
    setup_image_api(app)  # POST /api/v1/assess/image (issue 15)
    setup_widget(app)  # residents (issue 4)
    setup_wechat(app, settings)
    setup_pages(app)  # operators (issue 6) and outreach (issue 7)
    setup_auth(app, config.api_tokens, AuthConfig.from_settings(settings))
    setup_cases_api(app, settings)
    setup_console(app)
    setup_openapi(app)
    setup_outreach_drills(app)
    setup_outreach_packs(app, settings.public_url)
    setup_stats(app)
    setup_kb_reload(app)
    setup_alerts(app, settings)  # community alerts and their WeChat push (issue 16)
    setup_model_reload(app)  # make reload-model: Rasa's PUT /model, one replica at a time (issue 16)
    setup_share(app)  # "发给家人看看" (issue 15): after the pages (templates) and PUBLIC_URL
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gateway %(levelname)s %(message)s")
    install_log_masking()  # no raw phone, card or ID number ever reaches a log line
    settings = Settings()  # read once for the whole process
    log.info("gateway: Python %s, aiohttp %s", platform.python_version(), aiohttp.__version__)
    app = create_app(settings=settings)
    app.on_startup.append(_preload_ocr)
    web.run_app(app, host=settings.gateway_host, port=settings.gateway_port, print=None)


if __name__ == "__main__":
    main()
