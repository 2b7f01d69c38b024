"""The reader the gateway runs: checks a picture, reads it off the event loop, bounded.

OCR is CPU work of about a second: it runs in one worker thread (ONNX Runtime releases the
GIL and uses both cores itself), so the gateway keeps answering other requests meanwhile.
At most `max_waiting` pictures wait for that thread; one more is refused at once
(`ReaderBusy`, the API's 503) instead of queueing residents for minutes.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional

from PIL import Image

from bot.vision.engines import OcrEngine, TextLine, shared_engine
from bot.vision.images import check_image
from bot.vision.layout import keep_boxes, read_text

DEFAULT_MAX_WAITING = 8


class ReaderBusy(RuntimeError):
    """More pictures are waiting than the reader takes; try again in a few seconds."""


def picture_lines(engine: OcrEngine, image: Image.Image) -> List[TextLine]:
    """The lines worth keeping: with a two-step engine the chrome's boxes are never read."""
    detect, recognize = getattr(engine, "detect", None), getattr(engine, "recognize", None)
    if detect is not None and recognize is not None:
        return list(recognize(image, keep_boxes(image, detect(image))))
    lines = engine.lines(image)
    kept = set(keep_boxes(image, [(ln.x0, ln.y0, ln.x1, ln.y1) for ln in lines]))
    return [ln for ln in lines if (ln.x0, ln.y0, ln.x1, ln.y1) in kept]


def read_picture(engine: OcrEngine, image: Image.Image) -> str:
    """The messages on a decoded picture, one a line, in order."""
    return read_text(picture_lines(engine, image), image.width)


class ImageReader:
    """`await reader(data)` → the text read; ImageRejected for a bad file, ReaderBusy when full."""

    def __init__(self, engine: Optional[OcrEngine] = None, max_waiting: int = DEFAULT_MAX_WAITING) -> None:
        self.engine: OcrEngine = engine or shared_engine()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr")
        self._max_waiting = max_waiting
        self._in_flight = 0

    def read_sync(self, data: bytes) -> str:
        return read_picture(self.engine, check_image(data).image)

    async def __call__(self, data: bytes) -> str:
        if self._in_flight > self._max_waiting:  # one being read + max_waiting queued
            raise ReaderBusy("too many pictures are being read; try again in a few seconds")
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self.read_sync, data)
        finally:
            self._in_flight -= 1

    async def warm_up(self) -> None:
        """Load the models now (about a second) rather than on a resident's first picture."""
        warm = getattr(self.engine, "warm_up", None)
        if warm is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, warm)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
