"""Share with family (issue 15, item 4): POST /api/v1/share, /s/<id>, /s/<id>.png, the stores.

The sender's latest verdict is read from Rasa's tracker; a stand-in Rasa serves the tracker
a real chat would have stored (the verdict card the actions send, computed here by bot.kb).
"""
from __future__ import annotations

import json
import os
import re
import uuid
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any, Dict, List

import pytest
from aiohttp import web

from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.share import SHARE_STORE_KEY, latest_verdict
from bot.kb import assess
from bot.kb.share import ShareCard, ShareCardError, card_from_verdict, share_view
from bot.share.image import card_png
from bot.share.store import RedisShareStore, SqliteShareStore, valid_share_id

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
SENDER = "web:0123456789abcdef"


def tracker_with(verdict: Dict[str, Any] | None, sender: str = SENDER) -> Dict[str, Any]:
    """Events as Rasa stores them: the resident's turn, the verdict text, the verdict card."""
    events: List[Dict[str, Any]] = [{"event": "user", "text": "我接到一个电话"}]
    if verdict is not None:
        events += [{"event": "bot", "text": "⚠️ 高危", "data": {}},
                   {"event": "bot", "text": None, "data": {"custom": {"verdict": verdict}}}]
    events.append({"event": "bot", "text": "还有别的要查吗？", "data": {}})
    return {"sender_id": sender, "events": events}


def fake_tracker_rasa() -> web.Application:
    app = web.Application()
    app["trackers"] = {}

    async def tracker(request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        return web.json_response(app["trackers"].get(sender, {"sender_id": sender, "events": []}))

    async def ok(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/conversations/{sender:[^/]+}/tracker", tracker)
    app.router.add_get("/status", ok)
    return app


@pytest.fixture
async def rasa(aiohttp_server):
    return await aiohttp_server(fake_tracker_rasa())


@pytest.fixture
async def client(aiohttp_client, rasa, real_kb):
    url = str(rasa.make_url("")).rstrip("/")
    return await aiohttp_client(create_app(GatewayConfig(url, url), kb=real_kb))


class _Text(HTMLParser):
    """The page's visible text and its attribute values (what a reader or a crawler sees)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: List[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        # src: the QR data URI and the image path; width/height: the QR code's size
        self.parts += [v for k, v in attrs if v and k not in ("src", "width", "height")]


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


POLICE_TEXT = ("我妈刚接到电话，说她医保卡在外地被盗刷了，电话又转给了一个“王建国警官”，"
               "让她把 38600 元转到安全账户，对方号码 13912345678")


async def share_for(client, rasa, real_kb, text: str, sender: str = SENDER) -> Dict[str, Any]:
    verdict = assess(real_kb, text).to_api()
    rasa.app["trackers"][sender] = tracker_with(verdict, sender)
    resp = await client.post("/api/v1/share", json={"sender": sender})
    assert resp.status == 201, await resp.text()
    return await resp.json()


# -- the API ----------------------------------------------------------------------------------


async def test_share_gives_an_unguessable_link_to_the_latest_verdict_for_seven_days(client, rasa, real_kb):
    before = datetime.now(timezone.utc)
    body = await share_for(client, rasa, real_kb, POLICE_TEXT)
    share_id = body["url"].removeprefix("/s/")
    assert body["url"] == f"/s/{share_id}" and body["image_url"] == f"/s/{share_id}.png"
    assert valid_share_id(share_id) and len(share_id) >= 22  # 128 random bits
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=7) - timedelta(minutes=1) < expires - before <= timedelta(days=7, minutes=1)
    again = await client.post("/api/v1/share", json={"sender": SENDER})
    assert (await again.json())["url"] != body["url"]  # every share its own id


async def test_the_stored_share_holds_only_the_derived_ids(client, rasa, real_kb):
    body = await share_for(client, rasa, real_kb, POLICE_TEXT)
    share = await client.app[SHARE_STORE_KEY].get(body["url"].removeprefix("/s/"))
    assert share is not None
    assert set(share.card.to_record()) == {"scam_type", "risk_level", "red_flags", "stage"}
    record = share.to_record()
    for personal in ("38600", "13912345678", "王建国", "医保卡在外地"):
        assert personal not in record
    assert all(f in real_kb.red_flags or f in real_kb.questions for f in share.card.red_flags)


async def test_the_latest_of_several_verdicts_is_shared():
    first, second = {"scam_type": "fake_loan"}, {"scam_type": "prize_scam"}
    events = tracker_with(first)["events"] + tracker_with(second)["events"]
    assert latest_verdict(events) == second
    assert latest_verdict(tracker_with(None)["events"]) is None


async def test_a_sender_without_a_verdict_gets_404(client, rasa):
    rasa.app["trackers"]["web:nothing-yet"] = tracker_with(None, "web:nothing-yet")
    for sender in ("web:nothing-yet", "web:never-seen"):
        resp = await client.post("/api/v1/share", json={"sender": sender})
        assert resp.status == 404
        assert "error" in await resp.json()


@pytest.mark.parametrize("body, status", [({}, 400), ({"sender": ""}, 400), ({"sender": 42}, 400), ([1, 2], 400),
                                          ({"sender": "x" * 500}, 413)])
async def test_bad_share_requests_get_4xx(client, body, status):
    resp = await client.post("/api/v1/share", json=body)
    assert resp.status == status
    assert "error" in await resp.json()


async def test_share_answers_503_when_rasa_is_down(aiohttp_client, real_kb, unused_tcp_port):
    dead = f"http://127.0.0.1:{unused_tcp_port}"
    client = await aiohttp_client(create_app(GatewayConfig(dead, dead), kb=real_kb))
    resp = await client.post("/api/v1/share", json={"sender": SENDER})
    assert resp.status == 503
    assert "error" in await resp.json()


# -- the page and the image --------------------------------------------------------------------


async def test_the_page_shows_type_risk_kb_red_flags_advice_hotlines_and_a_qr_code(client, rasa, real_kb):
    body = await share_for(client, rasa, real_kb, POLICE_TEXT)
    resp = await client.get(body["url"])
    assert resp.status == 200
    assert "noindex" in resp.headers["X-Robots-Tag"]
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    html = await resp.text()
    assert '<meta name="robots" content="noindex' in html
    share = await client.app[SHARE_STORE_KEY].get(body["url"].removeprefix("/s/"))
    view = share_view(real_kb, share.card)
    assert view.risk_name in html and view.short_name in html
    assert real_kb.red_flags["safe_account"][1].description.replace("“", "") in html.replace("“", "")
    assert "96110" in html and "110" in html
    assert "data:image/svg+xml" in html  # the QR code back to the widget
    assert body["image_url"] in html


async def test_the_image_is_a_png_of_the_same_card(client, rasa, real_kb):
    body = await share_for(client, rasa, real_kb, POLICE_TEXT)
    resp = await client.get(body["image_url"])
    assert resp.status == 200 and resp.content_type == "image/png"
    png = await resp.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert "noindex" in resp.headers["X-Robots-Tag"]


@pytest.mark.parametrize("path", ["/s/AAAAAAAAAAAAAAAAAAAAAA", "/s/short", "/s/AAAAAAAAAAAAAAAAAAAAAA.png",
                                  "/s/%3Cscript%3E", "/s/../../etc"])
async def test_unknown_or_malformed_share_ids_get_404(client, path):
    resp = await client.get(path)
    assert resp.status == 404
    if resp.content_type == "text/html":
        assert "noindex" in resp.headers.get("X-Robots-Tag", "")
        assert "110" in await resp.text()


# -- expiry ----------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


CARD = ShareCard("police_impersonation", "high", ("safe_account",), "asked_to_pay")


async def _expires_after_seven_days(store, clock: Clock) -> None:
    share = await store.add(CARD)
    assert share.expires_at - share.created_at == timedelta(days=7)
    clock.now += timedelta(days=6, hours=23)
    assert (await store.get(share.id)).card == CARD
    clock.now += timedelta(hours=1)
    assert await store.get(share.id) is None


async def test_a_sqlite_share_expires_after_seven_days(tmp_path):
    clock = Clock()
    await _expires_after_seven_days(SqliteShareStore(tmp_path / "shares.db", clock=clock), clock)


async def test_a_redis_share_expires_after_seven_days():
    redis = pytest.importorskip("redis.asyncio")
    client = redis.from_url(REDIS_URL, decode_responses=True, socket_timeout=2)
    try:
        await client.ping()
    except Exception as err:  # noqa: BLE001
        await client.close()
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {err}")
    clock = Clock()
    store = RedisShareStore(client, prefix=f"test:share:{uuid.uuid4().hex}:", clock=clock)
    try:
        await _expires_after_seven_days(store, clock)
        share = await store.add(CARD)
        ttl = await client.ttl(store.prefix + share.id)
        assert timedelta(days=7) - timedelta(seconds=5) < timedelta(seconds=ttl) <= timedelta(days=7)
    finally:
        keys = [k async for k in client.scan_iter(match=store.prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.close()


async def test_an_expired_share_page_is_404(client, rasa, real_kb):
    store = client.app[SHARE_STORE_KEY]
    body = await share_for(client, rasa, real_kb, POLICE_TEXT)
    real_clock = store.clock
    store.clock = lambda: real_clock() + timedelta(days=7, seconds=1)
    try:
        assert (await client.get(body["url"])).status == 404
        assert (await client.get(body["image_url"])).status == 404
    finally:
        store.clock = real_clock


# -- the card ------------------------------------------------------------------------------


def test_a_verdict_of_an_unknown_type_or_level_cannot_be_shared(real_kb):
    with pytest.raises(ShareCardError):
        card_from_verdict(real_kb, {"scam_type": "made_up", "risk_level": "high"})
    with pytest.raises(ShareCardError):
        card_from_verdict(real_kb, {"scam_type": "fake_loan", "risk_level": "extreme"})


def test_indicator_red_flags_whose_words_name_the_number_are_left_out(real_kb):
    verdict = {"scam_type": "phishing_sms", "risk_level": "high", "stage": "not_engaged",
               "red_flags": [{"id": "ind_reported", "description": "此号码已被举报：13912345678"},
                             {"id": "safe_account", "description": "x", "quote": "13912345678"}]}
    assert card_from_verdict(real_kb, verdict).red_flags == ("safe_account",)


def test_money_gone_puts_the_police_and_the_bank_first_without_naming_the_bank(real_kb):
    view = share_view(real_kb, ShareCard("police_impersonation", "high", ("safe_account",), "paid"))
    assert "110" in view.urgent_steps[0]
    assert any("银行" in s for s in view.urgent_steps[:3])
    assert view.hotlines[0].number == "110"
    assert view.stage_note


def test_the_image_depends_on_the_card_alone(real_kb):
    view = share_view(real_kb, CARD)
    assert card_png(view, "http://127.0.0.1/") == card_png(share_view(real_kb, ShareCard.from_record(
        json.loads(json.dumps(CARD.to_record())))), "http://127.0.0.1/")


_DIGITS = re.compile(r"\d+")


# -- corpus: nothing the resident wrote reaches the page or the image --------------------------------

NAMES = ["张秀英", "王建国", "李桂芳", "刘志强", "陈美玲", "杨德明", "赵丽华", "周国平", "吴淑珍", "孙海涛"]
# Written here: how residents describe what happened, with the details scammers leave behind.
SCENES = [
    "我妈接到电话，对方自称{name}警官，说她医保卡在外地被盗刷，让她把{amount}元转到安全账户，回电{phone}",
    "有个叫{name}的客服打来{phone}，说我买的东西有质量问题要理赔，让我开屏幕共享，说“{quote}”",
    "网上认识的{name}带我投资，说稳赚不赔，我已经转了{amount}元到卡号{card}，现在提不了现",
    "刷单群里的{name}让我先垫付{amount}块做任务，说“{quote}”，群号{qq}",
    "短信说我的ETC认证失效，点链接 http://etc-{digits}.cn 重新认证，发件号码{phone}",
    "儿子的班主任{name}在家长群发收款码，让交{amount}元资料费，说“{quote}”",
    "有人冒充我领导{name}，加我微信{wx}，让我先帮他转{amount}元给客户",
    "贷款平台的{name}说我征信有问题，要先交{amount}元解冻金，打款到{card}",
    "游戏里有人要用{amount}元买我的账号，让我去一个交易网站注册，联系QQ{qq}",
    "说我中了一等奖，要先交{amount}元手续费，领奖电话{phone}，联系人{name}",
    "朋友{name}说他在国外急用钱，让我转{amount}元到{card}，语音里说“{quote}”",
    "我已经按{name}说的把验证码告诉他了，他说“{quote}”，电话{phone}",
]
QUOTES = ["明天{amount}就能到账", "{name}给你担保", "这是{name}的内部通道", "今天不转就冻结你{digits}号账户",
          "我是{name}本人，别告诉别人"]


def resident_inputs(count: int = 60) -> List[Dict[str, Any]]:
    """`count` descriptions, each with its own phone numbers, amounts, names and quotes."""
    import random

    rng = random.Random(20261202)
    out = []
    for i in range(count):
        name = NAMES[i % len(NAMES)]
        values = {
            "name": name, "phone": "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9)),
            "amount": str(rng.randint(1000, 99999)), "card": "6222" + "".join(rng.choice("0123456789") for _ in range(15)),
            "qq": str(rng.randint(10_000_000, 999_999_999)), "digits": str(rng.randint(1000, 9999)),
            "wx": f"wx_{name}_{rng.randint(1000, 9999)}",
        }
        quote = QUOTES[i % len(QUOTES)].format(**values)
        text = SCENES[i % len(SCENES)].format(quote=quote, **values)
        out.append({"text": text, "names": [name], "quotes": re.findall(r"“([^”]+)”", text)})
    return out


def kb_digit_runs(kb) -> set:
    """Every run of digits the KB itself writes (hotline numbers, "95 开头" …)."""
    from pathlib import Path

    text = "\n".join(p.read_text(encoding="utf-8") for p in Path(kb.source_files["common"]).parent.rglob("*.yml"))
    return set(_DIGITS.findall(text))


async def test_no_digit_quote_or_name_of_the_input_reaches_the_page_or_the_image(client, rasa, real_kb):
    corpus = resident_inputs(60)
    kb_numbers = kb_digit_runs(real_kb)
    assert len(corpus) >= 50
    rendered: Dict[ShareCard, bytes] = {}
    for n, item in enumerate(corpus):
        text = item["text"]
        input_numbers = {d for d in _DIGITS.findall(text) if len(d) >= 3}
        assert input_numbers and item["names"]
        assert not input_numbers & kb_numbers  # the corpus never writes an official number itself
        body = await share_for(client, rasa, real_kb, text, sender=f"web:corpus-{n:04d}")
        html = await (await client.get(body["url"])).text()
        # The gateway's own address (the QR code's and the widget link's) is not the resident's.
        share = await client.app[SHARE_STORE_KEY].get(body["url"].removeprefix("/s/"))
        page_text = visible_text(html).replace(str(client.make_url("/")), "").replace(share.id, "")
        record = share.to_record()
        # Every digit on the page is one the KB writes: none comes from the input.
        assert set(_DIGITS.findall(page_text)) <= kb_numbers, text
        html_without_id = html.replace(share.id, "")
        for secret in [*input_numbers, *item["names"], *item["quotes"]]:
            assert secret not in html_without_id and secret not in record, (secret, text)
        # The image is drawn from the stored ids alone (the same card gives the same bytes,
        # test_the_image_depends_on_the_card_alone): one served image per distinct card is
        # compared with the card drawn from nothing but its ids.
        card = ShareCard.from_record(json.loads(record)["card"])
        if card not in rendered:
            png = await (await client.get(body["image_url"])).read()
            rendered[card] = card_png(share_view(real_kb, card), str(client.make_url("/")))
            assert png == rendered[card], text
    assert len(rendered) >= 3  # the corpus reaches several different cards
