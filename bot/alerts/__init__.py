"""Community alerts (issue 16): written by outreach accounts, shown in the widget, the chat
and the tip sheets, and pushed to WeChat subscribers.

- models.py: `Alert`, `new_alert` (validation), `reaches` (who an alert concerns)
- texts.py: the chat answer, the pushed message, the subscription commands and replies
- store.py: `AlertStore` (Redis or SQLite) and `open_alert_store`
- push.py: `AlertPusher`, WeChat's customer-service message API through wechatpy
"""
from bot.alerts.models import AUDIENCES, EVERYONE, Alert, AlertValidationError, PushProgress, new_alert, reaches
from bot.alerts.store import AlertStore, open_alert_store

__all__ = [
    "AUDIENCES", "EVERYONE", "Alert", "AlertStore", "AlertValidationError", "PushProgress",
    "new_alert", "open_alert_store", "reaches",
]
