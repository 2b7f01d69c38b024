"""Rate limits at the edge (issue 13): per client address and per sender, with `limits`.

One limiter per gateway (`app[LIMITER_KEY]`), counting in Redis when ``REDIS_URL`` is
set (every replica counts together) and in memory otherwise. The rates are settings
(bot/settings.py, ``RATE_LIMIT_*``); each scope below names one of them:

- ``chat_address`` / ``assess_address``: ``POST /api/v1/chat`` and ``/api/v1/assess``
  per client address, checked by the middleware before the body is read;
- ``chat_sender``: ``/api/v1/chat`` per ``sender`` (the API handler uses `sender_turn`),
  and at most ``RATE_LIMIT_CHAT_IN_FLIGHT`` turns of one sender at a time in this process:
  a conversation is sequential (Rasa locks it), so more would only queue up in Rasa and
  slow everybody else down;
- ``wechat_address`` / ``wechat_sender``: ``/wechat`` per address and per openid, after
  the signature check — answered with a WeChat text reply, never an error status;
- ``login_address`` / ``login_username``: *wrong* logins on ``/console/login`` per
  address and per username (bot/gateway/auth.py); a right login clears the username.

A refused API request is answered after ``RATE_LIMIT_TARPIT_S`` (2 s; at most
``MAX_TARPITTED`` such answers wait at once, the rest are answered at once): a client
that ignores Retry-After and fires again as soon as it is answered then costs the
gateway a few requests a second instead of hundreds (measured in `make bench`).
WeChat's text replies are never delayed (WeChat waits 5 s at most).

A refused request gets 429, ``Retry-After`` (whole seconds) and ``{"error": RATE_LIMITED_TEXT}``
— the text still says where to turn now: 110 if money is gone, 96110 to ask.
Senders and usernames are hashed before they become storage keys. When the store
fails (Redis down) the request is let through and a warning is logged: a limiter must
never be the reason a resident gets no answer.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable, Dict, Optional

from aiohttp import web
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from bot.gateway.errors import ApiError, error_response
from bot.settings import Settings

log = logging.getLogger(__name__)

IN_FLIGHT_TEXT = (
    "上一条还在分析，请等回复出来再发下一条。\n"
    "钱已经转出去了，马上打 110 报警，再打银行电话。\n"
    "拿不准的，打 96110 反诈专线问一问。"
)
IN_FLIGHT_RETRY_AFTER_S = 1
MAX_TARPITTED = 256  # refused answers held back at once; past that they go out at once
RATE_LIMITED_TEXT = (
    "发送太频繁了，请 {seconds} 秒后再试。\n"
    "钱已经转出去了，马上打 110 报警，再打银行电话。\n"
    "拿不准的，打 96110 反诈专线问一问。"
)
LOGIN_LIMITED_TEXT = "尝试次数太多，请 {minutes} 分钟后再试。"

SCOPES = (
    "chat_sender", "chat_address", "assess_address", "wechat_sender", "wechat_address",
    "login_address", "login_username",
)
# Routes limited per client address by the middleware (before the body is read).
ADDRESS_SCOPES: Dict[str, str] = {"/api/v1/chat": "chat_address", "/api/v1/assess": "assess_address",
                                  "/api/v1/share": "assess_address", "/api/v1/assess/image": "assess_address"}


def rate_limited_text(retry_after: int) -> str:
    return RATE_LIMITED_TEXT.format(seconds=retry_after)


class RateLimited(ApiError):
    """429 with Retry-After; `json_errors` renders it as `{"error": ...}`."""

    def __init__(self, retry_after: int, message: str = "") -> None:
        super().__init__(429, message or rate_limited_text(retry_after))
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


def _key(value: str) -> str:
    # Raw senders, openids and usernames never become storage keys (privacy, key size).
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class RateLimiter:
    """The gateway's limits, one `RateLimitItem` per scope, in one storage."""

    def __init__(self, items: Dict[str, RateLimitItem], storage_uri: str = "memory://",
                 prefix: str = "fzzc:ratelimit", enabled: bool = True, max_in_flight: int = 2,
                 tarpit_s: float = 0.0) -> None:
        unknown = set(items) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown rate-limit scopes: {sorted(unknown)}")
        self.items = items
        self.prefix = prefix
        self.enabled = enabled
        self.max_in_flight = max(1, max_in_flight)
        self.tarpit_s = max(0.0, tarpit_s)
        self._tarpitted = 0
        self.in_flight: Dict[str, int] = {}  # sender → turns running now (this process)
        self.storage_uri = storage_uri
        options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if storage_uri.startswith("redis") else {}
        # The strategy keeps only a weak reference to its storage: hold the storage here.
        self.storage = storage_from_string(storage_uri, **options)
        self.strategy = MovingWindowRateLimiter(self.storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        items = {}
        for scope in SCOPES:
            name = f"rate_limit_{scope}"
            try:
                items[scope] = parse(getattr(settings, name))
            except ValueError as err:
                raise ValueError(f"{name.upper()}: not a rate such as '20/minute': {err}") from err
        return cls(items, settings.redis_url or "memory://", settings.rate_limit_prefix, settings.rate_limits_enabled,
                   settings.rate_limit_chat_in_flight, settings.rate_limit_tarpit_s)

    def _retry_after(self, item: RateLimitItem, *ids: str) -> int:
        reset, _remaining = self.strategy.get_window_stats(item, *ids)
        return max(1, math.ceil(reset - time.time()))

    def hit(self, scope: str, value: str) -> Optional[int]:
        """Count one request; None when allowed, else the seconds to wait."""
        if not self.enabled:
            return None
        item, ids = self.items[scope], (self.prefix, scope, _key(value))
        try:
            if self.strategy.hit(item, *ids):
                return None
            return self._retry_after(item, *ids)
        except Exception as err:  # noqa: BLE001 - a broken store must not block residents
            log.warning("rate limiter store failed (%s): letting the request through", err.__class__.__name__, exc_info=True)
            return None

    def blocked(self, scope: str, value: str) -> Optional[int]:
        """Whether `scope` is used up for `value`, without counting; the seconds to wait."""
        if not self.enabled:
            return None
        item, ids = self.items[scope], (self.prefix, scope, _key(value))
        try:
            return None if self.strategy.test(item, *ids) else self._retry_after(item, *ids)
        except Exception as err:  # noqa: BLE001
            log.warning("rate limiter store failed (%s): letting the request through", err.__class__.__name__, exc_info=True)
            return None

    async def tarpit(self) -> None:
        """Hold a refused answer back `tarpit_s` (unless MAX_TARPITTED already wait)."""
        if self.tarpit_s <= 0 or self._tarpitted >= MAX_TARPITTED:
            return
        self._tarpitted += 1
        try:
            await asyncio.sleep(self.tarpit_s)
        finally:
            self._tarpitted -= 1

    def clear(self, scope: str, value: str) -> None:
        try:
            self.strategy.clear(self.items[scope], self.prefix, scope, _key(value))
        except Exception as err:  # noqa: BLE001
            log.warning("rate limiter store failed (%s) while clearing", err.__class__.__name__)


LIMITER_KEY = web.AppKey("rate_limiter", RateLimiter)


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def enforce(request: web.Request, scope: str, value: str) -> None:
    """Count one request of `value` in `scope`; raise `RateLimited` (429) when it is over."""
    limiter = request.app.get(LIMITER_KEY)
    retry_after = limiter.hit(scope, value) if limiter is not None else None
    if retry_after is not None:
        log.info("rate limit %s reached (retry after %d s)", scope, retry_after)
        raise RateLimited(retry_after)


@asynccontextmanager
async def sender_turn(request: web.Request, scope: str, sender: str) -> AsyncIterator[None]:
    """One turn of `sender`: refused (429) while it already has `max_in_flight` turns
    running, or when `scope`'s rate is used up; counted while it runs."""
    limiter = request.app.get(LIMITER_KEY)
    if limiter is None or not limiter.enabled:
        yield
        return
    running = limiter.in_flight.get(sender, 0)
    try:
        if running >= limiter.max_in_flight:
            raise RateLimited(IN_FLIGHT_RETRY_AFTER_S, IN_FLIGHT_TEXT)
        enforce(request, scope, sender)
    except RateLimited:
        await limiter.tarpit()
        raise
    limiter.in_flight[sender] = running + 1
    try:
        yield
    finally:
        left = limiter.in_flight.get(sender, 1) - 1
        if left > 0:
            limiter.in_flight[sender] = left
        else:
            limiter.in_flight.pop(sender, None)


def too_many(retry_after: int) -> web.Response:
    response = error_response(429, rate_limited_text(retry_after))
    response.headers["Retry-After"] = str(retry_after)
    return response


@web.middleware
async def address_limits(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    scope = ADDRESS_SCOPES.get(request.path) if request.method == "POST" else None
    if scope is not None:
        try:
            enforce(request, scope, client_address(request))
        except RateLimited as err:
            await request.app[LIMITER_KEY].tarpit()
            return too_many(err.retry_after)
    return await handler(request)


def setup_ratelimits(app: web.Application, settings: Settings) -> RateLimiter:
    limiter = RateLimiter.from_settings(settings)
    app[LIMITER_KEY] = limiter
    app.middlewares.append(address_limits)
    log.info("rate limits %s (store: %s)", "on" if limiter.enabled else "off",
             "redis" if limiter.storage_uri.startswith("redis") else "memory")
    return limiter
