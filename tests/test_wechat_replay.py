"""WeChat at the edge (issue 13): users kept apart, replays refused, odd ids, rate limits."""
from __future__ import annotations

import logging
import secrets
import time

import pytest
import pytest_asyncio
import redis

from bot.gateway.app import create_app
from bot.gateway.wechat import REPLY_KEY_PREFIX, WELCOME_TEXT
from bot.settings import Settings
from tests.test_wechat import (  # noqa: F401 - fixtures
    ACCOUNT,
    DEAD_RASA,
    OPENID,
    TOKEN,
    fake_chat,
    reply_fields,
    signed_query,
    stub_kb,
    wechat_signature,
)

REDIS_URL = "redis://127.0.0.1:6379/4"


def _settings(**env: str) -> Settings:
    return Settings.from_env({"WECHAT_TOKEN": TOKEN, "OPERATORS_FILE": "/nonexistent/operators.yml", **env})


@pytest_asyncio.fixture
async def client(aiohttp_client, fake_chat):  # noqa: F811
    return await aiohttp_client(create_app(DEAD_RASA, kb=stub_kb(), settings=_settings()))


def _xml(sender: str, msg_type: str, body: str, created: str) -> bytes:
    return (
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"
        "<CreateTime>%s</CreateTime><MsgType><![CDATA[%s]]></MsgType>%s</xml>"
        % (ACCOUNT, sender, created, msg_type, body)
    ).encode("utf-8")


def _text(content: str, msg_id: str, sender: str = OPENID, created: str = "") -> bytes:
    return _xml(sender, "text", f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>",
                created or str(int(time.time())))


async def _post(client, body: bytes, sender: str = OPENID, query=None):
    return await client.post("/wechat", params=query or signed_query(openid=sender), data=body,
                             headers={"Content-Type": "text/xml"})


async def _content(response) -> str:
    assert response.status == 200
    return reply_fields(await response.text())["Content"]


async def test_two_users_with_the_same_msgid_never_see_each_others_replies(client, fake_chat):  # noqa: F811
    fake_chat.replies = [{"text": "甲的结论：冒充公检法，高风险。"}]
    first = await _content(await _post(client, _text("我是甲", "7001", "oUserA"), "oUserA"))
    fake_chat.replies = [{"text": "乙的结论：低风险。"}]
    second = await _content(await _post(client, _text("我是乙", "7001", "oUserB"), "oUserB"))
    assert "甲" in first and "乙" in second and "甲" not in second
    assert fake_chat.calls == [("wx:oUserA", "我是甲"), ("wx:oUserB", "我是乙")]
    # and a retry of each still joins its own turn
    again = await _content(await _post(client, _text("我是乙", "7001", "oUserB"), "oUserB"))
    assert again == second and len(fake_chat.calls) == 2


async def test_a_replayed_old_signed_request_is_refused(client, fake_chat):  # noqa: F811
    old = str(int(time.time()) - 6 * 60)
    nonce = "n123"
    query = {"signature": wechat_signature(TOKEN, old, nonce), "timestamp": old, "nonce": nonce, "openid": OPENID}
    response = await _post(client, _text("你好", "7101"), query=query)
    assert response.status == 403 and "stale" in await response.text()
    future = str(int(time.time()) + 6 * 60)
    query = {"signature": wechat_signature(TOKEN, future, nonce), "timestamp": future, "nonce": nonce}
    assert (await _post(client, _text("你好", "7102"), query=query)).status == 403
    echo = await client.get("/wechat", params={**query, "echostr": "abc"})
    assert echo.status == 403
    assert fake_chat.calls == []


async def test_a_signed_timestamp_within_five_minutes_is_accepted(client, fake_chat):  # noqa: F811
    recent = str(int(time.time()) - 4 * 60)
    nonce = "n456"
    query = {"signature": wechat_signature(TOKEN, recent, nonce), "timestamp": recent, "nonce": nonce}
    assert (await _post(client, _text("你好", "7201"), query=query)).status == 200


async def test_an_old_message_in_a_freshly_signed_request_is_refused(client, fake_chat):  # noqa: F811
    old_message = _text("你好", "7301", created=str(int(time.time()) - 3600))
    response = await _post(client, old_message)
    assert response.status == 403 and fake_chat.calls == []


@pytest.mark.parametrize("bad_id", ["abc", "12x", "-5", "1" * 40, "１２３"])
async def test_a_non_numeric_msgid_is_400_without_a_traceback(client, fake_chat, caplog, bad_id):  # noqa: F811
    with caplog.at_level(logging.WARNING):
        response = await _post(client, _text("你好", bad_id))
    assert response.status == 400
    assert fake_chat.calls == []
    assert not [r for r in caplog.records if r.exc_info], "no traceback in the log"


async def test_a_non_numeric_create_time_is_400(client, fake_chat):  # noqa: F811
    response = await _post(client, _text("你好", "7401", created="yesterday"))
    assert response.status == 400 and fake_chat.calls == []


async def test_a_message_without_msgid_is_answered(client, fake_chat):  # noqa: F811
    body = _xml(OPENID, "text", "<Content><![CDATA[你好]]></Content>", str(int(time.time())))
    assert "冒充公检法" in await _content(await _post(client, body))


async def test_retried_events_get_the_same_answer_per_user(client, fake_chat):  # noqa: F811
    created = str(int(time.time()))
    subscribe = "<Event><![CDATA[subscribe]]></Event>"
    for _ in range(2):
        assert await _content(await _post(client, _xml("oUserA", "event", subscribe, created), "oUserA")) == WELCOME_TEXT
    # another user subscribing in the same second is not a duplicate of the first
    assert await _content(await _post(client, _xml("oUserB", "event", subscribe, created), "oUserB")) == WELCOME_TEXT


async def test_a_flooding_wechat_user_gets_a_text_reply_with_the_hotlines(aiohttp_client, fake_chat):  # noqa: F811
    client = await aiohttp_client(create_app(DEAD_RASA, kb=stub_kb(),
                                             settings=_settings(RATE_LIMIT_WECHAT_SENDER="2/minute")))
    for i in range(2):
        await _content(await _post(client, _text("你好", f"75{i}")))
    limited = await _content(await _post(client, _text("你好", "7599")))
    assert "110" in limited and "96110" in limited and "秒后再试" in limited
    assert len(fake_chat.calls) == 2
    other = await _content(await _post(client, _text("你好", "7599", "oOther"), "oOther"))
    assert "冒充公检法" in other


async def test_wechat_is_limited_per_address_with_a_text_reply(aiohttp_client, fake_chat):  # noqa: F811
    client = await aiohttp_client(create_app(DEAD_RASA, kb=stub_kb(),
                                             settings=_settings(RATE_LIMIT_WECHAT_ADDRESS="3/minute")))
    for i in range(3):
        await _content(await _post(client, _text("你好", f"76{i}", f"oU{i}"), f"oU{i}"))
    limited = await _content(await _post(client, _text("你好", "7699", "oU9"), "oU9"))
    assert "96110" in limited and len(fake_chat.calls) == 3


async def test_with_redis_a_retry_on_another_replica_gets_the_same_reply(aiohttp_client, fake_chat):  # noqa: F811
    store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        store.ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    env = {"REDIS_URL": REDIS_URL, "RATE_LIMIT_PREFIX": f"fzzc:test:{secrets.token_hex(4)}"}
    first = await aiohttp_client(create_app(DEAD_RASA, kb=stub_kb(), settings=_settings(**env)))
    second = await aiohttp_client(create_app(DEAD_RASA, kb=stub_kb(), settings=_settings(**env)))
    openid, msg_id = f"oRedis{secrets.token_hex(4)}", str(secrets.randbelow(10**18))
    try:
        answer = await _content(await _post(first, _text("有人让我转账", msg_id, openid), openid))
        fake_chat.replies = [{"text": "不该出现的第二次回答"}]
        again = await _content(await _post(second, _text("有人让我转账", msg_id, openid), openid))
        assert again == answer and len(fake_chat.calls) == 1
        other = await _content(await _post(second, _text("有人让我转账", msg_id, "oSomeoneElse"), "oSomeoneElse"))
        assert other != answer  # the same MsgId from another user is a new message
    finally:
        for key in store.keys(REPLY_KEY_PREFIX + "*"):
            if openid.encode() in key or b"oSomeoneElse" in key:
                store.delete(key)
        for key in store.keys(f"*{env['RATE_LIMIT_PREFIX']}*"):
            store.delete(key)

