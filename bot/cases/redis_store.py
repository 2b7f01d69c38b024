"""Cases in Redis: one JSON string per case, sorted sets by time (all, and per type).

    {prefix}case:{id}          the case record (JSON, unmasked)
    {prefix}by_time            id → created_us
    {prefix}by_type:{type}     id → created_us, for the type filter

A text query is filtered in Python over the ids in the date range (fetched in
batches): fine for a desk's case volume, and the same matching as the SQL stores.
"""
from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import List, Optional, Sequence, Tuple, Union

import redis.asyncio as redis

from bot.cases.models import Case, CaseDraft
from bot.cases.store import NO_FILTER, CaseFilter, check_page

DEFAULT_PREFIX = "fanzha:cases:"
BATCH = 500
Bound = Union[int, str]


class RedisCaseStore:
    def __init__(self, client: redis.Redis, prefix: str, tz: tzinfo) -> None:
        self.client = client
        self.prefix = prefix
        self.tz = tz

    @classmethod
    async def open(cls, url: str, prefix: str, tz: tzinfo) -> "RedisCaseStore":
        client = redis.from_url(url, decode_responses=True)
        try:
            await client.ping()  # fail at start-up, not on the first saved case
        except Exception:
            await client.close()
            raise
        return cls(client, prefix, tz)

    def _case_key(self, case_id: str) -> str:
        return f"{self.prefix}case:{case_id}"

    def _index_key(self, scam_type: Optional[str]) -> str:
        return f"{self.prefix}by_type:{scam_type}" if scam_type else f"{self.prefix}by_time"

    async def add(self, draft: CaseDraft, *, created_at: Optional[datetime] = None) -> Case:
        case = Case.from_draft(draft, created_at=created_at)
        record = json.dumps(case.to_record(), ensure_ascii=True, sort_keys=True)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._case_key(case.id), record)
            pipe.zadd(self._index_key(None), {case.id: case.created_us})
            pipe.zadd(self._index_key(case.scam_type), {case.id: case.created_us})
            await pipe.execute()
        return case

    async def get(self, case_id: str) -> Optional[Case]:
        raw = await self.client.get(self._case_key(case_id))
        return Case.from_record(json.loads(raw)) if raw else None

    async def _load(self, ids: Sequence[str]) -> List[Case]:
        cases: List[Case] = []
        for i in range(0, len(ids), BATCH):
            batch = await self.client.mget([self._case_key(x) for x in ids[i:i + BATCH]])
            cases += [Case.from_record(json.loads(raw)) for raw in batch if raw]
        return cases

    def _range(self, filters: CaseFilter) -> Tuple[Bound, Bound]:
        start, end = filters.time_bounds(self.tz)
        return ("-inf" if start is None else start), ("+inf" if end is None else f"({end}")

    async def _matching(self, filters: CaseFilter) -> List[Case]:
        """Every case in the range that matches the text query, newest first."""
        low, high = self._range(filters)
        ids = await self.client.zrevrangebyscore(self._index_key(filters.scam_type), high, low)
        needle = filters.needle or ""
        return [c for c in await self._load(ids) if needle in c.search_text()]

    async def list(self, filters: CaseFilter = NO_FILTER, *, limit: int = 50, offset: int = 0) -> List[Case]:
        check_page(limit, offset)
        if filters.needle:
            return (await self._matching(filters))[offset:offset + limit]
        low, high = self._range(filters)
        ids = await self.client.zrevrangebyscore(self._index_key(filters.scam_type), high, low, start=offset, num=limit)
        return await self._load(ids)

    async def count(self, filters: CaseFilter = NO_FILTER) -> int:
        if filters.needle:
            return len(await self._matching(filters))
        low, high = self._range(filters)
        return int(await self.client.zcount(self._index_key(filters.scam_type), low, high))

    async def close(self) -> None:
        await self.client.close()
        await self.client.connection_pool.disconnect()
