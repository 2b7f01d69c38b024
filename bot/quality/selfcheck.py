"""Whole self-checks as a resident does them, for `make load` and `make chaos`.

Plain Python with no imports from the project or its servers, so the locust file (which
runs in its own venv) and the chaos run share it: the situations residents describe,
how an answer is chosen from a question's buttons, and what counts as a reply.
"""
from __future__ import annotations

import random
from typing import Any, Dict, Optional, Sequence

# Residents' first messages: one per common scam type, plus a harmless one. No phone,
# card or ID numbers, so the masked tracker store keeps them word for word.
SITUATIONS: Sequence[str] = (
    "有人打电话说我的快递丢了，要给我理赔，让我打开支付宝的备用金",
    "我妈刚接到电话，说她医保卡在外地被盗刷了，电话又转给了一个警官，说她涉嫌洗钱",
    "我在网上认识一个投资导师，带我在一个平台买数字货币，说稳赚不赔",
    "网上看到兼职刷单，做任务给返利，前几单返了钱，现在让我垫付大单",
    "有个贷款APP说我征信有问题，放款前要先交解冻费",
    "微信上有人自称是我领导，让我先帮他转一笔钱给客户",
    "游戏里有人要高价收我的账号，让我到一个陌生网站去交易",
    "有人说我的京东金条利率太高，要帮我注销，不然影响征信",
    "婚恋网站认识的男朋友一直不视频，说带我一起投资赚钱",
    "收到短信说我的ETC认证失效了，点链接重新认证",
    "老师在家长群里发了收资料费的二维码",
    "今天天气怎么样",
)
ANSWERS = ("/affirm", "/deny", "/unsure")
MAX_ANSWERS = 8
SIGNATURE_SEPARATOR = "#"  # bot/gateway/input_guard.py TAG_SEPARATOR (this module imports nothing of the project)  # a self-check asks at most a handful of questions


def has_verdict(replies: Sequence[Dict[str, Any]]) -> bool:
    return any(isinstance(m.get("custom"), dict) and "verdict" in m["custom"] for m in replies)


def is_reply(replies: Any) -> bool:
    """A turn got its reply: a non-empty list of messages, each with text, buttons or custom."""
    return isinstance(replies, list) and bool(replies) and all(
        isinstance(m, dict) and (m.get("text") or m.get("buttons") or m.get("custom")) for m in replies
    )


def command(payload: str) -> str:
    """A button's command without the gateway's signature."""
    return payload.split(SIGNATURE_SEPARATOR, 1)[0]


def next_answer(replies: Sequence[Dict[str, Any]], rng: random.Random) -> Optional[str]:
    """A button answer to the question just asked, or None when no question is open."""
    for message in reversed(replies):
        payloads = [str(b.get("payload") or "") for b in message.get("buttons") or []]
        # The gateway signs its buttons ("/affirm#<tag>"): the answer is sent back as offered.
        offered = [p for p in payloads if command(p) in ANSWERS]
        if offered:
            return rng.choice(offered)
    return None


def turn_kind(index: int, replies: Sequence[Dict[str, Any]]) -> str:
    """describe (the first message), answer (a question follows), verdict (the check's end)."""
    if has_verdict(replies):
        return "verdict"
    return "describe" if index == 0 else "answer"


def script(rng: random.Random) -> str:
    return rng.choice(SITUATIONS)
