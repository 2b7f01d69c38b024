"""Where cases are kept: one protocol, three backends, chosen by URL.

    sqlite:///var/cases.db                   default (relative to the working directory;
                                             sqlite:////abs/path.db for an absolute path)
    redis://127.0.0.1:6379/0?prefix=fanzha:cases:
    postgresql://postgres@127.0.0.1:5432/fanzha?table=cases

`CASES_URL` sets it for the gateway. Date filters (`since`, `until`, both inclusive)
are calendar days in `CASES_TZ` (default Asia/Shanghai: the operators' own days).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import List, Optional, Protocol, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from bot.cases.models import Case, CaseDraft, datetime_to_us, normalize_query

DEFAULT_CASES_URL = "sqlite:///var/cases.db"
DEFAULT_TIMEZONE = "Asia/Shanghai"
# Exports (the console's CSV) page in big steps; the HTTP API allows at most 200.
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class CaseFilter:
    """The filters every backend applies the same way."""

    since: Optional[date] = None
    until: Optional[date] = None
    scam_type: Optional[str] = None
    query: Optional[str] = None
    tz: tzinfo = ZoneInfo(DEFAULT_TIMEZONE)

    def time_bounds(self) -> Tuple[Optional[int], Optional[int]]:
        """[start, end) in microseconds since the epoch; None where open."""
        start = end = None
        if self.since is not None:
            start = datetime_to_us(datetime.combine(self.since, time.min, self.tz))
        if self.until is not None:
            end = datetime_to_us(datetime.combine(self.until + timedelta(days=1), time.min, self.tz))
        return start, end

    @property
    def needle(self) -> Optional[str]:
        """The search query as it is matched against `Case.search_text()`."""
        query = (self.query or "").replace("\x00", "").strip()
        return normalize_query(query) if query else None


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

    async def list(
        self,
        *,
        since: Optional[date] = None,
        until: Optional[date] = None,
        scam_type: Optional[str] = None,
        query: Optional[str] = None,
        limit: int = 50,
        offset: int = 0,
    ) -> List[Case]:
        """Matching cases, newest first; `until` is inclusive."""

    async def count(
        self,
        *,
        since: Optional[date] = None,
        until: Optional[date] = None,
        scam_type: Optional[str] = None,
        query: Optional[str] = None,
    ) -> int:
        """How many cases `list` would page through."""

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""


def case_timezone() -> tzinfo:
    return ZoneInfo(os.environ.get("CASES_TZ", DEFAULT_TIMEZONE))


def _pop_query_param(url: str, name: str) -> Tuple[str, Optional[str]]:
    """`url` without the query parameter `name`, and its value."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    value = next((v for k, v in params if k == name), None)
    rest = urlencode([(k, v) for k, v in params if k != name])
    return urlunsplit(parts._replace(query=rest)), value


_SQL_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def sql_name(name: str) -> str:
    if not _SQL_NAME.match(name):
        raise ValueError(f"table name {name!r}: use lower-case letters, digits and _ (max 63)")
    return name


async def open_case_store(url: Optional[str] = None, *, tz: Optional[tzinfo] = None) -> CaseStore:
    """Open (and create when missing) the store that `url` names; see the module docs."""
    url = url or os.environ.get("CASES_URL") or DEFAULT_CASES_URL
    tz = tz or case_timezone()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        from bot.cases.sqlite_store import SqliteCaseStore

        path = url[len("sqlite:///"):] if url.lower().startswith("sqlite:///") else ""
        if not path:
            raise ValueError(f"CASES_URL {url!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return await SqliteCaseStore.open(path, tz)
    if scheme in ("redis", "rediss", "unix"):
        from bot.cases.redis_store import DEFAULT_PREFIX, RedisCaseStore

        url, prefix = _pop_query_param(url, "prefix")
        return await RedisCaseStore.open(url, prefix or DEFAULT_PREFIX, tz)
    if scheme in ("postgresql", "postgres"):
        from bot.cases.postgres_store import DEFAULT_TABLE, PostgresCaseStore

        url, table = _pop_query_param(url, "table")
        return await PostgresCaseStore.open(url, sql_name(table or DEFAULT_TABLE), tz)
    raise ValueError(
        f"CASES_URL {url!r}: unknown scheme {scheme!r}; use sqlite:///…, redis://… or postgresql://…"
    )
