"""The OpenAPI document of the gateway's API, served at `/api/openapi.json`.

The document is data (`openapi.yml`, next to this file); only the scam type ids are
filled in from the knowledge base this gateway runs, so they never drift apart.
"""
from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml
from aiohttp import web

from bot.gateway.errors import json_response
from bot.gateway.keys import current_kb

OPENAPI_FILE = Path(__file__).resolve().parent / "openapi.yml"
OPENAPI_PATH = "/api/openapi.json"
OPENAPI_DOC_KEY = web.AppKey("openapi_document", dict)


@lru_cache(maxsize=1)
def load_openapi_document() -> Dict[str, Any]:
    """The document as written in openapi.yml (cached; callers get a copy)."""
    try:
        doc = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{OPENAPI_FILE}: not valid YAML: {err}") from err
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3."):
        raise ValueError(f"{OPENAPI_FILE}: openapi: must be an OpenAPI 3 document")
    if not isinstance(doc.get("paths"), dict) or not doc["paths"]:
        raise ValueError(f"{OPENAPI_FILE}: paths: must list the API's routes")
    return doc


def openapi_document(scam_types: Any = None) -> Dict[str, Any]:
    """A copy of the document; with `scam_types`, the ScamType enum lists exactly those ids."""
    doc = copy.deepcopy(load_openapi_document())
    if scam_types is not None:
        doc["components"]["schemas"]["ScamType"]["enum"] = list(scam_types)
    return doc


async def openapi_endpoint(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI_DOC_KEY])


def setup_openapi(app: web.Application) -> None:
    # A stand-in KB without scam types (some front-end tests) keeps the DESIGN list.
    app[OPENAPI_DOC_KEY] = openapi_document(getattr(current_kb(app), "scam_types", None))
    app.router.add_get(OPENAPI_PATH, openapi_endpoint)
