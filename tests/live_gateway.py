"""Shared pieces for tests that need a gateway on a real port and a real browser.

`LiveGateway` serves an aiohttp app (usually the gateway, built for the URL of a fake Rasa it
also serves) on free 127.0.0.1 ports from a background thread's event loop, so that
Playwright, urllib or schemathesis can talk to it from the test's own thread.
`launch_chromium()` starts Debian's chromium (never a downloaded browser), `new_page` opens a
zh-CN page that records what went wrong, and `shot` saves a screenshot under
reports/screenshots/.
"""
from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, List, Optional, TypeVar

import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "reports" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
# A port nothing listens on: for gateways whose pages never call Rasa.
DEAD_URL = "http://127.0.0.1:9"
# Below this a screenshot is blank or nearly so.
MIN_SHOT_BYTES = 5000

T = TypeVar("T")


class LiveGateway:
    """`make_app(rasa_url)` (and `rasa_app`, when given) served on free ports.

    After `start()`: `url` (the app), `rasa_url` (the fake Rasa, or DEAD_URL), `app`.
    `run(coro)` runs a coroutine on the servers' loop, e.g. to seed a store the app holds."""

    def __init__(self, make_app: Callable[[str], web.Application],
                 rasa_app: Optional[web.Application] = None, timeout: float = 30) -> None:
        self.make_app = make_app
        self.rasa_app = rasa_app
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runners: List[web.AppRunner] = []

    def run(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=self.timeout)

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.runners.append(runner)
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    def start(self) -> "LiveGateway":
        self.thread.start()
        self.rasa_url = self.run(self._serve(self.rasa_app)) if self.rasa_app is not None else DEAD_URL
        self.app = self.make_app(self.rasa_url)
        self.url = self.run(self._serve(self.app))
        return self

    def stop(self) -> None:
        for runner in reversed(self.runners):
            self.run(runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Debian's headless chromium through Playwright; skips the test when it is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium fonts-wqy-zenhei)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, viewport: dict, *, timeout_ms: int = 10_000, **context_options: Any) -> Any:
    """A page in a fresh zh-CN / Asia/Shanghai context.

    `page.errors` collects uncaught JavaScript errors (and, after `report_failed_responses` or
    `report_console_errors`, those too); `page.requests` every URL the page asked for."""
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", **context_options)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.errors, page.requests = [], []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on("request", lambda r: page.requests.append(r.url))
    return page


def is_favicon(url: str) -> bool:
    """The browser's own favicon probe is not a request of ours."""
    return url.endswith("/favicon.ico")


def report_failed_responses(page: Any, expected: Callable[[str], bool] = is_favicon) -> None:
    """Count every 4xx/5xx answer, but those to `expected` URLs, as an error of the page."""
    page.on("response", lambda r: page.errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not expected(r.url) else None)


def report_console_errors(page: Any) -> None:
    """Count console errors (CSP violations show here) as errors of the page; failed loads are
    left to `report_failed_responses`, which knows their URL."""
    page.on("console", lambda msg: page.errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)


def close_page(page: Any, *allowed_prefixes: str) -> None:
    """Close the page's context, then fail on any recorded error and, when `allowed_prefixes`
    are given, on any request to a URL outside them (a CDN, a web font)."""
    page.context.close()
    assert not page.errors, f"errors on the page: {page.errors}"
    if allowed_prefixes:
        outside = [u for u in page.requests if not u.startswith(allowed_prefixes)]
        assert not outside, f"requests outside the gateway: {outside}"


def shot(target: Any, name: str, *, prefix: str = "", **screenshot_options: Any) -> Path:
    """Screenshot of a page or a locator as reports/screenshots/<prefix><name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{prefix}{name}.png"
    target.screenshot(path=str(path), **screenshot_options)
    assert path.stat().st_size > MIN_SHOT_BYTES
    return path
