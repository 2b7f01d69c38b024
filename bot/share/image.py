"""The shared card as a PNG, for saving to the phone's album or forwarding as a picture.

Drawn with Pillow in the CJK font the project installs (fonts-wqy-zenhei), from the
`ShareView` alone — the same KB strings as the page, nothing the resident wrote — plus a QR
code (segno) that opens the widget. Rendering takes tens of milliseconds; callers run it in
a thread.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import List, Sequence, Tuple

import segno
from PIL import Image, ImageDraw, ImageFont

from bot.kb.share import ShareView

FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
WIDTH = 750  # a phone screen at 2x: readable when WeChat shows it full-screen
MARGIN = 40
LINE_GAP = 12
RISK_COLOURS = {"high": (200, 40, 40), "medium": (214, 120, 0), "low": (46, 125, 50)}
INK = (34, 34, 34)
MUTED = (102, 102, 102)
PAPER = (255, 255, 255)
QR_CAPTION = "扫码打开反诈自查助手，自己也查一查"

Font = ImageFont.FreeTypeFont


@lru_cache(maxsize=8)
def _font(size: int) -> Font:
    return ImageFont.truetype(str(FONT_FILE), size)


# Never at the start of a line (Chinese line-breaking rule): they hang past the margin instead.
NO_LINE_START = set("，。、；：！？）」』”’》…—,.;:!?)")


def _wrap(text: str, font: Font, width: int) -> List[str]:
    """CJK text broken by width (Chinese has no spaces to break at)."""
    lines: List[str] = []
    line = ""
    for char in text:
        if font.getlength(line + char) > width and line and char not in NO_LINE_START:
            lines.append(line)
            line = char.lstrip() if char == " " else char
        else:
            line += char
    return lines + ([line] if line else [])


Block = Tuple[str, int, Tuple[int, int, int], int]  # text, size, colour, indent
SECTION_GAP = 14  # extra space above a section title (size 28)


def _blocks(view: ShareView) -> List[Block]:
    blocks: List[Block] = [(view.scam_name, 30, INK, 0), (view.intro, 26, MUTED, 0)]
    if view.stage_note:
        blocks.append((view.stage_note, 28, RISK_COLOURS["high"], 0))
    blocks.append(("为什么可疑：", 28, INK, 0))
    blocks += [("· " + f, 26, INK, 16) for f in view.flags]
    if view.urgent_steps:
        blocks.append((view.urgent_title + "：", 28, RISK_COLOURS["high"], 0))
        blocks += [(f"{i}. {s}", 26, INK, 16) for i, s in enumerate(view.urgent_steps, 1)]
    blocks.append(("现在就做：", 28, INK, 0))
    blocks += [(f"{i}. {a}", 26, INK, 16) for i, a in enumerate(view.advice, 1)]
    blocks.append(("电话：", 28, INK, 0))
    blocks += [(f"{h.name} {h.number}" if h.number else h.name, 26, INK, 16) for h in view.hotlines]
    blocks.append((view.family_tip, 26, MUTED, 0))
    return blocks


def _qr(url: str, box: int) -> Image.Image:
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=8, border=2)
    buf.seek(0)
    return Image.open(buf).convert("RGB").resize((box, box), Image.Resampling.NEAREST)


def _layout(blocks: Sequence[Block]) -> List[Tuple[str, Font, Tuple[int, int, int], int]]:
    out = []
    for text, size, colour, indent in blocks:
        font = _font(size)
        for line in _wrap(text, font, WIDTH - 2 * MARGIN - indent):
            out.append((line, font, colour, indent))
    return out


def card_png(view: ShareView, widget_url: str) -> bytes:
    """The card: a coloured band with the risk level and type, the text, a QR code."""
    head_font = _font(44)
    band = 120
    rows = _layout(_blocks(view))
    qr_box = 240
    height: float = band + MARGIN + sum(r[1].size + LINE_GAP + (SECTION_GAP if r[1].size == 28 else 0) for r in rows)
    height = int(height + MARGIN + qr_box + 80)
    image = Image.new("RGB", (WIDTH, int(height)), PAPER)
    draw = ImageDraw.Draw(image)
    colour = RISK_COLOURS.get(view.risk_level, INK)
    draw.rectangle((0, 0, WIDTH, band), fill=colour)
    heading = f"{view.risk_name} · {view.short_name}"  # no emoji: the CJK font has none
    draw.text((MARGIN, (band - head_font.size) // 2), heading, font=head_font, fill=PAPER)
    y: float = band + MARGIN
    for line, font, ink, indent in rows:
        y += SECTION_GAP if font.size == 28 else 0
        draw.text((MARGIN + indent, y), line, font=font, fill=ink)
        y += font.size + LINE_GAP
    y += MARGIN // 2
    image.paste(_qr(widget_url, qr_box), ((WIDTH - qr_box) // 2, int(y)))
    caption = _font(24)
    draw.text(((WIDTH - caption.getlength(QR_CAPTION)) // 2, y + qr_box + 16), QR_CAPTION, font=caption, fill=MUTED)
    out = io.BytesIO()
    # A few colours and their anti-aliasing greys: a 64-colour palette keeps the text crisp,
    # makes the file a few times smaller and the encoding fast (optimize=True took over a second).
    image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(out, format="PNG")
    return out.getvalue()
