"""POST /api/v1/model/reload (Bearer): the running Rasa processes switch to a newly trained model.

`make train` writes models/current.tar.gz while the old model keeps serving (each Rasa
process holds its model in memory); `make reload-model` then asks the gateway, which owns
the list of replicas, to have each one load the file through Rasa's own `PUT /model`, one
replica at a time, draining it first (bot/gateway/rasa_client.py `swap_model`), so that no
turn fails: the other replicas answer while one loads. Only a model file in the project's
models/ directory can be named (the token holder must not make Rasa read arbitrary paths).
One swap at a time (409 while one runs).
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Dict

from aiohttp import web

from bot.gateway.auth import require_api_token
from bot.gateway.errors import ApiError, json_response, read_json_object
from bot.gateway.keys import RASA_KEY
from bot.gateway.rasa_client import ModelSwapFailed
from bot.settings import ROOT

log = logging.getLogger(__name__)
MODEL_RELOAD_PATH = "/api/v1/model/reload"
MODELS_DIR = ROOT / "models"
DEFAULT_MODEL = "current.tar.gz"
SWAP_LOCK_KEY = web.AppKey("model_swap_lock", asyncio.Lock)


def model_path(name: Any) -> Path:
    """The model file `name` in models/ (a bare file name ending in .tar.gz), or a 400/404."""
    if not isinstance(name, str) or not name.endswith(".tar.gz") or Path(name).name != name:
        raise ApiError(400, "'model_file' must be the name of a .tar.gz file in models/")
    path = MODELS_DIR / name
    if not path.is_file():
        raise ApiError(404, f"no model file models/{name}")
    return path


@require_api_token
async def model_reload_endpoint(request: web.Request) -> web.Response:
    body = await read_json_object(request) if request.body_exists else {}
    path = model_path(body.get("model_file", DEFAULT_MODEL))
    lock = request.app[SWAP_LOCK_KEY]
    if lock.locked():
        raise ApiError(409, "a model swap is already running")
    async with lock:
        try:
            replicas = await request.app[RASA_KEY].swap_model(str(path))
        except ModelSwapFailed as err:
            log.error("model swap stopped: %s", err)
            raise ApiError(502, str(err)) from err
    result: Dict[str, Any] = {"model_file": path.name, "replicas": replicas}
    log.info("model %s served by %d replica(s)", path.name, len(replicas))
    return json_response(result)


def setup_model_reload(app: web.Application) -> None:
    app[SWAP_LOCK_KEY] = asyncio.Lock()
    app.router.add_post(MODEL_RELOAD_PATH, model_reload_endpoint)
