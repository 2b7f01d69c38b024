"""Anonymous statistics: counting, ISO weeks, '<5' suppression, filters, summary, CSV, API, dashboard.

Both stores run the same checks: SQLite in a temp file, Redis in DB 15 under a unique
prefix (deleted afterwards).
"""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from bot.gateway import auth
from bot.gateway.app import CHECK_LISTENERS, LIVE_KB_KEY
from bot.gateway.errors import json_errors
from bot.gateway.pages import setup_pages
from bot.gateway.stats import STUB, bars, setup_stats
from bot.kb.live import LiveKb
from bot.outreach import stats as st

REDIS_URL = "redis://127.0.0.1:6379/15"
TOKEN = "stats-token"
PASSWORD = "a long enough password"


def verdict(scam_type: str = "brushing_rebate", risk: str = "high") -> dict:
    return {"scam_type": scam_type, "risk_level": risk}


# -- stores -------------------------------------------------------------------------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> st.SQLiteStatsStore:
    return st.SQLiteStatsStore(tmp_path / "var" / "stats.db")


@pytest.fixture
async def redis_store():
    redis = pytest.importorskip("redis.asyncio")
    client = redis.from_url(REDIS_URL, decode_responses=True, socket_timeout=2)
    try:
        await client.ping()
    except Exception as err:  # noqa: BLE001
        await client.close()
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {err}")
    store = st.RedisStatsStore(client, prefix=f"test:stats:{uuid.uuid4().hex}:")
    yield store
    keys = [k async for k in client.scan_iter(match=store.prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.close()


@pytest.fixture(params=["sqlite", "redis"])
def store(request):
    return request.getfixturevalue(f"{request.param}_store")


async def add(store, n: int, day: date, channel: str = "widget", **kw) -> None:
    for _ in range(n):
        await st.record_check(store, verdict(**kw), channel, day=day)


# -- weeks and counting -------------------------------------------------------------


@pytest.mark.parametrize("day, week", [
    (date(2026, 11, 23), "2026-W48"),  # Monday
    (date(2026, 11, 29), "2026-W48"),  # Sunday
    (date(2025, 12, 29), "2026-W01"),  # a December day in next year's first week
    (date(2027, 1, 3), "2026-W53"),    # a January day in last year's week 53
    (date(2027, 1, 4), "2027-W01"),
])
def test_iso_weeks_across_the_year_boundary(day, week):
    assert st.iso_week(day) == week
    assert st.week_start(week) <= day < st.week_start(st.next_week(week))


def test_weeks_between_runs_over_new_year():
    assert st.weeks_between("2026-W52", "2027-W02") == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]


def test_a_check_adds_only_type_risk_channel_and_total():
    assert st.counters_for(verdict(), "wechat", known_types=["brushing_rebate"]) == [
        ("total", "all"), ("type", "brushing_rebate"), ("risk", "high"), ("channel", "wechat")]
    # an id the KB does not know (or a text smuggled in as a type) is counted as 'unknown'
    assert ("type", "unknown") in st.counters_for(verdict("no_such_type"), "api", known_types=["brushing_rebate"])
    assert ("type", "unknown") in st.counters_for(verdict("我妈的电话 13800138000"), "api")
    with pytest.raises(ValueError):
        st.counters_for(verdict(risk="extreme"), "api")
    with pytest.raises(ValueError):
        st.counters_for(verdict(), "sms")


async def test_counts_by_type_risk_channel_and_week(store):
    await add(store, 6, date(2026, 12, 30), "widget")                       # 2026-W53
    await add(store, 5, date(2027, 1, 3), "wechat", scam_type="police_impersonation", risk="medium")  # 2026-W53
    await add(store, 2, date(2027, 1, 4), "api", scam_type="none", risk="low")  # 2027-W01
    totals = await st.totals_for(store, st.DateRange())
    assert totals.by_week == {"2026-W53": 11, "2027-W01": 2}
    assert totals.by_type == {"brushing_rebate": 6, "police_impersonation": 5, "none": 2}
    assert totals.by_risk == {"high": 6, "medium": 5, "low": 2}
    assert totals.by_channel == {"widget": 6, "wechat": 5, "api": 2}
    assert totals.total == 13

    body = totals.to_api(st.DateRange())
    assert body == {
        "by_type": {"brushing_rebate": 6, "police_impersonation": 5, "none": "<5"},
        "by_risk": {"high": 6, "medium": 5, "low": "<5"},
        "by_channel": {"widget": 6, "wechat": 5, "api": "<5"},
        "by_week": [{"week": "2026-W53", "count": 11}, {"week": "2027-W01", "count": "<5"}],
        "total": 13, "since": None, "until": None,
    }


async def test_date_filters_select_whole_iso_weeks(store):
    await add(store, 5, date(2026, 11, 16))  # W47
    await add(store, 7, date(2026, 11, 25))  # W48
    await add(store, 9, date(2026, 12, 2))   # W49
    # a Sunday and a Monday select their whole weeks
    rng = st.DateRange.parse("2026-11-29", "2026-11-30")
    totals = await st.totals_for(store, rng)
    assert totals.by_week == {"2026-W48": 7, "2026-W49": 9}
    assert [w["week"] for w in totals.to_api(rng)["by_week"]] == ["2026-W48", "2026-W49"]
    only_since = await st.totals_for(store, st.DateRange.parse("2026-11-24", None))
    assert only_since.total == 16
    only_until = await st.totals_for(store, st.DateRange.parse(None, "2026-11-22"))
    assert only_until.by_week == {"2026-W47": 5}


def test_suppression_below_five():
    assert [st.shown(n) for n in (0, 1, 4, 5, 6, 120)] == ["<5", "<5", "<5", 5, 6, 120]


async def test_empty_weeks_inside_the_range_show_as_under_five(sqlite_store):
    await add(sqlite_store, 6, date(2026, 11, 2))   # W45
    await add(sqlite_store, 8, date(2026, 11, 23))  # W48
    rng = st.DateRange.parse("2026-10-26", "2026-11-29")  # W44..W48
    series = (await st.totals_for(sqlite_store, rng)).to_api(rng)["by_week"]
    assert series == [{"week": "2026-W44", "count": "<5"}, {"week": "2026-W45", "count": 6},
                      {"week": "2026-W46", "count": "<5"}, {"week": "2026-W47", "count": "<5"},
                      {"week": "2026-W48", "count": 8}]
    # an enormous range is clipped to the weeks with data, not thousands of empty bars
    wide = st.DateRange.parse("2000-01-01", "2100-12-31")
    assert len((await st.totals_for(sqlite_store, wide)).week_series(wide)) == 4


@pytest.mark.parametrize("since, until, message", [
    ("2026-13-01", None, "'since' must be a date"),
    ("yesterday", None, "'since' must be a date"),
    (None, "2026/11/29", "'until' must be a date"),
    ("2026-11-30", "2026-11-01", "must not be after"),
    ("1900-01-01", None, "between 2000 and 2100"),
])
def test_bad_dates_are_explained(since, until, message):
    with pytest.raises(st.StatsInputError, match=message):
        st.DateRange.parse(since, until)


async def test_the_sqlite_file_holds_aggregate_rows_only(sqlite_store):
    await add(sqlite_store, 3, date(2026, 11, 23))
    import sqlite3

    conn = sqlite3.connect(sqlite_store.path)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(check_counts)")]
    rows = sorted(conn.execute("SELECT * FROM check_counts"))
    conn.close()
    assert columns == ["week", "dimension", "value", "count"]
    assert rows == [("2026-W48", "channel", "widget", 3), ("2026-W48", "risk", "high", 3),
                    ("2026-W48", "total", "all", 3), ("2026-W48", "type", "brushing_rebate", 3)]


def test_no_file_is_made_until_something_is_counted(tmp_path: Path):
    store = st.store_from_env({"STATS_DB": str(tmp_path / "s.db")})
    assert isinstance(store, st.SQLiteStatsStore) and not (tmp_path / "s.db").exists()
    assert isinstance(st.store_from_env({"REDIS_URL": REDIS_URL}), st.RedisStatsStore)
    assert isinstance(st.store_from_env({"STATS_REDIS_URL": REDIS_URL, "STATS_DB": "x.db"}), st.RedisStatsStore)


# -- words: summary and CSV ---------------------------------------------------------

NAMES = {"brushing_rebate": "刷单返利", "customer_service_impersonation": "冒充客服", "none": "未发现诈骗迹象",
         "police_impersonation": "冒充公检法"}


def test_weekly_summary_in_plain_chinese():
    this = st.Totals(by_type={"brushing_rebate": 9, "customer_service_impersonation": 8, "none": 15, "police_impersonation": 3},
                     by_risk={"high": 12, "medium": 10, "low": 15}, by_week={"2026-W48": 37})
    before = st.Totals(by_week={"2026-W47": 30})
    text = st.weekly_summary("2026-W48", this, before, NAMES, today=date(2026, 11, 29))
    assert text == ("本周（11月23日—11月29日）居民通过反诈自查助手共完成自查 37 次，其中高危 12 次；"
                    "查得最多的是刷单返利（9 次）和冒充客服（8 次）。自查次数比上周多 7 次。"
                    "建议近期宣传重点提醒居民防范刷单返利和冒充客服。")
    last_week = st.weekly_summary("2026-W48", this, st.Totals(), NAMES, today=date(2026, 12, 1))
    assert last_week.startswith("上周（11月23日—11月29日）") and "比上周" not in last_week  # no baseline to compare


def test_summary_never_gives_a_count_under_five():
    small = st.Totals(by_type={"brushing_rebate": 3}, by_risk={"high": 3}, by_week={"2026-W53": 3})
    text = st.weekly_summary("2026-W53", small, st.Totals(), NAMES, today=date(2027, 2, 1))
    assert text == "2026年第53周（12月28日—2027年1月3日）居民通过反诈自查助手完成自查不到 5 次，数量太少，暂不细分。"
    mixed = st.Totals(by_type={"brushing_rebate": 6, "police_impersonation": 2}, by_risk={"high": 4, "low": 4},
                      by_week={"2026-W48": 8})
    text = st.weekly_summary("2026-W48", mixed, st.Totals(by_week={"2026-W47": 2}), NAMES, today=date(2026, 11, 29))
    assert "高危不到 5 次" in text and "冒充公检法（不到 5 次）" in text
    assert "比上周" not in text  # a difference against a small count would reveal it
    assert not any(f" {n} 次" in text for n in range(1, 5))


def test_csv_has_every_table_with_the_same_suppression():
    totals = st.Totals(by_type={"brushing_rebate": 9, "police_impersonation": 2}, by_risk={"high": 9, "low": 2},
                       by_channel={"widget": 11}, by_week={"2026-W47": 4, "2026-W48": 7})
    text = st.csv_text(totals, st.DateRange(), NAMES)
    assert text.startswith("\ufeff")  # Excel opens the Chinese correctly
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["分类", "代码", "名称", "次数"]
    assert ["合计", "total", "全部自查", "11"] in rows
    assert ["诈骗类型", "brushing_rebate", "刷单返利", "9"] in rows
    assert ["诈骗类型", "police_impersonation", "冒充公检法", "<5"] in rows
    assert ["风险等级", "medium", "中危", "<5"] in rows and ["风险等级", "low", "低危", "<5"] in rows
    assert ["渠道", "widget", "网页聊天", "11"] in rows and ["渠道", "wechat", "微信公众号", "<5"] in rows
    assert ["周", "2026-W47", "11月16日—11月22日", "<5"] in rows and ["周", "2026-W48", "11月23日—11月29日", "7"] in rows
    assert not {"1", "2", "3", "4"} & {r[3] for r in rows[1:]}


def test_chart_bars_hide_small_counts_behind_a_fixed_stub():
    drawn = bars([("a", 20, ""), ("b", 10, ""), ("c", 4, ""), ("d", 1, "")], space=200)
    assert [(b.shown, b.length) for b in drawn] == [(20, 200), (10, 100), ("<5", STUB), ("<5", STUB)]


# -- HTTP: the API, the dashboard and the CSV ---------------------------------------


def stats_app(store, operators_file: Path, kb) -> web.Application:
    app = web.Application(middlewares=[json_errors])
    app["max_body"] = 64 * 1024
    app[LIVE_KB_KEY] = LiveKb.of(kb)
    app[CHECK_LISTENERS] = []
    setup_pages(app)
    auth.setup_auth(app, [TOKEN], auth.AuthConfig(operators_file=operators_file, session_secret=Fernet.generate_key(),
                                                  session_max_age=3600, secure_cookies=False))
    setup_stats(app, store)
    return app


@pytest.fixture
def operators_file(tmp_path: Path) -> Path:
    path = tmp_path / "operators.yml"
    auth.save_operator(path, "li", PASSWORD, "李社工", ["outreach"])
    auth.save_operator(path, "wang", PASSWORD, "王警官", ["operator"])
    return path


@pytest.fixture
async def client(aiohttp_client, store, operators_file, real_kb):
    return await aiohttp_client(stats_app(store, operators_file, real_kb))


async def login(client, username="li"):
    resp = await client.post("/console/login", data={"username": username, "password": PASSWORD, "next": "/outreach/stats"},
                             allow_redirects=False)
    assert resp.status == 302


BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_api_needs_a_token_and_answers_the_contract(client, store):
    assert (await client.get("/api/v1/stats")).status == 401
    assert (await client.get("/api/v1/stats", headers={"Authorization": "Bearer nope"})).status == 401
    await add(store, 5, date(2026, 11, 24), "wechat")
    await add(store, 1, date(2026, 11, 24), "api", scam_type="none", risk="low")
    resp = await client.get("/api/v1/stats?since=2026-11-23&until=2026-11-29", headers=BEARER)
    assert resp.status == 200
    body = await resp.json()
    assert body == {"by_type": {"brushing_rebate": 5, "none": "<5"}, "by_risk": {"high": 5, "medium": "<5", "low": "<5"},
                    "by_channel": {"widget": "<5", "wechat": 5, "api": "<5"},
                    "by_week": [{"week": "2026-W48", "count": 6}], "total": 6,
                    "since": "2026-11-23", "until": "2026-11-29"}


@pytest.mark.parametrize("query", ["since=2026-02-30", "until=tomorrow", "since=2026-12-01&until=2026-11-01"])
async def test_api_bad_dates_are_a_400_with_an_error(client, query):
    resp = await client.get(f"/api/v1/stats?{query}", headers=BEARER)
    assert resp.status == 400
    assert "error" in await resp.json()


async def test_every_completed_check_is_counted_through_the_listener(client, store):
    for listener in client.app[CHECK_LISTENERS]:
        await listener(verdict("fake_loan", "medium"), "wechat")
    totals = await st.totals_for(store, st.DateRange())
    assert totals.by_type == {"fake_loan": 1} and totals.by_channel == {"wechat": 1}
    assert list(totals.by_week) == [st.iso_week(st.today_local())]


async def test_dashboard_needs_an_outreach_login(client):
    resp = await client.get("/outreach/stats", headers={"Accept": "text/html"}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/console/login?next=")
    assert (await client.get("/outreach/stats.csv", allow_redirects=False)).status == 401
    await login(client, "wang")  # an operator without the outreach role
    assert (await client.get("/outreach/stats")).status == 403


async def test_dashboard_shows_charts_tables_and_summary(client, store):
    today = st.today_local()
    await add(store, 9, today)
    await add(store, 3, today, "wechat", scam_type="police_impersonation", risk="medium")
    await login(client)
    resp = await client.get("/outreach/stats")
    assert resp.status == 200
    html = await resp.text()
    assert "<svg" in html and "bar-suppressed" in html
    assert "刷单返利" in html and "冒充公检法" in html  # names from the KB
    assert "本周（" in html and "共完成自查 12 次，其中高危 9 次" in html
    assert 'id="copy-summary"' in html and "/site/stats.js" in html
    assert ">3<" not in html and "&lt;5" in html  # the 3 police checks only as <5
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    bad = await client.get("/outreach/stats?since=2026-99-01")
    assert bad.status == 400 and "YYYY-MM-DD" in await bad.text()


async def test_csv_export_after_login(client, store):
    await add(store, 6, date(2026, 11, 24))
    await login(client)
    resp = await client.get("/outreach/stats.csv?since=2026-11-23&until=2026-11-29")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "fanzha-stats-2026-11-23_2026-11-29.csv" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await resp.text()).lstrip("\ufeff"))))
    assert ["诈骗类型", "brushing_rebate", "刷单返利", "6"] in rows and ["渠道", "api", "接口/坐席", "<5"] in rows
    assert (await client.get("/outreach/stats.csv?until=bad")).status == 400
