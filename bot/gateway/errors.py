"""JSON errors: every 4xx/5xx of the gateway's API is `{"error": "..."}`."""
from __future__ import annotations

import asyncio
import json
import logging
import zlib
from functools import partial
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from bot.gateway.input_guard import UnsafeJson, loads_bounded
from bot.kb.text import clean

log = logging.getLogger(__name__)
MAX_TEXT_CHARS = 5000
BODY_READ_SECONDS = 3.0  # a body shorter than its Content-Length: answer 408 instead of waiting
MAX_HEADER_BYTES = 16 * 1024  # all header lines together (aiohttp caps each line at 8 KB)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# Chinese stays readable in responses (no \uXXXX escapes).
json_response = partial(web.json_response, dumps=partial(json.dumps, ensure_ascii=False))


def error_response(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status=status)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@web.middleware
async def request_guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Oversized headers and slow or truncated bodies are refused before any handler runs."""
    header_bytes = sum(len(name) + len(value) + 4 for name, value in request.raw_headers)
    if header_bytes > MAX_HEADER_BYTES:
        return error_response(431, f"request headers too large (max {MAX_HEADER_BYTES} bytes)")
    if not _is_text(request.headers.get("Cookie", "")):
        # aiohttp ≥ 3.10 keeps undecodable header bytes as surrogates; no cookie of ours has them.
        return error_response(400, "malformed Cookie header (not UTF-8)")
    if request.body_exists and not request.content_type.startswith("multipart/"):
        try:  # read once, in time; handlers then get the cached body
            await asyncio.wait_for(request.read(), BODY_READ_SECONDS)
        except asyncio.TimeoutError:
            return error_response(408, "request body incomplete (shorter than its Content-Length)")
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, f"request body too large (max {request.app['max_body']} bytes)")
        except ConnectionResetError:
            log.info("client went away while sending %s %s", request.method, request.path)
            return error_response(400, "connection lost while reading the body")
        except (HttpProcessingError, RequestPayloadError) as err:  # e.g. Content-Encoding: gzip, not gzip
            log.info("unreadable body on %s %s: %s", request.method, request.path, type(err).__name__)
            return error_response(400, "request body could not be decoded (check Content-Encoding)")
    return await handler(request)


# A broken request line or header, a body that does not decompress: the client's fault.
CLIENT_FAULTS = (HttpProcessingError, ConnectionResetError, RequestPayloadError, zlib.error)


class QuietProtocolErrors(logging.Filter):
    """aiohttp logs a traceback for every malformed request line or header; one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, CLIENT_FAULTS) or isinstance(getattr(exc, "__cause__", None), CLIENT_FAULTS):
            record.msg, record.args = "refused a malformed request: %s", (str(exc).splitlines()[0:1] or [""])[0]
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


def quiet_protocol_errors() -> None:
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, QuietProtocolErrors) for f in logger.filters):
        logger.addFilter(QuietProtocolErrors())


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        response = error_response(err.status, err.message)
        response.headers.update(getattr(err, "headers", None) or {})  # e.g. Retry-After on a 429
        return response
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, f"request body too large (max {request.app['max_body']} bytes)")
    except ConnectionResetError:
        log.info("client went away during %s %s", request.method, request.path)
        return error_response(400, "connection lost")
    except web.HTTPException as err:
        if not request.path.startswith("/api/") or err.status < 400:
            raise
        return error_response(err.status, err.reason)
    except Exception:  # the API never answers with an HTML traceback
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error; please try again")


async def read_json_object(request: web.Request) -> Dict[str, Any]:
    if request.content_type not in ("application/json", ""):
        raise ApiError(415, "send JSON with Content-Type: application/json")
    raw = await request.read()
    if not raw:
        raise ApiError(400, "request body is empty; send a JSON object")
    try:
        body = loads_bounded(raw.decode("utf-8"))
    except UnsafeJson as err:
        raise ApiError(400, f"request body refused: {err}") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, f"request body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def require_text(body: Mapping[str, Any], field: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    value = body.get(field)
    if value is None:
        raise ApiError(400, f"'{field}' is required")
    if not isinstance(value, str):
        raise ApiError(400, f"'{field}' must be a string")
    if not value.strip():
        raise ApiError(400, f"'{field}' must not be empty")
    if len(value) > max_chars:
        raise ApiError(413, f"'{field}' is too long: {len(value)} characters (max {max_chars})")
    if "\x00" in value:  # never meant as text: refused, like the case store and search do
        raise ApiError(400, f"'{field}' must not contain NUL characters")
    value = clean(value)  # lone surrogates and other control characters never go further
    if not value.strip():
        raise ApiError(400, f"'{field}' must not be empty")
    return value


def optional_answers(
    body: Mapping[str, Any], known_ids: Optional[set] = None, allow_unknown: bool = False
) -> Dict[str, Optional[bool]]:
    """`answers`: question id → true/false (and null = 不确定 where `allow_unknown`)."""
    allowed = "true, false or null" if allow_unknown else "true or false"
    answers = body.get("answers")
    if answers is None:
        return {}
    if not isinstance(answers, dict):
        raise ApiError(400, f"'answers' must be an object of question id → {allowed}")
    for qid, value in answers.items():
        if not isinstance(value, bool) and not (allow_unknown and value is None):
            raise ApiError(400, f"answers['{qid}'] must be {allowed}")
        if known_ids is not None and qid not in known_ids:
            raise ApiError(400, f"answers: unknown question id '{qid}'")
    return dict(answers)
