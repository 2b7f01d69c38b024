"""Typed schema of the knowledge base (data/kb/*.yml).

pydantic models validate each file on load; `extra = forbid` turns a typo in a field
name into an error instead of a silently ignored key.
"""
from __future__ import annotations

import re
from typing import List, Literal, Optional

from pydantic import Field, validator

from bot.kb.yaml_io import StrictModel

RiskLevel = Literal["high", "medium", "low"]
TargetGroup = Literal["老年人", "家长", "学生", "all"]
ID_PATTERN = r"^[a-z][a-z0-9_]*$"


def _compile_all(patterns: List[str]) -> List[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"invalid regular expression {pattern!r}: {err}") from err
    return patterns


class RedFlag(StrictModel):
    id: str = Field(regex=ID_PATTERN)
    description: str = Field(min_length=4)
    patterns: List[str] = Field(min_items=1)
    weight: int = Field(ge=1, le=3)
    # A match lying inside a match of one of these does not count (negated or warning
    # wording such as "公检法不会要求转账到安全账户"); common.yml warning_patterns apply too.
    exclude_patterns: List[str] = Field(default_factory=list)

    _valid_patterns = validator("patterns", "exclude_patterns", allow_reuse=True)(_compile_all)


class Question(StrictModel):
    id: str = Field(regex=ID_PATTERN)
    text: str = Field(min_length=4)
    if_yes: Literal["raise", "lower"]
    weight: int = Field(ge=1, le=3)
    red_flags: List[str] = Field(default_factory=list)


class Advice(StrictModel):
    do_now: List[str] = Field(min_items=1)
    never: List[str] = Field(default_factory=list)


class ScamType(StrictModel):
    id: str = Field(regex=ID_PATTERN)
    name: str
    short_name: str
    aliases: List[str] = Field(default_factory=list)
    description: str
    base_risk: RiskLevel
    target_groups: List[TargetGroup] = Field(min_items=1)
    keywords: List[str] = Field(default_factory=list)
    red_flags: List[RedFlag] = Field(default_factory=list)
    common_red_flags: List[str] = Field(default_factory=list)
    questions: List[Question] = Field(default_factory=list, max_items=5)
    advice: Advice
    dissuasion_script: List[str] = Field(default_factory=list)
    verify_tip: str = ""
    hotlines: List[str] = Field(default_factory=list)


class Hotline(StrictModel):
    id: str = Field(regex=ID_PATTERN)
    name: str
    number: Optional[str]
    when: str
    kind: Literal["emergency", "anti_fraud", "report", "app"]


class Bank(StrictModel):
    id: str = Field(regex=ID_PATTERN)
    name: str
    aliases: List[str] = Field(default_factory=list)
    number: str = Field(regex=r"^\d{5}$")


class HotlinesFile(StrictModel):
    hotlines: List[Hotline] = Field(min_items=1)
    banks: List[Bank] = Field(default_factory=list)


class LossChecklist(StrictModel):
    """What the operator walks the caller through once money has moved (console, issue 6)."""

    title: str = Field(min_length=4)
    police: str = Field(min_length=4)
    bank_named: str  # the bank is known: `{bank}` and `{number}` are filled in
    bank_unknown: str = Field(min_length=4)
    evidence_title: str = Field(min_length=2)
    evidence: List[str] = Field(min_items=1)
    recovery_warning: str = Field(min_length=4)

    @validator("bank_named")
    def _names_bank_and_number(cls, value: str) -> str:
        if "{bank}" not in value or "{number}" not in value:
            raise ValueError("must contain the placeholders {bank} and {number}")
        return value


class CommonFile(StrictModel):
    red_flags: List[RedFlag] = Field(default_factory=list)
    # Spans that warn against a scam instead of describing one ("凡是……都是诈骗",
    # "公安机关不会……"): red-flag, indicator and money-lost matches inside them do not count.
    warning_patterns: List[str] = Field(default_factory=list)
    loss_patterns: List[str] = Field(min_items=1)
    # Spans where a loss pattern is not money sent to a scammer (bills, "如果已经转了").
    loss_exclude_patterns: List[str] = Field(default_factory=list)
    loss_advice: List[str] = Field(min_items=1)
    loss_checklist: LossChecklist
    general_advice: List[str] = Field(min_items=1)
    safe_advice: List[str] = Field(min_items=1)

    _valid_patterns = validator(
        "warning_patterns", "loss_patterns", "loss_exclude_patterns", allow_reuse=True
    )(_compile_all)


# Types that are not scams: they carry no diagnostic questions of their own.
NON_SCAM_TYPES = ("none", "unknown")
