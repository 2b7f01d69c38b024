"""The outreach pages in a real browser (Debian's chromium driven by Playwright).

The real gateway runs in a background thread against a fake Rasa; statistics go to a
temporary SQLite file and the outreach account to a temporary accounts file.
Screenshots: reports/screenshots/outreach-index.png, outreach-pack-<audience>.png,
outreach-stats.png.
"""
from __future__ import annotations

import asyncio
import io
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.gateway import auth
from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.stats import STATS_STORE_KEY
from bot.outreach import packs
from bot.outreach import stats as st
from tests.fake_rasa import fake_rasa_app

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "reports" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "a long enough password"


class Stack:
    """Fake Rasa and the real gateway on free ports, served from a background event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runners: list = []

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.runners.append(runner)
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    def start(self) -> "Stack":
        self.thread.start()
        rasa_url = self.run(self._serve(fake_rasa_app()))
        self.app = create_app(GatewayConfig(rasa_url, rasa_url))
        self.url = self.run(self._serve(self.app))
        return self

    def stop(self) -> None:
        for runner in reversed(self.runners):
            self.run(runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outreach")
    operators = tmp / "operators.yml"
    auth.save_operator(operators, "li", PASSWORD, "李社工", ["outreach"])
    with pytest.MonkeyPatch.context() as mp:
        for name in ("STATS_REDIS_URL", "REDIS_URL", "PUBLIC_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("STATS_DB", str(tmp / "stats.db"))
        mp.setenv("OPERATORS_FILE", str(operators))
        s = Stack().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium fonts-wqy-zenhei)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
    pg = context.new_page()
    pg.set_default_timeout(10000)
    errors: list = []
    requests: list = []
    pg.on("pageerror", lambda err: errors.append(str(err)))
    # Console errors include CSP violations; failed loads are checked by URL below (the browser's own
    # favicon request is not ours).
    pg.on("console", lambda msg: errors.append(msg.text)
          if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    pg.on("response", lambda r: errors.append(f"{r.status} {r.url}")
          if r.status >= 400 and not r.url.endswith("/favicon.ico") and "/outreach/packs/pets" not in r.url else None)
    pg.on("request", lambda r: requests.append(r.url))
    yield pg
    context.close()
    assert not errors, f"errors on the page (CSP violations show here too): {errors}"
    assert all(u.startswith((stack.url, "data:")) for u in requests), requests  # no CDN, no web fonts


def shot(target, name: str, **kw) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    target.screenshot(path=str(path), **kw)
    assert path.stat().st_size > 5000
    return path


def decode_qr(png: bytes) -> list:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]


def test_outreach_index_links_everything(page, stack):
    from playwright.sync_api import expect

    page.goto(stack.url + "/outreach")
    expect(page.locator("h1")).to_have_text("社区反诈宣传")
    expect(page.locator(".pack-link")).to_have_count(4)
    for href in ("/outreach/quiz", "/outreach/simulate", "/outreach/stats"):
        expect(page.locator(f'a[href="{href}"]')).to_have_count(1)
    shot(page, "outreach-index", full_page=True)


@pytest.mark.parametrize("slug", list(packs.AUDIENCES))
def test_tip_sheet_page_prints_on_one_a4_page(page, stack, slug):
    from playwright.sync_api import expect
    from pypdf import PdfReader

    page.goto(f"{stack.url}/outreach/packs/{slug}")
    sheet = page.locator("article.sheet")
    expect(sheet).to_have_attribute("data-audience", slug)
    assert page.locator(".tip").count() >= 3
    expect(page.locator(".hotline-number")).to_have_text(["110", "96110", "12381", "12321", "App"])
    # The QR code a resident scans really opens this gateway's widget.
    qr = page.locator("img.qr")
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 0
    assert decode_qr(qr.screenshot()) == [stack.url + "/"]
    font = sheet.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert font >= (19 if slug == "elderly" else 15)  # large type for elderly readers
    shot(page, f"outreach-pack-{slug}", full_page=True)

    # Printed from the browser: exactly one A4 page, without the site's header and footer.
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".pack-toolbar")).to_be_hidden()
    pdf = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True, print_background=True)))
    assert len(pdf.pages) == 1
    assert abs(float(pdf.pages[0].mediabox.width) - 595.28) < 1


def _seed_counts(stack) -> None:
    store = stack.app[STATS_STORE_KEY]
    today = st.today_local()
    plan = [(0, "brushing_rebate", "high", "widget", 9), (0, "customer_service_impersonation", "high", "wechat", 7),
            (0, "none", "low", "widget", 6), (0, "police_impersonation", "medium", "api", 3),
            (7, "brushing_rebate", "high", "widget", 8), (7, "fake_investment", "medium", "wechat", 5),
            (14, "phishing_sms", "high", "widget", 6), (28, "fake_job", "high", "api", 2)]

    async def seed():
        for days_ago, scam_type, risk, channel, n in plan:
            for _ in range(n):
                await st.record_check(store, {"scam_type": scam_type, "risk_level": risk}, channel,
                                      day=today - timedelta(days=days_ago))

    stack.run(seed())


def test_stats_dashboard_after_login(page, stack):
    from playwright.sync_api import expect

    _seed_counts(stack)
    page.goto(stack.url + "/outreach/stats")
    expect(page).to_have_url(re.compile(r"/console/login\?next=(/|%2F)outreach(/|%2F)stats$"))
    page.fill("input[name=username]", "li")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(stack.url + "/outreach/stats")
    expect(page.locator("#total-count")).to_have_text("46")  # twelve weeks
    expect(page.locator("#high-count")).to_have_text("32")
    summary = page.locator("#weekly-summary")
    expect(summary).to_contain_text("共完成自查 25 次，其中高危 16 次")
    expect(summary).to_contain_text("刷单返利（9 次）和冒充客服（7 次）")
    expect(page.locator("svg.chart")).to_have_count(4)
    expect(page.locator("#table-type tr[data-type=police_impersonation] td.num")).to_have_text("<5")
    expect(page.locator("#table-type tr[data-type=fake_job] td.num")).to_have_text("<5")
    shot(page, "outreach-stats", full_page=True)

    page.click("#copy-summary")
    expect(page.locator("#copy-status")).to_contain_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()") == summary.inner_text().strip()

    # The date filter narrows the range; the CSV link keeps it.
    today = st.today_local()
    monday = st.week_start(st.iso_week(today))
    page.fill("input[name=since]", monday.isoformat())
    page.fill("input[name=until]", today.isoformat())
    page.click(".stats-filter button[type=submit]")
    expect(page.locator("#table-week tbody tr")).to_have_count(1)
    expect(page.locator("#csv-link")).to_have_attribute("href", f"/outreach/stats.csv?since={monday}&until={today}")
    with page.expect_download() as download:
        page.click("#csv-link")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "诈骗类型,brushing_rebate,刷单返利,9" in text and "诈骗类型,police_impersonation,冒充公检法,<5" in text
