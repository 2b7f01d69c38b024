"""The outreach pages in a real browser (Debian's chromium driven by Playwright).

The real gateway runs in a background thread against a fake Rasa; statistics go to a
temporary SQLite file and the outreach account to a temporary accounts file.
Screenshots: reports/screenshots/outreach-index.png, outreach-pack-<audience>.png,
outreach-stats.png.
"""
from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.gateway import auth
from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.stats import STATS_STORE_KEY
from bot.outreach import packs
from bot.outreach import stats as st
from tests import live_gateway as live
from tests.fake_rasa import fake_rasa_app
from tests.live_gateway import shot

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outreach")
    operators = tmp / "operators.yml"
    auth.save_operator(operators, "li", PASSWORD, "李社工", ["outreach"])
    with pytest.MonkeyPatch.context() as mp:
        for name in ("STATS_REDIS_URL", "REDIS_URL", "PUBLIC_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("STATS_DB", str(tmp / "stats.db"))
        # No community alert from another module's tests: each printed alert takes a row of tips.
        mp.setenv("ALERTS_DB", str(tmp / "alerts.db"))
        mp.setenv("OPERATORS_FILE", str(operators))
        s = live.LiveGateway(lambda rasa_url: create_app(GatewayConfig(rasa_url, rasa_url)),
                             rasa_app=fake_rasa_app()).start()
    yield s
    s.stop()


def _expected_failure(url: str) -> bool:
    return live.is_favicon(url) or "/outreach/packs/pets" in url


@pytest.fixture
def page(browser, stack):
    pg = live.new_page(browser, {"width": 1200, "height": 900})
    pg.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
    live.report_console_errors(pg)  # CSP violations show here
    live.report_failed_responses(pg, _expected_failure)
    yield pg
    live.close_page(pg, stack.url, "data:")  # no CDN, no web fonts


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
