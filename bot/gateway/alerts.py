"""Community alerts on the gateway (issue 16): the API, the outreach page, the store and the push.

- `POST /api/v1/alerts` (Bearer) and the form on `/outreach/alerts` (an account with the
  outreach role) both go through `publish`: checked by bot.alerts.new_alert, stored, and
  pushed to WeChat subscribers in the background when the push is configured.
- `GET /api/v1/alerts` (public: the widget reads it) lists the active ones, newest first;
  `GET /api/v1/alerts/{id}` (Bearer) adds the push's progress.
- The store (Redis with REDIS_URL, else SQLite ALERTS_DB) is opened at start-up; the
  WeChat connector keeps its subscriptions there too.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from bot.alerts import AUDIENCES, Alert, AlertValidationError, PushProgress, new_alert, open_alert_store
from bot.alerts.models import DEFAULT_DAYS, DEFAULT_TYPE, MAX_DAYS, MAX_TEXT_CHARS, MAX_TITLE_CHARS, utc_now
from bot.alerts.push import AlertPusher, PushConfig, subscriber_ref
from bot.alerts.texts import (
    NOT_SUBSCRIBED_TEXT,
    SUBSCRIBED_TEXT,
    UNKNOWN_AUDIENCE_TEXT,
    UNSUBSCRIBED_TEXT,
    Subscription,
)
from bot.gateway.auth import login_required, read_form, require_api_token
from bot.gateway.console.view import check_same_origin
from bot.gateway.errors import ApiError, json_response, read_json_object
from bot.gateway.keys import ALERT_PUSHER_KEY, ALERT_STORE_KEY, current_kb
from bot.kb.models import NON_SCAM_TYPES
from bot.settings import Settings

log = logging.getLogger(__name__)
ALERTS_PATH = "/api/v1/alerts"
PAGE_PATH = "/outreach/alerts"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the outreach workers' days, as the statistics use


def type_name(app: web.Application, scam_type: str) -> str:
    scam = (getattr(current_kb(app), "scam_types", None) or {}).get(scam_type)
    return scam.short_name if scam is not None and scam_type not in NON_SCAM_TYPES else ""


def alert_api(app: web.Application, alert: Alert) -> Dict[str, Any]:
    return alert.to_api(type_name(app, alert.scam_type))


async def active_alerts(app: web.Application) -> List[Alert]:
    """The active alerts, newest first (what the widget, the chat and the tip sheets show);
    none in an app built without setup_alerts (a tool or a test of one part)."""
    store = app.get(ALERT_STORE_KEY)
    return await store.active(utc_now()) if store is not None else []


async def publish(app: web.Application, fields: Mapping[str, Any], author: str = "") -> Tuple[Alert, PushProgress]:
    """Check, store and (when configured) push an alert; AlertValidationError on a bad field."""
    alert = new_alert(fields, current_kb(app).scam_types, author=author)
    await app[ALERT_STORE_KEY].add(alert)
    pusher = app[ALERT_PUSHER_KEY]
    progress = PushProgress()
    if pusher is not None:
        progress = PushProgress("sending")
        pusher.start(alert)
    log.info("alert %s published (%s, %s, until %s) by %s", alert.id, alert.scam_type, alert.audience,
             alert.expires_at.isoformat(timespec="minutes"), author or "the API")
    return alert, progress


# -- API -------------------------------------------------------------------------------------


@require_api_token
async def create_alert(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    try:
        alert, progress = await publish(request.app, body)
    except AlertValidationError as err:
        raise ApiError(400, str(err)) from err
    data = {**alert_api(request.app, alert), "push": progress.to_api()}
    return json_response(data, status=201, headers={"Location": f"{ALERTS_PATH}/{alert.id}"})


async def list_alerts(request: web.Request) -> web.Response:
    alerts = [alert_api(request.app, a) for a in await active_alerts(request.app)]
    # Never from a cache: a new alert shows on the next page load, an expired one is gone.
    return json_response({"alerts": alerts}, headers={"Cache-Control": "no-cache"})


@require_api_token
async def get_alert(request: web.Request) -> web.Response:
    store = request.app[ALERT_STORE_KEY]
    alert = await store.get(request.match_info["id"])
    if alert is None:
        raise ApiError(404, "no alert with this id")
    progress = await store.progress(alert.id)
    return json_response({**alert_api(request.app, alert), "active": alert.is_active(utc_now()), "push": progress.to_api()})


# -- the outreach page -----------------------------------------------------------------------


def _expiry_from_form(value: str) -> Optional[str]:
    """The form's day (YYYY-MM-DD) as the end of that day in China time; '' → the default."""
    value = value.strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise AlertValidationError("expires_at", f"not a date: {value!r}") from None
    return datetime.combine(day, time(23, 59, 59), LOCAL_TZ).isoformat()


_FIELD_LABELS = {"title": "标题", "text": "内容", "scam_type": "骗局类型", "audience": "提醒谁", "expires_at": "有效期"}


async def _page_context(request: web.Request, form: Mapping[str, str], error: str = "") -> Dict[str, Any]:
    store = request.app[ALERT_STORE_KEY]
    rows = []
    for alert in await active_alerts(request.app):
        rows.append({"alert": alert_api(request.app, alert), "push": (await store.progress(alert.id)).to_api(),
                     "expires": alert.expires_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")})
    kb = current_kb(request.app)
    today = datetime.now(LOCAL_TZ).date()
    return {
        "operator": request["operator"], "rows": rows, "error": error, "form": form,
        "created": request.query.get("created", ""),
        "types": [(t, s.short_name) for t, s in kb.scam_types.items() if t not in NON_SCAM_TYPES],
        "default_type": DEFAULT_TYPE, "audiences": AUDIENCES, "push_on": request.app[ALERT_PUSHER_KEY] is not None,
        "max_title": MAX_TITLE_CHARS, "max_text": MAX_TEXT_CHARS,
        "min_day": (today + timedelta(days=1)).isoformat(), "max_day": (today + timedelta(days=MAX_DAYS - 1)).isoformat(),
        "default_day": (today + timedelta(days=DEFAULT_DAYS)).isoformat(),
    }


@login_required("outreach")
async def alerts_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("outreach_alerts.html", request, await _page_context(request, {}))


@login_required("outreach")
async def alerts_form(request: web.Request) -> web.StreamResponse:
    check_same_origin(request)
    posted = await read_form(request)
    if posted is None:
        raise ApiError(400, "the form could not be read")
    form = {k: str(v) for k, v in posted.items() if isinstance(v, str)}
    try:
        fields = {**form, "expires_at": _expiry_from_form(form.get("expires_on", ""))}
        alert, _ = await publish(request.app, fields, author=request["operator"].username)
    except AlertValidationError as err:
        message = f"{_FIELD_LABELS.get(err.field, err.field)}：{str(err).split(': ', 1)[-1]}"
        context = await _page_context(request, form, error=message)
        return aiohttp_jinja2.render_template("outreach_alerts.html", request, context, status=400)
    raise web.HTTPSeeOther(f"{PAGE_PATH}?created={alert.id}")


# -- set-up -----------------------------------------------------------------------------------


async def _alerts_ctx(app: web.Application, settings: Settings) -> AsyncIterator[None]:
    store = await open_alert_store(settings.redis_url, settings.alerts_db, settings.alerts_redis_prefix)
    app[ALERT_STORE_KEY] = store
    config = PushConfig.from_settings(settings)
    pusher = AlertPusher(store, config, partial(type_name, app)) if config is not None else None
    app[ALERT_PUSHER_KEY] = pusher
    log.info("alert store: %s; WeChat push %s", type(store).__name__,
             f"on ({config.rate_per_s:g} msg/s via {config.api_base_url})" if config else "off (no WECHAT_APP_SECRET)")
    yield
    if pusher is not None:
        await pusher.close()
    await store.close()


def setup_alerts(app: web.Application, settings: Settings) -> None:
    app.cleanup_ctx.append(partial(_alerts_ctx, settings=settings))
    app.router.add_post(ALERTS_PATH, create_alert)
    app.router.add_get(ALERTS_PATH, list_alerts)
    app.router.add_get(ALERTS_PATH + "/{id}", get_alert)
    app.router.add_get(PAGE_PATH, alerts_page)
    app.router.add_post(PAGE_PATH, alerts_form)


# -- WeChat subscriptions (bot/gateway/wechat.py hands the commands here) ---------------------


async def subscription_reply(app: web.Application, openid: str, command: Subscription) -> str:
    """Store or remove a subscription (the OpenID and the audience only) and say so."""
    store = app[ALERT_STORE_KEY]
    if not command.subscribe:
        removed = await store.unsubscribe(openid)
        log.info("WeChat: %s unsubscribed from alerts", subscriber_ref(openid))
        return UNSUBSCRIBED_TEXT if removed else NOT_SUBSCRIBED_TEXT
    if command.audience is None:
        return UNKNOWN_AUDIENCE_TEXT
    await store.subscribe(openid, command.audience)
    log.info("WeChat: %s subscribed to alerts (%s)", subscriber_ref(openid), command.audience)
    return SUBSCRIBED_TEXT.format(audience=command.audience)


async def forget_subscriber(app: web.Application, openid: str) -> None:
    """Someone unfollowed the Official Account: their subscription goes with them."""
    if await app[ALERT_STORE_KEY].unsubscribe(openid):
        log.info("WeChat: %s unfollowed; alert subscription removed", subscriber_ref(openid))
