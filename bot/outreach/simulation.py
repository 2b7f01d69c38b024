"""骗局模拟演练: the assistant plays a scammer's script, the resident practises saying no.

Scripts are data (data/outreach/simulations/<scam type id>.yml): an intro that says
clearly this is a drill, then 3–6 steps. Each step is one line of the scammer, the KB
red flag to notice there (its description is shown after the reply) and 2–4 reply
buttons, each safe or unsafe with its own feedback. A resident may also type a reply:
`classify_reply` sorts it into safe / unsafe / unsure with plain, tested rules. A drill
never collects personal data; a reply that looks like a real phone, card or ID number or
a code is answered with a warning not to share real data, even in a drill.

`DrillSession` is a pure state machine with a small JSON-able state (`to_dict` /
`from_dict`), shared by the chat (a Rasa slot) and the drill page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from bot.kb import default_kb
from bot.kb.loader import KnowledgeBase
from bot.kb.models import NON_SCAM_TYPES
from bot.kb.pydantic_v1 import Field, ValidationError, validator
from bot.kb.pydantic_v1 import dataclass as pydantic_dataclass
from bot.kb.text import normalize
from bot.kb.yaml_io import StrictModel, field_path, load_yaml_model
from bot.outreach.quiz import AUDIENCES, level_for
from bot.privacy import mask_text

DEFAULT_SIMULATION_DIR = Path(__file__).resolve().parents[2] / "data" / "outreach" / "simulations"
SAFE, UNSAFE, UNSURE = "safe", "unsafe", "unsure"
MAX_OPTION_CHARS = 24
# Hotlines named at the end of every drill (ids from data/kb/hotlines.yml).
END_HOTLINES = ("police_110", "antifraud_96110")

# Said instead of judging a reply that looks like real personal data.
PERSONAL_DATA_WARNING = (
    "⚠️ 这是演练，请不要输入真实的手机号、银行卡号、身份证号、密码和验证码。\n"
    "现实中，这些发给对方，就上当了。"
)
UNSURE_GUIDANCE = (
    "拿不准的时候，记住：不转账、不说验证码、不点链接、不下载软件。\n"
    "先挂断，自己打官方电话核实，或者打 96110 问一问。"
)
SAFE_DEFAULT = "做得对！不听、不信、不转账，自己去官方渠道核实。"
UNSAFE_DEFAULT = "这样回就危险了：骗子正等着您照做。"


class SimulationDataError(ValueError):
    """A simulation script is invalid; the message names the file and the field."""


class DrillStateError(ValueError):
    """A drill state or reply that does not fit the drill (bad input, not a bug)."""


class ReplyOption(StrictModel):
    text: str = Field(min_length=2, max_length=MAX_OPTION_CHARS)
    safe: bool
    feedback: str = Field(min_length=4)


class DrillStep(StrictModel):
    says: str = Field(min_length=6)
    red_flag: str
    options: List[ReplyOption] = Field(min_items=2, max_items=4)

    @validator("options")
    def _safe_and_unsafe(cls, options: List[ReplyOption]) -> List[ReplyOption]:
        kinds = {o.safe for o in options}
        if kinds != {True, False}:
            raise ValueError("each step needs at least one safe and one unsafe reply")
        return options


class SimulationScript(StrictModel):
    type: str
    audience: List[str] = Field(min_items=1)
    title: str
    scammer: str = Field(min_length=2)  # who the scammer pretends to be
    intro: str
    steps: List[DrillStep] = Field(min_items=3, max_items=6)

    @validator("audience", each_item=True)
    def _known_audience(cls, audience: str) -> str:
        if audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r} (one of {sorted(AUDIENCES)})")
        return audience

    @validator("intro")
    def _says_it_is_a_drill(cls, intro: str) -> str:
        if "演练" not in intro or not re.search(r"不要|别", intro):
            raise ValueError("the intro must say it is a drill (演练) and not to give real data (不要…)")
        return intro


@dataclass
class SimulationLibrary:
    kb: KnowledgeBase
    scripts: Dict[str, SimulationScript]

    def script(self, type_id: str) -> SimulationScript:
        try:
            return self.scripts[type_id]
        except KeyError:
            raise DrillStateError(f"no drill for {type_id!r} (one of {sorted(self.scripts)})") from None

    def flag_description(self, flag_id: str) -> str:
        return self.kb.red_flags[flag_id][1].description

    def menu(self) -> List[Dict[str, Any]]:
        """The drills on offer: type id, KB short name, title, audiences."""
        return [{"type": t, "name": self.kb.scam_types[t].short_name, "title": s.title,
                 "scammer": s.scammer, "audience": list(s.audience),
                 "audience_labels": [AUDIENCES[a] for a in s.audience]}
                for t, s in self.scripts.items()]


def load_simulations(kb: KnowledgeBase, directory: Path = DEFAULT_SIMULATION_DIR) -> SimulationLibrary:
    """Every data/outreach/simulations/*.yml, validated against the schema and the KB."""
    files = sorted(Path(directory).glob("*.yml"))
    if not files:
        raise SimulationDataError(f"{directory}: no simulation scripts (*.yml)")
    scripts: Dict[str, SimulationScript] = {}
    for path in files:
        script = load_yaml_model(path, SimulationScript, SimulationDataError)
        if script.type not in kb.scam_types or script.type in NON_SCAM_TYPES:
            raise SimulationDataError(f"{path}: type: unknown scam type {script.type!r}")
        if path.stem != script.type:
            raise SimulationDataError(f"{path}: type: {script.type!r} must match the file name {path.stem!r}")
        flags = {f.id for f in kb.flags_of(script.type)}
        for i, step in enumerate(script.steps):
            if step.red_flag not in flags:
                raise SimulationDataError(
                    f"{path}: steps.{i}.red_flag: {step.red_flag!r} is not a red flag of {script.type!r}"
                )
        scripts[script.type] = script
    return SimulationLibrary(kb, scripts)


# -- free-text replies -------------------------------------------------------------------------

# Negations that turn an action into a refusal ("不转", "不会给", "别想让我下载").
_NEG = r"(?:不|没|别|不会|不要|不能|不用|不想|才不|绝不|决不|不可能|休想|甭)"
# What the scammer wants: money out, codes and passwords, links, apps, screen sharing.
_ACTIONS = (
    r"转账|转钱|转给|转过去|汇款|打钱|打款|付款|付钱|支付|交钱|交费|缴费|充值|充钱|垫付|垫钱|"
    r"借钱给|借给|投资|买(?:了|两|一|几|个|盒|点|吧)|下单|扫码|扫一扫|点开|点击|点链接|打开链接|"
    r"下载|安装|装一个|共享屏幕|屏幕共享|开视频|开会议|"
    r"(?:告诉|报给|发给|念给|给)你[^，,。.!！]{0,4}(?:验证码|密码|卡号|账号|号码)|验证码是|密码是|"
    r"卡号是|身份证号是|填(?:写|上|了)|输入|签字|抵押|公证|过户|取钱|取现|加你|加微信|加qq|"
    r"把[^，,。.!！]{0,6}(?:验证码|密码|卡号|钱|存款|房产证)[^，,。.!！]{0,4}(?:发|告诉|报|给|转|念|交)|"
    r"转[^，,。.!！]{0,4}给(?:你|他|她|对方)|(?:马上|这就|现在就|立刻|我)转(?![发告])|进群|加群|进(?:任务|福利|粉丝)群"
)
_UNSAFE_ACTION = re.compile(_ACTIONS)
_NEGATED_ACTION = re.compile(rf"{_NEG}[^，,。.!！?？]{{0,3}}?(?:{_ACTIONS})")
_QUESTION = re.compile(r"[^，,。.!！?？]*[?？]")
# Agreeing without saying what ("好的", "行", "马上办") is still doing what the scammer says.
_AGREE = re.compile(
    r"^(?:嗯+|哦+|好+的?|好吧|行+|可以|没问题|是的?|对|知道了|明白了?|听你的|按你说的办|照你说的做)[，,。.!！]*$"
    r"|^(?:好的?|好吧|行|可以|没问题|嗯+)[，,]"
    r"|马上(?:办|去|弄|转|照做)|这就(?:去|办|转)|我(?:这就|马上)(?:去|办|转)|听你的|照你说的|按你说的"
    r"|怎么(?:操作|弄|转)|下一步(?:呢|怎么)?|然后呢|接下来(?:呢|怎么做)"
)
_SAFE = re.compile(
    r"挂(?:断|了|掉|电话)|拉黑|删(?:了|掉)?(?:你|好友)|举报|报警|110|96110|12321|12381|反诈"
    r"|(?:核实|核对|确认|问问|问一下|查一下|查查)|官方|派出所|去银行(?:问|柜台)|银行柜台|社保(?:局|窗口)"
    r"|(?:问|告诉|跟|和)(?:一下|下)?(?:我)?(?:家人|子女|儿子|女儿|孩子|老伴|爸妈|爸爸|妈妈|父母|老师|班主任)"
    r"|骗子|诈骗|骗局|骗人|假的|不信|不相信|不听|不理|不需要|不要了|不买|不去|不参加|不做|不干|不玩"
    r"|(?:自己|本人)(?:去|打|问|查)|当面|回头再说|考虑一下|商量|不感兴趣|没兴趣"
    r"|(?:验证码|密码|卡号|钱)[^，,。.!！]{0,3}(?:不|别|不会|不能)(?:给|说|告诉|转|交)"
    r"|^(?:不+|不要|不用了?|不了|算了|不给|不转|不去|不进|不行|不可以|不同意|没兴趣)(?:[，,。.!！]|$)"
)


def looks_like_personal_data(text: str) -> bool:
    """True when a reply seems to hold a real phone, card or ID number, a name, or a code."""
    if mask_text(text or "") != (text or ""):
        return True
    norm = normalize(text or "")
    return bool(re.search(r"(验证码|密码|口令|动态码|校验码|cvv|安全码)\D{0,6}\d{4,8}(?!\d)", norm, re.I)
                or re.search(r"(?<!\d)\d{6}(?!\d)", norm) and re.search(r"码", norm))


def classify_reply(text: str) -> str:
    """safe / unsafe / unsure for a typed reply to the scammer.

    An action the scammer wants, not negated and not asked back ("好，我转"), is unsafe even when the
    reply also sounds careful; then refusing, hanging up or checking through an official
    number is safe; a bare "好的" is unsafe (going along); anything else is unsure."""
    norm = normalize(text or "").strip().lower()
    if not norm:
        return UNSURE
    # refusals and questions back ("要我先垫钱？") are not doing what the scammer asks
    without_refusals = _QUESTION.sub("", _NEGATED_ACTION.sub("", norm))
    if _UNSAFE_ACTION.search(without_refusals):
        return UNSAFE
    if _SAFE.search(norm) or _NEGATED_ACTION.search(norm):
        return SAFE
    if _AGREE.search(norm):
        return UNSAFE
    return UNSURE


# -- the session -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplyResult:
    verdict: str  # safe / unsafe / unsure
    feedback: str
    red_flag: Optional[str]  # the KB description of what to notice (not for unsure)
    personal_data: bool = False

    @property
    def advanced(self) -> bool:
        return self.verdict != UNSURE

    def to_dict(self) -> Dict[str, Any]:
        return {"verdict": self.verdict, "feedback": self.feedback, "red_flag": self.red_flag,
                "personal_data": self.personal_data}


@dataclass(frozen=True)
class DrillResult:
    type_id: str
    type_name: str
    score: int
    total: int
    level: str
    message: str
    do_now: List[str]
    never: List[str]
    verify_tip: str
    hotlines: List[Dict[str, Optional[str]]]

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.type_id, "type_name": self.type_name, "score": self.score,
                "total": self.total, "level": self.level, "message": self.message,
                "do_now": self.do_now, "never": self.never, "verify_tip": self.verify_tip,
                "hotlines": self.hotlines}


@pydantic_dataclass
class DrillSession:
    """One drill; validated when made, also from its JSON form (`type` there is `type_id`)."""

    type_id: str
    step: int = Field(0, ge=0)
    safe: int = Field(0, ge=0)
    replies: List[str] = Field(default_factory=list)  # safe / unsafe per finished step

    @classmethod
    def start(cls, library: SimulationLibrary, type_id: str) -> "DrillSession":
        library.script(type_id)
        return cls(type_id)

    @classmethod
    def from_dict(cls, library: SimulationLibrary, raw: Any) -> "DrillSession":
        if not isinstance(raw, Mapping):
            raise DrillStateError("drill state must be an object")
        if "type" not in raw:
            raise DrillStateError("invalid drill state: type: field required")
        fields = {"type_id": raw["type"], **{k: raw[k] for k in ("step", "safe", "replies") if k in raw}}
        try:
            state = cls(**fields)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ["type" if part == "type_id" else part for part in first["loc"]]
            raise DrillStateError(f"invalid drill state: {field_path(loc)}: {first['msg']}") from err
        script = library.script(state.type_id)
        if (state.step > len(script.steps) or len(state.replies) != state.step
                or any(r not in (SAFE, UNSAFE) for r in state.replies)
                or state.safe != state.replies.count(SAFE)):
            raise DrillStateError("invalid drill state: step, safe and replies do not agree")
        return state

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.type_id, "step": self.step, "safe": self.safe, "replies": list(self.replies)}

    def script(self, library: SimulationLibrary) -> SimulationScript:
        return library.script(self.type_id)

    def total(self, library: SimulationLibrary) -> int:
        return len(self.script(library).steps)

    def finished(self, library: SimulationLibrary) -> bool:
        return self.step >= self.total(library)

    def current(self, library: SimulationLibrary) -> Optional[DrillStep]:
        steps = self.script(library).steps
        return steps[self.step] if self.step < len(steps) else None

    def _require_step(self, library: SimulationLibrary) -> DrillStep:
        step = self.current(library)
        if step is None:
            raise DrillStateError("the drill is over")
        return step

    def _record(self, library: SimulationLibrary, step: DrillStep, verdict: str, feedback: str,
                personal_data: bool = False) -> ReplyResult:
        self.step += 1
        self.replies.append(verdict)
        if verdict == SAFE:
            self.safe += 1
        return ReplyResult(verdict, feedback, library.flag_description(step.red_flag), personal_data)

    def choose(self, library: SimulationLibrary, index: int) -> ReplyResult:
        """The resident pressed reply button `index` (0-based)."""
        step = self._require_step(library)
        if not 0 <= index < len(step.options):
            raise DrillStateError(f"choice must be between 1 and {len(step.options)}")
        option = step.options[index]
        return self._record(library, step, SAFE if option.safe else UNSAFE, option.feedback)

    def reply_text(self, library: SimulationLibrary, text: str) -> ReplyResult:
        """The resident typed a reply: personal data first, then the safe/unsafe rules."""
        step = self._require_step(library)
        if looks_like_personal_data(text):
            return self._record(library, step, UNSAFE, PERSONAL_DATA_WARNING, personal_data=True)
        verdict = classify_reply(text)
        if verdict == UNSURE:
            return ReplyResult(UNSURE, UNSURE_GUIDANCE, None)
        same = [o for o in step.options if o.safe == (verdict == SAFE)]
        feedback = same[0].feedback if same else (SAFE_DEFAULT if verdict == SAFE else UNSAFE_DEFAULT)
        return self._record(library, step, verdict, feedback)

    def result(self, library: SimulationLibrary) -> DrillResult:
        if not self.finished(library):
            raise DrillStateError("the drill is not over yet")
        kb = library.kb
        scam = kb.scam_types[self.type_id]
        total = self.total(library)
        level, message = level_for(self.safe, total)
        ids = list(dict.fromkeys([*END_HOTLINES, *scam.hotlines]))
        hotlines = [{"name": kb.hotlines[i].name, "number": kb.hotlines[i].number, "when": kb.hotlines[i].when}
                    for i in ids if i in kb.hotlines and kb.hotlines[i].number]
        return DrillResult(self.type_id, scam.short_name, self.safe, total, level, message,
                           list(scam.advice.do_now), list(scam.advice.never), scam.verify_tip, hotlines)


def step_view(library: SimulationLibrary, session: DrillSession) -> Optional[Dict[str, Any]]:
    """The current step as the page and the chat show it (no safe/unsafe marks in it)."""
    step = session.current(library)
    if step is None:
        return None
    return {"number": session.step + 1, "total": session.total(library), "says": step.says,
            "scammer": session.script(library).scammer,
            "options": [{"choice": i + 1, "text": o.text} for i, o in enumerate(step.options)]}


@lru_cache(maxsize=1)
def default_simulations() -> SimulationLibrary:
    """The project's drill scripts, loaded and validated once per process."""
    return load_simulations(default_kb())
