"""`action_kb_status`: the KB version this action server serves, for the gateway.

Not in the domain, so no conversation ever runs it: the gateway calls it through the
action server's webhook (bot/gateway/rasa_client.py `actions_kb`) for /healthz and
POST /api/v1/kb/reload. Like every action here it takes the KB through `current_kb`,
which reloads it first when a KB file changed.
"""
from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.runtime.context import current_snapshot


class ActionKbStatus(Action):
    def name(self) -> str:
        return "action_kb_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        dispatcher.utter_message(json_message={"kb": current_snapshot().as_dict()})
        return []
