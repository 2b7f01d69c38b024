"""Links: the host as written, official brand sites, and hosts that imitate a brand.

The brands and their domains are data (data/kb/lexicons.yml `brands`).
"""
from __future__ import annotations

import re
from typing import Iterable, Optional, Tuple
from urllib.parse import urlsplit

from bot.kb.loader import KnowledgeBase

IP_HOST = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
GOVERNMENT_SUFFIX = "gov.cn"
_DIGIT_AS_LETTER = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"})
_DIGIT_AS_I = str.maketrans({"1": "i"})


def url_host(value: str) -> str:
    """The host of a link as written (lower case, without www. and port)."""
    raw = value.strip()
    if not re.match(r"(?i)^[a-z][a-z0-9+.\-]*://", raw):
        raw = "http://" + raw
    try:
        host = urlsplit(raw).hostname or ""
    except ValueError:
        host = ""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _is_official(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def official_domain_of(kb: KnowledgeBase, host: str) -> Optional[Tuple[str, str]]:
    """(brand name, official domain) when `host` is a brand's official site."""
    for _, name, domains, _ in kb.brands:
        for domain in domains:
            if _is_official(host, [domain]):
                return name, domain
    if host.endswith("." + GOVERNMENT_SUFFIX):
        return "政府网站", host
    return None


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def lookalike(kb: KnowledgeBase, host: str) -> Optional[Tuple[str, str, str]]:
    """(brand name, official domain, why) when `host` imitates a well-known brand."""
    if not host or IP_HOST.match(host) or official_domain_of(kb, host):
        return None
    if any(label.startswith("xn--") for label in host.split(".")):
        try:
            shown = host.encode("ascii").decode("idna")
        except UnicodeError:
            shown = host
        return "知名网站", "", f"域名用特殊字符伪装成别的网址（实际是 {shown}）"
    words = [w for w in re.split(r"[.\-_]", host) if w]
    for key, name, domains, imitated in kb.brands:
        if not imitated:
            continue
        short = len(key) <= 3  # matched only as a whole word of the host
        if short or key.isdigit():
            embedded = key in words or (key.isdigit() and any(w.startswith(key) for w in words))
        else:
            embedded = key in host
        if embedded:
            return name, domains[0], f"网址里有「{key}」，但不是{name}的官网"
        if key.isdigit() or short:
            continue
        for word in words:
            if any(ch.isdigit() for ch in word) and (
                key in word.translate(_DIGIT_AS_LETTER) or key in word.translate(_DIGIT_AS_I)
            ):
                return name, domains[0], f"网址用数字冒充字母，假装是{name}（{word}）"
            if len(key) >= 5 and _one_edit_apart(word, key):
                return name, domains[0], f"网址和{name}的官网只差一个字母（{word}）"
    if "gov" in words or any(w.startswith("gov") for w in words):
        return "政府网站", "", "网址假装是政府网站，但政府网站都以 .gov.cn 结尾"
    return None
