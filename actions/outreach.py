"""Quiz and scam drills in the chat: thin actions over bot.outreach.

State lives in two slots: `outreach_mode` (quiz / drill; rules use it as a condition so
that free-text replies during a drill reach the drill) and `outreach_state`
({"kind", "session", "updated"}: the session's own JSON state). Buttons carry
`/choose_option{"choice": "<number>:<option>"}`; the number guards against a button of
an earlier question being pressed again.
"""
from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict, List, Optional, Text, Tuple, Type, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.render import bullet, hotline_line
from actions.state import latest_entities, latest_text
from bot.kb import find_type
from bot.outreach.quiz import (
    AUDIENCES,
    DEFAULT_COUNT,
    LETTERS,
    QuizBank,
    QuizSession,
    QuizStateError,
    audience_named_in,
    default_quiz_bank,
    parse_choice,
)
from bot.outreach.simulation import (
    SAFE,
    UNSURE,
    DrillSession,
    DrillStateError,
    SimulationLibrary,
    default_simulations,
)

MODE_SLOT = "outreach_mode"
STATE_SLOT = "outreach_state"
QUIZ, DRILL = "quiz", "drill"
WHAT = {QUIZ: "测验", DRILL: "演练"}
# A quiz or drill left alone this long no longer captures free text: a resident coming
# back with a real problem gets the self-check, not the drill.
STALE_AFTER_SECONDS = 30 * 60
# The action the normal rules (data/rules/conversation.yml) give each intent, for a
# message that arrives after a stale drill (tests/test_actions_outreach.py checks them).
NORMAL_ACTIONS = {
    "describe_situation": "action_self_check",
    "affirm": "action_answer_question",
    "deny": "action_answer_question",
    "unsure": "action_answer_question",
    "skip_questions": "action_give_verdict",
    "continue_check": "action_continue_check",
    "report_loss": "action_report_loss",
    "ask_which_number": "action_which_number",
    "ask_hotline_info": "action_hotline_info",
    "ask_verify_identity": "action_verify_identity",
    "ask_link_or_number_safe": "action_check_link_or_number",
    "nlu_fallback": "action_fallback",
    "out_of_scope": "utter_out_of_scope",
    "goodbye": "utter_goodbye",
    "thank": "utter_thanks",
    "greet": "utter_greet",
    "bot_challenge": "utter_iamabot",
}
_CHOICE = re.compile(r"^(\d+):([a-d1-4])$")
Session = TypeVar("Session", QuizSession, DrillSession)


def _intent(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def _entity(tracker: Tracker, name: str) -> Optional[str]:
    for entity in latest_entities(tracker):
        if entity.get("entity") == name and entity.get("value") is not None:
            return str(entity["value"])
    return None


def button_choice(tracker: Tracker) -> Optional[Tuple[int, str]]:
    """(question or step number, option) from a `choice` entity like "3:b", or None."""
    match = _CHOICE.match((_entity(tracker, "choice") or "").strip().lower())
    return (int(match.group(1)), match.group(2)) if match else None


def _option_index(option: str) -> int:
    return LETTERS.index(option) if option in LETTERS else int(option) - 1


def pressed_option(tracker: Tracker, current: int) -> Tuple[bool, Optional[int]]:
    """(a button of an earlier question or step?, the option index of the button pressed)."""
    button = button_choice(tracker)
    if button is None:
        return False, None
    number, option = button
    return number != current, _option_index(option)


def saved_state(tracker: Tracker, kind: str) -> Optional[Dict[str, Any]]:
    state = tracker.get_slot(STATE_SLOT)
    if tracker.get_slot(MODE_SLOT) != kind or not isinstance(state, dict) or state.get("kind") != kind:
        return None
    return state


def is_stale(state: Dict[str, Any], now: float) -> bool:
    try:
        return now - float(state.get("updated", 0)) > STALE_AFTER_SECONDS
    except (TypeError, ValueError):
        return True


def keep(kind: str, session: Any) -> List[Dict[str, Any]]:
    return [SlotSet(MODE_SLOT, kind),
            SlotSet(STATE_SLOT, {"kind": kind, "session": session.to_dict(), "updated": time.time()})]


def finish() -> List[Dict[str, Any]]:
    return [SlotSet(MODE_SLOT, None), SlotSet(STATE_SLOT, None)]


def leave_stale(dispatcher: CollectingDispatcher, tracker: Tracker, kind: str) -> List[Dict[str, Any]]:
    """End a stale quiz/drill; the message gets the action it would get outside one."""
    dispatcher.utter_message(text=texts.OUTREACH_EXPIRED.format(what=WHAT[kind]))
    events = finish()
    follow = NORMAL_ACTIONS.get(_intent(tracker) or "")
    if follow:
        events.append(FollowupAction(follow))
    return events


def resume(dispatcher: CollectingDispatcher, tracker: Tracker, kind: str,
           restore: Callable[[Any], Session], invalid: Type[Exception], finished: Callable[[Session], bool],
           none_active: Dict[str, Any]) -> Tuple[Optional[Session], List[Dict[str, Any]]]:
    """The quiz or drill session in the slots, to go on with: (session, []); or, when there is
    none, it is stale, broken or over, (None, the events to return) after saying so
    (`none_active`: the utter_message arguments)."""
    state = saved_state(tracker, kind)
    if state is None:
        dispatcher.utter_message(**none_active)
        return None, finish() if tracker.get_slot(MODE_SLOT) == kind else []
    if button_choice(tracker) is None and is_stale(state, time.time()):
        return None, leave_stale(dispatcher, tracker, kind)
    try:
        session = restore(state.get("session"))
    except invalid:
        session = None
    if session is None or finished(session):
        dispatcher.utter_message(**none_active)
        return None, finish()
    return session, []


# -- quiz ----------------------------------------------------------------------------------

def send_question(dispatcher: CollectingDispatcher, bank: QuizBank, session: QuizSession) -> None:
    question = session.current(bank)
    number = session.index + 1
    buttons = [
        {"title": f"{LETTERS[i].upper()}. {option}",
         "payload": '/choose_option{"choice": "%d:%s"}' % (number, LETTERS[i])}
        for i, option in enumerate(question.options)
    ]
    dispatcher.utter_message(
        text=texts.QUIZ_QUESTION.format(number=number, total=session.total, scene=question.scene, ask=question.ask),
        buttons=buttons,
    )


class ActionStartQuiz(Action):
    """start_quiz ('考考我'): ask who is playing, then the first question."""

    def name(self) -> Text:
        return "action_start_quiz"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        bank = default_quiz_bank()
        audience = _entity(tracker, "audience") or audience_named_in(latest_text(tracker))
        if audience not in AUDIENCES or audience not in bank.by_audience:
            dispatcher.utter_message(text=texts.QUIZ_ASK_AUDIENCE.format(count=DEFAULT_COUNT),
                                     buttons=texts.QUIZ_AUDIENCE_BUTTONS)
            return []
        session = QuizSession.start(bank, audience)
        dispatcher.utter_message(text=texts.QUIZ_STARTED.format(title=bank.titles[audience], total=session.total))
        send_question(dispatcher, bank, session)
        return keep(QUIZ, session)


class ActionQuizAnswer(Action):
    """choose_option during a quiz (a button, or a typed "B" / "第二个"): right or wrong,
    the KB's explanation, then the next question or the result card."""

    def name(self) -> Text:
        return "action_quiz_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        bank = default_quiz_bank()
        session, events = resume(dispatcher, tracker, QUIZ, lambda raw: QuizSession.from_dict(bank, raw),
                                 QuizStateError, lambda quiz: quiz.finished,
                                 {"text": texts.QUIZ_NONE_ACTIVE, "buttons": texts.QUIZ_END_BUTTONS})
        if session is None:
            return events
        question = session.current(bank)
        old, choice = pressed_option(tracker, session.index + 1)
        if old:
            dispatcher.utter_message(text=texts.QUIZ_OLD_QUESTION)
            send_question(dispatcher, bank, session)
            return []
        if choice is None:
            choice = parse_choice(latest_text(tracker), question.options)
        if choice is None or choice >= len(question.options):
            dispatcher.utter_message(text=texts.QUIZ_NOT_A_CHOICE)
            send_question(dispatcher, bank, session)
            return []
        result = session.answer(bank, choice)
        head = texts.QUIZ_RIGHT if result.correct else texts.QUIZ_WRONG.format(
            letter=LETTERS[result.correct_index].upper(), option=result.correct_option)
        dispatcher.utter_message(text="\n".join([head, *result.explanation.lines()]))
        if not session.finished:
            send_question(dispatcher, bank, session)
            return keep(QUIZ, session)
        card = session.result(bank)
        dispatcher.utter_message(
            text=texts.QUIZ_RESULT.format(score=card.score, total=card.total, level=card.level,
                                          message=card.message, tip=card.tip),
            buttons=texts.QUIZ_END_BUTTONS,
        )
        return finish()


# -- drills --------------------------------------------------------------------------------

def send_step(dispatcher: CollectingDispatcher, library: SimulationLibrary, session: DrillSession) -> None:
    step = session.current(library)
    number = session.step + 1
    buttons = [
        {"title": option.text, "payload": '/choose_option{"choice": "%d:%d"}' % (number, i + 1)}
        for i, option in enumerate(step.options)
    ]
    dispatcher.utter_message(
        text=texts.DRILL_STEP.format(number=number, total=session.total(library),
                                     scammer=session.script(library).scammer, says=step.says),
        buttons=buttons,
    )


def drill_menu(library: SimulationLibrary) -> List[dict]:
    return [{"title": item["name"], "payload": '/start_drill{"scam_type": "%s"}' % item["type"]}
            for item in library.menu()]


def send_drill_result(dispatcher: CollectingDispatcher, library: SimulationLibrary, session: DrillSession) -> None:
    result = session.result(library)
    lines = [texts.DRILL_RESULT.format(score=result.score, total=result.total, level=result.level,
                                       message=result.message),
             texts.DRILL_ADVICE.format(name=result.type_name)]
    lines.extend(f"{i}. {line}" for i, line in enumerate(result.do_now, start=1))
    if result.never:
        lines.append(texts.DRILL_NEVER)
        lines.extend(bullet(result.never, 3))
    lines.extend(hotline_line(h["name"], h["number"], h["when"]) for h in result.hotlines)
    dispatcher.utter_message(text="\n".join(lines), buttons=texts.DRILL_END_BUTTONS)


class ActionStartDrill(Action):
    """start_drill ('模拟一下刷单诈骗'): the named type's drill, or a menu of drills."""

    def name(self) -> Text:
        return "action_start_drill"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        library = default_simulations()
        type_id = find_type(library.kb, latest_text(tracker), latest_entities(tracker))
        if type_id not in library.scripts:
            text = texts.DRILL_MENU
            if type_id is not None:  # a type without a drill yet: say so, offer the others
                text = texts.DRILL_NO_SCRIPT.format(name=library.kb.scam_types[type_id].short_name) + "\n" + text
            dispatcher.utter_message(text=text, buttons=drill_menu(library))
            return []
        session = DrillSession.start(library, type_id)
        script = session.script(library)
        dispatcher.utter_message(text=texts.DRILL_STARTED.format(title=script.title, intro=script.intro.strip()))
        send_step(dispatcher, library, session)
        return keep(DRILL, session)


class ActionDrillReply(Action):
    """Any reply during a drill (button or own words): safe or not, the red flag to
    notice, then the scammer's next line or the score and the type's advice."""

    def name(self) -> Text:
        return "action_drill_reply"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        library = default_simulations()
        session, events = resume(dispatcher, tracker, DRILL, lambda raw: DrillSession.from_dict(library, raw),
                                 DrillStateError, lambda drill: drill.finished(library),
                                 {"text": texts.DRILL_MENU, "buttons": drill_menu(library)})
        if session is None:
            return events
        step = session.current(library)
        text = latest_text(tracker)
        old, index = pressed_option(tracker, session.step + 1)
        if old:
            dispatcher.utter_message(text=texts.DRILL_OLD_STEP)
            send_step(dispatcher, library, session)
            return []
        if index is None and _intent(tracker) == "choose_option":
            index = parse_choice(text, [o.text for o in step.options])
        if index is not None and index < len(step.options):
            reply = session.choose(library, index)
        else:
            reply = session.reply_text(library, text)
        lines = []
        if reply.verdict == UNSURE:
            lines.append(texts.DRILL_UNSURE.format(guidance=reply.feedback))
        else:
            template = texts.DRILL_SAFE if reply.verdict == SAFE else texts.DRILL_UNSAFE
            lines += [template.format(feedback=reply.feedback), texts.DRILL_FLAG.format(flag=reply.red_flag)]
        if _intent(tracker) == "report_loss":
            lines.append(texts.DRILL_REAL_LOSS)
        dispatcher.utter_message(text="\n".join(lines))
        if not session.finished(library):
            send_step(dispatcher, library, session)
            return keep(DRILL, session)
        send_drill_result(dispatcher, library, session)
        return finish()


class ActionStopOutreach(Action):
    """stop_outreach ('不玩了', '退出'): leave the quiz or drill, back to the self-check."""

    def name(self) -> Text:
        return "action_stop_outreach"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        mode = tracker.get_slot(MODE_SLOT)
        if mode in WHAT:
            dispatcher.utter_message(text=texts.OUTREACH_STOPPED.format(what=WHAT[mode]), buttons=texts.MENU_BUTTONS)
            return finish()
        dispatcher.utter_message(text=texts.OUTREACH_NOTHING_TO_STOP, buttons=texts.MENU_BUTTONS)
        return []
