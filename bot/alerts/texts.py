"""What residents read of an alert: in the chat, in a WeChat push, and the subscription replies.

Short lines, the type first; every text ends with where to ask (96110).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from bot.alerts.models import AUDIENCES, EVERYONE, Alert, audience_named

CHAT_MAX_ALERTS = 3
Names = Callable[[str], str]  # scam type id → its short name

NO_ALERTS_TEXT = (
    "最近社区没有发新的预警。\n"
    "常见骗局可以问我“有哪些骗局”。\n"
    "拿不准的事，打 96110 反诈专线问一问。"
)
SUBSCRIBED_TEXT = (
    "已订阅反诈预警（{audience}）。\n"
    "社区发现新骗局，会发消息提醒您。\n"
    "不想再收，回复“退订”。"
)
UNSUBSCRIBED_TEXT = "已退订反诈预警，不会再给您发了。\n想再收，回复“订阅预警”。"
NOT_SUBSCRIBED_TEXT = "您没有订阅反诈预警。\n想收，回复“订阅预警”。"
UNKNOWN_AUDIENCE_TEXT = "没听懂要订阅哪一类。\n请回复：订阅预警 " + " / 订阅预警 ".join(AUDIENCES)


def _head(alert: Alert, names: Names) -> str:
    name = names(alert.scam_type)
    return f"【{name}】{alert.title}" if name else alert.title


def chat_text(alerts: Sequence[Alert], names: Names) -> str:
    """The answer to “最近有什么新骗局”: the newest active alerts, at most three."""
    if not alerts:
        return NO_ALERTS_TEXT
    lines = [f"⚠️ 最近的反诈预警（{len(alerts[:CHAT_MAX_ALERTS])} 条）："]
    for i, alert in enumerate(alerts[:CHAT_MAX_ALERTS], 1):
        lines.append(f"{i}. {_head(alert, names)}")
        lines.append(alert.text)
    lines.append("遇到类似的事，先别转账。拿不准，打 96110 问一问。")
    return "\n".join(lines)


def push_text(alert: Alert, names: Names) -> str:
    """The WeChat message a subscriber gets."""
    return (
        f"⚠️ 反诈预警 · {_head(alert, names)}\n{alert.text}\n"
        "钱已经转出去了：马上打 110，再打银行客服电话止付。\n"
        "拿不准，打 96110 反诈专线问一问。\n"
        "不想再收，回复“退订”。"
    )


@dataclass(frozen=True)
class Subscription:
    """A resident's “订阅预警 [audience]” (subscribe=True) or “退订” (False)."""

    subscribe: bool
    audience: Optional[str] = EVERYONE  # None: a group was named but it is not one we know


_SUBSCRIBE = re.compile(r"^(?:订阅预警|订阅預警|訂閱預警|订阅反诈预警|预警订阅)\s*(.*)$")
_UNSUBSCRIBE = {"退订", "退訂", "取消订阅", "取消訂閱", "退订预警", "取消预警", "td", "TD"}


def parse_subscription(content: str) -> Optional[Subscription]:
    """The subscription command in a WeChat text, or None when it is not one."""
    text = content.strip().strip("。.!！")
    if text in _UNSUBSCRIBE:
        return Subscription(subscribe=False)
    match = _SUBSCRIBE.match(text)
    if match is None:
        return None
    named = match.group(1).strip()
    return Subscription(subscribe=True, audience=audience_named(named) if named else EVERYONE)
