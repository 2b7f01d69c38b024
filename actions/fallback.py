"""Fallbacks, restart and the two-stage 'did not understand' path: never silence."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import Restarted, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.render import hotline_line
from actions.selfcheck import not_understood, proceed
from actions.state import CheckState, latest_entities, latest_ranking, latest_text
from bot.kb import find_red_flags
from bot.runtime.context import current_kb

FALLBACK_INTENT = "nlu_fallback"
# A message this long that the NLU is unsure about is most likely a pasted SMS or a story.
LONG_TEXT = 30


def previous_user_intent(tracker: Tracker) -> Optional[str]:
    """Intent of the resident's message before the latest one."""
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if not seen_latest:
            seen_latest = True
            continue
        return ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return None


class ActionFallback(Action):
    """nlu_fallback. A long text or one with red flags is checked like a description;
    otherwise: first time a hint to rephrase (with buttons), second time in a row the
    hotline numbers."""

    def name(self) -> Text:
        return "action_fallback"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        kb = current_kb()
        state = CheckState.from_tracker(tracker)
        text = latest_text(tracker)
        if text and (len(text) >= LONG_TEXT or find_red_flags(kb, text)):
            state.add_text(text, latest_ranking(tracker), latest_entities(tracker))
            proceed(dispatcher, kb, state)
            return state.events()
        if previous_user_intent(tracker) == FALLBACK_INTENT:
            lines = [texts.FALLBACK_SECOND]
            # whom to call when unsure: the `unknown` type's numbers, 110 and 96110 always
            ids = list(kb.scam_types["unknown"].hotlines) + ["antifraud_96110", "police_110"]
            chosen = [kb.hotlines[i] for i in dict.fromkeys(ids) if i in kb.hotlines]
            lines.extend(hotline_line(h.name, h.number, h.when) for h in chosen)
            dispatcher.utter_message(text="\n".join(lines))
        else:
            not_understood(dispatcher, kb, state)
        return []


class ActionDefaultFallback(Action):
    """Overrides Rasa's action_default_fallback (the dialogue policy is unsure)."""

    def name(self) -> Text:
        return "action_default_fallback"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=texts.FALLBACK_FIRST, buttons=texts.MENU_BUTTONS)
        return [UserUtteranceReverted()]


class ActionRestart(Action):
    """Overrides Rasa's action_restart ('重新开始'): forget the self-check, say so."""

    def name(self) -> Text:
        return "action_restart"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=texts.RESTARTED)
        return [Restarted()]
