"""Community alerts in Debian's chromium: the widget's banner (and 长辈模式), and the outreach
page a worker publishes from. Screenshots: reports/screenshots/alerts-*.png.
"""
from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from bot.gateway.app import create_app
from bot.gateway.auth import save_operator
from bot.settings import Settings
from tests import live_gateway as live
from tests.live_gateway import PHONE, LiveGateway, shot

TOKEN = "alerts-browser-token"
PASSWORD = "outreach-pass-1"
ALERT = {"title": "冒充“医保局”来电说医保卡被冻结", "scam_type": "police_impersonation", "audience": "老年人",
         "text": "对方说您的医保卡在外地被盗刷，要转接“警官”视频做笔录。\n医保局和警察都不会这样打电话。挂断，打 96110 问一问。"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, real_kb):
    folder = tmp_path_factory.mktemp("alerts-browser")
    save_operator(folder / "operators.yml", "li", PASSWORD, "李社工", roles=["outreach"])
    settings = Settings.from_env({
        "API_TOKENS": TOKEN, "ALERTS_DB": str(folder / "alerts.db"), "OPERATORS_FILE": str(folder / "operators.yml"),
        "CASES_URL": f"sqlite:///{folder}/cases.db", "STATS_DB": str(folder / "stats.db"),
    })
    running = LiveGateway(lambda rasa_url: create_app(kb=real_kb, settings=settings.copy(
        update={"rasa_url": rasa_url, "actions_url": rasa_url}))).start()
    yield running
    running.stop()


def publish(stack, **changes) -> dict:
    request = urllib.request.Request(
        stack.url + "/api/v1/alerts", data=json.dumps({**ALERT, **changes}).encode(), method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


@pytest.fixture
def page(browser, stack):
    pg = live.new_page(browser, PHONE, device_scale_factor=2)
    live.report_failed_responses(pg)
    live.report_console_errors(pg)
    yield pg
    live.close_page(pg, stack.url)


def test_the_widget_shows_the_newest_alert_until_it_is_dismissed(page, stack):
    publish(stack, title="较早的一条", audience="所有人")
    newest = publish(stack)
    page.goto(stack.url + "/")
    banner = page.locator("#alert-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-id", newest["id"])
    expect(page.locator("#alert-banner-title")).to_have_text(ALERT["title"])
    expect(page.locator("#alert-banner-type")).to_contain_text("冒充公检法")
    expect(page.locator("#alert-banner-text a.tel")).to_have_text("96110")  # tap-to-call, like the chat
    shot(page, "widget-banner", prefix="alerts-")
    page.click("#alert-banner-body")  # tap: the whole text
    expect(banner).to_have_class(re.compile(r"\bopen\b"))
    shot(page, "widget-banner-open", prefix="alerts-")

    page.click("#alert-banner-close")
    expect(banner).to_be_hidden()
    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    page.wait_for_timeout(300)  # the alerts request has answered
    expect(banner).to_be_hidden()  # dismissed stays dismissed
    third = publish(stack, title="又一条新预警")
    page.reload()
    expect(banner).to_have_attribute("data-id", third["id"])  # a new alert shows again


def test_the_banner_is_large_in_elder_mode(page, stack):
    publish(stack, title="长辈模式下的预警")
    page.goto(stack.url + "/")
    expect(page.locator("#alert-banner")).to_be_visible()
    normal = page.evaluate("parseFloat(getComputedStyle(document.getElementById('alert-banner-title')).fontSize)")
    page.click("#elder-toggle")
    expect(page.locator("body")).to_have_class(re.compile(r"\belder\b"))
    sizes = page.evaluate("""['alert-banner-title', 'alert-banner-text', 'alert-banner-close'].map(
        id => parseFloat(getComputedStyle(document.getElementById(id)).fontSize))""")
    assert normal == 15 and sizes[0] >= 22 and sizes[1] >= 20 and sizes[2] >= 19
    box = page.locator("#alert-banner-close").bounding_box()
    assert box["height"] >= 40  # a finger-sized button
    shot(page, "widget-banner-elder", prefix="alerts-")


def test_an_outreach_worker_publishes_on_the_page(page, stack):
    page.goto(stack.url + "/outreach/alerts")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.fill("input[name=username]", "li")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/outreach/alerts$"))
    page.fill("input[name=title]", "假冒燃气公司上门换表")
    page.fill("textarea[name=text]", "说燃气表到期要换，先交三百元。燃气公司不会上门收现金，请打燃气公司官方电话核实。")
    page.select_option("select[name=audience]", "老年人")
    page.click("#alert-form button[type=submit]")
    expect(page.locator("#created")).to_be_visible()
    row = page.locator("#active-alerts tbody tr", has_text="假冒燃气公司上门换表")
    expect(row).to_contain_text("老年人")
    expect(row).to_contain_text("未推送")  # no WeChat app secret in this gateway
    shot(page, "outreach-page", prefix="alerts-", full_page=True)
    page.goto(stack.url + "/")
    expect(page.locator("#alert-banner-title")).to_have_text("假冒燃气公司上门换表")
