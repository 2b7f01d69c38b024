"""Cases in PostgreSQL (asyncpg): the same table and filters as SQLite."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import List, Optional

import asyncpg

from bot.cases.models import Case, CaseDraft
from bot.cases.sql import COLUMNS, case_from_row, row_values, where_clause
from bot.cases.store import NO_FILTER, CaseFilter, check_page

DEFAULT_TABLE = "cases"


def _schema(table: str) -> str:
    return f"""
    CREATE TABLE IF NOT EXISTS {table} (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created_us BIGINT NOT NULL,
        scam_type TEXT NOT NULL,
        risk_level TEXT NOT NULL,
        search_text TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS {table}_by_time ON {table} (created_us DESC, seq DESC);
    CREATE INDEX IF NOT EXISTS {table}_by_type ON {table} (scam_type, created_us DESC);
    """


def _placeholder(n: int) -> str:
    return f"${n}"


class PostgresCaseStore:
    def __init__(self, pool: asyncpg.Pool, table: str, tz: tzinfo) -> None:
        self.pool = pool
        self.table = table  # checked by store.sql_name: safe to put into SQL
        self.tz = tz

    @classmethod
    async def open(cls, url: str, table: str, tz: tzinfo) -> "PostgresCaseStore":
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        try:
            async with pool.acquire() as conn, conn.transaction():
                # Several gateway replicas may start at once: create the table one at a time.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"fanzha:{table}")
                await conn.execute(_schema(table))
        except Exception:
            await pool.close()
            raise
        return cls(pool, table, tz)

    async def add(self, draft: CaseDraft, *, created_at: Optional[datetime] = None) -> Case:
        case = Case.from_draft(draft, created_at=created_at)
        await self.pool.execute(
            f"INSERT INTO {self.table} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)", *row_values(case)
        )
        return case

    async def get(self, case_id: str) -> Optional[Case]:
        record = await self.pool.fetchval(f"SELECT record FROM {self.table} WHERE id = $1", case_id)
        return case_from_row(record) if record else None

    async def list(self, filters: CaseFilter = NO_FILTER, *, limit: int = 50, offset: int = 0) -> List[Case]:
        check_page(limit, offset)
        where, params = where_clause(filters, self.tz, _placeholder, "strpos")
        n = len(params)
        rows = await self.pool.fetch(
            f"SELECT record FROM {self.table}{where} ORDER BY created_us DESC, seq DESC"
            f" LIMIT ${n + 1} OFFSET ${n + 2}",
            *params, limit, offset,
        )
        return [case_from_row(r["record"]) for r in rows]

    async def count(self, filters: CaseFilter = NO_FILTER) -> int:
        where, params = where_clause(filters, self.tz, _placeholder, "strpos")
        return int(await self.pool.fetchval(f"SELECT count(*) FROM {self.table}{where}", *params))

    async def close(self) -> None:
        await self.pool.close()
