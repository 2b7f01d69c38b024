"""The red flags indicators raise, and how to verify an allowlisted one.

`indicator_red_flags` looks at the indicators themselves: raw-IP links, short links,
look-alike brand domains, remote-control apps (and meeting apps, only when the text shows
screen sharing or someone telling the resident to install one), a "bank"/"police" number
that is not the official one, overseas / +00 / virtual-carrier numbers, and anything on
the blocklist. `indicator_advice` says how to verify through the official channel when an
indicator is on the allowlist (95588, 96110 …). The word lists are data/kb/lexicons.yml.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Dict, List, Optional, Sequence, Tuple

from bot.kb.blocklist import Blocklist, builtin_allowlist
from bot.kb.extraction.hosts import IP_HOST, lookalike, official_domain_of, url_host
from bot.kb.extraction.phones import phone_info
from bot.kb.loader import KnowledgeBase
from bot.kb.results import Indicator, RedFlagHit

POLICE_OFFICIAL = "110（报警）或 96110（反诈专线）"

_CLAUSE = r"[^,，。!！?？;；\n]"
_SHARING_WORDS = re.compile(
    r"屏幕共享|共享(你的|您的|一下|下)?屏幕|开(启|一下)?共享|投屏|远程|远控|操控|控制(你的|您的|我的)?手机"
)
# Someone telling the resident to install the app or join a meeting in it, in the clause
# before the app's name (same wording as the KB's `screen_sharing` red flag) …
_INSTRUCTION_BEFORE_APP = re.compile(
    r"(让|叫|要|要求|请|指导|教|带)" + _CLAUSE + r"{0,12}(下载|下个|下一个|安装|装|加入|进入|进)" + _CLAUSE + r"{0,4}$"
)
# … unless school or work asks for it (老师让下载钉钉上网课、公司用飞书打卡).
_EVERYDAY_SENDERS = re.compile(r"老师|班主任|学校|幼儿园|公司|单位|领导|同事|hr|人事|辅导员|班级群|家长群", re.I)
_SENTENCE_BREAK = re.compile(r"[。!！?？\n]")


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max((m.end() for m in _SENTENCE_BREAK.finditer(text, 0, start)), default=0)
    right = _SENTENCE_BREAK.search(text, end)
    return text[left:right.start() if right else len(text)]


def meeting_app_misused(text: str, ind: Indicator) -> bool:
    """The sentence naming a meeting app shows screen sharing, or someone (not school or
    work) telling the resident to install it or join a meeting in it."""
    if not text or not (0 <= ind.start < ind.end <= len(text)):
        return False
    sentence = _sentence_around(text, ind.start, ind.end)
    if _SHARING_WORDS.search(sentence):
        return True
    before = text[max(0, ind.start - 30):ind.start]
    return bool(_INSTRUCTION_BEFORE_APP.search(before)) and not _EVERYDAY_SENDERS.search(sentence)


def _screen_sharing_risk(kb: KnowledgeBase, ind: Indicator, text: str) -> bool:
    app = ind.value.lower()
    lex = kb.lexicons
    return app in lex.remote_control_apps or (app in lex.meeting_apps and meeting_app_misused(text, ind))


# Indicator flags that say the same as a text red flag of the KB (keep only one of each pair).
OVERLAPS_WITH = {"ind_screen_sharing_app": "screen_sharing"}
_NOUN = {"phone": "号码", "url": "链接", "bank_card": "账号", "qq": "QQ号", "wechat_id": "微信号"}


def _hit(flag_id: str, description: str, weight: int, quote: str) -> RedFlagHit:
    return RedFlagHit(flag_id, description, weight, quote, None, "indicator")


def with_list_status(indicators: Sequence[Indicator], store: Blocklist) -> List[Indicator]:
    """The indicators with their blocklist status looked up (once: already looked-up ones are kept)."""
    out = []
    for ind in indicators:
        if ind.listed is None:
            entry = store.check(ind)
            ind = dataclasses.replace(
                ind, listed=entry.list if entry is not None else "", list_note=entry.note if entry is not None else ""
            )
        out.append(ind)
    return out


def _store(kb: KnowledgeBase, blocklist: Optional[Blocklist]) -> Blocklist:
    """`blocklist`, or only the built-in allowlist (the KB's official numbers)."""
    return blocklist if blocklist is not None else builtin_allowlist(kb)


def _claimed(kb: KnowledgeBase, indicators: Sequence[Indicator]) -> Tuple[List[str], List[Tuple[str, str]]]:
    """(police-like organisations named, [(bank name, official number)] named)."""
    police: List[str] = []
    banks: List[Tuple[str, str]] = []
    for ind in indicators:
        if ind.kind != "organization":
            continue
        if kb.police_words.search(ind.value):
            police.append(ind.value)
        elif kb.bank_words.search(ind.value):
            known = kb.banks_named_in(ind.value)
            if known:
                banks.extend((b.name, b.number) for b in known)
            else:
                banks.append((ind.value, ""))
    return police, banks


def _url_flags(kb: KnowledgeBase, ind: Indicator) -> List[RedFlagHit]:
    host = url_host(ind.value)
    if IP_HOST.match(host):
        return [_hit("ind_raw_ip_url", "链接是一串数字地址（IP），正规单位的网站不会这样发", 2, ind.value)]
    if host in kb.lexicons.url_shorteners:
        return [_hit("ind_short_link", "这是短链接，看不出真实网址：不要点开", 1, ind.value)]
    fake = lookalike(kb, host)
    if not fake:
        return []
    _, official, why = fake
    real = f"，真官网是 {official}" if official else ""
    return [_hit("ind_lookalike_domain", f"假冒网址：{why}{real}", 3, ind.value)]


def _phone_flags(ind: Indicator, police: List[str], banks: List[Tuple[str, str]]) -> List[RedFlagHit]:
    hits = []
    info = phone_info(ind.value)
    if info.spoofed_prefix:
        hits.append(_hit("ind_spoofed_number", "号码以 +00 开头：这不是正常的来电号码，多是改号软件或网络电话", 2, ind.value))
    elif info.overseas:
        hits.append(_hit(
            "ind_overseas_number",
            f"境外号码（+{info.country_code}）：国内的公检法、银行、客服不会用境外号码联系您（提示，不是定论）",
            1, ind.value,
        ))
    elif info.virtual:
        hits.append(_hit(
            "ind_virtual_number",
            f"{info.national[:3]} 号段是虚拟运营商号段，常被诈骗分子使用（提示，不是定论）",
            1, ind.value,
        ))
    if not ind.listed and (police or banks):
        if police:
            hits.append(_hit(
                "ind_unofficial_number",
                f"自称「{police[0]}」，但 {ind.value} 不是官方号码：公检法机关不会打电话办案、要钱，报警请打 {POLICE_OFFICIAL}",
                2, ind.value,
            ))
        else:
            name, number = banks[0]
            official = f"官方客服电话是 {number}" if number else "银行官方客服是 95 开头的号码"
            hits.append(_hit(
                "ind_unofficial_number",
                f"自称「{name}」，但 {ind.value} 不是它的官方号码：{official}，请自己拨打核实",
                2, ind.value,
            ))
    return hits


def indicator_red_flags(
    indicators: Sequence[Indicator],
    kb: KnowledgeBase,
    blocklist: Optional[Blocklist] = None,
    text: str = "",
) -> List[RedFlagHit]:
    """Red flags raised by the indicators themselves (source="indicator"), strongest first.

    `blocklist` None: only the built-in allowlist (official numbers of the KB) is used.
    `text` (normalised, the indicators' offsets point into it) gives the context a meeting
    app needs before it counts; without it only remote-control apps raise a flag.
    """
    indicators = with_list_status(indicators, _store(kb, blocklist))
    hits: List[RedFlagHit] = []
    police, banks = _claimed(kb, indicators)
    for ind in indicators:
        if ind.listed == "allow":
            continue
        if ind.listed == "block":
            note = f"（{ind.list_note}）" if ind.list_note else ""
            hits.append(_hit("ind_reported", f"此{_NOUN.get(ind.kind, '信息')}已被举报：{ind.value}{note}", 3, ind.value))
        if ind.kind == "url":
            hits += _url_flags(kb, ind)
        elif ind.kind == "app" and _screen_sharing_risk(kb, ind, text):
            hits.append(_hit(
                "ind_screen_sharing_app",
                f"让您装「{ind.value}」——这类软件能让对方看到甚至操控您的手机，看到验证码和银行密码",
                3, ind.value,
            ))
        elif ind.kind == "phone":
            hits += _phone_flags(ind, police, banks)
    unique: Dict[Tuple[str, str], RedFlagHit] = {}
    for hit in hits:
        unique.setdefault((hit.id, hit.quote), hit)
    return sorted(unique.values(), key=lambda h: -h.weight)


def merge_red_flags(text_hits: Sequence[RedFlagHit], indicator_hits: Sequence[RedFlagHit]) -> List[RedFlagHit]:
    """Text red flags + indicator red flags, without saying the same thing twice."""
    have = {h.id for h in text_hits}
    extra = [h for h in indicator_hits if OVERLAPS_WITH.get(h.id) not in have]
    return sorted([*text_hits, *extra], key=lambda h: -h.weight)




def indicator_advice(
    indicators: Sequence[Indicator], kb: KnowledgeBase, blocklist: Optional[Blocklist] = None
) -> List[str]:
    """How to verify through the official channel, for allowlisted indicators."""
    lines: List[str] = []
    for ind in with_list_status(indicators, _store(kb, blocklist)):
        if ind.kind == "url":
            official = official_domain_of(kb, url_host(ind.value))
            if official:
                lines.append(
                    f"{ind.value} 看起来是{official[0]}的官网地址。稳妥起见，请自己在浏览器输入官网或用官方App核实，不要点短信里的链接。"
                )
            continue
        if ind.listed != "allow":
            continue
        name = ind.list_note or "官方"
        if ind.kind == "phone":
            digits = re.sub(r"[^\d]", "", ind.value)
            said = [h.contacts_you for h in kb.hotlines.values()
                    if h.contacts_you and h.number and digits.endswith(h.number)]
            lines.append(said[0] if said else (
                f"{ind.value} 是{name}的官方号码。要核实，请挂断后自己拨打 {ind.value}，不要回拨来电，也不要让对方“转接”。"
            ))
        else:
            lines.append(f"{ind.value} 在官方名单上（{name}）。仍请通过官方电话或官方App自己核实。")
    return list(dict.fromkeys(lines))
