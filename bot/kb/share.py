"""A verdict a resident sends to their family ("发给家人看看"): what is kept, what is shown.

A share keeps only what the verdict engine derived — the type id, the risk level, the ids
of the red flags and the loss stage (`ShareCard`) — never a word, number or name the
resident wrote: no quotes, no indicators, no bank named in the text. What the family sees
(`share_view`) is rebuilt from the KB alone: the type's name, the red flags' KB
descriptions, the advice for that type and stage (the same `advice_for` / `steps_for_stage`
as the verdict itself, with the "bank unknown" line, since the bank came from the text) and
the hotlines. So a shared page cannot leak what the resident typed, whatever they typed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from bot.kb.loader import KnowledgeBase
from bot.kb.loss import LossSteps, steps_for_stage
from bot.kb.models import RISK_LABELS
from bot.kb.stage import STAGES
from bot.kb.verdict import advice_for, hotlines_for
from bot.kb.wording import risk_label

MAX_FLAGS = 6  # a phone screen's worth; the strongest come first in a verdict
MAX_ADVICE = 6
# What the family reads first: who is asking and what to do for them.
FAMILY_INTRO = "家里人用「反诈自查助手」查了一件可疑的事，结果如下。"
FAMILY_TIP = "请给他/她打个电话，陪着一起核实：先别转账，不说验证码，不点陌生链接。"
NO_FLAGS = "没有发现明显的诈骗特征。"
STAGE_NOTES = {
    "paid": "家人说钱已经转出去了：请马上陪他/她报警、联系银行止付。",
    "credentials_given": "家人说验证码、密码或卡号已经给出去了：请马上陪他/她联系银行冻结。",
    "on_the_call": "对方可能还在电话里或聊天中：请先让家人挂断、退出聊天。",
    "asked_to_pay": "对方在要钱：请先让家人停下，一分钱也别转。",
}


class ShareCardError(ValueError):
    """The verdict cannot be shared (not a verdict of this KB)."""


@dataclass(frozen=True)
class ShareCard:
    """Everything a share keeps: derived ids only (see the module docs)."""

    scam_type: str
    risk_level: str
    red_flags: Tuple[str, ...]
    stage: str

    def to_record(self) -> Dict[str, Any]:
        return {"scam_type": self.scam_type, "risk_level": self.risk_level,
                "red_flags": list(self.red_flags), "stage": self.stage}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "ShareCard":
        return cls(str(record["scam_type"]), str(record["risk_level"]),
                   tuple(str(f) for f in record.get("red_flags") or ()), str(record["stage"]))


def card_from_verdict(kb: KnowledgeBase, verdict: Mapping[str, Any]) -> ShareCard:
    """The derived fields of a verdict (the `/api/v1/assess` shape), checked against the KB.

    Red flags the KB does not describe (the indicator flags, whose wording names the number
    or link) are left out: their words come from the text."""
    scam_type, risk, stage = (str(verdict.get(k) or "") for k in ("scam_type", "risk_level", "stage"))
    if scam_type not in kb.scam_types:
        raise ShareCardError(f"unknown scam type {scam_type!r}")
    if risk not in RISK_LABELS:
        raise ShareCardError(f"unknown risk level {risk!r}")
    if stage not in STAGES:
        stage = "not_engaged"  # a verdict from before the loss stage existed
    ids = [str(f.get("id")) for f in verdict.get("red_flags") or [] if isinstance(f, Mapping)]
    known = [i for i in dict.fromkeys(ids) if i in kb.red_flags or i in kb.questions]
    return ShareCard(scam_type, risk, tuple(known[:MAX_FLAGS]), stage)


@dataclass(frozen=True)
class ShareHotline:
    name: str
    number: Optional[str]
    when: str


@dataclass(frozen=True)
class ShareView:
    """What the page and the image show; every string comes from the KB."""

    risk_level: str
    risk_name: str  # "高危"
    short_name: str  # "冒充公检法"
    heading: str  # "⚠️ 高危 · 冒充公检法"
    scam_name: str
    intro: str
    stage_note: str
    flags: Tuple[str, ...]
    urgent_title: str
    urgent_steps: Tuple[str, ...]
    advice: Tuple[str, ...]
    hotlines: Tuple[ShareHotline, ...]
    family_tip: str

    def lines(self) -> List[str]:
        """Every text on the card, in reading order (the image draws these)."""
        out = [self.heading, self.intro]
        out += [self.stage_note] if self.stage_note else []
        out += list(self.flags) + list(self.urgent_steps) + list(self.advice)
        out += [" ".join(x for x in (h.name, h.number or "", h.when) if x) for h in self.hotlines]
        return out + [self.family_tip]


def _flag_text(kb: KnowledgeBase, flag_id: str) -> str:
    if flag_id in kb.red_flags:
        return kb.red_flags[flag_id][1].description
    return "家人确认了：" + kb.questions[flag_id][1].text  # an answered question (verdict: "您确认了")


def _urgent_lines(steps: LossSteps) -> Tuple[str, ...]:
    if not steps.urgent:
        return ()
    lines: List[str] = []
    for step in steps.steps:
        lines.append(step.text)
        if step.step == "bank":
            lines.extend(steps.bank_lines)
    return tuple(lines)


def share_view(kb: KnowledgeBase, card: ShareCard) -> ShareView:
    """The card as the family sees it, from the KB alone (a KB reload changes the wording)."""
    scam = kb.scam_types[card.scam_type]
    steps = steps_for_stage(kb, card.stage, ())  # the bank the text named is not kept
    urgent = _urgent_lines(steps)
    # Urgent steps have their own block; "先挂断" (on the call) stays at the top of the advice.
    advice = [a for a in advice_for(kb, card.scam_type, steps) if not (urgent and a in steps.lines)]
    hotlines = hotlines_for(kb, card.scam_type, (), steps.urgent)
    flags = tuple(_flag_text(kb, f) for f in card.red_flags if f in kb.red_flags or f in kb.questions)
    return ShareView(
        risk_level=card.risk_level,
        risk_name=RISK_LABELS[card.risk_level],
        short_name=scam.short_name,
        heading=f"{risk_label(card.risk_level)} · {scam.short_name}",
        scam_name=scam.name,
        intro=FAMILY_INTRO,
        stage_note=STAGE_NOTES.get(card.stage, ""),
        flags=flags or (NO_FLAGS,),
        urgent_title=steps.title if urgent else "",
        urgent_steps=urgent,
        advice=tuple(advice[:MAX_ADVICE]),
        hotlines=tuple(ShareHotline(h.name, h.number, h.when) for h in hotlines),
        family_tip=FAMILY_TIP,
    )
