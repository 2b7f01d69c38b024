"""What every case store is: the protocol, its filter, its paging limits.

The three backends (sqlite_store, redis_store, postgres_store) implement it; factory.py
opens the one a URL names. Date filters (`since`, `until`, both inclusive) are calendar
days in the store's time zone (`CASES_TZ`, default Asia/Shanghai: the operators' own days).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import List, Optional, Protocol, Tuple

from bot.cases.models import Case, CaseDraft, datetime_to_us, normalize_query

# Exports (the console's CSV) page in big steps; the HTTP API allows at most 200.
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class CaseFilter:
    """What to list or count: one object from the caller to every backend."""

    since: Optional[date] = None
    until: Optional[date] = None
    scam_type: Optional[str] = None
    query: Optional[str] = None

    def time_bounds(self, tz: tzinfo) -> Tuple[Optional[int], Optional[int]]:
        """[start, end) in microseconds since the epoch, days in `tz`; None where open."""
        start = end = None
        if self.since is not None:
            start = datetime_to_us(datetime.combine(self.since, time.min, tz))
        if self.until is not None:
            end = datetime_to_us(datetime.combine(self.until + timedelta(days=1), time.min, tz))
        return start, end

    @property
    def needle(self) -> Optional[str]:
        """The search query as it is matched against `Case.search_text()`."""
        query = (self.query or "").replace("\x00", "").strip()
        return normalize_query(query) if query else None


NO_FILTER = CaseFilter()


def check_page(limit: int, offset: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"offset must be an integer from 0 to {MAX_OFFSET}")


class CaseStore(Protocol):
    async def add(self, draft: CaseDraft, *, created_at: Optional[datetime] = None) -> Case:
        """Store a new case (now, or at `created_at` when importing) and return it."""

    async def get(self, case_id: str) -> Optional[Case]:
        """The case, or None when there is no such id."""

    async def list(self, filters: CaseFilter = NO_FILTER, *, limit: int = 50, offset: int = 0) -> List[Case]:
        """Matching cases, newest first."""

    async def count(self, filters: CaseFilter = NO_FILTER) -> int:
        """How many cases `list` would page through."""

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""
