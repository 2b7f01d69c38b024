"""Chat screenshots drawn in code, for measuring the reader (issue 15 item 5).

`render(conversation, style)` draws what a resident's phone shows: a status bar, the app's
title bar, a timestamp, the bubbles on both sides (group chats add small nicknames above
the other side's bubbles), the input bar. Two apps (a WeChat-like chat, an SMS app), light
and dark, several phone sizes, some saved as lossy JPEG. `sample(texts, n)` picks the style
of each screenshot from a seed, so every run measures the same images.

The font is the CJK font the project installs (fonts-wqy-zenhei); nothing is downloaded.
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, List, Sequence, Tuple

import yaml
from PIL import Image, ImageDraw, ImageFont

FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
TEXTS_FILE = Path(__file__).resolve().parents[2] / "data" / "screenshots" / "texts.yml"
# Phone screens (pixels): a common Android, iPhone 8, iPhone 13, a small Android.
SIZES: Tuple[Tuple[int, int], ...] = ((1080, 2340), (750, 1334), (1170, 2532), (720, 1600))
APPS = ("wechat", "sms")
Color = Tuple[int, int, int]


@dataclass(frozen=True)
class Bubble:
    text: str
    mine: bool  # the resident's own message (right side)


@dataclass(frozen=True)
class Style:
    app: str = "wechat"
    dark: bool = False
    size: Tuple[int, int] = (1080, 2340)
    group: bool = False  # a group chat: nicknames above the others' bubbles
    jpeg_quality: int = 0  # 0: PNG; otherwise saved as JPEG at this quality


@dataclass(frozen=True)
class Shot:
    image: bytes
    expected: str  # the bubbles' text in order, one bubble a line: what a reader should return
    style: Style


def parse_conversation(entry: str) -> List[Bubble]:
    """texts.yml's form: bubbles separated by "|", ">" before the resident's own ones."""
    bubbles = []
    for part in entry.split("|"):
        part = part.strip()
        if part:
            mine = part.startswith(">")
            bubbles.append(Bubble(part.lstrip(">").strip(), mine))
    return bubbles


def load_texts(path: Path = TEXTS_FILE) -> List[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    texts = data.get("texts") if isinstance(data, dict) else None
    if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError(f"{path}: 'texts' must be a list of non-empty strings")
    return texts


def expected_text(entry: str) -> str:
    return "\n".join(b.text for b in parse_conversation(entry))


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_FILE), size)


@dataclass(frozen=True)
class _Palette:
    background: Color
    bar: Color
    chrome_text: Color
    other_bubble: Color
    other_text: Color
    mine_bubble: Color
    mine_text: Color
    faint: Color


def _palette(style: Style) -> _Palette:
    if style.app == "wechat":
        if style.dark:
            return _Palette((17, 17, 17), (30, 30, 30), (220, 220, 220), (44, 44, 44), (213, 213, 213),
                            (62, 181, 117), (18, 18, 18), (120, 120, 120))
        return _Palette((237, 237, 237), (237, 237, 237), (20, 20, 20), (255, 255, 255), (25, 25, 25),
                        (149, 236, 105), (25, 25, 25), (160, 160, 160))
    if style.dark:
        return _Palette((0, 0, 0), (22, 22, 24), (235, 235, 235), (38, 38, 40), (235, 235, 235),
                        (10, 132, 255), (255, 255, 255), (130, 130, 135))
    return _Palette((255, 255, 255), (248, 248, 248), (15, 15, 15), (233, 233, 235), (15, 15, 15),
                    (10, 132, 255), (255, 255, 255), (140, 140, 145))


# Chinese line breaking (禁则): these never start a line, the app keeps them on the line before.
NO_LINE_START = set("，。、！？；：）》」』”’,.!?;:)%")


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> List[str]:
    lines, line = [], ""
    for ch in text:
        if line and font.getlength(line + ch) > max_width and ch not in NO_LINE_START:
            lines.append(line)
            line = ch
        else:
            line += ch
    return lines + [line] if line else lines


def render(bubbles: Sequence[Bubble], style: Style, seed: int = 0) -> Shot:
    """One screenshot of `bubbles` drawn in `style`."""
    rng = random.Random(seed)
    width, height = style.size
    unit = width / 375  # iOS points → pixels: every size keeps the same proportions
    pal = _palette(style)
    image = Image.new("RGB", (width, height), pal.background)
    draw = ImageDraw.Draw(image)
    body, small, title = _font(round(17 * unit)), _font(round(12 * unit)), _font(round(17 * unit))

    # Status bar (clock, network, battery) and the app's title bar.
    status_h, bar_h = round(44 * unit), round(44 * unit)
    draw.rectangle((0, 0, width, status_h + bar_h), fill=pal.bar)
    draw.text((round(24 * unit), round(14 * unit)), f"{rng.randint(7, 22)}:{rng.randint(0, 59):02d}",
              font=small, fill=pal.chrome_text)
    draw.text((width - round(90 * unit), round(14 * unit)), f"5G {rng.randint(20, 99)}%", font=small,
              fill=pal.chrome_text)
    names = ["客服中心", "王警官", "李老师", "宝贝", "10690012", "95188", "张阿姨", "家庭群(8)", "同学群(56)"]
    header = rng.choice(names)
    draw.text((round(12 * unit), status_h + round(10 * unit)), "<", font=title, fill=pal.chrome_text)
    tw = draw.textlength(header, font=title)
    draw.text(((width - tw) / 2, status_h + round(11 * unit)), header, font=title, fill=pal.chrome_text)

    y = status_h + bar_h + round(16 * unit)
    stamp = rng.choice(["昨天 20:15", "上午 10:03", "下午 3:47", "星期二 09:30", "11月28日 晚上8:02", "今天 14:21"])
    sw = draw.textlength(stamp, font=small)
    draw.text(((width - sw) / 2, y), stamp, font=small, fill=pal.faint)
    y += round(30 * unit)

    avatar = round(40 * unit) if style.app == "wechat" else 0
    margin = round(12 * unit)
    pad_x, pad_y = round(12 * unit), round(10 * unit)
    line_h = round(24 * unit)
    max_text = width * 0.62 - 2 * pad_x
    nick_names = ["李明", "客服小张", "王阿姨", "Tony", "阳光"]
    for bubble in bubbles:
        lines = _wrap(bubble.text, body, max_text)
        text_w = max(draw.textlength(line, font=body) for line in lines)
        bw, bh = text_w + 2 * pad_x, len(lines) * line_h + 2 * pad_y
        if style.group and not bubble.mine:
            draw.text((margin + avatar + round(10 * unit), y), rng.choice(nick_names), font=small, fill=pal.faint)
            y += round(18 * unit)
        if y + bh > height - round(70 * unit):
            break  # the screen is full: the rest would scroll (never happens with texts.yml)
        if bubble.mine:
            x1 = width - margin - avatar - (round(10 * unit) if avatar else 0)
            x0 = x1 - bw
            fill, ink = pal.mine_bubble, pal.mine_text
            if avatar:
                draw.rounded_rectangle((width - margin - avatar, y, width - margin, y + avatar), radius=round(4 * unit),
                                       fill=(90, 140, 200))
        else:
            x0 = margin + avatar + (round(10 * unit) if avatar else 0)
            fill, ink = pal.other_bubble, pal.other_text
            if avatar:
                draw.rounded_rectangle((margin, y, margin + avatar, y + avatar), radius=round(4 * unit),
                                       fill=(200, 120, 80))
        draw.rounded_rectangle((x0, y, x0 + bw, y + bh), radius=round((4 if style.app == "wechat" else 16) * unit),
                               fill=fill)
        for i, line in enumerate(lines):
            draw.text((x0 + pad_x, y + pad_y + i * line_h + round(2 * unit)), line, font=body, fill=ink)
        y += bh + round(14 * unit)

    # The input bar: WeChat's has icons only; the SMS app shows a grey placeholder.
    in_top = height - round(56 * unit)
    draw.rectangle((0, in_top, width, height), fill=pal.bar)
    draw.rounded_rectangle((round(50 * unit), in_top + round(10 * unit), width - round(50 * unit),
                            in_top + round(46 * unit)), radius=round(8 * unit), fill=pal.other_bubble)
    if style.app == "sms":
        draw.text((round(64 * unit), in_top + round(18 * unit)), "短信/彩信", font=small, fill=pal.faint)

    out = io.BytesIO()
    if style.jpeg_quality:
        image.save(out, format="JPEG", quality=style.jpeg_quality)
    else:
        image.save(out, format="PNG")
    return Shot(out.getvalue(), "\n".join(b.text for b in bubbles), style)


def style_for(index: int) -> Style:
    """The style of the index-th screenshot: every app × light/dark × size, some group chats and JPEGs."""
    rng = random.Random(index * 7919)
    return Style(
        app=APPS[index % 2],
        dark=(index // 2) % 2 == 1,
        size=SIZES[(index // 4) % len(SIZES)],
        group=rng.random() < 0.3,
        jpeg_quality=rng.choice((0, 0, 60, 75, 85)),
    )


def sample(texts: Sequence[str], limit: int = 0) -> Iterator[Tuple[str, Shot]]:
    """(source text, screenshot) for the first `limit` texts (0: all), each in its own style."""
    for i, entry in enumerate(texts[:limit] if limit else texts):
        yield entry, render(parse_conversation(entry), style_for(i), seed=i)
