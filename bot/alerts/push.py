"""Pushing an alert to WeChat subscribers through the customer-service message API.

The calls are wechatpy's (`client.message.send_text`, which POSTs message/custom/send and
fetches the access token itself); the API base URL comes from the settings, so the tests
and the bench run the whole path against a local HTTP server.

- Rate: every attempt (retries too) waits for its slot on one `Pacer`, so the push never
  exceeds `ALERT_PUSH_RATE` messages per second; `ALERT_PUSH_WORKERS` calls run at once
  (wechatpy is synchronous: they run on a thread pool, and wait for their slot there).
- Retries (the `backoff` library): a transient failure — WeChat busy (-1), its rate limit
  (45009), a network error or an HTTP 5xx — is tried again up to `ALERT_PUSH_RETRIES`
  times with exponential back-off and jitter; any other error (the user has not written
  in 48 h: 45015, unfollowed: 43004 …) is given up at once.
- Failures are logged with `subscriber_ref(openid)`, a hash, never the OpenID.
- Progress (total / sent / failed / state) is kept in the alert store, so any replica's
  GET /api/v1/alerts/{id} shows it.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Optional, Set

import backoff
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.alerts.models import Alert, PushProgress
from bot.alerts.store import AlertStore
from bot.alerts.texts import push_text
from bot.settings import Settings

log = logging.getLogger(__name__)
# WeChat's error codes worth another try: system busy, API rate limit.
TRANSIENT_ERRCODES = frozenset({-1, 45009})


@dataclass(frozen=True)
class PushConfig:
    app_id: str
    app_secret: str
    api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"
    rate_per_s: float = 20.0
    retries: int = 3
    backoff_s: float = 1.0
    timeout_s: float = 10.0
    workers: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> Optional["PushConfig"]:
        """The push's configuration, or None when WeChat's app id or secret is not set."""
        if not (settings.wechat_app_id.strip() and settings.wechat_app_secret.strip()):
            return None
        base = settings.wechat_api_base_url.strip()
        return cls(
            settings.wechat_app_id.strip(), settings.wechat_app_secret.strip(),
            base if base.endswith("/") else base + "/",
            rate_per_s=max(0.1, settings.alert_push_rate), retries=max(0, settings.alert_push_retries),
            backoff_s=max(0.0, settings.alert_push_backoff_s), timeout_s=settings.alert_push_timeout_s,
            workers=max(1, settings.alert_push_workers),
        )


class OfficialAccountClient(WeChatClient):
    """wechatpy's client with the base URL configurable for the token call too
    (wechatpy writes https://api.weixin.qq.com/cgi-bin/token in full there)."""

    def __init__(self, config: PushConfig) -> None:
        super().__init__(config.app_id, config.app_secret, timeout=config.timeout_s)
        self.API_BASE_URL = config.api_base_url

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def subscriber_ref(openid: str) -> str:
    """A stable, short stand-in for an OpenID in logs (the OpenID itself never is)."""
    return "sub-" + hashlib.sha256(openid.encode("utf-8")).hexdigest()[:12]


def is_transient(err: Exception) -> bool:
    if isinstance(err, requests.RequestException):
        return True
    if isinstance(err, WeChatClientException):
        # errcode None: wechatpy's wrapper of an HTTP error status (a 5xx, a proxy's 502)
        return err.errcode is None or int(err.errcode) in TRANSIENT_ERRCODES
    return False


def _error_name(err: Exception) -> str:
    code = getattr(err, "errcode", None)
    return f"errcode {code}" if code is not None else type(err).__name__


class Pacer:
    """At most `rate` attempts a second: each one starts at least 1/rate after the one before.

    Waited on in the worker thread right before the HTTP call, and spaced from the moment
    the previous call really left: pacing before the hand-over to the pool, or from planned
    slots, let late calls leave in bursts on a busy machine (29 in one second at 25/s, seen
    in the bench). A late call makes the push slower, never faster. (The `limits` package
    behind the gateway's limits only says yes or no; a push has to wait for its turn.)"""

    def __init__(self, rate_per_s: float) -> None:
        self.interval = 1.0 / rate_per_s
        self._last = -self.interval
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:  # one caller at a time, in turn
            delay = self._last + self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._last = time.monotonic()


class AlertPusher:
    """Sends alerts to the store's subscribers in background tasks (one per alert)."""

    def __init__(self, store: AlertStore, config: PushConfig, names: Callable[[str], str],
                 client: Optional[WeChatClient] = None) -> None:
        self.store = store
        self.config = config
        self.names = names  # scam type id → short name, for the message text
        self.client = client or OfficialAccountClient(config)
        self._executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="alert-push")
        self._pacer = Pacer(config.rate_per_s)
        self._tasks: Set["asyncio.Task[None]"] = set()
        self._send = backoff.on_exception(
            backoff.expo, Exception, max_tries=config.retries + 1, factor=config.backoff_s,
            giveup=lambda err: not is_transient(err), jitter=backoff.full_jitter, logger=None,
        )(self._attempt)

    def start(self, alert: Alert) -> "asyncio.Task[None]":
        task = asyncio.ensure_future(self.push(alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _paced_send(self, openid: str, text: str) -> None:
        self._pacer.wait()
        self.client.message.send_text(openid, text)

    async def _attempt(self, openid: str, text: str) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._paced_send, openid, text)

    async def _deliver(self, alert: Alert, openid: str, text: str, slots: asyncio.Semaphore) -> bool:
        async with slots:
            try:
                await self._send(openid, text)
            except Exception as err:  # noqa: BLE001 - one subscriber's failure never stops the rest
                log.warning("alert %s: not delivered to %s (%s)", alert.id, subscriber_ref(openid), _error_name(err))
                await self.store.count_delivery(alert.id, False)
                return False
        await self.store.count_delivery(alert.id, True)
        return True

    async def push(self, alert: Alert) -> PushProgress:
        """Send `alert` to every subscriber it reaches; returns the final counts."""
        openids = [openid for openid, audience in await self.store.subscribers() if alert.reaches(audience)]
        await self.store.set_progress(alert.id, PushProgress("sending", len(openids)))
        if openids:  # the access token once, before the workers start (else each would fetch one)
            await asyncio.get_running_loop().run_in_executor(self._executor, lambda: self.client.access_token)
        text = push_text(alert, self.names)
        slots = asyncio.Semaphore(self.config.workers)
        results = await asyncio.gather(*(self._deliver(alert, o, text, slots) for o in openids))
        progress = PushProgress("done", len(openids), sum(results), len(results) - sum(results))
        await self.store.set_progress(alert.id, progress)
        log.info("alert %s pushed: %d sent, %d failed", alert.id, progress.sent, progress.failed)
        return progress

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
