"""Cases in SQLite (the default): stdlib sqlite3 on one worker thread, WAL journal."""
from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Any, Callable, List, Optional, TypeVar

from bot.cases.models import Case, CaseDraft
from bot.cases.sql import COLUMNS, case_from_row, row_values, where_clause
from bot.cases.store import NO_FILTER, CaseFilter, check_page

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_us INTEGER NOT NULL,
    scam_type TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    search_text TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_by_time ON cases (created_us DESC, seq DESC);
CREATE INDEX IF NOT EXISTS cases_by_type ON cases (scam_type, created_us DESC);
"""
ORDER = " ORDER BY created_us DESC, seq DESC"


def _placeholder(_n: int) -> str:
    return "?"


class SqliteCaseStore:
    """One connection used by one thread: sqlite3 calls never block the event loop,
    and writes never race each other inside the process (WAL lets readers in other
    processes carry on)."""

    def __init__(self, path: Path, tz: tzinfo) -> None:
        self.path = path
        self.tz = tz
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cases-sqlite")
        self._db: Optional[sqlite3.Connection] = None

    @classmethod
    async def open(cls, path: str | Path, tz: tzinfo) -> "SqliteCaseStore":
        store = cls(Path(path), tz)
        await store._run(store._connect)
        return store

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)  # autocommit; one statement per write
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        self._db = db

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the case store is closed")
        return self._db

    async def add(self, draft: CaseDraft, *, created_at: Optional[datetime] = None) -> Case:
        case = Case.from_draft(draft, created_at=created_at)
        await self._run(self.db.execute, f"INSERT INTO cases ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", row_values(case))
        return case

    async def get(self, case_id: str) -> Optional[Case]:
        def fetch() -> Optional[tuple]:
            return self.db.execute("SELECT record FROM cases WHERE id = ?", (case_id,)).fetchone()

        row = await self._run(fetch)
        return case_from_row(row[0]) if row else None

    async def list(self, filters: CaseFilter = NO_FILTER, *, limit: int = 50, offset: int = 0) -> List[Case]:
        check_page(limit, offset)
        where, params = where_clause(filters, self.tz, _placeholder, "instr")
        sql = f"SELECT record FROM cases{where}{ORDER} LIMIT ? OFFSET ?"
        rows = await self._run(lambda: self.db.execute(sql, [*params, limit, offset]).fetchall())
        return [case_from_row(r[0]) for r in rows]

    async def count(self, filters: CaseFilter = NO_FILTER) -> int:
        where, params = where_clause(filters, self.tz, _placeholder, "instr")
        row = await self._run(lambda: self.db.execute(f"SELECT count(*) FROM cases{where}", params).fetchone())
        return int(row[0])

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)
