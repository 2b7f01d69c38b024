"""From OCR lines to the messages of a chat screenshot, in order, the app's chrome dropped.

A chat screenshot (WeChat, SMS, QQ …) is: a status bar (clock, network, battery), the title
bar (who the chat is with), centred timestamps and notices, bubbles on the left (the other
side) and on the right (the resident), small grey nicknames above bubbles in group chats,
and the input bar. Only the bubbles' text matters for the verdict, so:

- status bar and input bar: boxes in the top / bottom band of a phone-shaped picture;
- nicknames, timestamps, the title: text drawn on the screen's background, not inside a
  bubble (a bubble's colour differs from the background's, in light and dark mode alike);
  when nothing on the picture sits in a bubble (a photo of a letter, a notes app) this
  rule is off and all text counts;
- timestamps and short centred lines (titles, "以下为新消息"): by their text and place;
- what is left is grouped into bubbles: consecutive lines on the same side, close together,
  starting at the same left edge.

The box rules run before recognition (`keep_boxes`), so the chrome is never read at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image

from bot.vision.engines import Box, TextLine

# A picture at least this tall for its width is a phone screen: its bands are chrome.
PHONE_RATIO = 1.5
# Status bar + title bar: about 88 of 812 points on a phone; the input bar about 56.
TOP_BAND = 0.085
BOTTOM_BAND = 0.06
# Colour distance (0–255, the largest channel) between a bubble and the background; the
# closest pair measured is WeChat's light mode (white on #EDEDED, 18).
BUBBLE_CONTRAST = 10
# Centred lines narrower than this share of the width are titles, timestamps, notices;
# a bubble is pinned to one side, so its lines are centred only when they are wide.
CENTRED_NARROW = 0.45
CENTRE_TOLERANCE = 0.025
# What a clock or a date in a chat looks like (上午 10:03, 昨天 20:15, 11月28日 晚上8:02 …).
TIMESTAMP = re.compile(
    r"^(?:(?:\d{4}年)?\d{1,2}月\d{1,2}日|\d{4}[/-]\d{1,2}[/-]\d{1,2}|昨天|前天|今天|星期.|周.)?\s*"
    r"(?:凌晨|早上|上午|中午|下午|晚上)?\s*\d{1,2}[:：]\d{2}$"
)


@dataclass(frozen=True)
class Message:
    text: str
    mine: bool  # right-hand side: the resident's own bubble


def _background(pixels: np.ndarray) -> np.ndarray:
    """The screen's background: the colour of the side margins, which no bubble touches."""
    h, w = pixels.shape[:2]
    edge = max(1, w // 100)
    rows = pixels[int(h * 0.15):int(h * 0.9) or h]
    strips = np.concatenate([rows[:, :edge].reshape(-1, 3), rows[:, w - edge:].reshape(-1, 3)])
    return np.median(strips, axis=0)


def _surround(pixels: np.ndarray, box: Box) -> np.ndarray:
    """The median colour of a thin ring just outside a text box."""
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in box)
    gap, ring = 2, 3
    parts = [
        pixels[max(0, y0 - gap - ring):max(0, y0 - gap), max(0, x0):min(w, x1)],
        pixels[min(h, y1 + gap):min(h, y1 + gap + ring), max(0, x0):min(w, x1)],
        pixels[max(0, y0):min(h, y1), max(0, x0 - gap - ring):max(0, x0 - gap)],
        pixels[max(0, y0):min(h, y1), min(w, x1 + gap):min(w, x1 + gap + ring)],
    ]
    flat = [p.reshape(-1, 3) for p in parts if p.size]
    return np.median(np.concatenate(flat), axis=0) if flat else np.zeros(3)


def keep_boxes(image: Image.Image, boxes: Sequence[Box]) -> List[Box]:
    """The boxes worth reading: not in the phone's bars, inside a bubble where there are bubbles."""
    width, height = image.size
    if height >= PHONE_RATIO * width:
        boxes = [b for b in boxes if TOP_BAND * height <= (b[1] + b[3]) / 2 <= (1 - BOTTOM_BAND) * height]
    if not boxes:
        return []
    pixels = np.asarray(image.convert("RGB")).astype(np.int16)
    background = _background(pixels)
    in_bubble = [float(np.abs(_surround(pixels, b) - background).max()) > BUBBLE_CONTRAST for b in boxes]
    if not any(in_bubble):
        return list(boxes)  # no bubbles at all: not a chat app, every line is the message
    return [b for b, inside in zip(boxes, in_bubble) if inside]


def _is_chrome(line: TextLine, width: float) -> bool:
    text = line.text.strip()
    if not text or TIMESTAMP.match(text):
        return True
    centred = abs(line.cx - width / 2) < CENTRE_TOLERANCE * width
    return centred and (line.x1 - line.x0) < CENTRED_NARROW * width


def messages(lines: Sequence[TextLine], width: float) -> List[Message]:
    """The messages of a chat screenshot, top to bottom."""
    kept = sorted((ln for ln in lines if not _is_chrome(ln, width)), key=lambda ln: (ln.y0, ln.x0))
    out: List[Tuple[str, bool]] = []
    prev: TextLine | None = None
    for line in kept:
        mine = line.cx > width / 2
        same_bubble = (
            prev is not None and bool(out) and out[-1][1] == mine
            and line.y0 - prev.y1 < 0.6 * prev.height
            and abs(line.x0 - prev.x0) < prev.height  # a bubble's lines start at the same left edge
        )
        if same_bubble:
            out[-1] = (out[-1][0] + line.text.strip(), mine)
        else:
            out.append((line.text.strip(), mine))
        prev = line
    return [Message(text, mine) for text, mine in out]


def read_text(lines: Sequence[TextLine], width: float) -> str:
    """What the reader returns: one message a line, in order."""
    return "\n".join(m.text for m in messages(lines, width))
