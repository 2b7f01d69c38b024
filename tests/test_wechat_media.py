"""WeChat image and voice messages (issue 15, item 3), signed as WeChat signs them, against a
real local HTTP server standing in for WeChat's picture CDN and its media API.

The OCR engine is another part's (bot/vision); here a reader under IMAGE_READER_KEY returns a
known text, and the test checks it got exactly the bytes the picture server sent.
"""
from __future__ import annotations

import asyncio
import io
import time
from typing import List

import pytest
from aiohttp import web
from PIL import Image

from bot.gateway import wechat
from bot.gateway.app import create_app
from bot.gateway.keys import IMAGE_READER_KEY
from bot.gateway.share import SHARE_STORE_KEY
from bot.kb import assess
from tests.test_wechat import (
    ACCOUNT,
    DEAD_RASA,
    OPENID,
    TOKEN,
    fake_chat,  # noqa: F401 - fixture
    reply_fields,
    signed_query,
    stub_kb,
)

READ_TEXT = "【某某银行】您的医保卡在外地被盗刷，请立即把资金转到安全账户配合调查"
APP_SECRET = "test-app-secret"
ACCESS_TOKEN = "ACCESS_TOKEN_FROM_LOCAL_SERVER"
MAX_BYTES = 200_000


def png_bytes(size=(320, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (240, 240, 240)).save(out, format="PNG")
    return out.getvalue()


PICTURE = png_bytes()
MEDIA_PICTURE = png_bytes((200, 320))


def picture_server() -> web.Application:
    """WeChat's picture CDN (PicUrl) and media API (token + media/get) on one local server."""
    app = web.Application()
    app["hits"] = []

    async def pic(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        app["hits"].append(("pic", name))
        if name == "slow.png":
            await asyncio.sleep(3)
        if name == "big.png":  # no Content-Length: the size bound must hold while streaming
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(MAX_BYTES // 10_000 + 5):
                await response.write(b"\0" * 10_000)
            return response
        if name == "missing.png":
            raise web.HTTPNotFound()
        return web.Response(body=PICTURE, content_type="image/png")

    async def token(request: web.Request) -> web.Response:
        app["hits"].append(("token", request.query.get("secret")))
        if request.query.get("secret") != APP_SECRET:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        return web.json_response({"access_token": ACCESS_TOKEN, "expires_in": 7200})

    async def media_get(request: web.Request) -> web.Response:
        app["hits"].append(("media", request.query.get("media_id")))
        if request.query.get("access_token") != ACCESS_TOKEN:
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        if request.query.get("media_id") != "media_ok":
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        return web.Response(body=MEDIA_PICTURE, content_type="image/png")

    app.router.add_get("/pic/{name}", pic)
    app.router.add_get("/cgi-bin/token", token)
    app.router.add_get("/cgi-bin/media/get", media_get)
    return app


class FakeReader:
    """Stands in for the OCR engine: records what it was given, returns a known text."""

    def __init__(self, text: str = READ_TEXT, delay: float = 0.0) -> None:
        self.text = text
        self.delay = delay
        self.seen: List[bytes] = []

    async def __call__(self, data: bytes) -> str:
        self.seen.append(data)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.text


@pytest.fixture
async def pictures(aiohttp_server):
    return await aiohttp_server(picture_server())


@pytest.fixture
def media_env(monkeypatch, pictures):
    base = str(pictures.make_url("")).rstrip("/")
    monkeypatch.setenv("WECHAT_TOKEN", TOKEN)
    monkeypatch.setenv("WECHAT_APP_ID", "wx5f1b2c3d4e5f6a7b")
    monkeypatch.setenv("WECHAT_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("WECHAT_API_BASE_URL", base + "/cgi-bin/")
    monkeypatch.setenv("WECHAT_PIC_HOSTS", f"{pictures.host}:{pictures.port}")
    monkeypatch.setenv("WECHAT_MEDIA_MAX_BYTES", str(MAX_BYTES))
    monkeypatch.setenv("WECHAT_MEDIA_TIMEOUT_S", "1.5")
    return base


@pytest.fixture
def reader() -> FakeReader:
    return FakeReader()


@pytest.fixture
async def client(aiohttp_client, media_env, fake_chat, reader):  # noqa: F811
    app = create_app(DEAD_RASA, kb=stub_kb())
    app[IMAGE_READER_KEY] = reader
    return await aiohttp_client(app)


_ids = iter(range(7_100_000_000_000_000_000, 7_200_000_000_000_000_000))


def image_xml(pic_url: str, media_id: str = "media_ok") -> str:
    return (
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"
        "<CreateTime>%d</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        "<PicUrl><![CDATA[%s]]></PicUrl><MediaId><![CDATA[%s]]></MediaId><MsgId>%d</MsgId></xml>"
        % (ACCOUNT, OPENID, int(time.time()), pic_url, media_id, next(_ids))
    )


def voice_xml(recognition: str | None) -> str:
    rec = "" if recognition is None else "<Recognition><![CDATA[%s]]></Recognition>" % recognition
    return (
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"
        "<CreateTime>%d</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
        "<MediaId><![CDATA[voice_1]]></MediaId><Format><![CDATA[amr]]></Format>%s<MsgId>%d</MsgId></xml>"
        % (ACCOUNT, OPENID, int(time.time()), rec, next(_ids))
    )


async def send(client, xml: str) -> str:
    resp = await client.post("/wechat", params=signed_query(openid=OPENID), data=xml.encode())
    assert resp.status == 200, await resp.text()
    return reply_fields(await resp.text())["Content"]


# -- pictures ---------------------------------------------------------------------------------------


async def test_a_picture_is_fetched_by_picurl_read_and_goes_on_as_pasted_text(client, media_env, reader, fake_chat):  # noqa: F811
    content = await send(client, image_xml(f"{media_env}/pic/chat.png"))
    assert reader.seen == [PICTURE]  # the reader got exactly the picture's bytes
    assert fake_chat.calls == [("wx:" + OPENID, READ_TEXT)]  # one chat turn, as if pasted
    assert content.startswith(wechat.READ_PREFIX + READ_TEXT[:20])
    assert "听起来像冒充公检法" in content  # the chat's reply follows


async def test_without_an_allowed_picurl_the_picture_comes_by_mediaid_through_the_media_api(
    client, pictures, reader, fake_chat  # noqa: F811
):
    content = await send(client, image_xml("http://example.invalid/p.jpg", media_id="media_ok"))
    assert reader.seen == [MEDIA_PICTURE]
    assert ("token", APP_SECRET) in pictures.app["hits"] and ("media", "media_ok") in pictures.app["hits"]
    assert not any(kind == "pic" for kind, _ in pictures.app["hits"])  # the foreign host was never asked
    assert fake_chat.calls == [("wx:" + OPENID, READ_TEXT)]
    assert content.startswith(wechat.READ_PREFIX)


async def test_a_picture_over_the_size_bound_is_cut_off_and_mediaid_tried(client, media_env, pictures, reader):
    content = await send(client, image_xml(f"{media_env}/pic/big.png", media_id="media_ok"))
    assert ("pic", "big.png") in pictures.app["hits"]
    assert reader.seen == [MEDIA_PICTURE]  # the streamed oversize body was dropped
    assert content.startswith(wechat.READ_PREFIX)


@pytest.mark.parametrize("name", ["big.png", "missing.png", "slow.png"])
async def test_a_picture_that_cannot_be_fetched_gets_a_polite_reply_in_time(client, media_env, reader, fake_chat, name):  # noqa: F811
    started = time.monotonic()
    content = await send(client, image_xml(f"{media_env}/pic/{name}", media_id="unknown_media"))
    assert time.monotonic() - started < wechat.REPLY_TIMEOUT_S
    assert content == wechat.IMAGE_FETCH_FAILED_TEXT
    assert reader.seen == [] and fake_chat.calls == []


async def test_a_picture_without_text_asks_for_a_clearer_screenshot(client, media_env, reader, fake_chat):  # noqa: F811
    reader.text = "   "
    assert await send(client, image_xml(f"{media_env}/pic/chat.png")) == wechat.IMAGE_UNREADABLE_TEXT
    assert fake_chat.calls == []


async def test_the_text_read_is_shown_masked(client, media_env, reader):
    reader.text = "我叫张三，对方让我往 6222021234567890123 转账，电话 13912345678"
    content = await send(client, image_xml(f"{media_env}/pic/chat.png"))
    first_line = content.splitlines()[0]
    assert first_line.startswith(wechat.READ_PREFIX)
    assert "6222021234567890123" not in first_line and "13912345678" not in first_line


async def test_slow_reading_gets_the_holding_reply_and_the_answer_comes_with_result(
    client, media_env, reader, fake_chat, monkeypatch  # noqa: F811
):
    monkeypatch.setattr(wechat, "REPLY_TIMEOUT_S", 0.3)
    reader.delay = 0.8
    started = time.monotonic()
    assert await send(client, image_xml(f"{media_env}/pic/chat.png")) == wechat.SLOW_TEXT
    assert time.monotonic() - started < 1.5  # well within WeChat's 5 s
    await asyncio.sleep(1.0)
    later = await send(client, (
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"
        "<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[结果]]></Content><MsgId>%d</MsgId></xml>" % (ACCOUNT, OPENID, int(time.time()), next(_ids))
    ))
    assert later.startswith(wechat.LATE_PREFIX + wechat.READ_PREFIX)
    assert fake_chat.calls == [("wx:" + OPENID, READ_TEXT)]


async def test_a_retried_picture_message_is_read_once(client, media_env, reader, fake_chat):  # noqa: F811
    xml = image_xml(f"{media_env}/pic/chat.png")
    first, second = await asyncio.gather(send(client, xml), send(client, xml))
    assert first == second
    assert len(reader.seen) == 1 and len(fake_chat.calls) == 1


async def test_without_an_ocr_reader_a_picture_gets_a_type_it_reply(aiohttp_client, media_env, fake_chat):  # noqa: F811
    app = create_app(DEAD_RASA, kb=stub_kb())
    app[IMAGE_READER_KEY] = None  # type: ignore[assignment]  # a gateway built without the OCR engine
    client = await aiohttp_client(app)
    assert await send(client, image_xml(f"{media_env}/pic/chat.png")) == wechat.IMAGE_NO_READER_TEXT
    assert fake_chat.calls == []


# -- voice ---------------------------------------------------------------------------------------------


async def test_voice_with_recognition_is_a_typed_message(client, fake_chat):  # noqa: F811
    content = await send(client, voice_xml("有个自称警察的人说我涉嫌洗钱"))
    assert fake_chat.calls == [("wx:" + OPENID, "有个自称警察的人说我涉嫌洗钱")]
    assert "听起来像冒充公检法" in content


@pytest.mark.parametrize("recognition", [None, "", "   "])
async def test_voice_without_recognition_asks_to_type_or_send_a_screenshot(client, fake_chat, recognition):  # noqa: F811
    content = await send(client, voice_xml(recognition))
    assert content == wechat.VOICE_TEXT and "截图" in content and "打字" in content
    assert fake_chat.calls == []


# -- the share link in the verdict reply ----------------------------------------------------------------------


async def test_a_verdict_reply_carries_a_working_share_link(aiohttp_client, media_env, fake_chat, real_kb, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PUBLIC_URL", "https://fanzha.example.cn")
    client = await aiohttp_client(create_app(DEAD_RASA, kb=real_kb))
    verdict = assess(real_kb, "对方说我医保卡被盗刷，让我把钱转到安全账户，联系电话 13912345678").to_api()
    fake_chat.replies = [{"text": "⚠️ 高危 · 冒充公检法"}, {"text": "", "custom": {"verdict": verdict}}]
    content = await send(client, voice_xml("对方说我医保卡被盗刷"))
    line = next(x for x in content.splitlines() if x.startswith("发给家人看看"))
    url = line.split("：", 1)[1]
    assert url.startswith("https://fanzha.example.cn/s/")
    share_id = url.rsplit("/", 1)[1]
    assert (await client.app[SHARE_STORE_KEY].get(share_id)) is not None
    page = await client.get(f"/s/{share_id}")
    assert page.status == 200 and "13912345678" not in await page.text()
