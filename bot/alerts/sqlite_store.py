"""Alerts in SQLite (the default profile): stdlib sqlite3 on one worker thread, as bot/cases does."""
from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple, TypeVar

from bot.alerts.models import Alert, PushProgress

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_expiry ON alerts (expires_us);
CREATE TABLE IF NOT EXISTS alert_subscribers (openid TEXT PRIMARY KEY, audience TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_pushes (
    alert_id TEXT PRIMARY KEY, state TEXT NOT NULL, total INTEGER NOT NULL,
    sent INTEGER NOT NULL, failed INTEGER NOT NULL
);
"""


def _us(moment: datetime) -> int:
    """Microseconds since the epoch: integers compare as the moments do."""
    return round(moment.timestamp() * 1_000_000)


class SqliteAlertStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts-sqlite")
        self._db: Optional[sqlite3.Connection] = None

    @classmethod
    async def open(cls, path: str | Path) -> "SqliteAlertStore":
        store = cls(str(path))
        await store._run(store._connect)
        return store

    def _connect(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        if self.path != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")  # the action server reads while the gateway writes
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        self._db = db

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    def _sql(self, sql: str, params: Tuple[Any, ...] = ()) -> List[tuple]:
        if self._db is None:
            raise RuntimeError("the alert store is closed")
        return self._db.execute(sql, params).fetchall()

    async def add(self, alert: Alert) -> None:
        await self._run(self._sql, "INSERT INTO alerts (id, created_us, expires_us, record) VALUES (?, ?, ?, ?)",
                        (alert.id, _us(alert.created_at), _us(alert.expires_at), alert.to_json()))

    async def active(self, now: datetime) -> List[Alert]:
        rows = await self._run(self._sql, "SELECT record FROM alerts WHERE expires_us > ? AND created_us <= ?"
                               " ORDER BY created_us DESC, id", (_us(now), _us(now)))
        return [Alert.from_json(r[0]) for r in rows]

    async def get(self, alert_id: str) -> Optional[Alert]:
        rows = await self._run(self._sql, "SELECT record FROM alerts WHERE id = ?", (alert_id,))
        return Alert.from_json(rows[0][0]) if rows else None

    async def subscribe(self, openid: str, audience: str) -> None:
        await self._run(self._sql, "INSERT INTO alert_subscribers (openid, audience) VALUES (?, ?)"
                        " ON CONFLICT(openid) DO UPDATE SET audience = excluded.audience", (openid, audience))

    async def unsubscribe(self, openid: str) -> bool:
        def delete() -> bool:
            if self._db is None:
                raise RuntimeError("the alert store is closed")
            return self._db.execute("DELETE FROM alert_subscribers WHERE openid = ?", (openid,)).rowcount > 0

        return await self._run(delete)

    async def subscribers(self) -> List[Tuple[str, str]]:
        rows = await self._run(self._sql, "SELECT openid, audience FROM alert_subscribers ORDER BY openid")
        return [(r[0], r[1]) for r in rows]

    async def set_progress(self, alert_id: str, progress: PushProgress) -> None:
        await self._run(self._sql, "INSERT OR REPLACE INTO alert_pushes (alert_id, state, total, sent, failed)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (alert_id, progress.state, progress.total, progress.sent, progress.failed))

    async def count_delivery(self, alert_id: str, delivered: bool) -> None:
        column = "sent" if delivered else "failed"
        await self._run(self._sql, f"UPDATE alert_pushes SET {column} = {column} + 1 WHERE alert_id = ?", (alert_id,))

    async def progress(self, alert_id: str) -> PushProgress:
        rows = await self._run(self._sql, "SELECT state, total, sent, failed FROM alert_pushes WHERE alert_id = ?",
                               (alert_id,))
        return PushProgress(*rows[0]) if rows else PushProgress()

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)
