"""Audience tip sheets (宣传单): one printable A4 page per audience, built from the KB.

A sheet lists the scam types that target the audience (most relevant first, as many
as fit one page), for each its short name, the tell-tale signs in plain words and the
one thing to do; then the official hotlines and a QR code that opens the chat widget.
The QR code is made here with segno, so printing a sheet never needs the network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import segno

from bot.alerts.models import Alert
from bot.kb.loader import KnowledgeBase
from bot.kb.models import NON_SCAM_TYPES, Hotline, ScamType

# Hotlines printed on every sheet, in this order (ids from data/kb/hotlines.yml).
SHEET_HOTLINES = ("police_110", "antifraud_96110", "miit_12381", "report_12321", "antifraud_app")
RISK_ORDER = {"high": 0, "medium": 1, "low": 2}
SIGNS_PER_TYPE = 2
# Community alerts printed at the top of a sheet; each takes the place of one row of tips
# (two types), so the sheet stays one A4 page.
MAX_SHEET_ALERTS = 2
SHEET_ALERT_CHARS = 110  # an alert's text on paper: a longer one is cut (the chat has it whole)
SHEET_TZ = ZoneInfo("Asia/Shanghai")  # "valid until" is a day where the sheet hangs


@dataclass(frozen=True)
class Audience:
    slug: str  # in the URL: /outreach/packs/<slug>
    label: str  # shown to people: 老年人
    kb_group: str  # the KB's target_groups value
    intro: str  # one short line under the title
    max_types: int  # how many types fit one A4 page in this audience's type size
    large_print: bool = False


AUDIENCES: Dict[str, Audience] = {
    a.slug: a
    for a in (
        Audience("elderly", "老年人", "老年人",
                 "陌生电话、短信说要钱，先挂断，问问子女，再打 96110。", max_types=6, large_print=True),
        Audience("parents", "家长", "家长",
                 "骗子盯着孩子的手机，也盯着您的钱包。和孩子一起看一看。", max_types=8),
        Audience("students", "学生", "学生",
                 "兼职、贷款、游戏、追星：凡是先让你交钱的，都要当心。", max_types=8),
        Audience("all", "所有人", "all",
                 "要您转账、说验证码、点陌生链接的，先停下来，核实了再说。", max_types=10),
    )
}


class UnknownAudience(KeyError):
    """No tip sheet for this audience."""


@dataclass(frozen=True)
class TipItem:
    scam_type: str
    short_name: str
    signs: Tuple[str, ...]  # the tell-tale signs, plain words
    do_this: str  # the one thing to do


@dataclass(frozen=True)
class SheetHotline:
    name: str
    number: Optional[str]
    when: str


@dataclass(frozen=True)
class SheetAlert:
    title: str
    text: str
    type_name: str  # "" when the alert names no known type yet
    until: str  # the last day it applies, as people write it: 12月31日


@dataclass(frozen=True)
class TipSheet:
    audience: Audience
    items: Tuple[TipItem, ...]
    hotlines: Tuple[SheetHotline, ...]
    widget_url: str
    qr_data_uri: str  # an SVG data: URI, works in the browser and in WeasyPrint
    alerts: Tuple[SheetAlert, ...] = ()

    @property
    def title(self) -> str:
        return f"防骗提示 · {self.audience.label}"


def audience(slug: str) -> Audience:
    try:
        return AUDIENCES[slug]
    except KeyError:
        raise UnknownAudience(slug) from None


def _relevance(scam: ScamType, group: str) -> Tuple[int, int, int]:
    """Sort key, smaller first: how closely a type concerns the audience, then its risk.

    For one audience, types aimed at it alone come before types it shares with other
    groups; for everyone (`all`), types that reach the most groups come first.
    """
    groups = len(scam.target_groups)
    closeness = -groups if group == "all" else groups
    return (closeness, RISK_ORDER[scam.base_risk], -sum(f.weight for f in scam.red_flags))


def relevant_types(kb: KnowledgeBase, group: str) -> List[ScamType]:
    """Real scam types whose target_groups include `group`, most relevant first."""
    candidates = [
        scam for scam in kb.scam_types.values()
        if group in scam.target_groups and scam.id not in NON_SCAM_TYPES
    ]
    # sorted() is stable: equal keys keep the KB's (file name) order.
    return sorted(candidates, key=lambda scam: _relevance(scam, group))


def plain_sign(description: str) -> str:
    """A red flag's sign without its explanation: the KB writes 'sign——why'."""
    return description.split("——", 1)[0].strip()


def tip_item(scam: ScamType) -> TipItem:
    strongest = sorted(scam.red_flags, key=lambda f: -f.weight)[:SIGNS_PER_TYPE]
    return TipItem(
        scam_type=scam.id,
        short_name=scam.short_name,
        signs=tuple(plain_sign(f.description) for f in strongest),
        do_this=scam.advice.do_now[0],
    )


def sheet_hotlines(kb: KnowledgeBase) -> Tuple[SheetHotline, ...]:
    missing = [h for h in SHEET_HOTLINES if h not in kb.hotlines]
    if missing:
        raise ValueError(f"{kb.source_files.get('hotlines', 'hotlines.yml')}: hotlines: missing {missing} for the tip sheets")
    found: List[Hotline] = [kb.hotlines[h] for h in SHEET_HOTLINES]
    return tuple(SheetHotline(h.name, h.number, h.when) for h in found)


def widget_url(public_url: Optional[str], request_origin: str) -> str:
    """The chat widget's address: PUBLIC_URL when set (the address residents can reach), else this host."""
    base = (public_url or "").strip() or request_origin
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"PUBLIC_URL must be an http(s) address like https://fanzha.example.cn, got {base!r}")
    return base.rstrip("/") + "/"


def qr_code(url: str) -> segno.QRCode:
    # Medium error correction: a sheet may be photocopied, folded or pinned up.
    return segno.make(url, error="m", micro=False)


def qr_data_uri(url: str) -> str:
    return qr_code(url).svg_data_uri(scale=4, border=4, dark="#000", light="#fff")


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHEET_ALERT_CHARS else text[: SHEET_ALERT_CHARS - 1] + "…"


def sheet_alerts(kb: KnowledgeBase, who: Audience, alerts: Sequence[Alert]) -> Tuple[SheetAlert, ...]:
    """The newest active alerts that concern this audience (the all-residents sheet: every one)."""
    chosen = [a for a in alerts if a.reaches(who.label)][:MAX_SHEET_ALERTS]
    names = {t: s.short_name for t, s in kb.scam_types.items() if t not in NON_SCAM_TYPES}
    days = [a.expires_at.astimezone(SHEET_TZ) for a in chosen]
    return tuple(
        SheetAlert(a.title, _shorten(a.text), names.get(a.scam_type, ""), f"{day.month}月{day.day}日")
        for a, day in zip(chosen, days)
    )


def build_sheet(kb: KnowledgeBase, audience_slug: str, url: str, alerts: Sequence[Alert] = ()) -> TipSheet:
    """The tip sheet for one audience; `url` is the widget address the QR code opens;
    `alerts`: the active community alerts, newest first (bot.alerts)."""
    who = audience(audience_slug)
    printed = sheet_alerts(kb, who, alerts)
    types = relevant_types(kb, who.kb_group)[: who.max_types - 2 * len(printed)]
    return TipSheet(
        audience=who,
        items=tuple(tip_item(scam) for scam in types),
        hotlines=sheet_hotlines(kb),
        widget_url=url,
        qr_data_uri=qr_data_uri(url),
        alerts=printed,
    )
