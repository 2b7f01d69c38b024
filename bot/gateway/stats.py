"""Anonymous statistics on the gateway: the counting listener, /api/v1/stats, the dashboard and CSV.

The counting and the '<5' rule live in bot.outreach.stats; this module adapts them to
HTTP and draws the charts as inline SVG on the server (no chart library, no CDN).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Sequence, Tuple

import aiohttp_jinja2
from aiohttp import web

from bot.gateway.auth import login_required, require_api_token
from bot.gateway.errors import ApiError, json_response
from bot.gateway.keys import CHECK_LISTENERS, SETTINGS_KEY, STATS_STORE_KEY, current_kb
from bot.kb import RISK_LABELS
from bot.outreach.stats import (
    CHANNEL_NAMES,
    CHANNELS,
    RISK_LEVELS,
    SUPPRESS_BELOW,
    DateRange,
    StatsInputError,
    StatsStore,
    Totals,
    csv_text,
    iso_week,
    record_check,
    shown,
    store_from_settings,
    today_local,
    totals_for,
    week_dates_label,
    week_start,
    weekly_summary,
)

log = logging.getLogger(__name__)
DASHBOARD_WEEKS = 12  # the dashboard opens on the last twelve weeks
CHART_WIDTH = 640
LABEL_WIDTH = 120
BAR_SPACE = CHART_WIDTH - LABEL_WIDTH - 56
STUB = 6  # a '<5' bar is a fixed stub: its length must not hint at the true count


def _store(app: web.Application) -> StatsStore:
    return app[STATS_STORE_KEY]  # type: ignore[return-value]


def _type_names(app: web.Application) -> Dict[str, str]:
    scam_types = getattr(current_kb(app), "scam_types", None) or {}
    return {t: s.short_name for t, s in scam_types.items()}


async def _totals(app: web.Application, rng: DateRange) -> Totals:
    try:
        return await totals_for(_store(app), rng)
    except (OSError, ConnectionError) as err:
        log.warning("statistics store unavailable: %s", err)
        raise ApiError(503, "statistics store unavailable; please retry later") from err
    except Exception as err:  # redis errors do not share a base class with OSError
        if type(err).__module__.startswith("redis"):
            log.warning("statistics store unavailable: %s", err)
            raise ApiError(503, "statistics store unavailable; please retry later") from err
        raise


def _range_from(query: Mapping[str, str]) -> DateRange:
    try:
        return DateRange.parse(query.get("since"), query.get("until"))
    except StatsInputError as err:
        raise ApiError(400, str(err)) from err


# -- counting -----------------------------------------------------------------------


def make_listener(app: web.Application):
    async def count_completed_check(verdict: Mapping[str, Any], channel: str) -> None:
        known = getattr(current_kb(app), "scam_types", None)
        await record_check(_store(app), verdict, channel, known_types=list(known) if known else None)

    return count_completed_check


# -- API ----------------------------------------------------------------------------


@require_api_token
async def stats_api(request: web.Request) -> web.Response:
    rng = _range_from(request.query)
    return json_response((await _totals(request.app, rng)).to_api(rng))


# -- dashboard ----------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    shown: object  # int >= 5 or '<5'
    length: int
    css: str = ""


def bars(items: Sequence[Tuple[str, int, str]], space: int = BAR_SPACE) -> List[Bar]:
    """Chart bars from (label, raw count, css class); lengths come from the shown values only."""
    values = [(label, shown(count), css) for label, count, css in items]
    top = max((v for _, v, _ in values if isinstance(v, int)), default=SUPPRESS_BELOW)
    return [
        Bar(label, v, max(STUB, round(v / top * space)) if isinstance(v, int) else STUB, css)
        for label, v, css in values
    ]


def _week_label(week: str) -> str:
    monday = week_start(week)
    return f"{monday.month}/{monday.day}"


def dashboard_context(totals: Totals, rng: DateRange, names: Mapping[str, str]) -> Dict[str, Any]:
    weeks = totals.week_series(rng)
    return {
        "total": shown(totals.total),
        "high": shown(totals.by_risk.get("high", 0)),
        "type_bars": bars([(names.get(t, t), c, "bar-type") for t, c in totals.types_by_count()]),
        "risk_bars": bars([(RISK_LABELS[r], totals.by_risk.get(r, 0), f"bar-{r}") for r in RISK_LEVELS]),
        "channel_bars": bars([(CHANNEL_NAMES[ch], totals.by_channel.get(ch, 0), "bar-channel") for ch in CHANNELS]),
        "week_bars": bars([(_week_label(w), c, "bar-week") for w, c in weeks], space=150),
        "type_rows": [(t, names.get(t, t), shown(c)) for t, c in totals.types_by_count()],
        "risk_rows": [(RISK_LABELS[r], shown(totals.by_risk.get(r, 0))) for r in RISK_LEVELS],
        "channel_rows": [(CHANNEL_NAMES[ch], shown(totals.by_channel.get(ch, 0))) for ch in CHANNELS],
        "week_rows": [(w, week_dates_label(w), shown(c)) for w, c in weeks],
    }


def _dashboard_range(query: Mapping[str, str], today: date) -> DateRange:
    """The filter as asked, or the last twelve weeks up to today."""
    if query.get("since") or query.get("until"):
        return DateRange.parse(query.get("since"), query.get("until"))
    return DateRange(today - timedelta(weeks=DASHBOARD_WEEKS - 1), today)


async def _summary(app: web.Application, rng: DateRange, today: date) -> str:
    week = iso_week(min(rng.until or today, today))
    previous = iso_week(week_start(week) - timedelta(days=7))
    this_totals = await _totals(app, DateRange(week_start(week), week_start(week)))
    previous_totals = await _totals(app, DateRange(week_start(previous), week_start(previous)))
    return weekly_summary(week, this_totals, previous_totals, _type_names(app), today)


@login_required("outreach")
async def stats_dashboard(request: web.Request) -> web.Response:
    today = today_local()
    try:
        rng = _dashboard_range(request.query, today)
    except StatsInputError as err:
        context = {"error": str(err), "since": request.query.get("since", ""), "until": request.query.get("until", "")}
        return aiohttp_jinja2.render_template("outreach_stats.html", request, context, status=400)
    totals = await _totals(request.app, rng)
    context = dashboard_context(totals, rng, _type_names(request.app))
    context.update(
        error=None,
        since=rng.since.isoformat() if rng.since else "",
        until=rng.until.isoformat() if rng.until else "",
        summary=await _summary(request.app, rng, today),
        operator=request["operator"],
        csv_query=request.query_string,
    )
    return aiohttp_jinja2.render_template("outreach_stats.html", request, context)


@login_required("outreach")
async def stats_csv(request: web.Request) -> web.Response:
    rng = _range_from(request.query)
    totals = await _totals(request.app, rng)
    span = f"{rng.since or 'start'}_{rng.until or 'now'}"
    return web.Response(
        text=csv_text(totals, rng, _type_names(request.app)),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="fanzha-stats-{span}.csv"', "Cache-Control": "no-store"},
    )


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await _store(app).close()


def setup_stats(app: web.Application, store: Optional[StatsStore] = None) -> None:
    """`store`: the statistics store (default: the one the app's settings name)."""
    app[STATS_STORE_KEY] = store or store_from_settings(app[SETTINGS_KEY])
    app[CHECK_LISTENERS].append(make_listener(app))
    app.cleanup_ctx.append(_store_ctx)
    app.router.add_get("/api/v1/stats", stats_api)
    app.router.add_get("/outreach/stats", stats_dashboard)
    app.router.add_get("/outreach/stats.csv", stats_csv)
