"""POST /api/v1/kb/reload (Bearer): the gateway serves a KB edit without a restart.

The KB directory (settings KB_DIR) is loaded again with the one loader in a worker
thread, so requests keep being answered meanwhile; a broken KB is refused with 422 and
the loader's message (file and field), and the running KB stays. A good one replaces the
gateway's snapshot as one object (bot/kb/live.py). The action server follows the files by
itself (bot/runtime/context.py `current_kb`); its version is asked afterwards and shown
beside the gateway's, here and in /healthz.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict

from aiohttp import web

from bot.gateway.auth import require_api_token
from bot.gateway.errors import ApiError, json_response
from bot.gateway.keys import LIVE_KB_KEY, RASA_KEY
from bot.kb import KnowledgeBaseError

log = logging.getLogger(__name__)
RELOAD_PATH = "/api/v1/kb/reload"


async def kb_versions(app: web.Application) -> Dict[str, str]:
    """The KB version of every process the gateway knows: itself and the action server."""
    actions = await app[RASA_KEY].actions_kb()
    return {"gateway": app[LIVE_KB_KEY].version, "actions": (actions or {}).get("version", "unavailable")}


@require_api_token
async def reload_endpoint(request: web.Request) -> web.Response:
    live = request.app[LIVE_KB_KEY]
    try:
        snapshot = await asyncio.get_running_loop().run_in_executor(None, live.reload)
    except KnowledgeBaseError as err:
        log.error("knowledge base reload refused, version %s stays: %s", live.version, err)
        raise ApiError(422, str(err)) from err
    body: Dict[str, Any] = snapshot.as_dict()
    body["processes"] = await kb_versions(request.app)
    log.info("knowledge base %s served (%d types); processes: %s", snapshot.version, snapshot.types, body["processes"])
    return json_response(body)


def setup_kb_reload(app: web.Application) -> None:
    app.router.add_post(RELOAD_PATH, reload_endpoint)
