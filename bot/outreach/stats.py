"""Anonymous statistics of completed self-checks.

Each check adds one to a few counters of its ISO week: the total, its scam type, its
risk level and its channel.  Nothing else is kept: no text, no sender id, no time
finer than the week, and only aggregate rows (week, dimension, value) → count.
Counts below 5 leave the store only as '<5' (the API, the dashboard, the CSV and the
summary all go through `shown`), so a small count cannot point at one resident.

Stores: Redis (HINCRBY on one hash per week under a key prefix) when configured,
SQLite otherwise.
"""
from __future__ import annotations

import asyncio
import csv
import io
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence, Tuple, Union
from zoneinfo import ZoneInfo

from bot.kb.models import RISK_LABELS

if TYPE_CHECKING:  # pragma: no cover
    from bot.settings import Settings

# Residents are in China: a check made at 00:30 on Monday in Beijing belongs to that week.
TIMEZONE = ZoneInfo("Asia/Shanghai")
SUPPRESS_BELOW = 5
SUPPRESSED = "<5"
RISK_LEVELS = ("high", "medium", "low")
CHANNELS = ("widget", "wechat", "api")
CHANNEL_NAMES = {"widget": "网页聊天", "wechat": "微信公众号", "api": "接口/坐席"}
DIMENSIONS = ("total", "type", "risk", "channel")
NON_SCAM_TYPES = ("none", "unknown")
MAX_SERIES_WEEKS = 260  # a chart of five years at most; longer asks are clipped to the data
YEARS = range(2000, 2101)
_TYPE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")

Shown = Union[int, str]  # an int >= 5, or '<5'
Row = Tuple[str, str, str, int]  # (week, dimension, value, count)


class StatsInputError(ValueError):
    """A bad filter (dates) from the user: the message says what to fix."""


# -- weeks ------------------------------------------------------------------------


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(week: str) -> date:
    """Monday of an ISO week such as '2026-W48'."""
    match = _WEEK.match(week)
    if not match:
        raise ValueError(f"not an ISO week: {week!r}")
    return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)


def next_week(week: str) -> str:
    return iso_week(week_start(week) + timedelta(days=7))


def weeks_between(first: str, last: str) -> List[str]:
    weeks, current = [], first
    while current <= last:
        weeks.append(current)
        current = next_week(current)
    return weeks


def today_local(now: Optional[datetime] = None) -> date:
    return (now or datetime.now(TIMEZONE)).astimezone(TIMEZONE).date()


def parse_day(value: Optional[str], field_name: str) -> Optional[date]:
    if value is None or value == "":
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise StatsInputError(f"'{field_name}' must be a date like 2026-11-23 (YYYY-MM-DD), got {value!r}") from None
    if day.year not in YEARS:
        raise StatsInputError(f"'{field_name}' must be between {YEARS[0]} and {YEARS[-1]}, got {value!r}")
    return day


@dataclass(frozen=True)
class DateRange:
    """Inclusive dates; the filter works by ISO week (a date selects its whole week)."""

    since: Optional[date] = None
    until: Optional[date] = None

    @classmethod
    def parse(cls, since: Optional[str], until: Optional[str]) -> "DateRange":
        rng = cls(parse_day(since, "since"), parse_day(until, "until"))
        if rng.since and rng.until and rng.since > rng.until:
            raise StatsInputError("'since' must not be after 'until'")
        return rng

    @property
    def first_week(self) -> Optional[str]:
        return iso_week(self.since) if self.since else None

    @property
    def last_week(self) -> Optional[str]:
        return iso_week(self.until) if self.until else None

    def holds(self, week: str) -> bool:
        return (self.first_week is None or week >= self.first_week) and (self.last_week is None or week <= self.last_week)


# -- what one check adds ------------------------------------------------------------


def counters_for(verdict: Mapping[str, object], channel: str, known_types: Optional[Iterable[str]] = None) -> List[Tuple[str, str]]:
    """The (dimension, value) counters one completed check adds to: nothing from the text.

    An unexpected scam type is counted as 'unknown'; a bad risk level or channel is an error.
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
    risk = verdict.get("risk_level")
    if risk not in RISK_LEVELS:
        raise ValueError(f"risk_level must be one of {RISK_LEVELS}, got {risk!r}")
    scam_type = verdict.get("scam_type")
    known = set(known_types) if known_types is not None else None
    if not isinstance(scam_type, str) or not _TYPE_ID.match(scam_type) or (known is not None and scam_type not in known):
        scam_type = "unknown"
    return [("total", "all"), ("type", scam_type), ("risk", str(risk)), ("channel", channel)]


# -- stores -----------------------------------------------------------------------


class StatsStore(Protocol):
    async def add(self, week: str, counters: Sequence[Tuple[str, str]]) -> None: ...

    async def rows(self, first_week: Optional[str] = None, last_week: Optional[str] = None) -> List[Row]: ...

    async def close(self) -> None: ...


class SQLiteStatsStore:
    """One row per (week, dimension, value) with its count; the file is made on first write."""

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS check_counts ("
        " week TEXT NOT NULL, dimension TEXT NOT NULL, value TEXT NOT NULL,"
        " count INTEGER NOT NULL, PRIMARY KEY (week, dimension, value))"
    )

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self._schema_ready = False

    def _connect(self) -> sqlite3.Connection:
        # Folder and table once per store, not on every counted check (a hot path).
        if not self._schema_ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        if not self._schema_ready:
            conn.execute(self.SCHEMA)
            self._schema_ready = True
        return conn

    def _add(self, week: str, counters: Sequence[Tuple[str, str]]) -> None:
        with self._connect() as conn:  # one transaction: all counters of a check, or none
            conn.executemany(
                "INSERT INTO check_counts (week, dimension, value, count) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (week, dimension, value) DO UPDATE SET count = count + 1",
                [(week, dim, value) for dim, value in counters],
            )
        conn.close()

    def _rows(self, first_week: Optional[str], last_week: Optional[str]) -> List[Row]:
        if not self.path.exists():
            return []
        conn = self._connect()
        try:
            return [
                (w, d, v, int(c))
                for w, d, v, c in conn.execute(
                    "SELECT week, dimension, value, count FROM check_counts WHERE week >= ? AND week <= ?",
                    (first_week or "0000", last_week or "9999"),
                )
            ]
        finally:
            conn.close()

    async def add(self, week: str, counters: Sequence[Tuple[str, str]]) -> None:
        await asyncio.to_thread(self._add, week, counters)

    async def rows(self, first_week: Optional[str] = None, last_week: Optional[str] = None) -> List[Row]:
        return await asyncio.to_thread(self._rows, first_week, last_week)

    async def close(self) -> None:
        return None


class RedisStatsStore:
    """A hash per week, `<prefix>week:2026-W48` → {"type:brushing_rebate": 12, ...}, and a set of weeks."""

    def __init__(self, client, prefix: str = "fzzc:stats:") -> None:  # client: redis.asyncio.Redis
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "fzzc:stats:") -> "RedisStatsStore":
        import redis.asyncio as aioredis

        return cls(aioredis.from_url(url, decode_responses=True), prefix)

    def _week_key(self, week: str) -> str:
        return f"{self.prefix}week:{week}"

    @property
    def _weeks_key(self) -> str:
        return f"{self.prefix}weeks"

    async def add(self, week: str, counters: Sequence[Tuple[str, str]]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.sadd(self._weeks_key, week)
        for dim, value in counters:
            pipe.hincrby(self._week_key(week), f"{dim}:{value}", 1)
        await pipe.execute()

    async def rows(self, first_week: Optional[str] = None, last_week: Optional[str] = None) -> List[Row]:
        weeks = sorted(
            w for w in await self.client.smembers(self._weeks_key)
            if _WEEK.match(w) and (first_week is None or w >= first_week) and (last_week is None or w <= last_week)
        )
        if not weeks:
            return []
        pipe = self.client.pipeline(transaction=False)
        for week in weeks:
            pipe.hgetall(self._week_key(week))
        rows: List[Row] = []
        for week, fields in zip(weeks, await pipe.execute()):
            for name, count in fields.items():
                dim, _, value = name.partition(":")
                rows.append((week, dim, value, int(count)))
        return rows

    async def close(self) -> None:
        await self.client.close()


def store_from_settings(settings: "Settings") -> StatsStore:
    """Redis when STATS_REDIS_URL or REDIS_URL is set, else SQLite at STATS_DB (var/stats.db)."""
    url = settings.stats_redis_url or settings.redis_url
    if url:
        return RedisStatsStore.from_url(url, settings.stats_redis_prefix)
    return SQLiteStatsStore(settings.stats_db)


def store_from_env(env: Mapping[str, str]) -> StatsStore:
    """The store `env` names (a mapping of environment variables, not os.environ)."""
    from bot.settings import Settings

    return store_from_settings(Settings.from_env(env))


async def record_check(
    store: StatsStore,
    verdict: Mapping[str, object],
    channel: str,
    known_types: Optional[Iterable[str]] = None,
    day: Optional[date] = None,
) -> None:
    """Count one completed self-check in its ISO week."""
    await store.add(iso_week(day or today_local()), counters_for(verdict, channel, known_types))


# -- reports ----------------------------------------------------------------------


def shown(count: int) -> Shown:
    """What may leave the store: the count when it is 5 or more, else '<5'."""
    return count if count >= SUPPRESS_BELOW else SUPPRESSED


@dataclass
class Totals:
    """Raw counts for a range of weeks; never sent out as they are (see `to_api`)."""

    by_type: Dict[str, int] = field(default_factory=dict)
    by_risk: Dict[str, int] = field(default_factory=dict)
    by_channel: Dict[str, int] = field(default_factory=dict)
    by_week: Dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_week.values())

    @classmethod
    def from_rows(cls, rows: Iterable[Row]) -> "Totals":
        totals = cls()
        target = {"type": totals.by_type, "risk": totals.by_risk, "channel": totals.by_channel}
        for week, dim, value, count in rows:
            if dim == "total":
                totals.by_week[week] = totals.by_week.get(week, 0) + count
            elif dim in target:
                target[dim][value] = target[dim].get(value, 0) + count
        return totals

    def week_series(self, rng: DateRange) -> List[Tuple[str, int]]:
        """Every week from the first to the last (of the range, else of the data), gaps as 0.

        A very long range is clipped to the weeks that have data, so the chart stays readable.
        """
        data_first, data_last = min(self.by_week, default=None), max(self.by_week, default=None)
        first, last = rng.first_week or data_first, rng.last_week or data_last
        if first is None or last is None:
            return []
        if (week_start(last) - week_start(first)).days // 7 >= MAX_SERIES_WEEKS:
            if data_first is None or data_last is None:
                return []
            first, last = max(first, data_first), min(last, data_last)
        return [(w, self.by_week.get(w, 0)) for w in weeks_between(first, last)]

    def types_by_count(self) -> List[Tuple[str, int]]:
        return sorted(self.by_type.items(), key=lambda kv: (-kv[1], kv[0]))

    def to_api(self, rng: DateRange) -> dict:
        """The `/api/v1/stats` body: every count an int >= 5 or '<5'."""
        return {
            "by_type": {t: shown(c) for t, c in self.types_by_count()},
            "by_risk": {r: shown(self.by_risk.get(r, 0)) for r in RISK_LEVELS},
            "by_channel": {ch: shown(self.by_channel.get(ch, 0)) for ch in CHANNELS},
            "by_week": [{"week": w, "count": shown(c)} for w, c in self.week_series(rng)],
            "total": shown(self.total),
            "since": rng.since.isoformat() if rng.since else None,
            "until": rng.until.isoformat() if rng.until else None,
        }


async def totals_for(store: StatsStore, rng: DateRange) -> Totals:
    return Totals.from_rows(await store.rows(rng.first_week, rng.last_week))


# -- words for people -------------------------------------------------------------


def week_dates_label(week: str) -> str:
    """'11月23日—11月29日' (with the year on the second date when the week crosses New Year)."""
    monday = week_start(week)
    sunday = monday + timedelta(days=6)
    end = f"{sunday.month}月{sunday.day}日" if sunday.year == monday.year else f"{sunday.year}年{sunday.month}月{sunday.day}日"
    return f"{monday.month}月{monday.day}日—{end}"


def week_name(week: str, today: date) -> str:
    current = iso_week(today)
    if week == current:
        return "本周"
    if next_week(week) == current:
        return "上周"
    monday = week_start(week)
    return f"{monday.isocalendar()[0]}年第{monday.isocalendar()[1]}周"


def _times(count: int) -> str:
    value = shown(count)
    return "不到 5 次" if value == SUPPRESSED else f"{value} 次"


def _spaced(times: str) -> str:
    """'高危 12 次' but '高危不到 5 次': a space only before a digit."""
    return f" {times}" if times[0].isdigit() else times


def weekly_summary(
    week: str,
    this_week: Totals,
    previous_week: Totals,
    type_names: Mapping[str, str],
    today: date,
) -> str:
    """A paragraph a community worker can paste into a report; small counts say '不到 5 次'."""
    head = f"{week_name(week, today)}（{week_dates_label(week)}）"
    total = this_week.total
    if total < SUPPRESS_BELOW:
        return f"{head}居民通过反诈自查助手完成自查不到 5 次，数量太少，暂不细分。"
    parts = [f"{head}居民通过反诈自查助手共完成自查 {total} 次，其中高危{_spaced(_times(this_week.by_risk.get('high', 0)))}"]
    scams = [(t, c) for t, c in this_week.types_by_count() if t not in NON_SCAM_TYPES]
    top = scams[:2]
    if top:
        named = "和".join(f"{type_names.get(t, t)}（{_times(c)}）" for t, c in top)
        parts.append(f"；查得最多的是{named}")
    sentence = "".join(parts) + "。"
    before = previous_week.total
    if before >= SUPPRESS_BELOW:
        diff = total - before
        change = f"比上周多 {diff} 次" if diff > 0 else f"比上周少 {-diff} 次" if diff < 0 else "和上周一样多"
        sentence += f"自查次数{change}。"
    if top:
        focus = "和".join(type_names.get(t, t) for t, _ in top)
        sentence += f"建议近期宣传重点提醒居民防范{focus}。"
    return sentence


def csv_text(totals: Totals, rng: DateRange, type_names: Mapping[str, str]) -> str:
    """The dashboard's tables as CSV (with a BOM so Excel reads the Chinese); same suppression."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["分类", "代码", "名称", "次数"])
    writer.writerow(["合计", "total", "全部自查", shown(totals.total)])
    for t, c in totals.types_by_count():
        writer.writerow(["诈骗类型", t, type_names.get(t, t), shown(c)])
    for r in RISK_LEVELS:
        writer.writerow(["风险等级", r, RISK_LABELS[r], shown(totals.by_risk.get(r, 0))])
    for ch in CHANNELS:
        writer.writerow(["渠道", ch, CHANNEL_NAMES[ch], shown(totals.by_channel.get(ch, 0))])
    for w, c in totals.week_series(rng):
        writer.writerow(["周", w, week_dates_label(w), shown(c)])
    return "\ufeff" + out.getvalue()
