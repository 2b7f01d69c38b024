"""The WeChat Official Account connector (/wechat), driven the way WeChat's servers drive it.

Requests are signed exactly as WeChat signs them: sha1 of the sorted token,
timestamp and nonce (plus the ciphertext for msg_signature in 安全模式).  The
chat turn is faked, so no Rasa is needed.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
import types
import xml.etree.ElementTree as ET

import pytest
import pytest_asyncio
from wechatpy.crypto import WeChatCrypto

from bot.gateway import services as gateway_app
from bot.gateway import wechat
from bot.gateway.app import RASA_KEY, GatewayConfig, create_app
from bot.gateway.errors import ApiError

TOKEN = "fzAntiFraudTestToken"
AES_KEY = base64.b64encode(b"0123456789abcdefFEDCBA9876543210").decode().rstrip("=")  # 43 chars
APP_ID = "wx5f1b2c3d4e5f6a7b"
OPENID = "oABCD1234efgh5678ijkl"
ACCOUNT = "gh_0123456789ab"
DEAD_RASA = GatewayConfig(rasa_url="http://127.0.0.1:9", actions_url="http://127.0.0.1:9")

VERDICT = {
    "scam_type": "police_impersonation",
    "scam_name": "冒充公检法及政府机关（含医保、社保）",
    "risk_level": "high",
    "confidence": 0.91,
    "red_flags": [
        {"id": "safe_account", "description": "要求把钱转到“安全账户”", "quote": "转到安全账户"},
    ],
    "advice": ["挂断电话，不转账", "拿不准就打 96110 问一问"],
    "hotlines": [{"name": "反诈专线", "number": "96110", "when": "拿不准的时候"}],
    "questions": [],
    "money_lost": False,
}


# -- helpers: what WeChat's servers do ---------------------------------------------

def wechat_signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the lexicographically sorted strings."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signed_query(token: str = TOKEN, **extra: str) -> dict:
    timestamp, nonce = str(int(time.time())), "nonce%d" % (time.time_ns() % 10**9)
    return {"signature": wechat_signature(token, timestamp, nonce), "timestamp": timestamp,
            "nonce": nonce, **extra}


def text_xml(content: str, msg_id: int = 6234567890123456789, sender: str = OPENID) -> str:
    return (
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"
        "<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>"
        % (ACCOUNT, sender, int(time.time()), content, msg_id)
    )


def event_xml(event: str) -> str:
    return (
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"
        "<CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[%s]]></Event></xml>" % (ACCOUNT, OPENID, int(time.time()), event)
    )


def media_xml(kind: str) -> str:
    extra = {
        "voice": "<MediaId><![CDATA[media_1]]></MediaId><Format><![CDATA[amr]]></Format>",
        "image": "<PicUrl><![CDATA[http://example.invalid/p.jpg]]></PicUrl><MediaId><![CDATA[m2]]></MediaId>",
        "location": "<Location_X>23.13</Location_X><Location_Y>113.26</Location_Y><Scale>15</Scale>"
                    "<Label><![CDATA[某地]]></Label>",
        "link": "<Title><![CDATA[点这里领补贴]]></Title><Description><![CDATA[x]]></Description>"
                "<Url><![CDATA[http://example.invalid]]></Url>",
    }[kind]
    return (
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"
        "<CreateTime>%d</CreateTime><MsgType><![CDATA[%s]]></MsgType>%s<MsgId>77%d</MsgId></xml>"
        % (ACCOUNT, OPENID, int(time.time()), kind, extra, len(kind))
    )


def reply_fields(body: str) -> dict:
    root = ET.fromstring(body)
    return {child.tag: (child.text or "") for child in root}


class FakeChat:
    """Stands in for bot.gateway.app.chat_turn."""

    def __init__(self) -> None:
        self.calls: list = []
        self.replies: list = [{"text": "听起来像冒充公检法。"}, {"text": "对方让您转账了吗？"}]
        self.delay = 0.0
        self.error: Exception | None = None

    async def __call__(self, app, sender: str, message: str, channel: str = "api"):
        self.calls.append((sender, message))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.replies


@pytest.fixture
def fake_chat(monkeypatch) -> FakeChat:
    fake = FakeChat()
    monkeypatch.setattr(gateway_app, "chat_turn", fake)
    return fake


@pytest.fixture
def wechat_env(monkeypatch) -> None:
    monkeypatch.setenv("WECHAT_TOKEN", TOKEN)
    monkeypatch.setenv("WECHAT_ENCODING_AES_KEY", AES_KEY)
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)


def stub_kb():
    # The channels never touch the knowledge base; keep these tests independent of data/kb.
    return types.SimpleNamespace(questions={})


@pytest_asyncio.fixture
async def client(aiohttp_client, wechat_env, fake_chat):
    return await aiohttp_client(create_app(DEAD_RASA, kb=stub_kb()))


async def post_text(client, content: str, msg_id: int = 6234567890123456789, sender: str = OPENID):
    return await client.post(
        "/wechat", params=signed_query(openid=sender), data=text_xml(content, msg_id, sender).encode("utf-8"),
        headers={"Content-Type": "text/xml"},
    )


# -- URL verification (GET) -------------------------------------------------------

@pytest.mark.asyncio
async def test_get_with_valid_signature_echoes_echostr(client):
    resp = await client.get("/wechat", params=signed_query(echostr="5837497264917348210"))
    assert resp.status == 200
    assert await resp.text() == "5837497264917348210"


@pytest.mark.asyncio
@pytest.mark.parametrize("case", ["wrong_token", "tampered", "missing"])
async def test_get_with_wrong_signature_is_403(client, case):
    if case == "wrong_token":
        params = signed_query(token="not-the-token", echostr="123")
    elif case == "tampered":
        params = signed_query(echostr="123")
        params["nonce"] += "x"
    else:
        params = {"echostr": "123"}
    resp = await client.get("/wechat", params=params)
    assert resp.status == 403
    assert "123" not in await resp.text()


# -- messages (POST, 明文模式) ----------------------------------------------------------

@pytest.mark.asyncio
async def test_text_message_gets_a_passive_text_reply(client, fake_chat):
    resp = await post_text(client, "有个自称警察的人说我医保卡被盗刷了")
    assert resp.status == 200
    assert resp.content_type == "application/xml"
    reply = reply_fields(await resp.text())
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == OPENID and reply["FromUserName"] == ACCOUNT
    assert reply["Content"] == "听起来像冒充公检法。\n\n对方让您转账了吗？"
    assert int(reply["CreateTime"]) > 0
    assert fake_chat.calls == [("wx:" + OPENID, "有个自称警察的人说我医保卡被盗刷了")]


@pytest.mark.asyncio
async def test_buttons_become_numbered_options_and_a_number_sends_the_payload(client, fake_chat):
    fake_chat.replies = [{"text": "对方有没有让您下载软件、开视频？", "buttons": [
        {"title": "是", "payload": "/affirm"}, {"title": "不是", "payload": "/deny"},
        {"title": "不确定", "payload": "/unsure"}]}]
    content = reply_fields(await (await post_text(client, "接到公安局电话", 1001)).text())["Content"]
    assert "1. 是" in content and "2. 不是" in content and "3. 不确定" in content
    fake_chat.replies = [{"text": "好的。"}]
    await post_text(client, "2", 1002)
    await post_text(client, "是", 1003)  # buttons were used up by the previous answer
    assert [m for _, m in fake_chat.calls] == ["接到公安局电话", "/deny", "是"]


@pytest.mark.asyncio
async def test_verdict_card_without_text_is_rendered_as_text(client, fake_chat):
    fake_chat.replies = [{"text": "", "custom": {"verdict": VERDICT}}]
    content = reply_fields(await (await post_text(client, "是")).text())["Content"]
    assert content.splitlines()[0] == "⚠️ 高危 · 冒充公检法及政府机关（含医保、社保）"
    assert "转到安全账户" in content and "1. 挂断电话，不转账" in content
    assert "反诈专线 96110（拿不准的时候）" in content


@pytest.mark.asyncio
async def test_texts_are_used_when_a_verdict_also_has_text(client, fake_chat):
    fake_chat.replies = [{"text": "高危 · 冒充公检法"}, {"text": "", "custom": {"verdict": VERDICT}}]
    content = reply_fields(await (await post_text(client, "是")).text())["Content"]
    assert content == "高危 · 冒充公检法"


@pytest.mark.asyncio
async def test_long_reply_fits_wechat_limit(client, fake_chat):
    fake_chat.replies = [{"text": "\n".join("第%d条：不要转账，不要说验证码。" % i for i in range(300))}]
    content = reply_fields(await (await post_text(client, "说说")).text())["Content"]
    assert len(content.encode("utf-8")) <= 2048
    assert content.startswith("第0条") and content.endswith("96110）")


@pytest.mark.asyncio
@pytest.mark.parametrize("case", ["wrong_token", "tampered_timestamp", "missing"])
async def test_post_with_wrong_signature_is_403_and_never_reaches_the_bot(client, fake_chat, case):
    params = signed_query(token="guess" if case == "wrong_token" else TOKEN, openid=OPENID)
    if case == "tampered_timestamp":
        params["timestamp"] = str(int(params["timestamp"]) + 1)
    if case == "missing":
        del params["signature"]
    resp = await client.post("/wechat", params=params, data=text_xml("你好").encode())
    assert resp.status == 403
    assert fake_chat.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [
    b"this is not xml",
    b"<xml><ToUserName>gh</ToUserName><MsgType>text",          # truncated
    b"",                                                          # empty
    b"<xml></xml>",                                               # no MsgType
    b"<html><body>hi</body></html>",                              # wrong root
    b"<xml><MsgType><![CDATA[text]]></MsgType><Content>x</Content></xml>",  # no sender
    "<xml><MsgType>text</MsgType>\udcff</xml>".encode("utf-8", "surrogatepass"),  # not UTF-8
])
async def test_malformed_xml_is_400_and_the_endpoint_keeps_working(client, fake_chat, body):
    resp = await client.post("/wechat", params=signed_query(openid=OPENID), data=body)
    assert resp.status == 400
    assert fake_chat.calls == []
    ok = await post_text(client, "还在吗")
    assert ok.status == 200 and reply_fields(await ok.text())["Content"]


@pytest.mark.asyncio
async def test_subscribe_event_gets_a_welcome(client, fake_chat):
    resp = await client.post("/wechat", params=signed_query(openid=OPENID), data=event_xml("subscribe").encode())
    reply = reply_fields(await resp.text())
    assert resp.status == 200
    assert reply["Content"] == wechat.WELCOME_TEXT and "96110" in reply["Content"]
    assert reply["ToUserName"] == OPENID
    assert fake_chat.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize("event", ["unsubscribe", "CLICK", "VIEW", "LOCATION"])
async def test_other_events_get_an_empty_success(client, fake_chat, event):
    resp = await client.post("/wechat", params=signed_query(openid=OPENID), data=event_xml(event).encode())
    assert resp.status == 200
    assert await resp.text() == "success"
    assert fake_chat.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize("kind, answer", [
    ("voice", wechat.VOICE_TEXT),  # no Recognition: type it or send a screenshot (tests/test_wechat_media.py)
    # The app has its OCR reader; this picture's PicUrl is on no allowed host and there is no
    # app secret for a MediaId download (tests/test_wechat_media.py covers both ways in).
    ("image", wechat.IMAGE_FETCH_FAILED_TEXT),
    ("location", wechat.TEXT_ONLY_TEXT), ("link", wechat.TEXT_ONLY_TEXT),
])
async def test_voice_image_and_other_messages_are_answered_politely(client, fake_chat, kind, answer):
    resp = await client.post("/wechat", params=signed_query(openid=OPENID), data=media_xml(kind).encode())
    reply = reply_fields(await resp.text())
    assert resp.status == 200
    assert reply["Content"] == answer
    assert fake_chat.calls == []


@pytest.mark.asyncio
async def test_rasa_down_gets_a_polite_text_not_an_error(client, fake_chat):
    fake_chat.error = ApiError(503, "the assistant is starting")
    resp = await post_text(client, "有人让我刷单")
    assert resp.status == 200
    assert reply_fields(await resp.text())["Content"] == wechat.UNAVAILABLE_TEXT


@pytest.mark.asyncio
async def test_unexpected_failure_gets_a_polite_text(client, fake_chat):
    fake_chat.error = RuntimeError("boom")
    resp = await post_text(client, "有人让我刷单")
    assert resp.status == 200
    assert reply_fields(await resp.text())["Content"] == wechat.ERROR_TEXT


@pytest.mark.asyncio
async def test_a_broken_bot_answer_still_gets_a_polite_text(client, fake_chat):
    fake_chat.replies = None  # not a list of messages
    resp = await post_text(client, "你好")
    assert resp.status == 200
    assert reply_fields(await resp.text())["Content"] == wechat.ERROR_TEXT


# -- the 5-second limit and WeChat's retries --------------------------------------

@pytest.mark.asyncio
async def test_slow_turn_answers_in_time_and_the_result_comes_with_the_next_message(client, fake_chat, monkeypatch):
    monkeypatch.setattr(wechat, "REPLY_TIMEOUT_S", 0.2)
    fake_chat.delay = 0.6
    fake_chat.replies = [{"text": "高危 · 刷单返利"}]
    started = time.monotonic()
    first = reply_fields(await (await post_text(client, "做任务要先垫付", 2001)).text())["Content"]
    assert time.monotonic() - started < 0.55  # answered before the turn finished
    assert first == wechat.SLOW_TEXT
    busy = reply_fields(await (await post_text(client, "结果", 2002)).text())["Content"]
    assert busy == wechat.SLOW_TEXT  # still running: ask again, do not start a second turn
    await asyncio.sleep(0.6)
    fake_chat.delay = 0
    late = reply_fields(await (await post_text(client, "结果", 2003)).text())["Content"]
    assert late == wechat.LATE_PREFIX + "高危 · 刷单返利"
    assert [m for _, m in fake_chat.calls] == ["做任务要先垫付"]


@pytest.mark.asyncio
async def test_late_result_is_delivered_together_with_a_new_message(client, fake_chat, monkeypatch):
    monkeypatch.setattr(wechat, "REPLY_TIMEOUT_S", 0.1)
    fake_chat.delay = 0.3
    fake_chat.replies = [{"text": "第一条的结论"}]
    await post_text(client, "第一条", 3001)
    await asyncio.sleep(0.4)
    fake_chat.delay = 0
    fake_chat.replies = [{"text": "第二条的回答"}]
    content = reply_fields(await (await post_text(client, "第二条", 3002)).text())["Content"]
    assert content == wechat.LATE_PREFIX + "第一条的结论\n\n第二条的回答"


@pytest.mark.asyncio
async def test_wechat_retry_of_the_same_msgid_is_not_sent_to_the_bot_twice(client, fake_chat):
    first = await (await post_text(client, "有人冒充我儿子借钱", 4001)).text()
    again = await (await post_text(client, "有人冒充我儿子借钱", 4001)).text()
    assert reply_fields(first)["Content"] == reply_fields(again)["Content"]
    assert len(fake_chat.calls) == 1


@pytest.mark.asyncio
async def test_users_are_kept_apart(client, fake_chat):
    await post_text(client, "我是甲", 5001, sender="oUserA")
    await post_text(client, "我是乙", 5002, sender="oUserB")
    assert fake_chat.calls == [("wx:oUserA", "我是甲"), ("wx:oUserB", "我是乙")]


# -- 安全模式 (encrypt_type=aes) ------------------------------------------------------

def encrypt_like_wechat(plain_xml: str):
    """Encrypt an incoming message as WeChat's servers do; return (query, body)."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    timestamp, nonce = str(int(time.time())), "1320562132"
    envelope = reply_fields(crypto.encrypt_message(plain_xml, nonce, timestamp))
    encrypt = envelope["Encrypt"]
    assert envelope["MsgSignature"] == wechat_signature(TOKEN, timestamp, nonce, encrypt)
    body = "<xml><ToUserName><![CDATA[%s]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>" % (ACCOUNT, encrypt)
    query = {
        "signature": wechat_signature(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
        "openid": OPENID, "encrypt_type": "aes", "msg_signature": envelope["MsgSignature"],
    }
    return query, body


@pytest.mark.asyncio
async def test_encrypted_mode_round_trip(client, fake_chat):
    query, body = encrypt_like_wechat(text_xml("有人说我涉嫌洗钱，要我转到安全账户"))
    resp = await client.post("/wechat", params=query, data=body.encode())
    assert resp.status == 200
    envelope_xml = await resp.text()
    envelope = reply_fields(envelope_xml)
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert "听起来像" not in envelope_xml  # nothing in clear text
    assert envelope["MsgSignature"] == wechat_signature(TOKEN, envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"])
    plain = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
        envelope_xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    reply = reply_fields(plain)
    assert reply["MsgType"] == "text" and reply["ToUserName"] == OPENID
    assert reply["Content"] == "听起来像冒充公检法。\n\n对方让您转账了吗？"
    assert fake_chat.calls == [("wx:" + OPENID, "有人说我涉嫌洗钱，要我转到安全账户")]


@pytest.mark.asyncio
async def test_encrypted_subscribe_gets_an_encrypted_welcome(client, fake_chat):
    query, body = encrypt_like_wechat(event_xml("subscribe"))
    envelope_xml = await (await client.post("/wechat", params=query, data=body.encode())).text()
    envelope = reply_fields(envelope_xml)
    plain = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
        envelope_xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    assert reply_fields(plain)["Content"] == wechat.WELCOME_TEXT


@pytest.mark.asyncio
async def test_encrypted_mode_with_a_wrong_msg_signature_is_403(client, fake_chat):
    query, body = encrypt_like_wechat(text_xml("你好"))
    query["msg_signature"] = "0" * 40
    resp = await client.post("/wechat", params=query, data=body.encode())
    assert resp.status == 403
    assert fake_chat.calls == []


@pytest.mark.asyncio
async def test_encrypted_mode_with_garbage_ciphertext_is_400(client, fake_chat):
    query, _ = encrypt_like_wechat(text_xml("你好"))
    garbage = "not-base64-%%%"
    query["msg_signature"] = wechat_signature(TOKEN, query["timestamp"], query["nonce"], garbage)
    body = "<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>" % garbage
    resp = await client.post("/wechat", params=query, data=body.encode())
    assert resp.status == 400
    assert fake_chat.calls == []


@pytest.mark.asyncio
async def test_encrypted_message_for_another_app_id_is_400(client, fake_chat):
    crypto = WeChatCrypto(TOKEN, AES_KEY, "wxSomeoneElse000000")
    timestamp, nonce = str(int(time.time())), "987654"  # a fresh one: an old timestamp is a replay (403)
    envelope = reply_fields(crypto.encrypt_message(text_xml("你好"), nonce, timestamp))
    query = {"signature": wechat_signature(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
             "encrypt_type": "aes", "msg_signature": envelope["MsgSignature"], "openid": OPENID}
    body = "<xml><Encrypt><![CDATA[%s]]></Encrypt></xml>" % envelope["Encrypt"]
    resp = await client.post("/wechat", params=query, data=body.encode())
    assert resp.status == 400
    assert fake_chat.calls == []


# -- configuration --------------------------------------------------------------------

@pytest.mark.asyncio
async def test_without_token_wechat_is_not_mounted_but_the_gateway_runs(aiohttp_client, monkeypatch, fake_chat, caplog):
    monkeypatch.delenv("WECHAT_TOKEN", raising=False)
    with caplog.at_level(logging.WARNING, logger="bot.gateway.wechat"):
        client = await aiohttp_client(create_app(DEAD_RASA, kb=stub_kb()))
    assert any("WECHAT_TOKEN" in r.getMessage() for r in caplog.records)
    assert (await client.get("/wechat", params=signed_query(echostr="1"))).status == 404
    assert (await client.post("/wechat", data=text_xml("你好").encode())).status in (404, 405)
    chat = await client.post("/api/v1/chat", json={"sender": "web:1", "message": "你好"})
    assert chat.status == 200 and fake_chat.calls == [("web:1", "你好")]


@pytest.mark.asyncio
async def test_plain_mode_only_when_no_aes_key(aiohttp_client, monkeypatch, fake_chat):
    monkeypatch.setenv("WECHAT_TOKEN", TOKEN)
    monkeypatch.delenv("WECHAT_ENCODING_AES_KEY", raising=False)
    monkeypatch.delenv("WECHAT_APP_ID", raising=False)
    client = await aiohttp_client(create_app(DEAD_RASA, kb=stub_kb()))
    assert (await post_text(client, "你好")).status == 200
    query, body = encrypt_like_wechat(text_xml("你好"))
    assert (await client.post("/wechat", params=query, data=body.encode())).status == 400


@pytest.mark.parametrize("env", [
    {"WECHAT_TOKEN": TOKEN, "WECHAT_ENCODING_AES_KEY": "too-short", "WECHAT_APP_ID": APP_ID},
    {"WECHAT_TOKEN": TOKEN, "WECHAT_ENCODING_AES_KEY": AES_KEY},  # key without app id
    {"WECHAT_TOKEN": "  "},
    {},
])
def test_misconfiguration_refuses_to_mount(env, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.gateway.wechat"):
        assert wechat.settings_from_env(env) is None
    assert caplog.records, "the reason must be logged"


def test_valid_configuration_enables_encrypted_mode():
    settings = wechat.settings_from_env({"WECHAT_TOKEN": TOKEN, "WECHAT_ENCODING_AES_KEY": AES_KEY, "WECHAT_APP_ID": APP_ID})
    assert settings is not None and settings.token == TOKEN and settings.crypto is not None


# -- through the real chat_turn (fake Rasa client) ---------------------------------------

class FakeRasaClient:
    def __init__(self) -> None:
        self.sent: list = []

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send(self, sender: str, message: str, turn_id: str = ""):
        self.sent.append((sender, message))
        return [{"recipient_id": sender, "text": "问您一个问题："},
                {"recipient_id": sender, "text": "对方要验证码了吗？",
                 "buttons": [{"title": "要了", "payload": "/affirm"}, {"title": "没有", "payload": "/deny"}]}]


@pytest.mark.asyncio
async def test_through_the_shared_chat_turn(aiohttp_client, wechat_env):
    app = create_app(DEAD_RASA, kb=stub_kb())
    rasa = FakeRasaClient()
    app[RASA_KEY] = rasa
    client = await aiohttp_client(app)
    content = reply_fields(await (await post_text(client, "快递客服说要给我退款", 9001)).text())["Content"]
    assert content == "问您一个问题：\n\n对方要验证码了吗？\n\n请回复数字或文字：1. 要了  2. 没有"
    await post_text(client, "要了", 9002)
    assert rasa.sent == [("wx:" + OPENID, "快递客服说要给我退款"), ("wx:" + OPENID, "/affirm")]


@pytest.mark.asyncio
async def test_an_urgent_verdict_card_leads_with_110_and_the_bank(client, fake_chat, real_kb):
    from bot.kb import assess

    verdict = assess(real_kb, "冒充公安的人让我转到安全账户，我已经从工商银行卡转了三万").to_api()
    assert verdict["stage"] == "paid"
    fake_chat.replies = [{"text": "", "custom": {"verdict": verdict}}]
    content = reply_fields(await (await post_text(client, "是")).text())["Content"].splitlines()
    assert content[0].startswith("🚨 马上打 110") and "银行" in content[1]
    assert content[2].startswith("⚠️ 高危")


@pytest.mark.asyncio
async def test_the_chats_urgent_message_stays_first_on_wechat(client, fake_chat):
    fake_chat.replies = [{"text": "🚨 别慌，先做这几件事，越快越好：\n1. 马上打 110 报警"},
                         {"text": "听起来像「冒充公检法」诈骗。"}]
    content = reply_fields(await (await post_text(client, "我已经转了")).text())["Content"]
    assert content.startswith("🚨 别慌") and content.index("110") < content.index("听起来像")
