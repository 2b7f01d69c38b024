"""A screenshot sent from the widget (issue 15), in real Chromium: the 图片 button and paste.

The real gateway with the real reader (RapidOCR) against the fake Rasa of
tests/test_widget_browser.py: the picture is read, "我看到的文字：…" is shown masked, and the
text read goes on into the chat (the fake's question, then its verdict card).
Screenshots go to reports/screenshots/widget-image-*.png.
"""
from __future__ import annotations

import base64
import functools
import json

import pytest
from aiohttp import web

from bot.gateway.app import GatewayConfig, create_app
from bot.kb import load_kb
from bot.vision.screenshots import Bubble, Style, render
from tests import live_gateway as live
from tests.conftest import FIXTURES
from tests.live_gateway import PHONE, LiveGateway
from tests.test_widget_browser import FakeRasa

PHONE_NUMBER = "13812345678"
SCAM = [Bubble("您好，我是市公安局的王警官，您的银行卡涉嫌洗钱。", False),
        Bubble("我没有办过什么卡啊", True),
        Bubble(f"请把钱转到安全账户，有问题打我电话{PHONE_NUMBER}", False)]
READ_TIMEOUT_MS = 90_000  # OCR of a phone screenshot on a busy 2-core machine
shot = functools.partial(live.shot, prefix="widget-image-")


def image_app(rasa_url: str) -> web.Application:
    return create_app(GatewayConfig(rasa_url=rasa_url, actions_url=rasa_url), kb=load_kb(FIXTURES / "kb_min"))


@pytest.fixture(scope="module")
def stack():
    fake = FakeRasa()
    fake.delay = 0.2
    s = LiveGateway(image_app, rasa_app=fake.app(), timeout=120).start()
    s.rasa = fake
    yield s
    s.stop()


@pytest.fixture(scope="module")
def screenshot_png() -> bytes:
    # A full-size PNG (well over the gateway's 64 KB JSON body limit): multipart streams it.
    data = render(SCAM, Style(app="wechat", size=(1080, 2340)), seed=5).image
    assert len(data) > 64 * 1024
    return data


@pytest.fixture
def page(browser, stack):
    pg = live.new_page(browser, PHONE, device_scale_factor=2)
    yield pg
    live.close_page(pg)


def open_widget(page, stack) -> None:
    page.goto(stack.url + "/")
    page.wait_for_selector("html[data-ready='1']")


def test_picture_button_reads_the_screenshot_and_the_chat_goes_on(page, stack, screenshot_png):
    from playwright.sync_api import expect

    open_widget(page, stack)
    expect(page.locator("#photo-btn")).to_be_visible()
    stack.rasa.received.clear()
    page.set_input_files("#photo-input", files=[{"name": "IMG_2041.PNG", "mimeType": "image/png",
                                                  "buffer": screenshot_png}])
    expect(page.locator(".row.out .bubble.image-msg")).to_have_text("[图片]")
    expect(page.locator(".typing.reading")).to_contain_text("正在读图片里的文字")  # progress while reading
    shot(page, "reading")

    seen = page.locator(".row.in .bubble", has_text="我看到的文字")
    expect(seen).to_be_visible(timeout=READ_TIMEOUT_MS)
    expect(seen).to_contain_text("安全账户")
    expect(seen).to_contain_text("138****5678")  # masked like stored text
    expect(seen).not_to_contain_text(PHONE_NUMBER)
    expect(seen).not_to_contain_text("5G")  # the status bar is not read

    # The text read went into the chat as if pasted: the question, then the verdict.
    expect(page.locator(".quick-reply")).to_have_count(3, timeout=30_000)
    sent = [message for _, message in stack.rasa.received]
    assert len(sent) == 1 and PHONE_NUMBER in sent[0] and "洗钱" in sent[0]
    page.locator(".quick-reply", has_text="是").first.click()
    expect(page.locator(".bubble.verdict")).to_be_visible()
    shot(page, "verdict")
    # The text read is not kept in the browser's storage once the chat has it.
    history = page.evaluate("localStorage.getItem('fzWidget.v1.history')")
    assert PHONE_NUMBER not in history and "138****5678" in history


def test_elder_mode_paste_a_screenshot(page, stack, screenshot_png):
    from playwright.sync_api import expect

    open_widget(page, stack)
    page.click("#elder-toggle")
    box = page.locator("#photo-btn").bounding_box()
    assert box is not None and box["height"] >= 48  # big enough to hit
    page.evaluate(
        """b64 => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "clipboard.png", {type: "image/png"}));
            document.getElementById("input").dispatchEvent(
                new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        base64.b64encode(screenshot_png).decode(),
    )
    reading = page.locator(".typing.reading .reading-text")
    expect(reading).to_be_visible()
    assert reading.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 18
    expect(page.locator(".row.in .bubble", has_text="我看到的文字")).to_be_visible(timeout=READ_TIMEOUT_MS)
    expect(page.locator(".quick-reply")).to_have_count(3, timeout=30_000)
    assert page.locator("#input").input_value() == ""  # the picture did not land in the text box
    shot(page, "elder")


def test_a_file_that_is_not_a_picture_gets_a_plain_explanation(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    stack.rasa.received.clear()
    page.set_input_files("#photo-input", files=[{"name": "shot.png", "mimeType": "image/png",
                                                  "buffer": "这不是图片，只是改了名字".encode() * 20}])
    expect(page.locator(".notice")).to_contain_text("只能读 PNG、JPG 或 WebP 图片", timeout=30_000)
    expect(page.locator(".row.out", has_text="[图片]")).to_contain_text("没读出来")
    assert stack.rasa.received == []  # nothing went into the chat
    assert json.loads(page.evaluate("localStorage.getItem('fzWidget.v1.history')"))[-1]["t"] == "notice"
