"""反诈小测验: question banks (data/outreach/quiz/<audience>.yml) and a quiz session.

Every question is a short scene with 3–4 options, exactly one right. It names a KB scam
type and, where it fits, one of that type's red flags, so the explanation shown after
each answer comes from the knowledge base (the red flag's description, the type's
verification tip and first advice), plus an optional note written for the question.

`QuizSession` is a pure state machine: start → answer … → result. Its state is a small
JSON-able dict (`to_dict` / `from_dict`), kept in a Rasa slot by the chat and sent back
and forth by the quiz page, so both run this one implementation.
"""
from __future__ import annotations

import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from bot.kb import default_kb
from bot.kb.loader import KnowledgeBase
from bot.kb.models import NON_SCAM_TYPES
from bot.kb.pydantic_v1 import Field, ValidationError, validator
from bot.kb.pydantic_v1 import dataclass as pydantic_dataclass
from bot.kb.text import normalize
from bot.kb.yaml_io import StrictModel, load_yaml_model

DEFAULT_QUIZ_DIR = Path(__file__).resolve().parents[2] / "data" / "outreach" / "quiz"
# slug → label; the slugs match the tip sheets (bot/outreach/packs.py)
AUDIENCES: Dict[str, str] = {"elderly": "老年人", "parents": "家长", "students": "学生", "all": "所有人"}
LETTERS = "abcd"
DEFAULT_COUNT = 10
MAX_COUNT = 30
# Share of an audience's quiz drawn from its own bank; the rest comes from the `all` bank.
OWN_SHARE = 0.7
MAX_OPTION_CHARS = 30
# (minimum share of right answers, level, one line of encouragement)
LEVELS = (
    (0.9, "反诈达人", "您的防骗意识很强！把这些知识讲给家人听吧。"),
    (0.6, "还需留心", "大部分都答对了，错的那几道再看看。"),
    (0.0, "要多学习", "骗子的套路不少，多学一学，遇事先停一停、问一问。"),
)
GENERAL_TIP = "陌生人让转账、要验证码、发链接，先停下来，打 96110 问一问。"


class QuizDataError(ValueError):
    """A question bank is invalid; the message names the file and the field."""


class QuizStateError(ValueError):
    """A quiz state or an answer that does not fit the quiz (bad input, not a bug)."""


class QuizQuestion(StrictModel):
    id: str = Field(regex=r"^[a-z][a-z0-9_]*$")
    type: str
    red_flag: Optional[str] = None
    scene: str = Field(min_length=8)
    ask: str = Field(min_length=4)
    options: List[str] = Field(min_items=3, max_items=4)
    answer: str = Field(regex=r"^[a-d]$")
    note: Optional[str] = None

    @validator("options", each_item=True)
    def _short_option(cls, option: str) -> str:
        option = option.strip()
        if not option:
            raise ValueError("empty option")
        if len(option) > MAX_OPTION_CHARS:
            raise ValueError(f"option longer than {MAX_OPTION_CHARS} characters: {option!r}")
        return option

    @validator("options")
    def _distinct(cls, options: List[str]) -> List[str]:
        if len(set(options)) != len(options):
            raise ValueError("options repeat")
        return options

    @validator("answer")
    def _answer_is_an_option(cls, answer: str, values: Dict[str, Any]) -> str:
        options = values.get("options") or []
        if options and LETTERS.index(answer) >= len(options):
            raise ValueError(f"answer {answer!r} but only {len(options)} options")
        return answer

    @property
    def answer_index(self) -> int:
        return LETTERS.index(self.answer)


class QuizBankFile(StrictModel):
    audience: str
    title: str
    questions: List[QuizQuestion] = Field(min_items=1)

    @validator("audience")
    def _known_audience(cls, audience: str) -> str:
        if audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r} (one of {sorted(AUDIENCES)})")
        return audience


@dataclass(frozen=True)
class Explanation:
    """Why the right answer is right, from the KB (plus the question's own note)."""

    type_id: str
    type_name: str
    red_flag: Optional[str]
    tip: str
    advice: Optional[str]
    note: Optional[str]

    def lines(self) -> List[str]:
        lines = []
        if self.note:
            lines.append(self.note)
        if self.red_flag:
            lines.append(f"要注意：{self.red_flag}")
        if self.advice:
            lines.append(f"记住：{self.advice}")
        if self.tip:
            lines.append(f"怎么核实：{self.tip}")
        return lines

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.type_id, "type_name": self.type_name, "red_flag": self.red_flag,
                "tip": self.tip, "advice": self.advice, "note": self.note, "lines": self.lines()}


@dataclass
class QuizBank:
    kb: KnowledgeBase
    titles: Dict[str, str]
    by_audience: Dict[str, List[QuizQuestion]]
    by_id: Dict[str, QuizQuestion] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.by_id)

    def question(self, question_id: str) -> QuizQuestion:
        return self.by_id[question_id]

    def explain(self, question: QuizQuestion) -> Explanation:
        scam = self.kb.scam_types[question.type]
        flag = self.kb.red_flags[question.red_flag][1].description if question.red_flag else None
        about = " ".join([question.scene, question.options[question.answer_index], flag or ""])
        advice = _closest(about, [*scam.advice.never, *scam.advice.do_now])
        return Explanation(question.type, scam.short_name, flag, scam.verify_tip, advice, question.note)

    def audiences(self) -> List[Dict[str, Any]]:
        return [{"id": a, "label": AUDIENCES[a], "title": self.titles.get(a, AUDIENCES[a]),
                 "questions": len(self.by_audience.get(a, []))} for a in AUDIENCES if self.by_audience.get(a)]


def _bigrams(text: str) -> set:
    chars = re.sub(r"[^\u4e00-\u9fff0-9a-z]", "", normalize(text).lower())
    return {chars[i:i + 2] for i in range(len(chars) - 1)}


def _closest(about: str, lines: Sequence[str]) -> Optional[str]:
    """The KB advice line sharing the most words (character bigrams) with the question."""
    words = _bigrams(about)
    scored = [(len(words & _bigrams(line)), -i, line) for i, line in enumerate(lines)]
    best = max(scored, default=(0, 0, None))
    return best[2] if best[0] >= 2 else None


def _check_against_kb(path: Path, bank: QuizBankFile, kb: KnowledgeBase) -> None:
    for i, q in enumerate(bank.questions):
        if q.type not in kb.scam_types or q.type in NON_SCAM_TYPES:
            raise QuizDataError(f"{path}: questions.{i}.type: unknown scam type {q.type!r}")
        if q.red_flag is not None and q.red_flag not in {f.id for f in kb.flags_of(q.type)}:
            raise QuizDataError(
                f"{path}: questions.{i}.red_flag: {q.red_flag!r} is not a red flag of {q.type!r}"
            )


def load_quiz_bank(kb: KnowledgeBase, directory: Path = DEFAULT_QUIZ_DIR) -> QuizBank:
    """Every data/outreach/quiz/*.yml, validated (schema, KB references, unique ids)."""
    files = sorted(Path(directory).glob("*.yml"))
    if not files:
        raise QuizDataError(f"{directory}: no question banks (*.yml)")
    bank = QuizBank(kb, {}, {})
    where: Dict[str, str] = {}
    for path in files:
        data = load_yaml_model(path, QuizBankFile, QuizDataError)
        if path.stem != data.audience:
            raise QuizDataError(f"{path}: audience: {data.audience!r} must match the file name {path.stem!r}")
        _check_against_kb(path, data, kb)
        for i, q in enumerate(data.questions):
            if q.id in where:
                raise QuizDataError(f"{path}: questions.{i}.id: {q.id!r} is already used in {where[q.id]}")
            where[q.id] = str(path)
            bank.by_id[q.id] = q
        bank.titles[data.audience] = data.title
        bank.by_audience[data.audience] = list(data.questions)
    return bank


# Words that name an audience in a request ("给老人做个防骗测试"); the first match wins.
_AUDIENCE_WORDS = (
    ("elderly", re.compile(r"老人|老年|长辈|爷爷|奶奶|大爷|阿姨|爸妈|父母")),
    ("parents", re.compile(r"家长")),
    ("students", re.compile(r"学生|孩子|小孩|同学|中学|小学|大学|青少年")),
    ("all", re.compile(r"所有人|大家|全家|每个人")),
)


def audience_named_in(text: str) -> Optional[str]:
    """The audience a request names, or None."""
    norm = normalize(text or "")
    return next((audience for audience, words in _AUDIENCE_WORDS if words.search(norm)), None)


# -- answering ---------------------------------------------------------------------------------

_ORDINALS = {"一": 0, "二": 1, "三": 2, "四": 3, "1": 0, "2": 1, "3": 2, "4": 3}
_LETTER_ONLY = re.compile(r"^\s*(?:我?选|答案是?|是|选项)?\s*([a-d])\s*(?:吧|啊|呀|项|选项)?\s*[.。!！]?\s*$")
_LETTER_CUE = re.compile(r"(?:选|答案是?|选项)\s*([a-d])(?![a-z])")
_ORDINAL = re.compile(r"第\s*([一二三四1-4])\s*(?:个|项|条|种)?")
_DIGIT_ONLY = re.compile(r"^\s*(?:我?选)?\s*([1-4])\s*(?:个|项)?\s*$")


def parse_choice(text: str, options: Sequence[str]) -> Optional[int]:
    """Which option a typed answer means ("B", "我选b", "第二个", "2", or the option's
    words), or None when it names none of them."""
    norm = normalize(text or "").strip().lower()
    if not norm:
        return None
    index: Optional[int] = None
    for pattern in (_LETTER_ONLY, _LETTER_CUE):
        match = pattern.search(norm)
        if match:
            index = LETTERS.index(match.group(1))
            break
    if index is None:
        match = _ORDINAL.search(norm) or _DIGIT_ONLY.search(norm)
        if match:
            index = _ORDINALS[match.group(1)]
    if index is None:
        hits = [i for i, option in enumerate(options) if _same_words(norm, option)]
        index = hits[0] if len(hits) == 1 else None
    return index if index is not None and index < len(options) else None


def _same_words(norm: str, option: str) -> bool:
    option = re.sub(r"[，。、！？,.!?\s“”\"]", "", normalize(option).lower())
    text = re.sub(r"[，。、！？,.!?\s“”\"]", "", norm)
    return len(text) >= 4 and (text in option or option in text)


@dataclass(frozen=True)
class AnswerResult:
    correct: bool
    chosen: int
    correct_index: int
    correct_option: str
    explanation: Explanation

    def to_dict(self) -> Dict[str, Any]:
        return {"correct": self.correct, "chosen": LETTERS[self.chosen],
                "correct_choice": LETTERS[self.correct_index], "correct_option": self.correct_option,
                "explanation": self.explanation.to_dict()}


@dataclass(frozen=True)
class QuizResult:
    """The result card: nothing about the person, only the quiz."""

    audience: str
    score: int
    total: int
    level: str
    message: str
    date: str
    tip: str
    tip_type: Optional[str]

    @property
    def audience_label(self) -> str:
        return AUDIENCES[self.audience]

    def to_dict(self) -> Dict[str, Any]:
        return {"audience": self.audience, "audience_label": self.audience_label, "score": self.score,
                "total": self.total, "level": self.level, "message": self.message, "date": self.date,
                "tip": self.tip, "tip_type": self.tip_type}


def level_for(score: int, total: int) -> tuple:
    """(level, message) for a score."""
    share = score / total if total else 0.0
    for minimum, level, message in LEVELS:
        if share >= minimum:
            return level, message
    return LEVELS[-1][1], LEVELS[-1][2]


def result_card(kb: KnowledgeBase, audience: str, score: int, total: int, when: date,
                tip_type: Optional[str] = None) -> QuizResult:
    """The card for a score; `tip_type` (a missed question's scam type) picks the tip.
    Also used to re-draw a shared card from its URL, so every argument is checked."""
    if audience not in AUDIENCES:
        raise QuizStateError(f"unknown audience {audience!r}")
    if not (1 <= total <= MAX_COUNT and 0 <= score <= total):
        raise QuizStateError("score must be between 0 and the number of questions")
    if tip_type is not None and (tip_type not in kb.scam_types or tip_type in NON_SCAM_TYPES):
        raise QuizStateError(f"unknown scam type {tip_type!r}")
    level, message = level_for(score, total)
    tip = kb.scam_types[tip_type].verify_tip if tip_type else ""
    return QuizResult(audience, score, total, level, message, when.isoformat(), tip or GENERAL_TIP,
                      tip_type if tip else None)


# -- the session -------------------------------------------------------------------------------

@pydantic_dataclass
class QuizSession:
    """One quiz; validated when made, also from its JSON form (a slot or a page sends it back)."""

    audience: str
    questions: List[str] = Field(..., min_items=1, max_items=MAX_COUNT)
    index: int = Field(0, ge=0)
    score: int = Field(0, ge=0)
    missed: List[str] = Field(default_factory=list)  # scam types of wrong answers, in order

    @classmethod
    def start(cls, bank: QuizBank, audience: str, count: int = DEFAULT_COUNT,
              seed: Optional[int] = None) -> "QuizSession":
        """`count` questions for the audience, no repeats, in a seeded random order."""
        if audience not in bank.by_audience:
            raise QuizStateError(f"unknown audience {audience!r} (one of {sorted(bank.by_audience)})")
        if not 1 <= count <= MAX_COUNT:
            raise QuizStateError(f"count must be between 1 and {MAX_COUNT}")
        rng = random.Random(seed)
        own = list(bank.by_audience[audience])
        if audience == "all":
            shared = [q for a, qs in bank.by_audience.items() if a != "all" for q in qs]
        else:
            shared = list(bank.by_audience.get("all", []))
        n_own = min(len(own), math.ceil(count * OWN_SHARE) if shared else count)
        picked = rng.sample(own, n_own)
        picked += rng.sample(shared, min(len(shared), count - n_own))
        if len(picked) < count:  # a small shared bank: top up from the audience's own
            rest = [q for q in own if q not in picked]
            picked += rng.sample(rest, min(len(rest), count - len(picked)))
        rng.shuffle(picked)
        return cls(audience, [q.id for q in picked])

    @classmethod
    def from_dict(cls, bank: QuizBank, raw: Any) -> "QuizSession":
        if not isinstance(raw, Mapping):
            raise QuizStateError("quiz state must be an object")
        missing = [name for name in ("audience", "questions") if name not in raw]
        if missing:
            raise QuizStateError(f"invalid quiz state: {missing[0]}: field required")
        try:
            state = cls(**{name: raw[name] for name in _SESSION_FIELDS if name in raw})
        except ValidationError as err:
            raise QuizStateError(f"invalid quiz state: {err.errors()[0]['loc'][0]}: {err.errors()[0]['msg']}") from err
        if state.audience not in AUDIENCES:
            raise QuizStateError(f"unknown audience {state.audience!r}")
        unknown = [q for q in state.questions if q not in bank.by_id]
        if unknown or len(set(state.questions)) != len(state.questions):
            raise QuizStateError("invalid quiz state: unknown or repeated question ids")
        if state.index > len(state.questions) or state.score > state.index:
            raise QuizStateError("invalid quiz state: index or score out of range")
        if any(t not in bank.kb.scam_types for t in state.missed) or len(state.missed) > state.index:
            raise QuizStateError("invalid quiz state: missed")
        return state

    def to_dict(self) -> Dict[str, Any]:
        return {"audience": self.audience, "questions": list(self.questions), "index": self.index,
                "score": self.score, "missed": list(self.missed)}

    @property
    def total(self) -> int:
        return len(self.questions)

    @property
    def finished(self) -> bool:
        return self.index >= self.total

    def current(self, bank: QuizBank) -> Optional[QuizQuestion]:
        return None if self.finished else bank.question(self.questions[self.index])

    def answer(self, bank: QuizBank, choice: int) -> AnswerResult:
        """Answer the current question with option `choice` (0-based); moves on."""
        question = self.current(bank)
        if question is None:
            raise QuizStateError("the quiz is over")
        if not 0 <= choice < len(question.options):
            raise QuizStateError(f"choice must be one of {LETTERS[:len(question.options)]}")
        correct = choice == question.answer_index
        self.index += 1
        if correct:
            self.score += 1
        else:
            self.missed.append(question.type)
        return AnswerResult(correct, choice, question.answer_index,
                            question.options[question.answer_index], bank.explain(question))

    def result(self, bank: QuizBank, today: Optional[date] = None) -> QuizResult:
        if not self.finished:
            raise QuizStateError("the quiz is not over yet")
        # the tip to remember: the scam type missed most often (the first of a tie)
        tip_type = Counter(self.missed).most_common(1)[0][0] if self.missed else None
        return result_card(bank.kb, self.audience, self.score, self.total, today or date.today(), tip_type)


_SESSION_FIELDS = ("audience", "questions", "index", "score", "missed")


def question_view(question: QuizQuestion, number: int, total: int) -> Dict[str, Any]:
    """A question as the page and the chat show it (no answer in it)."""
    return {"id": question.id, "number": number, "total": total, "scene": question.scene,
            "ask": question.ask,
            "options": [{"choice": LETTERS[i], "text": o} for i, o in enumerate(question.options)]}


@lru_cache(maxsize=1)
def default_quiz_bank() -> QuizBank:
    """The project's question banks, loaded and validated once per process."""
    return load_quiz_bank(default_kb())
