"""Typed schema of the knowledge base (data/kb/*.yml).

pydantic models validate each file on load; `extra = forbid` turns a typo in a field
name into an error instead of a silently ignored key.
"""
from __future__ import annotations

import re
from typing import Dict, List, Literal, Optional, Tuple

from bot.kb.pydantic_v1 import Field, validator
from bot.kb.yaml_io import StrictModel

RiskLevel = Literal["high", "medium", "low"]
# The one place the levels are named (chat, console, WeChat, statistics, the widget via
# /widget/risk-labels.js).
RISK_LABELS = {"high": "高危", "medium": "中危", "low": "低危"}
TargetGroup = Literal["老年人", "家长", "学生", "all"]
ID_PATTERN = r"^[a-z][a-z0-9_]*$"


def valid_regexes(patterns: List[str]) -> List[str]:
    """Pydantic validator: every pattern compiles (the error names the pattern)."""
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
    # Asking for this (a code, card number with password, screen sharing) makes the risk
    # high whatever the type and the other evidence: one rule, set per flag in the KB.
    always_high: bool = False

    _valid_patterns = validator("patterns", "exclude_patterns", allow_reuse=True)(valid_regexes)


# The loss stages (ids: bot.kb.stage.STAGES, DESIGN.md), for data that names one.
StageId = Literal["paid", "credentials_given", "on_the_call", "asked_to_pay", "not_engaged"]


class Question(StrictModel):
    id: str = Field(regex=ID_PATTERN)
    text: str = Field(min_length=4)
    if_yes: Literal["raise", "lower"]
    weight: int = Field(ge=1, le=3)
    red_flags: List[str] = Field(default_factory=list)
    # The loss stage a "是" shows ("钱已经转过去了吗？" → paid): the chat's stage is the most
    # severe of the resident's turns and of these answers (bot.kb.stage.most_severe).
    stage: Optional[StageId] = None


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
    # Said when the number shows up in what a resident pasted (96110 calling is a real warning).
    contacts_you: Optional[str] = None


class OtherNumber(StrictModel):
    """An official number that is no hotline of ours but always on the allowlist (120, 119 …)."""

    number: str = Field(regex=r"^\d{3,6}$")
    name: str


class Bank(StrictModel):
    id: str = Field(regex=ID_PATTERN)
    name: str
    aliases: List[str] = Field(default_factory=list)
    number: str = Field(regex=r"^\d{5}$")


class HotlinesFile(StrictModel):
    hotlines: List[Hotline] = Field(min_items=1)
    other_numbers: List[OtherNumber] = Field(default_factory=list)
    banks: List[Bank] = Field(default_factory=list)


LossStepKind = Literal["police", "bank", "evidence", "recovery_warning", "credentials", "remote_app", "hang_up"]


class LossStep(StrictModel):
    step: LossStepKind
    text: str = Field(min_length=4)


class LossChecklist(StrictModel):
    """What to do once money has moved: residents' lines and the operator's (console) words."""

    for_residents: List[LossStep] = Field(min_items=2)
    title: str = Field(min_length=4)
    # The console's title when a code or password went out but no money (yet).
    title_credentials: str = Field(min_length=4)
    # The scammer is still on the line: the first (and, before anything went, only) step.
    hang_up: str = Field(min_length=4)
    police: str = Field(min_length=4)
    bank_named: str  # the bank is known: `{bank}` and `{number}` are filled in
    bank_unknown: str = Field(min_length=4)
    evidence_title: str = Field(min_length=2)
    evidence: List[str] = Field(min_items=1)
    recovery_warning: str = Field(min_length=4)

    @validator("for_residents")
    def _police_and_bank_once(cls, steps: List[LossStep]) -> List[LossStep]:
        required: Tuple[LossStepKind, ...] = ("police", "bank")
        for kind in required:
            if [s.step for s in steps].count(kind) != 1:
                raise ValueError(f"must hold exactly one step {kind!r}")
        return steps

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
    # Spans that show the request is genuine or was checked (a bank's own code SMS "请勿告诉
    # 他人", a relative called back on the old number, a real 96110 call): treated like
    # warning spans — red flags, indicators and money-lost matches inside them do not count.
    reassurance_patterns: List[str] = Field(default_factory=list)
    loss_patterns: List[str] = Field(min_items=1)
    # Spans where a loss pattern is not money sent to a scammer (bills, "如果已经转了").
    loss_exclude_patterns: List[str] = Field(default_factory=list)
    loss_checklist: LossChecklist
    general_advice: List[str] = Field(min_items=1)
    safe_advice: List[str] = Field(min_items=1)

    _valid_patterns = validator(
        "warning_patterns", "reassurance_patterns", "loss_patterns", "loss_exclude_patterns",
        allow_reuse=True,
    )(valid_regexes)


def _words(words: List[str]) -> List[str]:
    if any(not w.strip() for w in words):
        raise ValueError("empty word")
    return words


class Brand(StrictModel):
    """A brand whose look-alike domains give a phishing link away."""

    key: str = Field(regex=r"^[a-z0-9][a-z0-9\-]*$")  # looked for in a link's host
    bank: Optional[str] = None  # a bank id of hotlines.yml (its name comes from there) …
    name: Optional[str] = None  # … or the brand's own name
    domains: List[str] = Field(min_items=1)  # official domains; the first is shown
    lookalikes: bool = True  # False: only recognised as official, never as imitated

    @validator("name", always=True)
    def _bank_or_name(cls, name: Optional[str], values: dict) -> Optional[str]:
        if bool(name) == bool(values.get("bank")):
            raise ValueError("give either `bank` (an id from hotlines.yml) or `name`")
        return name


class LexiconsFile(StrictModel):
    """data/kb/lexicons.yml: the word lists of indicator extraction and its red flags."""

    police_words: List[str] = Field(min_items=1)
    bank_words: List[str] = Field(min_items=1)
    url_shorteners: List[str] = Field(min_items=1)
    brands: List[Brand] = Field(min_items=1)
    remote_control_apps: List[str] = Field(min_items=1)
    meeting_apps: List[str] = Field(min_items=1)
    organizations: List[str] = Field(min_items=1)
    apps: List[str] = Field(min_items=1)
    short_forced: List[str] = Field(default_factory=list)
    not_organizations: List[str] = Field(default_factory=list)
    org_suffixes: List[str] = Field(default_factory=list)
    place_names: List[str] = Field(default_factory=list)
    not_places: List[str] = Field(default_factory=list)

    _no_empty_words = validator(
        "police_words", "bank_words", "url_shorteners", "remote_control_apps", "meeting_apps",
        "organizations", "apps", "short_forced", "not_organizations", "org_suffixes",
        "place_names", "not_places", allow_reuse=True, each_item=False,
    )(_words)


class VerifyWho(StrictModel):
    """Who a resident may want to verify: a scam type whose verify_tip answers, or `bank`."""

    key: str = Field(regex=ID_PATTERN)
    words: List[str] = Field(min_items=1)

    _no_empty_words = validator("words", allow_reuse=True)(_words)


class FaqFile(StrictModel):
    """data/kb/faq.yml. Types a smaller KB does not have are skipped, so it can share the file."""

    menu_types: List[str] = Field(min_items=1)  # offered as buttons, most reported first
    verify_who: List[VerifyWho] = Field(min_items=1)


# Types that are not scams: they carry no diagnostic questions of their own.
NON_SCAM_TYPES = ("none", "unknown")


class RiskPoints(StrictModel):
    """How the risk level is reached: the type's base points plus red-flag weights and answers."""

    base: Dict[RiskLevel, float] = Field(default_factory=lambda: {"high": 2, "medium": 1, "low": 0})
    high_at: float = Field(default=5, gt=0)
    medium_at: float = Field(default=2, gt=0)

    @validator("medium_at")
    def _medium_below_high(cls, value: float, values: dict) -> float:
        if "high_at" in values and value > values["high_at"]:
            raise ValueError("must not be above high_at")
        return value

    @validator("base")
    def _every_level(cls, value: Dict[str, float]) -> Dict[str, float]:
        missing = {"high", "medium", "low"} - set(value)
        if missing:
            raise ValueError(f"missing level(s) {sorted(missing)}")
        return value


class DecisionConstants(StrictModel):
    """data/kb/decision.yml: how the classifier's P(scam), the red flags, the reassurance spans
    and the loss stage are weighed when the type and the risk are chosen (bot.kb.verdict).
    Chosen on own-data cross-validation and data/dev (`python -m bot.quality.evaluation
    --fast --tune`); a KB without the file (the tests' small KB) gets these defaults."""

    # The classifier's raw P(scam) that counts as even odds, and the slope of its log-odds
    # (a Platt-style recalibration: < 1 tempers an over-confident model).
    scam_threshold: float = Field(default=0.5, gt=0, lt=1)
    scam_slope: float = Field(default=1.0, gt=0, le=3)
    # Log-odds added per red-flag weight point of a type found in the text.
    flag_evidence: float = Field(default=0.3, ge=0, le=5)
    # Log-odds taken from `none` per weight point of any red flag (shared ones included).
    none_penalty: float = Field(default=0.8, ge=0, le=5)
    # Below this, the best scam type is reported as `unknown` when something looks wrong.
    min_type_confidence: float = Field(default=0.15, ge=0, lt=1)
    # Log-odds added to `none` per reassurance span (common.yml), at most `max_reassurances`.
    reassurance: float = Field(default=0.0, ge=0, le=10)
    max_reassurances: int = Field(default=2, ge=0, le=10)
    # Log-odds taken from `none` when the text's loss stage is urgent (paid, credentials).
    # The stage model reads tense, not fraud ("AA 我付了" is paid too), so it is evidence, not
    # an override; a verdict that still ends `none` is a legitimate payment: no urgent steps.
    stage_evidence: float = Field(default=20.0, ge=0, le=50)
    # A red flag at least this heavy (验证码, 安全账户 …) never ends as "nothing found".
    decisive_flag_weight: int = Field(default=3, ge=1, le=4)
    risk: RiskPoints = Field(default_factory=lambda: RiskPoints())
