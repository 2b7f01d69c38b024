"""The self-check's state, kept in slots (see domain.yml), read and written in one place."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from bot.kb import KnowledgeBase, Verdict, assess
from bot.kb.results import INDICATOR_KINDS
from bot.kb.stage import most_severe
from bot.kb.verdict import text_stage
from bot.runtime.context import get_blocklist, get_extractor, get_stage_model

SEPARATOR = "\n"
MAX_DESCRIPTION = 5000  # the API's limit; a longer paste is cut, not refused
RANKING_KEY = "scam_ranking"

# slot name -> attribute name
SLOTS = {
    "description": "description",
    "scam_ranking": "ranking",
    "indicator_entities": "entities",
    "answers": "answers",
    "asked_questions": "asked",
    "pending_question": "pending",
    "money_lost": "money_lost",
    "loss_advice_given": "loss_advice_given",
    "check_type": "check_type",
    "verdict_given": "verdict_given",
}


@dataclass
class CheckState:
    description: str = ""
    ranking: Dict[str, float] = field(default_factory=dict)
    entities: List[dict] = field(default_factory=list)
    answers: Dict[str, bool] = field(default_factory=dict)
    asked: List[str] = field(default_factory=list)
    pending: Optional[str] = None
    money_lost: bool = False
    loss_advice_given: bool = False
    check_type: Optional[str] = None
    verdict_given: bool = False
    # The resident's messages of this check, whole (not a slot: read from the tracker's
    # events), so each turn's stage is judged on the turn as written.
    turns: List[str] = field(default_factory=list, repr=False, compare=False)
    _initial: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_tracker(cls, tracker: Tracker) -> "CheckState":
        def get(slot: str, default: Any) -> Any:
            value = tracker.get_slot(slot)
            return default if value is None else value

        state = cls(
            description=str(get("description", "")),
            ranking=dict(get("scam_ranking", {}) or {}),
            entities=list(get("indicator_entities", []) or []),
            answers={str(k): bool(v) for k, v in dict(get("answers", {}) or {}).items()},
            asked=[str(q) for q in get("asked_questions", []) or []],
            pending=tracker.get_slot("pending_question") or None,
            money_lost=bool(get("money_lost", False)),
            loss_advice_given=bool(get("loss_advice_given", False)),
            check_type=tracker.get_slot("check_type"),
            verdict_given=bool(get("verdict_given", False)),
        )
        framed = f"{SEPARATOR}{state.description}{SEPARATOR}"
        state.turns = [t for t in user_texts(tracker) if f"{SEPARATOR}{t}{SEPARATOR}" in framed]
        state._initial = state._values()
        return state

    def _values(self) -> Dict[str, Any]:
        return {slot: copy.deepcopy(getattr(self, attr)) for slot, attr in SLOTS.items()}

    def events(self) -> List[SlotSet]:
        """SlotSet events for every slot that changed since `from_tracker`."""
        return [
            SlotSet(slot, value)
            for slot, value in self._values().items()
            if self._initial.get(slot) != value
        ]

    # -- updates ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the check (a new incident); events() then clears the changed slots."""
        for attr, value in vars(CheckState()).items():
            if attr != "_initial":
                setattr(self, attr, value)

    def add_text(
        self,
        text: str,
        ranking: Optional[Mapping[str, float]] = None,
        entities: Optional[Sequence[Mapping]] = None,
    ) -> None:
        """Appends a piece of the resident's story; merges the scam-type ranking."""
        text = (text or "").strip()
        if not text:
            return
        offset = len(self.description) + len(SEPARATOR) if self.description else 0
        room = MAX_DESCRIPTION - offset
        if room <= 0:
            return
        text = text[:room]
        self.turns.append(text)
        old_weight = len(self.description)
        self.description = f"{self.description}{SEPARATOR}{text}" if self.description else text
        if ranking:
            self.ranking = merge_rankings(self.ranking, old_weight, ranking, len(text))
        for entity in entities or []:
            if entity.get("entity") not in INDICATOR_KINDS:
                continue
            try:
                start, end = int(entity["start"]) + offset, int(entity["end"]) + offset
            except (KeyError, TypeError, ValueError):
                continue
            if end <= len(self.description):
                self.entities.append(
                    {"entity": entity["entity"], "start": start, "end": end,
                     "value": entity.get("value")}
                )

    def answer(self, question_id: str, yes: Optional[bool]) -> None:
        if yes is not None:
            self.answers[question_id] = yes
        if question_id not in self.asked:
            self.asked.append(question_id)
        if self.pending == question_id:
            self.pending = None

    def stage(self, kb: KnowledgeBase) -> str:
        """The check's loss stage: the most severe of the resident's turns (each message of the
        check on its own, so a later "我没有转" cannot undo an earlier "我转了五千"), of
        the "是" answers to questions that name a stage (KB `questions.stage`), and `paid`
        once the resident pressed "我已经转账了"."""
        model = get_stage_model()
        # Lines of the description no known turn covers (a conversation stored before, or a
        # message masked differently) are judged on their own.
        rest = [p for p in self.description.split(SEPARATOR) if p.strip() and not any(p in t for t in self.turns)]
        stages = [text_stage(kb, piece, model) for piece in dict.fromkeys(self.turns + rest)]
        stages += [
            kb.questions[qid][1].stage for qid, yes in self.answers.items() if yes and qid in kb.questions
        ]
        if self.money_lost:
            stages.append("paid")
        return most_severe(stages)

    def assess(self, kb: KnowledgeBase) -> Verdict:
        return assess(
            kb,
            self.description,
            stage=self.stage(kb),
            ranking=self.ranking or None,
            entities=self.entities or None,
            answers=self.answers,
            money_lost=True if self.money_lost else None,
            blocklist=get_blocklist(),
            extractor=get_extractor(),
        )


def merge_rankings(
    old: Mapping[str, float], old_weight: float, new: Mapping[str, float], new_weight: float
) -> Dict[str, float]:
    """Weighted mean of two scam-type rankings (weights: length of the text each came from)."""
    if not old or old_weight <= 0:
        return {k: float(v) for k, v in new.items()}
    total = old_weight + new_weight
    keys = set(old) | set(new)
    return {
        k: (float(old.get(k, 0.0)) * old_weight + float(new.get(k, 0.0)) * new_weight) / total
        for k in keys
    }


def latest_text(tracker: Tracker) -> str:
    """The resident's last message as written (for quoting their own words), without
    button payloads. The parse result's `text` is the NLU pipeline's normalised form;
    the user event keeps the original; bot.kb normalises again for matching."""
    text = ""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            text = event.get("text") or ""
            break
    if not text:
        text = (tracker.latest_message or {}).get("text") or ""
    return "" if text.strip().startswith("/") else text


def user_texts(tracker: Tracker) -> List[str]:
    """Every message the resident typed in this conversation, stripped (payloads left out)."""
    out = []
    events = tracker.events_after_latest_restart() if tracker.events else []
    for event in events:
        if event.get("event") == "user":
            text = (event.get("text") or "").strip()
            if text and not text.startswith("/"):
                out.append(text)
    return out


def latest_ranking(tracker: Tracker) -> Dict[str, float]:
    return dict((tracker.latest_message or {}).get(RANKING_KEY) or {})


def latest_entities(tracker: Tracker) -> List[dict]:
    return list((tracker.latest_message or {}).get("entities") or [])
