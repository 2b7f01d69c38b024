"""The lines of a verdict every channel words the same way (the chat's actions and the
gateway's degraded reply): the risk heading and the "why" / "what to do" lines."""
from __future__ import annotations

from bot.kb.models import RISK_LABELS

# The chat's mark before a risk level's name.
RISK_ICONS = {"high": "⚠️", "medium": "🔶", "low": "ℹ️"}
WHY = "为什么："
DO_NOW = "现在就做："
FLAG_LINE = "·「{quote}」——{description}"
FLAG_LINE_NO_QUOTE = "·{description}"


def risk_label(level: str) -> str:
    """"⚠️ 高危": the mark before the level's name."""
    return f"{RISK_ICONS.get(level, '')} {RISK_LABELS.get(level, level)}".strip()


def flag_line(quote: str, description: str) -> str:
    """One "why" line: the resident's words that triggered the red flag, when there are any."""
    return (FLAG_LINE if quote else FLAG_LINE_NO_QUOTE).format(quote=quote, description=description)
