"""The chat's answer about community alerts (action_recent_alerts), read from the alert store."""
from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import bot.runtime.context as context
from actions.alerts import ActionRecentAlerts
from bot.alerts.sqlite_store import SqliteAlertStore
from bot.alerts.texts import NO_ALERTS_TEXT
from tests.test_alerts_gateway import ALERT


async def test_the_chat_answers_with_the_active_alerts(tmp_path, monkeypatch):
    from bot.alerts import new_alert

    store = await SqliteAlertStore.open(tmp_path / "chat-alerts.db")
    monkeypatch.setattr(context, "_alert_store", store)
    tracker = Tracker("tester", {}, {"text": "最近有什么新骗局", "intent": {"name": "ask_recent_alerts"}},
                      [], False, None, {}, "action_listen")
    try:
        dispatcher = CollectingDispatcher()
        await ActionRecentAlerts().run(dispatcher, tracker, {})
        assert [m["text"] for m in dispatcher.messages] == [NO_ALERTS_TEXT]
        await store.add(new_alert(ALERT, ["police_impersonation"]))
        dispatcher = CollectingDispatcher()
        await ActionRecentAlerts().run(dispatcher, tracker, {})
        text = dispatcher.messages[0]["text"]
        assert "【冒充公检法" in text and ALERT["title"] in text and "96110" in text
    finally:
        await store.close()
