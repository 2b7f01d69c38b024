"""The self-check: description → diagnostic questions (one at a time) → verdict.

The state lives in slots (actions.state.CheckState). Every turn of the check is one of
these actions, chosen by a rule on the resident's intent; each action reads the state,
asks bot.kb for a verdict and either asks the next question or gives the verdict.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.render import (
    intro_for,
    is_scam_type,
    reminder_line,
    send_question,
    send_urgent,
    send_verdict,
)
from actions.state import CheckState, latest_entities, latest_ranking, latest_text
from bot.kb import KnowledgeBase, Verdict, find_red_flags, loss_steps
from bot.kb.stage import URGENT_STAGES
from bot.kb.verdict import implied_questions, model_applies, text_stage
from bot.runtime.context import current_kb, get_stage_model

# At most this many diagnostic questions per self-check (the KB orders them by value).
MAX_QUESTIONS = 3
# A first description this short with nothing suspicious in it: ask for more, no verdict yet.
SHORT_DESCRIPTION = 12
# While a question is open, a short message the NLU took for a description but also found
# this likely to be an answer ("是的，让她下载了一个软件") counts as that answer.
ANSWER_RANKING_MIN = 0.15
SHORT_ANSWER = 30
# After a verdict, a message the classifier gives this clearly to another scam type is a
# new incident: the check starts over instead of mixing the two stories.
NEW_CHECK_MIN = 0.5
_MEANINGFUL = re.compile(r"[\u4e00-\u9fff0-9a-zA-Z]")
# An affirmative answer at least this long adds its words to the description ("他让我下载了APP").
MIN_ANSWER_TEXT = 5
ANSWER_VALUES = {"affirm": True, "deny": False, "unsure": None}


def intent_of(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def answer_intent_in_ranking(tracker: Tracker) -> Optional[str]:
    """affirm / deny / unsure when the NLU ranks one of them high enough, else None."""
    best, best_confidence = None, ANSWER_RANKING_MIN
    for item in (tracker.latest_message or {}).get("intent_ranking") or []:
        if item.get("name") in ANSWER_VALUES and float(item.get("confidence") or 0) >= best_confidence:
            best, best_confidence = item["name"], float(item["confidence"])
    return best


def is_new_incident(state: CheckState, ranking: Dict[str, float]) -> bool:
    if not (state.verdict_given and is_scam_type(state.check_type) and ranking):
        return False
    top = max(ranking, key=ranking.get)
    return is_scam_type(top) and top != state.check_type and ranking[top] >= NEW_CHECK_MIN


def has_content(text: str) -> bool:
    """False for messages of only punctuation or emoji ("？？？", "。。。")."""
    return len(_MEANINGFUL.findall(text or "")) >= 2


def not_understood(dispatcher: CollectingDispatcher, kb: KnowledgeBase, state: CheckState) -> None:
    """First-stage 'did not understand': repeat the open question, or offer the menu."""
    if state.pending and state.pending in kb.questions:
        dispatcher.utter_message(text=texts.FALLBACK_FIRST_IN_QUESTION)
        send_question(dispatcher, kb.questions[state.pending][1])
    else:
        dispatcher.utter_message(text=texts.FALLBACK_FIRST, buttons=texts.MENU_BUTTONS)


def answers_pending(kb: KnowledgeBase, text: str, pending: str) -> bool:
    """False when the text's red flags answer other questions but not the pending one."""
    implied = implied_questions(kb, (hit.id for hit in find_red_flags(kb, text)))
    return not implied or pending in implied


def record_answer(
    dispatcher: CollectingDispatcher, kb: KnowledgeBase, state: CheckState, intent: str, text: str
) -> None:
    """Record the answer to the pending question and go on with the check."""
    yes = ANSWER_VALUES.get(intent)
    if yes is True and len(text) >= MIN_ANSWER_TEXT:
        # "他让我下载了一个APP": the resident's own words count as evidence; when they
        # answer another question than the one asked, that one stays unanswered.
        if not answers_pending(kb, text, state.pending):
            yes = None
        state.add_text(text)
    state.answer(state.pending, yes)
    proceed(dispatcher, kb, state)


def ask_to_describe(dispatcher: CollectingDispatcher, state: CheckState) -> None:
    dispatcher.utter_message(
        text=texts.ASK_DESCRIBE_AFTER_LOSS if state.money_lost else texts.ASK_DESCRIBE
    )


def urgent_first(
    dispatcher: CollectingDispatcher, kb: KnowledgeBase, state: CheckState, verdict: Verdict
) -> Optional[str]:
    """The chat's one urgent rule, before anything else of the turn is said.

    bot.kb.loss_steps decides whether and which steps (from the check's stage, the most
    severe of its turns). Stage `paid` / `credentials_given`: the whole urgent block the first
    time, and again when the stage rises (codes given, then money gone: the bank and the
    evidence matter more now). On later turns of the same check a short reminder line leads
    instead (returned; the caller sends it first): the whole block on every answer would bury
    the questions and the verdict, and a resident who reads the same eight lines again stops
    reading them, while 110 and the bank stay the first thing said on every turn.
    `on_the_call`: "先挂断，先别操作" first, on every turn it holds (one short line)."""
    steps = loss_steps(kb, verdict)
    reminder = None
    if steps.urgent:
        rises = verdict.money_lost and not state.money_lost
        if not state.loss_advice_given or rises:
            send_urgent(dispatcher, steps)
            state.loss_advice_given = True
        else:
            reminder = reminder_line(steps)
    elif steps:
        send_urgent(dispatcher, steps)
    state.money_lost = state.money_lost or verdict.money_lost
    return reminder


def deliver_verdict(
    dispatcher: CollectingDispatcher,
    kb: KnowledgeBase,
    state: CheckState,
    verdict: Verdict,
    reminder: Optional[str] = None,
) -> None:
    state.money_lost = state.money_lost or verdict.money_lost
    state.pending = None
    state.check_type = verdict.scam_type
    state.verdict_given = True
    send_verdict(dispatcher, kb, verdict, reminder)


def proceed(dispatcher: CollectingDispatcher, kb: KnowledgeBase, state: CheckState) -> None:
    """Next step of the check: the urgent steps first when the stage calls for them, then
    the next question (with a line naming the likely type when it is new), or the verdict."""
    verdict = state.assess(kb)
    reminder = urgent_first(dispatcher, kb, state, verdict)

    if (
        verdict.scam_type in ("none", "unknown")
        and not verdict.red_flags
        and len(state.description) < SHORT_DESCRIPTION
        and not state.asked
        and not state.verdict_given
    ):
        if reminder:
            dispatcher.utter_message(text=reminder)
        dispatcher.utter_message(text=texts.ASK_MORE)
        return

    to_ask = [q for q in verdict.questions if q.id not in state.asked]
    budget = MAX_QUESTIONS - len(state.asked)
    if is_scam_type(verdict.scam_type) and budget > 0 and to_ask:
        question = to_ask[0]
        intro = None
        if state.check_type != verdict.scam_type:
            changed = is_scam_type(state.check_type)
            intro = intro_for(verdict, to_ask[:budget], changed)
        state.pending = question.id
        state.asked.append(question.id)
        state.check_type = verdict.scam_type
        if reminder:
            dispatcher.utter_message(text=reminder)
        send_question(dispatcher, question, intro)
        return
    deliver_verdict(dispatcher, kb, state, verdict, reminder)


class ActionSelfCheck(Action):
    """describe_situation: add the text to the description and go on with the check."""

    def name(self) -> Text:
        return "action_self_check"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        state = CheckState.from_tracker(tracker)
        kb = current_kb()
        text = latest_text(tracker)
        if not text.strip():
            ask_to_describe(dispatcher, state)
            return []
        if not has_content(text):
            not_understood(dispatcher, kb, state)
            return []
        answer = answer_intent_in_ranking(tracker) if state.pending else None
        if answer and len(text) <= SHORT_ANSWER:
            record_answer(dispatcher, kb, state, answer, text)
            return state.events()
        ranking = latest_ranking(tracker)
        if is_new_incident(state, ranking):
            state.reset()
            dispatcher.utter_message(text=texts.NEW_CHECK)
        state.add_text(text, ranking, latest_entities(tracker))
        proceed(dispatcher, kb, state)
        return state.events()


class ActionAnswerQuestion(Action):
    """affirm / deny / unsure: record the answer to the pending question, go on."""

    def name(self) -> Text:
        return "action_answer_question"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        state = CheckState.from_tracker(tracker)
        intent = intent_of(tracker)
        text = latest_text(tracker)
        if not state.pending and len(text) > SHORT_DESCRIPTION and has_content(text):
            # A whole story taken for a yes/no ("对方让我下载了…" reads like "对"): with no
            # question open it can only be a description — and may carry a loss.
            return ActionSelfCheck().run(dispatcher, tracker, domain)
        if not state.pending:
            if state.verdict_given:
                dispatcher.utter_message(
                    text=texts.AFTER_VERDICT, buttons=texts.AFTER_VERDICT_BUTTONS
                )
            elif intent == "deny":
                dispatcher.utter_message(text=texts.NO_QUESTION_PENDING_DENY)
            else:
                dispatcher.utter_message(text=texts.NO_QUESTION_PENDING_AFFIRM)
            return []
        record_answer(dispatcher, current_kb(), state, intent or "", text)
        return state.events()


class ActionGiveVerdict(Action):
    """skip_questions ('直接告诉我结果'): the verdict from what is known so far."""

    def name(self) -> Text:
        return "action_give_verdict"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        state = CheckState.from_tracker(tracker)
        if not state.description:
            dispatcher.utter_message(text=texts.NOTHING_TO_ASSESS)
            return []
        kb = current_kb()
        verdict = state.assess(kb)
        reminder = urgent_first(dispatcher, kb, state, verdict)
        deliver_verdict(dispatcher, kb, state, verdict, reminder)
        return state.events()


class ActionReportLoss(Action):
    """report_loss: money, a code or card details went out — the checklist comes first."""

    def name(self) -> Text:
        return "action_report_loss"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        state = CheckState.from_tracker(tracker)
        text = latest_text(tracker)
        kb = current_kb()
        model = get_stage_model()
        judged = bool(text) and model_applies(kb, model)
        if judged and text_stage(kb, text, model) not in URGENT_STAGES:
            # Typed, not the button: "差点就转了" or "我没有转" is no loss; the stage model
            # knows the tense and the negation better than the intent does.
            state.add_text(text, latest_ranking(tracker), latest_entities(tracker))
            proceed(dispatcher, kb, state)
            return state.events()
        if text:
            state.add_text(text, latest_ranking(tracker), latest_entities(tracker))
        if not judged:
            state.money_lost = True  # the button, or no model to tell paid from codes given
        verdict = state.assess(kb)
        send_urgent(dispatcher, loss_steps(kb, verdict), offer_to_continue=True)
        state.money_lost = state.money_lost or verdict.money_lost
        state.loss_advice_given = True
        return state.events()


class ActionContinueCheck(Action):
    """continue_check ('继续自查'): back to the pending question, or on with the check."""

    def name(self) -> Text:
        return "action_continue_check"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        state = CheckState.from_tracker(tracker)
        kb = current_kb()
        if state.pending and state.pending in kb.questions:
            send_question(dispatcher, kb.questions[state.pending][1])
            return []
        if not state.description:
            ask_to_describe(dispatcher, state)
            return []
        verdict = state.assess(kb)
        if not is_scam_type(verdict.scam_type) and not state.asked and not state.verdict_given:
            # only "I already paid" so far: hear what happened before judging
            ask_to_describe(dispatcher, state)
            return []
        proceed(dispatcher, kb, state)
        return state.events()
