"""Share with family in a real browser (Debian's chromium, Playwright): the widget's
"发给家人看看" button, then the shared page on a phone, screenshotted for a person to look at
(reports/screenshots/share-*.png).

A stand-in Rasa answers the chat with the verdict bot.kb computes for a description full of
personal data, and keeps it in the tracker it serves, as Rasa does.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest
from aiohttp import web

from bot.gateway.app import GatewayConfig, create_app
from bot.kb import assess, load_kb
from tests import live_gateway as live
from tests.live_gateway import PHONE, LiveGateway

DESCRIPTION = ("我妈刚接到电话，对方自称“李建华警官”，说她医保卡在外地被盗刷，"
               "让她把 52800 元转到安全账户，还让她下载软件开视频做笔录，回电 13812345678")
PERSONAL = ["李建华", "52800", "13812345678", "医保卡在外地被盗刷", "开视频做笔录"]


def rasa_with_tracker(kb) -> web.Application:
    app = web.Application()
    app["trackers"] = {}

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        sender, message = body["sender"], body["message"]
        verdict = assess(kb, message).to_api()
        replies: List[Dict[str, Any]] = [{"recipient_id": sender, "text": "⚠️ 高危 · 冒充公检法"},
                                         {"recipient_id": sender, "custom": {"verdict": verdict}}]
        events = app["trackers"].setdefault(sender, [])
        events.append({"event": "user", "text": message})
        events += [{"event": "bot", "text": r.get("text"), "data": {"custom": r.get("custom")}} for r in replies]
        return web.json_response(replies)

    async def tracker(request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        return web.json_response({"sender_id": sender, "events": app["trackers"].get(sender, [])})

    async def ok(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_get("/conversations/{sender:[^/]+}/tracker", tracker)
    app.router.add_get("/status", ok)
    app.router.add_get("/health", ok)
    return app


@pytest.fixture(scope="module")
def stack():
    kb = load_kb()
    gateway = LiveGateway(lambda url: create_app(GatewayConfig(url, url), kb=kb), rasa_app=rasa_with_tracker(kb))
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture
def page(browser):
    page = live.new_page(browser, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    live.report_failed_responses(page)
    live.report_console_errors(page)
    yield page
    live.close_page(page)


def test_the_widget_shares_a_verdict_and_the_family_sees_it_without_the_residents_words(page, stack):
    page.goto(stack.url + "/")
    page.fill("#input", DESCRIPTION)
    page.press("#input", "Enter")
    card = page.locator(".bubble.verdict").last
    card.wait_for()
    button = card.locator(".share-btn")
    assert button.inner_text() == "发给家人看看"
    button.click()
    link = card.locator(".share-link")
    link.wait_for()
    url = link.inner_text()
    assert re.fullmatch(re.escape(stack.url) + r"/s/[A-Za-z0-9_-]{22}", url)
    assert card.locator(".share-image").get_attribute("href").endswith(".png")
    card.locator(".share-actions").scroll_into_view_if_needed()
    live.shot(page, "widget-verdict-share-button", prefix="share-")

    page.goto(url)
    assert page.locator('meta[name="robots"]').get_attribute("content").startswith("noindex")
    text = page.locator("body").inner_text()
    for personal in PERSONAL:
        assert personal not in text and personal not in page.content()
    assert "高危" in text and "冒充公检法" in text
    assert "为什么可疑" in text and "现在就做" in text and "96110" in text
    assert page.locator(".card-qr img").evaluate("img => img.naturalWidth") > 0
    # The phone layout: one column, nothing wider than the screen, readable type.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 16
    live.shot(page, "page-mobile", prefix="share-", full_page=True)

    image = page.request.get(url + ".png")
    assert image.status == 200 and image.headers["content-type"] == "image/png"
    live.SHOTS.mkdir(parents=True, exist_ok=True)
    (live.SHOTS / "share-card-image.png").write_bytes(image.body())


def test_an_unknown_share_shows_a_gone_page_with_the_hotlines(browser, stack):
    page = live.new_page(browser, PHONE, is_mobile=True)
    response = page.goto(stack.url + "/s/AAAAAAAAAAAAAAAAAAAAAA")
    assert response.status == 404
    assert "分享已失效" in page.locator("body").inner_text() and "96110" in page.locator("body").inner_text()
    page.context.close()
