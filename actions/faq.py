"""Questions about scams, numbers and how to verify someone, answered from the KB."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.render import bullet, hotline_line
from actions.state import latest_entities, latest_text
from bot.kb import KnowledgeBase, find_type
from bot.kb.models import Hotline
from bot.kb.text import normalize
from bot.runtime.context import current_kb, get_extractor

URGENT_HOTLINES = ("police_110", "antifraud_96110")
KIND_ORDER = {"emergency": 0, "anti_fraud": 1, "report": 2, "app": 3}

def who_to_verify(kb: KnowledgeBase, norm: str) -> List[str]:
    """Whom the question is about (faq.yml `verify_who`): a type id or `bank`; all when unsaid."""
    named = [w.key for w in kb.faq.verify_who if any(word in norm for word in w.words)]
    return named or [w.key for w in kb.faq.verify_who]


def explain_type(kb: KnowledgeBase, type_id: str) -> str:
    scam = kb.scam_types[type_id]
    lines = [texts.TYPE_HEADER.format(short_name=scam.short_name), scam.description.strip()]
    flags = sorted(kb.flags_of(type_id), key=lambda f: -f.weight)
    if flags:
        lines.append(texts.TYPE_RECOGNISE)
        lines.extend(bullet((f.description for f in flags), 4))
    never = scam.advice.never or scam.advice.do_now
    if never:
        lines.append(texts.TYPE_NEVER)
        lines.extend(bullet(never, 3))
    if scam.verify_tip:
        lines.append(texts.TYPE_VERIFY.format(tip=scam.verify_tip))
    return "\n".join(lines)


def type_menu(kb: KnowledgeBase) -> Tuple[str, List[dict]]:
    menu = [t for t in kb.faq.menu_types if t in kb.scam_types]
    others = [kb.scam_types[t].short_name for t in kb.scam_type_ids if t not in menu]
    text = texts.TYPE_MENU
    if others:
        text += "\n还有：" + "、".join(others)
    buttons = [
        {"title": kb.scam_types[t].short_name,
         "payload": '/ask_scam_type{"scam_type": "%s"}' % t}
        for t in menu
    ]
    return text, buttons


def sorted_hotlines(hotlines: Iterable[Hotline]) -> List[Hotline]:
    return sorted(hotlines, key=lambda h: KIND_ORDER.get(h.kind, 9))


def _number_in(number: str, norm: str) -> bool:
    return re.search(rf"(?<!\d){re.escape(number)}(?!\d)", norm) is not None


def hotlines_named(kb: KnowledgeBase, text: str) -> List[Hotline]:
    norm = normalize(text or "").lower()
    chosen = [h for h in kb.hotlines.values() if h.number and _number_in(h.number, norm)]
    if "app" in norm or "反诈中心" in norm or "软件" in norm:
        chosen += [h for h in kb.hotlines.values() if h.kind == "app" and h not in chosen]
    return sorted_hotlines(chosen)


class ActionExplainScamType(Action):
    """ask_scam_type: what a scam type is and how to recognise it (or a menu of types)."""

    def name(self) -> Text:
        return "action_explain_scam_type"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        kb = current_kb()
        type_id = find_type(kb, latest_text(tracker), latest_entities(tracker))
        if type_id is None:
            text, buttons = type_menu(kb)
            dispatcher.utter_message(text=text, buttons=buttons)
        else:
            dispatcher.utter_message(
                text=explain_type(kb, type_id),
                buttons=[{"title": "查一查可疑电话短信", "payload": "/start_check"}],
            )
        return []


class ActionHotlineInfo(Action):
    """ask_hotline_info: what 96110, 12381, the 国家反诈中心 app … are."""

    def name(self) -> Text:
        return "action_hotline_info"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        kb = current_kb()
        named = hotlines_named(kb, latest_text(tracker))
        shown = named or sorted_hotlines(
            h for h in kb.hotlines.values() if h.kind in ("anti_fraud", "report", "app")
        )
        lines = [] if named else [texts.HOTLINE_INFO_HEADER]
        for h in shown:
            number_part = f"（{h.number}）" if h.number else ""
            lines.append(texts.HOTLINE_INFO_LINE.format(name=h.name, number_part=number_part, when=h.when))
        if any(h.number == "96110" for h in shown):
            lines.append(texts.HOTLINE_96110_CALLING)
        dispatcher.utter_message(text="\n".join(lines))
        return []


class ActionVerifyIdentity(Action):
    """ask_verify_identity: how to check someone who claims to be police, bank, teacher, kin."""

    def name(self) -> Text:
        return "action_verify_identity"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        kb = current_kb()
        norm = normalize(latest_text(tracker))
        lines = [texts.VERIFY_HEADER]
        for key in who_to_verify(kb, norm):
            if key == "bank":
                lines.append(texts.VERIFY_LINE.format(who=texts.VERIFY_WHO[key], tip=texts.VERIFY_BANK_TIP))
                for bank in kb.banks_named_in(norm):
                    lines.append(texts.VERIFY_BANK_NUMBER.format(name=bank.name, number=bank.number))
                continue
            scam = kb.scam_types.get(key)
            if scam is not None and scam.verify_tip:
                lines.append(texts.VERIFY_LINE.format(who=texts.VERIFY_WHO[key], tip=scam.verify_tip))
        dispatcher.utter_message(text="\n".join(lines))
        return []


class ActionCheckLinkOrNumber(Action):
    """ask_link_or_number_safe: never 'safe'; say what is known and how to check."""

    def name(self) -> Text:
        return "action_check_link_or_number"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        kb = current_kb()
        norm = normalize(latest_text(tracker))
        official = kb.official_numbers(with_other_numbers=False)
        lines: List[str] = []
        known = [n for n in official if _number_in(n, norm)]
        for number in known:
            lines.append(texts.LINK_NUMBER_OFFICIAL.format(value=number, name=official[number]))
            if number == "96110":
                lines.append(texts.HOTLINE_96110_CALLING)
        indicators = get_extractor()(norm)
        unknown = [
            i.value for i in indicators
            if i.kind in ("phone", "url", "qq", "wechat_id")
            and not any(_number_in(n, i.value) for n in known)
        ]
        for value in unknown[:3]:
            lines.append(texts.LINK_NUMBER_UNKNOWN.format(value=value))
        lines.append(texts.LINK_NUMBER_HEADER)
        has_link = any(i.kind == "url" for i in indicators) or re.search(
            r"链接|网址|网站|网页|二维码|扫码|app|软件|下载", norm
        )
        tips = (texts.LINK_URL_TIPS if has_link else []) + texts.LINK_PHONE_TIPS
        lines.extend(bullet(tips, 4))
        lines.append(texts.LINK_INVITE)
        dispatcher.utter_message(text="\n".join(lines))
        return []


class ActionWhichNumber(Action):
    """ask_which_number: which number for which situation; bank numbers; 110 vs 96110."""

    def name(self) -> Text:
        return "action_which_number"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        kb = current_kb()
        norm = normalize(latest_text(tracker))
        lines: List[str] = []
        if tracker.get_slot("money_lost"):
            lines.append(texts.MONEY_LOST_FIRST_LINE)
        banks = kb.banks_named_in(norm)
        for bank in banks:
            lines.append(texts.BANK_LINE.format(name=f"{bank.name}客服", number=bank.number))
        # the numbers to call now (the same two the verdict engine adds when money is gone)
        urgent = [kb.hotlines[i] for i in URGENT_HOTLINES if i in kb.hotlines]
        if banks:
            lines.extend(hotline_line(h.name, h.number, h.when) for h in urgent)
        elif (_number_in("110", norm) and _number_in("96110", norm)) or "区别" in norm:
            lines.append(texts.WHICH_NUMBER_110_VS_96110)
            lines.extend(hotline_line(h.name, h.number, h.when) for h in urgent)
        else:
            lines.append(texts.WHICH_NUMBER_HEADER)
            lines.extend(
                hotline_line(h.name, h.number, h.when) for h in sorted_hotlines(kb.hotlines.values())
            )
            lines.append(texts.WHICH_NUMBER_BANKS_HINT)
        dispatcher.utter_message(text="\n".join(lines))
        return []
