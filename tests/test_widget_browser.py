"""The residents' web widget in a real browser (Debian's chromium driven by Playwright).

The gateway runs in-process (a background thread with its own event loop)
against a FAKE Rasa: a tiny aiohttp server with scripted replies (a question
with buttons, then a verdict card), so no trained model is needed.  Screenshots
go to reports/screenshots/widget-*.png.

The HTTP checks at the top need no browser; the browser tests are skipped only
when /usr/bin/chromium is missing.
"""
from __future__ import annotations

import asyncio
import functools
import json
import re
import types

import pytest
from aiohttp import web

from bot.gateway.app import GatewayConfig, create_app
from tests import live_gateway as live
from tests.live_gateway import PHONE, ROOT, LiveGateway

STATIC = ROOT / "bot" / "gateway" / "static"

DESCRIPTION = "我妈刚接到电话，说她医保卡在外地被盗刷了，电话又转给了一个警官"
QUESTION = "对方有没有让她转账到“安全账户”，或者下载软件、开视频？"
VERDICT = {
    "scam_type": "police_impersonation",
    "scam_name": "冒充公检法及政府机关（含医保、社保）",
    "risk_level": "high",
    "confidence": 0.92,
    "red_flags": [
        {"id": "medical_card_stolen", "description": "说医保卡在外地被盗刷，再转接“警官”，这是这类骗局的固定套路",
         "quote": "医保卡在外地被盗刷"},
        {"id": "video_statement", "description": "要求下载软件、开视频做笔录，公安机关不会这样办案",
         "quote": "下载一个软件开视频做笔录"},
    ],
    "advice": ["挂断电话，不下载、不转账、不说验证码", "已经转了钱：马上打 110，再打银行客服电话止付", "拿不准：打 96110 反诈专线问一问"],
    "hotlines": [{"name": "反诈专线", "number": "96110", "when": "拿不准、想核实的时候"},
                 {"name": "报警电话", "number": "110", "when": "已经转了钱"}],
    "questions": [],
    "money_lost": False,
}
LOW_VERDICT = {
    "scam_type": "none", "scam_name": "未发现诈骗迹象", "risk_level": "low", "confidence": 0.7,
    "red_flags": [], "advice": ["风险不高，但还是要通过官方电话核实一下"],
    "hotlines": [{"name": "反诈专线", "number": "96110", "when": "拿不准的时候"}], "questions": [], "money_lost": False,
}
LOST_VERDICT = {
    "scam_type": "brushing_rebate", "scam_name": "刷单返利（点赞关注、做任务、垫付）", "risk_level": "medium",
    "confidence": 0.64, "red_flags": [{"id": "prepay", "description": "做任务要先垫付"}],
    "advice": ["停止继续垫钱"], "hotlines": [{"name": "报警电话", "number": "110", "when": "已经转了钱"}],
    "questions": [], "money_lost": True,
}
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>粗体</b>'


# -- fake Rasa + the real gateway, in a background event loop ------------------------------

class FakeRasa:
    """Answers Rasa's REST channel with a scripted conversation."""

    def __init__(self) -> None:
        self.received: list = []
        self.fail = False
        self.delay = 0.4

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender, message = body["sender"], body["message"]
        self.received.append((sender, message))
        await asyncio.sleep(self.delay)
        if self.fail:
            return web.json_response({"error": "model not loaded"}, status=500)
        if message.startswith("/affirm"):
            out = [{"recipient_id": sender, "text": "⚠ 高危 · 冒充公检法及政府机关"},
                   {"recipient_id": sender, "custom": {"verdict": VERDICT}}]
        # Typed "/deny" and "/lost" are this fake's shortcuts to canned verdicts; the gateway
        # hands typed commands on neutralised ("／deny", issue 13), so match that form too.
        elif message in ("/deny", "／deny"):
            out = [{"recipient_id": sender, "custom": {"verdict": LOW_VERDICT}}]
        elif message in ("/lost", "／lost"):
            out = [{"recipient_id": sender, "text": "先别急，马上止付。"},
                   {"recipient_id": sender, "custom": {"verdict": LOST_VERDICT}}]
        elif message.startswith("/"):
            out = [{"recipient_id": sender, "text": "好的，风险不高。拿不准可以打 96110 问一问。"}]
        elif "<" in message:
            out = [{"recipient_id": sender, "text": XSS}]
        else:
            out = [{"recipient_id": sender, "text": "听起来像「冒充公检法」诈骗。问您一个问题，帮您判断："},
                   {"recipient_id": sender, "text": QUESTION, "buttons": [
                       {"title": "是", "payload": "/affirm"}, {"title": "不是", "payload": "/deny"},
                       {"title": "不确定", "payload": "/unsure"}]}]
        return web.json_response(out)

    async def ok(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def host_page(self, request: web.Request) -> web.Response:
        # A community website on another origin that embeds the widget with one line.
        gateway = request.app["gateway_url"]
        html = (
            "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>幸福里社区</title></head>"
            "<body style='font-family:sans-serif;background:#f6f3ea;margin:0;padding:40px'>"
            "<h1>幸福里社区服务站</h1><p>本周三上午九点，社区活动室有防骗讲座，欢迎参加。</p>"
            f"<script src=\"{gateway}/widget/embed.js\"></script></body></html>"
        )
        return web.Response(text=html, content_type="text/html")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_get("/status", self.ok)
        app.router.add_get("/health", self.ok)
        app.router.add_get("/host.html", self.host_page)
        return app


def widget_app(rasa_url: str) -> web.Application:
    config = GatewayConfig(rasa_url=rasa_url, actions_url=rasa_url)
    # The widget never touches the knowledge base; keep this test independent of data/kb.
    return create_app(config, kb=types.SimpleNamespace(questions={}))


@pytest.fixture(scope="module")
def stack():
    fake = FakeRasa()
    s = LiveGateway(widget_app, rasa_app=fake.app()).start()
    s.rasa = fake
    s.rasa_app["gateway_url"] = s.url  # the host page embeds the widget from the gateway
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def reset_fake(request):
    if "stack" in request.fixturenames:
        s = request.getfixturevalue("stack")
        s.rasa.fail, s.rasa.delay = False, 0.4
        s.rasa.received.clear()
    yield


# -- HTTP checks (no browser needed) ------------------------------------------------------

def _get(url: str):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_widget_page_and_assets_are_served_locally(stack):
    status, headers, body = _get(stack.url + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = body.decode("utf-8")
    assert "反诈自查助手" in html and 'lang="zh-CN"' in html
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    # Every asset the page refers to is served by the gateway itself.
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and not [r for r in refs if r.startswith(("http:", "https:", "//"))]
    for ref in refs:
        if not ref.startswith("tel:"):
            assert _get(stack.url + "/" + ref)[0] == 200, ref
    status, headers, body = _get(stack.url + "/widget/embed.js")
    assert status == 200 and "javascript" in headers["Content-Type"]
    assert headers.get("Access-Control-Allow-Origin") == "*"


def test_static_files_do_not_escape_their_folder(stack):
    for path in ("/widget/../app.py", "/widget/%2e%2e/app.py", "/widget/..%2fwechat.py"):
        status, _, body = _get(stack.url + path)
        assert status in (403, 404), path
        assert b"import" not in body


def test_widget_sources_use_no_cdn_and_no_html_injection():
    sources = {p.name: p.read_text(encoding="utf-8") for p in STATIC.iterdir() if p.suffix in (".js", ".css", ".html")}
    assert {"index.html", "widget.css", "widget.js", "embed.js"} <= set(sources)
    for name, text in sources.items():
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments may show an example URL
        assert not re.search(r"https?://|//cdn|@import|fonts\.googleapis", code), name
        if name.endswith(".js"):
            assert not re.search(r"\.innerHTML\s*=|outerHTML\s*=|insertAdjacentHTML|document\.write|eval\(", code), name


# -- browser --------------------------------------------------------------------------------

@pytest.fixture
def page(browser, stack):
    pg = live.new_page(browser, PHONE, device_scale_factor=2)
    yield pg
    live.close_page(pg)


shot = functools.partial(live.shot, prefix="widget-")


def open_widget(page, stack) -> None:
    page.goto(stack.url + "/")
    page.wait_for_selector("html[data-ready='1']")


def send(page, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")


def stored_sender(page) -> str:
    return json.loads(page.evaluate("localStorage.getItem('fzWidget.v1.sender')"))


def test_conversation_quick_reply_and_verdict_card(page, stack):
    from playwright.sync_api import expect

    requests: list = []
    page.on("request", lambda r: requests.append(r.url))
    open_widget(page, stack)
    expect(page.locator(".row.in .bubble").first).to_contain_text("我是反诈自查助手")
    expect(page.locator("#send-btn")).to_be_disabled()

    send(page, DESCRIPTION)
    expect(page.locator(".row.out .bubble").last).to_have_text(DESCRIPTION)
    expect(page.locator("#input")).to_have_value("")
    expect(page.locator(".row.typing")).to_be_visible()  # typing indicator while Rasa thinks
    expect(page.locator(".row.in .bubble").last).to_have_text(QUESTION)
    expect(page.locator(".row.typing")).to_have_count(0)
    expect(page.locator(".time-sep")).to_have_count(1)
    buttons = page.locator(".quick-reply")
    expect(buttons).to_have_text(["是", "不是", "不确定"])
    shot(page, "conversation")

    buttons.filter(has_text="不确定").wait_for()
    page.locator(".quick-reply", has_text=re.compile("^是$")).click()
    expect(page.locator(".row.out .bubble").last).to_have_text("是")  # shows the title …
    card = page.locator(".bubble.verdict")
    expect(card).to_be_visible()
    assert stack.rasa.received[-1] == (stored_sender(page), "/affirm")  # … sends the payload
    expect(page.locator(".quick-reply")).to_have_count(0)

    expect(card).to_have_attribute("data-risk", "high")
    expect(card.locator(".verdict-level")).to_have_text("高危")
    expect(card.locator(".verdict-type")).to_have_text(VERDICT["scam_name"])
    expect(card.locator(".red-flag")).to_have_count(2)
    expect(card.locator(".red-flag").first).to_contain_text("原话：“医保卡在外地被盗刷”")
    expect(card.locator(".advice li")).to_have_text(VERDICT["advice"])
    hotline = card.locator("a.hotline").first
    expect(hotline).to_have_attribute("href", "tel:96110")
    expect(hotline).to_contain_text("反诈专线")
    expect(card.locator("a.hotline").nth(1)).to_have_attribute("href", "tel:110")
    head_bg = card.locator(".verdict-head").evaluate("e => getComputedStyle(e).backgroundColor")
    assert head_bg == "rgb(250, 81, 81)"  # red for 高危
    out_bg = page.locator(".row.out .bubble").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert out_bg == "rgb(149, 236, 105)"  # WeChat green #95EC69
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(237, 237, 237)"
    expect(card.locator(".verdict-head")).to_be_in_viewport()  # scrolled to the card's first line
    shot(page, "verdict")
    shot(card, "verdict-card")

    # All traffic stays on the gateway: no CDN, no web fonts.
    assert requests and all(u.startswith(stack.url) for u in requests), requests


def test_reload_keeps_history_and_sender(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    send(page, DESCRIPTION)
    page.locator(".quick-reply", has_text=re.compile("^是$")).click()
    expect(page.locator(".bubble.verdict")).to_be_visible()
    sender = stored_sender(page)
    before = page.locator(".messages .row").all_inner_texts()

    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    expect(page.locator(".messages .row")).to_have_count(len(before))
    assert page.locator(".messages .row").all_inner_texts() == before
    expect(page.locator(".bubble.verdict a.hotline").first).to_have_attribute("href", "tel:96110")

    send(page, "还有一个：有人加我微信说能帮我注销校园贷")
    expect(page.locator(".row.in .bubble").last).to_have_text(QUESTION)
    assert stored_sender(page) == sender
    assert {s for s, _ in stack.rasa.received} == {sender}
    assert sender.startswith("web:")
    shot(page, "reloaded")


def test_elder_mode_bigger_text_and_one_tap_96110(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    send(page, DESCRIPTION)
    expect(page.locator(".quick-reply")).to_have_count(3)
    call = page.locator("#elder-call")
    expect(call).to_be_hidden()
    normal = page.locator(".row.in .bubble").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")

    page.click("#elder-toggle")
    expect(page.locator("body")).to_have_class(re.compile(r"\belder\b"))
    expect(page.locator("#elder-toggle")).to_have_attribute("aria-pressed", "true")
    expect(call).to_be_visible()
    expect(call).to_have_attribute("href", "tel:96110")
    expect(call).to_contain_text("96110")
    big = page.locator(".row.in .bubble").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert normal == 16 and big >= 22
    qr_height = page.locator(".quick-reply").first.evaluate("e => e.getBoundingClientRect().height")
    assert qr_height >= 48  # big enough to hit
    assert page.evaluate("getComputedStyle(document.querySelector('.row.in .bubble')).color") == "rgb(0, 0, 0)"
    shot(page, "elder")

    page.reload()  # remembered
    page.wait_for_selector("html[data-ready='1']")
    expect(page.locator("body")).to_have_class(re.compile(r"\belder\b"))
    expect(call).to_be_visible()
    # The call bar stays on screen while the conversation scrolls.
    page.locator(".quick-reply", has_text=re.compile("^是$")).click()
    expect(page.locator(".bubble.verdict")).to_be_visible()
    page.locator(".messages").evaluate("e => e.scrollTop = e.scrollHeight")
    box = call.bounding_box()
    assert box is not None and box["y"] < 120 and box["height"] >= 48
    shot(page, "elder-verdict")

    page.click("#elder-toggle")
    expect(call).to_be_hidden()
    assert page.evaluate("localStorage.getItem('fzWidget.v1.elder')") == "false"


def _gateway_busy(route) -> None:
    route.fulfill(status=503, content_type="application/json", body='{"error": "busy"}')


def test_gateway_error_shows_retry_and_keeps_the_message(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    # The gateway itself answers 503 (a silent Rasa no longer does: it gets the degraded reply).
    page.route("**/api/v1/chat", _gateway_busy)
    text = "有人说我快递丢了要理赔，让我扫码"
    send(page, text)
    notice = page.locator(".notice")
    expect(notice).to_contain_text("没发出去")
    expect(page.locator(".row.out.failed .bubble")).to_have_text(text)
    expect(page.locator(".failed-mark")).to_be_visible()
    shot(page, "error")

    page.reload()  # the failed message survives a reload too
    page.wait_for_selector("html[data-ready='1']")
    expect(page.locator(".row.out.failed .bubble")).to_have_text(text)

    page.unroute("**/api/v1/chat")
    page.locator(".notice .retry").click()
    expect(page.locator(".row.in .bubble").last).to_have_text(QUESTION)
    expect(page.locator(".notice")).to_have_count(0)
    expect(page.locator(".row.out.failed")).to_have_count(0)
    expect(page.locator(".row.out .bubble")).to_have_text([text])
    assert [m for _, m in stack.rasa.received] == [text]  # the 503 came from the route, not Rasa


def test_rasa_silent_the_widget_shows_the_degraded_reply_keeps_the_message_and_96110(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    call = page.locator("#call-96110")  # 96110 in every mode, not only 长辈模式
    expect(call).to_be_visible()
    expect(call).to_have_attribute("href", "tel:96110")
    stack.rasa.delay = 4.5  # Rasa silent past 3 s: the gateway answers from bot.kb
    text = "有人说我快递丢了要理赔，让我扫码"
    send(page, text)
    reply = page.locator(".row.in .bubble", has_text="96110").last
    expect(reply).to_be_visible(timeout=4000)
    expect(reply).to_contain_text("110")
    expect(page.locator(".row.out.kept .kept-mark")).to_have_text("已记下，恢复后接着查")
    expect(page.locator(".row.out .bubble")).to_have_text([text])  # the typed text stays
    expect(page.locator(".notice")).to_have_count(0)
    expect(reply.locator("a[href='tel:96110']")).to_have_count(1)
    shot(page, "degraded")

    page.reload()  # the kept message survives a reload
    page.wait_for_selector("html[data-ready='1']")
    expect(page.locator(".row.out.kept .bubble")).to_have_text(text)

    stack.rasa.delay = 0.4  # Rasa answers again: 「接着查」 replays the kept message, nothing retyped
    page.locator(".quick-reply", has_text="接着查").click()
    expect(page.locator(".row.in .bubble").last).to_have_text(QUESTION)
    expect(page.locator(".row.out.kept")).to_have_count(0)
    assert [m for _, m in stack.rasa.received] == [text, text]  # the unanswered try, then the replay

    page.click("#elder-toggle")  # 长辈模式: the big call bar instead of the small button
    expect(page.locator("#elder-call")).to_be_visible()
    expect(call).to_be_hidden()


def test_network_error_and_unsent_draft_survive(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    page.route("**/api/v1/chat", lambda route: route.abort())
    send(page, "网络断了也别丢")
    expect(page.locator(".notice")).to_contain_text("网络好像断了")
    page.unroute("**/api/v1/chat")
    page.fill("#input", "还没发的话，刷新后还在")
    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    expect(page.locator("#input")).to_have_value("还没发的话，刷新后还在")
    page.locator(".failed-mark").click()  # the red mark resends, as in WeChat
    expect(page.locator(".row.in .bubble").last).to_have_text(QUESTION)


def test_bot_text_is_shown_as_text_never_as_html(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    send(page, "<b>我发的也是纯文字</b>")
    last = page.locator(".row.in .bubble").last
    expect(last).to_have_text(XSS)
    expect(page.locator(".row.out .bubble").last).to_have_text("<b>我发的也是纯文字</b>")
    assert page.locator(".messages img:not(.avatar)").count() == 0
    assert page.locator(".messages b, .messages script").count() == 0
    page.wait_for_timeout(200)
    assert page.evaluate("window.__xss") is None


def test_composer_grows_enter_sends_shift_enter_newline(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    box = page.locator("#input")
    h0 = box.evaluate("e => e.getBoundingClientRect().height")
    box.click()
    page.keyboard.type("第一行")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("第二行")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("第三行")
    expect(box).to_have_value("第一行\n第二行\n第三行")
    expect(page.locator("#send-btn")).to_be_enabled()
    h1 = box.evaluate("e => e.getBoundingClientRect().height")
    assert h1 > h0 + 20
    assert page.locator(".row.out").count() == 0  # Shift+Enter did not send
    page.keyboard.press("Enter")
    expect(page.locator(".row.out .bubble")).to_have_text(["第一行\n第二行\n第三行"])
    expect(box).to_have_value("")
    assert box.evaluate("e => e.getBoundingClientRect().height") == pytest.approx(h0, abs=2)
    # Whitespace alone is not sent; the send button sends too.
    page.fill("#input", "   ")
    page.press("#input", "Enter")
    page.fill("#input", "用按钮发")
    page.click("#send-btn")
    expect(page.locator(".row.out .bubble")).to_have_count(2)


def test_embed_script_adds_a_button_and_an_iframe(browser, stack):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(stack.rasa_url + "/host.html")  # another origin than the gateway
        button = page.locator("#fz-widget-button")
        expect(button).to_be_visible()
        expect(button).to_contain_text("反诈自查")
        button.click()
        frame_el = page.locator("#fz-widget-frame")
        expect(frame_el).to_be_visible()
        assert frame_el.get_attribute("src") == stack.url + "/?embed=1"
        frame = page.frame_locator("#fz-widget-frame")
        expect(frame.locator(".row.in .bubble").first).to_contain_text("反诈自查助手")
        frame.locator("#input").fill(DESCRIPTION)
        frame.locator("#input").press("Enter")
        expect(frame.locator(".quick-reply")).to_have_count(3)
        shot(page, "embed")
        expect(frame.locator("#close-btn")).to_be_visible()
        frame.locator("#close-btn").click()  # postMessage to the host page closes the panel
        expect(frame_el).to_be_hidden()
        button.click()
        expect(frame_el).to_be_visible()
        expect(frame.locator(".quick-reply")).to_have_count(3)  # same conversation
    finally:
        context.close()


def test_time_separators_follow_wechat_rules(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    page.evaluate("""() => {
        const now = Date.now(), d = new Date(now - 86400000);
        const yesterday = new Date(d.getFullYear(), d.getMonth(), d.getDate(), 9, 5).getTime();
        // "today" even in the first minute after midnight (the page's time zone)
        const today = Math.max(now - 60000, new Date(now).setHours(0, 0, 0, 0));
        const items = [
          {id: "a1", t: "user", text: "昨天早上的消息", ts: yesterday, status: "sent"},
          {id: "a2", t: "bot", text: "两分钟后的回答", ts: yesterday + 120000},
          {id: "a3", t: "user", text: "今天的消息", ts: today, status: "sent"},
          {id: "a4", t: "bot", text: "今天的回答", ts: today + 10000},
        ];
        localStorage.setItem("fzWidget.v1.history", JSON.stringify(items));
    }""")
    page.reload()
    page.wait_for_selector("html[data-ready='1']")
    seps = page.locator(".time-sep")
    expect(seps).to_have_count(2)  # a gap under 5 minutes gets no separator
    expect(seps.first).to_have_text("昨天 09:05")
    expect(seps.nth(1)).to_have_text(re.compile(r"^\d{2}:\d{2}$"))


def test_clear_starts_a_new_conversation(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    send(page, DESCRIPTION)
    expect(page.locator(".quick-reply")).to_have_count(3)
    old_sender = stored_sender(page)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#clear-btn")
    expect(page.locator(".messages .row")).to_have_count(1)  # only the greeting
    expect(page.locator(".row.in .bubble")).to_contain_text("我是反诈自查助手")
    assert stored_sender(page) != old_sender and stored_sender(page).startswith("web:")


def test_low_and_medium_verdict_cards(page, stack):
    from playwright.sync_api import expect

    open_widget(page, stack)
    send(page, "/deny")
    low = page.locator(".bubble.verdict").last
    expect(low).to_have_attribute("data-risk", "low")
    expect(low.locator(".verdict-level")).to_have_text("低危")
    expect(low.locator(".verdict-icon")).to_be_hidden()
    expect(low.locator(".verdict-confidence")).to_have_count(0)  # no "把握" for 未发现诈骗迹象
    assert low.locator(".verdict-head").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(7, 193, 96)"

    send(page, "/lost")
    card = page.locator(".bubble.verdict").last
    expect(card).to_have_attribute("data-risk", "medium")
    expect(card.locator(".money-lost")).to_contain_text("马上打 110")
    expect(card.locator(".money-lost a")).to_have_attribute("href", "tel:110")
    assert card.locator(".verdict-head").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(250, 157, 59)"
    shot(card, "verdict-money-lost")
