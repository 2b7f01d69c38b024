"""Where alerts, WeChat subscriptions and push progress live: the protocol and its opener.

Redis when `REDIS_URL` is set (every gateway replica and the action server see the same
alerts), else SQLite at `ALERTS_DB` (default var/alerts.db; ":memory:" keeps it in the
process). A subscription is the OpenID and the audience, nothing else.
"""
from __future__ import annotations

from datetime import datetime
from typing import List, Optional, Protocol, Tuple

from bot.alerts.models import Alert, PushProgress

DEFAULT_PREFIX = "fzzc:alerts:"


class AlertStore(Protocol):
    async def add(self, alert: Alert) -> None:
        """Store a new alert."""

    async def active(self, now: datetime) -> List[Alert]:
        """Alerts not yet expired at `now`, newest first."""

    async def get(self, alert_id: str) -> Optional[Alert]:
        """The alert (expired or not), or None."""

    async def subscribe(self, openid: str, audience: str) -> None:
        """Add or change a subscription."""

    async def unsubscribe(self, openid: str) -> bool:
        """Remove a subscription; False when there was none."""

    async def subscribers(self) -> List[Tuple[str, str]]:
        """Every (openid, audience)."""

    async def set_progress(self, alert_id: str, progress: PushProgress) -> None:
        """Record the push's state and total (sent/failed counts as given)."""

    async def count_delivery(self, alert_id: str, delivered: bool) -> None:
        """One more message sent (or given up on)."""

    async def progress(self, alert_id: str) -> PushProgress:
        """The push's progress; state 'off' when no push was recorded."""

    async def close(self) -> None:
        """Release connections."""


async def open_alert_store(redis_url: Optional[str], sqlite_path: str, prefix: str = DEFAULT_PREFIX) -> AlertStore:
    if redis_url:
        from bot.alerts.redis_store import RedisAlertStore

        return await RedisAlertStore.open(redis_url, prefix)
    from bot.alerts.sqlite_store import SqliteAlertStore

    return await SqliteAlertStore.open(sqlite_path)
