"""`action_recent_alerts`: “最近有什么新骗局” answered with the community's active alerts.

The alerts come from the same store the gateway writes (bot.runtime.context.alert_store);
the words are bot.alerts.texts.chat_text's, as in every channel.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.alerts.models import utc_now
from bot.alerts.texts import NO_ALERTS_TEXT, chat_text
from bot.kb.models import NON_SCAM_TYPES
from bot.runtime.context import alert_store, current_kb

log = logging.getLogger(__name__)


class ActionRecentAlerts(Action):
    def name(self) -> str:
        return "action_recent_alerts"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        kb = current_kb()

        def name_of(scam_type: str) -> str:
            scam = kb.scam_types.get(scam_type)
            return scam.short_name if scam is not None and scam_type not in NON_SCAM_TYPES else ""

        try:
            alerts = await (await alert_store()).active(utc_now())
        except Exception as err:  # noqa: BLE001 - a store outage must not cost the resident an answer
            log.warning("alerts unavailable: %s", type(err).__name__)
            alerts = []
        dispatcher.utter_message(text=chat_text(alerts, name_of) if alerts else NO_ALERTS_TEXT)
        return []
