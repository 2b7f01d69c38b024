"""Reading screenshots offline (issue 15): image checks, the OCR engine, chat-layout handling.

`ImageReader` is what the gateway holds (bot.gateway.keys.IMAGE_READER_KEY): an async
callable, picture bytes in, the messages' text out (one bubble a line, in order, the app's
chrome dropped). Refused files raise `ImageRejected` with the HTTP status to answer.
Imports no other bot package.
"""
from bot.vision.images import MAX_IMAGE_BYTES, ImageRejected, check_image
from bot.vision.reader import ImageReader, ReaderBusy

__all__ = ["MAX_IMAGE_BYTES", "ImageReader", "ImageRejected", "ReaderBusy", "check_image"]
