"""Alerts in Redis (REDIS_URL set: the production profile, every replica sees the same).

    {prefix}alert:{id}        the alert (JSON); expires a week after the alert does
    {prefix}by_expiry         id → expires_at (epoch seconds): the active ones are above now
    {prefix}subscribers       openid → audience (hash): the whole subscription
    {prefix}push:{id}         state, total, sent, failed (hash), HINCRBY per message
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, Optional, Tuple

import redis.asyncio as redis

from bot.alerts.models import Alert, PushProgress

KEEP_AFTER_EXPIRY = timedelta(days=7)  # GET /api/v1/alerts/{id} still answers for a while


class RedisAlertStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    async def open(cls, url: str, prefix: str) -> "RedisAlertStore":
        client = redis.from_url(url, decode_responses=True)
        try:
            await client.ping()  # a wrong REDIS_URL stops the gateway at start-up
        except Exception:
            await client.close()
            raise
        return cls(client, prefix)

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def add(self, alert: Alert) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._key("alert", alert.id), alert.to_json())
            pipe.expireat(self._key("alert", alert.id), alert.expires_at + KEEP_AFTER_EXPIRY)
            pipe.zadd(self._key("by_expiry"), {alert.id: alert.expires_at.timestamp()})
            await pipe.execute()

    async def active(self, now: datetime) -> List[Alert]:
        index = self._key("by_expiry")
        await self.client.zremrangebyscore(index, "-inf", now.timestamp())  # expired: out of the index
        ids = await self.client.zrangebyscore(index, f"({now.timestamp()}", "+inf")
        raws = await self.client.mget([self._key("alert", i) for i in ids]) if ids else []
        alerts = [Alert.from_json(raw) for raw in raws if raw]
        return sorted((a for a in alerts if a.is_active(now)), key=lambda a: (-a.created_at.timestamp(), a.id))

    async def get(self, alert_id: str) -> Optional[Alert]:
        raw = await self.client.get(self._key("alert", alert_id))
        return Alert.from_json(raw) if raw else None

    async def subscribe(self, openid: str, audience: str) -> None:
        await self.client.hset(self._key("subscribers"), openid, audience)

    async def unsubscribe(self, openid: str) -> bool:
        return bool(await self.client.hdel(self._key("subscribers"), openid))

    async def subscribers(self) -> List[Tuple[str, str]]:
        return sorted((await self.client.hgetall(self._key("subscribers"))).items())

    async def set_progress(self, alert_id: str, progress: PushProgress) -> None:
        key = self._key("push", alert_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=progress.to_api())
            pipe.expire(key, int((KEEP_AFTER_EXPIRY * 14).total_seconds()))
            await pipe.execute()

    async def count_delivery(self, alert_id: str, delivered: bool) -> None:
        await self.client.hincrby(self._key("push", alert_id), "sent" if delivered else "failed", 1)

    async def progress(self, alert_id: str) -> PushProgress:
        raw = await self.client.hgetall(self._key("push", alert_id))
        if not raw:
            return PushProgress()
        return PushProgress(raw.get("state", "off"), *(int(raw.get(k, 0)) for k in ("total", "sent", "failed")))

    async def close(self) -> None:
        await self.client.close()
        await self.client.connection_pool.disconnect()
