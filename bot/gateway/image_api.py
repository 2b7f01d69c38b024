"""POST /api/v1/assess/image: a screenshot in, the verdict on the text read from it out.

Multipart form, field `image` (PNG, JPEG or WebP by content, ≤ 5 MB). The picture is read by
the app's IMAGE_READER_KEY reader (bot.vision: off the event loop, bounded), then the text
goes down the one assessment path (services.assess_text) like /api/v1/assess. The answer is
that verdict plus `text` (what was read, one message a line) and `masked_text` (the same
with phone, card and ID numbers and names masked, as a stored case is: what the widget shows).
An optional form field `channel`: "api" (default) or "widget" (the widget then sends the text
into the chat, whose verdict is the self-check counted, so this call is not counted again).
"""
from __future__ import annotations

import logging
from typing import Optional, Tuple

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from bot.cases.masking import CaseMasker
from bot.gateway import services
from bot.gateway.errors import MAX_TEXT_CHARS, ApiError, json_response
from bot.gateway.keys import IMAGE_READER_KEY, current_kb
from bot.vision import MAX_IMAGE_BYTES, ImageRejected, ReaderBusy

log = logging.getLogger(__name__)
FIELD = "image"
CHANNELS = ("api", "widget")
# The form's own bytes (boundary, part headers) on top of the picture.
FORM_OVERHEAD = 16 * 1024
CHUNK = 64 * 1024


class ReaderFull(ApiError):
    """503 with Retry-After: the OCR queue is full (`json_errors` adds the header)."""

    def __init__(self) -> None:
        super().__init__(503, "too many pictures are being read; please retry in a few seconds")
        self.headers = {"Retry-After": "5"}


async def read_image_field(request: web.Request) -> Tuple[bytes, str]:
    """The bytes of the form's `image` part (never more than MAX_IMAGE_BYTES + 1 read) and
    its optional `channel` field."""
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(415, "send the picture as multipart/form-data with the field 'image'")
    if (request.content_length or 0) > MAX_IMAGE_BYTES + FORM_OVERHEAD:
        raise ApiError(413, f"the image is too large (max {MAX_IMAGE_BYTES} bytes)")
    try:
        reader = await request.multipart()
        data: Optional[bytearray] = None
        channel = "api"
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == FIELD and data is None:
                data = bytearray()
                while chunk := await part.read_chunk(CHUNK):
                    data += chunk
                    if len(data) > MAX_IMAGE_BYTES:
                        raise ApiError(413, f"the image is too large (max {MAX_IMAGE_BYTES} bytes)")
            elif part.name == "channel":
                channel = (await part.read(decode=False))[:16].decode("utf-8", "replace")
    except (ValueError, AssertionError, UnicodeDecodeError, HttpProcessingError) as err:  # a broken multipart body
        raise ApiError(400, "the form could not be read: send multipart/form-data with the field 'image'") from err
    if data is None:
        raise ApiError(400, "the form has no 'image' field")
    if channel not in CHANNELS:
        raise ApiError(400, f"'channel' must be one of {list(CHANNELS)}")
    return bytes(data), channel


async def assess_image_endpoint(request: web.Request) -> web.Response:
    data, channel = await read_image_field(request)
    try:
        text = await request.app[IMAGE_READER_KEY](data)
    except ImageRejected as err:
        raise ApiError(err.status, err.message) from err
    except ReaderBusy as err:
        raise ReaderFull() from err
    if not text.strip():
        raise ApiError(400, "no text could be read from the picture; send a clearer screenshot or type the message")
    text = text[:MAX_TEXT_CHARS]
    kb = current_kb(request.app)
    verdict = (await services.assess_text(request.app, text, kb=kb)).to_api()
    if channel == "api":  # the widget goes on in the chat with this text: that turn is the check counted
        await services.notify_completed_check(request.app, verdict, channel)
    masker = CaseMasker(verdict.get("indicators", []))
    return json_response({**verdict, "text": text, "masked_text": masker.text(text)})


def setup_image_api(app: web.Application) -> None:
    app.router.add_post("/api/v1/assess/image", assess_image_endpoint)
