"""Share records: SQLite by default, Redis when `REDIS_URL` is set (like the case store).

A record is the `ShareCard` (derived ids only), its creation and expiry times, under an
unguessable id (`secrets.token_urlsafe`, 128 bits): the id is the only key to a page, so
it must not be enumerable. Expiry is checked on every read against the store's clock
(injected in tests); Redis also drops the key by itself (`EX`), SQLite deletes expired rows
when a share is added.
"""
from __future__ import annotations

import asyncio
import json
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Union

from bot.kb.share import ShareCard

DEFAULT_TTL = timedelta(days=7)
ID_BYTES = 16
# token_urlsafe(16) is 22 characters of [A-Za-z0-9_-]; anything else is not ours (404).
_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def valid_share_id(value: str) -> bool:
    return bool(_ID.match(value))


@dataclass(frozen=True)
class Share:
    id: str
    card: ShareCard
    created_at: datetime
    expires_at: datetime

    def to_record(self) -> str:
        return json.dumps({"id": self.id, "card": self.card.to_record(), "created_at": self.created_at.isoformat(),
                           "expires_at": self.expires_at.isoformat()}, sort_keys=True)

    @classmethod
    def from_record(cls, raw: Union[str, bytes]) -> "Share":
        data: Any = json.loads(raw)
        return cls(str(data["id"]), ShareCard.from_record(data["card"]),
                   datetime.fromisoformat(data["created_at"]), datetime.fromisoformat(data["expires_at"]))


class ShareStore(Protocol):
    async def add(self, card: ShareCard) -> Share: ...

    async def get(self, share_id: str) -> Optional[Share]: ...

    async def close(self) -> None: ...


def _new_share(card: ShareCard, now: datetime, ttl: timedelta) -> Share:
    return Share(secrets.token_urlsafe(ID_BYTES), card, now, now + ttl)


class SqliteShareStore:
    SCHEMA = "CREATE TABLE IF NOT EXISTS shares (id TEXT PRIMARY KEY, expires_us INTEGER NOT NULL, record TEXT NOT NULL)"

    def __init__(self, path: Union[str, Path], ttl: timedelta = DEFAULT_TTL, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        self.ttl = ttl
        self.clock = clock
        self._schema_ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._schema_ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        if not self._schema_ready:
            conn.execute(self.SCHEMA)
            self._schema_ready = True
        return conn

    @staticmethod
    def _us(moment: datetime) -> int:
        return int(moment.timestamp() * 1_000_000)

    def _add(self, share: Share) -> None:
        conn = self._connect()
        try:
            with conn:
                conn.execute("DELETE FROM shares WHERE expires_us <= ?", (self._us(share.created_at),))
                conn.execute("INSERT INTO shares (id, expires_us, record) VALUES (?, ?, ?)",
                             (share.id, self._us(share.expires_at), share.to_record()))
        finally:
            conn.close()

    def _get(self, share_id: str, now: datetime) -> Optional[Share]:
        if not self.path.exists():
            return None
        conn = self._connect()
        try:
            row = conn.execute("SELECT record FROM shares WHERE id = ? AND expires_us > ?",
                               (share_id, self._us(now))).fetchone()
        finally:
            conn.close()
        return Share.from_record(row[0]) if row else None

    async def add(self, card: ShareCard) -> Share:
        share = _new_share(card, self.clock(), self.ttl)
        await asyncio.to_thread(self._add, share)
        return share

    async def get(self, share_id: str) -> Optional[Share]:
        return await asyncio.to_thread(self._get, share_id, self.clock())

    async def close(self) -> None:
        return None


class RedisShareStore:
    """`<prefix><id>` → the record (JSON), expiring with the share."""

    def __init__(self, client: Any, prefix: str = "fzzc:share:", ttl: timedelta = DEFAULT_TTL,
                 clock: Clock = utc_now) -> None:  # client: redis.asyncio.Redis
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.clock = clock

    @classmethod
    def from_url(cls, url: str, prefix: str = "fzzc:share:", ttl: timedelta = DEFAULT_TTL,
                 clock: Clock = utc_now) -> "RedisShareStore":
        import redis.asyncio as aioredis  # only with REDIS_URL

        return cls(aioredis.from_url(url, decode_responses=True), prefix, ttl, clock)

    async def add(self, card: ShareCard) -> Share:
        share = _new_share(card, self.clock(), self.ttl)
        await self.client.set(self.prefix + share.id, share.to_record(), ex=max(1, int(self.ttl.total_seconds())))
        return share

    async def get(self, share_id: str) -> Optional[Share]:
        raw = await self.client.get(self.prefix + share_id)
        share = Share.from_record(raw) if raw else None
        return share if share is not None and share.expires_at > self.clock() else None

    async def close(self) -> None:
        await self.client.close()


def open_share_store(redis_url: Optional[str], db_path: Union[str, Path], prefix: str = "fzzc:share:",
                     ttl: timedelta = DEFAULT_TTL, clock: Clock = utc_now) -> ShareStore:
    """Redis when `redis_url` is set (every gateway replica sees the same shares), else SQLite."""
    if redis_url:
        return RedisShareStore.from_url(redis_url, prefix, ttl, clock)
    return SqliteShareStore(db_path, ttl, clock)
