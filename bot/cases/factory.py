"""Open the case store a URL names (the gateway's `CASES_URL`):

    sqlite:///var/cases.db                   default (relative to the working directory;
                                             sqlite:////abs/path.db for an absolute path)
    redis://127.0.0.1:6379/0?prefix=fanzha:cases:
    postgresql://postgres@127.0.0.1:5432/fanzha?table=cases
"""
from __future__ import annotations

import re
from datetime import tzinfo
from typing import Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from bot.cases.store import CaseStore

DEFAULT_CASES_URL = "sqlite:///var/cases.db"
DEFAULT_TIMEZONE = "Asia/Shanghai"


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
    url = url or DEFAULT_CASES_URL
    tz = tz or ZoneInfo(DEFAULT_TIMEZONE)
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
